package access

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// Notifier queues mail inside the transaction of the change that causes it, from the Change
// alone: it reads nothing more about the request. A nil Notifier sends nothing.
type Notifier interface {
	RequestChanged(ctx context.Context, tx *store.Store, c Change) error
}

// Bounds of a Change: a message lists at most ChangeTasks tasks and goes to at most
// ChangeApprovers approvers.
const (
	ChangeTasks     = 25
	ChangeApprovers = 500
)

// Change is one change of a request as its people hear of it, built once by the use case that
// made it, inside its transaction.
type Change struct {
	Action audit.Action // what happened; it also names the mail it causes
	Actor  audit.Actor  // who did it
	// Request is the request after the change; every review carries its reviewer's name.
	Request pam.Request
	// Tasks are the tasks its scope covers, by key; one more than ChangeTasks means "and more".
	Tasks []pam.Task
	// Requester is the requester as they are now (a disabled one gets no mail).
	Requester pam.User
	// Approvers are the enabled members of its approver group and their delegates in range
	// (store.Audience.Delegates), the requester left out; none for an automatic policy, which
	// asks nobody.
	Approvers []pam.User
	// OnBehalfOf is, for each of Approvers who is there only as a delegate, the approvers they
	// stand in for (store.Audience.Principals), so their mail can say in whose place they are
	// asked and leave them out once each of those was counted; none for those asked in their
	// own right, an escalation group's member included once it was escalated.
	OnBehalfOf map[pam.UserID][]store.Principal
	// AskedAsDelegate is those of Approvers there only as a delegate, escalation group members
	// included: the escalation is the first to ask those in their own right.
	AskedAsDelegate map[pam.UserID]bool
	// Escalators are the enabled members of its escalation group, the requester left out, once
	// it was escalated (none before).
	Escalators []pam.User
	// RevokerName names who revoked it, when it was revoked.
	RevokerName string
	// Subscribed reports whether an enabled webhook endpoint subscribes to an event type, as
	// read with the audience (store.Audience.Subscribed); nil when it was not read.
	Subscribed func(eventType string) bool
	// SecurityEmail is the organisation's security address, set for an emergency grant only
	// ("" when the organisation names none).
	SecurityEmail string
	// ChainOf is the grant whose revoke or early end this extension followed (it was ended
	// with its chain); "" for a change made to the request itself.
	ChainOf string
}

// NewChange gathers, through tx, what the people of request r need to hear of action: its
// covered tasks, its requester, its approvers and the names of those who acted on it. One
// statement reads them all (store.Audience).
func NewChange(ctx context.Context, tx *store.Store, r pam.Request, action audit.Action, actor audit.Actor) (Change, error) {
	aud, err := tx.Audience(ctx, audienceOf(r))
	if err != nil {
		return Change{Action: action, Actor: actor, Request: r}, err
	}
	return changeOf(ctx, tx, aud, r, action, actor)
}

// audienceOf is what a Change of r reads: an automatic policy asks no approvers.
func audienceOf(r pam.Request) store.AudienceOf {
	return audienceOfAt(r, time.Time{})
}

// audienceOfAt is audienceOf with the delegates of the approvers read as they are at now.
func audienceOfAt(r pam.Request, now time.Time) store.AudienceOf {
	of := store.AudienceOf{Requester: r.RequesterID, Revoker: r.RevokedBy, Scope: r.ScopeType, ScopeID: r.ScopeID, Tasks: ChangeTasks + 1, At: now,
		Webhooks: true}
	if r.ApprovalType != pam.ApprovalAuto {
		of.ApproverGroup, of.Approvers = r.ApproverGroupID, ChangeApprovers
		if r.Escalated() {
			of.EscalationGroup = r.EscalationGroupID
		}
	}
	return of
}

// approversBut is the approvers the requester is not one of.
func approversBut(members []pam.User, requester pam.UserID) []pam.User {
	var out []pam.User
	for _, u := range members {
		if u.ID != requester {
			out = append(out, u)
		}
	}
	return out
}

