package access

import (
	"context"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
)

// maxBatch bounds how many check events share one transaction.
const maxBatch = 500

// batchWriter records check events with group commit: a caller queues its event and waits;
// one flusher at a time chains everything queued so far and commits it in one transaction,
// while the next callers queue behind it. Under load a single lock of the chain's head and a
// single disk flush serve hundreds of checks; alone, a check waits for nobody. Each caller
// learns its own event's fate: a batch that fails is retried event by event.
type batchWriter struct {
	db      *store.Store
	mu      sync.Mutex
	queue   []*queued
	running bool
}

type queued struct {
	ev   *audit.Event
	done chan error
}

// append returns once ev is committed (nil) or its batch failed. A caller whose context ends
// first gets the context's error; its event may still be committed, which records a check that
// was then not answered — never the reverse.
func (b *batchWriter) append(ctx context.Context, ev *audit.Event) error {
	q := &queued{ev: ev, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, q)
	if !b.running {
		b.running = true
		go b.flush()
	}
	b.mu.Unlock()
	select {
	case err := <-q.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush commits batches until the queue is empty, then stops.
func (b *batchWriter) flush() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := make([]*queued, n)
		copy(batch, b.queue)
		b.queue = append(b.queue[:0], b.queue[n:]...)
		b.mu.Unlock()

		evs := make([]*audit.Event, n)
		for i, q := range batch {
			evs[i] = q.ev
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := b.db.AppendAuditBatch(ctx, evs)
		cancel()
		if err != nil && len(batch) > 1 {
			// One event the database refuses must not fail its neighbours' checks: retry one
			// by one, so each caller learns the fate of its own event only. The retries share
			// one more bounded wait: a database that is down fails them all quickly.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			for _, q := range batch {
				q.done <- b.db.AppendAuditBatch(ctx, []*audit.Event{q.ev})
			}
			cancel()
		} else {
			for _, q := range batch {
				q.done <- err
			}
		}
	}
}
