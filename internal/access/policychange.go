package access

import (
	"time"

	"context"
	"fmt"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// This file carries changes of policies, groups and users to the requests they reach, inside the
// transaction of the change (SPEC, Decisions, States): a changed approver group or quorum applies
// to the requests still pending at their next review; a disabled or deleted policy cancels its
// pending requests ("policy disabled"); whoever leaves an eligible group has their pending
// requests cancelled ("no longer eligible") and their grants revoked by the system. Each request
// it changes is locked, saved at its version, audited and mailed as any other transition.

// reachBatch bounds how many requests one read of a change's reach returns; a change works
// through its reach batch by batch, in its own transaction.
const reachBatch = 200

// markLapsed marks the reviews of r whose reviewer (or, for a delegate's review, the approver it
// was made for) is no longer an approver of it, as read with the request (pam.Review.
// StillApprover: an enabled member of its approver group as it is now, or of its escalation
// group once it was escalated): their approvals no longer count (pam.Review.Lapsed). Who may
// decide is worked out here alone, when a request is reviewed or shown.
func markLapsed(r *pam.Request) {
	for i := range r.Reviews {
		r.Reviews[i].Lapsed = !r.Reviews[i].StillApprover
	}
}

// effectiveGroup is who decides under p: its own approver group, else the organisation's default.
func effectiveGroup(p pam.Policy, defaultGroup string) string {
	if p.ApproverGroupID != "" {
		return p.ApproverGroupID
	}
	return defaultGroup
}

// actorName is how the request page names who made a change: a person's name, else the actor's.
func actorName(ctx context.Context, tx *store.Store, a audit.Actor) string {
	if a.Type == audit.ActorUser && a.ID != "" {
		if u, err := tx.UserByID(ctx, pam.UserID(a.ID)); err == nil {
			return u.Name
		}
	}
	return a.Name
}

// PolicyEdited carries a saved edit of a policy (before → after) to the requests under it, in
// the edit's transaction tx, and returns what goes on the edit's audit event. Disabling the
// policy cancels its pending requests ("policy disabled"). A new approver group (its own, or the
// default's when it has none) or quorum reaches the requests still pending, recorded for their
// page as a pam.RuleChange; it decides none of them. So does a new escalation group (or none):
// the requests pending under it escalate to the new group, those already escalated again
// (store.ReachEscalation). A new "Escalate after" (with escalation before and after) or reminder delay moves when the
// requests not yet escalated or reminded do so, counted from when each was asked
// (store.RetimePending); the pending timeout never moves. A new eligible group cancels the pending
// requests and revokes the grants of requesters outside it ("no longer eligible", by the system).
func (s *Service) PolicyEdited(ctx context.Context, tx *store.Store, a audit.Actor, before, after pam.Policy, defaultGroup string) (map[string]any, error) {
	out := map[string]any{}
	if before.Enabled && !after.Enabled {
		n, err := s.cancelUnderPolicy(ctx, tx, a, after.ID)
		if err != nil {
			return nil, err
		}
		out["pending_cancelled"] = n
	}
	if after.EligibleGroupID != "" && after.EligibleGroupID != before.EligibleGroupID {
		c, r, err := s.endOpen(ctx, tx, "No longer eligible: the policy's eligible group changed.", func(limit int) ([]string, error) {
			return tx.OpenNotEligible(ctx, after.ID, after.EligibleGroupID, s.now(), limit)
		})
		if err != nil {
			return nil, err
		}
		out["not_eligible_cancelled"], out["not_eligible_revoked"] = c, r
	}
	var changes []pam.RuleChange
	now, by := s.now(), actorName(ctx, tx, a)
	if g0, g1 := effectiveGroup(before, defaultGroup), effectiveGroup(after, defaultGroup); g0 != g1 {
		changes = append(changes, pam.RuleChange{PolicyID: after.ID, Rule: pam.RuleApproverGroup,
			From: tx.GroupName(ctx, g0), To: tx.GroupName(ctx, g1), ActorName: by, At: now})
	}
	if before.ApprovalsRequired != after.ApprovalsRequired {
		changes = append(changes, pam.RuleChange{PolicyID: after.ID, Rule: pam.RuleApprovalsRequired,
			From: fmt.Sprint(before.ApprovalsRequired), To: fmt.Sprint(after.ApprovalsRequired), ActorName: by, At: now})
	}
	if len(changes) > 0 {
		n, err := s.reachPending(ctx, tx, after, effectiveGroup(after, defaultGroup), changes)
		if err != nil {
			return nil, err
		}
		out["pending_reached"] = n
	}
	// A new delay first, so a new group (below) keeps it for the requests not yet escalated.
	if e0, e1 := escalationGroup(before), escalationGroup(after); e0 != "" && e1 != "" && before.EscalateAfter != after.EscalateAfter {
		c := pam.RuleChange{PolicyID: after.ID, Rule: pam.RuleEscalateAfter,
			From: pam.FormatDuration(before.EscalateAfter), To: pam.FormatDuration(after.EscalateAfter), ActorName: by, At: now}
		n, err := s.retime(ctx, tx, c, store.Escalation, func(created, _ time.Time) *time.Time {
			at := created.Add(after.EscalateAfter)
			return &at
		})
		if err != nil {
			return nil, err
		}
		out["escalation_retimed"] = n
	}
	if e0, e1 := escalationGroup(before), escalationGroup(after); e0 != e1 {
		c := pam.RuleChange{PolicyID: after.ID, Rule: pam.RuleEscalationGroup,
			From: tx.GroupName(ctx, e0), To: tx.GroupName(ctx, e1), ActorName: by, At: now}
		if err := tx.AddRuleChange(ctx, c); err != nil {
			return nil, fmt.Errorf("record rule change of policy %s: %w", after.ID, err)
		}
		n, err := tx.ReachEscalation(ctx, after.ID, e1, after.EscalateAfter, now)
		if err != nil {
			return nil, fmt.Errorf("reach pending escalations of policy %s: %w", after.ID, err)
		}
		out["escalation_reached"] = n
	}
	if before.ApprovalType == pam.ApprovalManual && after.ApprovalType == pam.ApprovalManual && before.RemindAfter != after.RemindAfter {
		c := pam.RuleChange{PolicyID: after.ID, Rule: pam.RuleReminder, From: reminderLabel(before.RemindAfter), To: reminderLabel(after.RemindAfter),
			ActorName: by, At: now}
		n, err := s.retime(ctx, tx, c, store.Reminder, func(created, pendingUntil time.Time) *time.Time {
			return remindAt(after.RemindAfter, created, pendingUntil)
		})
		if err != nil {
			return nil, err
		}
		out["reminders_retimed"] = n
	}
	return out, nil
}

// retime records c and moves follow-up f of the requests pending under c's policy (RetimePending).
func (s *Service) retime(ctx context.Context, tx *store.Store, c pam.RuleChange, f store.FollowUp, at func(created, pendingUntil time.Time) *time.Time) (int64, error) {
	if err := tx.AddRuleChange(ctx, c); err != nil {
		return 0, fmt.Errorf("record rule change of policy %s: %w", c.PolicyID, err)
	}
	n, err := tx.RetimePending(ctx, c.PolicyID, f, at)
	if err != nil {
		return 0, fmt.Errorf("retime pending requests of policy %s: %w", c.PolicyID, err)
	}
	return n, nil
}

// remindAt is when a request asked at created and timing out at pendingUntil reminds its
// approvers under a policy's remindAfter (pam.Policy.RemindAfter): nil for none, halfway to its
// own timeout by default (the policy's timeout when it was asked, as at submission).
func remindAt(remindAfter time.Duration, created, pendingUntil time.Time) *time.Time {
	d := remindAfter
	switch {
	case remindAfter == pam.NoReminder:
		return nil
	case remindAfter == 0:
		d = (pendingUntil.Sub(created) / 2).Truncate(time.Minute)
	}
	at := created.Add(d)
	return &at
}

// reminderLabel says a policy's RemindAfter for a rule change: "" (none), "halfway to the
// timeout", or "after 2 h".
func reminderLabel(remindAfter time.Duration) string {
	switch {
	case remindAfter == pam.NoReminder:
		return ""
	case remindAfter == 0:
		return "halfway to the timeout"
	}
	return "after " + pam.FormatDuration(remindAfter)
}

// escalationGroup is the group requests under p escalate to; "" when they do not escalate. It
// reads the escalation fields alone: a policy made automatic keeps its pending requests manual,
// and their escalation with them, unless its escalation changed too.
func escalationGroup(p pam.Policy) string {
	if p.EscalationGroupID == "" || p.EscalateAfter <= 0 {
		return ""
	}
	return p.EscalationGroupID
}

// reachPending gives the requests pending under p the rules it has now and records changes.
func (s *Service) reachPending(ctx context.Context, tx *store.Store, p pam.Policy, groupID string, changes []pam.RuleChange) (int64, error) {
	for _, c := range changes {
		if err := tx.AddRuleChange(ctx, c); err != nil {
			return 0, fmt.Errorf("record rule change of policy %s: %w", p.ID, err)
		}
	}
	n, err := tx.ReachPending(ctx, p.ID, groupID, p.ApprovalsRequired)
	if err != nil {
		return 0, fmt.Errorf("reach pending requests of policy %s: %w", p.ID, err)
	}
	return n, nil
}

// DefaultApproversChanged carries a new default approver group of the organisation to the
// requests pending under the policies that have no approver group of their own, in the
// settings change's transaction tx, recording the change for each such policy.
func (s *Service) DefaultApproversChanged(ctx context.Context, tx *store.Store, a audit.Actor, before, after string) (map[string]any, error) {
	if before == after {
		return nil, nil
	}
	pols, err := tx.PoliciesOnDefaultApprovers(ctx, 1000)
	if err != nil {
		return nil, err
	}
	now, by := s.now(), actorName(ctx, tx, a)
	from, to := tx.GroupName(ctx, before), tx.GroupName(ctx, after)
	var total int64
	for _, p := range pols {
		n, err := s.reachPending(ctx, tx, p, after, []pam.RuleChange{{PolicyID: p.ID, Rule: pam.RuleApproverGroup, From: from, To: to, ActorName: by, At: now}})
		if err != nil {
			return nil, err
		}
		total += n
	}
	return map[string]any{"pending_reached": total}, nil
}

// PolicyRemoved ends what a policy being deleted leaves behind, in the deletion's transaction
// tx: its pending requests are cancelled ("policy disabled"), and, when revokeGrants is set, its
// grants in force or scheduled are revoked by the actor (as Revoke does, chain and all).
func (s *Service) PolicyRemoved(ctx context.Context, tx *store.Store, a audit.Actor, p pam.Policy, revokeGrants bool) (map[string]any, error) {
	// Pending first: a request approved before its cancel could lock it is a grant by then, and
	// the revoke below finds it.
	n, err := s.cancelUnderPolicy(ctx, tx, a, p.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"pending_cancelled": n}
	if revokeGrants {
		n, err := s.revokeUnderPolicy(ctx, tx, a, pam.UserID(a.ID), p.ID, "Its policy for "+p.ScopeName+" was deleted.")
		if err != nil {
			return nil, err
		}
		out["grants_revoked"] = n
	}
	return out, nil
}

// GrantsUnderPolicy counts the grants under a policy in force or scheduled now, read through db
// (a transaction's handle inside one).
func (s *Service) GrantsUnderPolicy(ctx context.Context, db *store.Store, policyID string) (int64, error) {
	if db == nil {
		db = s.db
	}
	return db.CountGrantsUnderPolicy(ctx, policyID, s.now())
}

// RevokeUnderPolicy revokes every grant under a policy that is in force or scheduled, by an
// administrator with a reason, in one transaction (each revoke as Revoke makes it: its chain,
// its audit event and mail). It reports how many it revoked.
func (s *Service) RevokeUnderPolicy(ctx context.Context, a audit.Actor, u pam.User, policyID, reason string) (int, error) {
	if !u.Admin || !u.Active() {
		return 0, pam.Errorf(pam.EFORBIDDEN, "Only an administrator can revoke every grant under a policy.")
	}
	// Checked before any grant is read: with none to revoke, a bad reason is still refused.
	reason, err := pam.RevokeAllReason(reason)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.Tx(ctx, func(tx *store.Store) error {
		if _, err := tx.PolicyByID(ctx, policyID); err != nil {
			return err
		}
		var err error
		n, err = s.revokeUnderPolicy(ctx, tx, a, u.ID, policyID, reason)
		return err
	}); err != nil {
		return 0, fmt.Errorf("revoke grants under policy %s: %w", policyID, err)
	}
	return n, nil
}

// LeftGroup ends what a user's leaving a group takes away, in the change's transaction tx: their
// requests still open under the policies whose eligible group it is are cancelled when pending
// and revoked when granted ("no longer eligible"), by the system.
func (s *Service) LeftGroup(ctx context.Context, tx *store.Store, groupID string, user pam.UserID) (map[string]any, error) {
	reason := pam.RevokeLeftGroup
	if groupID == "" {
		reason = pam.RevokeDisabled
	}
	c, r, err := s.endOpen(ctx, tx, reason, func(limit int) ([]string, error) { return tx.OpenOf(ctx, user, groupID, s.now(), limit) })
	if err != nil {
		return nil, err
	}
	return map[string]any{"pending_cancelled": c, "grants_revoked": r}, nil
}

// OpenThroughGroup counts what LeftGroup would end now for user and group, read through db
// (nil: outside a transaction): pending requests it would cancel and grants it would revoke.
func (s *Service) OpenThroughGroup(ctx context.Context, db *store.Store, groupID string, user pam.UserID) (pending, grants int64, err error) {
	if db == nil {
		db = s.db
	}
	return db.CountOpenOf(ctx, user, groupID, s.now())
}

// UserDisabled ends everything a disabled user still had open, in the change's transaction tx,
// as LeftGroup does for one group: a disabled user is eligible for nothing.
func (s *Service) UserDisabled(ctx context.Context, tx *store.Store, user pam.UserID) (map[string]any, error) {
	return s.LeftGroup(ctx, tx, "", user)
}

// cancelUnderPolicy cancels the requests pending under a policy ("policy disabled"), batch by
// batch, by the actor who disabled or deleted it.
func (s *Service) cancelUnderPolicy(ctx context.Context, tx *store.Store, a audit.Actor, policyID string) (int, error) {
	return s.eachOf(ctx, func(limit int) ([]string, error) { return tx.PendingUnderPolicy(ctx, policyID, s.now(), limit) }, func(id string) (bool, error) {
		return s.cancelOne(ctx, tx, a, id, pam.CancelPolicyDisabled)
	})
}

// revokeUnderPolicy revokes the grants under a policy in force or scheduled, batch by batch.
func (s *Service) revokeUnderPolicy(ctx context.Context, tx *store.Store, a audit.Actor, by pam.UserID, policyID, reason string) (int, error) {
	return s.eachOf(ctx, func(limit int) ([]string, error) { return tx.GrantsUnderPolicy(ctx, policyID, s.now(), limit) }, func(id string) (bool, error) {
		return s.revokeOne(ctx, tx, a, by, id, reason)
	})
}

// endOpen cancels ("no longer eligible") or revokes, by the system and for reason, the open
// requests next returns, batch by batch; it reports how many it cancelled and revoked.
func (s *Service) endOpen(ctx context.Context, tx *store.Store, reason string, next func(limit int) ([]string, error)) (cancelled, revoked int, err error) {
	_, err = s.eachOf(ctx, next, func(id string) (bool, error) {
		st, err := s.endIneligible(ctx, tx, id, reason)
		switch st {
		case pam.StatusCancelled:
			cancelled++
		case pam.StatusRevoked:
			revoked++
		}
		return st != "", err
	})
	return cancelled, revoked, err
}

// endIneligible cancels ("no longer eligible") or revokes, by the system and for reason, one
// open request, and returns the state it gave it ("" when it was no longer open).
func (s *Service) endIneligible(ctx context.Context, tx *store.Store, id, reason string) (pam.Status, error) {
	r, err := tx.LockRequest(ctx, id)
	if err != nil {
		return "", err
	}
	var ok bool
	var to pam.Status
	switch r.StatusAt(s.now()) {
	case pam.StatusPending:
		ok, err = s.cancelOne(ctx, tx, audit.System, id, pam.CancelNoLongerEligible)
		to = pam.StatusCancelled
	case pam.StatusApproved:
		ok, err = s.revokeOne(ctx, tx, audit.System, pam.SystemID, id, reason)
		to = pam.StatusRevoked
	}
	if !ok {
		return "", err
	}
	return to, err
}

// eachOf applies do to the ids next returns, batch after batch, until a batch brings nothing
// new (do changes what next selects, so each batch is the next one).
func (s *Service) eachOf(ctx context.Context, next func(limit int) ([]string, error), do func(id string) (bool, error)) (int, error) {
	seen, done := map[string]bool{}, 0
	for {
		ids, err := next(reachBatch)
		if err != nil {
			return done, err
		}
		fresh := false
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id], fresh = true, true
			ok, err := do(id)
			if err != nil {
				return done, err
			}
			if ok {
				done++
			}
		}
		if !fresh {
			return done, nil
		}
	}
}

