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
