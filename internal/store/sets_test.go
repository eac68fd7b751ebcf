package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Roles (sets of tasks) and role groups (sets of roles) share one implementation; each case
// drives one through the same life: create, name clash, add, add again, list, count, find the
// sets holding a member, remove, remove again, missing set.
func TestNamedSetsShareOneShape(t *testing.T) {
	type set struct {
		create  func(ctx context.Context, db *store.Store, id, name string) error
		rename  func(ctx context.Context, db *store.Store, id, name string) error
		byID    func(ctx context.Context, db *store.Store, id string) (name string, n int, err error)
		list    func(ctx context.Context, db *store.Store) (names []string, counts []int, err error)
		member  func(t *testing.T, db *store.Store, key string) (id string)
		add     func(ctx context.Context, db *store.Store, set, item string) error
		remove  func(ctx context.Context, db *store.Store, set, item string) error
		items   func(ctx context.Context, db *store.Store, set string) ([]string, error)
		holding func(ctx context.Context, db *store.Store, item string) ([]string, error)
	}
	now := time.Now()
	mustTask := func(t *testing.T, db *store.Store, key string) string {
		t.Helper()
		if err := db.CreateTask(context.Background(), pam.Task{ID: "t-" + key, Key: key, Name: key}, now); err != nil {
			t.Fatal(err)
		}
		return "t-" + key
	}
	mustRole := func(t *testing.T, db *store.Store, name string) string {
		t.Helper()
		if err := db.CreateRole(context.Background(), pam.Role{ID: "r-" + name, Name: name}, now); err != nil {
			t.Fatal(err)
		}
		return "r-" + name
	}
	cases := map[string]set{
		"role": {
			create: func(ctx context.Context, db *store.Store, id, name string) error {
				return db.CreateRole(ctx, pam.Role{ID: id, Name: name}, now)
			},
			rename: func(ctx context.Context, db *store.Store, id, name string) error {
				return db.UpdateRole(ctx, pam.Role{ID: id, Name: name}, now)
			},
			byID: func(ctx context.Context, db *store.Store, id string) (string, int, error) {
				r, err := db.RoleByID(ctx, id)
				return r.Name, r.TaskCount, err
			},
			list: func(ctx context.Context, db *store.Store) (names []string, counts []int, err error) {
				rs, err := db.Roles(ctx, pam.Page{Limit: 10})
				for _, r := range rs {
					names, counts = append(names, r.Name), append(counts, r.TaskCount)
				}
				return names, counts, err
			},
			member: mustTask,
			add:    func(ctx context.Context, db *store.Store, s, i string) error { return db.AddRoleTask(ctx, s, i) },
			remove: func(ctx context.Context, db *store.Store, s, i string) error { return db.RemoveRoleTask(ctx, s, i) },
			items: func(ctx context.Context, db *store.Store, s string) (out []string, err error) {
				ts, err := db.RoleTasks(ctx, s, pam.Page{Limit: 10})
				for _, x := range ts {
					out = append(out, x.Key)
				}
				return out, err
			},
			holding: func(ctx context.Context, db *store.Store, i string) (out []string, err error) {
				rs, err := db.TaskRoles(ctx, i)
				for _, x := range rs {
					out = append(out, x.Name)
				}
				return out, err
			},
		},
		"role group": {
			create: func(ctx context.Context, db *store.Store, id, name string) error {
				return db.CreateRoleGroup(ctx, pam.RoleGroup{ID: id, Name: name}, now)
			},
			rename: func(ctx context.Context, db *store.Store, id, name string) error {
				return db.UpdateRoleGroup(ctx, pam.RoleGroup{ID: id, Name: name}, now)
			},
			byID: func(ctx context.Context, db *store.Store, id string) (string, int, error) {
				r, err := db.RoleGroupByID(ctx, id)
				return r.Name, r.RoleCount, err
			},
			list: func(ctx context.Context, db *store.Store) (names []string, counts []int, err error) {
				rs, err := db.RoleGroups(ctx, pam.Page{Limit: 10})
				for _, r := range rs {
					names, counts = append(names, r.Name), append(counts, r.RoleCount)
				}
				return names, counts, err
			},
			member: mustRole,
			add:    func(ctx context.Context, db *store.Store, s, i string) error { return db.AddRoleGroupRole(ctx, s, i) },
			remove: func(ctx context.Context, db *store.Store, s, i string) error {
				return db.RemoveRoleGroupRole(ctx, s, i)
			},
			items: func(ctx context.Context, db *store.Store, s string) (out []string, err error) {
				rs, err := db.RoleGroupRoles(ctx, s, pam.Page{Limit: 10})
				for _, x := range rs {
					out = append(out, x.Name)
				}
				return out, err
			},
			holding: func(ctx context.Context, db *store.Store, i string) (out []string, err error) {
				rs, err := db.RoleRoleGroups(ctx, i)
				for _, x := range rs {
					out = append(out, x.Name)
				}
				return out, err
			},
		},
	}
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		for kind, k := range cases {
			t.Run(kind, func(t *testing.T) {
				ctx := context.Background()
				db := testenv.Store(t, dialect)
				if err := k.create(ctx, db, "s1", "Mail"); err != nil {
					t.Fatal(err)
				}
				if err := k.create(ctx, db, "s2", "mail"); pam.ErrorCode(err) != pam.EINVALID {
					t.Fatalf("name clash: %v", err)
				}
				if err := k.create(ctx, db, "s2", "Audit"); err != nil {
					t.Fatal(err)
				}
				if err := k.rename(ctx, db, "s2", "MAIL"); pam.ErrorCode(err) != pam.EINVALID {
					t.Fatalf("rename clash: %v", err)
				}
				if err := k.rename(ctx, db, "missing", "Other"); pam.ErrorCode(err) != pam.ENOTFOUND {
					t.Fatalf("rename missing: %v", err)
				}
				b, a := k.member(t, db, "x/b"), k.member(t, db, "x/a")
				for _, id := range []string{b, a} {
					if err := k.add(ctx, db, "s1", id); err != nil {
						t.Fatal(err)
					}
				}
				if err := k.add(ctx, db, "s1", a); pam.ErrorCode(err) != pam.ECONFLICT {
					t.Fatalf("added twice: %v", err)
				}
				if err := k.add(ctx, db, "s1", "missing"); pam.ErrorCode(err) != pam.ENOTFOUND {
					t.Fatalf("missing member: %v", err)
				}
				if got, err := k.items(ctx, db, "s1"); err != nil || len(got) != 2 || got[0] != "x/a" || got[1] != "x/b" {
					t.Fatalf("members: %v %v", got, err)
				}
				if name, n, err := k.byID(ctx, db, "s1"); err != nil || name != "Mail" || n != 2 {
					t.Fatalf("by id: %q %d %v", name, n, err)
				}
				if names, counts, err := k.list(ctx, db); err != nil || len(names) != 2 || names[0] != "Audit" || counts[0] != 0 || counts[1] != 2 {
					t.Fatalf("list: %v %v %v", names, counts, err)
				}
				if got, err := k.holding(ctx, db, a); err != nil || len(got) != 1 || got[0] != "Mail" {
					t.Fatalf("sets holding: %v %v", got, err)
				}
				if err := k.remove(ctx, db, "s1", a); err != nil {
					t.Fatal(err)
				}
				if err := k.remove(ctx, db, "s1", a); pam.ErrorCode(err) != pam.ENOTFOUND {
					t.Fatalf("removed twice: %v", err)
				}
				if _, _, err := k.byID(ctx, db, "missing"); pam.ErrorCode(err) != pam.ENOTFOUND {
					t.Fatalf("missing set: %v", err)
				}
			})
		}
	})
}
