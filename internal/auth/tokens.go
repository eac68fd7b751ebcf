package auth

import (
	"context"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// Token scopes. People mint only api tokens, which act as their owner on the JSON API. Check
// tokens (ScopeCheck) belong to target systems and live apart (see CreateCheckToken); the
// scope name remains for the rows made before they did.
const (
	ScopeCheck = "check"
	ScopeAPI   = "api"
)

// tokenPrefix makes Elevate tokens recognisable to secret scanners.
const tokenPrefix = "elv_"

// CreateAPIToken makes a named token for a user and returns its secret, shown only once.
func (s *Service) CreateAPIToken(ctx context.Context, u pam.User, name, scope string, actor audit.Actor) (pam.APIToken, string, error) {
	name, err := pam.ValidateTitle("name", name)
	if err != nil {
		return pam.APIToken{}, "", err
	}
	if scope == ScopeCheck {
		return pam.APIToken{}, "", pam.FieldError("scope", "Check tokens belong to target systems; an administrator makes them at /admin/check-tokens.")
	}
	if scope != ScopeAPI {
		return pam.APIToken{}, "", pam.FieldError("scope", "Choose api.")
	}
	secret, _ := NewToken()
	secret = tokenPrefix + secret
	t := pam.APIToken{ID: uuid.NewString(), UserID: u.ID, Name: name, Scope: scope, CreatedAt: s.now()}
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateAPIToken(ctx, t, HashToken(secret)); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.TokenCreated, "token", t.ID, map[string]any{"name": name, "scope": scope, "owner": u.Email}))
	})
	return t, secret, err
}

// RevokeAPIToken revokes one of the user's tokens; the next call with it is refused.
func (s *Service) RevokeAPIToken(ctx context.Context, u pam.User, id string, actor audit.Actor) error {
	return s.db.Tx(ctx, func(tx *store.Store) error {
		t, err := tx.RevokeAPIToken(ctx, u.ID, id, s.now())
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.TokenRevoked, "token", t.ID, map[string]any{"name": t.Name, "owner": u.Email}))
	})
}

// APITokens lists the user's tokens.
func (s *Service) APITokens(ctx context.Context, u pam.User) ([]pam.APIToken, error) {
	return s.db.APITokens(ctx, u.ID)
}

// AuthenticateToken resolves a bearer secret to its live token and enabled owner, with the
// frame the owner's calls pass through (read with the token in one statement, for this call
// only); anything else is ENOTFOUND (the API answers 401).
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (Viewer, pam.APIToken, error) {
	deny := pam.Errorf(pam.ENOTFOUND, "The API token is missing, unknown or revoked.")
	if !strings.HasPrefix(secret, tokenPrefix) && !strings.HasPrefix(secret, checkTokenPrefix) {
		return Viewer{}, pam.APIToken{}, deny
	}
	t, u, f, err := s.db.APITokenWithUser(ctx, HashToken(secret), RequireMFAEnrolmentKey)
	if err != nil {
		if pam.ErrorCode(err) == pam.ENOTFOUND {
			// Only on a refusal: say so when it is a check token used in the wrong place.
			if _, cerr := s.db.CheckTokenByHash(ctx, HashToken(secret)); cerr == nil {
				return Viewer{}, pam.APIToken{}, ErrCheckTokenOnAPI
			}
			return Viewer{}, pam.APIToken{}, deny
		}
		return Viewer{}, pam.APIToken{}, err
	}
	if !u.Active() {
		return Viewer{}, pam.APIToken{}, deny
	}
	// Record the use at most once a minute: a write on every call would cost the hot path.
	if now := s.now(); t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= time.Minute {
		if err := s.db.TouchAPIToken(ctx, t.ID, now); err != nil {
			return Viewer{}, pam.APIToken{}, err
		}
	}
	v := Viewer{User: u, Frame: Frame{Read: true, EnrolmentRequired: f.Enrolment == "true", Approver: f.Approver, MFAEnrolled: f.MFAEnrolled}}
	return v, t, nil
}
