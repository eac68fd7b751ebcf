package testkit

import (
	"context"
	"fmt"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// outcome is the event that records each state a request can end in, beside request.created.
var outcome = map[pam.Status][]string{
	pam.StatusPending:   nil,
	pam.StatusApproved:  {"request.approved"},
	pam.StatusDenied:    {"request.denied"},
	pam.StatusWithdrawn: {"request.withdrawn"},
	pam.StatusTimedOut:  {"request.timed_out"},
	pam.StatusExpired:   {"request.approved", "request.expired"},
	pam.StatusRevoked:   {"request.approved", "request.revoked"},
	pam.StatusCancelled: {"request.cancelled"},
}

// Whole checks that a request was changed all or nothing: it was created with exactly one
// event, its state has exactly the events that lead to it and no other decision event, and
// each stored review has its event. It returns the request's state.
func Whole(ctx context.Context, db *store.Store, id string) (pam.Status, error) {
	r, err := db.RequestByID(ctx, id)
	if err != nil {
		return "", fmt.Errorf("request %s: %w", id, err)
	}
	evs, err := db.AuditEvents(ctx, audit.Filter{RequestID: id, Limit: 500})
	if err != nil {
		return "", err
	}
	count := map[string]int{}
	for _, e := range evs {
		count[e.Action]++
	}
	if count["request.created"] != 1 {
		return r.Status, fmt.Errorf("request %s (%s): %d request.created events", id, r.Status, count["request.created"])
	}
	want := map[string]int{"request.created": 1}
	for _, a := range outcome[r.Status] {
		want[a] = 1
	}
	for _, a := range []string{"request.approved", "request.denied", "request.withdrawn", "request.timed_out", "request.expired", "request.revoked", "request.cancelled"} {
		if count[a] != want[a] {
			return r.Status, fmt.Errorf("request %s is %s with %d %s events (want %d); events %v", id, r.Status, count[a], a, want[a], count)
		}
	}
	reviewEvents := count["request.approved"] + count["request.denied"] + count["request.approval_added"]
	if count["request.approved"] == 1 && r.ApprovalType == pam.ApprovalAuto {
		reviewEvents--
	}
	if len(r.Reviews) != reviewEvents {
		return r.Status, fmt.Errorf("request %s is %s with %d reviews but %d review events", id, r.Status, len(r.Reviews), reviewEvents)
	}
	return r.Status, nil
}
