package store_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// A writer that stored its events first is sealed first, however late it commits: on
// PostgreSQL, events committed after it wait unsealed until it ends; on SQLite it holds the
// database, so later writers wait to write. (A transaction stores its events when its work is
// done, right before its commit; AppendAuditNow stores them at once, to hold that moment open.)
func TestSealerWaitsForAWriterThatCommitsLate(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "before", nil)); err != nil {
			t.Fatal(err)
		}
		stored, release, committed := make(chan struct{}), make(chan struct{}), make(chan error, 2)
		go func() {
			committed <- db.Tx(ctx, func(tx *store.Store) error {
				if err := tx.AppendAuditNow(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "slow", nil)); err != nil {
					return err
				}
				close(stored)
				<-release
				return nil
			})
		}()
		<-stored
		go func() {
			committed <- db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "quick", nil))
		}()
		if dialect == store.Postgres {
			// The quick writer commits; its event stays unsealed while the slow one is open.
			deadline := time.Now().Add(10 * time.Second)
			for {
				n, _, err := db.AuditWaiting(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d events wait, want the quick writer's", n)
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			if head, _ := db.AuditHead(ctx); head.Seq != 1 {
				t.Fatalf("the head moved to %d while an earlier writer was still open", head.Seq)
			}
		}
		close(release)
		for range 2 {
			if err := <-committed; err != nil {
				t.Fatal(err)
			}
		}
		if got := sealedChain(t, db); got != "before,slow,quick" {
			t.Fatalf("chain order %s, want before,slow,quick", got)
		}
	})
}

// sealedChain seals what waits, checks the whole chain, and returns its events' targets in
// chain order, comma-separated.
func sealedChain(t *testing.T, db *store.Store) string {
	t.Helper()
	ctx := context.Background()
	if _, err := db.SealWaiting(ctx); err != nil {
		t.Fatal(err)
	}
	var order []string
	for ev, err := range db.AllAuditEvents(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, ev.TargetID)
	}
	if _, n, err := db.VerifyAudit(ctx, nil); err != nil || n != int64(len(order)) {
		t.Fatalf("verify: %d of %d events, %v", n, len(order), err)
	}
	return strings.Join(order, ",")
}

// A transaction stores its events when its work is done, just before it commits: one still at
// work holds no other writer's events back, and its own come after theirs in the chain.
func TestSealerIsNotHeldBackByATransactionStillAtWork(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t, store.Postgres)
	if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "before", nil)); err != nil {
		t.Fatal(err)
	}
	working, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Tx(ctx, func(tx *store.Store) error {
			// A write takes the transaction's id before the others below begin.
			if err := tx.ExecRaw(ctx, "UPDATE org_settings SET updated_at = updated_at WHERE id = 1"); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "working", nil)); err != nil {
				return err
			}
			close(working)
			<-release
			return nil
		})
	}()
	<-working
	if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "quick", nil)); err != nil {
		close(release)
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		head, err := db.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if head.Seq == 2 {
			break
		}
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("the head stayed at %d while a transaction that stored nothing yet was open", head.Seq)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := sealedChain(t, db); got != "before,quick,working" {
		t.Fatalf("chain order %s, want before,quick,working", got)
	}
}

// A change's audit events and its mail are written in one statement on PostgreSQL (two on
// SQLite), whatever the change did between them, and a failing change writes neither.
func TestChangeWritesItsEventsAndMailTogether(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		now := time.Now().UTC()
		change := func(tx *store.Store, n int) error {
			for i := range n {
				if err := tx.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", fmt.Sprint(i), nil)); err != nil {
					return err
				}
				if err := tx.EnqueueMail(ctx, pam.OutboxMessage{ID: fmt.Sprintf("%s-%d", dialect, i), Kind: "test", Recipient: "a@example.com",
					Subject: "s", Text: "t", HTML: "<p>h</p>", CreatedAt: now}); err != nil {
					return err
				}
			}
			return nil
		}
		boom := fmt.Errorf("boom")
		if err := db.Tx(ctx, func(tx *store.Store) error {
			if err := change(tx, 2); err != nil {
				return err
			}
			return boom
		}); err != boom {
			t.Fatalf("failing change: %v", err)
		}
		// The sealer, held, counts none of its statements with the change's.
		db.SetSealWait(0)
		release := db.HoldSealer()
		before := db.Counts()
		err := db.Tx(ctx, func(tx *store.Store) error { return change(tx, 3) })
		got := db.Counts().Statements - before.Statements
		release()
		if err != nil {
			t.Fatal(err)
		}
		want := uint64(1)
		if dialect == store.SQLite {
			want = 2
		}
		if got != want {
			t.Fatalf("the change took %d statements, want %d", got, want)
		}
		ms, err := db.Mail(ctx, pam.MailFilter{Limit: 100})
		if err != nil || len(ms) != 3 {
			t.Fatalf("%d messages queued (%v), want the committed change's 3", len(ms), err)
		}
		if _, err := db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		if head, err := db.AuditHead(ctx); err != nil || head.Seq != 3 {
			t.Fatalf("head %d (%v) after the committed change's 3 events", head.Seq, err)
		}
	})
}

