package web

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// tokenLimiter holds one token bucket per API token for the check API. It lives in the
// process: the check is the hot path and a database write per call would halve its capacity,
// and a runaway caller is stopped well enough per replica.
type tokenLimiter struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

func newTokenLimiter(perSec float64, burst int) *tokenLimiter {
	return &tokenLimiter{perSec: rate.Limit(perSec), burst: burst, buckets: map[string]*rate.Limiter{}}
}

func (l *tokenLimiter) allow(token string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	b, ok := l.buckets[token]
	if !ok {
		if len(l.buckets) > 10000 {
			l.buckets = map[string]*rate.Limiter{} // bounded memory; buckets refill anyway
		}
		b = rate.NewLimiter(l.perSec, l.burst)
		l.buckets[token] = b
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// checkLimited is a check refused because its token calls faster than ELEVATE_CHECK_RATE per
// second; wait is how long until the next call would pass.
type checkLimited struct{ wait time.Duration }

func (e *checkLimited) Error() string { return "check rate limit reached" }

// admitCheck refuses a check whose token is over its rate. It runs once the token is known
// and before the check is recorded.
func (s *Server) admitCheck(t pam.CheckToken) error {
	if ok, wait := s.checkLimiter.allow(t.ID, time.Now()); !ok {
		return &checkLimited{wait: wait}
	}
	return nil
}

// answer is 429 with Retry-After, and allowed false. The first 429 of a token in each window
// of auth.CheckLimitedPerToken is recorded on the audit trail (a failure to record is logged).
func (e *checkLimited) answer(c echo.Context, s *Server) error {
	if t, ok := CheckTokenOf(c); ok {
		ev := tokenActor(c).Event(audit.AuthRateLimited, "token", t.ID, map[string]any{"rule": "check_rate", "scope": "check"})
		ev.Outcome = audit.OutcomeFailure
		if _, err := s.limiter.AuditOnce(c.Request().Context(), auth.CheckLimitedPerToken, t.ID, ev); err != nil {
			s.log.Error("rate-limited check not recorded", "request_id", RequestID(c), "error", err.Error())
		}
	}
	secs := int(e.wait/time.Second) + 1
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return c.JSON(http.StatusTooManyRequests, map[string]any{"allowed": false, "reason": "rate limited",
		"error": "This token calls the check API too often; slow down.", "code": "rate_limited", "request_id": RequestID(c)})
}
