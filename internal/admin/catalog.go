package admin

import (
	"context"
	"unicode/utf8"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// CreateTask adds a task.
func (s *Service) CreateTask(ctx context.Context, a audit.Actor, key, name, desc string) (pam.Task, error) {
	t, err := validTask(key, name, desc)
	if err != nil {
		return pam.Task{}, err
	}
	t.ID = uuid.NewString()
	err = s.tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateTask(ctx, t, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.TaskCreated, "task", t.ID, map[string]any{"after": taskDetails(t)})
	})
	return t, err
}

// UpdateTask changes a task.
func (s *Service) UpdateTask(ctx context.Context, a audit.Actor, id, key, name, desc string) error {
	t, err := validTask(key, name, desc)
	if err != nil {
		return err
	}
	t.ID = id
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.TaskByID(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.UpdateTask(ctx, t, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.TaskUpdated, "task", id, map[string]any{"before": taskDetails(before), "after": taskDetails(t)})
	})
}

// validTask checks a task's key, name and description, and tells every problem at once. An
// empty name is the key's operation name, so it is not a problem of its own.
func validTask(key, name, desc string) (pam.Task, error) {
	var ps pam.Problems
	k, err := pam.ParseTaskKey(key)
	ps.Add(err)
	if name == "" && err == nil {
		name = k[len(pam.Task{Key: k}.System())+1:]
		if utf8.RuneCountInString(name) > pam.MaxNameLen {
			ps.Add(pam.FieldError("name", "The key's operation name is longer than %d characters; enter a shorter name.", pam.MaxNameLen))
			name = ""
		}
	}
	var t title
	if name != "" {
		t = titledInto(&ps, name, desc)
	} else {
		_, err := pam.ValidateDescription(desc)
		ps.Add(err)
	}
	if err := ps.Err(); err != nil {
		return pam.Task{}, err
	}
	return pam.Task{Key: k, Name: t.name, Description: t.desc}, nil
}

func taskDetails(t pam.Task) map[string]any {
	return map[string]any{"key": t.Key, "name": t.Name, "description": t.Description}
}

// CreateRole adds a role.
func (s *Service) CreateRole(ctx context.Context, a audit.Actor, name, desc string) (pam.Role, error) {
	t, err := titled(name, desc)
	if err != nil {
		return pam.Role{}, err
	}
	r := pam.Role{ID: uuid.NewString(), Name: t.name, Description: t.desc}
	err = s.tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateRole(ctx, r, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.RoleCreated, "role", r.ID, map[string]any{"after": map[string]any{"name": r.Name, "description": r.Description}})
	})
	return r, err
}

// UpdateRole renames or re-describes a role.
func (s *Service) UpdateRole(ctx context.Context, a audit.Actor, id, name, desc string) error {
	t, err := titled(name, desc)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.RoleByID(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.UpdateRole(ctx, pam.Role{ID: id, Name: t.name, Description: t.desc}, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.RoleUpdated, "role", id, map[string]any{
			"before": map[string]any{"name": before.Name, "description": before.Description},
			"after":  map[string]any{"name": t.name, "description": t.desc}})
	})
}

// AddRoleTask puts a task (by key) into a role.
func (s *Service) AddRoleTask(ctx context.Context, a audit.Actor, roleID, taskKey string) error {
	return s.tx(ctx, func(tx *store.Store) error {
		r, err := tx.RoleByID(ctx, roleID)
		if err != nil {
			return err
		}
		t, err := tx.TaskByKey(ctx, taskKey)
		if pam.ErrorCode(err) == pam.ENOTFOUND {
			return pam.FieldError("task", "There is no task with the key %s.", taskKey)
		}
		if err != nil {
			return err
		}
		if err := tx.AddRoleTask(ctx, roleID, t.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.RoleTaskAdded, "role", roleID, map[string]any{"role": r.Name, "task": t.Key})
	})
}

// RemoveRoleTask takes a task out of a role.
func (s *Service) RemoveRoleTask(ctx context.Context, a audit.Actor, roleID, taskID string) error {
	return s.tx(ctx, func(tx *store.Store) error {
		r, err := tx.RoleByID(ctx, roleID)
		if err != nil {
			return err
		}
		t, err := tx.TaskByID(ctx, taskID)
		if err != nil {
			return err
		}
		if err := tx.RemoveRoleTask(ctx, roleID, taskID); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.RoleTaskRemoved, "role", roleID, map[string]any{"role": r.Name, "task": t.Key})
	})
}

// CreateRoleGroup adds a role group.
func (s *Service) CreateRoleGroup(ctx context.Context, a audit.Actor, name, desc string) (pam.RoleGroup, error) {
	t, err := titled(name, desc)
	if err != nil {
		return pam.RoleGroup{}, err
	}
	r := pam.RoleGroup{ID: uuid.NewString(), Name: t.name, Description: t.desc}
	err = s.tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateRoleGroup(ctx, r, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.RoleGroupCreated, "role_group", r.ID, map[string]any{"after": map[string]any{"name": r.Name, "description": r.Description}})
	})
	return r, err
}

// UpdateRoleGroup renames or re-describes a role group.
func (s *Service) UpdateRoleGroup(ctx context.Context, a audit.Actor, id, name, desc string) error {
	t, err := titled(name, desc)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.RoleGroupByID(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.UpdateRoleGroup(ctx, pam.RoleGroup{ID: id, Name: t.name, Description: t.desc}, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.RoleGroupUpdated, "role_group", id, map[string]any{
			"before": map[string]any{"name": before.Name, "description": before.Description},
			"after":  map[string]any{"name": t.name, "description": t.desc}})
	})
}

// AddRoleGroupRole puts a role into a role group.
func (s *Service) AddRoleGroupRole(ctx context.Context, a audit.Actor, rgID, roleID string) error {
	return s.tx(ctx, func(tx *store.Store) error {
		rg, err := tx.RoleGroupByID(ctx, rgID)
		if err != nil {
			return err
		}
		r, err := tx.RoleByID(ctx, roleID)
		if pam.ErrorCode(err) == pam.ENOTFOUND {
			return pam.FieldError("role", "Choose an existing role.")
		}
		if err != nil {
			return err
		}
		if err := tx.AddRoleGroupRole(ctx, rgID, roleID); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.RoleGroupRoleAdded, "role_group", rgID, map[string]any{"role_group": rg.Name, "role": r.Name})
	})
}

// RemoveRoleGroupRole takes a role out of a role group.
func (s *Service) RemoveRoleGroupRole(ctx context.Context, a audit.Actor, rgID, roleID string) error {
	return s.tx(ctx, func(tx *store.Store) error {
		rg, err := tx.RoleGroupByID(ctx, rgID)
		if err != nil {
			return err
		}
		r, err := tx.RoleByID(ctx, roleID)
		if err != nil {
			return err
		}
		if err := tx.RemoveRoleGroupRole(ctx, rgID, roleID); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.RoleGroupRoleRemoved, "role_group", rgID, map[string]any{"role_group": rg.Name, "role": r.Name})
	})
}
