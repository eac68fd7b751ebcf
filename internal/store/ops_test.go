package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Operations reads pending requests and grants in force from their times, never from a sweep
// having run: a pending request past its time and a grant not yet started or already over are
// not counted.
func TestOperationsCountsByTimes(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		u := mustCreateUser(t, db, "rhea@example.com").ID
		grantRow(t, db, "now", u, "t1", 0)             // t0 .. t0+1h: in force at t0+30m
		grantRow(t, db, "later", u, "t1", 2*time.Hour) // scheduled
		grantRow(t, db, "over", u, "t1", -2*time.Hour) // over, not yet swept
		for id, until := range map[string]time.Duration{"waits": time.Hour, "lapsed": 10 * time.Minute} {
			r := pam.Request{ID: id, RequesterID: u, PolicyID: "p1", ScopeType: pam.ScopeTask, ScopeID: "t1", ScopeName: "task",
				ApprovalType: pam.ApprovalManual, ApprovalsRequired: 1, Duration: time.Hour, Status: pam.StatusPending,
				CreatedAt: t0, PendingUntil: t0.Add(until), Version: 1}
			if err := db.CreateRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		o, err := db.Operations(ctx, t0.Add(30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if o.RequestsPending != 1 || o.GrantsInForce != 1 || o.Mail.Queued+o.Mail.Retrying != 0 || !o.Mail.Oldest.IsZero() {
			t.Fatalf("operations: %+v", o)
		}
	})
}

// Committed events are counted by action once their transaction commits, and never when it
// rolls back.
func TestCommittedEventsCountOnlyCommits(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		boom := errors.New("boom")
		for _, fail := range []bool{true, false, false} {
			err := db.Tx(ctx, func(tx *store.Store) error {
				if err := tx.AppendAudit(ctx, audit.System.Event(audit.RequestDenied, "request", "r1", nil)); err != nil {
					return err
				}
				if fail {
					return boom
				}
				return nil
			})
			if (err != nil) != fail {
				t.Fatalf("tx: %v", err)
			}
		}
		if n := db.CommittedEvents(audit.RequestDenied.String()); n != 2 {
			t.Fatalf("denied events counted %d, want 2", n)
		}
		if n := db.CommittedEvents(audit.RequestApproved.String()); n != 0 {
			t.Fatalf("approved events counted %d", n)
		}
	})
}