// A writer holds sealing back from its first transaction id, not from the id of a subtransaction
// it began later: the horizon reads every id a transaction holds in pg_locks and keeps its
// oldest. Events committed between the two stay unsealed until the writer ends.
func TestSealerHorizonIsAWritersOldestTransactionID(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t, store.Postgres)
	first, second, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Tx(ctx, func(tx *store.Store) error {
			if err := tx.AppendAuditNow(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "open", nil)); err != nil {
				return err
			}
			first <- struct{}{}
			<-second
			// A subtransaction writes too: it takes a transaction id newer than the event below.
			if err := tx.ExecRaw(ctx, "SAVEPOINT later"); err != nil {
				return err
			}
			if err := tx.AppendAuditNow(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "open-later", nil)); err != nil {
				return err
			}
			first <- struct{}{}
			<-release
			return nil
		})
	}()
	<-first
	if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "between", nil)); err != nil {
		t.Fatal(err)
	}
	second <- struct{}{}
	<-first
	// A commit after the subtransaction's id starts a pass, which sees that id in pg_locks.
	if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "after", nil)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := db.SealWaiting(ctx); err != nil {
		t.Fatal(err)
	}
	head, err := db.AuditHead(ctx)
	close(release)
	if err != nil || head.Seq != 0 {
		t.Fatalf("the head moved to %d (%v) while the writer that started first was open", head.Seq, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := db.SealWaiting(ctx); err != nil {
		t.Fatal(err)
	}
	if _, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 4 {
		t.Fatalf("verify: %d %v", n, err)
	}
}

// Stored and direct events from many goroutines are each sealed exactly once, in one chain,
// and a direct event comes back with its place.
func TestSealerMixesStoredAndDirectEvents(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					ev := audit.System.Event(audit.AccessChecked, "task", fmt.Sprintf("%d-%d", w, i), nil)
					var err error
					if w%2 == 0 {
						err = db.SealAudit(ctx, ev)
						if err == nil && (ev.Seq == 0 || ev.Hash == "" || ev.SealedAt.IsZero()) {
							err = fmt.Errorf("a sealed check event came back without its place: %+v", ev)
						}
					} else {
						err = db.AppendAudit(ctx, ev)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if _, err := db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _, err := db.AuditWaiting(ctx); err != nil || n != 0 {
			t.Fatalf("%d events still wait (%v)", n, err)
		}
		head, n, err := db.VerifyAudit(ctx, nil)
		if err != nil || n != 240 || head.Seq != 240 {
			t.Fatalf("verify: head %+v, %d events, %v", head, n, err)
		}
		seen := map[string]bool{}
		for ev, err := range db.AllAuditEvents(ctx) {
			if err != nil || seen[ev.TargetID] {
				t.Fatalf("event %s twice (%v)", ev.TargetID, err)
			}
			seen[ev.TargetID] = true
		}
	})
}

