package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// A form with several mistakes shows every one beside its field after one submit, with what was
// typed kept and nothing saved: the policy form (values that cannot be read and values out of
// range together), the settings, a new user, the request form, and the policy API, which names them all in
// "problems".
func TestFormsTellEveryProblemAtOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		root := a.client()
		root.signIn("root@example.com", goodPassword)

		before := len(a.events(audit.PolicyCreated.String()))
		root.get("/admin/policies/new?scope_type=task&scope_id=" + es.other.ID)
		form := url.Values{"scope_type": {"task"}, "scope_id": {es.other.ID}, "approval_type": {"manual"},
			"approvals_required": {"two"}, "default_duration": {"1h"}, "max_duration": {"40d"}, "pending_timeout": {"soon"},
			"escalate_after": {"2h"}, "enabled": {"on"}}
		p := root.post("/admin/policies", form)
		if p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("policy with four mistakes: %d", p.StatusCode)
		}
		for field, want := range map[string]string{"approvals_required": "whole number", "max_duration": "ceiling",
			"pending_timeout": "like 30m", "escalation_group_id": "group to escalate to"} {
			if got := p.find("error-" + field).Text(); !strings.Contains(got, want) {
				t.Errorf("%s: %q, want it to say %q", field, got, want)
			}
		}
		// The default is right against any right maximum: not blamed for the maximum's mistake.
		if got := p.find("error-default_duration").Text(); got != "" {
			t.Errorf("default duration blamed: %q", got)
		}
		if v, _ := p.find("field-pending_timeout").Attr("value"); v != "soon" {
			t.Errorf("input not kept: %q", v)
		}
		if n := len(a.events(audit.PolicyCreated.String())); n != before {
			t.Fatalf("%d policies created from a refused form", n-before)
		}

		// Turning enforcement off with an unreadable ceiling and a bad address: all four told.
		root.get("/admin/settings")
		p = root.post("/admin/settings", url.Values{"max_duration": {"soon"}, "security_email": {"not an address"}})
		if p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("settings with four mistakes: %d", p.StatusCode)
		}
		for field, want := range map[string]string{"max_duration": "like 30m", "security_email": "one email address",
			"confirm": "Tick the box", "reason": "Say why"} {
			if got := p.find("error-" + field).Text(); !strings.Contains(got, want) {
				t.Errorf("settings %s: %q, want it to say %q", field, got, want)
			}
		}
		if org, err := a.db.OrgSettings(t.Context()); err != nil || !org.Enforcement {
			t.Fatalf("enforcement after a refused form: %+v %v", org, err)
		}

		root.get("/admin/users/new")
		p = root.post("/admin/users", url.Values{"email": {"not an address"}, "name": {""}})
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-email").Text() == "" || p.find("error-name").Text() == "" {
			t.Fatalf("user with two mistakes: %d %q %q", p.StatusCode, p.find("error-email").Text(), p.find("error-name").Text())
		}

		rhea := a.client()
		rhea.signIn("rhea@example.com", goodPassword)
		rhea.get("/requests/new?policy=" + es.policy.ID)
		p = rhea.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"4h!"}, "justification": {" "},
			"scheduled_start": {"next week"}})
		if p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("request with three mistakes: %d", p.StatusCode)
		}
		for field, want := range map[string]string{"duration": "like 30m", "justification": "Say why", "scheduled_start": "date and time"} {
			if got := p.find("error-" + field).Text(); !strings.Contains(got, want) {
				t.Errorf("request %s: %q, want it to say %q", field, got, want)
			}
		}
		if n := len(a.events(audit.RequestCreated.String())); n != 0 {
			t.Fatalf("%d requests created from a refused form", n)
		}

		tok := root.makeToken("automation", "api")
		body := map[string]any{"scope_type": "task", "scope_id": es.other.ID, "approval_type": "manual", "approvals_required": 9,
			"approver_group_id": es.policy.ApproverGroupID, "default_duration_min": 60, "max_duration_min": -5,
			"pending_timeout_min": 1440, "emergency_duration_min": 1, "enabled": true}
		code, out := a.apiCall("POST", "/api/v1/policies", tok, body)
		if code != http.StatusBadRequest || out["field"] != "max_duration_min" {
			t.Fatalf("API policy with three mistakes: %d %v", code, out)
		}
		var got []string
		problems, _ := out["problems"].([]any)
		for _, one := range problems {
			m, _ := one.(map[string]any)
			if m["error"] == "" {
				t.Errorf("problem without words: %v", m)
			}
			got = append(got, m["field"].(string))
		}
		if strings.Join(got, ",") != "max_duration_min,approvals_required,emergency_duration_min" {
			t.Fatalf("problems name %q: %v", got, out)
		}
	})
}

