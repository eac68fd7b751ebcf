// Package access holds the just-in-time access use cases: submitting, reviewing, withdrawing,
// revoking and extending requests, the sweeper, and the check that target systems call. Each
// change is one transaction: load (locking the request) → domain method → save → audit event.
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

// Service is the access use cases.
type Service struct {
	db     *store.Store
	now    func() time.Time
	notify Notifier
}

// New returns the access service.
func New(db *store.Store, now func() time.Time, n Notifier) *Service {
	return &Service{db: db, now: now, notify: n}
}

func requestDetails(r pam.Request, extra map[string]any) map[string]any {
	d := map[string]any{
		"scope_type": string(r.ScopeType), "scope": r.ScopeName, "status": string(r.Status),
		"duration_min": int(r.Duration / time.Minute), "justification": r.Justification, "ticket": r.Ticket,
		"approvals": r.Approvals(), "approvals_required": r.ApprovalsRequired,
	}
	if r.StartsAt != nil {
		d["starts_at"] = r.StartsAt.UTC().Format(time.RFC3339)
		d["ends_at"] = r.EndsAt.UTC().Format(time.RFC3339)
	}
	if r.ExtendsID != "" {
		d["extends"] = r.ExtendsID
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func (s *Service) record(ctx context.Context, tx *store.Store, a audit.Actor, action audit.Action, r pam.Request, extra map[string]any) error {
	ev := a.Event(action, "request", r.ID, requestDetails(r, extra))
	ev.At = s.now()
	ev.RequestID = r.ID
	return tx.AppendAudit(ctx, ev)
}

// saveStep is the end every transition of a request shares, inside its transaction: save the
// new state at the version it was read at (ECONFLICT when someone else changed it meanwhile),
// record the audit event, and, when notify is set, queue the mail and webhook deliveries of the
// same action.
func (s *Service) saveStep(ctx context.Context, tx *store.Store, a audit.Actor, r *pam.Request, action audit.Action, details map[string]any, notify bool) error {
	if err := tx.SaveTransition(ctx, *r); err != nil {
		return err
	}
	r.Version++
	if err := s.record(ctx, tx, a, action, *r, details); err != nil {
		return err
	}
	if !notify {
		return nil
	}
	return s.notifyTx(ctx, tx, *r, action, a)
}

// lockVisible locks a request for a change u asks for; ENOTFOUND when u may not see it, so a
// stranger learns nothing about it. It also reports whether u may decide it now (an enabled
// member of its approver group, or of its escalation group once escalated), read after the lock.
func lockVisible(ctx context.Context, tx *store.Store, u pam.User, id string) (pam.Request, bool, error) {
	r, member, err := tx.LockRequestFor(ctx, id, u.ID)
	if err != nil {
		return r, false, err
	}
	if !mayView(u, r, member) {
		return r, false, pam.Errorf(pam.ENOTFOUND, "Request not found.")
	}
	return r, member, nil
}

// lockForReview is lockVisible for a review: it also finds, when u is no enabled member of the
// approver group, the approver u would act for by delegation (store.DelegatedFor): the first
// not yet counted on the request, else the first (whose review the domain then refuses). A
// delegate sees the request as an approver would.
func lockForReview(ctx context.Context, tx *store.Store, u pam.User, id string, now time.Time) (pam.Request, bool, store.DelegatedApprover, error) {
	var forWhom store.DelegatedApprover
	r, member, err := tx.LockRequestFor(ctx, id, u.ID)
	if err != nil {
		return r, false, forWhom, err
	}
	if !member && u.Active() && u.ID != r.RequesterID {
		ds, err := tx.DelegatedFor(ctx, r, u.ID, now)
		if err != nil {
			return r, false, forWhom, err
		}
		for _, d := range ds {
			if !d.Counted {
				forWhom = d
				break
			}
		}
		if forWhom.ID == "" && len(ds) > 0 {
			forWhom = ds[0]
		}
	}
	if !mayView(u, r, member) && forWhom.ID == "" {
		if ok, err := mayViewAsDelegate(ctx, tx, u, r, now); err != nil || !ok {
			if err == nil {
				err = pam.Errorf(pam.ENOTFOUND, "Request not found.")
			}
			return r, false, forWhom, err
		}
	}
	return r, member, forWhom, nil
}

// Eligible lists what a user may ask for, optionally filtered by q (bounded).
func (s *Service) Eligible(ctx context.Context, u pam.User, q string) ([]pam.Policy, error) {
	pols, err := s.db.EligiblePolicies(ctx, u.ID, 500)
	if err != nil {
		return nil, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return pols, nil
	}
	var out []pam.Policy
	for _, p := range pols {
		if strings.Contains(strings.ToLower(p.ScopeName), q) {
			out = append(out, p)
		}
	}
	return out, nil
}

// EligiblePolicy returns a policy the user may ask under, or ENOTFOUND (not "forbidden": what
// a user may not ask for is none of their business).
func (s *Service) EligiblePolicy(ctx context.Context, u pam.User, policyID string) (pam.Policy, error) {
	ask, err := s.eligiblePolicy(ctx, s.db, u, policyID)
	return ask.Policy, err
}

// ErrStepUp refuses a submission under a policy that requires two-step verification at request
// time when the caller did not confirm a fresh code (Submission.SteppedUp). Nothing was
// written; the caller asks for a code and submits again. Unhandled, it answers 403.
var ErrStepUp = pam.Errorf(pam.EFORBIDDEN, "This policy asks for a fresh two-step verification code.")

// Every read inside a transaction goes through the transaction's handle: a second connection
// taken while one is held can exhaust the pool under load and deadlock.
func (s *Service) eligiblePolicy(ctx context.Context, db *store.Store, u pam.User, policyID string) (store.PolicyToAsk, error) {
	ask, err := db.PolicyToAskFor(ctx, policyID, u.ID)
	if err != nil {
		return ask, err
	}
	if !ask.Policy.Enabled || !u.Active() {
		return ask, pam.Errorf(pam.ENOTFOUND, "You cannot ask for this; its policy is disabled or gone.")
	}
	if !ask.Eligible {
		return ask, pam.Errorf(pam.ENOTFOUND, "You cannot ask for this.")
	}
	return ask, nil
}

// approverGroup is who decides under a policy now: its own group or the org default.
func approverGroup(ask store.PolicyToAsk) string {
	if ask.Policy.ApproverGroupID != "" {
		return ask.Policy.ApproverGroupID
	}
	return ask.DefaultApproverGroupID
}

// CheckSubmission tells what is wrong with a submission under a policy, or under the policy of
// the grant it would extend, and saves nothing: a form that could not be read whole shows the
// problems of the rest beside its own.
func (s *Service) CheckSubmission(ctx context.Context, u pam.User, policyID, extends string, sub pam.Submission) error {
	if extends != "" {
		prev, err := s.db.RequestByID(ctx, extends)
		if err != nil {
			return err
		}
		if prev.RequesterID != u.ID {
			return pam.Errorf(pam.ENOTFOUND, "Request not found.")
		}
		policyID = prev.PolicyID
	}
	ask, err := s.eligiblePolicy(ctx, s.db, u, policyID)
	if err != nil {
		return err
	}
	return sub.Validate(ask.Policy, ask.MaxDuration, s.now())
}

// Submit creates a request under a policy. Automatic policies approve it at once, by "system".
func (s *Service) Submit(ctx context.Context, a audit.Actor, u pam.User, policyID string, sub pam.Submission) (pam.Request, error) {
	return s.submit(ctx, a, u, policyID, sub, "")
}

func (s *Service) submit(ctx context.Context, a audit.Actor, u pam.User, policyID string, sub pam.Submission, extends string) (pam.Request, error) {
	now := s.now()
	var r pam.Request
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		if extends != "" {
			// The grant stays locked until the extension is saved, so a revoke of it either
			// comes first (and the extension is refused here) or sees the extension and takes
			// it down with the grant.
			prev, err := tx.LockRequest(ctx, extends)
			if err != nil {
				return err
			}
			if prev.RequesterID != u.ID {
				return pam.Errorf(pam.ENOTFOUND, "Request not found.")
			}
			if !prev.InForce(now) {
				return pam.Errorf(pam.ECONFLICT, "Only a grant in force can be extended; ask for new access instead.")
			}
			if prev.ExtendsID != "" {
				// An extension stands only while the grant it extends does.
				if base, err := tx.RequestByID(ctx, prev.ExtendsID); err != nil || base.Status.Stopped() || base.Status == pam.StatusCancelled {
					if err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
						return err
					}
					return pam.Errorf(pam.ECONFLICT, "The grant this extends was revoked or ended; it cannot be extended.")
				}
			}
			// One request for more time at a time: each starts where the grant ends, so a second
			// would cover the same hours as the first. The grant's lock keeps two asked at once
			// apart.
			if err := noOpenExtension(ctx, tx, prev, now); err != nil {
				return err
			}
			policyID = prev.PolicyID
		}
		ask, err := s.eligiblePolicy(ctx, tx, u, policyID)
		if err != nil {
			return err
		}
		p := ask.Policy
		// A form with mistakes is told of them before it asks for a code.
		if err := sub.Validate(p, ask.MaxDuration, now); err != nil {
			return err
		}
		if p.MFARequired && !sub.SteppedUp {
			return ErrStepUp
		}
		r = pam.Request{
			ID: uuid.NewString(), RequesterID: u.ID, RequesterName: u.Name, RequesterEmail: u.Email, PolicyID: p.ID,
			ScopeType: p.ScopeType, ScopeID: p.ScopeID, ScopeName: p.ScopeName, ApprovalType: p.ApprovalType,
			ApproverGroupID: approverGroup(ask), ApprovalsRequired: p.ApprovalsRequired, Duration: sub.Duration,
			Justification: sub.Justification, Ticket: sub.Ticket, ScheduledStart: sub.ScheduledStart,
			Status: pam.StatusPending, CreatedAt: now, PendingUntil: now.Add(p.PendingTimeout), ExtendsID: extends, Version: 1,
		}
		r.PlanFollowUps(p)
		// One read serves the approver count below and the mail after the change.
		var aud store.Audience
		if p.ApprovalType == pam.ApprovalManual || s.notify != nil {
			if aud, err = tx.Audience(ctx, audienceOfAt(r, now)); err != nil {
				return err
			}
		}
		if p.ApprovalType == pam.ApprovalManual {
			// The list is bounded (ChangeApprovers), far above the most approvals a policy needs.
			if n := len(approversBut(aud.Approvers, u.ID)); n < p.ApprovalsRequired {
				return pam.Errorf(pam.EINVALID, "Nobody can approve this request at the moment: its approver group has too few members besides you. Ask an administrator to fix the policy for %s.", p.ScopeName)
			}
		}
		if err := tx.CreateRequest(ctx, r); err != nil {
			return err
		}
		if err := s.record(ctx, tx, a, audit.RequestCreated, r, map[string]any{"policy_id": p.ID}); err != nil {
			return err
		}
		if p.ApprovalType == pam.ApprovalAuto {
			if err := r.AutoApprove(now); err != nil {
				return err
			}
			if err := s.continueExtension(ctx, tx, &r); err != nil {
				return err
			}
			if err := s.saveStep(ctx, tx, audit.System, &r, audit.RequestApproved, map[string]any{"auto": true}, false); err != nil {
				return err
			}
			return s.notifyWith(ctx, tx, aud, r, audit.RequestApproved, audit.System)
		}
		return s.notifyWith(ctx, tx, aud, r, audit.RequestCreated, a)
	})
	if err != nil {
		return pam.Request{}, fmt.Errorf("submit request: %w", err)
	}
	return r, nil
}

