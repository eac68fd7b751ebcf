package main

import (
	"context"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// The loaders write the same data on both databases, through SQL each of them reads back:
// decided requests in the past, waiting ones in the inbox, the approval supply pending, and a
// chain of audit events that verifies.
func TestLoadersFillBothDatabases(t *testing.T) {
	requestRows, waiting, auditEvents = 60, 11, 450 // more than one batch on SQLite
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		o, err := testkit.Seed(ctx, testenv.DatabaseURL(t, dialect))
		if err != nil {
			t.Fatal(err)
		}
		defer o.DB.Close()
		approver := o.Users[testkit.Approvers[0]].ID
		before, err := o.DB.InboxCount(ctx, approver, time.Now().UTC())
		if err != nil {
			t.Fatal(err)
		}
		if err := loadRequests(ctx, o); err != nil {
			t.Fatal(err)
		}
		if err := loadSupply(ctx, o, 5); err != nil {
			t.Fatal(err)
		}
		if err := loadAudit(ctx, o.DB); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		// The waiting ones (their template included), the supply's two sets and their template.
		if n, err := o.DB.InboxCount(ctx, approver, now); err != nil || n != before+int64(waiting+2*5+1) {
			t.Errorf("inbox count %d %v, want %d", n, err, before+int64(waiting+2*5+1))
		}
		for _, who := range []string{testkit.Requesters[0], testkit.Requesters[1]} {
			rs, err := o.DB.Requests(ctx, pam.RequestFilter{RequesterID: o.Users[who].ID, Status: pam.StatusExpired, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) < (requestRows-waiting-1)/2 {
				t.Fatalf("%s has %d expired requests", who, len(rs))
			}
			for _, r := range rs {
				if r.EndsAt == nil || !r.EndsAt.Before(now.Add(-21*time.Hour)) || !r.CreatedAt.Before(now.Add(-24*time.Hour)) {
					t.Fatalf("a decided request is not in the past: created %v, ends %v", r.CreatedAt, r.EndsAt)
				}
			}
		}
		for _, id := range []string{"bench-bare-5", "bench-audited-1"} {
			r, err := o.DB.RequestByID(ctx, id)
			if err != nil || r.Status != pam.StatusPending || !r.PendingUntil.After(now.Add(23*time.Hour)) {
				t.Errorf("%s: %+v %v", id, r, err)
			}
		}
		head, n, err := o.DB.VerifyAudit(ctx, nil)
		if err != nil || n < int64(auditEvents) {
			t.Errorf("audit chain: head %+v, %d events, %v", head, n, err)
		}
	})
}