// The delegation, access review and webhook forms also tell every problem at once, each beside
// its own input (the review's policies and the webhook's events are lists of boxes), with what
// was typed kept and nothing saved.
func TestMoreFormsTellEveryProblemAtOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		a.mustEstate(1, olivia)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		want := func(p page, what string, status int, errors map[string]string) {
			t.Helper()
			if p.StatusCode != status {
				t.Fatalf("%s: %d", what, p.StatusCode)
			}
			for field, words := range errors {
				if got := p.find("error-" + field).Text(); !strings.Contains(got, words) {
					t.Errorf("%s %s: %q, want it to say %q", what, field, got, words)
				}
			}
		}

		// The profile's delegation, every field empty: who, from and until are all named.
		root.get("/profile")
		p := root.post("/profile/delegation", url.Values{"delegate": {""}, "starts_at": {""}, "ends_at": {""}})
		want(p, "empty delegation", http.StatusUnprocessableEntity, map[string]string{"delegate": "email address",
			"starts_at": "when the delegation starts", "ends_at": "when the delegation ends"})
		// An unreadable start with an unknown delegate: both told, the input kept.
		p = root.post("/profile/delegation", url.Values{"delegate": {"nobody@example.com"}, "starts_at": {"tomorrow"}, "ends_at": {""}})
		want(p, "unknown delegate", http.StatusUnprocessableEntity, map[string]string{"delegate": "Nobody with that email",
			"starts_at": "date and time", "ends_at": "when the delegation ends"})
		if v := p.find("field-starts_at").AttrOr("value", ""); v != "tomorrow" {
			t.Errorf("start not kept: %q", v)
		}
		if n := len(a.events(audit.DelegationCreated.String())); n != 0 {
			t.Fatalf("%d delegations from refused forms", n)
		}

		// A new access review with no name, a past deadline and no policy ticked.
		root.get("/admin/reviews/new")
		past := a.clock.Now().Add(-48 * time.Hour).Format("2006-01-02T15:04")
		p = root.post("/admin/reviews", url.Values{"name": {""}, "scope": {"policies"}, "reviewers": {"owners"},
			"default": {"keep"}, "deadline": {past}})
		want(p, "review", http.StatusUnprocessableEntity, map[string]string{"name": "name", "deadline": "between 1 hour and 90 days",
			"policies": "at least one policy"})
		if v := p.find("field-deadline").AttrOr("value", ""); v != past {
			t.Errorf("deadline not kept: %q", v)
		}
		if n := len(a.events(audit.ReviewCampaignStarted.String())); n != 0 {
			t.Fatalf("%d reviews from a refused form", n)
		}

		// A new webhook, empty: the name, the URL and the events are all told.
		root.get("/admin/webhooks/new")
		p = root.post("/admin/webhooks", url.Values{"name": {""}, "url": {""}, "format": {pam.WebhookSlack}})
		want(p, "empty webhook", http.StatusUnprocessableEntity, map[string]string{"name": "Enter a name", "url": "receiver's URL",
			"events": "at least one event"})
		// A bad URL and no events: both told, the name kept.
		p = root.post("/admin/webhooks", url.Values{"name": {"Ops"}, "url": {"http://hooks.example.com/in"}, "format": {pam.WebhookSlack}})
		want(p, "webhook", http.StatusUnprocessableEntity, map[string]string{"url": "https", "events": "at least one event"})
		if v := p.find("field-name").AttrOr("value", ""); v != "Ops" || p.find("error-name").Length() != 0 {
			t.Errorf("name not kept or blamed: %q %q", v, p.find("error-name").Text())
		}
		if n := len(a.events(audit.WebhookCreated.String())); n != 0 {
			t.Fatalf("%d webhooks from refused forms", n)
		}
	})
}

// The policy form's group lists count members in words: "Approvers (1 member)".
func TestGroupChoicesCountMembers(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	es := a.mustEstate(1, olivia)
	root := a.client()
	root.signIn("root@example.com", goodPassword)
	p := root.get("/admin/policies/new?scope_type=task&scope_id=" + es.other.ID)
	got := p.find("field-approver_group_id").Find("option[value=\"" + es.policy.ApproverGroupID + "\"]").Text()
	if got != "Approvers (1 member)" {
		t.Fatalf("approver group choice: %q", got)
	}
}