// continueExtension lines an approved extension up behind the grant it extends.
func (s *Service) continueExtension(ctx context.Context, tx *store.Store, r *pam.Request) error {
	if r.ExtendsID == "" || r.Status != pam.StatusApproved {
		return nil
	}
	prev, err := tx.RequestByID(ctx, r.ExtendsID)
	if err != nil {
		return err
	}
	if prev.Status.Stopped() {
		return pam.Errorf(pam.ECONFLICT, "The grant this extends was revoked or ended; it cannot be extended.")
	}
	if prev.Status == pam.StatusApproved && prev.EndsAt != nil {
		r.ContinueAfter(*prev.EndsAt, s.now())
	}
	return nil
}

// Extend asks for more time on a grant in force: a new request under the same policy that, once
// approved, starts exactly where the current grant ends.
func (s *Service) Extend(ctx context.Context, a audit.Actor, u pam.User, requestID string, sub pam.Submission) (pam.Request, error) {
	sub.ScheduledStart = nil
	return s.submit(ctx, a, u, "", sub, requestID)
}

// NoOpenExtension is ECONFLICT, saying why, while a request for more time on grant waits for
// its decision or is approved to follow it (Extend refuses another then).
func (s *Service) NoOpenExtension(ctx context.Context, grant pam.Request) error {
	return noOpenExtension(ctx, s.db, grant, s.now())
}

