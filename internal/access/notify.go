package access

import (
	"context"

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
	// Approvers are the enabled members of its approver group, the requester left out; none
	// for an automatic policy, which asks nobody.
	Approvers []pam.User
	// RevokerName names who revoked it, when it was revoked.
	RevokerName string
}

// NewChange gathers, through tx, what the people of request r need to hear of action: its
// covered tasks, its requester, its approvers and the names of those who acted on it.
func NewChange(ctx context.Context, tx *store.Store, r pam.Request, action audit.Action, actor audit.Actor) (Change, error) {
	c := Change{Action: action, Actor: actor, Request: r}
	var err error
	if c.Requester, err = tx.UserByID(ctx, r.RequesterID); err != nil {
		return c, err
	}
	c.Tasks, err = tx.ScopeTasks(ctx, r.ScopeType, r.ScopeID, ChangeTasks+1)
	if err != nil && pam.ErrorCode(err) != pam.EINVALID { // a scope of an unknown type covers nothing
		return c, err
	}
	if r.ApprovalType != pam.ApprovalAuto {
		members, err := tx.ActiveGroupMembers(ctx, r.ApproverGroupID, ChangeApprovers)
		if err != nil {
			return c, err
		}
		for _, u := range members {
			if u.ID != r.RequesterID {
				c.Approvers = append(c.Approvers, u)
			}
		}
	}
	c.Request.Reviews = append([]pam.Review(nil), r.Reviews...)
	for i, v := range c.Request.Reviews {
		if v.ReviewerName == "" {
			u, err := tx.UserByID(ctx, v.ReviewerID)
			if err != nil {
				return c, err
			}
			c.Request.Reviews[i].ReviewerName = u.Name
		}
	}
	if r.RevokedBy != "" {
		u, err := tx.UserByID(ctx, r.RevokedBy)
		if err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
			return c, err
		}
		c.RevokerName = u.Name
	}
	return c, nil
}

// notifyTx tells the notifier of a change, in the change's transaction tx. An expiry tells
// nobody: its requester was warned shortly before the end (see mail.ExpiryNotice).
func (s *Service) notifyTx(ctx context.Context, tx *store.Store, r pam.Request, action audit.Action, a audit.Actor) error {
	if s.notify == nil || action == audit.RequestExpired {
		return nil
	}
	c, err := NewChange(ctx, tx, r, action, a)
	if err != nil {
		return err
	}
	return s.notify.RequestChanged(ctx, tx, c)
}
