package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// mustEnqueue queues n messages created a second apart from at, with ids ending in 0…n-1.
func mustEnqueue(t *testing.T, db *store.Store, n int, at time.Time) []pam.OutboxMessage {
	t.Helper()
	out := make([]pam.OutboxMessage, n)
	for i := range out {
		m := pam.OutboxMessage{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Kind: "test", RequestID: "r-1",
			Recipient: fmt.Sprintf("u%02d@example.com", i), RecipientName: "U", Subject: fmt.Sprintf("s%d", i),
			Text: "text", HTML: "<p>html</p>", CreatedAt: at.Add(time.Duration(i) * time.Second)}
		if err := db.EnqueueMail(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

func ids(ms []pam.OutboxMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestClaimMailTakesOldestDueInOneStatement(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx, clock := context.Background(), testenv.NewClock()
		db := testenv.Store(t, dialect)
		queued := mustEnqueue(t, db, 6, clock.Now())
		// The newest is not due yet; the others are due once the clock passes their creation.
		if err := db.ExecRaw(ctx, "UPDATE mail_outbox SET next_attempt_at = ? WHERE id = ?", clock.Now().Add(time.Hour), queued[5].ID); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)

		before := db.Counts()
		first, err := db.ClaimMail(ctx, "owner-1", clock.Now(), 15*time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		got := db.Counts()
		want := store.Counts{Statements: 1, RoundTrips: 1} // one statement, no transaction around it
		if dialect == store.SQLite {
			want.RoundTrips = 3 // an immediate transaction around the one statement
		}
		if d := (store.Counts{Statements: got.Statements - before.Statements, RoundTrips: got.RoundTrips - before.RoundTrips}); d != want {
			t.Fatalf("a claim cost %+v, want %+v", d, want)
		}
		if !slices.Equal(ids(first), ids(queued[:3])) {
			t.Fatalf("first claim took %v, want the three oldest", ids(first))
		}
		for i, m := range first {
			q := queued[i]
			if m.Recipient != q.Recipient || m.RecipientName != q.RecipientName || m.Subject != q.Subject || m.Text != q.Text ||
				m.HTML != q.HTML || m.Kind != q.Kind || m.RequestID != q.RequestID || !m.CreatedAt.Equal(q.CreatedAt) ||
				m.State != pam.MailQueued || m.Attempts != 0 {
				t.Fatalf("claimed %+v, queued %+v", m, q)
			}
		}
		// Another claim gets the rest that is due, never what the first holds.
		second, err := db.ClaimMail(ctx, "owner-2", clock.Now(), 15*time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(second), ids(queued[3:5])) {
			t.Fatalf("second claim took %v, want %v", ids(second), ids(queued[3:5]))
		}
		if none, err := db.ClaimMail(ctx, "owner-3", clock.Now(), 15*time.Minute, 10); err != nil || len(none) != 0 {
			t.Fatalf("third claim took %v (%v)", ids(none), err)
		}
	})
}

func TestConcurrentClaimsNeverShareAMessage(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx, clock := context.Background(), testenv.NewClock()
		url := testenv.DatabaseURL(t, dialect)
		open := func() *store.Store {
			db, err := store.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		db := open()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		const n = 200
		mustEnqueue(t, db, n, clock.Now())
		clock.Advance(time.Hour)
		var mu sync.Mutex
		owners := map[string]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			pool := open() // a separate pool, as another process would have
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					owner := fmt.Sprintf("w%d-%d", w, i)
					got, err := pool.ClaimMail(ctx, owner, clock.Now(), 15*time.Minute, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						if prev, ok := owners[m.ID]; ok {
							t.Errorf("%s claimed by %s and %s", m.ID, prev, owner)
						}
						owners[m.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(owners) != n {
			t.Fatalf("%d of %d claimed", len(owners), n)
		}
	})
}

// On PostgreSQL a claim skips the rows another worker's claim holds locked, and does not wait
// for it.
func TestClaimMailSkipsRowsAnotherClaimHoldsOnPostgres(t *testing.T) {
	ctx, clock := context.Background(), testenv.NewClock()
	url := testenv.DatabaseURL(t, store.Postgres)
	db, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	queued := mustEnqueue(t, db, 4, clock.Now())
	clock.Advance(time.Minute)
	err = db.Tx(ctx, func(tx *store.Store) error {
		held, err := tx.ClaimMail(ctx, "owner-1", clock.Now(), 15*time.Minute, 2)
		if err != nil || len(held) != 2 {
			return fmt.Errorf("first claim: %d %v", len(held), err)
		}
		// The first claim has not committed: its rows are locked but still look due.
		wait, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		got, err := other.ClaimMail(wait, "owner-2", clock.Now(), 15*time.Minute, 10)
		if err != nil {
			return fmt.Errorf("second claim while the first is open: %w", err)
		}
		if !slices.Equal(ids(got), ids(queued[2:])) {
			return fmt.Errorf("second claim took %v, want %v", ids(got), ids(queued[2:]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFinishMailsRecordsABatchForItsOwner(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx, clock := context.Background(), testenv.NewClock()
		db := testenv.Store(t, dialect)
		mustEnqueue(t, db, 6, clock.Now())
		clock.Advance(time.Minute)
		claimed, err := db.ClaimMail(ctx, "owner-1", clock.Now(), 15*time.Minute, 10)
		if err != nil || len(claimed) != 6 {
			t.Fatalf("claim: %d %v", len(claimed), err)
		}
		// Message 1's lease ran out and another worker took it over.
		if err := db.ExecRaw(ctx, "UPDATE mail_outbox SET lease_owner = 'owner-2' WHERE id = ?", claimed[1].ID); err != nil {
			t.Fatal(err)
		}
		at := clock.Now()
		sent := store.MailOutcome{State: pam.MailSent, At: at}
		outcomes := []store.MailOutcome{
			sent,
			sent,
			{State: pam.MailRetrying, Error: "451 try later", At: at, NextAttemptAt: at.Add(time.Minute), GiveUpAt: at.Add(24 * time.Hour)},
			{State: pam.MailSent, At: at, Redact: "removed"},
			sent,
			{State: pam.MailFailed, Error: "550 no such mailbox", At: at},
		}
		before := db.Counts()
		done, err := db.FinishMails(ctx, "owner-1", ids(claimed), outcomes)
		if err != nil {
			t.Fatal(err)
		}
		// One statement for the three plain deliveries, one for the redacted one, one each for
		// the retry and the failure.
		if d := db.Counts().Statements - before.Statements; d != 4 {
			t.Fatalf("recording six outcomes took %d statements, want 4", d)
		}
		if want := []bool{true, false, true, true, true, true}; !slices.Equal(done, want) {
			t.Fatalf("recorded %v, want %v", done, want)
		}
		check := func(i int, state string, attempts int, text string, sent bool) {
			t.Helper()
			m, err := db.MailByID(ctx, claimed[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if m.State != state || m.Attempts != attempts || m.Text != text || (m.SentAt != nil) != sent {
				t.Fatalf("message %d: %+v", i, m)
			}
		}
		check(0, pam.MailSent, 1, "text", true)
		check(1, pam.MailQueued, 0, "text", false) // not ours any more: untouched
		check(2, pam.MailRetrying, 1, "text", false)
		check(3, pam.MailSent, 1, "removed", true)
		check(4, pam.MailSent, 1, "text", true)
		check(5, pam.MailFailed, 1, "text", false)
		if m, _ := db.MailByID(ctx, claimed[2].ID); !m.NextAttemptAt.Equal(at.Add(time.Minute)) || m.LastError != "451 try later" {
			t.Fatalf("retry recorded as %+v", m)
		}
		// Recording again changes nothing: the leases are released.
		again, err := db.FinishMails(ctx, "owner-1", ids(claimed), outcomes)
		if err != nil || slices.Contains(again, true) {
			t.Fatalf("second record: %v %v", again, err)
		}
	})
}

func TestReleaseMailFreesAnUnsentClaimAtOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx, clock := context.Background(), testenv.NewClock()
		db := testenv.Store(t, dialect)
		queued := mustEnqueue(t, db, 6, clock.Now())
		clock.Advance(time.Minute)
		claimed, err := db.ClaimMail(ctx, "owner-1", clock.Now(), 15*time.Minute, 4)
		if err != nil || len(claimed) != 4 {
			t.Fatalf("claim: %d %v", len(claimed), err)
		}
		// Of the claim, message 0 was sent and recorded, and message 1's lease ran out and
		// another worker took it over: neither is the claim's to release.
		if _, err := db.FinishMails(ctx, "owner-1", ids(claimed[:1]), []store.MailOutcome{{State: pam.MailSent, At: clock.Now()}}); err != nil {
			t.Fatal(err)
		}
		if err := db.ExecRaw(ctx, "UPDATE mail_outbox SET lease_owner = 'owner-2' WHERE id = ?", claimed[1].ID); err != nil {
			t.Fatal(err)
		}

		before := db.Counts()
		n, err := db.ReleaseMail(ctx, "owner-1", ids(claimed))
		if err != nil || n != 2 {
			t.Fatalf("released %d (%v), want the 2 unsent messages the claim still holds", n, err)
		}
		if d := db.Counts().Statements - before.Statements; d != 1 {
			t.Fatalf("a release took %d statements, want 1", d)
		}
		// Released messages are due at once (the clock has not moved), as they were before the
		// claim; the one taken over stays with its new owner.
		next, err := db.ClaimMail(ctx, "owner-3", clock.Now(), 15*time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := ids(queued[2:]); !slices.Equal(ids(next), want) {
			t.Fatalf("the next claim took %v, want %v", ids(next), want)
		}
		for _, m := range next {
			if m.State != pam.MailQueued || m.Attempts != 0 || m.LastError != "" {
				t.Fatalf("a released message changed: %+v", m)
			}
		}
		if m, err := db.MailByID(ctx, claimed[0].ID); err != nil || m.State != pam.MailSent {
			t.Fatalf("the recorded message: %+v %v", m, err)
		}
		// A release that no longer holds anything changes nothing.
		if n, err := db.ReleaseMail(ctx, "owner-1", ids(claimed)); err != nil || n != 0 {
			t.Fatalf("second release: %d %v", n, err)
		}
	})
}

// A message's bodies stay in its row on PostgreSQL: a mail's HTML runs to a few kilobytes, and
// moved to the TOAST table it cost every insert a second heap and index write and every send a
// second lookup. The bodies here barely compress, as a default column would have moved them.
func TestOutboxKeepsBodiesInTheRow(t *testing.T) {
	ctx, clock := context.Background(), testenv.NewClock()
	db := testenv.Store(t, store.Postgres)
	var text, html strings.Builder
	sum := sha256.Sum256([]byte("seed"))
	for html.Len() < 6000 {
		sum = sha256.Sum256(sum[:])
		fmt.Fprintf(&html, "<p>%x</p>", sum)
		if text.Len() < 1500 {
			fmt.Fprintf(&text, "%x\n", sum)
		}
	}
	m := pam.OutboxMessage{ID: "00000000-0000-0000-0000-000000000001", Kind: "test", Recipient: "u@example.com",
		Subject: "s", Text: text.String(), HTML: html.String(), CreatedAt: clock.Now()}
	if err := db.EnqueueMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	if n, err := db.OutboxToastBytes(ctx); err != nil || n != 0 {
		t.Fatalf("the TOAST table holds %d bytes (%v), want the bodies in the row", n, err)
	}
	got, err := db.ClaimMail(ctx, "w", clock.Now(), time.Minute, 5)
	if err != nil || len(got) != 1 || got[0].HTML != m.HTML || got[0].Text != m.Text {
		t.Fatalf("claimed %d messages (%v); bodies intact: %v", len(got), err, len(got) == 1 && got[0].HTML == m.HTML && got[0].Text == m.Text)
	}
}

// PruneSent removes sent mail and sent webhook deliveries created before the cutoff, a bounded
// batch at a time and the oldest first, and leaves every message still owed (queued, retrying,
// failed) whatever its age.
func TestPruneSentKeepsWhatIsStillOwed(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		old, recent := now.AddDate(0, 0, -40), now.AddDate(0, 0, -1)
		if err := db.ExecRaw(ctx, `INSERT INTO webhooks (id, name, host, url_enc, format, events, created_at, updated_at)
			VALUES ('w1', 'hook', 'example.com', 'x', 'json', '[]', ?, ?)`, old, old); err != nil {
			t.Fatal(err)
		}
		rows := []struct {
			id, state string
			at        time.Time
		}{{"a-sent-old", pam.MailSent, old}, {"b-sent-old", pam.MailSent, old.Add(time.Hour)}, {"c-failed-old", pam.MailFailed, old},
			{"d-queued-old", pam.MailQueued, old}, {"e-sent-recent", pam.MailSent, recent}}
		for _, r := range rows {
			var sent any
			if r.state == pam.MailSent {
				sent = r.at
			}
			if err := db.ExecRaw(ctx, `INSERT INTO mail_outbox (id, kind, recipient, subject, body_text, body_html, state,
				next_attempt_at, created_at, sent_at, updated_at) VALUES (?, 'test', 'u@example.com', 's', 't', 'h', ?, ?, ?, ?, ?)`,
				r.id, r.state, r.at, r.at, sent, r.at); err != nil {
				t.Fatal(err)
			}
			if r.id == "b-sent-old" || r.id == "d-queued-old" {
				continue // two deliveries fewer than messages, so the tables drain apart
			}
			if err := db.ExecRaw(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, body, state,
				next_attempt_at, created_at, sent_at, updated_at) VALUES (?, 'w1', ?, 'request.created', '{}', ?, ?, ?, ?, ?)`,
				r.id, r.id, r.state, r.at, r.at, sent, r.at); err != nil {
				t.Fatal(err)
			}
		}
		cutoff := now.AddDate(0, 0, -30)
		for i, want := range [][2]int64{{1, 1}, {1, 0}, {0, 0}} {
			mail, hooks, err := db.PruneSent(ctx, cutoff, 1)
			if err != nil || mail != want[0] || hooks != want[1] {
				t.Fatalf("prune %d: %d mails and %d deliveries (%v), want %v", i, mail, hooks, err, want)
			}
		}
		for table, want := range map[string][]string{
			"mail_outbox":        {"c-failed-old", "d-queued-old", "e-sent-recent"},
			"webhook_deliveries": {"c-failed-old", "e-sent-recent"},
		} {
			if got, err := db.TableIDs(ctx, table); err != nil || !slices.Equal(got, want) {
				t.Errorf("%s keeps %v (%v), want %v", table, got, err, want)
			}
		}
	})
}
