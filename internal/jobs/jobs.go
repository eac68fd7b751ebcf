// Package jobs runs Elevate's periodic work: the request sweep, the session and rate-limit
// sweeps, and mail delivery. Each job says what to do and how often; this package decides when
// it runs and keeps it running until its context ends. How the work is done stays with its
// owner (internal/access sweeps, internal/mail delivers).
package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Job is one piece of periodic work.
type Job struct {
	// Name identifies the job in logs.
	Name string
	// Every is the pause between two runs.
	Every time.Duration
	// Work does one run. An error is logged and the job runs again on the next tick.
	Work func(ctx context.Context) error
}

// Ticker returns a channel that receives once per period, and a function that stops it.
// Production uses RealTicker; tests pass a channel they drive themselves.
type Ticker func(every time.Duration) (ticks <-chan time.Time, stop func())

// RealTicker is a Ticker on the wall clock.
func RealTicker(every time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(every)
	return t.C, t.Stop
}

// Run does j's work at once and then on every tick until ctx ends, and returns once the run in
// progress has finished. A failed run is logged (unless it failed because ctx ended) and does
// not stop the loop.
func Run(ctx context.Context, log *slog.Logger, tick Ticker, j Job) {
	ticks, stop := tick(j.Every)
	defer stop()
	for {
		if err := j.Work(ctx); err != nil && ctx.Err() == nil {
			log.Warn("job failed", "job", j.Name, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// Start runs every job in its own goroutine until ctx ends. The returned function waits until
// all of them have stopped, so work in progress (a mail batch being sent) can finish on
// shutdown.
func Start(ctx context.Context, log *slog.Logger, tick Ticker, js ...Job) (wait func()) {
	var wg sync.WaitGroup
	for _, j := range js {
		wg.Go(func() { Run(ctx, log, tick, j) })
	}
	return wg.Wait
}
