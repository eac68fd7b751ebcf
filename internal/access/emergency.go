package access

import (
	"context"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// ErrEmergencyStepUp refuses an emergency request made without a fresh two-step verification
// code (EmergencySubmission.SteppedUp): break-glass access is only for people enrolled in two-step
// verification, who prove it at the moment they take it. Nothing was written.
var ErrEmergencyStepUp = pam.Errorf(pam.EFORBIDDEN, "Emergency access asks for a fresh two-step verification code.")

// emergencyLength is how long an emergency grant under the policy to ask lasts: its emergency
// length, cut to the organisation's ceiling.
func emergencyLength(ask store.PolicyToAsk) time.Duration {
	return min(ask.Policy.EmergencyLength(), ask.MaxDuration)
}

// SubmitEmergency takes emergency (break-glass) access under a policy that allows it: the request
// is approved at once by the system, emergency = true, for the policy's emergency duration, and
// every approver and the organisation's security address are mailed in the same transaction.
// The policy's row is locked first, so of two emergency requests by one person under one policy
// the second sees the first and is refused (ECONFLICT) while the first is open.
func (s *Service) SubmitEmergency(ctx context.Context, a audit.Actor, u pam.User, policyID string, sub pam.EmergencySubmission) (pam.Request, error) {
	now := s.now()
	var r pam.Request
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		if err := tx.LockPolicy(ctx, policyID); err != nil {
			if pam.ErrorCode(err) == pam.ENOTFOUND {
				return pam.Errorf(pam.ENOTFOUND, "You cannot ask for this; its policy is disabled or gone.")
			}
			return err
		}
		ask, err := s.eligiblePolicy(ctx, tx, u, policyID)
		if err != nil {
			return err
		}
		p := ask.Policy
		if !p.EmergencyAllowed {
			return pam.Errorf(pam.EFORBIDDEN, "This policy does not allow emergency access; ask for it the usual way.")
		}
		if err := sub.Validate(p); err != nil {
			return err
		}
		if open, err := tx.OpenEmergency(ctx, u.ID, p.ID, now); err != nil {
			return err
		} else if open != "" {
			return pam.Errorf(pam.ECONFLICT, "You already have emergency access under this policy; it must end before you take it again.")
		}
		// Asked last, so a person is not sent for a code only to be refused for something else.
		if !sub.SteppedUp {
			return ErrEmergencyStepUp
		}
		length := emergencyLength(ask)
		r = pam.Request{
			ID: uuid.NewString(), RequesterID: u.ID, RequesterName: u.Name, RequesterEmail: u.Email, PolicyID: p.ID,
			ScopeType: p.ScopeType, ScopeID: p.ScopeID, ScopeName: p.ScopeName, ApprovalType: p.ApprovalType,
			ApproverGroupID: approverGroup(ask), ApprovalsRequired: p.ApprovalsRequired, Duration: length,
			Justification: sub.Justification, Ticket: sub.Ticket, Status: pam.StatusPending, CreatedAt: now,
			PendingUntil: now, Emergency: true, Version: 1,
		}
		of := audienceOf(r)
		of.ApproverGroup, of.Approvers = r.ApproverGroupID, ChangeApprovers
		aud, err := tx.Audience(ctx, of)
		if err != nil {
			return err
		}
		approvers := approversBut(aud.Approvers, u.ID)
		if len(approvers) == 0 {
			// Nobody could review it afterwards: fail closed.
			return pam.Errorf(pam.EINVALID, "Nobody could review this emergency access afterwards: its approver group has no members besides you. Ask an administrator to fix the policy for %s.", p.ScopeName)
		}
		if err := r.GrantEmergency(length, now); err != nil {
			return err
		}
		if err := tx.CreateRequest(ctx, r); err != nil {
			return err
		}
		if err := s.record(ctx, tx, a, audit.RequestCreated, r, map[string]any{"policy_id": p.ID, "emergency": true}); err != nil {
			return err
		}
		if err := s.record(ctx, tx, audit.System, audit.RequestEmergencyGranted, r, map[string]any{"emergency": true}); err != nil {
			return err
		}
		if s.notify == nil {
			return nil
		}
		c, err := changeOf(ctx, tx, aud, r, audit.RequestEmergencyGranted, audit.System)
		if err != nil {
			return err
		}
		c.Approvers = approvers
		org, err := tx.OrgSettings(ctx)
		if err != nil {
			return err
		}
		c.SecurityEmail = org.SecurityEmail
		return s.notify.RequestChanged(ctx, tx, c)
	})
	if err != nil {
		return pam.Request{}, fmt.Errorf("submit emergency request: %w", err)
	}
	return r, nil
}

