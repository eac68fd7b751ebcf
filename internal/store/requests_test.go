package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// grantRow writes an approved one-hour grant on a task directly, the way any writer could.
func grantRow(t *testing.T, db *store.Store, id string, user pam.UserID, taskID string, start time.Duration) pam.Request {
	t.Helper()
	r := pam.Request{ID: id, RequesterID: user, PolicyID: "p1", ScopeType: pam.ScopeTask, ScopeID: taskID, ScopeName: "task",
		ApprovalType: pam.ApprovalManual, ApprovalsRequired: 1, Duration: time.Hour, Status: pam.StatusApproved,
		CreatedAt: t0, PendingUntil: t0.Add(24 * time.Hour), DecidedAt: at(start), StartsAt: at(start), EndsAt: at(start + time.Hour), Version: 1}
	if err := db.CreateRequest(context.Background(), r); err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return r
}

func mustSave(t *testing.T, db *store.Store, r pam.Request) {
	t.Helper()
	if err := db.SaveTransition(context.Background(), r); err != nil {
		t.Fatalf("save %s: %v", r.ID, err)
	}
}

// TestGrantForRefusesAnExtensionWhoseBaseDidNotRunToItsStart: the check's query itself refuses
// an approved extension whose base was revoked, ended short of the extension's start or is
// missing, even when nothing revoked the extension (the rows are written directly).
func TestGrantForRefusesAnExtensionWhoseBaseDidNotRunToItsStart(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		u := mustCreateUser(t, db, "rhea@example.com")
		task := pam.Task{ID: "task-1", Key: "exchange/Set-Mailbox", Name: "Set-Mailbox"}
		if err := db.CreateTask(ctx, task, t0); err != nil {
			t.Fatal(err)
		}
		grant := func(now time.Time) string {
			t.Helper()
			g, ok, err := db.GrantFor(ctx, u.ID, task.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return ""
			}
			return g.ID
		}

		// A grant 09:00–10:00 and its extension approved at 09:40, lined up 10:00–11:00.
		base := grantRow(t, db, "base", u.ID, task.ID, 0)
		ext := grantRow(t, db, "ext", u.ID, task.ID, time.Hour)
		if err := db.ExecRaw(ctx, "UPDATE requests SET extends_id = ?, decided_at = ? WHERE id = ?", base.ID, t0.Add(40*time.Minute), ext.ID); err != nil {
			t.Fatal(err)
		}
		if g := grant(t0.Add(30 * time.Minute)); g != "base" {
			t.Fatalf("09:30: grant %q, want the base", g)
		}
		if g := grant(t0.Add(90 * time.Minute)); g != "ext" {
			t.Fatalf("10:30, chain whole: grant %q, want the extension", g)
		}
		ids, err := db.ExtensionIDs(ctx, base)
		if err != nil || len(ids) != 1 || ids[0] != "ext" {
			t.Fatalf("extensions of the base: %v %v", ids, err)
		}

		// The base is revoked at 09:45 and nothing touches the extension.
		if err := base.Revoke("admin", true, "incident closed", t0.Add(45*time.Minute)); err != nil {
			t.Fatal(err)
		}
		mustSave(t, db, base)
		for _, now := range []time.Time{t0.Add(50 * time.Minute), t0.Add(time.Hour), t0.Add(90 * time.Minute)} {
			if g := grant(now); g != "" {
				t.Fatalf("%s after the base was revoked: allowed by %q", now.Format("15:04"), g)
			}
		}

		// Whatever wrote it, a base still marked approved whose end moved before the extension's
		// start, after that extension was approved, does not carry it either.
		if err := db.ExecRaw(ctx, "UPDATE requests SET status = ?, ends_at = ?, version = version + 1 WHERE id = ?", string(pam.StatusApproved), t0.Add(45*time.Minute), base.ID); err != nil {
			t.Fatal(err)
		}
		if g := grant(t0.Add(90 * time.Minute)); g != "" {
			t.Fatalf("base cut short: allowed by %q", g)
		}
		// Neither does a base that does not exist.
		if err := db.ExecRaw(ctx, "UPDATE requests SET extends_id = ? WHERE id = ?", "no-such-request", ext.ID); err != nil {
			t.Fatal(err)
		}
		if g := grant(t0.Add(90 * time.Minute)); g != "" {
			t.Fatalf("missing base: allowed by %q", g)
		}

		// A base that ran out by itself before its extension was approved: the extension started
		// on its own approval and stands (a recorded expiry changes nothing).
		old := grantRow(t, db, "old", u.ID, task.ID, 2*time.Hour)   // 11:00–12:00
		late := grantRow(t, db, "late", u.ID, task.ID, 3*time.Hour) // approved and started 12:00
		if err := db.ExecRaw(ctx, "UPDATE requests SET extends_id = ?, starts_at = ?, ends_at = ?, decided_at = ? WHERE id = ?",
			old.ID, t0.Add(3*time.Hour+10*time.Minute), t0.Add(4*time.Hour+10*time.Minute), t0.Add(3*time.Hour+10*time.Minute), late.ID); err != nil {
			t.Fatal(err)
		}
		if g := grant(t0.Add(3*time.Hour + 30*time.Minute)); g != "late" {
			t.Fatalf("extension approved after its base ran out: grant %q", g)
		}
		old.Status = pam.StatusExpired
		mustSave(t, db, old)
		if g := grant(t0.Add(3*time.Hour + 30*time.Minute)); g != "late" {
			t.Fatalf("after the base's expiry was recorded: grant %q", g)
		}
		// But not once that base is marked revoked.
		if err := db.ExecRaw(ctx, "UPDATE requests SET status = ? WHERE id = ?", string(pam.StatusRevoked), old.ID); err != nil {
			t.Fatal(err)
		}
		if g := grant(t0.Add(3*time.Hour + 30*time.Minute)); g != "" {
			t.Fatalf("base revoked: allowed by %q", g)
		}
	})
}

