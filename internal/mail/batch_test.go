package mail_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/mail/mailtest"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	gosmtp "github.com/emersion/go-smtp"
)

// queue is an outbox of n plain messages to u000@example.com…, due at once, with a worker
// delivering it to a loopback server.
type queue struct {
	ctx    context.Context
	db     *store.Store
	clock  *testenv.Clock
	srv    *mailtest.Server
	worker *mail.Worker
	msgs   []pam.OutboxMessage
}

func newQueue(t *testing.T, dialect string, n int) *queue {
	t.Helper()
	q := &queue{ctx: context.Background(), db: testenv.Store(t, dialect), clock: testenv.NewClock(), srv: mailtest.Start(t, mailtest.Options{})}
	q.db.SetClock(q.clock.Now)
	q.msgs = make([]pam.OutboxMessage, n)
	must(t, q.db.Tx(q.ctx, func(tx *store.Store) error {
		for i := range q.msgs {
			q.msgs[i] = pam.OutboxMessage{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Kind: "test",
				Recipient: rcpt(i), Subject: fmt.Sprintf("message %d", i), Text: "text", HTML: "<p>html</p>",
				CreatedAt: q.clock.Now().Add(time.Duration(i) * time.Millisecond)}
			if err := tx.EnqueueMail(q.ctx, q.msgs[i]); err != nil {
				return err
			}
		}
		return nil
	}))
	q.clock.Advance(time.Second)
	q.worker = mail.NewWorker(q.db, mail.NewSMTP(q.srv.SMTP(), from, mail.WithRootCAs(q.srv.Roots), mail.WithSMTPTimeout(5*time.Second)),
		q.clock.Now, quiet)
	q.worker.BackoffBase = time.Minute
	return q
}

func rcpt(i int) string { return fmt.Sprintf("u%03d@example.com", i) }

// states maps each recipient to its message's row.
func (q *queue) states(t *testing.T) map[string]pam.OutboxMessage {
	t.Helper()
	out := map[string]pam.OutboxMessage{}
	var before *pam.Cursor
	for {
		page, err := q.db.Mail(q.ctx, pam.MailFilter{Limit: 500, Before: before})
		must(t, err)
		for _, m := range page {
			out[m.Recipient] = m
		}
		if len(page) < 500 {
			return out
		}
		last := page[len(page)-1]
		before = &pam.Cursor{At: last.CreatedAt, ID: last.ID}
	}
}

// eventsFor maps each message id to the actions of its mail events.
func (q *queue) eventsFor(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	evs, err := q.db.AuditEvents(q.ctx, store.AuditFilter{TargetType: "mail", Limit: 500})
	must(t, err)
	for _, ev := range evs {
		out[ev.TargetID] = append(out[ev.TargetID], ev.Action)
	}
	return out
}

