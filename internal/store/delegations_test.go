package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Reviews written before delegations count for their reviewer: after 0016 the reviewer still
// appears as such, and nobody can take that approver's seat on the request again.
func TestDelegationMigrationOnOldReviews(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedTo(t, dialect, "0014_inbox_filters")
		now := time.Now().UTC().Truncate(time.Second)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"INSERT INTO users (id, email, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", []any{"u-rhea", "rhea@example.com", "Rhea", now, now}},
			{"INSERT INTO users (id, email, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", []any{"u-olivia", "olivia@example.com", "Olivia", now, now}},
			{"INSERT INTO users (id, email, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", []any{"u-dana", "dana@example.com", "Dana", now, now}},
			{`INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approvals_required,
				duration_min, status, created_at, pending_until) VALUES (?, ?, 'p', 'task', 't', 'exchange/Set-Mailbox', 'manual', 2, 60, 'pending', ?, ?)`,
				[]any{"r-1", "u-rhea", now, now.Add(time.Hour)}},
			{"INSERT INTO reviews (request_id, reviewer_id, decision, comment, at) VALUES (?, ?, 'approve', '', ?)", []any{"r-1", "u-olivia", now}},
		} {
			if err := db.ExecRaw(ctx, q.sql, q.args...); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := db.RequestByID(ctx, "r-1")
		if err != nil || len(r.Reviews) != 1 || r.Reviews[0].ReviewerID != "u-olivia" || r.Reviews[0].OnBehalfOf != "" {
			t.Fatalf("old review: %+v %v", r.Reviews, err)
		}
		err = db.AddReview(ctx, "r-1", pam.Review{ReviewerID: "u-dana", OnBehalfOf: "u-olivia", Decision: pam.DecisionApprove, At: now})
		if pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("a second review for Olivia: %v", err)
		}
		if err := db.AddReview(ctx, "r-1", pam.Review{ReviewerID: "u-dana", Decision: pam.DecisionApprove, At: now}); err != nil {
			t.Fatalf("Dana's own review: %v", err)
		}
	})
}

// One delegation in force or scheduled per approver, whatever races: the second is refused by
// the database; a lapsed one is closed at its end and makes way.
func TestOneOpenDelegationPerApprover(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		now := time.Now().UTC().Truncate(time.Second)
		for _, id := range []string{"olivia", "dana", "eve"} {
			if err := db.ExecRaw(ctx, "INSERT INTO users (id, email, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
				id, id+"@example.com", id, now, now); err != nil {
				t.Fatal(err)
			}
		}
		d := pam.Delegation{ID: "d1", PrincipalID: "olivia", DelegateID: "dana", StartsAt: now, EndsAt: now.Add(time.Hour), CreatedAt: now}
		if err := db.CreateDelegation(ctx, d, "olivia", now); err != nil {
			t.Fatal(err)
		}
		d2 := pam.Delegation{ID: "d2", PrincipalID: "olivia", DelegateID: "eve", StartsAt: now.Add(2 * time.Hour), EndsAt: now.Add(3 * time.Hour), CreatedAt: now}
		if err := db.CreateDelegation(ctx, d2, "olivia", now); pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("a second open delegation: %v", err)
		}
		later := now.Add(90 * time.Minute)
		if err := db.CreateDelegation(ctx, d2, "olivia", later); err != nil {
			t.Fatalf("after the first lapsed: %v", err)
		}
		open, err := db.OpenDelegations(ctx, "", later, nil, 10)
		if err != nil || len(open) != 1 || open[0].ID != "d2" || open[0].DelegateEmail != "eve@example.com" {
			t.Fatalf("open: %+v %v", open, err)
		}
		if _, err := db.EndDelegation(ctx, "d2", "olivia", later); err != nil {
			t.Fatal(err)
		}
		if _, err := db.EndDelegation(ctx, "d2", "olivia", later); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("ended twice: %v", err)
		}
	})
}