// noOpenExtension refuses more time on grant while an earlier request for more time on it
// waits for its decision or is approved to follow it.
func noOpenExtension(ctx context.Context, tx *store.Store, grant pam.Request, now time.Time) error {
	e, err := tx.OpenExtension(ctx, grant, now)
	switch {
	case pam.ErrorCode(err) == pam.ENOTFOUND:
		return nil
	case err != nil:
		return err
	case e.Status == pam.StatusPending:
		return pam.Errorf(pam.ECONFLICT, "You already asked for more time on this grant: wait for that decision, or withdraw it and ask again.")
	}
	return pam.Errorf(pam.ECONFLICT, "More time on this grant is already approved and follows it: once that starts, ask for more on it.")
}

// mayView reports whether u may see r, member being whether u is an enabled member of its
// approver group.
func mayView(u pam.User, r pam.Request, member bool) bool {
	return u.ID == r.RequesterID || u.Admin || u.Auditor || member
}

func canView(ctx context.Context, db *store.Store, u pam.User, r pam.Request, now time.Time) (bool, error) {
	if mayView(u, r, false) {
		return true, nil
	}
	if ok, err := db.IsActiveMember(ctx, r.ApproverGroupID, u.ID); ok || err != nil {
		return ok, err
	}
	if r.Escalated() {
		ok, err := db.IsActiveMember(ctx, r.EscalationGroupID, u.ID)
		if err != nil || ok {
			return ok, err
		}
	}
	return mayViewAsDelegate(ctx, db, u, r, now)
}