// TestGrantForReadsTheBaseByItsPrimaryKey: the chain condition costs one primary-key lookup.
func TestGrantForReadsTheBaseByItsPrimaryKey(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		plan, err := db.GrantForPlan(context.Background(), "u1", "task-1", t0)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{store.Postgres: "requests_pkey on requests b", store.SQLite: "SEARCH b USING INDEX sqlite_autoindex_requests_1 (id=?)"}[dialect]
		if !strings.Contains(plan, want) {
			t.Fatalf("plan does not read the base by its key (%q):\n%s", want, plan)
		}
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "SCAN b") {
			t.Fatalf("plan scans a table:\n%s", plan)
		}
	})
}

// TestCancelReasonMigratesOverOldRows: rows written before 0008 read back unchanged with no
// cancel reason, and a cancel is stored with its reason.
func TestCancelReasonMigratesOverOldRows(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedTo(t, dialect, "0007_mfa_sso")
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
		list, err := db.Requests(ctx, pam.RequestFilter{Status: pam.StatusCancelled})
		if err != nil || len(list) != 1 || list[0].CancelReason != pam.CancelGrantRevoked {
			t.Fatalf("cancelled list: %+v %v", list, err)
		}
	})
}

// TestWaitingIndexMigratesOverOldRows: requests written before 0012 are in the inbox after it,
// which indexes the waiting ones apart.
func TestWaitingIndexMigratesOverOldRows(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedTo(t, dialect, "0010_check_tokens")
		// The rows as the previous version wrote them: an approver, their group, and requests.
		execAt(t, db, t0,
			`INSERT INTO users (id, email, name, created_at, updated_at) VALUES ('u1', 'rhea@example.com', 'Rhea', ?, ?), ('u2', 'olivia@example.com', 'Olivia', ?, ?)`,
			`INSERT INTO groups (id, name, name_key, created_at, updated_at) VALUES ('g1', 'Approvers', 'approvers', ?, ?)`,
			`INSERT INTO group_members (group_id, user_id, added_at) VALUES ('g1', 'u2', ?)`,
		)
		if err := db.ExecRaw(ctx, `INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type,
				approver_group_id, approvals_required, duration_min, status, created_at, pending_until, revoked_by, revoke_reason)
			 VALUES ('r-waiting', 'u1', 'p1', 'task', 't1', 'task', 'manual', 'g1', 1, 60, 'pending', ?, ?, '', ''),
			        ('r-decided', 'u1', 'p1', 'task', 't1', 'task', 'manual', 'g1', 1, 60, 'denied', ?, ?, '', '')`,
			t0, t0.Add(24*time.Hour), t0, t0.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		page, err := db.InboxPage(ctx, "u2", t0.Add(time.Minute), pam.InboxFilter{Limit: 25})
		if err != nil || page.Total != 1 || len(page.Waiting) != 1 || page.Waiting[0].ID != "r-waiting" || page.Waiting[0].RequesterName != "Rhea" {
			t.Fatalf("inbox after the migration: %+v %v", page, err)
		}
		if ok, err := db.IndexExists(ctx, "requests_waiting_idx"); err != nil || !ok {
			t.Fatalf("requests_waiting_idx after the migration: %v %v", ok, err)
		}
	})
}

