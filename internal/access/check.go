package access

import (
	"context"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
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

func (s *Service) decide(ctx context.Context, tx *store.Store, userRef, taskKey string, now time.Time) (Decision, error) {
	org, err := tx.OrgSettings(ctx)
	if err != nil {
		return Decision{}, err
	}
	if !org.Enforcement {
		return Decision{Allowed: true, Reason: ReasonNotEnforced}, nil
	}
	var u pam.User
	if strings.Contains(userRef, "@") {
		u, _, err = tx.UserByEmail(ctx, strings.ToLower(userRef))
	} else {
		u, err = tx.UserByID(ctx, pam.UserID(userRef))
	}
	if pam.ErrorCode(err) == pam.ENOTFOUND || userRef == "" {
		return Decision{Reason: ReasonUnknownUser}, nil
	}
	if err != nil {
		return Decision{}, err
	}
	if !u.Active() {
		return Decision{Reason: ReasonDisabled}, nil
	}
	if org.ExemptGroupID != "" {
		exempt, err := tx.IsActiveMember(ctx, org.ExemptGroupID, u.ID)
		if err != nil {
			return Decision{}, err
		}
		if exempt {
			return Decision{Allowed: true, Reason: ReasonExempt}, nil
		}
	}
	task, err := tx.TaskByKey(ctx, taskKey)
	if pam.ErrorCode(err) == pam.ENOTFOUND || taskKey == "" {
		return Decision{Reason: ReasonUnknownTask}, nil
	}
	if err != nil {
		return Decision{}, err
	}
	g, ok, err := tx.GrantFor(ctx, u.ID, task.ID, now)
	if err != nil {
		return Decision{}, err
	}
	if !ok {
		return Decision{Reason: ReasonNoGrant}, nil
	}
	return Decision{Allowed: true, Reason: ReasonGrant, RequestID: g.ID, ExpiresAt: g.EndsAt}, nil
}