// mayViewAsDelegate reports whether u sees r for a delegation: they reviewed it for someone,
// or hold a delegation in force from one of its approvers (store.DelegatedFor).
func mayViewAsDelegate(ctx context.Context, db *store.Store, u pam.User, r pam.Request, now time.Time) (bool, error) {
	for _, v := range r.Reviews {
		if v.ReviewerID == u.ID && v.OnBehalfOf != "" {
			return true, nil
		}
	}
	if !u.Active() {
		return false, nil
	}
	ds, err := db.DelegatedFor(ctx, r, u.ID, now)
	return len(ds) > 0, err
}

// CanView reports whether u may see r: its requester, an approver, an admin or an auditor.
// Everyone else gets "not found".
func (s *Service) CanView(ctx context.Context, u pam.User, r pam.Request) (bool, error) {
	return canView(ctx, s.db, u, r, s.now())
}

// Request returns a request the user may see, or ENOTFOUND.
func (s *Service) Request(ctx context.Context, u pam.User, id string) (pam.Request, error) {
	r, err := s.db.RequestByID(ctx, id)
	if err != nil {
		return pam.Request{}, err
	}
	ok, err := s.CanView(ctx, u, r)
	if err != nil {
		return pam.Request{}, err
	}
	if !ok {
		return pam.Request{}, pam.Errorf(pam.ENOTFOUND, "Request not found.")
	}
	return r, nil
}

// Review approves or denies a request. The request row is locked while the decision is made, so
// of many simultaneous reviews exactly one decides and the others get ECONFLICT.
func (s *Service) Review(ctx context.Context, a audit.Actor, u pam.User, requestID, decision, comment string) (pam.Request, error) {
	var r pam.Request
	cancelled := false
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		now := s.now()
		var err error
		var member bool
		var forWhom store.DelegatedApprover
		if r, member, forWhom, err = lockForReview(ctx, tx, u, requestID, now); err != nil {
			return err
		}
		if cancelled, err = s.cancelOrphan(ctx, tx, &r, now); err != nil || cancelled {
			return err
		}
		// Approvals count by the rules as they are now (see markLapsed).
		markLapsed(&r)
		before := r.Status
		if err := r.ReviewFor(u.ID, forWhom.ID, (member || forWhom.ID != "") && u.Active(), decision, comment, now); err != nil {
			return err
		}
		r.Reviews[len(r.Reviews)-1].ReviewerName = u.Name
		r.Reviews[len(r.Reviews)-1].OnBehalfOfName = forWhom.Name
		review := r.Reviews[len(r.Reviews)-1]
		if err := tx.AddReview(ctx, r.ID, review); err != nil {
			return err
		}
		if err := s.continueExtension(ctx, tx, &r); err != nil {
			return err
		}
		action, mail := audit.RequestReviewed, false
		if decision == pam.DecisionDeny {
			action = audit.RequestDenied
		} else if r.Status == pam.StatusApproved && before == pam.StatusPending {
			action = audit.RequestApproved
		}
		switch r.Status {
		case pam.StatusApproved:
			mail = true
		case pam.StatusDenied:
			mail = true
		}
		details := map[string]any{"decision": decision, "comment": review.Comment}
		if review.OnBehalfOf != "" {
			details["on_behalf_of"], details["on_behalf_of_name"] = string(review.OnBehalfOf), review.OnBehalfOfName
		}
		return s.saveStep(ctx, tx, a, &r, action, details, mail)
	})
	if err == nil && cancelled {
		err = pam.Errorf(pam.ECONFLICT, "The grant this request extends was revoked or ended, so the request was cancelled; nobody can decide it any more.")
	}
	if err != nil {
		return pam.Request{}, fmt.Errorf("review request %s: %w", requestID, err)
	}
	return r, nil
}