func TestOneBatchEachMessageItsOwnOutcome(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		q := newQueue(t, dialect, 10)
		q.srv.Reject(func(to string) error {
			switch to {
			case rcpt(3):
				return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
			case rcpt(6):
				return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
			}
			return nil
		})
		n, err := q.worker.DeliverDue(q.ctx)
		if err != nil || n != 10 {
			t.Fatalf("attempted %d: %v", n, err)
		}
		if got := len(q.srv.Messages()); got != 8 {
			t.Fatalf("server accepted %d, want the 8 neighbours of the two refused", got)
		}
		if c := q.srv.Connections(); c != 1 {
			t.Fatalf("one batch took %d connections", c)
		}
		st, evs := q.states(t), q.eventsFor(t)
		for i, m := range q.msgs {
			got := st[m.Recipient]
			want, action := pam.MailSent, audit.MailSent.String()
			switch i {
			case 3:
				want, action = pam.MailFailed, audit.MailFailed.String()
			case 6:
				want, action = pam.MailRetrying, audit.MailRetryScheduled.String()
			}
			if got.State != want || got.Attempts != 1 {
				t.Errorf("message %d: %s after %d attempts, want %s", i, got.State, got.Attempts, want)
			}
			if a := evs[m.ID]; len(a) != 1 || a[0] != action {
				t.Errorf("message %d: events %v, want one %s", i, a, action)
			}
		}
		// Only the 4xx message backs off, by the base delay.
		if r := st[rcpt(6)]; !r.NextAttemptAt.Equal(q.clock.Now().Add(time.Minute)) || !strings.Contains(r.LastError, "451") {
			t.Fatalf("4xx message: %+v", r)
		}
		if f := st[rcpt(3)]; !strings.Contains(f.LastError, "550") {
			t.Fatalf("5xx message: %+v", f)
		}
		q.srv.Reject(nil)
		if n, err := q.worker.DeliverDue(q.ctx); n != 0 || err != nil {
			t.Fatalf("before its backoff the 4xx message went out: %d %v", n, err)
		}
		q.clock.Advance(time.Minute)
		if n, err := q.worker.DeliverDue(q.ctx); n != 1 || err != nil {
			t.Fatalf("after its backoff: attempted %d: %v", n, err)
		}
		if r := q.states(t)[rcpt(6)]; r.State != pam.MailSent || r.Attempts != 2 {
			t.Fatalf("retried message: %+v", r)
		}
		if got := len(q.srv.Messages()); got != 9 {
			t.Fatalf("server accepted %d in all", got)
		}
	})
}

func TestBatchesShareOneConnectionAndAFewStatements(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		const n, batch = 250, 100
		q := newQueue(t, dialect, n)
		q.worker.Batch = batch
		// What one audit event costs in statements, whatever the chain's implementation.
		before := q.db.Counts()
		must(t, q.db.Tx(q.ctx, func(tx *store.Store) error {
			return tx.AppendAudit(q.ctx, audit.System.Event(audit.SettingsUpdated, "test", "1", nil))
		}))
		perEvent := q.db.Counts().Statements - before.Statements

		before = q.db.Counts()
		if got, err := q.worker.DeliverDue(q.ctx); err != nil || got != n {
			t.Fatalf("attempted %d: %v", got, err)
		}
		stmts := q.db.Counts().Statements - before.Statements
		// One look for due mail; a claim per batch and the empty one that ends the run; one
		// statement recording each batch's deliveries; each batch's events in one statement,
		// and their seal (fewer when batches that waited together are recorded together).
		batches := uint64((n + batch - 1) / batch)
		if most := 1 + (batches + 1) + batches + batches*perEvent; stmts > most {
			t.Fatalf("%d messages in %d batches took %d statements, want at most %d", n, batches, stmts, most)
		}
		if c := q.srv.Connections(); c != 1 {
			t.Fatalf("%d batches took %d connections", batches, c)
		}
		ids := map[string]bool{}
		for _, m := range q.srv.Messages() {
			ids[m.MessageID] = true
		}
		if len(q.srv.Messages()) != n || len(ids) != n {
			t.Fatalf("server accepted %d, %d distinct", len(q.srv.Messages()), len(ids))
		}
		for rc, m := range q.states(t) {
			if m.State != pam.MailSent || m.Attempts != 1 {
				t.Fatalf("%s: %+v", rc, m)
			}
		}
	})
}

