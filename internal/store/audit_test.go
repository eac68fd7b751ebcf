package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// writerEnv makes the test binary a plain audit writer instead of a test run: the
// cross-process test starts it twice on one database.
const writerEnv = "ELEVATE_TEST_AUDIT_WRITER_DB"

func TestMain(m *testing.M) {
	if url := os.Getenv(writerEnv); url != "" {
		os.Exit(writerProcess(url))
	}
	if url := os.Getenv(killedSealerEnv); url != "" {
		os.Exit(sealUntilKilled(url))
	}
	os.Exit(m.Run())
}

// writerProcess appends 4 × 50 events from 4 goroutines and exits 0, or 1 on any error.
func writerProcess(url string) int {
	db, err := store.Open(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				ev := audit.System.Event(audit.SettingsUpdated, "process", fmt.Sprintf("%d-%d-%d", os.Getpid(), w, i), nil)
				if err := db.Tx(ctx, func(tx *store.Store) error { return tx.AppendAudit(ctx, ev) }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestAuditChainAcrossProcesses(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		url := testenv.DatabaseURL(t, dialect)
		db, err := store.Open(url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		var cmds []*exec.Cmd
		var outs []*strings.Builder
		for range 2 {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), writerEnv+"="+url)
			out := &strings.Builder{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds, outs = append(cmds, cmd), append(outs, out)
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("writer process %d: %v\n%s", i, err, outs[i])
			}
		}
		// The writers ended right after their last commits; the sweep seals what they left.
		if _, err := db.SealWaiting(context.Background()); err != nil {
			t.Fatal(err)
		}
		head, n, err := db.VerifyAudit(context.Background(), nil)
		if err != nil || n != 400 || head.Seq != 400 {
			t.Fatalf("after two processes: head %+v, %d events, %v", head, n, err)
		}
		// Both processes wrote, each under its own pid.
		pids := map[string]bool{}
		for ev, err := range db.AllAuditEvents(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			pids[strings.SplitN(ev.TargetID, "-", 2)[0]] = true
		}
		if len(pids) != 2 {
			t.Fatalf("events from %d processes, want 2", len(pids))
		}
	})
}