// cancelOrphan cancels a pending extension whose base was revoked or ended, in case that did not
// reach it (it was written by an older version, say): such a request is never decided. It
// reports whether it cancelled r.
func (s *Service) cancelOrphan(ctx context.Context, tx *store.Store, r *pam.Request, now time.Time) (bool, error) {
	if r.ExtendsID == "" || r.StatusAt(now) != pam.StatusPending {
		return false, nil
	}
	base, err := tx.RequestByID(ctx, r.ExtendsID)
	if err != nil {
		return false, err
	}
	if !base.Status.Stopped() {
		return false, nil
	}
	if _, err := r.EndWithBase(base, now); err != nil {
		return false, err
	}
	return true, s.saveChainLink(ctx, tx, audit.System, r, base.ID)
}

// Withdraw takes back a pending request (its requester only).
func (s *Service) Withdraw(ctx context.Context, a audit.Actor, u pam.User, requestID string) (pam.Request, error) {
	var r pam.Request
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		if r, _, err = lockVisible(ctx, tx, u, requestID); err != nil {
			return err
		}
		if err := r.Withdraw(u.ID, s.now()); err != nil {
			return err
		}
		return s.saveStep(ctx, tx, a, &r, audit.RequestWithdrawn, nil, true)
	})
	if err != nil {
		return pam.Request{}, fmt.Errorf("withdraw request %s: %w", requestID, err)
	}
	return r, nil
}

// Revoke ends an approved grant at once, with its extensions (see endChain); the very next
// check is denied, and so is every later one the chain would have allowed.
func (s *Service) Revoke(ctx context.Context, a audit.Actor, u pam.User, requestID, reason string) (pam.Request, error) {
	var r pam.Request
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		var member bool
		if r, member, err = lockVisible(ctx, tx, u, requestID); err != nil {
			return err
		}
		now := s.now()
		// Admins and the approvers of its policy, while enabled.
		can := u.Active() && (u.Admin || member)
		if err := r.Revoke(u.ID, can, reason, now); err != nil {
			return err
		}
		return s.closeChain(ctx, tx, a, &r, audit.RequestRevoked, map[string]any{"reason": r.RevokeReason}, now)
	})
	if err != nil {
		return pam.Request{}, fmt.Errorf("revoke request %s: %w", requestID, err)
	}
	return r, nil
}

// End lets a requester end their own grant (in force or scheduled) now, with its extensions
// (see endChain): approved ones end with it, pending ones are cancelled ("grant ended"). A
// grant in force stops, so the very next check is denied; a scheduled one never starts. An
// extension lined up behind the grant in force is such a scheduled one: ending it leaves that
// grant, which it does not extend backwards, in force to its end. The approvers hear of it, for
// their information.
func (s *Service) End(ctx context.Context, a audit.Actor, u pam.User, requestID string) (pam.Request, error) {
	ended, _, err := s.EndFrom(ctx, a, u, requestID)
	return ended, err
}

// EndFrom is End that also returns the grant as its transaction found it, before it was ended,
// for words on what ending it did (a scheduled grant's start is cut to the moment it ended).
func (s *Service) EndFrom(ctx context.Context, a audit.Actor, u pam.User, requestID string) (ended, was pam.Request, err error) {
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		if ended, _, err = lockVisible(ctx, tx, u, requestID); err != nil {
			return err
		}
		was = ended
		now := s.now()
		if err := ended.End(u.ID, now); err != nil {
			return err
		}
		return s.closeChain(ctx, tx, a, &ended, audit.RequestEnded, nil, now)
	})
	if err != nil {
		return pam.Request{}, pam.Request{}, fmt.Errorf("end request %s: %w", requestID, err)
	}
	return ended, was, nil
}

