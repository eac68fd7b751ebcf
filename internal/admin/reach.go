package admin

import (
	"context"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// RequestRules carries a change of a policy, a group membership, a user or the default approver
// group to the requests it reaches, inside the change's transaction tx, and returns what goes on
// the change's audit event (access.Service is one). See SPEC, Decisions, States.
type RequestRules interface {
	// PolicyEdited: a disabled policy cancels its pending requests; a new approver group or
	// quorum reaches those still pending; a new eligible group ends what its non-members had open.
	PolicyEdited(ctx context.Context, tx *store.Store, a audit.Actor, before, after pam.Policy, defaultGroup string) (map[string]any, error)
	// PolicyRemoved cancels a deleted policy's pending requests and, when asked, revokes its grants.
	PolicyRemoved(ctx context.Context, tx *store.Store, a audit.Actor, p pam.Policy, revokeGrants bool) (map[string]any, error)
	// GrantsUnderPolicy counts a policy's grants in force or scheduled.
	GrantsUnderPolicy(ctx context.Context, tx *store.Store, policyID string) (int64, error)
	// LeftGroup ends what a user had open under the policies a group makes them eligible for.
	LeftGroup(ctx context.Context, tx *store.Store, groupID string, user pam.UserID) (map[string]any, error)
	// OpenThroughGroup counts what LeftGroup would end: pending requests and grants.
	OpenThroughGroup(ctx context.Context, db *store.Store, groupID string, user pam.UserID) (pending, grants int64, err error)
	// UserDisabled ends everything a disabled user had open.
	UserDisabled(ctx context.Context, tx *store.Store, user pam.UserID) (map[string]any, error)
	// DefaultApproversChanged reaches the requests pending under policies on the default group.
	DefaultApproversChanged(ctx context.Context, tx *store.Store, a audit.Actor, before, after string) (map[string]any, error)
}

// SetRequestRules makes policy, group, user and settings changes reach the requests under
// them. Every process whose changes can reach a request sets it: main.go for the server, and
// the shell for `user disable` (its other user commands change nothing a request depends on).
// Only tests of this package alone, which make no requests, leave it unset; without it reach
// does nothing, so a new shell command that disables, removes or regroups people must set it.
func (s *Service) SetRequestRules(r RequestRules) { s.rules = r }

// reach runs fn with the rules when they are set.
func (s *Service) reach(fn func(r RequestRules) (map[string]any, error)) (map[string]any, error) {
	if s.rules == nil {
		return nil, nil
	}
	return fn(s.rules)
}

// merge copies extra into details under its own keys.
func merge(details, extra map[string]any) map[string]any {
	for k, v := range extra {
		details[k] = v
	}
	return details
}
