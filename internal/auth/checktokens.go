package auth

import (
	"context"
	"strings"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// checkTokenPrefix tells a target system's token from a person's API token at a glance.
const checkTokenPrefix = "elvc_"

// CreateCheckToken makes a token for one target system and returns its secret, shown only
// once. Callers are administrators (the admin pages) or the operator's shell (actor "cli").
func (s *Service) CreateCheckToken(ctx context.Context, name string, actor audit.Actor) (pam.CheckToken, string, error) {
	name, err := pam.ValidateTitle("name", name)
	if err != nil {
		return pam.CheckToken{}, "", err
	}
	secret, _ := NewToken()
	secret = checkTokenPrefix + secret
	t := pam.CheckToken{ID: uuid.NewString(), Name: name, CreatedBy: actor.Name, CreatedAt: s.now()}
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateCheckToken(ctx, t, HashToken(secret)); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.CheckTokenCreated, "token", t.ID, map[string]any{"name": name}))
	})
	return t, secret, err
}

// RevokeCheckToken ends a check token, for the reason the administrator gives (its audit event
// keeps it; EINVALID on the reason field without one); the system's next check with it is
// refused.
func (s *Service) RevokeCheckToken(ctx context.Context, id string, actor audit.Actor, reason string) (pam.CheckToken, error) {
	reason, err := pam.ActionReason(reason, "Say why you revoke this token; the audit trail keeps it.")
	if err != nil {
		return pam.CheckToken{}, err
	}
	var t pam.CheckToken
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		if t, err = tx.RevokeCheckToken(ctx, id, actor.Name, s.now()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.CheckTokenRevoked, "token", t.ID, map[string]any{"name": t.Name, "reason": reason}))
	})
	return t, err
}

// CheckTokens lists the check tokens with their last use (bounded).
func (s *Service) CheckTokens(ctx context.Context) ([]pam.CheckToken, error) {
	return s.db.CheckTokens(ctx, 200)
}

// ErrAPITokenOnCheck refuses a person's API token on the check API.
var ErrAPITokenOnCheck = pam.Errorf(pam.EFORBIDDEN, "This is an API token; the check API takes only check tokens, which administrators make for target systems at /admin/check-tokens.")

// ErrCheckTokenOnAPI refuses a check token anywhere but the check API.
var ErrCheckTokenOnAPI = pam.Errorf(pam.EFORBIDDEN, "This is a check token; it may only call POST /api/v1/check.")

// errCheckTokenUnknown is the refusal of a secret that opens no check.
var errCheckTokenUnknown = pam.Errorf(pam.ENOTFOUND, "The check token is missing, unknown or revoked.")

// CheckTokenHash returns the hash under which a check token with this secret is stored, or
// false when no check token can have it. Check tokens made before they had their own prefix
// kept their secrets, so both prefixes pass.
func CheckTokenHash(secret string) (string, bool) {
	if !strings.HasPrefix(secret, tokenPrefix) && !strings.HasPrefix(secret, checkTokenPrefix) {
		return "", false
	}
	return HashToken(secret), true
}

// RefuseCheckToken says why a secret that names no live check token is refused: a live API
// token is ErrAPITokenOnCheck (403), anything else ENOTFOUND (401). It reads only the API
// tokens, and only for a secret with their prefix: the check itself looked for a check token.
func (s *Service) RefuseCheckToken(ctx context.Context, secret string) error {
	if strings.HasPrefix(secret, tokenPrefix) {
		if _, err := s.db.APITokenByHash(ctx, HashToken(secret)); err == nil {
			return ErrAPITokenOnCheck
		}
	}
	return errCheckTokenUnknown
}

// AuthenticateCheckToken resolves a bearer secret to a live check token. An unknown secret is
// ENOTFOUND (401); a live API token is ErrAPITokenOnCheck (403). It writes nothing: a token's
// last use is read from its newest check event. The check API reads the token with its
// decision instead (access.CheckByToken).
func (s *Service) AuthenticateCheckToken(ctx context.Context, secret string) (pam.CheckToken, error) {
	hash, ok := CheckTokenHash(secret)
	if !ok {
		return pam.CheckToken{}, errCheckTokenUnknown
	}
	t, err := s.db.CheckTokenByHash(ctx, hash)
	if pam.ErrorCode(err) == pam.ENOTFOUND {
		return pam.CheckToken{}, s.RefuseCheckToken(ctx, secret)
	}
	return t, err
}
