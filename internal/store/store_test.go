package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

func mustCreateUser(t *testing.T, db *store.Store, email string) pam.User {
	t.Helper()
	u := pam.User{ID: pam.UserID("u-" + email), Email: email, Name: "N " + email, CreatedAt: time.Now()}
	if err := db.CreateUser(context.Background(), u, ""); err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// migratedTo opens a throw-away database of dialect migrated up to migration id, as a previous
// version left it, for a test that writes old rows and then migrates the rest.
func migratedTo(t *testing.T, dialect, id string) *store.Store {
	t.Helper()
	db, err := store.Open(testenv.DatabaseURL(t, dialect))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MigrateUpTo(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMigrateTwice(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
	})
}

// On SQLite a transaction never waits for the shared pool: writers queued behind SQLite's lock
// can hold every shared connection, and a lock holder that needed one of them (or a statement
// being prepared on them) stalled everyone until the busy timeout.
func TestSQLiteTransactionsKeepTheirOwnConnection(t *testing.T) {
	t.Parallel()
	db := testenv.Store(t, store.SQLite)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	release, err := db.TakeSharedPool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	u := pam.User{ID: "u-pool", Email: "pool@example.com", Name: "Pool", CreatedAt: time.Now()}
	if err := db.Tx(ctx, func(tx *store.Store) error { return tx.CreateUser(ctx, u, "") }); err != nil {
		t.Fatalf("a transaction waited for the shared pool: %v", err)
	}
}

// A transaction that panics gives the writer's turn back: the next one runs.
func TestSQLiteTransactionThatPanicsLetsTheNextWrite(t *testing.T) {
	t.Parallel()
	db := testenv.Store(t, store.SQLite)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		_ = db.Tx(ctx, func(tx *store.Store) error { panic("a fault in a handler") })
	}()
	u := pam.User{ID: "u-next", Email: "next@example.com", Name: "Next", CreatedAt: time.Now()}
	if err := db.Tx(ctx, func(tx *store.Store) error { return tx.CreateUser(ctx, u, "") }); err != nil {
		t.Fatalf("the next transaction: %v", err)
	}
}

func TestUsers(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		mustCreateUser(t, db, "b@example.com")
		mustCreateUser(t, db, "a@example.com")
		mustCreateUser(t, db, "c@example.com")

		err := db.CreateUser(ctx, pam.User{ID: "other", Email: "a@example.com", Name: "x", CreatedAt: time.Now()}, "")
		if pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("duplicate email: got %v, want a field error", err)
		}
		page, err := db.Users(ctx, store.UserFilter{Limit: 2})
		if err != nil || len(page) != 2 || page[0].Email != "a@example.com" || page[1].Email != "b@example.com" {
			t.Fatalf("first page: %v %v", page, err)
		}
		page, err = db.Users(ctx, store.UserFilter{After: page[1].Email, Limit: 2})
		if err != nil || len(page) != 1 || page[0].Email != "c@example.com" {
			t.Fatalf("second page: %v %v", page, err)
		}
		if _, err := db.UserByID(ctx, "missing"); pam.ErrorCode(err) != pam.ENOTFOUND {
			t.Fatalf("missing user: %v", err)
		}
		if err := db.DisableUser(ctx, "u-a@example.com", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := db.DisableUser(ctx, "u-a@example.com", time.Now()); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("second disable: %v", err)
		}
	})
}

func TestTakeValueIsSingleUse(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		if err := db.SetValue(ctx, "k", "v", time.Now()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		took := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Tx(ctx, func(tx *store.Store) error {
					ok, err := tx.TakeValue(ctx, "k", "v")
					if ok {
						mu.Lock()
						took++
						mu.Unlock()
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if took != 1 {
			t.Fatalf("%d callers took the value, want 1", took)
		}
	})
}

func TestInsertValueHasOneWinner(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := fmt.Sprintf("v%d", i)
				ok, err := db.InsertValue(ctx, "k", v, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					winners = append(winners, v)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("%d callers inserted the value, want 1", len(winners))
		}
		if got, err := db.Value(ctx, "k"); err != nil || got != winners[0] {
			t.Fatalf("stored %q (%v), want the winner's %q", got, err, winners[0])
		}
		if ok, err := db.InsertValue(ctx, "k", "later", time.Now()); err != nil || ok {
			t.Fatalf("insert over a stored value: %v %v", ok, err)
		}
	})
}

