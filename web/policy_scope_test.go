package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// A policy for a role that covers no tasks would grant nothing when approved: the chooser
// leads to the role instead, the form is refused with the reason and the link that fixes it
// (the input kept), the API answers 400 naming scope_id, and once the role has a task the same
// form saves. A role group whose roles cover no tasks is refused the same way.
func TestPolicyForARoleWithNoTasksIsRefused(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		alma := a.mustUser("alma@example.com", "Alma Approver", goodPassword, false)
		g := a.mustGroup("Approvers", alma)
		role, err := a.admin.CreateRole(ctx, audit.System, "Journal admin", "")
		if err != nil {
			t.Fatal(err)
		}
		c := a.client()
		c.signIn("root@example.com", goodPassword)
		roleHref := "/admin/roles/" + role.ID

		chooser := c.get("/admin/policies/new")
		if chooser.find("scopes").Find(`a[href="`+roleHref+`"]`).Length() != 1 ||
			chooser.find("scopes").Find(`a[href*="scope_id=`+role.ID+`"]`).Length() != 0 {
			t.Fatalf("the chooser offers a policy for a role with no tasks: %q", chooser.find("scopes").Text())
		}

		form := url.Values{"scope_type": {"role"}, "scope_id": {role.ID}, "approval_type": {"manual"}, "approver_group_id": {g.ID},
			"approvals_required": {"1"}, "default_duration": {"1h"}, "max_duration": {"4h"}, "pending_timeout": {"24h"}, "enabled": {"on"}}
		p := c.post("/admin/policies", form)
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("warning").Text(), "covers no tasks") {
			t.Fatalf("policy for an empty role: %d %q", p.StatusCode, p.find("warning").Text())
		}
		if href, _ := p.find("warning-fix").Attr("href"); href != roleHref {
			t.Fatalf("fix link: %q", href)
		}
		if v, _ := p.find("field-max_duration").Attr("value"); v != "4h" {
			t.Fatalf("input not kept: %q", v)
		}

		tok := c.makeToken("automation", "api")
		body := map[string]any{"scope_type": "role", "scope_id": role.ID, "approval_type": "manual", "approver_group_id": g.ID,
			"approvals_required": 1, "default_duration_min": 60, "max_duration_min": 240, "pending_timeout_min": 1440, "enabled": true}
		if code, out := a.apiCall("POST", "/api/v1/policies", tok, body); code != http.StatusBadRequest || out["field"] != "scope_id" ||
			!strings.Contains(out["error"].(string), "covers no tasks") {
			t.Fatalf("API policy for an empty role: %d %v", code, out)
		}
		if evs, _ := a.db.AuditEvents(ctx, store.AuditFilter{Action: "policy.created"}); len(evs) != 0 {
			t.Fatalf("a refused policy was recorded: %d events", len(evs))
		}

		// A role group whose roles cover no tasks is refused alike, and told to add roles with tasks.
		rg, err := a.admin.CreateRoleGroup(ctx, audit.System, "Journal team", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.admin.AddRoleGroupRole(ctx, audit.System, rg.ID, role.ID); err != nil {
			t.Fatal(err)
		}
		// The chooser leads to the role group, saying what it needs, rather than to its form.
		rgHref := "/admin/role-groups/" + rg.ID
		chooser = c.get("/admin/policies/new")
		if lead := chooser.find("scopes").Find(`a[href="` + rgHref + `"]`); lead.Length() != 1 || lead.Text() != "Add tasks to its roles first" ||
			chooser.find("scopes").Find(`a[href*="scope_id=`+rg.ID+`"]`).Length() != 0 {
			t.Fatalf("the chooser offers a policy for a role group whose roles cover no tasks: %q", chooser.find("scopes").Text())
		}
		grouped := url.Values{}
		for k, v := range form {
			grouped[k] = v
		}
		grouped.Set("scope_type", "role_group")
		grouped.Set("scope_id", rg.ID)
		if p := c.post("/admin/policies", grouped); p.StatusCode != http.StatusUnprocessableEntity || !strings.HasPrefix(p.find("warning-fix").Text(), "Add roles with tasks to Journal team") {
			t.Fatalf("policy for a role group without tasks: %d %q", p.StatusCode, p.find("warning-fix").Text())
		}

		task, err := a.admin.CreateTask(ctx, audit.System, "exchange/New-JournalRule", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.admin.AddRoleTask(ctx, audit.System, role.ID, task.Key); err != nil {
			t.Fatal(err)
		}
		if p := c.post("/admin/policies", form); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("policy once the role has a task: %d %q", p.StatusCode, p.find("warning").Text())
		}
		if c.get("/admin/policies/new").find("scopes").Find(`a[href*="scope_id=`+rg.ID+`"]`).Length() != 1 {
			t.Fatal("the chooser does not offer a policy for the role group once its role has a task")
		}
	})
}