// seedChain appends n events one second apart and returns them as stored.
func seedChain(t *testing.T, db *store.Store, n int) []audit.Event {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range n {
		ev := audit.System.Event(audit.SettingsUpdated, "thing", fmt.Sprint(i), map[string]any{"i": i})
		ev.At = t0.Add(time.Duration(i) * time.Second)
		if err := db.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	return stored(t, db)
}

// stored returns every sealed event in sequence order; appends wait for their seal, so a test's
// own events are all there.
func stored(t *testing.T, db *store.Store) []audit.Event {
	t.Helper()
	var out []audit.Event
	for ev, err := range db.AllAuditEvents(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// tamper runs statements as a superuser would, with the append-only triggers out of the way.
func tamper(t *testing.T, db *store.Store, dialect string, stmts ...string) {
	t.Helper()
	testenv.Tamper(t, db, dialect, stmts...)
}

func insertRaw(t *testing.T, db *store.Store, ev audit.Event) {
	t.Helper()
	err := db.ExecRaw(context.Background(), `INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_name, action,
		target_type, target_id, request_id, outcome, details, ip, user_agent, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ev.Seq, ev.At, ev.ActorType, ev.ActorID, ev.ActorName,
		ev.Action, ev.TargetType, ev.TargetID, ev.RequestID, ev.Outcome, ev.Details, ev.IP, ev.UserAgent, ev.PrevHash, ev.Hash)
	if err != nil {
		t.Fatal(err)
	}
}

func firstBad(t *testing.T, err error) int64 {
	t.Helper()
	var ce *audit.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("want a broken chain, got %v", err)
	}
	return ce.Seq
}

func TestAuditTamperingIsDetected(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cases := []struct {
			name   string
			tamper func(t *testing.T, db *store.Store, evs []audit.Event)
			want   int64
		}{
			{"edit a field", func(t *testing.T, db *store.Store, _ []audit.Event) {
				tamper(t, db, dialect, `UPDATE audit_events SET details = '{"i":99}' WHERE seq = 4`)
			}, 4},
			{"delete a row", func(t *testing.T, db *store.Store, _ []audit.Event) {
				tamper(t, db, dialect, "DELETE FROM audit_events WHERE seq = 6")
			}, 6},
			{"swap two rows", func(t *testing.T, db *store.Store, _ []audit.Event) {
				tamper(t, db, dialect, "UPDATE audit_events SET seq = -3 WHERE seq = 3",
					"UPDATE audit_events SET seq = 3 WHERE seq = 7", "UPDATE audit_events SET seq = 7 WHERE seq = -3")
			}, 3},
			{"insert a forged row", func(t *testing.T, db *store.Store, evs []audit.Event) {
				// Hashed and linked correctly, but the head was not moved.
				f := audit.System.Event(audit.UserCreated, "user", "ghost", nil)
				f.At = evs[9].At
				f.Normalize()
				f.Chain(10, evs[9].Hash)
				insertRaw(t, db, *f)
			}, 11},
			{"truncate the tail", func(t *testing.T, db *store.Store, _ []audit.Event) {
				tamper(t, db, dialect, "DELETE FROM audit_events WHERE seq > 7")
			}, 8},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				db := testenv.Store(t, dialect)
				evs := seedChain(t, db, 10)
				if head, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 10 || head.Hash != evs[9].Hash {
					t.Fatalf("untouched chain: %+v %d %v", head, n, err)
				}
				tc.tamper(t, db, evs)
				_, _, err := db.VerifyAudit(ctx, nil)
				if got := firstBad(t, err); got != tc.want {
					t.Fatalf("first bad event %d, want %d: %v", got, tc.want, err)
				}
			})
		}

		t.Run("rewrite the whole chain consistently", func(t *testing.T) {
			db := testenv.Store(t, dialect)
			evs := seedChain(t, db, 10)
			cp := audit.Head{Seq: evs[5].Seq, Hash: evs[5].Hash}
			if _, _, err := db.VerifyAudit(ctx, &cp); err != nil {
				t.Fatalf("untouched chain with its checkpoint: %v", err)
			}
			tamper(t, db, dialect, "DELETE FROM audit_events")
			prev := audit.Head{Hash: audit.Genesis}
			for _, ev := range evs {
				if ev.Seq == 3 {
					ev.ActorName = "someone else"
				}
				ev.Chain(prev.Seq, prev.Hash)
				insertRaw(t, db, ev)
				prev = audit.Head{Seq: ev.Seq, Hash: ev.Hash}
			}
			if err := db.ExecRaw(ctx, "UPDATE audit_head SET hash = ? WHERE id = 1", prev.Hash); err != nil {
				t.Fatal(err)
			}
			if _, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 10 {
				t.Fatalf("a consistent rewrite passes without a checkpoint (that is why checkpoints exist): %d %v", n, err)
			}
			if _, _, err := db.VerifyAudit(ctx, &cp); firstBad(t, err) != 6 {
				t.Fatalf("rewrite with checkpoint: %v", err)
			}
		})
	})
}

func TestAuditEightWritersTwoHundredEach(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() { defer wg.Done(); appendEvents(t, db, 200, fmt.Sprint(w)) }()
		}
		// Verification while the writers append sees a whole chain every time.
		done := make(chan struct{})
		verified := make(chan int)
		go func() {
			runs := 0
			for {
				select {
				case <-done:
					verified <- runs
					return
				default:
				}
				if _, _, err := db.VerifyAudit(context.Background(), nil); err != nil {
					t.Errorf("verify during writes: %v", err)
				}
				runs++
				time.Sleep(200 * time.Millisecond)
			}
		}()
		wg.Wait()
		close(done)
		if runs := <-verified; runs == 0 {
			t.Error("no verification ran during the writes")
		}
		head, n, err := db.VerifyAudit(context.Background(), nil)
		if err != nil || n != 1600 || head.Seq != 1600 {
			t.Fatalf("verify: head %+v, %d events, %v", head, n, err)
		}
		// Sealing times never go backwards along the chain, whatever order the writers
		// committed in, and every event was stored before it was sealed.
		var prev time.Time
		for ev, err := range db.AllAuditEvents(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.SealedAt.Before(prev) || ev.SealedAt.Before(ev.At.Add(-time.Second)) {
				t.Fatalf("event %d sealed at %v, after %v, stored at %v", ev.Seq, ev.SealedAt, prev, ev.At)
			}
			prev = ev.SealedAt
		}
	})
}

func TestAuditKeepsEachEventsTime(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		late := audit.System.Event(audit.MailSent, "", "", nil)
		late.At = t0
		early := audit.System.Event(audit.MailFailed, "", "", nil)
		early.At = t0.Add(-time.Hour)
		unset := audit.System.Event(audit.MailRetryScheduled, "", "", nil)
		for _, ev := range []*audit.Event{late, early, unset} {
			if err := db.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		// An event keeps the time of its change, even when sealed after a later one: sealing
		// sets only seq, the hashes and sealed_at.
		got, _ := db.AuditEvent(ctx, 2)
		if !got.At.Equal(early.At) || got.Action != audit.MailFailed.String() {
			t.Fatalf("event 2 is %s at %v, want %s at %v", got.Action, got.At, audit.MailFailed, early.At)
		}
		if got.SealedAt.IsZero() || got.SealedAt.Before(got.At) {
			t.Fatalf("event 2 sealed at %v", got.SealedAt)
		}
		got, _ = db.AuditEvent(ctx, 3)
		if time.Since(got.At) > time.Minute {
			t.Fatalf("an event without a time got %v, want now", got.At)
		}
		if _, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 3 {
			t.Fatalf("verify: %d %v", n, err)
		}
		// A time range finds events by their own time, not by their place in the chain.
		page, err := db.AuditPage(ctx, audit.Filter{Since: t0.Add(-2 * time.Hour), Until: t0.Add(-time.Minute)})
		if err != nil || len(page.Events) != 1 || page.Events[0].Seq != 2 {
			t.Fatalf("the hour before t0 holds %+v, %v; want event 2 only", page.Events, err)
		}
	})
}

func TestAuditWriteFailureRollsBackTheChange(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		seedChain(t, db, 2)
		// Make every audit insert fail inside the database.
		stmts := []string{`CREATE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$`,
			`CREATE TRIGGER t_fail BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION t_fail()`}
		if dialect == store.SQLite {
			stmts = []string{`CREATE TRIGGER t_fail BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected'); END`}
		}
		for _, q := range stmts {
			if err := db.ExecRaw(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		err := db.Tx(ctx, func(tx *store.Store) error {
			if err := tx.CreateUser(ctx, pam.User{ID: "u1", Email: "a@example.com", Name: "A", CreatedAt: time.Now()}, ""); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, audit.System.Event(audit.UserCreated, "user", "u1", nil))
		})
		if err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("the failing audit write did not fail the transaction: %v", err)
		}
		if n, _ := db.CountUsers(ctx); n != 0 {
			t.Fatal("the user was created although its audit event was not written")
		}
		if head, n, err := db.VerifyAudit(ctx, nil); err != nil || n != 2 || head.Seq != 2 {
			t.Fatalf("chain after the failed write: %+v %d %v", head, n, err)
		}
	})
}

// searchFixture is a chain with known actors, actions, targets, requests, outcomes and times.
func searchFixture(t *testing.T, db *store.Store) []audit.Event {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	actors := []audit.Actor{
		{Type: audit.ActorUser, ID: "u-ana", Name: "ana@example.com"},
		{Type: audit.ActorUser, ID: "u-bo", Name: "bo@example.com"},
		audit.System,
	}
	actions := []audit.Action{audit.RequestCreated, audit.RequestApproved, audit.AccessChecked}
	for i := range 40 {
		ev := actors[i%3].Event(actions[(i/2)%3], []string{"request", "policy"}[i%2], fmt.Sprintf("t%d", i%5), nil)
		ev.RequestID = fmt.Sprintf("r%d", i%4)
		if i%7 == 0 {
			ev.Outcome = audit.OutcomeFailure
		}
		ev.At = t0.Add(time.Duration(i) * time.Minute)
		if err := db.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	return stored(t, db)
}

func matches(e audit.Event, f audit.Filter) bool {
	return (f.ActorID == "" || e.ActorID == f.ActorID) && (f.ActorName == "" || e.ActorName == f.ActorName) &&
		(f.Action == "" || e.Action == f.Action) && (f.TargetType == "" || e.TargetType == f.TargetType) &&
		(f.TargetID == "" || e.TargetID == f.TargetID) && (f.RequestID == "" || e.RequestID == f.RequestID) &&
		(f.Outcome == "" || e.Outcome == f.Outcome) && (f.Since.IsZero() || !e.At.Before(f.Since)) &&
		(f.Until.IsZero() || e.At.Before(f.Until))
}

func seqs(evs []audit.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func TestAuditFiltersAndPaging(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		all := searchFixture(t, db)
		t0 := all[0].At
		filters := map[string]audit.Filter{
			"none":          {},
			"actor id":      {ActorID: "u-bo"},
			"actor name":    {ActorName: "ana@example.com"},
			"action":        {Action: "request.approved"},
			"target":        {TargetType: "policy", TargetID: "t3"},
			"target id":     {TargetID: "t1"},
			"request":       {RequestID: "r2"},
			"outcome":       {Outcome: audit.OutcomeFailure},
			"since":         {Since: t0.Add(25 * time.Minute)},
			"until":         {Until: t0.Add(10*time.Minute + time.Second)},
			"time range":    {Since: t0.Add(5*time.Minute + time.Second), Until: t0.Add(30 * time.Minute)},
			"combined":      {ActorID: "u-ana", RequestID: "r3", Since: t0.Add(2 * time.Minute)},
			"nothing":       {Action: "policy.deleted"},
			"future":        {Since: t0.Add(48 * time.Hour)},
			"distant past":  {Until: t0.Add(-time.Hour)},
			"empty range":   {Since: t0.Add(10 * time.Minute), Until: t0.Add(10 * time.Minute)},
			"name and type": {ActorName: "system", TargetType: "request"},
		}
		for name, f := range filters {
			var want []int64
			for i := len(all) - 1; i >= 0; i-- {
				if matches(all[i], f) {
					want = append(want, all[i].Seq)
				}
			}
			// Walk older pages of 3 from the newest, then newer pages back to the start.
			f.Limit = 3
			var got []int64
			var pages []audit.Page
			cur := f
			for {
				p, err := db.AuditPage(ctx, cur)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(pages) == 0 && p.HasNewer {
					t.Fatalf("%s: the newest page says newer events exist", name)
				}
				pages = append(pages, p)
				got = append(got, seqs(p.Events)...)
				if !p.HasOlder {
					break
				}
				if len(p.Events) != 3 {
					t.Fatalf("%s: a page that has older events shows %d", name, len(p.Events))
				}
				cur.Before, cur.After = p.Events[len(p.Events)-1].Seq, 0
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: older pages gave %v, want %v", name, got, want)
			}
			for i := len(pages) - 1; i > 0; i-- {
				cur.Before, cur.After = 0, pages[i].Events[0].Seq
				p, err := db.AuditPage(ctx, cur)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(seqs(p.Events), seqs(pages[i-1].Events)) || p.HasNewer != (i-1 > 0) || !p.HasOlder {
					t.Fatalf("%s: newer page %d gave %v (newer %v older %v), want %v", name, i-1, seqs(p.Events), p.HasNewer, p.HasOlder, seqs(pages[i-1].Events))
				}
			}
			// Export returns the same events, oldest first.
			var exported []int64
			for ev, err := range db.ExportAuditEvents(ctx, f) {
				if err != nil {
					t.Fatal(err)
				}
				exported = append(exported, ev.Seq)
			}
			slices.Reverse(exported)
			if !slices.Equal(exported, want) {
				t.Fatalf("%s: export gave %v, want %v", name, exported, want)
			}
		}
		if _, err := db.AuditEvent(ctx, 999); pam.ErrorCode(err) != pam.ENOTFOUND {
			t.Fatalf("missing event: %v", err)
		}
		if ev, err := db.AuditEvent(ctx, 7); err != nil || ev.Hash != all[6].Hash {
			t.Fatalf("event 7: %+v %v", ev, err)
		}
	})
}

func TestEveryAuditFilterUsesAnIndexInSeqOrder(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		searchFixture(t, db)
		cases := map[string]struct {
			f   audit.Filter
			col string
		}{
			"actor id":    {audit.Filter{ActorID: "u-bo"}, "actor_id"},
			"actor name":  {audit.Filter{ActorName: "ana@example.com"}, "actor_name"},
			"action":      {audit.Filter{Action: "request.created", Before: 30}, "action"},
			"target":      {audit.Filter{TargetType: "policy", TargetID: "t3"}, "target_id"},
			"target id":   {audit.Filter{TargetID: "t3"}, "target_id"},
			"target type": {audit.Filter{TargetType: "policy"}, "target_type"},
			"request":     {audit.Filter{RequestID: "r1", Before: 20}, "request_id"},
			"outcome":     {audit.Filter{Outcome: audit.OutcomeFailure}, "outcome"},
			"time range":  {audit.Filter{Since: time.Date(2026, 3, 2, 9, 10, 0, 0, time.UTC), Until: time.Date(2026, 3, 2, 9, 20, 0, 0, time.UTC)}, "seq"},
		}
		for name, tc := range cases {
			plan, err := db.AuditPagePlan(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var ok bool
			if dialect == store.SQLite && name == "time range" {
				// The fixture's events were sealed months after their time, so SQLite reads ten
				// minutes by time rather than walk the months (TestAuditTimeRangeWalksOnlyItsStretchOfTheChain).
				ok = strings.Contains(plan, "INDEX audit_events_at_seq_idx (at>? AND at<?)")
			} else if dialect == store.SQLite {
				ok = !strings.Contains(plan, "TEMP B-TREE") && (regexp.MustCompile(`USING (COVERING )?INDEX .*\b`+tc.col+`=\?`).MatchString(plan) ||
					tc.col == "seq" && strings.Contains(plan, "USING INDEX audit_events_seq_idx (seq>? AND seq<?)"))
			} else {
				ok = !strings.Contains(plan, "Sort") && !strings.Contains(plan, "Seq Scan") &&
					regexp.MustCompile(`Index Cond: .*\(?`+tc.col+`\)?(::text)? [=<>]`).MatchString(plan)
			}
			if !ok {
				t.Errorf("%s: the page query is not served by an index on %s in seq order:\n%s", name, tc.col, plan)
			}
		}
	})
}