// A turn is taken at most once per period across processes: the first ask takes it, an ask
// within the period is refused, and of many that ask once it is due one wins.
func TestClaimTurnHasOneWinnerPerPeriod(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		start := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
		claim := func(at time.Time) bool {
			t.Helper()
			ok, err := db.ClaimTurn(ctx, "turn", at, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !claim(start) || claim(start.Add(59*time.Minute)) {
			t.Fatal("the first ask did not take the turn, or a second one was taken within the period")
		}
		var (
			wg  sync.WaitGroup
			won atomic.Int32
		)
		due := start.Add(time.Hour)
		for range 12 {
			wg.Go(func() {
				if ok, err := db.ClaimTurn(ctx, "turn", due, time.Hour); err != nil {
					t.Error(err)
				} else if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d processes took the due turn, want 1", won.Load())
		}
		if claim(due.Add(30*time.Minute)) || !claim(due.Add(time.Hour)) {
			t.Fatal("the next turn does not come a period after the last one")
		}
		if ok, err := db.ClaimTurn(ctx, "other", due.Add(90*time.Minute), time.Hour); err != nil || !ok {
			t.Fatalf("another key's turn was not free: %v %v", ok, err)
		}
		// A turn given back is free again at once; one taken again since is not given back.
		taken := due.Add(2 * time.Hour)
		if !claim(taken) {
			t.Fatal("the turn two periods later was not free")
		}
		if err := db.ReleaseTurn(ctx, "turn", taken, time.Hour); err != nil {
			t.Fatal(err)
		}
		again := taken.Add(time.Second)
		if !claim(again) {
			t.Fatal("a turn given back was not free")
		}
		if err := db.ReleaseTurn(ctx, "turn", taken, time.Hour); err != nil || claim(again.Add(time.Second)) {
			t.Fatalf("giving back an older turn freed the newer one (%v)", err)
		}
	})
}

func appendEvents(t *testing.T, db *store.Store, n int, label string) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		ev := audit.System.Event(audit.SettingsUpdated, "thing", fmt.Sprintf("%s-%d", label, i), map[string]any{"i": i})
		ev.At = time.Now()
		if err := db.Tx(ctx, func(tx *store.Store) error { return tx.AppendAudit(ctx, ev) }); err != nil {
			t.Errorf("append: %v", err)
			return
		}
	}
}

func verify(t *testing.T, db *store.Store) (int64, error) {
	t.Helper()
	var v audit.Verifier
	for ev, err := range db.AllAuditEvents(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Next(ev); err != nil {
			return v.Count, err
		}
	}
	return v.Count, nil
}

func TestAuditChainUnderConcurrentWriters(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() { defer wg.Done(); appendEvents(t, db, 25, fmt.Sprint(w)) }()
		}
		wg.Wait()
		n, err := verify(t, db)
		if err != nil || n != 150 {
			t.Fatalf("verify: %d events, %v", n, err)
		}
		head, err := db.AuditHead(context.Background())
		if err != nil || head.Seq != 150 {
			t.Fatalf("head %+v %v", head, err)
		}
	})
}

func TestAuditRowsAreAppendOnly(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		appendEvents(t, db, 3, "x")
		if err := db.ExecRaw(ctx, "UPDATE audit_events SET action = 'forged' WHERE seq = 2"); err == nil {
			t.Fatal("UPDATE of an audit event succeeded")
		}
		if err := db.ExecRaw(ctx, "DELETE FROM audit_events WHERE seq = 3"); err == nil {
			t.Fatal("DELETE of an audit event succeeded")
		}
		if n, err := verify(t, db); err != nil || n != 3 {
			t.Fatalf("verify after refused tampering: %d %v", n, err)
		}
	})
}

