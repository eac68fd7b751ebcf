package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/webhook"
)

// The shell's "user disable" ends what the user had open, as the page does: a pending request
// is cancelled ("no longer eligible"), audited, mailed and queued for the webhook endpoints
// that ask for cancels.
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
		hooks := webhook.New(db, []byte("any key: the shell only queues"), "https://elevate.example.com", now)
		if _, _, err := hooks.Create(ctx, audit.System, webhook.Input{Name: "Mirror", URL: "http://127.0.0.1:9/hook", Format: pam.WebhookGeneric,
			Events: []string{"request.cancelled"}, Internal: true, Enabled: true}); err != nil {
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
		ds, err := hooks.Deliveries(ctx, pam.DeliveryFilter{Limit: 10})
		if err != nil || len(ds) != 1 || ds[0].RequestID != r.ID || ds[0].EventType != "request.cancelled" ||
			!strings.Contains(ds[0].Body, `"cancel_reason":"no longer eligible"`) {
			t.Fatalf("webhook deliveries after the shell's cancel: %+v %v", ds, err)
		}
	})
}
