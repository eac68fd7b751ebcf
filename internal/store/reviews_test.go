package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Migration 0020 over groups the previous version wrote: they have no owners, their members
// are there to review, and an owner goes with their group.
func TestAccessReviewsMigrateOverOldGroups(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedTo(t, dialect, "0014_inbox_filters")
		for _, q := range []string{
			`INSERT INTO users (id, email, name, created_at, updated_at) VALUES ('u1', 'rhea@example.com', 'Rhea', ?, ?)`,
			`INSERT INTO groups (id, name, name_key, created_at, updated_at) VALUES ('g1', 'Helpdesk', 'helpdesk', ?, ?)`,
		} {
			if err := db.ExecRaw(ctx, q, t0, t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.ExecRaw(ctx, `INSERT INTO group_members (group_id, user_id, added_at) VALUES ('g1', 'u1', ?)`, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if owners, err := db.GroupOwners(ctx, "g1"); err != nil || len(owners) != 0 {
			t.Fatalf("owners after the upgrade: %v %v", owners, err)
		}
		ms, err := db.ActiveMemberships(ctx, true, nil, store.Membership{}, 10)
		if err != nil || len(ms) != 1 || ms[0].GroupName != "Helpdesk" || ms[0].UserEmail != "rhea@example.com" {
			t.Fatalf("memberships: %+v %v", ms, err)
		}
		if err := db.AddOwner(ctx, "g1", "u1", t0); err != nil {
			t.Fatal(err)
		}
		if err := db.AddOwner(ctx, "g1", "u1", t0); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("owner twice: %v", err)
		}
		if err := db.DeleteGroup(ctx, "g1"); err != nil {
			t.Fatal(err)
		}
		if owners, err := db.ActiveOwners(ctx, []string{"g1"}); err != nil || len(owners) != 0 {
			t.Fatalf("owners of a deleted group: %v %v", owners, err)
		}
	})
}

// A campaign's snapshot reads memberships in keyset pages: every one once, for all groups or
// for chosen ones.
func TestActiveMembershipsPageThroughEveryMember(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		for _, g := range []string{"g1", "g2"} {
			if err := db.ExecRaw(ctx, `INSERT INTO groups (id, name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`, g, g, g, t0, t0); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 30 {
			id := fmt.Sprintf("u%02d", i)
			if err := db.ExecRaw(ctx, `INSERT INTO users (id, email, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`, id, id+"@example.com", id, t0, t0); err != nil {
				t.Fatal(err)
			}
			for _, g := range []string{"g1", "g2"} {
				if err := db.ExecRaw(ctx, `INSERT INTO group_members (group_id, user_id, added_at) VALUES (?, ?, ?)`, g, id, t0); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, tc := range []struct {
			all    bool
			groups []string
			want   int
		}{{true, nil, 60}, {false, []string{"g2"}, 30}} {
			seen := map[store.Membership]bool{}
			var after store.Membership
			for {
				ms, err := db.ActiveMemberships(ctx, tc.all, tc.groups, after, 7)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range ms {
					if seen[m] || (!tc.all && m.GroupID != "g2") {
						t.Fatalf("%+v twice or outside the chosen groups", m)
					}
					seen[m] = true
				}
				if len(ms) < 7 {
					break
				}
				after = ms[len(ms)-1]
			}
			if len(seen) != tc.want {
				t.Fatalf("all=%v: %d memberships, want %d", tc.all, len(seen), tc.want)
			}
		}
	})
}