// With the planner's own choices on PostgreSQL, the first page of a search reads about the rows
// it shows, however many newer events of other kinds lie in between: here 20,000 checks newer
// than every match. Walking the primary key back to the matches read all of them.
func TestAuditSearchReadsItsPageNotTheNewerChecks(t *testing.T) {
	// The plan in question is PostgreSQL's; SQLite's is checked by
	// TestEveryAuditFilterUsesAnIndexInSeqOrder.
	dialect := store.Postgres
	ctx := context.Background()
	db := testenv.Store(t, dialect)
	// The rows are made in SQL for speed; the chain is not what this test reads.
	const older, checks = 20_000, 20_000
	err := db.ExecRaw(ctx, `INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_name, action, target_type, target_id,
			request_id, outcome, details, ip, user_agent, prev_hash, hash)
		SELECT g, now() - (?::bigint - g) * interval '1 second', 'user', 'u-' || (g % 100), 'person' || (g % 100) || '@example.com',
			(ARRAY['request.created','request.approved','request.denied','request.withdrawn','request.revoked',
				'request.cancelled','request.timed_out','request.expired','auth.signed_in','auth.signed_out'])[g % 10 + 1],
			'request', 'r-' || (g / 7), 'r-' || (g / 7), 'success', '{}', '', '', '', ''
		FROM generate_series(1, ?::bigint) g`, older+checks, older)
	if err != nil {
		t.Fatal(err)
	}
	err = db.ExecRaw(ctx, `INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_name, action, target_type, target_id,
			request_id, outcome, details, ip, user_agent, prev_hash, hash)
		SELECT g, now() - (?::bigint - g) * interval '1 second', 'token', 'ct-1', 'ci', 'access.checked', 'task', 'exchange/New-JournalRule',
			'grant-1', 'success', '{}', '', '', '', ''
		FROM generate_series(?::bigint, ?::bigint) g`, older+checks, older+1, older+checks)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ExecRaw(ctx, "ANALYZE audit_events"); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]audit.Filter{
		"action":           {Action: "request.expired"},
		"action, older":    {Action: "request.expired", Before: older / 2},
		"renamed action":   {Action: "request.reviewed"}, // also its old name: two walks merged
		"action prefix":    {Action: "request."},
		"actor id":         {ActorID: "u-42"},
		"actor name":       {ActorName: "person42@example.com"},
		"actor and action": {ActorName: "person42@example.com", Action: "request.created"},
		"target":           {TargetType: "request", TargetID: "r-700"},
		"target id":        {TargetID: "r-700"},
		"target type":      {TargetType: "request"},
		"request":          {RequestID: "r-700"},
		"outcome":          {Outcome: audit.OutcomeSuccess},
	} {
		plan, read, err := db.AuditPageCost(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Its page (up to 51 rows, by key after their index) and what the index walk passed.
		if read > 2_000 {
			t.Errorf("%s: the first page read %d rows of audit_events:\n%s", name, read, plan)
		}
	}
}

