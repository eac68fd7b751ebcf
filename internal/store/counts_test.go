package store_test

import (
	"context"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

func TestCountsStatementsAndRoundTrips(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		diff := func(before store.Counts) store.Counts {
			now := db.Counts()
			return store.Counts{Statements: now.Statements - before.Statements, RoundTrips: now.RoundTrips - before.RoundTrips}
		}

		before := db.Counts()
		if _, err := db.UserByID(ctx, "missing"); err == nil {
			t.Fatal("found a missing user")
		}
		if d := diff(before); d != (store.Counts{Statements: 1, RoundTrips: 1}) {
			t.Fatalf("one read counted as %+v", d)
		}

		// A transaction adds its BEGIN and COMMIT; a sealer pass appending three events reads
		// the head and the unsealed events in one statement, then inserts the three and moves
		// the head: one statement on PostgreSQL, two on SQLite.
		before = db.Counts()
		evs := []*audit.Event{
			audit.System.Event(audit.SettingsUpdated, "x", "1", nil),
			audit.System.Event(audit.SettingsUpdated, "x", "2", nil),
			audit.System.Event(audit.SettingsUpdated, "x", "3", nil),
		}
		if err := db.AppendAuditBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
		want := store.Counts{Statements: 3, RoundTrips: 5}
		if dialect == store.Postgres {
			want = store.Counts{Statements: 2, RoundTrips: 4}
		}
		if d := diff(before); d != want {
			t.Fatalf("a batch of three events counted as %+v, want %+v", d, want)
		}

		// A dry run sends nothing; a failed statement was still sent.
		before = db.Counts()
		_ = db.ExecRaw(ctx, "SELECT no_such_column FROM users")
		if d := diff(before); d != (store.Counts{Statements: 1, RoundTrips: 1}) {
			t.Fatalf("a failed statement counted as %+v", d)
		}
	})
}

// A write outside a transaction is one statement and one round trip, as the counters say: GORM
// would otherwise wrap each create, update and delete in a BEGIN and a COMMIT of its own, two
// round trips the counters never saw.
func TestAWriteOutsideATransactionRunsAlone(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		n, err := db.WriteTransactions(context.Background(), "alone-test")
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("a create, an update and a delete outside a transaction began %d transactions", n)
		}
	})
}
