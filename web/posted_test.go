package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
)

// Every form POST ends one way: a problem the user can fix shows the same page again with their
// input and the message (422 for bad input, 409 for a change made meanwhile); success flashes
// and answers 303.
func TestFormPostsShareOneShape(t *testing.T) {
	a := newApp(t, "sqlite")
	root := a.mustUser("root@example.com", "Root", goodPassword, true)
	approver := a.mustUser("olivia@example.com", "Olivia", goodPassword, false)
	es := a.mustEstate(1, approver, root)
	c := a.client()
	c.signIn("root@example.com", goodPassword)

	path := "/admin/policies/" + es.policy.ID
	c.get(path)
	stale := url.Values{"approval_type": {"manual"}, "approver_group_id": {es.policy.ApproverGroupID}, "approvals_required": {"1"},
		"default_duration": {"1h"}, "max_duration": {"3h"}, "pending_timeout": {"24h"}, "enabled": {"on"}, "version": {"1"}}
	p, err := a.db.PolicyByID(context.Background(), es.policy.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.MaxDuration *= 2
	if err := a.admin.UpdatePolicy(context.Background(), audit.System, p); err != nil {
		t.Fatal(err)
	}
	got := c.post(path, stale)
	if got.StatusCode != http.StatusConflict || got.find("form-error").Text() == "" || got.find("field-max_duration").AttrOr("value", "") != "3h" {
		t.Fatalf("stale policy form: %d %q, max %q", got.StatusCode, got.find("form-error").Text(), got.find("field-max_duration").AttrOr("value", ""))
	}

	bad := c.post("/admin/groups", url.Values{"name": {""}, "description": {"kept"}})
	if bad.StatusCode != http.StatusUnprocessableEntity || bad.find("error-name").Text() == "" || bad.find("field-description").Text() != "kept" {
		t.Fatalf("bad group form: %d %q", bad.StatusCode, bad.find("error-name").Text())
	}
	ok := c.post("/admin/groups", url.Values{"name": {"On call"}})
	if ok.StatusCode != http.StatusSeeOther || !strings.HasPrefix(ok.Header.Get("Location"), "/admin/groups/") {
		t.Fatalf("good group form: %d %q", ok.StatusCode, ok.Header.Get("Location"))
	}
	if flash := c.get(ok.Header.Get("Location")).find("flash").Text(); !strings.Contains(flash, "On call created") {
		t.Fatalf("flash after creating: %q", flash)
	}
}

// The sign-in, profile and two-step forms end the same way: a problem shows the same page with
// the input and the message (sign-in keeps its 401), success flashes and answers 303.
func TestAccountFormsShareOneShape(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	c := a.client()
	c.get("/login")
	p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {"not the password"}, "next": {"/requests"}})
	if p.StatusCode != http.StatusUnauthorized || !strings.Contains(p.find("form-error").Text(), "not right") ||
		p.find("field-email").AttrOr("value", "") != "ana@example.com" {
		t.Fatalf("wrong password: %d %q", p.StatusCode, p.find("form-error").Text())
	}
	if p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {goodPassword}, "next": {"/requests"}}); p.StatusCode != http.StatusSeeOther ||
		p.Header.Get("Location") != "/requests" {
		t.Fatalf("sign in: %d %q", p.StatusCode, p.Header.Get("Location"))
	}

	c.get("/profile")
	p = c.post("/profile/timezone", url.Values{"time_zone": {"Mars/Olympus"}})
	if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-time_zone").Text() == "" ||
		p.find("field-time_zone").Find("option[selected]").AttrOr("value", "") != "Mars/Olympus" {
		t.Fatalf("bad zone: %d %q", p.StatusCode, p.find("error-time_zone").Text())
	}
	// The zone is chosen from a list, which keeps what was sent (so the error sits beside it).
	if p.find("field-time_zone").Find(`option[value="Europe/Paris"]`).Length() != 1 || p.find("field-time_zone").Find("option").Length() < 50 {
		t.Fatal("the time zone is not chosen from a list of zones")
	}
	if p := c.post("/profile/timezone", url.Values{"time_zone": {"Europe/Paris"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("good zone: %d", p.StatusCode)
	}
	if f := c.get("/profile").find("flash").Text(); !strings.Contains(f, "Europe/Paris") {
		t.Fatalf("flash after saving the zone: %q", f)
	}

	c.enrol()
	// Starting again or confirming again once it is on goes back to the profile and says why.
	for _, path := range []string{"/profile/mfa/start", "/profile/mfa/confirm"} {
		p := c.post(path, url.Values{"code": {"000000"}})
		if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/profile") {
			t.Fatalf("%s when on: %d %q", path, p.StatusCode, p.Header.Get("Location"))
		}
		if f := c.get("/profile").find("flash").Text(); !strings.Contains(f, "already on") {
			t.Fatalf("%s when on: flash %q", path, f)
		}
	}
}