func TestLostConnectionCostsOnlyTheMessageInFlight(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		q := newQueue(t, dialect, 10)
		q.worker.Batch = 5
		var mu sync.Mutex
		hungUp := false
		q.srv.Reject(func(to string) error {
			mu.Lock()
			defer mu.Unlock()
			if to == rcpt(2) && !hungUp {
				hungUp = true
				return mailtest.ErrHangup
			}
			return nil
		})
		if n, err := q.worker.DeliverDue(q.ctx); err != nil || n != 10 {
			t.Fatalf("attempted %d: %v", n, err)
		}
		st := q.states(t)
		for i := range 10 {
			m := st[rcpt(i)]
			if i == 2 {
				if m.State != pam.MailRetrying || m.Attempts != 1 {
					t.Fatalf("the message in flight: %+v", m)
				}
				continue
			}
			if m.State != pam.MailSent {
				t.Fatalf("message %d after a lost connection: %+v", i, m)
			}
		}
		if c := q.srv.Connections(); c != 2 {
			t.Fatalf("%d connections, want the first and one after it was lost", c)
		}

		// A server that drops every connection: a batch reconnects once, then gives up on the
		// rest, and every message waits for its retry.
		q2 := newQueue(t, dialect, 5)
		q2.srv.Reject(func(string) error { return mailtest.ErrHangup })
		if n, err := q2.worker.DeliverDue(q2.ctx); err != nil || n != 5 {
			t.Fatalf("attempted %d: %v", n, err)
		}
		for rc, m := range q2.states(t) {
			if m.State != pam.MailRetrying || m.Attempts != 1 || m.LastError == "" {
				t.Fatalf("%s: %+v", rc, m)
			}
		}
		if c := q2.srv.Connections(); c != 2 {
			t.Fatalf("a batch on a failing server took %d connections, want 2", c)
		}
	})
}

func TestShutdownFinishesTheBatchBeingSent(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		const n, batch = 250, 100
		q := newQueue(t, dialect, n)
		q.worker.Batch = batch
		ctx, stop := context.WithCancel(q.ctx)
		defer stop()
		q.srv.Reject(func(to string) error {
			if to == rcpt(150) { // in the second batch
				stop()
			}
			return nil
		})
		got, err := q.worker.DeliverDue(ctx)
		if !errors.Is(err, context.Canceled) || got != 2*batch {
			t.Fatalf("attempted %d (%v), want the two batches begun before the stop", got, err)
		}
		if len(q.srv.Messages()) != 2*batch {
			t.Fatalf("server accepted %d", len(q.srv.Messages()))
		}
		sent, queued := 0, 0
		for _, m := range q.states(t) {
			switch m.State {
			case pam.MailSent:
				sent++
			case pam.MailQueued:
				queued++
			}
		}
		if sent != 2*batch || queued != n-2*batch {
			t.Fatalf("%d sent, %d queued", sent, queued)
		}
		// Nothing is left leased: the rest is due for the next worker at once.
		rest, err := q.db.ClaimMail(q.ctx, "next", q.clock.Now(), time.Minute, n)
		must(t, err)
		if len(rest) != n-2*batch {
			t.Fatalf("the next worker can take %d, want %d", len(rest), n-2*batch)
		}
	})
}

func TestShutdownReleasesTheBatchClaimedAhead(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		const n, batch = 150, 100
		q := newQueue(t, dialect, n)
		q.worker.Batch = batch
		ctx, stop := context.WithCancel(q.ctx)
		defer stop()
		// The stop comes while the first batch is sent, once the second has been claimed.
		second := make(chan struct{})
		mail.SetAfterClaim(q.worker, func(k int) {
			if k == 2 {
				close(second)
			}
		})
		q.srv.Reject(func(to string) error {
			if to == rcpt(50) {
				select {
				case <-second:
				case <-time.After(10 * time.Second):
					t.Error("the second batch was not claimed while the first was sent")
				}
				stop()
			}
			return nil
		})
		got, err := q.worker.DeliverDue(ctx)
		if !errors.Is(err, context.Canceled) || got != batch {
			t.Fatalf("attempted %d (%v), want the batch begun before the stop", got, err)
		}
		if len(q.srv.Messages()) != batch {
			t.Fatalf("server accepted %d", len(q.srv.Messages()))
		}
		// The batch claimed ahead was released, not left to wait out its lease: the next worker
		// sends it at once (the clock has not moved), and nothing goes out twice.
		q.srv.Reject(nil)
		next := mail.NewWorker(q.db, mail.NewSMTP(q.srv.SMTP(), from, mail.WithRootCAs(q.srv.Roots), mail.WithSMTPTimeout(5*time.Second)),
			q.clock.Now, quiet)
		if got, err := next.DeliverDue(q.ctx); err != nil || got != n-batch {
			t.Fatalf("the next worker attempted %d (%v), want the %d released", got, err, n-batch)
		}
		ids := map[string]int{}
		for _, m := range q.srv.Messages() {
			ids[m.MessageID]++
		}
		if len(q.srv.Messages()) != n || len(ids) != n {
			t.Fatalf("server accepted %d, %d distinct", len(q.srv.Messages()), len(ids))
		}
		evs := q.eventsFor(t)
		for rc, m := range q.states(t) {
			if m.State != pam.MailSent || m.Attempts != 1 {
				t.Fatalf("%s: %+v", rc, m)
			}
			if a := evs[m.ID]; len(a) != 1 || a[0] != audit.MailSent.String() {
				t.Fatalf("%s: events %v", rc, a)
			}
		}
	})
}

