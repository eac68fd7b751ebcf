package admin_test

import (
	"sync"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Sign-ins of the same person at the same moment add a membership once and remove it once;
// the database settles the race, each change with its one event.
func TestConcurrentSignInsSyncEachMembershipOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		svc, db, ctx := setup(t, dialect)
		ana := mustUser(t, svc, "ana@example.com", false)
		g, err := svc.CreateGroup(ctx, audit.System, "Exchange admins", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.MapGroupToIdP(ctx, audit.System, g.ID, "exchange-admins"); err != nil {
			t.Fatal(err)
		}
		if err := svc.MapGroupToIdP(ctx, audit.System, g.ID, "exchange-admins"); pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("mapping twice to the same value: %v", err)
		}
		count := func(a audit.Action) int {
			evs, err := db.AuditEvents(ctx, store.AuditFilter{Action: a.String(), Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		for _, values := range [][]string{{"exchange-admins"}, nil} {
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					err := db.Tx(ctx, func(tx *store.Store) error {
						_, err := svc.SyncProviderGroups(ctx, tx, ana, auth.ProviderGroups{Issuer: "https://idp.example", Claim: "groups", Values: values})
						return err
					})
					if err != nil {
						t.Errorf("sync %v: %v", values, err)
					}
				})
			}
			wg.Wait()
		}
		if in, _ := db.IsMember(ctx, g.ID, ana.ID); in {
			t.Fatal("still a member")
		}
		if a, r := count(audit.GroupMemberAdded), count(audit.GroupMemberRemoved); a != 1 || r != 1 {
			t.Fatalf("%d added and %d removed events, want one each", a, r)
		}
		// Without a mapping a sync touches nothing, and the group is edited by hand again.
		if err := svc.UnmapGroupFromIdP(ctx, audit.System, g.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.UnmapGroupFromIdP(ctx, audit.System, g.ID); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("unmapping twice: %v", err)
		}
		if err := svc.AddMember(ctx, audit.System, g.ID, ana.ID); err != nil {
			t.Fatal(err)
		}
		err = db.Tx(ctx, func(tx *store.Store) error {
			_, err := svc.SyncProviderGroups(ctx, tx, ana, auth.ProviderGroups{Claim: "groups"})
			return err
		})
		if in, _ := db.IsMember(ctx, g.ID, ana.ID); err != nil || !in {
			t.Fatalf("a sync changed a hand-edited group: %v", err)
		}
	})
}
