package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/jobs"
)

// fakeTicker is a Ticker the test drives: every send on C is one tick.
type fakeTicker struct {
	C       chan time.Time
	mu      sync.Mutex
	every   []time.Duration
	stopped int
}

func newFakeTicker() *fakeTicker { return &fakeTicker{C: make(chan time.Time)} }

func (f *fakeTicker) Ticker(every time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.every = append(f.every, every)
	return f.C, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.stopped++
	}
}

// tick sends one tick, failing the test when no loop takes it.
func (f *fakeTicker) tick(t *testing.T) {
	t.Helper()
	select {
	case f.C <- time.Time{}:
	case <-time.After(5 * time.Second):
		t.Fatal("no loop waited for a tick")
	}
}

// syncBuffer is a log destination safe for the loop's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newLog() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// runs is a job's work that reports each run on a channel and returns the next scripted error.
type runs struct {
	C    chan int
	mu   sync.Mutex
	n    int
	errs []error
}

func newRuns(errs ...error) *runs { return &runs{C: make(chan int, 16), errs: errs} }

func (r *runs) work(context.Context) error {
	r.mu.Lock()
	r.n++
	n := r.n
	var err error
	if n <= len(r.errs) {
		err = r.errs[n-1]
	}
	r.mu.Unlock()
	r.C <- n
	return err
}

// wait returns the number of the next run, failing the test when none comes.
func (r *runs) wait(t *testing.T) int {
	t.Helper()
	select {
	case n := <-r.C:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("the job did not run")
		return 0
	}
}

// start runs j in a goroutine and returns its cancel and a channel closed when Run returns.
func start(log *slog.Logger, tick jobs.Ticker, j jobs.Job) (context.CancelFunc, chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.Run(ctx, log, tick, j)
	}()
	return cancel, done
}

func waitDone(t *testing.T, done chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not stop with its context")
	}
}

func TestRunWorksAtOnceThenOnEveryTick(t *testing.T) {
	tk := newFakeTicker()
	r := newRuns()
	log, _ := newLog()
	cancel, done := start(log, tk.Ticker, jobs.Job{Name: "count", Every: 7 * time.Second, Work: r.work})
	defer cancel()
	if n := r.wait(t); n != 1 {
		t.Fatalf("first run is number %d", n)
	}
	for want := 2; want <= 4; want++ {
		tk.tick(t)
		if n := r.wait(t); n != want {
			t.Fatalf("after a tick run %d, want %d", n, want)
		}
	}
	select {
	case n := <-r.C:
		t.Fatalf("run %d without a tick", n)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	waitDone(t, done)
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if len(tk.every) != 1 || tk.every[0] != 7*time.Second || tk.stopped != 1 {
		t.Fatalf("ticker asked for %v, stopped %d times", tk.every, tk.stopped)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	tk := newFakeTicker()
	r := newRuns()
	log, _ := newLog()
	cancel, done := start(log, tk.Ticker, jobs.Job{Name: "idle", Every: time.Hour, Work: r.work})
	r.wait(t)
	cancel()
	waitDone(t, done)
	select {
	case n := <-r.C:
		t.Fatalf("ran again (%d) after the context ended", n)
	default:
	}
}

func TestRunLogsAFailedRunAndGoesOn(t *testing.T) {
	tk := newFakeTicker()
	r := newRuns(errors.New("database is locked"), nil)
	log, buf := newLog()
	cancel, done := start(log, tk.Ticker, jobs.Job{Name: "flaky", Every: time.Minute, Work: r.work})
	defer cancel()
	r.wait(t)
	tk.tick(t)
	if n := r.wait(t); n != 2 {
		t.Fatalf("after a failure run %d", n)
	}
	tk.tick(t)
	r.wait(t)
	cancel()
	waitDone(t, done)
	logs := buf.String()
	if strings.Count(logs, "job failed") != 1 || !strings.Contains(logs, "job=flaky") || !strings.Contains(logs, "database is locked") {
		t.Fatalf("logs: %s", logs)
	}
}

func TestRunDoesNotLogAnErrorCausedByShutdown(t *testing.T) {
	tk := newFakeTicker()
	log, buf := newLog()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.Run(ctx, log, tk.Ticker, jobs.Job{Name: "slow", Every: time.Minute, Work: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}})
	}()
	<-started
	cancel()
	waitDone(t, done)
	if logs := buf.String(); logs != "" {
		t.Fatalf("logged on shutdown: %s", logs)
	}
}

func TestStartWaitsForEveryJob(t *testing.T) {
	tk := newFakeTicker()
	log, _ := newLog()
	a, b := newRuns(), newRuns()
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	wait := jobs.Start(ctx, log, tk.Ticker,
		jobs.Job{Name: "a", Every: time.Minute, Work: a.work},
		jobs.Job{Name: "b", Every: time.Minute, Work: func(ctx context.Context) error {
			err := b.work(ctx)
			<-release // a run in progress when the context ends
			return err
		}})
	a.wait(t)
	b.wait(t)
	cancel()
	stopped := make(chan struct{})
	go func() { wait(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("wait returned while a job was still running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	waitDone(t, stopped)
}
