package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/testenv"
)

// On a phone: the closed menu button carries the approvals count (and an empty, hidden
// placeholder when nothing waits), and each scope on the request form links to the form's
// anchor, so the page opens at the form rather than at the top of the list.
func TestPhoneMenuCountAndScopeAnchor(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		rq := a.client()
		rq.signIn("rhea@example.com", goodPassword)
		home := rq.get("/")
		if c := home.doc.Find("#count-menu"); c.Length() != 1 || strings.TrimSpace(c.Text()) != "" || c.AttrOr("hidden", "no") == "no" {
			t.Fatalf("nothing waits, but the menu shows %q", c.Text())
		}
		form := rq.get("/requests/new")
		href := form.find("scope").First().AttrOr("href", "")
		if !strings.HasSuffix(href, "#chosen") {
			t.Fatalf("scope link %q does not open at the form", href)
		}
		chosen := rq.get(strings.TrimSuffix(href, "#chosen"))
		if chosen.doc.Find(`#chosen [data-testid="request-form"]`).Length() != 1 {
			t.Fatal("the anchor #chosen does not hold the form")
		}

		now := a.clock.Now()
		a.mustRequest(es.policy, "Mailbox admin", rhea, 0, now.Add(-time.Minute), now.Add(time.Hour))
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		btn := ap.get("/").find("menu-button")
		if got := strings.TrimSpace(btn.Find("#count-menu").Text()); got != "1" || !strings.Contains(btn.Text(), "Menu") {
			t.Fatalf("menu button: %q", btn.Text())
		}
	})
}