// cancelOne cancels one pending request for reason, audited and mailed; false when it was no
// longer pending.
func (s *Service) cancelOne(ctx context.Context, tx *store.Store, a audit.Actor, id string, reason pam.CancelReason) (bool, error) {
	r, err := tx.LockRequest(ctx, id)
	if err != nil {
		return false, err
	}
	if err := r.Cancel(reason, s.now()); err != nil {
		if pam.ErrorCode(err) == pam.ECONFLICT {
			return false, nil
		}
		return false, err
	}
	return true, s.saveStep(ctx, tx, a, &r, audit.RequestCancelled, map[string]any{"reason": string(reason), "policy_id": r.PolicyID}, true)
}

// revokeOne revokes one grant with its chain, as Revoke does; false when it was no longer in
// force or scheduled (a chain revoked with its grant, say).
func (s *Service) revokeOne(ctx context.Context, tx *store.Store, a audit.Actor, by pam.UserID, id, reason string) (bool, error) {
	r, err := tx.LockRequest(ctx, id)
	if err != nil {
		return false, err
	}
	now := s.now()
	if err := r.Revoke(by, true, reason, now); err != nil {
		if pam.ErrorCode(err) == pam.ECONFLICT {
			return false, nil
		}
		return false, err
	}
	return true, s.closeChain(ctx, tx, a, &r, audit.RequestRevoked, map[string]any{"reason": r.RevokeReason, "policy_id": r.PolicyID}, now)
}