// The database itself allows sealing an unsealed event once and nothing else: no second seal,
// no change to what the event says, no deletion.
func TestSealingIsTheOnlyUpdate(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "sealed", nil)); err != nil {
			t.Fatal(err)
		}
		// An unsealed row, written as a business transaction does, with nobody sealing it.
		if err := db.ExecRaw(ctx, `INSERT INTO audit_events (at, actor_type, action, outcome, details)
			VALUES (?, 'system', 'settings.updated', 'success', '{}')`, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		refused := []string{
			`UPDATE audit_events SET details = '{"x":1}' WHERE seq = 1`,
			`UPDATE audit_events SET seq = 5, prev_hash = 'p', hash = 'h', sealed_at = ? WHERE seq = 1`,
			`UPDATE audit_events SET seq = 2, prev_hash = 'p', hash = 'h', sealed_at = ?, actor_name = 'x' WHERE seq IS NULL`,
			`UPDATE audit_events SET seq = 2, prev_hash = 'p', hash = 'h' WHERE seq IS NULL`,
			`DELETE FROM audit_events WHERE seq = 1`,
			`DELETE FROM audit_events WHERE seq IS NULL`,
		}
		for _, q := range refused {
			var args []any
			if strings.Contains(q, "?") {
				args = append(args, now)
			}
			if err := db.ExecRaw(ctx, q, args...); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want it refused as append-only", q, err)
			}
		}
		if err := db.ExecRaw(ctx, `UPDATE audit_events SET seq = 2, prev_hash = 'p', hash = 'h', sealed_at = ? WHERE seq IS NULL`, now); err != nil {
			t.Fatalf("the one allowed update, a seal: %v", err)
		}
		if err := db.ExecRaw(ctx, `UPDATE audit_events SET seq = 3, prev_hash = 'p', hash = 'h', sealed_at = ? WHERE seq = 2`, now); err == nil {
			t.Fatal("an event was sealed twice")
		}
	})
}

// killedSealerEnv makes the test binary write and seal events until it is killed.
const killedSealerEnv = "ELEVATE_TEST_SEAL_UNTIL_KILLED_DB"

func sealUntilKilled(url string) int {
	db, err := store.Open(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ev := audit.System.Event(audit.AccessChecked, "task", fmt.Sprintf("%d-%d", w, i), nil)
				var err error
				if w%2 == 0 {
					err = db.SealAudit(ctx, ev)
				} else {
					err = db.AppendAudit(ctx, ev)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
				}
			}
		}()
	}
	wg.Wait()
	return 0
}

// A process killed while it seals leaves a chain that verifies; what it stored but did not
// seal is sealed by the next sealer, and nothing is sealed twice.
func TestSealerKilledMidPass(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		url := testenv.DatabaseURL(t, dialect)
		db, err := store.Open(url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for round := range 3 {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), killedSealerEnv+"="+url)
			out := &strings.Builder{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			start, _ := db.AuditHead(ctx)
			deadline := time.Now().Add(30 * time.Second)
			for {
				head, err := db.AuditHead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if head.Seq >= start.Seq+150+int64(round)*37 {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("round %d: the writer sealed nothing in 30s:\n%s", round, out)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if _, _, err := db.VerifyAudit(ctx, nil); err != nil {
				t.Fatalf("round %d: verify right after the kill: %v", round, err)
			}
		}
		// The killed process's server backends end their transactions as they notice it is
		// gone; the sweep seals what they held back once they have.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := db.SealWaiting(ctx); err != nil {
				t.Fatal(err)
			}
			n, _, err := db.AuditWaiting(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d events still wait ten seconds after the kill", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		head, count, err := db.VerifyAudit(ctx, nil)
		if err != nil || count != head.Seq {
			t.Fatalf("verify after the sweep: head %+v, %d events, %v", head, count, err)
		}
	})
}

// On PostgreSQL the horizon counts only writers of this trail: a transaction left open on
// another schema's audit trail (another Elevate, or another test) holds nothing back here.
func TestSealerIgnoresWritersOfOtherTrails(t *testing.T) {
	ctx := context.Background()
	other, here := testenv.Store(t, store.Postgres), testenv.Store(t, store.Postgres)
	stored, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- other.Tx(ctx, func(tx *store.Store) error {
			if err := tx.AppendAuditNow(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "elsewhere", nil)); err != nil {
				return err
			}
			close(stored)
			<-release
			return nil
		})
	}()
	<-stored
	start := time.Now()
	if err := here.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "here", nil)); err != nil {
		t.Fatal(err)
	}
	waited := time.Since(start)
	n, _, err := here.AuditWaiting(ctx)
	close(release)
	if err != nil || n != 0 {
		t.Fatalf("%d events wait here while another trail's writer is open (%v)", n, err)
	}
	if waited > time.Second {
		t.Fatalf("the append waited %v for its seal", waited)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A server's requests do not wait for the seal: the change returns once committed, and the
// sealer, started by the commit, seals its event moments later.
func TestSealerSealsSoonAfterACommitNobodyWaitsFor(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		db.SetSealWait(0)
		for i := range 20 {
			if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", fmt.Sprint(i), nil)); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			head, err := db.AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if head.Seq == 20 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("head at %d five seconds after 20 commits", head.Seq)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 20 {
			t.Fatalf("verify: %d %v", n, err)
		}
	})
}

