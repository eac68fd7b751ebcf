package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/pam"
)

// A cursor no list gave out gets one answer everywhere: 400 with the field on the API, and on
// pages 400 with the message and a link to the list's first page.
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
		first, _ := p.find("error-next").Attr("href")
		if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.find("error-page").Text(), pam.ErrBadCursor.Message) || first != want {
			t.Fatalf("GET %s with a bad cursor: %d, link %q (want 400 and %q): %q", path, p.StatusCode, first, want, p.find("error-page").Text())
		}
		if next := c.get(first); next.StatusCode != http.StatusOK {
			t.Fatalf("%s after a bad cursor: %d", first, next.StatusCode)
		}
	}
	for _, path := range []string{"/api/v1/requests", "/api/v1/policies"} {
		status, body := a.apiCall(http.MethodGet, path+"?after=not-a-cursor", token, nil)
		if status != http.StatusBadRequest || body["code"] != "invalid" || body["field"] != "after" {
			t.Fatalf("GET %s with a bad cursor: %d %v", path, status, body)
		}
	}
}