// Emergency reviews written before 0026 mark their requests reviewed after it, and a review
// stored as a previous version stores it (straight into emergency_reviews, as replicas upgrade
// one by one) marks its request too.
func TestEmergencyReviewMarkMigratesAndFollowsEveryWriter(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedTo(t, dialect, "0025_review_reminders")
		execAt(t, db, t0,
			`INSERT INTO users (id, email, name, created_at, updated_at) VALUES ('u1', 'rhea@example.com', 'Rhea', ?, ?), ('u2', 'olivia@example.com', 'Olivia', ?, ?)`,
			`INSERT INTO groups (id, name, name_key, created_at, updated_at) VALUES ('g1', 'Approvers', 'approvers', ?, ?)`,
			`INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
				approvals_required, duration_min, status, created_at, pending_until, revoked_by, revoke_reason, emergency)
			 VALUES ('r-reviewed', 'u1', 'p1', 'task', 't1', 'task', 'manual', 'g1', 1, 60, 'approved', ?, ?, '', '', true),
			        ('r-open', 'u1', 'p1', 'task', 't1', 'task', 'manual', 'g1', 1, 60, 'approved', ?, ?, '', '', true),
			        ('r-later', 'u1', 'p1', 'task', 't1', 'task', 'manual', 'g1', 1, 60, 'approved', ?, ?, '', '', true)`,
			`INSERT INTO emergency_reviews (request_id, reviewer_id, outcome, reason, at) VALUES ('r-reviewed', 'u2', 'confirmed', '', ?)`,
		)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		open := func() []string {
			t.Helper()
			list, err := db.UnreviewedEmergencies(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range list {
				ids = append(ids, r.ID)
			}
			slices.Sort(ids)
			return ids
		}
		if got := open(); !slices.Equal(got, []string{"r-later", "r-open"}) {
			t.Fatalf("unreviewed after the migration: %v", got)
		}
		if err := db.ExecRaw(ctx, `INSERT INTO emergency_reviews (request_id, reviewer_id, outcome, reason, at) VALUES ('r-open', 'u2', 'misuse', 'no outage', ?)`, t0); err != nil {
			t.Fatal(err)
		}
		if got := open(); !slices.Equal(got, []string{"r-later"}) {
			t.Fatalf("unreviewed after a review stored directly: %v", got)
		}
	})
}

