package access

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// DelegationsShown bounds the delegations the admin page lists at once.
const DelegationsShown = 100

func delegationDetails(d pam.Delegation) map[string]any {
	return map[string]any{
		"principal_id": string(d.PrincipalID), "principal": d.PrincipalEmail,
		"delegate_id": string(d.DelegateID), "delegate": d.DelegateEmail,
		"starts_at": d.StartsAt.UTC().Format(time.RFC3339), "ends_at": d.EndsAt.UTC().Format(time.RFC3339),
	}
}

// recordDelegation appends the event of a change to d; a reason, when given, goes into its
// details.
func (s *Service) recordDelegation(ctx context.Context, tx *store.Store, a audit.Actor, action audit.Action, d pam.Delegation, reason string) error {
	details := delegationDetails(d)
	if reason != "" {
		details["reason"] = reason
	}
	ev := a.Event(action, "delegation", d.ID, details)
	ev.At = s.now()
	return tx.AppendAudit(ctx, ev)
}

// Delegate names, for the approver u, the enabled person with email delegateEmail to decide
// in their place from start until end (pam.Delegation.Validate). One transaction: the
// delegation and its event. A second one while one is in force or scheduled is EINVALID on
// the delegate field (the database's unique index settles two at once).
func (s *Service) Delegate(ctx context.Context, a audit.Actor, u pam.User, delegateEmail string, start, end time.Time) (pam.Delegation, error) {
	now := s.now()
	d := pam.Delegation{ID: uuid.NewString(), PrincipalID: u.ID, PrincipalName: u.Name, PrincipalEmail: u.Email,
		StartsAt: start.UTC(), EndsAt: end.UTC(), CreatedAt: now}
	if !u.Active() {
		return d, pam.Errorf(pam.EFORBIDDEN, "Your account is disabled.")
	}
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		// The dates are checked even when the delegate cannot be found, so the form tells
		// every problem at once.
		var ps pam.Problems
		var delegate pam.User
		if email, err := pam.NormalizeEmail(delegateEmail); err != nil {
			ps.Add(pam.FieldError("delegate", "Enter the email address of the person who decides for you."))
		} else if delegate, _, err = tx.UserByEmail(ctx, email); pam.ErrorCode(err) == pam.ENOTFOUND {
			ps.Add(pam.FieldError("delegate", "Nobody with that email address uses Elevate."))
		} else {
			ps.Add(err)
		}
		d.DelegateID, d.DelegateName, d.DelegateEmail = delegate.ID, delegate.Name, delegate.Email
		ps.Add(d.Validate(delegate, now))
		if err := ps.Err(); err != nil {
			return err
		}
		if err := tx.CreateDelegation(ctx, d, u.ID, now); err != nil {
			return err
		}
		return s.recordDelegation(ctx, tx, a, audit.DelegationCreated, d, "")
	})
	if err != nil {
		return d, fmt.Errorf("delegate: %w", err)
	}
	return d, nil
}

// EndDelegation ends u's own delegation in force or scheduled now: one click, like ending
// one's own grant. Audited in the same transaction; ENOTFOUND for anyone else's, an
// administrator's included (EndDelegationBecause is theirs).
func (s *Service) EndDelegation(ctx context.Context, a audit.Actor, u pam.User, id string) (pam.Delegation, error) {
	return s.endDelegation(ctx, a, u, id, func(d pam.Delegation) (string, error) {
		if d.PrincipalID != u.ID {
			return "", pam.Errorf(pam.ENOTFOUND, "Delegation not found.")
		}
		return "", nil
	})
}

// EndDelegationBecause lets an enabled administrator end any delegation in force or scheduled
// now. Ending someone else's takes their delegate's say away, so, like the other changes that
// take access away, it needs a reason (EINVALID on the reason field without one), which the
// audit event keeps; their own needs none. ENOTFOUND for anyone but an administrator.
func (s *Service) EndDelegationBecause(ctx context.Context, a audit.Actor, u pam.User, id, reason string) (pam.Delegation, error) {
	return s.endDelegation(ctx, a, u, id, func(d pam.Delegation) (string, error) {
		switch {
		case !u.Admin:
			return "", pam.Errorf(pam.ENOTFOUND, "Delegation not found.")
		case d.PrincipalID == u.ID && strings.TrimSpace(reason) == "":
			return "", nil
		}
		return pam.ActionReason(reason, "Say why you end this delegation; the audit trail keeps it.")
	})
}

// endDelegation ends delegation id when allowed, shown it as read in the transaction that ends
// it, lets it; allowed returns the reason the audit event keeps ("" for none).
func (s *Service) endDelegation(ctx context.Context, a audit.Actor, u pam.User, id string, allowed func(pam.Delegation) (string, error)) (pam.Delegation, error) {
	var d pam.Delegation
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		if d, err = tx.DelegationByID(ctx, id); err != nil {
			return err
		}
		if !u.Active() {
			return pam.Errorf(pam.ENOTFOUND, "Delegation not found.")
		}
		reason, err := allowed(d)
		if err != nil {
			return err
		}
		if d, err = tx.EndDelegation(ctx, id, u.ID, s.now()); err != nil {
			return err
		}
		return s.recordDelegation(ctx, tx, a, audit.DelegationEnded, d, reason)
	})
	if err != nil {
		return d, fmt.Errorf("end delegation %s: %w", id, err)
	}
	return d, nil
}

// MyDelegations returns, in one read, u's own delegation in force or scheduled (nil when
// none) and those others gave u (at most DelegationsShown), soonest end first.
func (s *Service) MyDelegations(ctx context.Context, u pam.User) (*pam.Delegation, []pam.Delegation, error) {
	ds, err := s.db.DelegationsOf(ctx, u.ID, s.now(), DelegationsShown+1)
	if err != nil {
		return nil, nil, err
	}
	var mine *pam.Delegation
	var toMe []pam.Delegation
	for i := range ds {
		if ds[i].PrincipalID == u.ID {
			mine = &ds[i]
		} else {
			toMe = append(toMe, ds[i])
		}
	}
	return mine, toMe, nil
}

// OpenDelegations lists every delegation in force or scheduled, soonest end first, after the
// cursor; admins only (others get EFORBIDDEN).
func (s *Service) OpenDelegations(ctx context.Context, u pam.User, after *pam.Cursor) ([]pam.Delegation, error) {
	if !u.Admin || !u.Active() {
		return nil, pam.Errorf(pam.EFORBIDDEN, "Only administrators see every delegation.")
	}
	return s.db.OpenDelegations(ctx, "", s.now(), after, DelegationsShown)
}

// Now is the service's clock, for pages that show delegations relative to it.
func (s *Service) Now() time.Time { return s.now() }