func TestBatchClaimedAheadIsNotLeftToRunOutOfLease(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		const n, batch = 4, 2
		q := newQueue(t, dialect, n)
		q.worker.Batch = batch
		// The first batch takes more than half a lease (the server stalls on its first
		// message), while the second, claimed ahead, waits for it.
		q.worker.Lease = 2 * time.Second
		var once sync.Once
		q.srv.Reject(func(to string) error {
			if to == rcpt(0) {
				once.Do(func() { time.Sleep(1200 * time.Millisecond) })
			}
			return nil
		})
		if got, err := q.worker.DeliverDue(q.ctx); err != nil || got != batch {
			t.Fatalf("attempted %d (%v), want the first batch only", got, err)
		}
		// The second batch was given back, untried, not sent with too little lease left: the
		// next run claims it afresh (the clock has not moved).
		for i, m := range q.msgs[batch:] {
			if st := q.states(t)[m.Recipient]; st.State != pam.MailQueued || st.Attempts != 0 {
				t.Fatalf("message %d claimed ahead: %+v", batch+i, st)
			}
		}
		if got, err := q.worker.DeliverDue(q.ctx); err != nil || got != n-batch {
			t.Fatalf("the next run attempted %d (%v)", got, err)
		}
		if len(q.srv.Messages()) != n {
			t.Fatalf("server accepted %d", len(q.srv.Messages()))
		}
		for rc, m := range q.states(t) {
			if m.State != pam.MailSent || m.Attempts != 1 {
				t.Fatalf("%s: %+v", rc, m)
			}
		}
	})
}

func TestSessionKeepsItsConnection(t *testing.T) {
	ctx := context.Background()
	srv := mailtest.Start(t, mailtest.Options{})
	sender := mail.NewSMTP(srv.SMTP(), from, mail.WithRootCAs(srv.Roots), mail.WithSMTPTimeout(5*time.Second))
	msgs := func(from, n int) []pam.OutboxMessage {
		out := make([]pam.OutboxMessage, n)
		for i := range out {
			out[i] = pam.OutboxMessage{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", from+i), Recipient: rcpt(from + i),
				Subject: "s", Text: "t", HTML: "h", CreatedAt: time.Now()}
		}
		return out
	}
	delivered := func(errs []error) int {
		n := 0
		for _, err := range errs {
			if err == nil {
				n++
			}
		}
		return n
	}
	s := sender.Session()
	defer s.Close()
	for b := range 3 {
		if got := delivered(s.Send(ctx, msgs(3*b, 3))); got != 3 {
			t.Fatalf("batch %d: %d delivered", b, got)
		}
	}
	if c := srv.Connections(); c != 1 {
		t.Fatalf("three batches took %d connections", c)
	}
	// The server goes away between batches (and a new one takes its address): the kept
	// connection no longer answers, so the next batch connects again and loses nothing.
	srv.Close()
	again := mailtest.Start(t, mailtest.Options{Addr: srv.Addr})
	if errs := s.Send(ctx, msgs(9, 3)); delivered(errs) != 3 {
		t.Fatalf("after the server restarted: %v", errs)
	}
	if c := again.Connections(); c != 1 || len(again.Messages()) != 3 {
		t.Fatalf("new server: %d connections, %d messages", c, len(again.Messages()))
	}

	// Once its context ends, a session starts no more messages; the one under way finishes.
	stopped, stop := context.WithCancel(ctx)
	defer stop()
	again.Reject(func(to string) error {
		if to == rcpt(13) {
			stop()
		}
		return nil
	})
	errs := s.Send(stopped, msgs(12, 4))
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("the messages begun before the stop: %v", errs[:2])
	}
	for _, err := range errs[2:] {
		var de *mail.DeliveryError
		if !errors.As(err, &de) || de.Permanent {
			t.Fatalf("a message after the stop: %v, want a temporary failure", err)
		}
	}
	if got := len(again.Messages()); got != 5 {
		t.Fatalf("server accepted %d, want 5", got)
	}
}