// closeChain saves a grant revoked or ended in memory (action, with details) and its extensions
// with it. Every request it changes is locked (endChain) before the first is written, so two
// transactions working down one chain take its rows in the same order and never wait on each
// other crosswise.
func (s *Service) closeChain(ctx context.Context, tx *store.Store, a audit.Actor, r *pam.Request, action audit.Action, details map[string]any, now time.Time) error {
	chain, err := s.endChain(ctx, tx, *r, now)
	if err != nil {
		return err
	}
	if err := s.saveStep(ctx, tx, a, r, action, details, true); err != nil {
		return err
	}
	for i := range chain {
		if err := s.saveChainLink(ctx, tx, a, &chain[i], r.ID); err != nil {
			return err
		}
	}
	return nil
}

// endChain locks the extensions of a grant being revoked or ended, and theirs down the chain, and ends
// them with it in memory (pam.Request.EndWithBase): approved ones are revoked by the same person
// for the same reason (or ended), pending ones cancelled ("grant revoked", "grant ended"). It returns those it changed, for the revoke to save
// in its own transaction, so access cannot come back when the grant's old end arrives.
func (s *Service) endChain(ctx context.Context, tx *store.Store, root pam.Request, now time.Time) ([]pam.Request, error) {
	var changed []pam.Request
	seen := map[string]bool{root.ID: true}
	bases := []pam.Request{root}
	for len(bases) > 0 {
		base := bases[0]
		bases = bases[1:]
		ids, err := tx.ExtensionIDs(ctx, base)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			ext, err := tx.LockRequest(ctx, id)
			if err != nil {
				return nil, err
			}
			ok, err := ext.EndWithBase(base, now)
			if err != nil {
				return nil, err
			}
			if ok {
				changed = append(changed, ext)
			}
			if ext.Status.Stopped() {
				bases = append(bases, ext)
			}
		}
	}
	return changed, nil
}

// saveChainLink saves, records and tells of one extension ended with its chain (see endChain).
// The notifier hears it as a change following chainOf (Change.ChainOf): an extension ended with
// its grant is not mailed, since the grant's own mail told its approvers and its requester did
// it, but webhooks report it as any grant that ended.
func (s *Service) saveChainLink(ctx context.Context, tx *store.Store, a audit.Actor, r *pam.Request, chainOf string) error {
	action, details := audit.RequestRevoked, map[string]any{"reason": r.RevokeReason, "chain_of": chainOf}
	switch r.Status {
	case pam.StatusCancelled:
		action, details = audit.RequestCancelled, map[string]any{"reason": string(r.CancelReason), "chain_of": chainOf}
	case pam.StatusEnded:
		action, details = audit.RequestEnded, map[string]any{"chain_of": chainOf}
	}
	if err := s.saveStep(ctx, tx, a, r, action, details, false); err != nil {
		return err
	}
	return s.notifyLink(ctx, tx, *r, action, a, chainOf)
}

// repairChains ends extensions whose grant was revoked while they stayed approved or pending,
// as a revoke does today: the same person and reason, or cancelled ("grant revoked"), each
// audited and mailed. Only data from before revokes ended whole chains has them; a chain of
// several is ended one link per round.
func (s *Service) repairChains(ctx context.Context) (int, error) {
	done := 0
	for range 10 {
		ids, err := s.db.BrokenChainLinks(ctx, 200)
		if err != nil || len(ids) == 0 {
			return done, err
		}
		for _, id := range ids {
			err := s.db.Tx(ctx, func(tx *store.Store) error {
				r, err := tx.RequestByID(ctx, id)
				if err != nil {
					return err
				}
				// The base first, then the extension: the order a revoke takes them in.
				base, err := tx.LockRequest(ctx, r.ExtendsID)
				if err != nil {
					return err
				}
				if r, err = tx.LockRequest(ctx, id); err != nil {
					return err
				}
				ok, err := r.EndWithBase(base, s.now())
				if err != nil || !ok {
					return err
				}
				done++
				return s.saveChainLink(ctx, tx, audit.System, &r, base.ID)
			})
			if err != nil && pam.ErrorCode(err) != pam.ECONFLICT {
				return done, fmt.Errorf("end chain link %s: %w", id, err)
			}
		}
	}
	return done, nil
}

