package access

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

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
	// Subject is the checked person, when the reference named one.
	Subject pam.UserID
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
	ReasonBadRequest  = "bad request"
)

// Longest user reference and task key a check accepts: an email address and a task key.
const (
	maxCheckUser = 254
	maxCheckTask = pam.MaxTaskKey
)

// Check decides whether a user may run a task right now and records the answer. It is computed
// from the grant's times in the query, so a revoke or an expiry is seen by the very next check.
// The answer is given only once its audit event is sealed into the chain; checks arriving
// together share one sealer pass (store.SealAudit). Any error means the caller must deny: a decision whose event
// could not be written is never returned.
//
// Input no user or task could match (empty, too long, a NUL byte or another control character,
// invalid UTF-8) is refused with EINVALID after its event is recorded; the event stores the
// values fitted (see audit.Fit), so one caller's bad input never fails another's check.
func (s *Service) Check(ctx context.Context, a audit.Actor, userRef, taskKey string) (Decision, error) {
	userRef, taskKey = strings.TrimSpace(userRef), strings.TrimSpace(taskKey)
	now := s.now()
	if bad := checkInput(userRef, taskKey); bad != nil {
		ev := s.checkEvent(a, userRef, taskKey, Decision{Reason: ReasonBadRequest}, now)
		if err := s.db.SealAudit(ctx, ev); err != nil {
			return Decision{Allowed: false, Reason: "unavailable"}, err
		}
		return Decision{Reason: ReasonBadRequest}, bad
	}
	d, err := s.decide(ctx, s.db, userRef, taskKey, now)
	if err == nil {
		err = s.db.SealAudit(ctx, s.checkEvent(a, userRef, taskKey, d, now))
	}
	if err != nil {
		return Decision{Allowed: false, Reason: "unavailable"}, err
	}
	return d, nil
}

// RecordBadCheck records a check call whose body could not be read at all (not JSON, say), so
// every call with a valid check token is on the trail.
func (s *Service) RecordBadCheck(ctx context.Context, a audit.Actor, problem string) error {
	ev := s.checkEvent(a, "", "", Decision{Reason: ReasonBadRequest}, s.now())
	ev.Details = audit.DetailsJSON(map[string]any{"allowed": false, "reason": ReasonBadRequest, "problem": problem, "token": a.Name})
	return s.db.SealAudit(ctx, ev)
}

func (s *Service) checkEvent(a audit.Actor, userRef, taskKey string, d Decision, now time.Time) *audit.Event {
	details := map[string]any{"allowed": d.Allowed, "reason": d.Reason, "token": a.Name}
	// What a caller sent is kept as sent only while it could be real; beyond that the trail
	// keeps a fitted value and the original's length and SHA-256, so no caller can grow it
	// by more than a few hundred bytes a call.
	for _, f := range []struct {
		name, v string
		max     int
	}{{"user", userRef, maxCheckUser}, {"task", taskKey, maxCheckTask}} {
		v, orig := audit.FitDetail(f.v, f.max)
		details[f.name] = v
		if orig != nil {
			details[f.name+"_original"] = orig
		}
	}
	ev := a.Event(audit.AccessChecked, "task", taskKey, details)
	ev.RequestID, ev.SubjectID, ev.At = d.RequestID, string(d.Subject), now
	if !d.Allowed {
		ev.Outcome = audit.OutcomeFailure
	}
	return ev
}

// checkInput refuses a user or task that nothing stored could match.
func checkInput(userRef, taskKey string) error {
	for _, f := range []struct {
		name, v, what string
		max           int
	}{{"user", userRef, "an email address or user id", maxCheckUser}, {"task", taskKey, "a task key like exchange/New-JournalRule", maxCheckTask}} {
		switch {
		case f.v == "":
			return pam.FieldError(f.name, "Send both user and task.")
		case len(f.v) > f.max:
			return pam.FieldError(f.name, "The %s is longer than any %s can be (%d bytes at most).", f.name, f.what, f.max)
		}
		// U+FFFD stands in for bytes that were not UTF-8 (JSON decoding puts it there); no
		// email address or task key holds one.
		if _, bad := pam.BadChar(f.v, false); bad || strings.ContainsRune(f.v, utf8.RuneError) {
			return pam.FieldError(f.name, "The %s holds a control character or bytes that are not UTF-8; send %s.", f.name, f.what)
		}
	}
	return nil
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
		return Decision{Reason: ReasonDisabled, Subject: u.ID}, nil
	}
	if org.ExemptGroupID != "" {
		exempt, err := tx.IsActiveMember(ctx, org.ExemptGroupID, u.ID)
		if err != nil {
			return Decision{}, err
		}
		if exempt {
			return Decision{Allowed: true, Reason: ReasonExempt, Subject: u.ID}, nil
		}
	}
	task, err := tx.TaskByKey(ctx, taskKey)
	if pam.ErrorCode(err) == pam.ENOTFOUND || taskKey == "" {
		return Decision{Reason: ReasonUnknownTask, Subject: u.ID}, nil
	}
	if err != nil {
		return Decision{}, err
	}
	g, ok, err := tx.GrantFor(ctx, u.ID, task.ID, now)
	if err != nil {
		return Decision{}, err
	}
	if !ok {
		return Decision{Reason: ReasonNoGrant, Subject: u.ID}, nil
	}
	return Decision{Allowed: true, Reason: ReasonGrant, RequestID: g.ID, ExpiresAt: g.EndsAt, Subject: u.ID}, nil
}
