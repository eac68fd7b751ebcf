package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// The admin's dashboard lists the first-hour steps with ticks that follow what exists, each
// linking to its page, until all are done; empty pages say what to do next and link there.
func TestSetupChecklistAndEmptyStates(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		c := a.client()
		c.signIn("root@example.com", goodPassword)
		done := func() map[string]bool {
			t.Helper()
			out := map[string]bool{}
			c.get("/").find("setup-step").Each(func(_ int, s *goquery.Selection) {
				out[s.AttrOr("data-step", "")] = s.AttrOr("data-done", "") == "true"
			})
			return out
		}
		steps := done()
		if len(steps) != 6 {
			t.Fatalf("checklist steps: %v", steps)
		}
		for k, d := range steps {
			if d {
				t.Fatalf("step %s done on a fresh install", k)
			}
		}
		if href, _ := c.get("/").find("setup-checklist").Find(`[data-step="task"] a`).Attr("href"); href != "/admin/tasks/new" {
			t.Fatalf("task step links to %q", href)
		}

		// Empty states lead on: no tasks → "Create a task"; no policies → "Create a policy".
		if href, _ := c.get("/admin/policies/new").find("empty-action").Attr("href"); href != "/admin/tasks/new" {
			t.Fatalf("new policy with no tasks offers %q", href)
		}
		if href, _ := c.get("/admin/policies").find("empty-action").Attr("href"); href != "/admin/tasks/new" {
			t.Fatalf("empty policy list offers %q", href)
		}
		req := c.get("/requests/new")
		if href, _ := req.find("empty-action").Attr("href"); href != "/admin/policies/new" || strings.Contains(req.find("scopes-empty").Text(), "An administrator") {
			t.Fatalf("request page for an admin: %q %q", href, req.find("scopes-empty").Text())
		}

		// Each step ticks as soon as what it asks for exists.
		task, _ := a.admin.CreateTask(ctx, audit.System, "exchange/New-JournalRule", "", "")
		if s := done(); !s["task"] || s["policy"] {
			t.Fatalf("after a task: %v", s)
		}
		if href, _ := c.get("/admin/policies").find("empty-action").Attr("href"); href != "/admin/policies/new" {
			t.Fatalf("empty policy list with a task offers %q", href)
		}
		g, _ := a.admin.CreateGroup(ctx, audit.System, "Approvers", "")
		alma := a.mustUser("alma@example.com", "Alma Approver", goodPassword, false)
		if s := done(); !s["second_user"] || s["approver_group"] {
			t.Fatalf("after a second user: %v", s)
		}
		_ = a.admin.AddMember(ctx, audit.System, g.ID, alma.ID)
		if s := done(); !s["approver_group"] {
			t.Fatalf("after a member: %v", s)
		}
		p := pam.NewPolicy(pam.ScopeTask, task.ID)
		p.ApproverGroupID, p.ApprovalsRequired = g.ID, 2
		p, err := a.admin.CreatePolicy(ctx, audit.System, p)
		if err != nil {
			t.Fatal(err)
		}
		// A policy nobody can approve does not tick the step; the dashboard counts it instead.
		home := c.get("/")
		if s := done(); s["policy"] || !strings.Contains(home.find("dead-ends").Text(), "1 policy cannot be approved") {
			t.Fatalf("dead-end policy: %v %q", s, home.find("dead-ends").Text())
		}
		if p, err = a.db.PolicyByID(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		p.ApprovalsRequired = 1
		if err := a.admin.UpdatePolicy(ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		if s := done(); !s["policy"] || c.get("/").find("dead-ends").Length() != 0 {
			t.Fatalf("approvable policy: %v", s)
		}
		tok := a.checkToken(c, "exchange")
		if s := done(); !s["check_token"] || s["first_check"] {
			t.Fatalf("after a check token: %v", s)
		}
		a.checkAPI(tok, "alma@example.com", "exchange/New-JournalRule")
		// All done: the checklist goes away.
		if n := c.get("/").find("setup-checklist").Length(); n != 0 {
			t.Fatalf("checklist still shown when every step is done")
		}

		// Someone who is not an admin sees none of it.
		ana := a.client()
		ana.signIn("alma@example.com", goodPassword)
		if ana.get("/").find("setup-checklist").Length() != 0 || ana.get("/").find("dead-ends").Length() != 0 {
			t.Fatal("checklist shown to a non-admin")
		}
	})
}

// An administrator who is the only approver of the only policy has not set up a second pair of
// eyes: the approver steps stay open, the policy step says what is missing and links to the
// group, and both tick once someone else is in it.
func TestSetupChecklistWantsAnApproverBesidesTheAdmin(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		root := a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		g := a.mustGroup("Approvers", root)
		task, err := a.admin.CreateTask(ctx, audit.System, "exchange/New-JournalRule", "", "")
		if err != nil {
			t.Fatal(err)
		}
		p := pam.NewPolicy(pam.ScopeTask, task.ID)
		p.ApproverGroupID = g.ID
		if _, err := a.admin.CreatePolicy(ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		c := a.client()
		c.signIn("root@example.com", goodPassword)
		a.checkAPI(a.checkToken(c, "exchange"), "rhea@example.com", "exchange/New-JournalRule")

		home := c.get("/")
		list := home.find("setup-checklist")
		step := func(key string) *goquery.Selection { return list.Find(`[data-step="` + key + `"]`) }
		for _, k := range []string{"approver_group", "policy"} {
			if step(k).AttrOr("data-done", "") != "false" {
				t.Fatalf("step %s done with the admin as the only approver", k)
			}
		}
		if txt := step("policy").Text(); !strings.Contains(txt, "You are the only approver") || !strings.Contains(txt, "nobody approves their own request") {
			t.Fatalf("policy step does not say what is missing: %q", txt)
		}
		if href, _ := step("policy").Find("a").Attr("href"); href != "/admin/groups/"+g.ID {
			t.Fatalf("policy step links to %q", href)
		}

		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		if err := a.admin.AddMember(ctx, audit.System, g.ID, olivia.ID); err != nil {
			t.Fatal(err)
		}
		if n := c.get("/").find("setup-checklist").Length(); n != 0 {
			t.Fatal("checklist still shown once someone else approves")
		}
	})
}