// An upgrade keeps the chain: events stored before the sealer existed keep their hashes and
// count as sealed, and events after the upgrade chain on from the same head.
func TestSealerMigrationKeepsAnOlderChain(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, err := store.Open(testenv.DatabaseURL(t, dialect))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.SetSealWait(10 * time.Second)
		if err := db.MigrateUpTo(ctx, "0010_check_tokens"); err != nil {
			t.Fatal(err)
		}
		// Three events chained as the previous version wrote them (seq was the key).
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		prev := audit.Head{Hash: audit.Genesis}
		for i := range 3 {
			ev := audit.System.Event(audit.SettingsUpdated, "thing", fmt.Sprint(i), map[string]any{"i": i})
			ev.At = t0.Add(time.Duration(i) * time.Minute)
			ev.Normalize()
			ev.Chain(prev.Seq, prev.Hash)
			if err := db.ExecRaw(ctx, `INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_name, action, target_type,
				target_id, request_id, outcome, details, ip, user_agent, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				ev.Seq, ev.At, ev.ActorType, ev.ActorID, ev.ActorName, ev.Action, ev.TargetType, ev.TargetID, ev.RequestID,
				ev.Outcome, ev.Details, ev.IP, ev.UserAgent, ev.PrevHash, ev.Hash); err != nil {
				t.Fatal(err)
			}
			prev = audit.Head{Seq: ev.Seq, Hash: ev.Hash}
		}
		if err := db.ExecRaw(ctx, "UPDATE audit_head SET seq = ?, hash = ?, at = ? WHERE id = 1", prev.Seq, prev.Hash, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if head, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 3 || head != prev {
			t.Fatalf("after the upgrade: head %+v, %d events, %v; want head %+v", head, n, err, prev)
		}
		old, err := db.AuditEvent(ctx, 2)
		if err != nil || old.ID != 2 || !old.SealedAt.Equal(old.At) {
			t.Fatalf("an upgraded event: %+v %v", old, err)
		}
		if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "after", nil)); err != nil {
			t.Fatal(err)
		}
		head, n, err := db.VerifyAudit(ctx, &prev)
		if err != nil || n != 4 || head.Seq != 4 {
			t.Fatalf("an event after the upgrade: head %+v, %d events, %v", head, n, err)
		}
		if ev, _ := db.AuditEvent(ctx, 4); ev.ID <= 3 || ev.PrevHash != prev.Hash {
			t.Fatalf("the first new event %+v does not follow the old head", ev)
		}
	})
}

// Sealing looks each listed event up by its key: however many events wait, a pass costs what
// it seals (a plan that walked every unsealed row against the list stalled SQLite at a few
// thousand waiting).
func TestSealingLooksEventsUpByKey(t *testing.T) {
	db := testenv.Store(t, store.SQLite)
	plan, err := db.SealPlan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "SEARCH a USING INTEGER PRIMARY KEY (rowid=?)") || strings.Contains(plan, "audit_events_seq_idx") {
		t.Fatalf("the seal statement's plan: %s", plan)
	}
}

// Once a process knows the head it last wrote, a check's pass appends after it without reading
// it: on PostgreSQL one statement, its own transaction, so one round trip; on SQLite one
// transaction of two statements.
func TestSealerAppendsAChecksEventInOnePass(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		for i := range 3 {
			before := db.Counts()
			ev := audit.System.Event(audit.AccessChecked, "task", fmt.Sprint(i), nil)
			if err := db.SealAudit(ctx, ev); err != nil || ev.Seq != int64(i+1) {
				t.Fatalf("check %d: seq %d, %v", i, ev.Seq, err)
			}
			if i == 0 {
				continue // the first pass reads the head
			}
			trips := db.Counts().RoundTrips - before.RoundTrips
			if want := map[string]uint64{store.Postgres: 1, store.SQLite: 4}[dialect]; trips != want {
				t.Fatalf("check %d took %d round trips, want %d", i, trips, want)
			}
		}
		if head, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 3 || head.Seq != 3 {
			t.Fatalf("verify: head %+v, %d events, %v", head, n, err)
		}
	})
}

// A check's pass skips the read only while no stored event waits: an event left unsealed (as by
// a process stopped between its commit and its pass) is sealed first, in its place before the
// check's event.
func TestSealerAppendsOnlyAfterWaitingEvents(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		first := audit.System.Event(audit.AccessChecked, "task", "first", nil)
		if err := db.SealAudit(ctx, first); err != nil {
			t.Fatal(err)
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		if err := db.ExecRaw(ctx, `INSERT INTO audit_events (at, actor_type, action, target_type, target_id, outcome, details)
			VALUES (?, 'system', 'settings.updated', 'thing', 'left', 'success', '{}')`, at); err != nil {
			t.Fatal(err)
		}
		check := audit.System.Event(audit.AccessChecked, "task", "after", nil)
		if err := db.SealAudit(ctx, check); err != nil {
			t.Fatal(err)
		}
		if got := sealedChain(t, db); got != "first,left,after" || check.Seq != 3 {
			t.Fatalf("chain order %s, the check at %d; want first,left,after with the check at 3", got, check.Seq)
		}
	})
}

// Processes take turns on the chain: when another process has sealed since, the head a
// process knows is stale, and its next pass reads the head instead of appending after it.
func TestSealersOfTwoProcessesTakeTurns(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		url := testenv.DatabaseURL(t, dialect)
		var procs [2]*store.Store
		for i := range procs {
			db, err := store.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			procs[i] = db
		}
		for i := range 10 {
			ev := audit.System.Event(audit.AccessChecked, "task", fmt.Sprint(i), nil)
			if err := procs[i%2].SealAudit(ctx, ev); err != nil || ev.Seq != int64(i+1) {
				t.Fatalf("check %d: seq %d, %v", i, ev.Seq, err)
			}
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					if err := procs[w%2].SealAudit(ctx, audit.System.Event(audit.AccessChecked, "task", fmt.Sprintf("%d-%d", w, i), nil)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if head, n, err := procs[0].VerifyAudit(ctx, nil); err != nil || n != 110 || head.Seq != 110 {
			t.Fatalf("verify: head %+v, %d events, %v", head, n, err)
		}
	})
}

// A stored event is inserted unsealed and gets its seq once, at its seal. Every index that holds
// seq leaves unsealed rows out, so the insert writes only the primary key and the unsealed
// index, and the seal writes each search index once: an index added without the predicate
// would make every change's event pay for it twice.
func TestUnsealedEventsStayOutOfTheSearchIndexes(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		indexes, err := testenv.Store(t, dialect).AuditIndexes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(indexes) < 11 {
			t.Fatalf("audit_events has %d declared indexes, want the search indexes among them: %v", len(indexes), indexes)
		}
		sealed := regexp.MustCompile(`(?i)WHERE \(?seq IS NOT NULL\)?$`)
		for name, def := range indexes {
			switch name {
			case "audit_events_pkey":
			case "audit_events_unsealed_idx":
				if !regexp.MustCompile(`(?i)WHERE \(?seq IS NULL\)?$`).MatchString(def) {
					t.Errorf("%s: %s", name, def)
				}
			default:
				if !sealed.MatchString(def) {
					t.Errorf("%s holds unsealed events: %s", name, def)
				}
			}
		}
	})
}

// A change of many rows writes them all, as it goes (flushEarly) and in statements each
// database takes, and a failing one writes none of them.
func TestLargeChangeWritesEveryRowOrNone(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		now := time.Now().UTC()
		change := func(tx *store.Store, tag string) error {
			evs := make([]*audit.Event, 0, 1200)
			for i := range 1200 {
				evs = append(evs, audit.System.Event(audit.SettingsUpdated, "thing", fmt.Sprintf("%s-%d", tag, i), nil))
				if err := tx.EnqueueMail(ctx, pam.OutboxMessage{ID: fmt.Sprintf("%s-%d", tag, i), Kind: "test", Recipient: "a@example.com",
					Subject: "s", Text: "t", HTML: "<p>h</p>", CreatedAt: now}); err != nil {
					return err
				}
			}
			return tx.AppendAudits(ctx, evs)
		}
		boom := fmt.Errorf("boom")
		if err := db.Tx(ctx, func(tx *store.Store) error {
			if err := change(tx, "failed"); err != nil {
				return err
			}
			return boom
		}); err != boom {
			t.Fatalf("failing change: %v", err)
		}
		if err := db.Tx(ctx, func(tx *store.Store) error { return change(tx, "done") }); err != nil {
			t.Fatal(err)
		}
		counts, err := db.MailCounts(ctx)
		if err != nil || counts[pam.MailQueued] != 1200 {
			t.Fatalf("queued %v (%v), want the committed change's 1200", counts, err)
		}
		if _, err := db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		if head, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 1200 || head.Seq != 1200 {
			t.Fatalf("verify: head %d, %d events, %v; want the committed change's 1200", head.Seq, n, err)
		}
	})
}