// An event's page reads whether a newer event exists from the end of the seq index. With 20,000
// events, PostgreSQL's generic plan for "any event with a higher seq" scanned the table from its
// oldest row up to the event shown.
func TestAuditEventAtFindsTheNextEventFromTheIndex(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t, store.Postgres)
	const events = 20_000
	err := db.ExecRaw(ctx, `INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_name, action, target_type, target_id,
			request_id, outcome, details, ip, user_agent, prev_hash, hash)
		SELECT g, now() - (?::bigint - g) * interval '1 second', 'token', 'ct-1', 'ci', 'access.checked', 'task', 'exchange/New-JournalRule',
			'', 'success', '{}', '', '', '', ''
		FROM generate_series(1, ?::bigint) g`, events, events)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ExecRaw(ctx, "ANALYZE audit_events"); err != nil {
		t.Fatal(err)
	}
	for seq, want := range map[int64]bool{1: true, events / 2: true, events - 1: true, events: false} {
		_, next, _, err := db.AuditEventAt(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if next != want {
			t.Errorf("event %d: a newer event %v, want %v", seq, next, want)
		}
	}
	plan, err := db.EventAtGenericPlan(ctx, events*3/4)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "Seq Scan on audit_events") {
		t.Errorf("the event page's generic plan scans audit_events:\n%s", plan)
	}
}

