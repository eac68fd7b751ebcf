package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/labstack/echo/v4"
)

// Limit is one rate-limit check: a rule and the key it counts (an account, an IP, a token).
type Limit struct {
	Rule auth.Rule
	Key  string
}

// Attempt is what CheckLimits counted; Forgive gives it back once the attempt succeeded.
type Attempt struct {
	limiter   *auth.Limiter
	decisions []auth.Decision
}

// Forgive takes back the counted attempt, so only failures use the budget up. Errors are
// ignored: at worst a success keeps counting.
func (a *Attempt) Forgive(c echo.Context) {
	if a == nil {
		return
	}
	for _, d := range a.decisions {
		_ = a.limiter.Forgive(c.Request().Context(), d)
	}
}

// CheckLimits counts one attempt against every limit and, when any is exceeded, sets
// Retry-After and returns a 429 error (a page, or JSON under /api). The first refusal of a
// window is audited with scope naming what was attempted. Routes can use it for any action,
// e.g. the check API per token: _, err := s.CheckLimits(c, "check", Limit{rule, tokenID}).
func (s *Server) CheckLimits(c echo.Context, scope string, limits ...Limit) (*Attempt, error) {
	var worst time.Duration
	refused := false
	att := &Attempt{limiter: s.limiter}
	for _, l := range limits {
		d, err := s.limiter.Allow(c.Request().Context(), l.Rule, l.Key)
		if err != nil {
			return nil, err
		}
		att.decisions = append(att.decisions, d)
		if d.Allowed {
			continue
		}
		refused = true
		if d.RetryAfter > worst {
			worst = d.RetryAfter
		}
		if d.First {
			if err := s.limiter.AuditRefusal(c.Request().Context(), actor(c), l.Rule, scope); err != nil {
				return nil, err
			}
		}
	}
	if !refused {
		return att, nil
	}
	secs := int(worst / time.Second)
	if secs < 1 {
		secs = 1
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return nil, echo.NewHTTPError(http.StatusTooManyRequests, fmt.Sprintf("Too many attempts. Wait %s and try again.", waitText(secs)))
}

func waitText(secs int) string {
	if secs < 60 {
		return "a minute"
	}
	m := (secs + 59) / 60
	if m == 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
