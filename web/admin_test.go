package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

var routeParam = regexp.MustCompile(`:[a-z]+`)

// TestAdminRoutesNeedAdmin walks every registered admin route, so a route added later without
// the admin rule fails here.
func TestAdminRoutesNeedAdmin(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	anon := a.client()
	anon.get("/login")
	user := a.client()
	user.signIn("ana@example.com", goodPassword)
	user.get("/")

	n := 0
	for _, r := range a.web.Routes() {
		if !strings.HasPrefix(r.Path, "/admin") {
			continue
		}
		n++
		path := routeParam.ReplaceAllString(r.Path, "00000000-0000-0000-0000-000000000000")
		var pa, pu page
		switch r.Method {
		case http.MethodGet:
			pa, pu = anon.get(path), user.get(path)
		case http.MethodPost:
			pa, pu = anon.post(path, nil), user.post(path, nil)
		default:
			t.Errorf("%s %s: no rule for this method in the test", r.Method, r.Path)
			continue
		}
		if pa.StatusCode != http.StatusSeeOther || !strings.HasPrefix(pa.Header.Get("Location"), "/login") {
			t.Errorf("anonymous %s %s: %d %q", r.Method, r.Path, pa.StatusCode, pa.Header.Get("Location"))
		}
		if pu.StatusCode != http.StatusForbidden {
			t.Errorf("non-admin %s %s: %d", r.Method, r.Path, pu.StatusCode)
		}
	}
	if n < 30 {
		t.Fatalf("only %d admin routes found", n)
	}
}