// An event's page reads the event and the names of what it refers to in one statement (two on
// SQLite), and
// names them as the search pages do (AuditNames over audit.Event.Refs).
func TestAuditEventAtNamesWhatTheEventRefersTo(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		ana := mustCreateUser(t, db, "ana@example.com")
		if err := db.CreateGroup(ctx, pam.Group{ID: "g-1", Name: "Exchange admins"}, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateTask(ctx, pam.Task{ID: "t-1", Key: "exchange/Set-Mailbox", Name: "Set-Mailbox"}, t0); err != nil {
			t.Fatal(err)
		}
		by := audit.Actor{Type: audit.ActorUser, ID: string(ana.ID), Name: "ana@example.com"}
		events := []*audit.Event{
			by.Event(audit.GroupUpdated, "group", "g-1", nil),
			audit.System.Event(audit.AccessChecked, "task", "exchange/Set-Mailbox", nil),
			by.Event(audit.GroupMemberAdded, "user", string(ana.ID), nil),
			by.Event(audit.RequestCreated, "request", "gone", nil),
		}
		events[3].RequestID = "gone"
		for _, ev := range events {
			if err := db.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		named := 0
		for _, want := range stored(t, db) {
			before := db.Counts().Statements
			e, _, names, err := db.AuditEventAt(ctx, want.Seq)
			if err != nil {
				t.Fatal(err)
			}
			if n, most := db.Counts().Statements-before, map[string]uint64{store.Postgres: 1, store.SQLite: 2}[dialect]; n > most {
				t.Errorf("event %d took %d statements, want at most %d", want.Seq, n, most)
			}
			apart, err := db.AuditNames(ctx, e.Refs())
			if err != nil {
				t.Fatal(err)
			}
			if e.Seq != want.Seq || !maps.Equal(names, apart) {
				t.Errorf("event %d: names %v, read apart %v", want.Seq, names, apart)
			}
			named += len(names)
		}
		// The group and its actor, the task, the user (actor and target at once), and the actor
		// of the request that is gone.
		if named != 5 {
			t.Errorf("%d names in all, want 5", named)
		}
	})
}
