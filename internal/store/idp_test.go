package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Migration 0021 over groups and members the previous version wrote: every group stays edited
// by hand and no membership lapses. Mapping a group makes its members provider memberships
// confirmed then, which lapse unless a sign-in confirms them again; unmapping makes them hand
// members that never lapse.
func TestIdPGroupsMigrateOverOldMemberships(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedTo(t, dialect, "0020_access_reviews")
		for _, q := range []string{
			`INSERT INTO users (id, email, name, created_at, updated_at) VALUES ('u1', 'rhea@example.com', 'Rhea', ?, ?)`,
			`INSERT INTO users (id, email, name, created_at, updated_at) VALUES ('u2', 'sam@example.com', 'Sam', ?, ?)`,
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
		g, err := db.GroupByID(ctx, "g1")
		if err != nil || g.Managed() || g.MemberCount != 1 {
			t.Fatalf("group after the upgrade: %+v %v", g, err)
		}
		if has, err := db.HasIdPGroups(ctx); err != nil || has {
			t.Fatalf("managed groups after the upgrade: %v %v", has, err)
		}
		far := t0.Add(365 * 24 * time.Hour)
		if l, err := db.LapsedIdPMembers(ctx, far, 10); err != nil || len(l) != 0 {
			t.Fatalf("lapsed hand members: %+v %v", l, err)
		}

		mapped := t0.Add(time.Hour)
		if err := db.SetGroupIdP(ctx, "g1", "helpdesk-staff", mapped); err != nil {
			t.Fatal(err)
		}
		if ok, err := store.ProviderManaged(ctx, db, "g1"); err != nil || !ok {
			t.Fatalf("managed: %v %v", ok, err)
		}
		if l, err := db.LapsedIdPMembers(ctx, mapped.Add(time.Second), 10); err != nil || len(l) != 1 || l[0].UserID != "u1" || !l[0].ConfirmedAt.Equal(mapped) {
			t.Fatalf("lapsed after mapping: %+v %v", l, err)
		}
		// A sign-in confirms Rhea and adds Sam; a confirmation is not an addition.
		signIn := mapped.Add(24 * time.Hour)
		for _, tc := range []struct {
			user  pam.UserID
			added bool
		}{{"u1", false}, {"u2", true}, {"u2", false}} {
			if added, err := db.ConfirmIdPMember(ctx, "g1", tc.user, signIn); err != nil || added != tc.added {
				t.Fatalf("confirm %s: added %v %v", tc.user, added, err)
			}
		}
		if l, err := db.LapsedIdPMembers(ctx, signIn, 10); err != nil || len(l) != 0 {
			t.Fatalf("lapsed right after the sign-in: %+v %v", l, err)
		}
		// The removal is conditional: a cut-off before the last confirmation removes nothing.
		if gone, err := db.RemoveLapsedMember(ctx, "g1", "u1", signIn); err != nil || gone {
			t.Fatalf("removed a confirmed member: %v %v", gone, err)
		}
		if gone, err := db.RemoveLapsedMember(ctx, "g1", "u1", signIn.Add(time.Second)); err != nil || !gone {
			t.Fatalf("lapsed member: %v %v", gone, err)
		}
		if ids, err := db.IdPMemberships(ctx, "u2"); err != nil || len(ids) != 1 || ids[0] != "g1" {
			t.Fatalf("sam's managed groups: %v %v", ids, err)
		}

		// Unmapped: Sam stays, as a hand member that never lapses.
		if err := db.SetGroupIdP(ctx, "g1", "", signIn); err != nil {
			t.Fatal(err)
		}
		if l, err := db.LapsedIdPMembers(ctx, far, 10); err != nil || len(l) != 0 {
			t.Fatalf("lapsed after unmapping: %+v %v", l, err)
		}
		if c, err := db.IdPConfirmations(ctx, "g1", []pam.UserID{"u2"}); err != nil || len(c) != 0 {
			t.Fatalf("confirmations after unmapping: %v %v", c, err)
		}
		if in, err := db.IsMember(ctx, "g1", "u2"); err != nil || !in {
			t.Fatalf("sam after unmapping: %v %v", in, err)
		}
		if err := db.SetGroupIdP(ctx, "nope", "x", signIn); pam.ErrorCode(err) != pam.ENOTFOUND {
			t.Fatalf("unknown group: %v", err)
		}
	})
}