func TestAdminBuildsAPolicyThroughThePages(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		alice := a.mustUser("alice@example.com", "Alice Approver", goodPassword, false)
		bob := a.mustUser("bob@example.com", "Bob Approver", goodPassword, false)
		c := a.client()
		c.signIn("root@example.com", goodPassword)
		c.get("/admin/tasks/new")

		// Task: bad key keeps the input and says what is wrong.
		p := c.post("/admin/tasks", url.Values{"key": {"exchange New-JournalRule"}, "description": {"Journal <b>rules</b>"}})
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-key").Text() == "" {
			t.Fatalf("bad key: %d %q", p.StatusCode, p.find("error-key").Text())
		}
		if v, _ := p.find("field-key").Attr("value"); v != "exchange New-JournalRule" {
			t.Fatalf("key not kept: %q", v)
		}
		p = c.post("/admin/tasks", url.Values{"key": {"exchange/New-JournalRule"}, "description": {"Journal <b>rules</b>"}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("create task: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		taskURL := p.Header.Get("Location")
		c.get("/admin/tasks/new")
		if p := c.post("/admin/tasks", url.Values{"key": {"EXCHANGE/new-journalrule"}}); p.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(p.find("error-key").Text(), "already exists") {
			t.Fatalf("duplicate key ignoring case: %d %q", p.StatusCode, p.find("error-key").Text())
		}

		// Role containing the task.
		c.get("/admin/roles/new")
		p = c.post("/admin/roles", url.Values{"name": {"Journal admin"}})
		roleURL := p.Header.Get("Location")
		if found := c.get(roleURL + "?q=journal").find("role-tasks-candidate"); found.Length() != 1 {
			t.Fatalf("task search found %d", found.Length())
		}
		if p := c.post(roleURL+"/tasks", url.Values{"task": {"exchange/New-JournalRule"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("add task: %d", p.StatusCode)
		}
		if items := c.get(roleURL).find("role-tasks-item"); items.Length() != 1 || !strings.Contains(items.Text(), "exchange/New-JournalRule") {
			t.Fatalf("role tasks: %q", items.Text())
		}
		if p := c.post(roleURL+"/tasks", url.Values{"task": {"exchange/New-JournalRule"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("add again: %d", p.StatusCode)
		}
		if f := c.get(roleURL).find("flash").Text(); !strings.Contains(f, "already") {
			t.Fatalf("adding twice: flash %q", f)
		}
		// The task page shows where it is reachable from.
		if r := c.get(taskURL).find("task-roles").Text(); !strings.Contains(r, "Journal admin") {
			t.Fatalf("task reachable from: %q", r)
		}

		// Group with two members.
		c.get("/admin/groups/new")
		p = c.post("/admin/groups", url.Values{"name": {"Journal approvers"}})
		groupURL := p.Header.Get("Location")
		groupID := strings.TrimPrefix(groupURL, "/admin/groups/")
		for _, u := range []pam.User{alice, bob} {
			if p := c.post(groupURL+"/members", url.Values{"user_id": {string(u.ID)}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("add member: %d", p.StatusCode)
			}
		}

		// A manual policy on the role; out-of-range values come back beside their fields.
		roleID := strings.TrimPrefix(roleURL, "/admin/roles/")
		c.get("/admin/policies/new?scope_type=role&scope_id=" + roleID)
		form := url.Values{"scope_type": {"role"}, "scope_id": {roleID}, "approval_type": {"manual"}, "approver_group_id": {groupID},
			"approvals_required": {"6"}, "default_duration": {"1h"}, "max_duration": {"4h"}, "pending_timeout": {"24h"},
			"justification_required": {"on"}, "enabled": {"on"}}
		p = c.post("/admin/policies", form)
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-approvals_required").Text() == "" {
			t.Fatalf("6 approvals: %d", p.StatusCode)
		}
		if v, _ := p.find("field-max_duration").Attr("value"); v != "4h" {
			t.Fatalf("input not kept: %q", v)
		}
		form.Set("approvals_required", "2")
		form.Set("max_duration", "30h")
		if p := c.post("/admin/policies", form); p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("error-max_duration").Text(), "ceiling") {
			t.Fatalf("30h max: %d %q", p.StatusCode, p.find("error-max_duration").Text())
		}
		form.Set("max_duration", "4h")
		p = c.post("/admin/policies", form)
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("create policy: %d %s", p.StatusCode, p.body)
		}
		pol := c.get(p.Header.Get("Location"))
		if !strings.Contains(pol.find("covered-tasks").Text(), "exchange/New-JournalRule") {
			t.Fatalf("covered tasks: %q", pol.find("covered-tasks").Text())
		}
		if ap := pol.find("approvers").Text(); !strings.Contains(ap, "Alice Approver") || !strings.Contains(ap, "Bob Approver") {
			t.Fatalf("approvers: %q", ap)
		}
		// Two approvers, two approvals, everyone eligible: an approver's own request cannot pass.
		if w := pol.find("warning").Text(); !strings.Contains(w, "at most 1") {
			t.Fatalf("warning: %q", w)
		}
		evs, err := a.db.AuditEvents(ctx, store.AuditFilter{Action: "policy.created"})
		if err != nil || len(evs) != 1 || evs[0].ActorName != "root@example.com" {
			t.Fatalf("policy.created: %+v %v", evs, err)
		}
		// The description was stored as typed and shown escaped.
		if strings.Contains(c.get(taskURL).body, "<b>rules</b>") {
			t.Fatal("description rendered as HTML")
		}
	})
}

func TestNewUserSetsPasswordThroughTheLink(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		c := a.client()
		c.signIn("root@example.com", goodPassword)
		c.get("/admin/users/new")
		if p := c.post("/admin/users", url.Values{"email": {"not-an-email"}, "name": {"Nia"}}); p.StatusCode != http.StatusUnprocessableEntity || p.find("error-email").Text() == "" {
			t.Fatalf("bad email: %d", p.StatusCode)
		}
		p := c.post("/admin/users", url.Values{"email": {"nia@example.com"}, "name": {"Nia New"}, "auditor": {"on"}})
		link := strings.TrimSpace(p.find("secret").Text())
		if p.StatusCode != http.StatusOK || !strings.Contains(link, "/set-password?token=") {
			t.Fatalf("created user page: %d %q", p.StatusCode, link)
		}
		u, _ := url.Parse(link)
		path := u.RequestURI()

		nia := a.client()
		if p := nia.get(path); p.StatusCode != http.StatusOK {
			t.Fatalf("link page: %d", p.StatusCode)
		}
		tok := u.Query().Get("token")
		if p := nia.post("/set-password", url.Values{"token": {tok}, "password": {"short"}, "password_confirm": {"short"}}); p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("short password: %d", p.StatusCode)
		}
		if p := nia.post("/set-password", url.Values{"token": {tok}, "password": {goodPassword}, "password_confirm": {goodPassword}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("set password: %d", p.StatusCode)
		}
		// The sign-in form that follows has the email filled in, once.
		if v, _ := nia.get("/login").find("field-email").Attr("value"); v != "nia@example.com" {
			t.Fatalf("email after setting the password: %q", v)
		}
		if v, _ := nia.get("/login").find("field-email").Attr("value"); v != "" {
			t.Fatalf("email filled in a second time: %q", v)
		}
		if p := nia.get(path); p.StatusCode != http.StatusNotFound {
			t.Fatalf("link after use: %d", p.StatusCode)
		}
		nia.signIn("nia@example.com", goodPassword)
		// An auditor is not an admin.
		if p := nia.get("/admin/users"); p.StatusCode != http.StatusForbidden {
			t.Fatalf("auditor on admin pages: %d", p.StatusCode)
		}
	})
}

