package store_test

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// A search by time walks only the stretch of the chain sealed around its range, widened by the
// longest gap there has been between an event's time and its sealing; an event sealed long after
// its time widens it, and is still found.
func TestAuditTimeRangeWalksOnlyItsStretchOfTheChain(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		var mu sync.Mutex
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		clock := t0
		db.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
		set := func(at time.Time) { mu.Lock(); clock = at; mu.Unlock() }
		// 120 events a minute apart, each sealed a second after its time.
		for i := range 120 {
			ev := audit.System.Event(audit.SettingsUpdated, "thing", fmt.Sprint(i), nil)
			ev.At = t0.Add(time.Duration(i) * time.Minute)
			set(ev.At.Add(time.Second))
			if err := db.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		window := audit.Filter{Since: t0.Add(30 * time.Minute), Until: t0.Add(40 * time.Minute)}
		lo, hi, err := db.AuditSeqRange(ctx, window)
		if err != nil {
			t.Fatal(err)
		}
		// Events 31..40 (seq = minute + 1) match; one more on each side is the lag's margin.
		if lo < 28 || lo > 30 || hi < 41 || hi > 43 {
			t.Fatalf("the 10 minutes from 09:30 walk seq %d < seq < %d, want about 30 < seq < 41", lo, hi)
		}
		assertTimeSearch(t, db, window, 31, 40)

		// An event of 09:35 sealed at 12:00, as after a crash: it widens every range by its lag.
		late := audit.System.Event(audit.MailFailed, "mail", "late", nil)
		late.At = t0.Add(35*time.Minute + 30*time.Second)
		set(t0.Add(3 * time.Hour))
		if err := db.AppendAudit(ctx, late); err != nil {
			t.Fatal(err)
		}
		if _, hi, err = db.AuditSeqRange(ctx, window); err != nil || hi < 122 {
			t.Fatalf("after a late seal the range ends below %d (%v), want past the late event 121", hi, err)
		}
		assertTimeSearch(t, db, window, 31, 40, 121)
		assertTimeSearchForward(t, db, window, 31, 40, 121)
		if dialect == store.SQLite {
			// It is 12:00 and the lag 2 h 24 min 30 s, so a walk from the newest of 09:30-09:40
			// passes what was sealed from 09:40 to 12:00 first: a range shorter than those 2 h 20 min
			// is read by its time; a longer one, or one that ends now, walks the sequence.
			until := t0.Add(40 * time.Minute)
			for _, c := range []struct {
				f     audit.Filter
				index string
			}{
				{window, "audit_events_at_seq_idx"},
				{audit.Filter{Since: until.Add(-139 * time.Minute), Until: until}, "audit_events_at_seq_idx"},
				{audit.Filter{Since: until.Add(-141 * time.Minute), Until: until}, "audit_events_seq_idx"},
				{audit.Filter{Since: t0.Add(2 * time.Hour), Until: t0.Add(3 * time.Hour)}, "audit_events_seq_idx"},
				{audit.Filter{Since: t0.Add(35 * time.Minute)}, "audit_events_seq_idx"},
			} {
				if plan, err := db.AuditPagePlan(ctx, c.f); err != nil || !regexp.MustCompile(`USING (COVERING )?INDEX `+c.index+` `).MatchString(plan) {
					t.Errorf("%v to %v: want a walk of %s, plan:\n%s %v", c.f.Since, c.f.Until, c.index, plan, err)
				}
			}
		}
		assertTimeSearch(t, db, audit.Filter{Since: t0.Add(35 * time.Minute)}, 36, 120, 121)
		assertTimeSearch(t, db, audit.Filter{Until: t0.Add(3 * time.Minute)}, 1, 3)
		assertTimeSearch(t, db, audit.Filter{Since: t0.Add(-time.Hour), Until: t0})
		assertTimeSearch(t, db, audit.Filter{Since: t0.Add(5 * time.Hour)})

		// An earlier version, still running beside this one, seals event 122, of 09:20, at 13:00
		// and counts no lag: searches by time are not narrowed until a pass counts it.
		execAt(t, db, t0.Add(4*time.Hour), `INSERT INTO audit_events (seq, at, actor_type, action, outcome, details,
			prev_hash, hash, sealed_at, txid) VALUES (122, '2026-03-02 09:20:30+00:00', 'system', 'settings.updated', 'success', '{}', 'p', 'h', ?, 0)`,
			"UPDATE audit_head SET seq = 122, hash = 'h', at = ? WHERE id = 1")
		early := audit.Filter{Since: t0.Add(20 * time.Minute), Until: t0.Add(21 * time.Minute)}
		if lo, hi, err := db.AuditSeqRange(ctx, early); err != nil || lo != 0 || hi != math.MaxInt64 {
			t.Fatalf("with an uncounted event the range is %d < seq < %d (%v), want all of it", lo, hi, err)
		}
		assertTimeSearch(t, db, early, 21, 21, 122)
		// The next pass counts it (3 h 40 min), and searches are narrowed again, by that much.
		set(t0.Add(4*time.Hour + time.Second))
		if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "thing", "after", nil)); err != nil {
			t.Fatal(err)
		}
		if _, hi, err := db.AuditSeqRange(ctx, early); err != nil || hi != 124 {
			t.Fatalf("after the pass that counts it the range ends at %d (%v), want 124, past the new event", hi, err)
		}
		if lo, _, err := db.AuditSeqRange(ctx, audit.Filter{Since: t0.Add(4 * time.Hour)}); err != nil || lo < 18 || lo > 21 {
			t.Fatalf("13:00 on starts after seq %d (%v), want after about 20, sealed 3 h 40 min before", lo, err)
		}
		assertTimeSearch(t, db, early, 21, 21, 122)
	})
}

