package admin_test

import (
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// CountDeadEnds (one statement, for the dashboard) and DeadEnds (a page of the list) agree on
// which enabled policies nobody can approve, and follow the organisation's default group.
func TestDeadEndCountsAndSuggestedGroup(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		svc, _, ctx := setup(t, dialect)
		a := mustUser(t, svc, "a@example.com", false)
		b := mustUser(t, svc, "b@example.com", false)
		if g, err := svc.SuggestApproverGroup(ctx); err != nil || g != "" {
			t.Fatalf("no groups: suggested %q %v", g, err)
		}
		staff, _ := svc.CreateGroup(ctx, audit.System, "Staff", "")
		if g, _ := svc.SuggestApproverGroup(ctx); g != staff.ID {
			t.Fatalf("only group not suggested: %q", g)
		}
		approvers, _ := svc.CreateGroup(ctx, audit.System, "Approvers", "")
		_ = svc.AddMember(ctx, audit.System, staff.ID, a.ID)
		_ = svc.AddMember(ctx, audit.System, staff.ID, b.ID)
		if g, _ := svc.SuggestApproverGroup(ctx); g != staff.ID {
			t.Fatalf("an empty approvers group beat one with members: %q", g)
		}
		_ = svc.AddMember(ctx, audit.System, approvers.ID, a.ID)
		if g, _ := svc.SuggestApproverGroup(ctx); g != approvers.ID {
			t.Fatalf("the group named for approvers not preferred: %q", g)
		}

		var pols []pam.Policy
		mk := func(key, group string, need int, enabled bool, typ string) {
			task, err := svc.CreateTask(ctx, audit.System, key, "", "")
			if err != nil {
				t.Fatal(err)
			}
			p := pam.NewPolicy(pam.ScopeTask, task.ID)
			p.ApproverGroupID, p.ApprovalsRequired, p.Enabled, p.ApprovalType = group, need, enabled, typ
			if p, err = svc.CreatePolicy(ctx, audit.System, p); err != nil {
				t.Fatal(err)
			}
			pols = append(pols, p)
		}
		mk("x/ok", staff.ID, 2, true, pam.ApprovalManual)
		mk("x/short", approvers.ID, 2, true, pam.ApprovalManual) // dead: 1 member, 2 needed
		mk("x/default", "", 1, true, pam.ApprovalManual)         // dead until a default is set
		mk("x/off", approvers.ID, 5, false, pam.ApprovalManual)  // disabled: waits for nobody
		mk("x/auto", "", 1, true, pam.ApprovalAuto)              // automatic: needs nobody
		count := func() int {
			n, err := svc.CountDeadEnds(ctx)
			if err != nil {
				t.Fatal(err)
			}
			dead, err := svc.DeadEnds(ctx, pols)
			if err != nil {
				t.Fatal(err)
			}
			if len(dead) != n {
				t.Fatalf("page marks %d, count says %d", len(dead), n)
			}
			return n
		}
		if n := count(); n != 2 {
			t.Fatalf("dead ends %d, want 2", n)
		}
		if err := svc.UpdateSettings(ctx, audit.System, admin.SettingsInput{Enforcement: true, DefaultApproverGroupID: staff.ID, MaxDuration: 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("with a default group: %d, want 1", n)
		}
		// A disabled member no longer counts.
		if _, err := svc.ChangeUser(ctx, audit.System, b.ID, admin.Disable); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 2 {
			t.Fatalf("after disabling an approver: %d, want 2", n)
		}
		// The pages refuse a dead end unless confirmed.
		p := pols[1]
		err := svc.UpdatePolicy(ctx, audit.System, p, admin.SaveCheck{RefuseDeadEnd: true})
		if pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("refused save: %v", err)
		}
	})
}