func TestSettingsEnforcementOffNeedsConfirmationAndReason(t *testing.T) {
	a := newApp(t, "postgres")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	c := a.client()
	c.signIn("root@example.com", goodPassword)
	c.get("/admin/settings")
	p := c.post("/admin/settings", url.Values{"max_duration": {"24h"}})
	if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-confirm").Text() == "" {
		t.Fatalf("off without confirmation: %d", p.StatusCode)
	}
	p = c.post("/admin/settings", url.Values{"max_duration": {"24h"}, "confirm": {"on"}})
	if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-reason").Text() == "" {
		t.Fatalf("off without reason: %d", p.StatusCode)
	}
	if p := c.post("/admin/settings", url.Values{"max_duration": {"24h"}, "confirm": {"on"}, "reason": {"Migration weekend, ticket CHG-1"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("off with reason: %d", p.StatusCode)
	}
	org, _ := a.db.OrgSettings(context.Background())
	if org.Enforcement {
		t.Fatal("enforcement still on")
	}
	evs, _ := a.db.AuditEvents(context.Background(), store.AuditFilter{Action: "settings.enforcement_disabled"})
	if len(evs) != 1 || !strings.Contains(evs[0].Details, "CHG-1") {
		t.Fatalf("enforcement_off events: %+v", evs)
	}
	if p := c.post("/admin/settings", url.Values{"max_duration": {"0"}, "enforcement": {"on"}}); p.StatusCode != http.StatusUnprocessableEntity || p.find("error-max_duration").Text() == "" {
		t.Fatalf("zero max: %d", p.StatusCode)
	}
}

// TestAdminChangesNeedStepUpOnceEnrolled: an admin with two-step verification confirms a code
// before an admin change, and the change goes ahead with what was typed; without enrolment
// (and without the organisation requiring it) the change needs no code.
func TestAdminChangesNeedStepUpOnceEnrolled(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	c := a.client()
	c.signIn("root@example.com", goodPassword)
	c.get("/admin/groups/new")
	if p := c.post("/admin/groups", url.Values{"name": {"Before MFA"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("unenrolled admin change: %d", p.StatusCode)
	}
	secret, _ := c.enrol()
	// A new session has not stepped up yet.
	c2 := a.client()
	c2.signIn("root@example.com", goodPassword)
	c2.get("/admin/groups/new")
	p := c2.post("/admin/groups", url.Values{"name": {"Needs a code"}, "description": {"kept as typed"}})
	if p.StatusCode != http.StatusOK || p.find("step-up-form").Length() != 1 {
		t.Fatalf("enrolled admin change without a code: %d", p.StatusCode)
	}
	if n, _ := a.db.Groups(context.Background(), pam.Page{Query: "needs a code"}); len(n) != 0 {
		t.Fatal("the change happened before the code")
	}
	form := url.Values{}
	p.doc.Find(`[data-testid="step-up-form"] input[type="hidden"]`).Each(func(_ int, sel *goquery.Selection) {
		n, _ := sel.Attr("name")
		v, _ := sel.Attr("value")
		form.Add(n, v)
	})
	a.clock.Advance(30 * time.Second) // the enrolment code's step is spent
	form.Set("stepup_code", code(t, secret, a.clock.Now()))
	if p := c2.post("/admin/groups", form); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the code: %d %s", p.StatusCode, p.find("error-stepup_code").Text())
	}
	gs, _ := a.db.Groups(context.Background(), pam.Page{Query: "needs a code"})
	if len(gs) != 1 || gs[0].Description != "kept as typed" {
		t.Fatalf("group after step-up: %+v", gs)
	}
}

func TestAuditorsReadPoliciesAndChangeNothing(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := context.Background()
	aud := a.mustUser("aud@example.com", "Audrey Auditor", goodPassword, false)
	if _, err := a.admin.ChangeUser(ctx, actorCLI, aud.ID, admin.MakeAuditor); err != nil {
		t.Fatal(err)
	}
	approver := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	es := a.mustEstate(1, approver)
	c := a.client()
	c.signIn("aud@example.com", goodPassword)
	list := c.get("/admin/policies")
	if list.StatusCode != http.StatusOK || list.find("primary-action").Length() != 0 || list.find("tab-users").Length() != 0 {
		t.Fatalf("auditor policy list: %d", list.StatusCode)
	}
	pol := c.get("/admin/policies/" + es.policy.ID)
	if pol.StatusCode != http.StatusOK || pol.find("admin-form").Length() != 0 || pol.find("delete").Length() != 0 ||
		!strings.Contains(pol.find("note").Text(), "1 approval needed") || pol.find("audit-link").Length() != 1 {
		t.Fatalf("auditor policy page: %d form=%d", pol.StatusCode, pol.find("admin-form").Length())
	}
	// Every link on the page opens for the auditor: tasks, groups and people are named, not
	// linked to administration pages that would refuse them.
	links := 0
	pol.doc.Find("main a[href]").Each(func(_ int, l *goquery.Selection) {
		href := l.AttrOr("href", "")
		if !strings.HasPrefix(href, "/") {
			return
		}
		links++
		if p := c.get(href); p.StatusCode != http.StatusOK {
			t.Errorf("the auditor's policy page links to %s: %d", href, p.StatusCode)
		}
	})
	if links == 0 || !strings.Contains(pol.doc.Find("main").Text(), "Olivia Approver") {
		t.Fatalf("the auditor's policy page: %d links, approvers %q", links, pol.doc.Find("main").Text())
	}
	if p := c.post("/admin/policies/"+es.policy.ID, url.Values{"approvals_required": {"2"}}); p.StatusCode != http.StatusForbidden {
		t.Fatalf("auditor edits a policy: %d", p.StatusCode)
	}
	if p := c.get("/admin/users"); p.StatusCode != http.StatusForbidden {
		t.Fatalf("auditor on users: %d", p.StatusCode)
	}
	if p := c.get("/audit"); p.StatusCode != http.StatusOK {
		t.Fatalf("auditor on the audit trail: %d", p.StatusCode)
	}
}

// What takes a person's access away on their page asks why first: removing administrator or
// auditor rights without a reason comes back with the problem beside that action's reason, and
// changes nothing; with one, the change's audit event keeps it. Granting asks nothing.
func TestRemovingRightsAsksWhy(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	ben := a.mustUser("ben@example.com", "Ben Second", goodPassword, true)
	root := a.client()
	root.signIn("root@example.com", goodPassword)
	page := "/admin/users/" + string(ben.ID)
	root.get(page)
	if p := root.post(page+"/change?to=make_auditor", nil); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("make auditor: %d", p.StatusCode)
	}
	for _, c := range []struct{ to, form, ask, action string }{
		{"remove_admin", "remove-admin-form", "Say why you remove their administrator rights", "user.admin_revoked"},
		{"remove_auditor", "remove-auditor-form", "Say why you remove their auditor rights", "user.auditor_revoked"},
	} {
		p := root.post(page+"/change?to="+c.to, url.Values{"reason": {"  "}})
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find(c.form).Find(`[data-testid="error-reason"]`).Text(), c.ask) ||
			p.doc.Find(`[data-testid="error-reason"]`).Length() != 1 {
			t.Fatalf("%s without a reason: %d %q", c.to, p.StatusCode, p.doc.Find(`[data-testid="error-reason"]`).Text())
		}
		if len(a.events(c.action)) != 0 {
			t.Fatalf("%s without a reason was recorded", c.to)
		}
		if p := root.post(page+"/change?to="+c.to, url.Values{"reason": {"Moved to the service desk."}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", c.to, p.StatusCode)
		}
		if evs := a.events(c.action); len(evs) != 1 || !strings.Contains(evs[0].Details, `"reason":"Moved to the service desk."`) {
			t.Fatalf("%s: the event keeps no reason: %v", c.to, evs)
		}
	}
	u, err := a.db.UserByID(context.Background(), ben.ID)
	if err != nil || u.Admin || u.Auditor {
		t.Fatalf("ben after both removals: %+v %v", u, err)
	}
}