// A form whose one unreadable field is the only thing wrong saves nothing: the service is still
// asked for the rest's problems, with that field left at zero, and must refuse it. This holds
// the settings, delegation and access review forms to that, should a zero ever become allowed.
func TestAnUnreadableFieldAloneSavesNothing(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		a.mustEstate(1, olivia)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		later := a.clock.Now().Add(48 * time.Hour).Format("2006-01-02T15:04")
		for _, c := range []struct {
			what, page, path string
			form             url.Values
			field            string
			action           audit.Action
		}{
			{"settings", "/admin/settings", "/admin/settings", url.Values{"enforcement": {"on"}, "max_duration": {"a day"}},
				"max_duration", audit.SettingsUpdated},
			{"delegation start", "/profile", "/profile/delegation", url.Values{"delegate": {"olivia@example.com"},
				"starts_at": {"soon"}, "ends_at": {later}}, "starts_at", audit.DelegationCreated},
			{"delegation end", "/profile", "/profile/delegation", url.Values{"delegate": {"olivia@example.com"},
				"starts_at": {""}, "ends_at": {"later"}}, "ends_at", audit.DelegationCreated},
			{"review deadline", "/admin/reviews/new", "/admin/reviews", url.Values{"name": {"Quarterly"}, "scope": {"all"},
				"reviewers": {"admins"}, "default": {"keep"}, "deadline": {"next month"}}, "deadline", audit.ReviewCampaignStarted},
		} {
			before := len(a.events(c.action.String()))
			root.get(c.page)
			p := root.post(c.path, c.form)
			if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-"+c.field).Text() == "" {
				t.Errorf("%s: %d %q", c.what, p.StatusCode, p.find("error-"+c.field).Text())
			}
			if n := len(a.events(c.action.String())) - before; n != 0 {
				t.Errorf("%s: %d saved from a form whose %s could not be read", c.what, n, c.field)
			}
		}
	})
}

// The first forms a new organisation fills in tell every problem at once too: the setup
// (address, name and both passwords), a set-password link (too short and not repeated), a new
// task (a key with a space, a name and a description too long) and a new role. Nothing is saved,
// and the setup link still works afterwards.
func TestFirstFormsTellEveryProblemAtOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		want := func(p page, what string, errors map[string]string) {
			t.Helper()
			if p.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%s: %d", what, p.StatusCode)
			}
			for field, words := range errors {
				if got := p.find("error-" + field).Text(); !strings.Contains(got, words) {
					t.Errorf("%s %s: %q, want it to say %q", what, field, got, words)
				}
			}
		}
		tok, _, err := a.auth.IssueSetupToken(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c := a.client()
		c.get("/setup?token=" + tok)
		p := c.post("/setup", url.Values{"token": {tok}, "email": {"not an address"}, "name": {""},
			"password": {"short"}, "password_confirm": {"shorter"}})
		want(p, "setup", map[string]string{"email": "valid email address", "name": "Enter a name",
			"password": "12 characters", "password_confirm": "differ"})
		if v, _ := p.find("field-email").Attr("value"); v != "not an address" {
			t.Errorf("setup email not kept: %q", v)
		}
		if p := c.post("/setup", url.Values{"token": {tok}, "email": {"root@example.com"}, "name": {"Root Admin"},
			"password": {goodPassword}, "password_confirm": {goodPassword}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("setup after a refused form: %d", p.StatusCode)
		}

		c.get("/admin/users/new")
		p = c.post("/admin/users", url.Values{"email": {"nia@example.com"}, "name": {"Nia New"}})
		link, _ := url.Parse(strings.TrimSpace(p.find("secret").Text()))
		nia := a.client()
		nia.get(link.RequestURI())
		p = nia.post("/set-password", url.Values{"token": {link.Query().Get("token")}, "password": {"short"}, "password_confirm": {"other"}})
		want(p, "set password", map[string]string{"password": "12 characters", "password_confirm": "differ"})

		long := strings.Repeat("x", 101)
		c.get("/admin/tasks/new")
		p = c.post("/admin/tasks", url.Values{"key": {"exchange New-JournalRule"}, "name": {long}, "description": {strings.Repeat("d", 2001)}})
		want(p, "task", map[string]string{"key": "system/Name", "name": "at most 100", "description": "at most 2000"})
		if v, _ := p.find("field-key").Attr("value"); v != "exchange New-JournalRule" {
			t.Errorf("task key not kept: %q", v)
		}
		// A bad key with no name: the name would come from the key, so only the key is blamed.
		p = c.post("/admin/tasks", url.Values{"key": {"exchange New-JournalRule"}, "description": {strings.Repeat("d", 2001)}})
		want(p, "task without a name", map[string]string{"key": "system/Name", "description": "at most 2000"})
		if got := p.find("error-name").Text(); got != "" {
			t.Errorf("empty task name blamed: %q", got)
		}

		// A right key whose operation name is too long for a name asks for a name.
		p = c.post("/admin/tasks", url.Values{"key": {"exchange/" + long}})
		want(p, "task named by a long key", map[string]string{"name": "enter a shorter name"})
		if got := p.find("error-key").Text(); got != "" {
			t.Errorf("a right key blamed: %q", got)
		}

		c.get("/admin/roles/new")
		p = c.post("/admin/roles", url.Values{"name": {""}, "description": {strings.Repeat("d", 2001)}})
		want(p, "role", map[string]string{"name": "Enter a name", "description": "at most 2000"})
		for _, action := range []audit.Action{audit.TaskCreated, audit.RoleCreated, audit.UserPasswordSet} {
			if n := len(a.events(action.String())); n != 0 {
				t.Errorf("%d %s from refused forms", n, action)
			}
		}
	})
}
