package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// A policy nobody can approve is saved only with an explicit confirmation; the refused form
// keeps what was typed, says why in plain words and links to the fix; the list marks the
// policy instead of calling it enabled.
func TestDeadEndPolicyNeedsConfirmation(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		alma := a.mustUser("alma@example.com", "Alma Approver", goodPassword, false)
		task, err := a.admin.CreateTask(ctx, audit.System, "exchange/New-JournalRule", "", "")
		if err != nil {
			t.Fatal(err)
		}
		other, _ := a.admin.CreateTask(ctx, audit.System, "exchange/Set-Mailbox", "", "")
		g, err := a.admin.CreateGroup(ctx, audit.System, "Approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.admin.AddMember(ctx, audit.System, g.ID, alma.ID); err != nil {
			t.Fatal(err)
		}
		c := a.client()
		c.signIn("root@example.com", goodPassword)

		// The only group is the new policy's approver group from the start.
		np := c.get("/admin/policies/new?scope_type=task&scope_id=" + task.ID)
		if v, _ := np.find("field-approver_group_id").Find("option[selected]").Attr("value"); v != g.ID {
			t.Fatalf("approver group preselected %q, want %q", v, g.ID)
		}
		if np.find("field-confirm_dead_end").Length() != 0 {
			t.Fatal("confirmation shown before any problem")
		}

		form := url.Values{"scope_type": {"task"}, "scope_id": {task.ID}, "approval_type": {"manual"}, "approver_group_id": {g.ID},
			"approvals_required": {"2"}, "default_duration": {"1h"}, "max_duration": {"4h"}, "pending_timeout": {"12h"},
			"justification_required": {"on"}, "enabled": {"on"}}
		p := c.post("/admin/policies", form)
		if p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("dead end without confirmation: status %d", p.StatusCode)
		}
		want := "No one can approve this: the approver group Approvers has 1 member and 2 approvals are needed."
		if w := p.find("warning").Text(); !strings.Contains(w, want) {
			t.Fatalf("warning %q, want %q", w, want)
		}
		if href, _ := p.find("warning-fix").Attr("href"); href != "/admin/groups/"+g.ID {
			t.Fatalf("fix link %q", href)
		}
		if p.find("field-confirm_dead_end").Length() != 1 || p.find("error-confirm_dead_end").Text() == "" {
			t.Fatal("no confirmation box beside the problem")
		}
		if _, ticked := p.find("field-confirm_dead_end").Attr("checked"); ticked {
			t.Fatal("confirmation ticked for the admin")
		}
		for field, v := range map[string]string{"approvals_required": "2", "max_duration": "4h", "pending_timeout": "12h"} {
			if got, _ := p.find("field-" + field).Attr("value"); got != v {
				t.Fatalf("%s not kept: %q", field, got)
			}
		}
		if _, ok := p.find("field-justification_required").Attr("checked"); !ok {
			t.Fatal("justification box not kept")
		}
		if evs := a.events("policy.created"); len(evs) != 0 {
			t.Fatalf("refused policy was saved: %+v", evs)
		}

		// Confirmed, it is saved, and the trail says it was saved as a dead end.
		form.Set("confirm_dead_end", "on")
		p = c.post("/admin/policies", form)
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirmed dead end: status %d", p.StatusCode)
		}
		polURL := p.Header.Get("Location")
		evs := a.events("policy.created")
		if len(evs) != 1 || !strings.Contains(evs[0].Details, "dead_end") {
			t.Fatalf("policy.created: %+v", evs)
		}

		// The list marks it, counts it and does not call it enabled.
		list := c.get("/admin/policies")
		row := list.find("policies").Find("tr:contains('exchange/New-JournalRule')")
		if !strings.Contains(row.Text(), "Cannot be approved") || strings.Contains(row.Text(), "Enabled") {
			t.Fatalf("policy row: %q", row.Text())
		}
		if w := list.find("warning").Text(); !strings.Contains(w, "1 enabled policy cannot be approved") {
			t.Fatalf("list banner: %q", w)
		}
		// Its page says how to fix it, with a link.
		pol := c.get(polURL)
		if href, _ := pol.find("warning-fix").Attr("href"); !strings.Contains(pol.find("warning").Text(), want) || href != "/admin/groups/"+g.ID {
			t.Fatalf("policy page warning %q link %q", pol.find("warning").Text(), href)
		}

		// Editing it while it stays a dead end asks again, and keeps the input.
		edit := url.Values{"approval_type": {"manual"}, "approver_group_id": {g.ID}, "approvals_required": {"3"},
			"default_duration": {"1h"}, "max_duration": {"2h"}, "pending_timeout": {"12h"}, "enabled": {"on"}, "version": {"1"}}
		p = c.post(polURL, edit)
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("field-confirm_dead_end").Length() != 1 {
			t.Fatalf("edit of a dead end: status %d", p.StatusCode)
		}
		if v, _ := p.find("field-max_duration").Attr("value"); v != "2h" {
			t.Fatalf("edit input not kept: %q", v)
		}
		// Fixed (one approval), it saves without a question, and the mark is gone.
		edit.Set("approvals_required", "1")
		if p := c.post(polURL, edit); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("fixed policy: status %d", p.StatusCode)
		}
		list = c.get("/admin/policies")
		if strings.Contains(list.find("policies").Text(), "Cannot be approved") || list.find("warning").Length() != 0 {
			t.Fatalf("fixed policy still marked: %q", list.find("policies").Text())
		}

		// A disabled policy waits for nobody: no question.
		form = url.Values{"scope_type": {"task"}, "scope_id": {other.ID}, "approval_type": {"manual"}, "approver_group_id": {g.ID},
			"approvals_required": {"5"}, "default_duration": {"1h"}, "max_duration": {"4h"}, "pending_timeout": {"12h"}}
		if p := c.post("/admin/policies", form); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("disabled dead end: status %d", p.StatusCode)
		}
	})
}
