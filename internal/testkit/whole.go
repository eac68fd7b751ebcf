package testkit

import (
	"context"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// outcome is the event that records each state a request can end in, beside request.created.
var outcome = map[pam.Status][]audit.Action{
	pam.StatusPending:   nil,
	pam.StatusApproved:  {audit.RequestApproved},
	pam.StatusDenied:    {audit.RequestDenied},
	pam.StatusWithdrawn: {audit.RequestWithdrawn},
	pam.StatusTimedOut:  {audit.RequestTimedOut},
	pam.StatusExpired:   {audit.RequestApproved, audit.RequestExpired},
	pam.StatusRevoked:   {audit.RequestApproved, audit.RequestRevoked},
	pam.StatusCancelled: {audit.RequestCancelled},
	pam.StatusEnded:     {audit.RequestApproved, audit.RequestEnded},
}

// Whole checks that a request was changed all or nothing: it was created with exactly one
// event, its state has exactly the events that lead to it and no other decision event, and
// each stored review has its event. It returns the request's state.
func Whole(ctx context.Context, db *store.Store, id string) (pam.Status, error) {
	// A process killed between its commit and the sealer's pass leaves its events stored but
	// unsealed; the next sweep seals them, as this does.
	if _, err := db.SealWaiting(ctx); err != nil {
		return "", fmt.Errorf("seal waiting events: %w", err)
	}
	r, err := db.RequestByID(ctx, id)
	if err != nil {
		return "", fmt.Errorf("request %s: %w", id, err)
	}
	evs, err := db.AuditEvents(ctx, audit.Filter{RequestID: id, Limit: 500})
	if err != nil {
		return "", err
	}
	count := map[audit.Action]int{}
	for _, e := range evs {
		a, ok := audit.ParseAction(e.Action) // old names count as their action
		if !ok {
			return r.Status, fmt.Errorf("request %s has an event of unknown action %q", id, e.Action)
		}
		count[a]++
	}
	if count[audit.RequestCreated] != 1 {
		return r.Status, fmt.Errorf("request %s (%s): %d request.created events", id, r.Status, count[audit.RequestCreated])
	}
	want := map[audit.Action]int{audit.RequestCreated: 1}
	for _, a := range outcome[r.Status] {
		want[a] = 1
	}
	for _, a := range []audit.Action{audit.RequestApproved, audit.RequestDenied, audit.RequestWithdrawn, audit.RequestTimedOut, audit.RequestExpired, audit.RequestRevoked, audit.RequestEnded, audit.RequestCancelled} {
		if count[a] != want[a] {
			return r.Status, fmt.Errorf("request %s is %s with %d %s events (want %d); events %v", id, r.Status, count[a], a, want[a], count)
		}
	}
	reviewEvents := count[audit.RequestApproved] + count[audit.RequestDenied] + count[audit.RequestReviewed]
	if count[audit.RequestApproved] == 1 && r.ApprovalType == pam.ApprovalAuto {
		reviewEvents--
	}
	if len(r.Reviews) != reviewEvents {
		return r.Status, fmt.Errorf("request %s is %s with %d reviews but %d review events", id, r.Status, len(r.Reviews), reviewEvents)
	}
	return r.Status, nil
}

// LeftOverExtension stores, at now, a pending request for more time on grant beside one already
// open, with its request.created event, as versions that took several at once left them
// (Extend refuses it now): tests of a chain's end use it to show that the end takes such a
// request down too.
func LeftOverExtension(ctx context.Context, db *store.Store, grant pam.Request, d time.Duration, now time.Time) (pam.Request, error) {
	ext := pam.Request{ID: uuid.NewString(), RequesterID: grant.RequesterID, PolicyID: grant.PolicyID, ScopeType: grant.ScopeType,
		ScopeID: grant.ScopeID, ScopeName: grant.ScopeName, ApprovalType: grant.ApprovalType, ApproverGroupID: grant.ApproverGroupID,
		ApprovalsRequired: grant.ApprovalsRequired, Duration: d, Justification: "still fixing", Status: pam.StatusPending,
		CreatedAt: now, PendingUntil: now.Add(grant.PendingUntil.Sub(grant.CreatedAt)), ExtendsID: grant.ID, Version: 1}
	err := db.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateRequest(ctx, ext); err != nil {
			return err
		}
		ev := audit.Actor{Type: audit.ActorUser, ID: string(grant.RequesterID)}.Event(audit.RequestCreated, "request", ext.ID,
			map[string]any{"extends": grant.ID})
		ev.RequestID = ext.ID
		return tx.AppendAudit(ctx, ev)
	})
	if err != nil {
		return pam.Request{}, err
	}
	return db.RequestByID(ctx, ext.ID)
}
