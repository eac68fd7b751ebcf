package access

import (
	"context"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
)

// Decision is the answer to a check.
type Decision struct {
	Allowed   bool
	Reason    string
	RequestID string
	ExpiresAt *time.Time
}

// Check reasons.
const (
	ReasonGrant       = "grant in force"
	ReasonExempt      = "exempt"
	ReasonNotEnforced = "enforcement off"
	ReasonNoGrant     = "no grant in force"
	ReasonUnknownUser = "unknown user"
	ReasonDisabled    = "user disabled"
	ReasonUnknownTask = "unknown task"
)

// Check decides whether a user may run a task right now and records the answer. It is computed
// from the grant's times in the query, so a revoke or an expiry is seen by the very next check.
// The answer is given only once its audit event is committed; checks arriving together share
// one commit (see batchWriter). Any error means the caller must deny: a decision whose event
// could not be written is never returned.
func (s *Service) Check(ctx context.Context, a audit.Actor, userRef, taskKey string) (Decision, error) {
	userRef, taskKey = strings.TrimSpace(userRef), strings.TrimSpace(taskKey)
	now := s.now()
	d, err := s.decide(ctx, s.db, userRef, taskKey, now)
	if err == nil {
		ev := a.Event("access.checked", "task", taskKey, map[string]any{
			"user": userRef, "task": taskKey, "allowed": d.Allowed, "reason": d.Reason, "token": a.Name,
		})
		ev.RequestID, ev.At = d.RequestID, now
		if !d.Allowed {
			ev.Outcome = audit.OutcomeFailure
		}
		err = s.checks.append(ctx, ev)
	}
	if err != nil {
		return Decision{Allowed: false, Reason: "unavailable"}, err
	}
	return d, nil
}

// decide answers a check from the facts one store query returns, applying the rules in order:
// enforcement off, unknown user, disabled user, exempt, unknown task, then the grant in force.
// Any error is returned for the caller to deny.
func (s *Service) decide(ctx context.Context, tx *store.Store, userRef, taskKey string, now time.Time) (Decision, error) {
	f, err := tx.CheckFacts(ctx, userRef, taskKey, now)
	if err != nil {
		return Decision{}, err
	}
	if !f.Enforcement {
		return Decision{Allowed: true, Reason: ReasonNotEnforced}, nil
	}
	if f.UserID == "" || userRef == "" {
		return Decision{Reason: ReasonUnknownUser}, nil
	}
	if f.UserDisabled {
		return Decision{Reason: ReasonDisabled}, nil
	}
	if f.ExemptGroupID != "" && f.Exempt {
		return Decision{Allowed: true, Reason: ReasonExempt}, nil
	}
	if f.TaskID == "" || taskKey == "" {
		return Decision{Reason: ReasonUnknownTask}, nil
	}
	if f.GrantID == "" {
		return Decision{Reason: ReasonNoGrant}, nil
	}
	return Decision{Allowed: true, Reason: ReasonGrant, RequestID: f.GrantID, ExpiresAt: f.GrantEndsAt}, nil
}
