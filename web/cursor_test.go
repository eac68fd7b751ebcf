package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/pam"
)

// A cursor no list gave out gets one answer everywhere: 400 with the field on the API, and on
// pages the list's first page with the message as a flash.
func TestBadCursorIsOneErrorEverywhere(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root", goodPassword, true)
	c := a.client()
	c.signIn("root@example.com", goodPassword)
	token := c.makeToken("lists", "api")

	for _, path := range []string{"/requests?status=pending&after=", "/approvals?after=", "/admin/policies?after=", "/admin/outbox?state=failed&after="} {
		p := c.get(path + "yesterday%7Cabc")
		want := strings.TrimSuffix(strings.TrimSuffix(path, "after="), "&")
		want = strings.TrimSuffix(want, "?")
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != want {
			t.Fatalf("GET %s with a bad cursor: %d to %q, want 303 to %q", path, p.StatusCode, p.Header.Get("Location"), want)
		}
		next := c.get(want)
		if next.StatusCode != http.StatusOK || !strings.Contains(next.find("flash").Text(), pam.ErrBadCursor.Message) {
			t.Fatalf("%s after a bad cursor: %d, flash %q", want, next.StatusCode, next.find("flash").Text())
		}
	}
	for _, path := range []string{"/api/v1/requests", "/api/v1/policies"} {
		status, body := a.apiCall(http.MethodGet, path+"?after=not-a-cursor", token, nil)
		if status != http.StatusBadRequest || body["code"] != "invalid" || body["field"] != "after" {
			t.Fatalf("GET %s with a bad cursor: %d %v", path, status, body)
		}
	}
}