// changeOf builds the Change of r from its audience, read through tx for audienceOf(r).
func changeOf(ctx context.Context, tx *store.Store, aud store.Audience, r pam.Request, action audit.Action, actor audit.Actor) (Change, error) {
	c := Change{Action: action, Actor: actor, Request: r, Requester: aud.Requester, Tasks: aud.Tasks, RevokerName: aud.Revoker.Name,
		Subscribed: aud.Subscribed}
	if r.RevokedBy == pam.SystemID {
		c.RevokerName = "Elevate" // no person: its requester was no longer eligible
	}
	if c.Requester.ID == "" {
		return c, pam.Errorf(pam.ENOTFOUND, "User not found.")
	}
	if r.ApprovalType != pam.ApprovalAuto {
		c.Approvers = approversBut(aud.Approvers, r.RequesterID)
		c.Escalators = approversBut(aud.Escalators, r.RequesterID)
		// The delegates of the approvers hear what the approvers hear, once each.
		seen := map[pam.UserID]bool{}
		for _, u := range c.Approvers {
			seen[u.ID] = true
		}
		for _, u := range approversBut(aud.Delegates, r.RequesterID) {
			if !seen[u.ID] && len(c.Approvers) < ChangeApprovers {
				seen[u.ID] = true
				c.Approvers = append(c.Approvers, u)
				if c.OnBehalfOf == nil {
					c.OnBehalfOf = map[pam.UserID][]store.Principal{}
				}
				c.OnBehalfOf[u.ID] = aud.Principals[u.ID]
				if c.AskedAsDelegate == nil {
					c.AskedAsDelegate = map[pam.UserID]bool{}
				}
				c.AskedAsDelegate[u.ID] = true
			}
		}
		// A member of the escalation group may decide it in their own right once it escalated.
		for _, u := range c.Escalators {
			delete(c.OnBehalfOf, u.ID)
		}
	}
	c.Request.Reviews = append([]pam.Review(nil), r.Reviews...)
	for i, v := range c.Request.Reviews {
		if v.ReviewerName == "" {
			// Loaded reviews carry their names, and a new one its reviewer's: this is a fallback.
			u, err := tx.UserByID(ctx, v.ReviewerID)
			if err != nil {
				return c, err
			}
			c.Request.Reviews[i].ReviewerName = u.Name
		}
	}
	return c, nil
}

// Notifiers is one Notifier telling each of ns in turn (mail, then webhooks), in the same
// transaction; nil ones are skipped.
func Notifiers(ns ...Notifier) Notifier { return notifiers(ns) }

type notifiers []Notifier

func (ns notifiers) RequestChanged(ctx context.Context, tx *store.Store, c Change) error {
	for _, n := range ns {
		if n == nil {
			continue
		}
		if err := n.RequestChanged(ctx, tx, c); err != nil {
			return err
		}
	}
	return nil
}

// notifyTx tells the notifier of a change, in the change's transaction tx. An expiry is told
// too: mail sends nothing for it (its requester was warned shortly before the end, see
// mail.ExpiryNotice), webhooks report it.
func (s *Service) notifyTx(ctx context.Context, tx *store.Store, r pam.Request, action audit.Action, a audit.Actor) error {
	return s.notifyLink(ctx, tx, r, action, a, "")
}

// notifyLink is notifyTx for an extension ended with the chain of the grant chainOf (see
// Change.ChainOf); "" for a change of r itself.
func (s *Service) notifyLink(ctx context.Context, tx *store.Store, r pam.Request, action audit.Action, a audit.Actor, chainOf string) error {
	if s.notify == nil {
		return nil
	}
	aud, err := tx.Audience(ctx, audienceOfAt(r, s.now()))
	if err != nil {
		return err
	}
	c, err := changeOf(ctx, tx, aud, r, action, a)
	if err != nil {
		return err
	}
	c.ChainOf = chainOf
	return s.notify.RequestChanged(ctx, tx, c)
}

// notifyWith is notifyTx for a change whose audience (audienceOf(r)) was already read in its
// transaction.
func (s *Service) notifyWith(ctx context.Context, tx *store.Store, aud store.Audience, r pam.Request, action audit.Action, a audit.Actor) error {
	if s.notify == nil {
		return nil
	}
	c, err := changeOf(ctx, tx, aud, r, action, a)
	if err != nil {
		return err
	}
	return s.notify.RequestChanged(ctx, tx, c)
}