// repairReach ends, one request per transaction, what a change of a policy or a requester should
// have ended and did not (store.OutOfReach): a pending request under a policy disabled or gone
// is cancelled ("policy disabled"); a request of a requester disabled or outside the policy's
// eligible group is cancelled or revoked ("no longer eligible"), by the system. Each is audited
// and mailed. Several processes may run it: the version check lets one record each.
func (s *Service) repairReach(ctx context.Context) (int, error) {
	ids, err := s.db.OutOfReach(ctx, s.now(), reachBatch)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, id := range ids {
		err := s.db.Tx(ctx, func(tx *store.Store) error {
			r, err := tx.LockRequest(ctx, id)
			if err != nil {
				return err
			}
			p, err := tx.PolicyByID(ctx, r.PolicyID)
			gone := pam.ErrorCode(err) == pam.ENOTFOUND
			if err != nil && !gone {
				return err
			}
			if r.StatusAt(s.now()) == pam.StatusPending && (gone || !p.Enabled) {
				ok, err := s.cancelOne(ctx, tx, audit.System, id, pam.CancelPolicyDisabled)
				if ok {
					done++
				}
				return err
			}
			st, err := s.endIneligible(ctx, tx, id, pam.RevokeIneligible)
			if st != "" {
				done++
			}
			return err
		})
		if err != nil && pam.ErrorCode(err) != pam.ECONFLICT {
			return done, fmt.Errorf("end request %s out of reach: %w", id, err)
		}
	}
	return done, nil
}
