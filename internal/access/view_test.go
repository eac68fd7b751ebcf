package access_test

import (
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// A request's view says what each viewer may do with it, and nobody else sees it.
func TestRequestViewSaysWhatTheViewerMayDo(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		stranger := w.user("stranger@example.com")
		root, _, err := w.adm.CreateUser(w.ctx, audit.System, "root@example.com", "Root", true, false)
		if err != nil {
			t.Fatal(err)
		}
		r := w.submit()
		type may struct{ review, revoke, withdraw, extend bool }
		see := func(u pam.User) may {
			t.Helper()
			v, err := w.acc.RequestView(w.ctx, u, r.ID)
			if err != nil {
				t.Fatalf("view as %s: %v", u.Email, err)
			}
			if len(v.Tasks) != 1 || v.Tasks[0].Key != w.task.Key || v.MoreTasks {
				t.Fatalf("covered tasks: %+v", v.Tasks)
			}
			return may{v.CanReview, v.CanRevoke, v.CanWithdraw, v.CanExtend}
		}
		if got := see(w.requester); got != (may{withdraw: true}) {
			t.Fatalf("requester of a pending request: %+v", got)
		}
		if got := see(w.approvers[0]); got != (may{review: true}) {
			t.Fatalf("approver of a pending request: %+v", got)
		}
		if got := see(root); got != (may{}) {
			t.Fatalf("admin of a pending request: %+v", got)
		}
		if _, err := w.acc.RequestView(w.ctx, stranger, r.ID); pam.ErrorCode(err) != pam.ENOTFOUND {
			t.Fatalf("a stranger sees the request: %v", err)
		}

		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, "ok"); err != nil {
			t.Fatal(err)
		}
		if got := see(w.requester); got != (may{extend: true}) {
			t.Fatalf("requester of a grant in force: %+v", got)
		}
		if got := see(w.approvers[1]); got != (may{revoke: true}) {
			t.Fatalf("approver of a grant in force: %+v", got)
		}
		if got := see(root); got != (may{revoke: true}) {
			t.Fatalf("admin of a grant in force: %+v", got)
		}
		if _, err := w.acc.Revoke(w.ctx, as(root), root, r.ID, "done early"); err != nil {
			t.Fatal(err)
		}
		v, err := w.acc.RequestView(w.ctx, w.requester, r.ID)
		if err != nil || v.RevokedByName != root.Name || v.CanExtend || v.CanRevoke {
			t.Fatalf("revoked grant: %+v %v", v, err)
		}
	})
}

// The inbox page is one call of two statements: the waiting requests after the cursor with
// their requesters and approvals so far, how many wait in all, a cursor for the next page, and
// what the approver decided.
func TestApprovalsPagesTheInbox(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 2)
		var ids []string
		for range 3 {
			ids = append(ids, w.submit().ID)
			w.clock.Advance(time.Second)
		}
		// The second approver's approval shows on the first approver's line.
		if _, err := w.acc.Review(w.ctx, as(w.approvers[1]), w.approvers[1], ids[0], pam.DecisionApprove, ""); err != nil {
			t.Fatal(err)
		}
		before := w.db.Counts().Statements
		first, err := w.acc.Approvals(w.ctx, w.approvers[0], pam.InboxFilter{Limit: 2})
		// The waiting requests with their counts, the viewer's recent decisions and the emergency
		// reviews: one statement.
		if n := w.db.Counts().Statements - before; n != 1 {
			t.Errorf("a page of the inbox took %d statements, want 1", n)
		}
		if err != nil || len(first.Waiting) != 2 || first.Next == nil || first.Total != 3 || first.Waiting[0].ID != ids[0] {
			t.Fatalf("first page: %+v %v", first, err)
		}
		// A line carries what the table shows; the free texts are the card's to read.
		if got := first.Waiting[0]; got.Approvals != 1 || got.RequesterName != w.requester.Name || got.ScopeName == "" || got.Justification != "" {
			t.Fatalf("first line: %+v", got)
		}
		second, err := w.acc.Approvals(w.ctx, w.approvers[0], pam.InboxFilter{After: first.Next, Limit: 2})
		if err != nil || len(second.Waiting) != 1 || second.Next != nil || second.Total != 3 || second.Waiting[0].ID != ids[2] {
			t.Fatalf("second page: %+v %v", second, err)
		}
		// Past the end the page is empty and still counts the inbox.
		past, err := w.acc.Approvals(w.ctx, w.approvers[0], pam.InboxFilter{After: pam.CursorAt(second.Waiting[0].CreatedAt, second.Waiting[0].ID), Limit: 2})
		if err != nil || len(past.Waiting) != 0 || past.Next != nil || past.Total != 3 {
			t.Fatalf("past the end: %+v %v", past, err)
		}
		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], ids[1], pam.DecisionDeny, "no"); err != nil {
			t.Fatal(err)
		}
		after, err := w.acc.Approvals(w.ctx, w.approvers[0], pam.InboxFilter{Limit: 20})
		if err != nil || len(after.Waiting) != 2 || after.Total != 2 || len(after.Decided) != 1 || after.Decided[0].ID != ids[1] {
			t.Fatalf("after a review: %+v %v", after, err)
		}
		if d := after.Decided[0]; d.Decision != pam.DecisionDeny || d.Status != pam.StatusDenied || d.RequesterName != w.requester.Name || d.At.IsZero() {
			t.Fatalf("decided: %+v", d)
		}
		if n, err := w.acc.InboxCount(w.ctx, w.approvers[0]); err != nil || n != 2 {
			t.Fatalf("inbox count: %d %v", n, err)
		}
	})
}

// The request form names who would decide: the policy's approver group, or the organisation's
// default when it names none; never the viewer themselves.
func TestOfferNamesTheApprovers(t *testing.T) {
	w := newWorld(t, "sqlite", 2, 1)
	o, err := w.acc.Offer(w.ctx, w.approvers[0], w.policy.ID)
	if err != nil || len(o.Approvers) != 1 || o.Approvers[0] != w.approvers[1].Name || len(o.Tasks) != 1 {
		t.Fatalf("offer to an approver: %+v %v", o, err)
	}
	p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.ApproverGroupID = ""
	if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
		t.Fatal(err)
	}
	if o, err = w.acc.Offer(w.ctx, w.requester, w.policy.ID); err != nil || len(o.Approvers) != 0 {
		t.Fatalf("no approver group and no default: %+v %v", o, err)
	}
}
