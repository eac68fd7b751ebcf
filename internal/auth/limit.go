package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
)

// Rule is one rate limit: at most Max attempts per key in each fixed window of length Per.
type Rule struct {
	// Name keeps the counters of different rules apart, e.g. "sign_in_ip".
	Name string
	Max  int64
	Per  time.Duration
}

// The limits Elevate applies to people proving who they are. Each attempt is counted before it
// is judged, so parallel guessers cannot overshoot; a successful one is then given back
// (Forgive), so people who sign in correctly from one shared address never use the budget up.
var (
	SignInPerAccount = Rule{Name: "sign_in_account", Max: 10, Per: 15 * time.Minute}
	SignInPerIP      = Rule{Name: "sign_in_ip", Max: 30, Per: 15 * time.Minute}
	CodePerAccount   = Rule{Name: "code_account", Max: 5, Per: 5 * time.Minute}
	CodePerIP        = Rule{Name: "code_ip", Max: 20, Per: 5 * time.Minute}
)

// Decision is a limiter's answer for one attempt.
type Decision struct {
	Allowed bool
	// Count is the attempts in this window including this one.
	Count int64
	// First is true for the first refused attempt of a window; callers audit that one, so a
	// flood of refused attempts does not flood the audit trail.
	First bool
	// RetryAfter is how long until the window ends; meaningful when not Allowed.
	RetryAfter time.Duration
	// key and window say which counter was incremented, for Forgive.
	key    string
	window int64
}

// Limiter counts attempts in the database, so several processes sharing one database enforce
// one limit together.
type Limiter struct {
	db  *store.Store
	now func() time.Time
	// recorded remembers the windows in which this process saw a refusal already recorded
	// (see AuditOnce).
	recorded *recordedWindows
}

// NewLimiter returns a limiter backed by the rate_limits table.
func NewLimiter(db *store.Store, now func() time.Time) *Limiter {
	return &Limiter{db: db, now: now, recorded: &recordedWindows{seen: map[string]int64{}}}
}

// Allow counts one attempt of key under rule and says whether it is within the limit. Keys are
// hashed before storage, so emails, addresses and tokens are never written to the table.
func (l *Limiter) Allow(ctx context.Context, rule Rule, key string) (Decision, error) {
	per := int64(rule.Per / time.Second)
	if per <= 0 || rule.Max <= 0 {
		return Decision{}, fmt.Errorf("rate limit %s: bad rule", rule.Name)
	}
	now := l.now().Unix()
	start := now - now%per
	sum := sha256.Sum256([]byte(key))
	k := rule.Name + ":" + hex.EncodeToString(sum[:16])
	n, err := l.db.CountAttempt(ctx, k, start)
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", rule.Name, err)
	}
	return Decision{
		Allowed:    n <= rule.Max,
		Count:      n,
		First:      n == rule.Max+1,
		RetryAfter: time.Duration(start+per-now) * time.Second,
		key:        k,
		window:     start,
	}, nil
}

// Forgive takes back the attempt a Decision counted, for attempts that turned out legitimate.
func (l *Limiter) Forgive(ctx context.Context, d Decision) error {
	if d.key == "" {
		return nil
	}
	return l.db.UncountAttempt(ctx, d.key, d.window)
}

// Sweep deletes counters whose windows ended more than a day ago.
func (l *Limiter) Sweep(ctx context.Context) (int64, error) {
	return l.db.DeleteRateLimitsBefore(ctx, l.now().Add(-24*time.Hour).Unix())
}

// AuditRefusal records that an attempt was refused by a rate limit.
func (l *Limiter) AuditRefusal(ctx context.Context, actor audit.Actor, rule Rule, scope string) error {
	ev := actor.Event(audit.AuthRateLimited, "", "", map[string]any{"rule": rule.Name, "scope": scope})
	ev.Outcome = audit.OutcomeFailure
	return l.db.Tx(ctx, func(tx *store.Store) error { return tx.AppendAudit(ctx, ev) })
}