func TestNoMessageStartsAfterItsLeaseRanOut(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		q := newQueue(t, dialect, 5)
		// A lease over before sending begins (as if the batch had waited that long): nothing
		// is sent, since another worker may hold the messages by now, and the attempt is still
		// recorded where the claim holds (here it does: the test clock stands still).
		q.worker.Lease = time.Microsecond // shorter than any claim takes; PostgreSQL keeps microseconds
		if n, err := q.worker.DeliverDue(q.ctx); err != nil || n != 5 {
			t.Fatalf("attempted %d: %v", n, err)
		}
		if got := len(q.srv.Messages()); got != 0 {
			t.Fatalf("server accepted %d after the lease ran out", got)
		}
		for rc, m := range q.states(t) {
			if m.State != pam.MailRetrying || m.Attempts != 1 {
				t.Fatalf("%s: %+v", rc, m)
			}
		}
	})
}

// countingSender wraps a sender and reports the start of each batch it is asked to send; the
// first batch waits for firstMay, when set, before it is sent.
type countingSender struct {
	mail.Sender
	started  chan int
	firstMay <-chan struct{}
}

func (s countingSender) Session() mail.Session {
	return &countingSession{Session: s.Sender.Session(), started: s.started, firstMay: s.firstMay}
}

type countingSession struct {
	mail.Session
	started  chan int
	firstMay <-chan struct{}
	n        int
}

func (s *countingSession) Send(ctx context.Context, msgs []pam.OutboxMessage) []error {
	s.n++
	if s.n == 1 && s.firstMay != nil {
		select {
		case <-s.firstMay:
		case <-ctx.Done():
		}
	}
	select {
	case s.started <- s.n:
	default:
	}
	return s.Session.Send(ctx, msgs)
}

func TestNextBatchIsSentWhileTheLastIsRecorded(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		q := newQueue(t, dialect, 6)
		started := make(chan int, 8)
		// The first batch is sent (and so recorded) only once the second is claimed: on a busy
		// machine the claimer could otherwise fall behind the recorder, and on SQLite a claim
		// waits for an open recording, which here waits for the second batch.
		secondClaimed := make(chan struct{})
		q.worker = mail.NewWorker(q.db, countingSender{
			Sender:   mail.NewSMTP(q.srv.SMTP(), from, mail.WithRootCAs(q.srv.Roots), mail.WithSMTPTimeout(5*time.Second)),
			started:  started,
			firstMay: secondClaimed,
		}, q.clock.Now, quiet)
		q.worker.Batch = 3
		mail.SetAfterClaim(q.worker, func(n int) {
			if n == 2 {
				close(secondClaimed)
			}
		})
		// The first batch's recording stays open until the second batch is being sent.
		first := true
		mail.SetBeforeCommit(q.worker, func() {
			if !first {
				return
			}
			first = false
			deadline := time.After(10 * time.Second)
			for {
				select {
				case n := <-started:
					if n == 2 {
						return
					}
				case <-deadline:
					t.Error("the second batch was not sent while the first was being recorded")
					return
				}
			}
		})
		if n, err := q.worker.DeliverDue(q.ctx); err != nil || n != 6 {
			t.Fatalf("attempted %d: %v", n, err)
		}
		if got := len(q.srv.Messages()); got != 6 {
			t.Fatalf("server accepted %d", got)
		}
	})
}
