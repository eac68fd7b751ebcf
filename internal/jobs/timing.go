package jobs

import (
	"context"
	"sync"
	"time"
)

// Timing keeps how long a job's last run took and when it ended, for /metrics. Its zero value
// is ready; it is safe for concurrent use.
type Timing struct {
	mu    sync.Mutex
	took  time.Duration
	ended time.Time
}

// Last returns how long the last run took and when it ended (zero before the first run).
func (t *Timing) Last() (took time.Duration, ended time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.took, t.ended
}

// Timed returns j with each run timed on now into t, failed runs too (a slow sweep that
// ends in an error is what an operator needs to see).
func Timed(j Job, t *Timing, now func() time.Time) Job {
	work := j.Work
	j.Work = func(ctx context.Context) error {
		start := now()
		err := work(ctx)
		end := now()
		t.mu.Lock()
		t.took, t.ended = end.Sub(start), end
		t.mu.Unlock()
		return err
	}
	return j
}