// assertTimeSearch pages through f newest first, two events a page, and wants the events with
// the given sequence numbers, from lo to hi and then the extras.
func assertTimeSearch(t *testing.T, db *store.Store, f audit.Filter, want ...int64) {
	t.Helper()
	var w []int64
	if len(want) >= 2 {
		for s := want[1]; s >= want[0]; s-- {
			w = append(w, s)
		}
		extra := slices.Clone(want[2:])
		slices.Reverse(extra)
		w = append(extra, w...)
	}
	var got []int64
	f.Limit = 2
	for {
		p, err := db.AuditPage(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			got = append(got, e.Seq)
		}
		if !p.HasOlder || len(p.Events) == 0 {
			break
		}
		f.Before = p.Events[len(p.Events)-1].Seq
	}
	if fmt.Sprint(got) != fmt.Sprint(w) {
		t.Fatalf("%+v found %v, want %v", f, got, w)
	}
}

// assertTimeSearchForward is assertTimeSearch paging the other way: from before the oldest
// event, newer pages, two events a page, until none is newer.
func assertTimeSearchForward(t *testing.T, db *store.Store, f audit.Filter, want ...int64) {
	t.Helper()
	var w []int64
	for s := want[0]; s <= want[1]; s++ {
		w = append(w, s)
	}
	w = append(w, want[2:]...)
	var got []int64
	f.Limit, f.After = 2, 1
	for {
		p, err := db.AuditPage(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(p.Events) - 1; i >= 0; i-- {
			got = append(got, p.Events[i].Seq)
		}
		if !p.HasNewer || len(p.Events) == 0 {
			break
		}
		f.After = p.Events[0].Seq
	}
	if fmt.Sprint(got) != fmt.Sprint(w) {
		t.Fatalf("%+v paged forward found %v, want %v", f, got, w)
	}
}

// Migration 0028 takes the lag of the events already sealed, so a time range still finds an
// event an earlier version sealed long after its time.
func TestAuditSealLagMigrationOnOldEvents(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := migratedTo(t, dialect, "0027_review_items_counts_idx")
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		insert := `INSERT INTO audit_events (seq, at, actor_type, action, outcome, details, prev_hash, hash, sealed_at, txid)
			VALUES (%d, ?, 'system', 'settings.updated', 'success', '{}', 'p', 'h%d', ?, 0)`
		// Event 1 is of 09:00 and was sealed at 11:00, events 2 to 5 a minute apart from 11:00.
		execAt(t, db, t0, fmt.Sprintf(strings.Replace(insert, "?, 0)", "'2026-03-02 11:00:00+00:00', 0)", 1), 1, 1))
		for i := 2; i <= 5; i++ {
			execAt(t, db, t0.Add(2*time.Hour+time.Duration(i)*time.Minute), fmt.Sprintf(insert, i, i))
		}
		execAt(t, db, t0.Add(2*time.Hour+5*time.Minute), "UPDATE audit_head SET seq = 5, hash = 'h5', at = ? WHERE id = 1")
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		assertTimeSearch(t, db, audit.Filter{Since: t0, Until: t0.Add(time.Minute)}, 1, 1)
		assertTimeSearch(t, db, audit.Filter{Since: t0.Add(2*time.Hour + 3*time.Minute)}, 3, 5)
	})
}
