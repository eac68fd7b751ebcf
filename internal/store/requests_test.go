package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func mustSave(t *testing.T, db *store.Store, r pam.Request) {
	t.Helper()
	if err := db.SaveTransition(context.Background(), r); err != nil {
		t.Fatalf("save %s: %v", r.ID, err)
	}
}

// TestCancelReasonMigratesOverOldRows: rows written before 0008 read back unchanged with no
// cancel reason, and a cancel is stored with its reason.
func TestCancelReasonMigratesOverOldRows(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, err := store.Open(testenv.DatabaseURL(t, dialect))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.MigrateTo(ctx, "0007_mfa_sso"); err != nil {
			t.Fatal(err)
		}
		// The rows as the previous version wrote them, without the new column.
		if err := db.ExecRaw(ctx, `INSERT INTO users (id, email, name, created_at, updated_at) VALUES ('u1', 'rhea@example.com', 'Rhea', ?, ?)`, t0, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.ExecRaw(ctx, `INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type,
				approvals_required, duration_min, status, created_at, pending_until, revoked_by, revoke_reason)
			 VALUES ('r-pending', 'u1', 'p1', 'task', 't1', 'task', 'manual', 1, 60, 'pending', ?, ?, '', ''),
			        ('r-revoked', 'u1', 'p1', 'task', 't1', 'task', 'manual', 1, 60, 'revoked', ?, ?, 'u9', 'done')`,
			t0, t0.Add(24*time.Hour), t0, t0.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		old, err := db.RequestByID(ctx, "r-revoked")
		if err != nil || old.Status != pam.StatusRevoked || old.RevokeReason != "done" || old.CancelReason != "" {
			t.Fatalf("old revoked row: %+v %v", old, err)
		}
		r, err := db.RequestByID(ctx, "r-pending")
		if err != nil || r.CancelReason != "" {
			t.Fatalf("old pending row: %+v %v", r, err)
		}
		if err := r.Cancel(pam.CancelGrantRevoked, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		mustSave(t, db, r)
		got, err := db.RequestByID(ctx, r.ID)
		if err != nil || got.Status != pam.StatusCancelled || got.CancelReason != pam.CancelGrantRevoked || got.Version != r.Version+1 {
			t.Fatalf("after cancel: %+v %v", got, err)
		}
		// The version check refuses a second writer that read the old version.
		if err := db.SaveTransition(ctx, r); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("stale save: %v", err)
		}
		list, err := db.Requests(ctx, store.RequestFilter{Status: pam.StatusCancelled})
		if err != nil || len(list) != 1 || list[0].CancelReason != pam.CancelGrantRevoked {
			t.Fatalf("cancelled list: %+v %v", list, err)
		}
	})
}