// execAt runs statements written as an earlier version wrote its rows, every placeholder bound
// to at.
func execAt(t *testing.T, db *store.Store, at time.Time, statements ...string) {
	t.Helper()
	for _, q := range statements {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = at
		}
		if err := db.ExecRaw(context.Background(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestExtensionsListsThoseStillOpen: Extensions returns a grant's approved extensions first,
// then the pending ones, and leaves out those decided otherwise and other grants' extensions.
func TestExtensionsListsThoseStillOpen(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		u := mustCreateUser(t, db, "rhea@example.com")
		base := grantRow(t, db, "00000000-0000-4000-8000-000000000001", u.ID, "task-1", 0)
		other := grantRow(t, db, "00000000-0000-4000-8000-000000000002", u.ID, "task-1", 0)
		ext := func(id string, extends string, st pam.Status, created time.Duration) {
			t.Helper()
			r := pam.Request{ID: id, RequesterID: u.ID, PolicyID: "p1", ScopeType: pam.ScopeTask, ScopeID: "task-1", ScopeName: "task",
				ApprovalType: pam.ApprovalManual, ApprovalsRequired: 1, Duration: time.Hour, Status: st, ExtendsID: extends,
				CreatedAt: t0.Add(created), PendingUntil: t0.Add(24 * time.Hour), Version: 1}
			if st == pam.StatusApproved {
				r.DecidedAt, r.StartsAt, r.EndsAt = at(created), at(time.Hour), at(2*time.Hour)
			}
			if err := db.CreateRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		ext("00000000-0000-4000-8000-000000000010", base.ID, pam.StatusPending, time.Minute)
		ext("00000000-0000-4000-8000-000000000011", base.ID, pam.StatusApproved, 2*time.Minute)
		ext("00000000-0000-4000-8000-000000000012", base.ID, pam.StatusDenied, 3*time.Minute)
		ext("00000000-0000-4000-8000-000000000013", other.ID, pam.StatusApproved, 4*time.Minute)
		got, err := db.Extensions(ctx, base, 5)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID[len(r.ID)-2:])
		}
		if strings.Join(ids, ",") != "11,10" {
			t.Fatalf("extensions %v, want 11,10", ids)
		}
	})
}

// RetimePending moves the follow-up of every request pending under the policy that has not had
// it yet, across its keyset batches, each from its own creation time, and no other request.
func TestRetimePendingMovesEveryPendingRequestOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		u := mustCreateUser(t, db, "rhea@example.com")
		pending := func(id, policy string, created time.Duration, reminded bool) {
			t.Helper()
			r := pam.Request{ID: id, RequesterID: u.ID, PolicyID: policy, ScopeType: pam.ScopeTask, ScopeID: "t1", ScopeName: "task",
				ApprovalType: pam.ApprovalManual, ApprovalsRequired: 1, Duration: time.Hour, Status: pam.StatusPending,
				CreatedAt: t0.Add(created), PendingUntil: t0.Add(created + 24*time.Hour), Version: 1}
			if reminded {
				r.RemindAt, r.RemindedAt = at(created+time.Minute), at(created+time.Minute)
			}
			if err := db.CreateRequest(ctx, r); err != nil {
				t.Fatalf("create %s: %v", id, err)
			}
		}
		const n = 450 // more than two batches
		for i := range n {
			pending(fmt.Sprintf("r%04d", i), "p1", time.Duration(i)*time.Minute, false)
		}
		pending("reminded", "p1", 0, true)
		pending("elsewhere", "p2", 0, false)
		moved, err := db.RetimePending(ctx, "p1", store.Reminder, func(created, pendingUntil time.Time) *time.Time {
			v := created.Add(pendingUntil.Sub(created) / 4)
			return &v
		})
		if err != nil || moved != n {
			t.Fatalf("moved %d (%v), want %d", moved, err, n)
		}
		for _, id := range []string{"r0000", "r0199", "r0200", "r0449"} {
			r, err := db.RequestByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if want := r.CreatedAt.Add(6 * time.Hour); r.RemindAt == nil || !r.RemindAt.Equal(want) || r.Version != 2 {
				t.Fatalf("%s reminds at %v (version %d), want %v at version 2", id, r.RemindAt, r.Version, want)
			}
		}
		for _, id := range []string{"reminded", "elsewhere"} {
			if r, err := db.RequestByID(ctx, id); err != nil || r.Version != 1 {
				t.Fatalf("%s was moved: version %d %v", id, r.Version, err)
			}
		}
		if moved, err := db.RetimePending(ctx, "p1", store.Reminder, func(time.Time, time.Time) *time.Time { return nil }); err != nil || moved != n {
			t.Fatalf("turning reminders off moved %d (%v)", moved, err)
		}
		if r, err := db.RequestByID(ctx, "r0300"); err != nil || r.RemindAt != nil {
			t.Fatalf("r0300 still reminds at %v (%v)", r.RemindAt, err)
		}
	})
}
