package admin_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

func setup(t *testing.T, dialect string) (*admin.Service, *store.Store, context.Context) {
	t.Helper()
	db := testenv.Store(t, dialect)
	clock := testenv.NewClock()
	return admin.New(db, clock.Now), db, context.Background()
}

func mustUser(t *testing.T, svc *admin.Service, email string, isAdmin bool) pam.User {
	t.Helper()
	u, _, err := svc.CreateUser(context.Background(), audit.System, email, "User "+email, isAdmin, false)
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return u
}

func as(u pam.User) audit.Actor {
	return audit.Actor{Type: audit.ActorUser, ID: string(u.ID), Name: u.Email}
}

func TestAdminsCannotRemoveTheLastAdminEvenConcurrently(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		svc, db, ctx := setup(t, dialect)
		a := mustUser(t, svc, "a@example.com", true)
		b := mustUser(t, svc, "b@example.com", true)

		if _, err := svc.ChangeUser(ctx, as(a), a.ID, admin.RemoveAdmin); pam.ErrorCode(err) != pam.EFORBIDDEN {
			t.Fatalf("self-demotion: %v", err)
		}
		if _, err := svc.ChangeUser(ctx, as(a), a.ID, admin.Disable); pam.ErrorCode(err) != pam.EFORBIDDEN {
			t.Fatalf("self-disable: %v", err)
		}
		// Both admins try to demote (or disable) each other at the same moment, many times over.
		for round := range 6 {
			var wg sync.WaitGroup
			changes := []admin.UserChange{admin.RemoveAdmin, admin.Disable}
			ch := changes[round%2]
			for _, pair := range [][2]pam.User{{a, b}, {b, a}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.ChangeUser(ctx, as(pair[0]), pair[1].ID, ch)
					if err != nil && pam.ErrorCode(err) != pam.ECONFLICT {
						t.Errorf("change: %v", err)
					}
				}()
			}
			wg.Wait()
			admins, err := db.LockActiveAdmins(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(admins) != 1 {
				t.Fatalf("round %d: %d enabled admins left, want exactly 1", round, len(admins))
			}
			// Restore both for the next round.
			for _, u := range []pam.User{a, b} {
				cur, _ := db.UserByID(ctx, u.ID)
				if !cur.Active() {
					if _, err := svc.ChangeUser(ctx, audit.System, u.ID, admin.Enable); err != nil {
						t.Fatal(err)
					}
				}
				if cur, _ = db.UserByID(ctx, u.ID); !cur.Admin {
					if _, err := svc.ChangeUser(ctx, audit.System, u.ID, admin.MakeAdmin); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}

func TestGroupInUseCannotBeDeleted(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		svc, db, ctx := setup(t, dialect)
		g, err := svc.CreateGroup(ctx, audit.System, "Exchange approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateGroup(ctx, audit.System, "exchange APPROVERS", ""); pam.ErrorCode(err) != pam.EINVALID || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("duplicate name ignoring case: %v", err)
		}
		task, err := svc.CreateTask(ctx, audit.System, "exchange/Set-Mailbox", "", "")
		if err != nil {
			t.Fatal(err)
		}
		p := pam.NewPolicy(pam.ScopeTask, task.ID)
		p.ApproverGroupID = g.ID
		if _, err := svc.CreatePolicy(ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		err = svc.DeleteGroup(ctx, audit.System, g.ID)
		if pam.ErrorCode(err) != pam.ECONFLICT || !strings.Contains(err.Error(), "exchange/Set-Mailbox") {
			t.Fatalf("delete a used group: %v", err)
		}
		// The database refuses it too, whatever the application checked.
		if err := db.DeleteGroup(ctx, g.ID); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("store delete of a used group: %v", err)
		}
		if err := svc.UpdateSettings(ctx, audit.System, admin.SettingsInput{Enforcement: true, ExemptGroupID: g.ID, MaxDuration: 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		pol, _ := db.PolicyForScope(ctx, pam.ScopeTask, task.ID)
		if err := svc.DeletePolicy(ctx, audit.System, pol.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteGroup(ctx, audit.System, g.ID); pam.ErrorCode(err) != pam.ECONFLICT || !strings.Contains(err.Error(), "exempt") {
			t.Fatalf("delete the exempt group: %v", err)
		}
		if err := svc.UpdateSettings(ctx, audit.System, admin.SettingsInput{Enforcement: true, MaxDuration: 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteGroup(ctx, audit.System, g.ID); err != nil {
			t.Fatalf("delete an unused group: %v", err)
		}
	})
}

func TestPolicyValidationAndOnePerScope(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		svc, db, ctx := setup(t, dialect)
		role, err := svc.CreateRole(ctx, audit.System, "Mailbox admin", "")
		if err != nil {
			t.Fatal(err)
		}
		// A role that covers no tasks would grant nothing: its policy waits for its tasks.
		_, err = svc.CreatePolicy(ctx, audit.System, pam.NewPolicy(pam.ScopeRole, role.ID))
		if pe := (*pam.Error)(nil); !asPamError(err, &pe) || pe.Field != "scope_id" || !strings.Contains(pe.Message, "covers no tasks") {
			t.Fatalf("policy for a role with no tasks: %v", err)
		}
		if _, err := svc.CreateTask(ctx, audit.System, "exchange/Set-Mailbox", "", ""); err != nil {
			t.Fatal(err)
		}
		if err := svc.AddRoleTask(ctx, audit.System, role.ID, "exchange/Set-Mailbox"); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			field string
			edit  func(*pam.Policy)
		}{
			{"approvals_required", func(p *pam.Policy) { p.ApprovalsRequired = 6 }},
			{"approvals_required", func(p *pam.Policy) { p.ApprovalsRequired = 0 }},
			{"max_duration", func(p *pam.Policy) { p.MaxDuration = 25 * time.Hour }},
			{"default_duration", func(p *pam.Policy) { p.DefaultDuration = 5 * time.Hour }},
			{"approver_group_id", func(p *pam.Policy) { p.ApproverGroupID = "no-such-group" }},
			{"eligible_group_id", func(p *pam.Policy) { p.EligibleGroupID = "no-such-group" }},
			{"scope_id", func(p *pam.Policy) { p.ScopeID = "no-such-role" }},
			{"approval_type", func(p *pam.Policy) { p.ApprovalType = "sometimes" }},
		}
		for _, tc := range cases {
			p := pam.NewPolicy(pam.ScopeRole, role.ID)
			tc.edit(&p)
			_, err := svc.CreatePolicy(ctx, audit.System, p)
			var pe *pam.Error
			if !asPamError(err, &pe) || pe.Field != tc.field {
				t.Errorf("%s: got %v", tc.field, err)
			}
		}
		first, err := svc.CreatePolicy(ctx, audit.System, pam.NewPolicy(pam.ScopeRole, role.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreatePolicy(ctx, audit.System, pam.NewPolicy(pam.ScopeRole, role.ID)); pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("second policy for one scope: %v", err)
		}
		// An edit from a stale version is refused instead of overwriting.
		p, _ := db.PolicyByID(ctx, first.ID)
		p.ApprovalsRequired = 2
		if err := svc.UpdatePolicy(ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		p.ApprovalsRequired = 3
		if err := svc.UpdatePolicy(ctx, audit.System, p); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("stale edit: %v", err)
		}
		evs, err := db.AuditEvents(ctx, store.AuditFilter{Action: "policy.updated"})
		if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Details, `"before"`) || !strings.Contains(evs[0].Details, `"approvals_required":2`) {
			t.Fatalf("policy.updated events: %+v %v", evs, err)
		}
	})
}

func asPamError(err error, target **pam.Error) bool {
	pe, ok := err.(*pam.Error)
	if ok {
		*target = pe
	}
	return ok
}

func TestPolicyReachWarnings(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		svc, _, ctx := setup(t, dialect)
		a := mustUser(t, svc, "a@example.com", false)
		b := mustUser(t, svc, "b@example.com", false)
		approvers, _ := svc.CreateGroup(ctx, audit.System, "Approvers", "")
		task, _ := svc.CreateTask(ctx, audit.System, "exchange/New-JournalRule", "", "")
		p := pam.NewPolicy(pam.ScopeTask, task.ID)
		p.ApprovalsRequired = 2
		p, err := svc.CreatePolicy(ctx, audit.System, p)
		if err != nil {
			t.Fatal(err)
		}
		warn := func() string {
			r, err := svc.PolicyReach(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			var ws []string
			for _, w := range r.Warnings {
				ws = append(ws, w.Text)
			}
			return strings.Join(ws, " ")
		}
		if w := warn(); !strings.Contains(w, "No one can approve this: it names no approver group") {
			t.Fatalf("no group: %q", w)
		}
		if err := svc.UpdateSettings(ctx, audit.System, admin.SettingsInput{Enforcement: true, DefaultApproverGroupID: approvers.ID, MaxDuration: 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		if w := warn(); !strings.Contains(w, "no enabled members") {
			t.Fatalf("empty group: %q", w)
		}
		_ = svc.AddMember(ctx, audit.System, approvers.ID, a.ID)
		_ = svc.AddMember(ctx, audit.System, approvers.ID, b.ID)
		// Two approvers, two approvals needed, everyone eligible: an approver's own request is stuck.
		if w := warn(); !strings.Contains(w, "at most 1 approval") {
			t.Fatalf("approver asking: %q", w)
		}
		c := mustUser(t, svc, "c@example.com", false)
		_ = svc.AddMember(ctx, audit.System, approvers.ID, c.ID)
		if w := warn(); w != "" {
			t.Fatalf("three approvers for two approvals: %q", w)
		}
		if _, err := svc.ChangeUser(ctx, audit.System, c.ID, admin.Disable); err != nil {
			t.Fatal(err)
		}
		if w := warn(); !strings.Contains(w, "at most 1 approval") {
			t.Fatalf("disabled approver still counted: %q", w)
		}
	})
}

// An administrative change's event carries the service's clock, as its rows do, not the
// store's: the demo sets its organisation up in the past with it, and tests read one time.
func TestChangesAreRecordedAtTheServiceClock(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		clock := testenv.NewClock() // far from the store's own clock, which is real time
		svc := admin.New(db, clock.Now)
		ctx := context.Background()
		g, err := svc.CreateGroup(ctx, audit.System, "Approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		evs, err := db.AuditEvents(ctx, audit.Filter{TargetID: g.ID, Limit: 10})
		if err != nil || len(evs) != 1 {
			t.Fatalf("events of the new group: %v %v", evs, err)
		}
		if !evs[0].At.Equal(clock.Now()) {
			t.Fatalf("group created at %v, recorded at %v", clock.Now(), evs[0].At)
		}
	})
}
