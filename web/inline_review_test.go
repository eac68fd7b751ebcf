package web_test

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// An inline decision in the inbox answers with the card and its result line (marked for the
// focus), and, as htmx out-of-band swaps, the navigation's new count in each place it shows,
// the request's line in the table and "Decided by you recently" with the decision on top; from a request page the answer
// leaves the inbox's list out. Revoke stays folded behind "Revoke…" until asked for, and
// opens with the reason kept when it comes back with an error.
func TestInlineReviewUpdatesCountAndDecidedOutOfBand(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		now := a.clock.Now()
		first := a.mustRequest(es.policy, "Mailbox admin", rhea, 0, now.Add(-10*time.Minute), now.Add(20*time.Hour))
		second := a.mustRequest(es.policy, "Journal rules", rhea, 1, now.Add(-5*time.Minute), now.Add(20*time.Hour))
		a.mustRequest(es.policy, "Transport rules", rhea, 2, now.Add(-4*time.Minute), now.Add(20*time.Hour))
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		inbox := ap.get("/approvals")
		for _, id := range []string{"count-side", "count-top"} {
			if got := strings.TrimSpace(inbox.doc.Find("#" + id).Text()); got != "3" {
				t.Fatalf("inbox %s: %q", id, got)
			}
		}
		if inbox.find("decided-section").Find(`[data-testid="decided-empty"]`).Length() != 1 {
			t.Fatal("nothing decided yet, but the inbox lists something")
		}

		p := ap.post("/requests/"+first+"/review", url.Values{"decision": {"approve"}, "back": {"/approvals"}}, "HX-Request", "true")
		if p.StatusCode != http.StatusOK {
			t.Fatalf("inline approve: %d", p.StatusCode)
		}
		notice := p.find("card-notice")
		if !strings.Contains(notice.Text(), "Request approved") {
			t.Fatalf("result line: %q", notice.Text())
		}
		if _, ok := notice.Attr("data-focus"); !ok {
			t.Fatal("the result line is not marked for the focus")
		}
		if tab, _ := notice.Attr("tabindex"); tab != "-1" {
			t.Fatalf("the result line cannot take the focus: tabindex %q", tab)
		}
		for _, id := range []string{"count-side", "count-top"} {
			c := p.doc.Find("#" + id)
			if oob, _ := c.Attr("hx-swap-oob"); oob != "true" || strings.TrimSpace(c.Text()) != "2" {
				t.Fatalf("%s in the answer: oob %q, text %q", id, oob, c.Text())
			}
		}
		dec := p.doc.Find("#decided-section")
		if oob, _ := dec.Attr("hx-swap-oob"); oob != "true" {
			t.Fatalf("decided section not swapped out of band: %q", oob)
		}
		if row := dec.Find(`[data-testid="decided"] tbody tr`).First().Text(); !strings.Contains(row, "Mailbox admin") || !strings.Contains(row, "Approved") {
			t.Fatalf("decided row: %q", row)
		}
		// The inbox's line follows too (a narrowed one's: TestInlineReviewInANarrowedInboxRedrawsItsLine).
		if total := p.doc.Find("#inbox-total"); total.AttrOr("hx-swap-oob", "") != "true" || total.Text() != "2 requests wait for you." {
			t.Fatalf("waiting line in the answer: %q", total.Text())
		}

		// The request's line above the card: no time-out (it is settled), its approvals, its
		// state in place of "Review", and an empty cell where its tick box was, each found by
		// where it stands in the table.
		cells := map[string]string{}
		p.doc.Find("template [hx-swap-oob]").Each(func(_ int, c *goquery.Selection) {
			cells[c.AttrOr("hx-swap-oob", "")] = strings.TrimSpace(c.Text())
		})
		row := `outerHTML:#line-` + first + ` > :nth-child(`
		if want := map[string]string{row + "1)": "", row + "6)": "—", row + "7)": "1 of 1", row + "8)": "In force"}; !maps.Equal(cells, want) {
			t.Fatalf("the line's cells in the answer: %q, want %q", cells, want)
		}
		// A decision refused for its input leaves the line as it is: the card asks again.
		p = ap.post("/requests/"+second+"/review", url.Values{"decision": {"deny"}, "back": {"/approvals"}}, "HX-Request", "true")
		if p.StatusCode != http.StatusOK || p.find("error-comment").Length() != 1 || p.doc.Find("template [hx-swap-oob]").Length() != 0 {
			t.Fatalf("deny without a comment: %d, line's cells %d", p.StatusCode, p.doc.Find("template [hx-swap-oob]").Length())
		}

		// From the request page the count still follows; the inbox's list is not there to update.
		p = ap.post("/requests/"+second+"/review", url.Values{"decision": {"deny"}, "comment": {"Not now."}, "back": {"/requests/" + second}}, "HX-Request", "true")
		if p.StatusCode != http.StatusOK || strings.TrimSpace(p.doc.Find("#count-side").Text()) != "1" || p.doc.Find("#decided-section").Length() != 0 {
			t.Fatalf("inline deny from the request page: %d, count %q, decided %d", p.StatusCode, p.doc.Find("#count-side").Text(), p.doc.Find("#decided-section").Length())
		}

		// The approved grant: Revoke is a closed "Revoke…" with its reason inside.
		grant := ap.get("/requests/" + first)
		det := grant.find("revoke-details")
		if _, open := det.Attr("open"); det.Length() != 1 || open || det.Find(`[data-testid="revoke-form"]`).Length() != 1 {
			t.Fatalf("revoke is not folded behind Revoke…: %d", det.Length())
		}
		if s := strings.TrimSpace(det.Find("summary").Text()); s != "Revoke…" {
			t.Fatalf("revoke summary: %q", s)
		}
		again := ap.post("/requests/"+first+"/revoke", url.Values{"reason": {strings.Repeat("x", 1001)}, "back": {"/requests/" + first}})
		if _, open := again.find("revoke-details").Attr("open"); again.StatusCode != http.StatusUnprocessableEntity || !open || again.find("error-reason").Text() == "" {
			t.Fatalf("revoke with a bad reason: %d, open %v", again.StatusCode, open)
		}
		// One grant has one requester: the reason is asked for in the singular.
		again = ap.post("/requests/"+first+"/revoke", url.Values{"reason": {" "}, "back": {"/requests/" + first}})
		if got := again.find("error-reason").Text(); again.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "the requester sees the reason") {
			t.Fatalf("revoke without a reason: %d %q", again.StatusCode, got)
		}
	})
}

