package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Two cards open in the inbox share no id: each card's comment field, its label, help and
// error are keyed by the request; each Approve and Deny button is named after the request it
// decides; and the phone's user menu has a name a screen reader can read.
func TestCardsKeepTheirIdsApartAndNameTheirButtons(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		now := a.clock.Now()
		first := a.mustRequest(es.policy, "Mailbox admin", rhea, 0, now.Add(-10*time.Minute), now.Add(20*time.Hour))
		second := a.mustRequest(es.policy, "Journal rules", rhea, 1, now.Add(-5*time.Minute), now.Add(20*time.Hour))
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		seen := map[string]string{}
		for _, c := range []struct{ id, scope string }{{first, "Mailbox admin"}, {second, "Journal rules"}} {
			card := ap.getHX("/approvals/" + c.id + "/card")
			if card.StatusCode != http.StatusOK {
				t.Fatalf("card %s: %d", c.id, card.StatusCode)
			}
			field := card.find("field-comment")
			id, _ := field.Attr("id")
			if want := "f-comment-" + c.id; id != want {
				t.Fatalf("comment field id %q, want %q", id, want)
			}
			if card.doc.Find(`label[for="`+id+`"]`).Length() != 1 {
				t.Fatalf("no label points at %s", id)
			}
			if d, _ := field.Attr("aria-describedby"); card.doc.Find("#"+d).Length() != 1 || d == "h-comment" {
				t.Fatalf("comment help %q is not the card's own", d)
			}
			card.doc.Find("[id]").Each(func(_ int, s *goquery.Selection) {
				v, _ := s.Attr("id")
				if other, ok := seen[v]; ok && other != c.id {
					t.Errorf("id %q appears in the cards of %s and %s", v, other, c.id)
				}
				seen[v] = c.id
			})
			for testid, verb := range map[string]string{"approve": "Approve", "deny": "Deny"} {
				want := verb + " Rhea Requester's request for " + c.scope
				if got, _ := card.find(testid).Attr("aria-label"); got != want {
					t.Fatalf("%s button is named %q, want %q", testid, got, want)
				}
			}
		}
		// The user menu names its person in text a screen reader reads at every width (the
		// visible name only shows from 640 px on).
		home := ap.get("/")
		name := home.find("user-menu").Find(".sr-only").Text()
		if name != "Olivia Approver" {
			t.Fatalf("the phone's user menu is named %q", name)
		}
	})
}
