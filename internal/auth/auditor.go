package auth

import (
	"context"
	"fmt"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// SetAuditor gives (on) or takes (off) a user's auditor flag, which lets them read the audit
// trail and change nothing, and records the change on the trail in the same transaction.
func (s *Service) SetAuditor(ctx context.Context, email string, on bool, actor audit.Actor) (pam.User, error) {
	email, err := pam.NormalizeEmail(email)
	if err != nil {
		return pam.User{}, err
	}
	var u pam.User
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		if u, _, err = tx.UserByEmail(ctx, email); err != nil {
			return err
		}
		if err := tx.SetUserAuditor(ctx, u.ID, on, s.now()); err != nil {
			return err
		}
		u.Auditor = on
		action := audit.UserAuditorGranted
		if !on {
			action = audit.UserAuditorRevoked
		}
		return tx.AppendAudit(ctx, actor.Event(action, "user", string(u.ID), map[string]any{"email": u.Email}))
	})
	if err != nil {
		return pam.User{}, fmt.Errorf("set auditor %s: %w", email, err)
	}
	return u, nil
}