func TestAuditRollsBackWithItsChange(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		boom := fmt.Errorf("boom")
		err := db.Tx(ctx, func(tx *store.Store) error {
			if err := tx.CreateUser(ctx, pam.User{ID: "u1", Email: "a@example.com", Name: "A", CreatedAt: time.Now()}, ""); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, audit.System.Event(audit.UserCreated, "user", "u1", nil)); err != nil {
				return err
			}
			return boom
		})
		if err != boom {
			t.Fatalf("tx: %v", err)
		}
		if n, _ := db.CountUsers(ctx); n != 0 {
			t.Fatalf("user survived rollback")
		}
		if h, _ := db.AuditHead(ctx); h.Seq != 0 {
			t.Fatalf("audit head moved on rollback: %+v", h)
		}
		// The chain continues without a gap after a rollback.
		appendEvents(t, db, 2, "y")
		if n, err := verify(t, db); err != nil || n != 2 {
			t.Fatalf("verify: %d %v", n, err)
		}
	})
}

func TestPoolKeepsEveryConnectionItOpens(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		n := store.MaxOpenConnections(dialect)
		st, err := db.HoldConnections(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		// A burst as large as the pool leaves every connection idle for the next one; none was
		// closed for lack of idle room.
		if st.Idle != n || st.MaxIdleClosed != 0 {
			t.Fatalf("after a burst of %d: %d idle, %d closed for lack of idle room", n, st.Idle, st.MaxIdleClosed)
		}
		// A size set for the process (ELEVATE_DATABASE_MAX_CONNS) bounds the pool and is kept
		// whole in the same way.
		if err := db.SetMaxConnections(3); err != nil {
			t.Fatal(err)
		}
		// Shrinking closed the connections above 3; bursts after it close none.
		if st, err = db.HoldConnections(context.Background(), 3); err != nil {
			t.Fatal(err)
		}
		again, err := db.HoldConnections(context.Background(), 3)
		if err != nil {
			t.Fatal(err)
		}
		if again.MaxOpenConnections != 3 || again.Idle != 3 || again.MaxIdleClosed != st.MaxIdleClosed {
			t.Fatalf("after sizing the pool to 3: %d at most, %d idle, %d closed for lack of idle room",
				again.MaxOpenConnections, again.Idle, again.MaxIdleClosed-st.MaxIdleClosed)
		}
		// One connection would leave a check waiting for a sealer pass that has none.
		for _, n := range []int{0, 1} {
			if err := db.SetMaxConnections(n); err == nil {
				t.Fatalf("a pool of %d connections was accepted", n)
			}
		}
	})
}

// Each migration commits on its own with its id: one that fails leaves those before it applied,
// and the next start runs only what is left.
func TestEachMigrationCommitsOnItsOwn(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		a := [2]string{"t1_a", "CREATE TABLE t_a (x integer)"}
		b := [2]string{"t1_b", "CREATE TABLE t_b (x integer)"}
		if err := db.MigrateSteps(ctx, a, b, [2]string{"t1_c", "INSERT INTO t_missing VALUES (1)"}); err == nil {
			t.Fatal("a failing migration did not fail")
		}
		if err := db.ExecRaw(ctx, "INSERT INTO t_b VALUES (1)"); err != nil {
			t.Fatalf("the migration before the failing one was rolled back with it: %v", err)
		}
		if err := db.MigrateSteps(ctx, a, b, [2]string{"t1_c", "CREATE TABLE t_c (x integer)"}); err != nil {
			t.Fatalf("the next start ran applied migrations again: %v", err)
		}
		if err := db.ExecRaw(ctx, "INSERT INTO t_c VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	})
}
