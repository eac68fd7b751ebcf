package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// mustWaiting stores n requests waiting for the estate's approvers, a second apart from the
// clock's time on, and returns their ids oldest first. Their justifications are as long as the
// limit allows, which the inbox's table does not show.
func (a *app) mustWaiting(es estate, requester pam.User, n int) []string {
	a.t.Helper()
	ids := make([]string, n)
	start := a.clock.Now().Add(-time.Duration(n) * time.Second)
	err := a.db.Tx(context.Background(), func(tx *store.Store) error {
		for i := range ids {
			ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			at := start.Add(time.Duration(i) * time.Second)
			if err := tx.CreateRequest(context.Background(), pam.Request{
				ID: ids[i], RequesterID: requester.ID, PolicyID: es.policy.ID, ScopeType: es.policy.ScopeType,
				ScopeID: es.policy.ScopeID, ScopeName: "Exchange mailbox administration",
				ApprovalType: pam.ApprovalManual, ApproverGroupID: es.policy.ApproverGroupID, ApprovalsRequired: 2,
				Duration: 4 * time.Hour, Justification: strings.Repeat("Why. ", 400), Ticket: "INC-1234567",
				Status: pam.StatusPending, CreatedAt: at, PendingUntil: at.Add(24 * time.Hour),
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return ids
}

// The inbox with a thousand requests waiting is a light page: its first page lists 25 of them
// on one line each under a count that stops at "more than 100", under 30,000 bytes with twenty
// decided requests below, in two statements; the "next" links walk every waiting request once,
// oldest first, with no gap and no repeat; and a cursor no page gave out is refused with 400.
func TestInboxPagesAThousandWaitingRequests(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		rhea := a.mustUser("rhea@example.com", "Rhea Requester-Lindqvist", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		second := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
		es := a.mustEstate(2, olivia, second)
		ids := a.mustWaiting(es, rhea, 1020)
		// Twenty of them Olivia denied (the most the inbox lists as decided); one Otto approved.
		for _, id := range ids[1000:] {
			if err := a.db.AddReview(ctx, id, pam.Review{ReviewerID: olivia.ID, Decision: pam.DecisionDeny, Comment: "No.", At: a.clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		waiting := ids[:1000]
		if err := a.db.AddReview(ctx, waiting[0], pam.Review{ReviewerID: second.ID, Decision: pam.DecisionApprove, At: a.clock.Now()}); err != nil {
			t.Fatal(err)
		}

		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		ap.get("/approvals") // the idle clock stays put from here on
		n, first := ap.statements("/approvals")
		if first.StatusCode != http.StatusOK {
			t.Fatalf("GET /approvals: %d", first.StatusCode)
		}
		if len(first.body) >= 30_000 {
			t.Errorf("the inbox's first page is %d bytes, want under 30 KB", len(first.body))
		}
		// Its times carry no hover titles; the card a line opens gives both times exactly.
		if titled := first.find("inbox").Find("time[title]").Length(); titled != 0 {
			t.Errorf("%d of the inbox's times carry a title", titled)
		}
		card := ap.getHX("/approvals/" + waiting[0] + "/card")
		asked := a.clock.Now().Add(-1020*time.Second).UTC().Format("2006-01-02 15:04") + " UTC"
		if ex := card.find("time-exact"); ex.Length() != 2 || !strings.Contains(ex.First().Text(), asked) {
			t.Errorf("the card's exact times: %d, %q; want %q first", ex.Length(), ex.Text(), asked)
		}
		// Session and frame; the page with its counts, what Olivia decided and the emergency
		// reviews.
		if n > 2 {
			t.Errorf("the inbox ran %d statements, want at most 2", n)
		}
		if rows := first.find("inbox-row").Length(); rows != 25 {
			t.Fatalf("first page: %d rows", rows)
		}
		// The page's count and the badge stop at 100, here and on every other page: neither reads
		// more than a hundred and one index entries of a group, however many wait.
		if total := first.find("inbox-total").Text(); total != "More than 100 requests wait for you." ||
			!strings.HasSuffix(strings.TrimSpace(first.find("nav-approvals").First().Text()), "99+") {
			t.Fatalf("counts: %q, badge %q", total, first.find("nav-approvals").First().Text())
		}
		if badge := strings.TrimSpace(ap.get("/profile").find("nav-approvals").First().Text()); !strings.HasSuffix(badge, "99+") {
			t.Fatalf("badge on /profile: %q", badge)
		}
		if got := first.find("decided").Find("tbody tr").Length(); got != 20 {
			t.Fatalf("decided: %d rows", got)
		}
		row := first.find("inbox-row").First()
		if row.Find("td").Eq(5).Text() != "1 of 2" || row.Find("th").Text() != rhea.Name || row.Find("td").Eq(1).Text() != "Exchange mailbox administration Role" {
			t.Fatalf("first row: %q", row.Text())
		}

		// Walk the pages by their "next" links, as a browser without JavaScript does.
		var seen []string
		page, path := first, "/approvals"
		for range 50 {
			page.find("review").Each(func(_ int, r *goquery.Selection) {
				href, _ := r.Attr("href")
				seen = append(seen, strings.TrimPrefix(href, "/requests/"))
			})
			next, ok := page.find("page-next").Attr("href")
			if !ok {
				break
			}
			if path != "/approvals" && page.find("page-first").Length() != 1 {
				t.Fatalf("%s has no link to the first page", path)
			}
			path = next
			if page = ap.get(path); page.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", path, page.StatusCode)
			}
		}
		if len(seen) != len(waiting) {
			t.Fatalf("the pages listed %d requests, want %d", len(seen), len(waiting))
		}
		for i := range waiting {
			if seen[i] != waiting[i] {
				t.Fatalf("row %d is %s, want %s (oldest first, no gap, no repeat)", i, seen[i], waiting[i])
			}
		}
		if last := page.find("inbox-row").Length(); last != 25 || page.find("page-next").Length() != 0 {
			t.Fatalf("last page: %d rows, next link %d", last, page.find("page-next").Length())
		}

		for _, bad := range []string{"yesterday%7Cabc", "2026-01-01T00:00:00Z", "%7C"} {
			if p := ap.get("/approvals?after=" + bad); p.StatusCode != http.StatusBadRequest || p.find("error-next").Length() != 1 {
				t.Errorf("cursor %q: %d", bad, p.StatusCode)
			}
		}
	})
}