// ReviewEmergency records the after-the-fact review of an emergency request: outcome
// pam.EmergencyConfirmed, or pam.EmergencyMisuse with a reason, which also revokes the grant
// (and its extensions, see closeChain) when it is still approved. Only an enabled approver of the
// request, never its requester, may review it, once: the review's primary key settles two
// reviewers at once, and the request row is locked while it is made.
func (s *Service) ReviewEmergency(ctx context.Context, a audit.Actor, u pam.User, requestID, outcome, reason string) (pam.Request, error) {
	var r pam.Request
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		var member bool
		if r, member, err = lockVisible(ctx, tx, u, requestID); err != nil {
			return err
		}
		now := s.now()
		revoke, err := r.ReviewEmergency(u.ID, member && u.Active(), outcome, reason, now)
		if err != nil {
			return err
		}
		r.EmergencyReview.ReviewerName = u.Name
		if err := tx.AddEmergencyReview(ctx, r.ID, *r.EmergencyReview); err != nil {
			return err
		}
		action := audit.RequestEmergencyConfirmed
		if outcome == pam.EmergencyMisuse {
			action = audit.RequestMisuseReported
		}
		if err := s.record(ctx, tx, a, action, r, map[string]any{"outcome": outcome, "reason": r.EmergencyReview.Reason, "revoked": revoke}); err != nil {
			return err
		}
		if revoke {
			if err := r.Revoke(u.ID, true, pam.MisuseReason(r.EmergencyReview.Reason), now); err != nil {
				return err
			}
			if err := s.closeChain(ctx, tx, a, &r, audit.RequestRevoked, map[string]any{"reason": r.RevokeReason, "misuse": true}, now); err != nil {
				return err
			}
		}
		return s.notifyReviewed(ctx, tx, a, r, action, u.ID)
	})
	if err != nil {
		return pam.Request{}, fmt.Errorf("review emergency request %s: %w", requestID, err)
	}
	return r, nil
}

// notifyReviewed tells of an emergency request's review (action) those who heard of the grant:
// the organisation's security address and the approvers who were asked to review it, except
// the reviewer. It runs after a misuse's revoke, so the message says whether access was ended.
func (s *Service) notifyReviewed(ctx context.Context, tx *store.Store, a audit.Actor, r pam.Request, action audit.Action, reviewer pam.UserID) error {
	if s.notify == nil {
		return nil
	}
	of := audienceOf(r)
	of.ApproverGroup, of.Approvers = r.ApproverGroupID, ChangeApprovers
	aud, err := tx.Audience(ctx, of)
	if err != nil {
		return err
	}
	c, err := changeOf(ctx, tx, aud, r, action, a)
	if err != nil {
		return err
	}
	c.Approvers = approversBut(approversBut(aud.Approvers, r.RequesterID), reviewer)
	org, err := tx.OrgSettings(ctx)
	if err != nil {
		return err
	}
	c.SecurityEmail = org.SecurityEmail
	return s.notify.RequestChanged(ctx, tx, c)
}

// UnreviewedEmergencies lists every emergency request not yet reviewed, newest first (at most
// limit), for the admin dashboard.
func (s *Service) UnreviewedEmergencies(ctx context.Context, limit int) ([]pam.Request, error) {
	return s.db.UnreviewedEmergencies(ctx, limit)
}
