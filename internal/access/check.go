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

// ErrUnknownCheckToken is CheckByToken's answer to a token hash that names no live check token:
// nothing was decided or recorded, and the caller refuses the call as unauthenticated.
var ErrUnknownCheckToken = pam.Errorf(pam.ENOTFOUND, "The check token is missing, unknown or revoked.")

// CheckCall is one call of the check API as the edge read it.
type CheckCall struct {
	// TokenHash is the stored hash of the bearer secret; it must name a live check token.
	TokenHash string
	// Actor carries the caller's address; its type, id and name become the token's.
	Actor audit.Actor
	// User and Task are what the caller asked about.
	User, Task string
	// Bad, when set, is why the body could not be read at all (not JSON, say); the call is
	// then recorded as a bad request with Bad's message, and Bad is returned.
	Bad error
	// Admit, when set, is asked once the token is known and before anything is recorded; an
	// error from it (a rate limit, say) is returned as is and the call is not recorded.
	Admit func(pam.CheckToken) error
}

// CheckByToken authenticates a call of the check API, decides whether the user may run the
// task right now and records the answer, reading the token and every fact of the decision in
// one statement (see store.CheckFacts). It returns the token, the decision and, as Check does,
// an error the caller must deny on: ErrUnknownCheckToken for a token that is not live, Admit's
// error, EINVALID (after recording) for unusable input, anything else for a failure.
func (s *Service) CheckByToken(ctx context.Context, c CheckCall) (pam.CheckToken, Decision, error) {
	if c.TokenHash == "" {
		return pam.CheckToken{}, Decision{}, ErrUnknownCheckToken
	}
	return s.check(ctx, c)
}

// Check decides whether a user may run a task right now and records the answer, for a caller
// already known (a is its audit actor). See CheckByToken.
func (s *Service) Check(ctx context.Context, a audit.Actor, userRef, taskKey string) (Decision, error) {
	_, d, err := s.check(ctx, CheckCall{Actor: a, User: userRef, Task: taskKey})
	return d, err
}

// check is computed from the grant's times in the query, so a revoke or an expiry is seen by
// the very next check; nothing it reads is cached, so a change through any process is too.
// The answer is given only once its audit event is sealed into the chain; checks arriving
// together share one sealer pass (store.SealAudit). Any error means the caller must deny: a decision whose event
// could not be written is never returned.
//
// Input no user or task could match (empty, too long, a NUL byte or another control character,
// invalid UTF-8) is refused with EINVALID after its event is recorded; the event stores the
// values fitted (see audit.Fit), so one caller's bad input never fails another's check.
func (s *Service) check(ctx context.Context, c CheckCall) (pam.CheckToken, Decision, error) {
	userRef, taskKey := strings.TrimSpace(c.User), strings.TrimSpace(c.Task)
	if c.Bad != nil {
		userRef, taskKey = "", ""
	}
	now := s.now()
	unavailable := Decision{Allowed: false, Reason: "unavailable"}
	bad := c.Bad
	if bad == nil {
		bad = checkInput(userRef, taskKey)
	}
	var (
		tok pam.CheckToken
		d   Decision
	)
	if bad != nil {
		// Nothing to decide; only the token is read, so the refusal is recorded as its call.
		if c.TokenHash != "" {
			t, err := s.db.CheckTokenByHash(ctx, c.TokenHash)
			if pam.ErrorCode(err) == pam.ENOTFOUND {
				return tok, Decision{}, ErrUnknownCheckToken
			}
			if err != nil {
				return tok, unavailable, err
			}
			tok = t
		}
		d = Decision{Reason: ReasonBadRequest}
	} else {
		f, err := s.db.CheckFacts(ctx, c.TokenHash, userRef, taskKey, now)
		if err != nil {
			return tok, unavailable, err
		}
		if c.TokenHash != "" && f.Token.ID == "" {
			return tok, Decision{}, ErrUnknownCheckToken
		}
		tok, d = f.Token, decide(f)
	}
	if c.Admit != nil {
		if err := c.Admit(tok); err != nil {
			return tok, Decision{}, err
		}
	}
	a := c.Actor
	if tok.ID != "" {
		a.Type, a.ID, a.Name = audit.ActorToken, tok.ID, tok.Name
	}
	ev := s.checkEvent(a, userRef, taskKey, d, now)
	if c.Bad != nil {
		ev.Details = audit.DetailsJSON(map[string]any{"allowed": false, "reason": ReasonBadRequest, "problem": pam.ErrorMessage(c.Bad), "token": a.Name})
	}
	if err := s.db.SealAudit(ctx, ev); err != nil {
		return tok, unavailable, err
	}
	return tok, d, bad
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

// decide applies the rules of a check, in order, to the facts read for it: enforcement off,
// unknown user, disabled user, exempt, unknown task, then the grant in force.
func decide(f store.CheckFacts) Decision {
	d := decideRules(f)
	if f.Enforcement {
		d.Subject = f.UserID
	}
	return d
}

func decideRules(f store.CheckFacts) Decision {
	switch {
	case !f.Enforcement:
		return Decision{Allowed: true, Reason: ReasonNotEnforced}
	case f.UserID == "":
		return Decision{Reason: ReasonUnknownUser}
	case f.UserDisabled:
		return Decision{Reason: ReasonDisabled}
	case f.ExemptGroupID != "" && f.Exempt:
		return Decision{Allowed: true, Reason: ReasonExempt}
	case f.TaskID == "":
		return Decision{Reason: ReasonUnknownTask}
	case f.GrantID == "":
		return Decision{Reason: ReasonNoGrant}
	}
	return Decision{Allowed: true, Reason: ReasonGrant, RequestID: f.GrantID, ExpiresAt: f.GrantEndsAt}
}
