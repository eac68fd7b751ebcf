package jobs_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/jobs"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/mail/mailtest"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/google/uuid"
)

type sweeper struct {
	n   int
	err error
}

func (s sweeper) Sweep(context.Context) (int, error) { return s.n, s.err }

func TestSweepRequestsLogsWhatItSwept(t *testing.T) {
	log, buf := newLog()
	j := jobs.SweepRequests(sweeper{n: 3}, 30*time.Second, log)
	if j.Every != 30*time.Second {
		t.Fatalf("every %v", j.Every)
	}
	if err := j.Work(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "requests swept") || !strings.Contains(buf.String(), "count=3") {
		t.Fatalf("logs: %s", buf)
	}
	// A sweep that stops part way reports what it did and its error.
	boom := errors.New("boom")
	if err := jobs.SweepRequests(sweeper{n: 1, err: boom}, time.Second, log).Work(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
}

type sessions struct {
	now        time.Time
	idle       time.Duration
	rateBefore int64
	err        error
}

func (s *sessions) DeleteExpiredSessions(_ context.Context, now time.Time, idle time.Duration) (int64, error) {
	s.now, s.idle = now, idle
	return 2, s.err
}

func (s *sessions) DeleteRateLimitsBefore(_ context.Context, windowStart int64) (int64, error) {
	s.rateBefore = windowStart
	return 0, s.err
}

func TestSessionAndRateLimitSweepsUseTheInjectedClock(t *testing.T) {
	clock := testenv.NewClock()
	log, _ := newLog()
	s := &sessions{}
	if err := jobs.SweepSessions(s, 30*time.Minute, 10*time.Minute, clock.Now, log).Work(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.now.Equal(clock.Now()) || s.idle != 30*time.Minute {
		t.Fatalf("swept sessions at %v idle %v", s.now, s.idle)
	}
	if err := jobs.SweepRateLimits(s, 10*time.Minute, clock.Now).Work(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(-24 * time.Hour).Unix(); s.rateBefore != want {
		t.Fatalf("rate limits before %d, want %d", s.rateBefore, want)
	}
	s.err = errors.New("gone")
	if err := jobs.SweepSessions(s, time.Minute, time.Minute, clock.Now, log).Work(context.Background()); !errors.Is(err, s.err) {
		t.Fatalf("session sweep error %v", err)
	}
	if err := jobs.SweepRateLimits(s, time.Minute, clock.Now).Work(context.Background()); !errors.Is(err, s.err) {
		t.Fatalf("rate limit sweep error %v", err)
	}
}

// steps records the order in which the mail job calls its parts.
type steps struct {
	order []string
	err   map[string]error
}

func (s *steps) QueueExpiryNotices(context.Context) (int, error) {
	s.order = append(s.order, "notices")
	return 0, s.err["notices"]
}

func (s *steps) DeliverDue(context.Context) (int, error) {
	s.order = append(s.order, "deliver")
	return 0, s.err["deliver"]
}

func TestMailQueuesNoticesThenDelivers(t *testing.T) {
	s := &steps{err: map[string]error{"notices": errors.New("notices down")}}
	err := jobs.Mail(s, s, 2*time.Second).Work(context.Background())
	if strings.Join(s.order, ",") != "notices,deliver" {
		t.Fatalf("order %v", s.order)
	}
	if err == nil || !strings.Contains(err.Error(), "queue expiry notices: notices down") {
		t.Fatalf("error %v", err)
	}
	s = &steps{err: map[string]error{"deliver": errors.New("smtp down")}}
	if err := jobs.Mail(s, s, time.Second).Work(context.Background()); err == nil || !strings.Contains(err.Error(), "deliver mail: smtp down") {
		t.Fatalf("error %v", err)
	}
	// Without notices or without delivery, the other part still runs.
	s = &steps{}
	if err := jobs.Mail(nil, s, time.Second).Work(context.Background()); err != nil || strings.Join(s.order, ",") != "deliver" {
		t.Fatalf("delivery only: %v %v", s.order, err)
	}
	s = &steps{}
	if err := jobs.Mail(s, nil, time.Second).Work(context.Background()); err != nil || strings.Join(s.order, ",") != "notices" {
		t.Fatalf("notices only: %v %v", s.order, err)
	}
}

// The mail job with a real worker, outbox and SMTP server: mail queued between two ticks goes
// out on the next one, and the loop stops with its context.
func TestMailJobDeliversOnTheNextTick(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		clock := testenv.NewClock()
		db.SetClock(clock.Now)
		srv := mailtest.Start(t, mailtest.Options{})
		log, buf := newLog()
		cfg := config.Config{BaseURL: &url.URL{Scheme: "https", Host: "elevate.example.org"}, MailFrom: "elevate@example.org"}
		outbox := mail.NewOutbox(db, cfg, clock.Now)
		worker := mail.NewWorker(db, mail.NewSMTP(srv.SMTP(), cfg.MailFrom, mail.WithRootCAs(srv.Roots)), clock.Now, log)
		tk := newFakeTicker()
		cancel, done := start(log, tk.Ticker, jobs.Mail(outbox, worker, 2*time.Second))
		defer cancel()

		err := db.EnqueueMail(context.Background(), pam.OutboxMessage{ID: uuid.NewString(), Kind: "test",
			Recipient: "rita@example.com", RecipientName: "Rita", Subject: "Hello", Text: "Hello", HTML: "<p>Hello</p>", CreatedAt: clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		tk.tick(t) // the first run (at once) may have missed the message; this one takes it
		if got := srv.WaitFor(1, 10*time.Second); len(got) != 1 {
			t.Fatalf("delivered %d", len(got))
		}
		cancel()
		waitDone(t, done)
		if strings.Contains(buf.String(), "job failed") {
			t.Fatalf("logs: %s", buf)
		}
	})
}

// A timed job keeps how long its last run took and when it ended, failed runs included.
func TestTimedKeepsTheLastRun(t *testing.T) {
	clock := testenv.NewClock()
	var tm jobs.Timing
	if took, ended := tm.Last(); took != 0 || !ended.IsZero() {
		t.Fatalf("before a run: %v %v", took, ended)
	}
	boom := errors.New("boom")
	j := jobs.Timed(jobs.Job{Name: "sweep", Every: time.Second, Work: func(context.Context) error {
		clock.Advance(1500 * time.Millisecond)
		return boom
	}}, &tm, clock.Now)
	if err := j.Work(context.Background()); !errors.Is(err, boom) || j.Name != "sweep" || j.Every != time.Second {
		t.Fatalf("timed job: %v %+v", err, j)
	}
	if took, ended := tm.Last(); took != 1500*time.Millisecond || !ended.Equal(clock.Now()) {
		t.Fatalf("last run: %v %v", took, ended)
	}
}

// pruner has n mails and n webhook deliveries to prune, and records the cutoffs it was given.
type pruner struct {
	mails, hooks int64
	befores      []time.Time
	err          error
}

func (p *pruner) PruneSent(_ context.Context, before time.Time, limit int) (int64, int64, error) {
	p.befores = append(p.befores, before)
	m, w := min(p.mails, int64(limit)), min(p.hooks, int64(limit))
	p.mails, p.hooks = p.mails-m, p.hooks-w
	return m, w, p.err
}

// A prune run takes batches until both outboxes are drained, at most a bounded number of
// batches a run, with the cutoff SentKeep before now.
func TestPruneSentDrainsInBoundedBatches(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	log, buf := newLog()
	p := &pruner{mails: 2500, hooks: 10}
	if err := jobs.PruneSent(p, jobs.SentKeep, time.Hour, clock, log).Work(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(p.befores) != 3 || p.mails != 0 || !p.befores[0].Equal(now.Add(-jobs.SentKeep)) {
		t.Fatalf("%d batches, %d mails left, cutoff %v", len(p.befores), p.mails, p.befores)
	}
	if !strings.Contains(buf.String(), "mail=2500") || !strings.Contains(buf.String(), "webhooks=10") {
		t.Fatalf("logs: %s", buf)
	}
	// A backlog larger than a run's bound is left for the next run.
	p = &pruner{mails: 1_000_000}
	if err := jobs.PruneSent(p, jobs.SentKeep, time.Hour, clock, log).Work(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(p.befores) != 20 || p.mails != 980_000 {
		t.Fatalf("%d batches, %d left", len(p.befores), p.mails)
	}
	boom := errors.New("boom")
	p = &pruner{mails: 5000, err: boom}
	if err := jobs.PruneSent(p, jobs.SentKeep, time.Hour, clock, log).Work(context.Background()); !errors.Is(err, boom) || len(p.befores) != 1 {
		t.Fatalf("error %v after %d batches", err, len(p.befores))
	}
}

type chainVerifier struct {
	every []time.Duration
	err   error
}

func (c *chainVerifier) VerifyChainWhenDue(_ context.Context, every time.Duration) (bool, error) {
	c.every = append(c.every, every)
	return c.err == nil, c.err
}

// The chain's walk is looked for every few minutes (or more often when the period is shorter)
// and asked for with the period, so the database can give the turn once per period.
func TestVerifyChainLooksOftenAndAsksWithThePeriod(t *testing.T) {
	log, _ := newLog()
	v := &chainVerifier{}
	j := jobs.VerifyChain(v, 24*time.Hour, 5*time.Minute, log)
	if j.Every != 5*time.Minute {
		t.Fatalf("looks every %v, want 5m", j.Every)
	}
	if j := jobs.VerifyChain(v, 2*time.Minute, 5*time.Minute, log); j.Every != 2*time.Minute {
		t.Fatalf("a 2m period looks every %v", j.Every)
	}
	if err := j.Work(context.Background()); err != nil || len(v.every) != 1 || v.every[0] != 24*time.Hour {
		t.Fatalf("asked with %v (%v)", v.every, err)
	}
	v.err = errors.New("database down")
	if err := j.Work(context.Background()); !errors.Is(err, v.err) {
		t.Fatalf("a failed walk reports %v", err)
	}
}
