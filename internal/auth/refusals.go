package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
)

// Refusals of the check API recorded on the audit trail, each at most once per key and
// 15-minute window: a call without a live check token per client address (401), and a call
// over its token's rate per token (429).
var (
	CheckRefusedPerIP    = Rule{Name: "check_refused_ip", Max: 1, Per: 15 * time.Minute}
	CheckLimitedPerToken = Rule{Name: "check_limited_token", Max: 1, Per: 15 * time.Minute}
)

// maxRecordedWindows bounds what a process remembers of recorded refusals. Forgetting costs
// one more database write for a key, never a second event: the database decides.
const maxRecordedWindows = 10000

// recordedWindows is the process's memory of keys whose refusal was recorded in a window.
type recordedWindows struct {
	mu   sync.Mutex
	seen map[string]int64 // key → start of the window it was recorded in
}

func (r *recordedWindows) has(key string, window int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[key] == window
}

func (r *recordedWindows) set(key string, window int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) >= maxRecordedWindows {
		clear(r.seen)
	}
	r.seen[key] = window
}

func (r *recordedWindows) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.seen, key)
}

// AuditOnce records ev (in its own transaction) for the first refusal of key in the current
// window of rule, counted in the database so that every process sharing it records one event
// between them; it reports whether it recorded. A process that saw the window recorded
// remembers it, so a flood from one address or token costs the database nothing after its
// first call there. When the event cannot be written, the count is taken back, so the next
// refusal tries again. Keys are hashed before storage, as Allow's are.
func (l *Limiter) AuditOnce(ctx context.Context, rule Rule, key string, ev *audit.Event) (bool, error) {
	per := int64(rule.Per / time.Second)
	now := l.now().Unix()
	start := now - now%per
	sum := sha256.Sum256([]byte(key))
	k := rule.Name + ":" + hex.EncodeToString(sum[:16])
	if l.recorded.has(k, start) {
		return false, nil
	}
	n, err := l.db.CountAttempt(ctx, k, start)
	if err != nil {
		return false, err
	}
	l.recorded.set(k, start)
	if n != 1 {
		return false, nil // another call, maybe through another process, recorded this window
	}
	if err := l.db.Tx(ctx, func(tx *store.Store) error { return tx.AppendAudit(ctx, ev) }); err != nil {
		l.recorded.forget(k)
		_ = l.db.UncountAttempt(ctx, k, start)
		return false, err
	}
	return true, nil
}