// Sweep writes down timed-out and expired states, one request per transaction, and ends chain
// links an older version left open (see repairChains). Several processes may sweep at once:
// the version check lets exactly one of them record each change. Nothing depends on the
// sweeper for correctness; it only keeps states and mail current.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	repaired, err := s.repairChains(ctx)
	if err != nil {
		return repaired, err
	}
	// What a policy or requester change should have ended (policychange.go).
	reached, err := s.repairReach(ctx)
	repaired += reached
	if err != nil {
		return repaired, err
	}
	n, err := s.sweep(ctx)
	if err != nil {
		return repaired + n, err
	}
	f, err := s.followUps(ctx)
	n += f
	if err != nil {
		return repaired + n, err
	}
	// The dashboard's rollup of each closed UTC day, written once (see store.WriteDailyStats).
	if _, err := s.db.WriteDailyStats(ctx, s.now()); err != nil {
		return repaired + n, err
	}
	return repaired + n, nil
}

func (s *Service) sweep(ctx context.Context) (int, error) {
	ids, err := s.db.DueForSweep(ctx, s.now(), 200)
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
			if !r.Sweep(s.now()) {
				return nil
			}
			action := map[pam.Status]audit.Action{pam.StatusTimedOut: audit.RequestTimedOut, pam.StatusExpired: audit.RequestExpired}[r.Status]
			if err := s.saveStep(ctx, tx, audit.System, &r, action, nil, true); err != nil {
				return err
			}
			done++
			return nil
		})
		if err != nil && pam.ErrorCode(err) != pam.ECONFLICT {
			return done, fmt.Errorf("sweep request %s: %w", id, err)
		}
	}
	return done, nil
}

// followUps sends the reminders and makes the escalations that are due, one request per
// transaction (see followUp).
func (s *Service) followUps(ctx context.Context) (int, error) {
	done := 0
	for _, step := range []struct {
		due    func(context.Context, time.Time, int) ([]string, error)
		mark   func(*store.Store) func(context.Context, string, time.Time) (bool, error)
		action audit.Action
	}{
		{s.db.DueReminders, func(tx *store.Store) func(context.Context, string, time.Time) (bool, error) { return tx.MarkReminded }, audit.RequestReminded},
		{s.db.DueEscalations, func(tx *store.Store) func(context.Context, string, time.Time) (bool, error) { return tx.MarkEscalated }, audit.RequestEscalated},
	} {
		ids, err := step.due(ctx, s.now(), 200)
		if err != nil {
			return done, err
		}
		for _, id := range ids {
			ok, err := s.followUp(ctx, id, step.mark, step.action)
			if err != nil {
				return done, fmt.Errorf("%s request %s: %w", step.action, id, err)
			}
			if ok {
				done++
			}
		}
	}
	return done, nil
}

// followUp reminds the approvers of one request, or escalates it, in one transaction: the
// request is locked, the conditional UPDATE (mark) records it only when it is still pending,
// due and not yet done, and only the transaction whose UPDATE changed the row writes the audit
// event and queues the mail. Several processes sweeping at once therefore send one reminder
// and make one escalation. The version is left alone: a reminder decides nothing, so a review
// under way is not refused because of it.
func (s *Service) followUp(ctx context.Context, id string, mark func(*store.Store) func(context.Context, string, time.Time) (bool, error), action audit.Action) (bool, error) {
	done := false
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		r, err := tx.LockRequest(ctx, id)
		if err != nil {
			return err
		}
		now := s.now()
		if r.StatusAt(now) != pam.StatusPending {
			return nil // the timeout sweep or a decision settles it
		}
		ok, err := mark(tx)(ctx, id, now)
		if err != nil || !ok {
			return err
		}
		details := map[string]any{}
		if action == audit.RequestEscalated {
			r.EscalatedAt = &now
			details["escalation_group_id"] = r.EscalationGroupID
			details["escalation_group"] = tx.GroupName(ctx, r.EscalationGroupID)
		} else {
			r.RemindedAt = &now
		}
		if err := s.record(ctx, tx, audit.System, action, r, details); err != nil {
			return err
		}
		done = true
		return s.notifyTx(ctx, tx, r, action, audit.System)
	})
	return done, err
}
