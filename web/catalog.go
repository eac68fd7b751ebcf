package web

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
)

// Catalog is the tasks, roles and role groups as the admin pages read them; *store.Store
// provides it. Changes go through admin.Service.
type Catalog interface {
	Tasks(ctx context.Context, p pam.Page) ([]pam.Task, error)
	TaskByID(ctx context.Context, id string) (pam.Task, error)
	TaskRoles(ctx context.Context, taskID string) ([]pam.Role, error)
	TaskRoleGroups(ctx context.Context, taskID string) ([]pam.RoleGroup, error)
	Roles(ctx context.Context, p pam.Page) ([]pam.Role, error)
	RoleByID(ctx context.Context, id string) (pam.Role, error)
	RoleTasks(ctx context.Context, roleID string, p pam.Page) ([]pam.Task, error)
	RoleRoleGroups(ctx context.Context, roleID string) ([]pam.RoleGroup, error)
	RoleGroups(ctx context.Context, p pam.Page) ([]pam.RoleGroup, error)
	RoleGroupByID(ctx context.Context, id string) (pam.RoleGroup, error)
	RoleGroupRoles(ctx context.Context, rgID string, p pam.Page) ([]pam.Role, error)
	ScopeTasks(ctx context.Context, scope pam.ScopeType, id string, limit int) ([]pam.Task, error)
	ScopeName(ctx context.Context, scope pam.ScopeType, id string) (string, error)
}

// Directory is users and groups as the admin pages read them; *store.Store provides it.
type Directory interface {
	SearchUsers(ctx context.Context, q, after string, limit int) ([]pam.User, error)
	UserByID(ctx context.Context, id pam.UserID) (pam.User, error)
	UserGroups(ctx context.Context, id pam.UserID) ([]pam.Group, error)
	Groups(ctx context.Context, p pam.Page) ([]pam.Group, error)
	GroupByID(ctx context.Context, id string) (pam.Group, error)
	GroupMembers(ctx context.Context, groupID string, p pam.Page) ([]pam.User, error)
	GroupUsage(ctx context.Context, groupID string) ([]string, error)
	// IdPConfirmations says when the identity provider last confirmed each of users'
	// memberships of a group it manages.
	IdPConfirmations(ctx context.Context, groupID string, users []pam.UserID) (map[pam.UserID]time.Time, error)
}

// PolicyBook is the policies and organisation settings as the admin pages and the API read
// them; *store.Store provides it.
type PolicyBook interface {
	Policies(ctx context.Context, after *pam.Cursor, limit int) ([]pam.Policy, error)
	PolicyByID(ctx context.Context, id string) (pam.Policy, error)
	PolicyForScope(ctx context.Context, scope pam.ScopeType, id string) (pam.Policy, error)
	OrgSettings(ctx context.Context) (pam.OrgSettings, error)
}