// A card opened in a narrowed inbox goes back to that inbox: the page sends its address with
// the expand, the card's form carries it, and a decision there redraws the inbox's line as
// "N of M waiting requests match". An address outside the inbox sends the card to the inbox.
// The plain inbox's line counts what waits for a decision, not the emergency reviews the
// navigation counts too.
func TestInlineReviewInANarrowedInboxRedrawsItsLine(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		raj := a.mustUser("raj@example.com", "Raj Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		now := a.clock.Now()
		first := a.mustRequest(es.policy, "Mailbox admin", rhea, 0, now.Add(-10*time.Minute), now.Add(20*time.Hour))
		second := a.mustRequest(es.policy, "Journal rules", rhea, 1, now.Add(-5*time.Minute), now.Add(20*time.Hour))
		third := a.mustRequest(es.policy, "Transport rules", raj, 2, now.Add(-4*time.Minute), now.Add(20*time.Hour))
		ends := now.Add(time.Hour)
		// Raj's emergency access waits for Olivia's review: the navigation counts it, the
		// inbox's line does not.
		if err := a.db.CreateRequest(context.Background(), pam.Request{
			ID: "00000000-0000-4000-9000-000000000009", RequesterID: raj.ID, PolicyID: es.policy.ID, ScopeType: es.policy.ScopeType,
			ScopeID: es.policy.ScopeID, ScopeName: "Mailbox admin", ApprovalType: pam.ApprovalManual, ApproverGroupID: es.policy.ApproverGroupID,
			Duration: time.Hour, Justification: "Outage.", Status: pam.StatusApproved, Emergency: true,
			CreatedAt: now.Add(-3 * time.Minute), StartsAt: &now, EndsAt: &ends,
		}); err != nil {
			t.Fatal(err)
		}
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		narrowed := "/approvals?requester=" + string(rhea.ID)
		inbox := ap.get(narrowed)
		if got := inbox.find("inbox-total").Text(); got != "2 of 3 waiting requests match." {
			t.Fatalf("narrowed inbox's line: %q", got)
		}
		if vals := inbox.find("inbox").Find("tbody").AttrOr("hx-vals", ""); vals != `{"back":"`+narrowed+`"}` {
			t.Fatalf("the table sends its card expands %q", vals)
		}
		if vals, ok := ap.get("/approvals").find("inbox").Find("tbody").Attr("hx-vals"); ok {
			t.Fatalf("the plain inbox sends its card expands %q", vals)
		}

		for back, want := range map[string]string{narrowed: narrowed, "": "/approvals", "/requests": "/approvals", "https://example.org/approvals": "/approvals"} {
			card := ap.getHX("/approvals/" + first + "/card?back=" + url.QueryEscape(back))
			if got := card.find("review-form").Find(`input[name="back"]`).AttrOr("value", ""); card.StatusCode != http.StatusOK || got != want {
				t.Fatalf("card opened with back %q: %d, goes back to %q, want %q", back, card.StatusCode, got, want)
			}
		}

		p := ap.post("/requests/"+first+"/review", url.Values{"decision": {"approve"}, "back": {narrowed}}, "HX-Request", "true")
		if p.StatusCode != http.StatusOK || !strings.Contains(p.find("card-notice").Text(), "Request approved") {
			t.Fatalf("inline approve: %d %q", p.StatusCode, p.find("card-notice").Text())
		}
		if total := p.doc.Find("#inbox-total"); total.AttrOr("hx-swap-oob", "") != "true" || total.Text() != "1 of 2 waiting requests matches." {
			t.Fatalf("narrowed inbox's line in the answer: %q", total.Text())
		}
		if got := ap.get(narrowed).find("inbox-total").Text(); got != "1 of 2 waiting requests matches." {
			t.Fatalf("narrowed inbox's line after a reload: %q", got)
		}

		// From the plain inbox the line counts what waits for a decision, as the page does.
		p = ap.post("/requests/"+second+"/review", url.Values{"decision": {"approve"}, "back": {"/approvals"}}, "HX-Request", "true")
		if got := p.doc.Find("#inbox-total").Text(); got != "1 request waits for you." || strings.TrimSpace(p.doc.Find("#count-side").Text()) != "2" {
			t.Fatalf("plain inbox's line in the answer: %q, navigation %q", got, p.doc.Find("#count-side").Text())
		}
		if got := ap.get("/approvals").find("inbox-total").Text(); got != "1 request waits for you." {
			t.Fatalf("plain inbox's line after a reload: %q", got)
		}

		// The last decision leaves the line saying what the empty inbox says on a reload, not
		// "0 requests wait for you"; a filter that keeps none offers to show the rest.
		if got := strings.Join(strings.Fields(ap.get(narrowed).find("inbox-empty").Text()), " "); got != "No waiting request matches these filters. Show all 1 waiting request." {
			t.Fatalf("narrowed inbox keeping none, after a reload: %q", got)
		}
		p = ap.post("/requests/"+third+"/review", url.Values{"decision": {"approve"}, "back": {narrowed}}, "HX-Request", "true")
		empty := strings.Join(strings.Fields(ap.get(narrowed).find("inbox-empty").Text()), " ")
		if got := strings.Join(strings.Fields(p.doc.Find("#inbox-total").Text()), " "); got != empty || !strings.HasPrefix(got, "No requests wait for you.") {
			t.Fatalf("the line after the last decision: %q, a reload shows %q", got, empty)
		}
	})
}
