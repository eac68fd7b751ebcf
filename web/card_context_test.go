package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// An approver's card says what the requester already has of the scope (a grant in force until
// when, another request pending), how their last requests for it ended, the approvals needed and
// who approved so far, and links the inbox narrowed to them; the card costs the same number of
// statements however long the requester's history is.
func TestApprovalCardContext(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		otto := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
		es := a.mustEstate(2, olivia, otto)
		p := es.policy
		now := a.clock.Now()
		fresh := a.mustRequest(p, "Mailbox admin", rhea, 0, now.Add(-10*time.Minute), now.Add(20*time.Hour))
		a.mustRequest(p, "Mailbox admin", rhea, 1, now.Add(-5*time.Minute), now.Add(20*time.Hour))
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		ap.get("/approvals")
		card := func(id string) (page, uint64) {
			t.Helper()
			before := a.db.Counts().Statements
			c := ap.getHX("/approvals/" + id + "/card")
			if c.StatusCode != http.StatusOK {
				t.Fatalf("card: %d", c.StatusCode)
			}
			return c, a.db.Counts().Statements - before
		}
		// Nothing else yet: another request pending, no history, no approvals.
		c, base := card(fresh)
		if got := c.find("card-context-line").Text(); !strings.Contains(got, "Has another request pending for it") {
			t.Fatalf("context: %q", got)
		}
		// While it waits, where it stands says how many approvals it needs, once: no count of
		// approvals beside it.
		if c.find("card-approved-by").Length() != 0 || c.find("card-approvals").Length() != 0 || c.find("card-state").Text() != "Waits for 2 more approvals" {
			t.Fatalf("approvals: %q, state %q", c.find("card-approvals").Text(), c.find("card-state").Text())
		}
		for _, want := range []string{"requester=" + string(rhea.ID), "scope=role%3A" + p.ScopeID, "policy=" + p.ID} {
			if !strings.Contains(c.find("card-narrow").Text()+attrs(c, "card-narrow"), want) {
				t.Fatalf("narrow links lack %s: %s", want, attrs(c, "card-narrow"))
			}
		}

		// Otto approves the fresh one; Rhea's older requests: one in force, six decided.
		if err := a.db.AddReview(ctx, fresh, pam.Review{ReviewerID: otto.ID, Decision: pam.DecisionApprove, At: now}); err != nil {
			t.Fatal(err)
		}
		err := a.db.Tx(ctx, func(tx *store.Store) error {
			for i, st := range []pam.Status{pam.StatusApproved, pam.StatusDenied, pam.StatusExpired, pam.StatusTimedOut, pam.StatusDenied, pam.StatusDenied, pam.StatusWithdrawn} {
				at := now.Add(-time.Duration(i+2) * 24 * time.Hour)
				r := pam.Request{ID: "00000000-0000-4000-a000-00000000000" + string(rune('0'+i)), RequesterID: rhea.ID, PolicyID: p.ID,
					ScopeType: p.ScopeType, ScopeID: p.ScopeID, ScopeName: "Mailbox admin", ApprovalType: pam.ApprovalManual,
					ApproverGroupID: p.ApproverGroupID, ApprovalsRequired: 2, Duration: time.Hour, Status: st,
					CreatedAt: at, PendingUntil: at.Add(time.Hour)}
				if st == pam.StatusApproved { // in force now: asked long ago, granted until in 40 min
					start, end := now.Add(-20*time.Minute), now.Add(40*time.Minute)
					r.StartsAt, r.EndsAt, r.DecidedAt = &start, &end, &start
				}
				if err := tx.CreateRequest(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		c, n := card(fresh)
		lines := c.find("card-context-line").Text()
		if !strings.Contains(lines, "Already holds this until ") || !strings.Contains(lines, "Has another request pending") {
			t.Fatalf("context: %q", lines)
		}
		if h := c.find("card-history").Find("li"); h.Length() != 3 || !strings.Contains(h.First().Text(), "Denied") {
			t.Fatalf("history: %d %q", h.Length(), h.Text())
		}
		if c.find("card-approved-by").Text() != "Otto Approver" || c.find("card-state").Text() != "Waits for 1 more approval" {
			t.Fatalf("approved by: %q, state %q", c.find("card-approved-by").Text(), c.find("card-state").Text())
		}
		if n != base {
			t.Fatalf("the card took %d statements with a history, %d without", n, base)
		}
	})
}

// attrs joins the href attributes under a test id.
func attrs(p page, testid string) string {
	var out []string
	for _, n := range p.find(testid).Find("a").Nodes {
		for _, at := range n.Attr {
			if at.Key == "href" {
				out = append(out, at.Val)
			}
		}
	}
	return strings.Join(out, " ")
}

// The request's own page, where an approver lands from the mail, tells them as the inbox's
// card does that this is the requester's first request for the scope; the requester's own
// page says nothing of the kind.
func TestRequestPageSaysFirstRequestForTheScope(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		now := a.clock.Now()
		id := a.mustRequest(es.policy, "Mailbox admin", rhea, 0, now.Add(-10*time.Minute), now.Add(20*time.Hour))
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		p := ap.get("/requests/" + id)
		if p.StatusCode != http.StatusOK || p.find("review-form").Length() == 0 {
			t.Fatalf("request page: %d", p.StatusCode)
		}
		if got := p.find("card-context").Text(); !strings.Contains(got, "First request from Rhea Requester for this scope.") {
			t.Fatalf("the approver's page says %q about the requester", got)
		}
		rq := a.client()
		rq.signIn("rhea@example.com", goodPassword)
		if own := rq.get("/requests/" + id); own.find("card-context").Length() != 0 {
			t.Fatalf("the requester's own page says %q", own.find("card-context").Text())
		}
	})
}
