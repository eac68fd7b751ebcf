package main

import (
	"context"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// The shell's "user disable" ends what the user had open, as the page does: a pending request
// is cancelled ("no longer eligible"), audited and mailed.
func TestShellDisableEndsOpenRequests(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env, db := shellAdmins(t, dialect, "root@example.com")
		ctx := context.Background()
		now := func() time.Time { return time.Now().UTC() }
		adm := admin.New(db, now)
		rhea, err := adm.CreateUserWithPassword(ctx, audit.System, "rhea@example.com", "Rhea", "a long enough password", false)
		if err != nil {
			t.Fatal(err)
		}
		olivia, err := adm.CreateUserWithPassword(ctx, audit.System, "olivia@example.com", "Olivia", "a long enough password", false)
		if err != nil {
			t.Fatal(err)
		}
		g, err := adm.CreateGroup(ctx, audit.System, "Approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := adm.AddMember(ctx, audit.System, g.ID, olivia.ID); err != nil {
			t.Fatal(err)
		}
		task, err := adm.CreateTask(ctx, audit.System, "exchange/Set-Mailbox", "", "")
		if err != nil {
			t.Fatal(err)
		}
		p := pam.NewPolicy(pam.ScopeTask, task.ID)
		p.ApproverGroupID = g.ID
		if p, err = adm.CreatePolicy(ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		r, err := access.New(db, now, nil).Submit(ctx, audit.System, rhea, p.ID, pam.Submission{Duration: time.Hour, Justification: "INC-4"})
		if err != nil {
			t.Fatal(err)
		}
		if code, out, stderr := runCmd(t, env, "", "user", "disable", "--email", "rhea@example.com"); code != 0 {
			t.Fatalf("disable: %d %s %s", code, out, stderr)
		}
		got, err := db.RequestByID(ctx, r.ID)
		if err != nil || got.Status != pam.StatusCancelled || got.CancelReason != pam.CancelNoLongerEligible {
			t.Fatalf("request after the shell disabled its requester: %s (%s) %v", got.Status, got.CancelReason, err)
		}
		ms, err := db.Mail(ctx, pam.MailFilter{RequestID: r.ID, Limit: 10})
		if err != nil || len(ms) == 0 {
			t.Fatalf("no mail for the cancel: %v", err)
		}
	})
}
