package mail_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/mail/mailtest"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	gosmtp "github.com/emersion/go-smtp"
)

const from = "elevate@example.org"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is a small organisation: a role with two tasks under a policy approved by a group of
// three (one of them disabled, and the requester a member too), an outbox, a worker and a real
// SMTP server on loopback.
type world struct {
	t         *testing.T
	ctx       context.Context
	db        *store.Store
	clock     *testenv.Clock
	adm       *admin.Service
	acc       *access.Service
	outbox    *mail.Outbox
	smtp      *mailtest.Server
	worker    *mail.Worker
	requester pam.User
	approvers []pam.User // enabled approvers, not the requester
	disabled  pam.User
	policy    pam.Policy
}

func newWorld(t *testing.T, dialect string) *world {
	t.Helper()
	w := &world{t: t, ctx: context.Background(), db: testenv.Store(t, dialect), clock: testenv.NewClock()}
	w.db.SetClock(w.clock.Now)
	cfg := config.Config{BaseURL: &url.URL{Scheme: "https", Host: "elevate.example.org"}, MailFrom: from}
	w.outbox = mail.NewOutbox(w.db, cfg, w.clock.Now)
	w.adm = admin.New(w.db, w.clock.Now)
	w.acc = access.New(w.db, w.clock.Now, w.outbox)
	w.smtp = mailtest.Start(t, mailtest.Options{})
	w.worker = w.newWorker(w.db)

	w.requester = w.user("req@example.com", "Rita Requester")
	group, err := w.adm.CreateGroup(w.ctx, audit.System, "Approvers", "")
	must(t, err)
	for _, e := range []string{"alice@example.com", "bob@example.com"} {
		w.approvers = append(w.approvers, w.user(e, "Approver "+strings.Split(e, "@")[0]))
	}
	w.disabled = w.user("gone@example.com", "Gone Approver")
	for _, u := range append(slices.Clone(w.approvers), w.disabled, w.requester) {
		must(t, w.adm.AddMember(w.ctx, audit.System, group.ID, u.ID))
	}
	_, err = w.adm.ChangeUser(w.ctx, audit.System, w.disabled.ID, admin.Disable)
	must(t, err)
	must(t, w.db.SetTimeZone(w.ctx, w.approvers[0].ID, "Europe/Paris"))
	w.approvers[0].TimeZone = "Europe/Paris"

	task, err := w.adm.CreateTask(w.ctx, audit.System, "exchange/Set-Mailbox", "", "")
	must(t, err)
	_, err = w.adm.CreateTask(w.ctx, audit.System, "exchange/Get-Mailbox", "", "")
	must(t, err)
	role, err := w.adm.CreateRole(w.ctx, audit.System, "Mailbox admin", "")
	must(t, err)
	must(t, w.adm.AddRoleTask(w.ctx, audit.System, role.ID, task.Key))
	must(t, w.adm.AddRoleTask(w.ctx, audit.System, role.ID, "exchange/Get-Mailbox"))
	p := pam.NewPolicy(pam.ScopeRole, role.ID)
	p.ApproverGroupID, p.ApprovalsRequired = group.ID, 1
	w.policy, err = w.adm.CreatePolicy(w.ctx, audit.System, p)
	must(t, err)
	return w
}

func (w *world) newWorker(db *store.Store) *mail.Worker {
	wk := mail.NewWorker(db, mail.NewSMTP(w.smtp.SMTP(), from, mail.WithRootCAs(w.smtp.Roots), mail.WithSMTPTimeout(5*time.Second)), w.clock.Now, quiet)
	wk.BackoffBase, wk.BackoffMax = time.Minute, time.Hour
	return wk
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) user(email, name string) pam.User {
	w.t.Helper()
	u, _, err := w.adm.CreateUser(w.ctx, audit.System, email, name, false, false)
	must(w.t, err)
	return u
}

func as(u pam.User) audit.Actor {
	return audit.Actor{Type: audit.ActorUser, ID: string(u.ID), Name: u.Email}
}

func (w *world) submit(justification string) pam.Request {
	w.t.Helper()
	r, err := w.acc.Submit(w.ctx, as(w.requester), w.requester, w.policy.ID,
		pam.Submission{Duration: 2 * time.Hour, Justification: justification, Ticket: "CHG-42"})
	must(w.t, err)
	return r
}

// deliver runs the worker once and returns the messages the server accepted meanwhile.
func (w *world) deliver() []mailtest.Message {
	w.t.Helper()
	before := len(w.smtp.Messages())
	_, err := w.worker.DeliverDue(w.ctx)
	must(w.t, err)
	return w.smtp.Messages()[before:]
}

func (w *world) mail(f pam.MailFilter) []pam.OutboxMessage {
	w.t.Helper()
	f.Limit = 500
	ms, err := w.db.Mail(w.ctx, f)
	must(w.t, err)
	return ms
}

func (w *world) events(action string) []audit.Event {
	w.t.Helper()
	evs, err := w.db.AuditEvents(w.ctx, store.AuditFilter{Action: action, Limit: 500})
	must(w.t, err)
	return evs
}

func recipients(ms []mailtest.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.To...)
	}
	slices.Sort(out)
	return out
}

func byRecipient(t *testing.T, ms []mailtest.Message, rcpt string) mailtest.Message {
	t.Helper()
	for _, m := range ms {
		if slices.Contains(m.To, rcpt) {
			return m
		}
	}
	t.Fatalf("no message to %s among %v", rcpt, recipients(ms))
	return mailtest.Message{}
}

func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, s)
		}
	}
}

func TestEveryMessageReachesItsPeople(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		alice, bob := w.approvers[0], w.approvers[1]
		link := func(r pam.Request) string { return "https://elevate.example.org/requests/" + r.ID }

		// Pending → every enabled approver except the requester.
		r := w.submit("INC-7 mailbox full")
		got := w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{alice.Email, bob.Email}) {
			t.Fatalf("pending went to %v", rc)
		}
		m := byRecipient(t, got, alice.Email)
		if m.Subject != "Approval needed: Rita Requester asks for role Mailbox admin for 2 h" {
			t.Errorf("subject %q", m.Subject)
		}
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			contains(t, "pending "+part, body, r.ID, "Rita Requester", "req@example.com", "role Mailbox admin",
				"exchange/Get-Mailbox, exchange/Set-Mailbox", "2 h", "INC-7 mailbox full", "CHG-42", link(r),
				// Alice reads Paris time, with UTC beside it.
				"Mon 2 Mar 2026 10:00 CET (Europe/Paris; Mon 2 Mar 2026 09:00 UTC)")
		}
		if !strings.HasPrefix(m.MessageID, "<") || !strings.HasSuffix(m.MessageID, "@example.org>") || m.From != from {
			t.Errorf("message id %q, envelope from %q", m.MessageID, m.From)
		}
		contains(t, "bob's pending text", byRecipient(t, got, bob.Email).Text, "Mon 2 Mar 2026 09:00 UTC")

		// Approved → the requester; decided → the approver who did not decide.
		w.clock.Advance(10 * time.Minute)
		_, err := w.acc.Review(w.ctx, as(alice), alice, r.ID, pam.DecisionApprove, "Go ahead <carefully>")
		must(t, err)
		got = w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{bob.Email, w.requester.Email}) {
			t.Fatalf("approval went to %v", rc)
		}
		m = byRecipient(t, got, w.requester.Email)
		if m.Subject != "Approved: role Mailbox admin for 2 h" {
			t.Errorf("subject %q", m.Subject)
		}
		contains(t, "approved text", m.Text, "Go ahead <carefully>", "Starts:", "09:10 UTC", "Ends:", "11:10 UTC", link(r))
		contains(t, "approved html", m.HTML, "Go ahead &lt;carefully&gt;")
		m = byRecipient(t, got, bob.Email)
		contains(t, "decided", m.Subject, "No action needed", "was approved")
		contains(t, "decided text", m.Text, "was approved by Approver alice")

		// Expiring soon → the requester, once, even when asked twice (or by two processes).
		w.clock.Advance(2*time.Hour - 14*time.Minute)
		n1, err := w.outbox.QueueExpiryNotices(w.ctx)
		must(t, err)
		n2, err := w.outbox.QueueExpiryNotices(w.ctx)
		must(t, err)
		if n1 != 1 || n2 != 0 {
			t.Fatalf("expiry notices queued %d then %d", n1, n2)
		}
		got = w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{w.requester.Email}) {
			t.Fatalf("expiring went to %v", rc)
		}
		contains(t, "expiring", got[0].Subject, "Ending soon")
		contains(t, "expiring text", got[0].Text, "ends at Mon 2 Mar 2026 11:10 UTC")

		// Revoked (with the reason) → the requester.
		r2 := w.submit("second")
		w.deliver()
		_, err = w.acc.Review(w.ctx, as(bob), bob, r2.ID, pam.DecisionApprove, "")
		must(t, err)
		w.deliver()
		_, err = w.acc.Revoke(w.ctx, as(alice), alice, r2.ID, "Done <early>")
		must(t, err)
		got = w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{w.requester.Email}) {
			t.Fatalf("revoked went to %v", rc)
		}
		contains(t, "revoked text", got[0].Text, "Approver alice revoked your access", "Done <early>")
		contains(t, "revoked html", got[0].HTML, "Done &lt;early&gt;")

		// Denied (with the comment) → the requester; decided → the other approver.
		r3 := w.submit("third")
		w.deliver()
		_, err = w.acc.Review(w.ctx, as(bob), bob, r3.ID, pam.DecisionDeny, "Use the shared mailbox")
		must(t, err)
		got = w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{alice.Email, w.requester.Email}) {
			t.Fatalf("denial went to %v", rc)
		}
		contains(t, "denied", byRecipient(t, got, w.requester.Email).Text, "Use the shared mailbox", "Approver bob denied")
		contains(t, "decided after deny", byRecipient(t, got, alice.Email).Subject, "was denied")

		// Withdrawn → the approvers who were asked.
		r4 := w.submit("fourth")
		w.deliver()
		_, err = w.acc.Withdraw(w.ctx, as(w.requester), w.requester, r4.ID)
		must(t, err)
		got = w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{alice.Email, bob.Email}) {
			t.Fatalf("withdrawal went to %v", rc)
		}
		contains(t, "withdrawn", got[0].Text, "withdrew their request")

		// Timed out → the requester, and the approvers learn they need not act.
		r5 := w.submit("fifth")
		w.deliver()
		w.clock.Advance(w.policy.PendingTimeout + time.Minute)
		_, err = w.acc.Sweep(w.ctx)
		must(t, err)
		got = w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{alice.Email, bob.Email, w.requester.Email}) {
			t.Fatalf("time-out went to %v", rc)
		}
		contains(t, "timed out", byRecipient(t, got, w.requester.Email).Subject, "Timed out")
		contains(t, "decided after time-out", byRecipient(t, got, bob.Email).Text, r5.ID, "timed out before anyone decided")

		// Nothing went to the disabled approver, and every send is an audit event.
		if n := len(w.smtp.To(w.disabled.Email)); n != 0 {
			t.Fatalf("disabled approver got %d messages", n)
		}
		if sent, evs := len(w.smtp.Messages()), len(w.events("mail.sent")); sent != evs {
			t.Fatalf("%d messages sent, %d mail.sent events", sent, evs)
		}
	})
}

// TestCancelledRequestTellsItsPeople: a cancel reaches the requester with the reason, in both
// parts and with the link, and tells the approvers who were asked that they need not act.
func TestCancelledRequestTellsItsPeople(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		alice, bob := w.approvers[0], w.approvers[1]
		r := w.submit("one more hour")
		w.deliver()
		w.clock.Advance(5 * time.Minute)
		must(t, w.db.Tx(w.ctx, func(tx *store.Store) error {
			cur, err := tx.LockRequest(w.ctx, r.ID)
			if err != nil {
				return err
			}
			if err := cur.Cancel(pam.CancelGrantRevoked, w.clock.Now()); err != nil {
				return err
			}
			if err := tx.SaveTransition(w.ctx, cur); err != nil {
				return err
			}
			c, err := access.NewChange(w.ctx, tx, cur, audit.RequestCancelled, audit.System)
			if err != nil {
				return err
			}
			return w.outbox.RequestChanged(w.ctx, tx, c)
		}))
		got := w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{alice.Email, bob.Email, w.requester.Email}) {
			t.Fatalf("cancel went to %v", rc)
		}
		m := byRecipient(t, got, w.requester.Email)
		if m.Subject != "Cancelled: your request for role Mailbox admin" {
			t.Errorf("subject %q", m.Subject)
		}
		link := "https://elevate.example.org/requests/" + r.ID
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			contains(t, "cancelled "+part, body, "was cancelled before anyone decided it", "the grant it extends was revoked", "Cancelled",
				"grant revoked", r.ID, "role Mailbox admin", "one more hour", link)
		}
		contains(t, "cancelled text", m.Text, "Status:        Cancelled", "Reason:        grant revoked", "Open the request:")
		contains(t, "cancelled html", m.HTML, "Your request was cancelled", `href="`+link+`"`)
		m = byRecipient(t, got, alice.Email)
		contains(t, "decided after cancel", m.Subject, "No action needed", "was cancelled")
		contains(t, "decided after cancel text", m.Text, "Rita Requester's request for role Mailbox admin was cancelled before anyone decided it: the grant it extends was revoked.")
		if n := len(w.mail(pam.MailFilter{RequestID: r.ID})); n != 5 {
			t.Fatalf("%d messages for the request, want 2 pending and 3 for the cancel", n)
		}
	})
}

func TestTypedTextCannotAddRecipientsOrMarkup(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		r := w.submit("need it\r\nBcc: x@y.example\r\n\r\n<script>alert(1)</script><b>now</b> & \"then\"")
		got := w.deliver()
		if rc := recipients(got); !slices.Equal(rc, []string{"alice@example.com", "bob@example.com"}) {
			t.Fatalf("recipients %v", rc)
		}
		for _, m := range got {
			if m.Header.Get("Bcc") != "" || len(m.Header["Bcc"]) != 0 || strings.Contains(strings.ToLower(m.Header.Get("To")), "x@y") {
				t.Fatalf("header injected: %v", m.Header)
			}
			if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<b>now</b>") {
				t.Fatalf("markup arrived unescaped:\n%s", m.HTML)
			}
			contains(t, "html", m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;now&lt;/b&gt; &amp; &#34;then&#34;")
			contains(t, "text", m.Text, "<script>alert(1)</script><b>now</b>")
		}
		// A subject never carries a line break, whatever a name or scope holds.
		ms := w.mail(pam.MailFilter{RequestID: r.ID})
		for _, m := range ms {
			if strings.ContainsAny(m.Subject, "\r\n") {
				t.Fatalf("subject %q", m.Subject)
			}
		}
		if len(w.smtp.To("x@y.example")) != 0 {
			t.Fatal("the injected address received mail")
		}
	})
}

func TestServerDownThenUpDeliversEachOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		addr := w.smtp.Addr
		w.smtp.Close()
		w.submit("one")
		w.submit("two")
		if got := w.deliver(); len(got) != 0 {
			t.Fatalf("delivered %d while down", len(got))
		}
		for _, m := range w.mail(pam.MailFilter{}) {
			if m.State != pam.MailRetrying || m.Attempts != 1 || !strings.Contains(m.LastError, "connect") ||
				!m.NextAttemptAt.Equal(w.clock.Now().Add(time.Minute)) {
				t.Fatalf("after refused connection: %+v", m)
			}
		}
		if n := len(w.events("mail.retry_scheduled")); n != 4 {
			t.Fatalf("%d retry events", n)
		}
		// Not due yet: nothing is tried.
		srv := mailtest.Start(t, mailtest.Options{Addr: addr})
		w.smtp = srv
		if got := w.deliver(); len(got) != 0 {
			t.Fatalf("delivered %d before the backoff elapsed", len(got))
		}
		w.clock.Advance(time.Minute)
		got := w.deliver()
		if len(got) != 4 {
			t.Fatalf("delivered %d after the server came back", len(got))
		}
		w.clock.Advance(24 * time.Hour)
		w.deliver()
		ids := map[string]int{}
		for _, m := range srv.Messages() {
			ids[m.MessageID]++
		}
		if len(ids) != 4 || len(srv.Messages()) != 4 {
			t.Fatalf("messages %d, distinct ids %d", len(srv.Messages()), len(ids))
		}
		for _, m := range w.mail(pam.MailFilter{}) {
			if m.State != pam.MailSent || m.Attempts != 2 || m.SentAt == nil {
				t.Fatalf("after delivery: %+v", m)
			}
		}
	})
}

func TestTemporaryFailuresRetryPermanentOnesFail(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		w.smtp.Reject(func(rcpt string) error {
			switch rcpt {
			case "alice@example.com":
				return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
			case "bob@example.com":
				return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
			}
			return nil
		})
		w.submit("x")
		w.deliver()
		state := map[string]pam.OutboxMessage{}
		for _, m := range w.mail(pam.MailFilter{}) {
			state[m.Recipient] = m
		}
		a, b := state["alice@example.com"], state["bob@example.com"]
		if a.State != pam.MailRetrying || !strings.Contains(a.LastError, "451") {
			t.Fatalf("4xx: %+v", a)
		}
		if b.State != pam.MailFailed || !strings.Contains(b.LastError, "550") || !strings.Contains(b.LastError, "no such mailbox") {
			t.Fatalf("5xx: %+v", b)
		}
		if evs := w.events("mail.failed"); len(evs) != 1 || evs[0].TargetID != b.ID || evs[0].Outcome != audit.OutcomeFailure {
			t.Fatalf("failure events %+v", evs)
		}
		if f := w.mail(pam.MailFilter{State: pam.MailFailed}); len(f) != 1 {
			t.Fatalf("failed filter: %d", len(f))
		}

		// Backoff doubles: 1, 2, 4… minutes, up to an hour; after 24 h of failures it gives up.
		waits := []time.Duration{}
		for i := 0; i < 60; i++ {
			m, err := w.db.MailByID(w.ctx, a.ID)
			must(t, err)
			if m.State != pam.MailRetrying {
				break
			}
			d := m.NextAttemptAt.Sub(w.clock.Now())
			waits = append(waits, d)
			w.clock.Advance(d)
			w.deliver()
		}
		if !slices.Equal(waits[:4], []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}) || slices.Max(waits) != time.Hour {
			t.Fatalf("backoff %v", waits)
		}
		a, err := w.db.MailByID(w.ctx, a.ID)
		must(t, err)
		if a.State != pam.MailFailed || a.GiveUpAt == nil || a.Attempts < 20 || a.Attempts > 40 {
			t.Fatalf("after a day of 4xx: %+v", a)
		}

		// An administrator retries the failed messages once the server accepts them.
		w.smtp.Reject(nil)
		admin := as(w.requester)
		for _, id := range []string{a.ID, b.ID} {
			_, err := w.outbox.Retry(w.ctx, admin, id)
			must(t, err)
		}
		if _, err := w.outbox.Retry(w.ctx, admin, a.ID); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("retrying a queued message: %v", err)
		}
		if n := len(w.events("mail.retry_requested")); n != 2 {
			t.Fatalf("%d retry events", n)
		}
		if got := recipients(w.deliver()); !slices.Equal(got, []string{"alice@example.com", "bob@example.com"}) {
			t.Fatalf("after retry delivered to %v", got)
		}
	})
}

func TestTwoWorkersNeverSendOneMessageTwice(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		dbURL := testenv.DatabaseURL(t, dialect)
		open := func() *store.Store {
			db, err := store.Open(dbURL)
			must(t, err)
			t.Cleanup(func() { db.Close() })
			db.SetSealWait(10 * time.Second) // the test reads the trail right after its changes
			return db
		}
		db := open()
		must(t, db.Migrate(context.Background()))
		srv := mailtest.Start(t, mailtest.Options{})
		clock := testenv.NewClock()
		const n = 60
		for i := range n {
			must(t, db.Tx(context.Background(), func(tx *store.Store) error {
				return tx.EnqueueMail(context.Background(), pam.OutboxMessage{
					ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Kind: "test", Recipient: fmt.Sprintf("u%02d@example.com", i),
					Subject: "hello", Text: "hi", HTML: "<p>hi</p>", CreatedAt: clock.Now()})
			}))
		}
		// Two "processes": separate connection pools on one database.
		var wg sync.WaitGroup
		for range 2 {
			wk := mail.NewWorker(open(), mail.NewSMTP(srv.SMTP(), from, mail.WithRootCAs(srv.Roots)), clock.Now, quiet)
			wk.Batch = 4
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := wk.DeliverDue(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		seen := map[string]int{}
		for _, m := range srv.Messages() {
			seen[m.MessageID]++
		}
		if len(srv.Messages()) != n || len(seen) != n {
			t.Fatalf("%d messages sent, %d distinct", len(srv.Messages()), len(seen))
		}
		ms, err := db.Mail(context.Background(), pam.MailFilter{State: pam.MailSent, Limit: 500})
		must(t, err)
		if len(ms) != n {
			t.Fatalf("%d marked sent", len(ms))
		}
		for _, m := range ms {
			if m.Attempts != 1 {
				t.Fatalf("attempts %+v", m)
			}
		}
	})
}

func TestRolledBackChangeQueuesNothing(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		r := w.submit("x")
		queued := len(w.mail(pam.MailFilter{}))
		boom := errors.New("boom")
		withdraw := func(fail bool) error {
			return w.db.Tx(w.ctx, func(tx *store.Store) error {
				r := r
				r.Status = pam.StatusWithdrawn
				c, err := access.NewChange(w.ctx, tx, r, audit.RequestWithdrawn, as(w.requester))
				if err != nil {
					return err
				}
				if err := w.outbox.RequestChanged(w.ctx, tx, c); err != nil {
					return err
				}
				if fail {
					return boom
				}
				return nil
			})
		}
		if err := withdraw(true); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if n := len(w.mail(pam.MailFilter{})); n != queued {
			t.Fatalf("after rollback %d queued, want %d", n, queued)
		}
		// A refused change (the requester cannot approve) queues nothing either.
		_, err := w.acc.Review(w.ctx, as(w.requester), w.requester, r.ID, pam.DecisionApprove, "")
		if err == nil {
			t.Fatal("self-approval went through")
		}
		if n := len(w.mail(pam.MailFilter{})); n != queued {
			t.Fatalf("after a refused review %d queued", n)
		}
		// The same change committed queues its two messages: the rollback above undid them.
		if err := withdraw(false); err != nil {
			t.Fatal(err)
		}
		if n := len(w.mail(pam.MailFilter{})); n != queued+2 {
			t.Fatalf("after the committed change %d queued, want %d", n, queued+2)
		}
	})
}

func TestWithoutSMTPMailWaitsThenGoesOut(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		idle := mail.NewWorker(w.db, nil, w.clock.Now, quiet)
		w.submit("x")
		w.clock.Advance(72 * time.Hour)
		if n, err := idle.DeliverDue(w.ctx); n != 0 || err != nil {
			t.Fatalf("no SMTP delivered %d: %v", n, err)
		}
		q := w.mail(pam.MailFilter{State: pam.MailQueued})
		if len(q) != 2 || len(w.smtp.Messages()) != 0 {
			t.Fatalf("queued %d, sent %d", len(q), len(w.smtp.Messages()))
		}
		// SMTP configured later: everything waiting goes out, days later too.
		if got := w.deliver(); len(got) != 2 {
			t.Fatalf("delivered %d", len(got))
		}
	})
}

func TestNewUserGetsPasswordLinkByMail(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		w.adm.SetMailer(w.outbox)
		u, tok, err := w.adm.CreateUser(w.ctx, audit.System, "new@example.com", "Nina New", false, false)
		must(t, err)
		got := w.deliver()
		m := byRecipient(t, got, u.Email)
		contains(t, "welcome", m.Subject, "Welcome to Elevate")
		contains(t, "welcome text", m.Text, "https://elevate.example.org/set-password?token="+tok, "Nina New")
		contains(t, "welcome html", m.HTML, "https://elevate.example.org/set-password?token="+tok)
		// Once delivered, the link no longer sits in the database.
		for _, q := range w.mail(pam.MailFilter{State: pam.MailSent}) {
			if q.Kind == mail.KindPasswordSet && (strings.Contains(q.Text, tok) || strings.Contains(q.HTML, tok)) {
				t.Fatalf("the delivered link stays in the outbox: %+v", q)
			}
		}
		// A refused creation (duplicate address) queues nothing.
		before := len(w.mail(pam.MailFilter{}))
		if _, _, err := w.adm.CreateUser(w.ctx, audit.System, "new@example.com", "Nina Again", false, false); err == nil {
			t.Fatal("duplicate user created")
		}
		if after := len(w.mail(pam.MailFilter{})); after != before {
			t.Fatalf("refused creation queued %d", after-before)
		}
	})
}

func TestTLSModes(t *testing.T) {
	msg := []pam.OutboxMessage{{ID: "11111111-1111-1111-1111-111111111111", Recipient: "a@example.com", Subject: "s", Text: "t", HTML: "h", CreatedAt: time.Now()}}
	ctx := context.Background()
	send := func(s *mail.SMTP) error { return s.Send(ctx, msg)[0] }

	implicit := mailtest.Start(t, mailtest.Options{TLS: mailtest.Implicit})
	if err := send(mail.NewSMTP(implicit.SMTP(), from, mail.WithRootCAs(implicit.Roots))); err != nil {
		t.Fatalf("implicit TLS: %v", err)
	}
	starttls := mailtest.Start(t, mailtest.Options{})
	if err := send(mail.NewSMTP(starttls.SMTP(), from)); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	opportunistic := starttls.SMTP()
	opportunistic.StartTLS = config.StartTLSOpportunistic
	if err := send(mail.NewSMTP(opportunistic, from, mail.WithRootCAs(starttls.Roots))); err != nil {
		t.Fatalf("opportunistic STARTTLS: %v", err)
	}
	wrong := starttls.SMTP()
	wrong.Password = "wrong"
	err := send(mail.NewSMTP(wrong, from, mail.WithRootCAs(starttls.Roots)))
	var de *mail.DeliveryError
	if !errors.As(err, &de) || de.Permanent {
		t.Fatalf("wrong password should be a temporary failure (fix the configuration, mail waits): %v", err)
	}
	plain := mailtest.Start(t, mailtest.Options{TLS: mailtest.NoTLS})
	required := plain.SMTP()
	required.StartTLS = config.StartTLSRequired
	if err := send(mail.NewSMTP(required, from)); err == nil {
		t.Fatal("STARTTLS required, but a server without it was used")
	}
	if n := len(implicit.Messages()) + len(starttls.Messages()) + len(plain.Messages()); n != 2 {
		t.Fatalf("%d messages accepted", n)
	}
}

func TestLeaseHoldsAMessageUntilItRunsOut(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		ctx, clock := context.Background(), testenv.NewClock()
		must(t, db.EnqueueMail(ctx, pam.OutboxMessage{ID: "22222222-2222-2222-2222-222222222222", Kind: "test",
			Recipient: "a@example.com", Subject: "s", Text: "t", HTML: "h", CreatedAt: clock.Now()}))
		first, err := db.ClaimMail(ctx, "owner-1", clock.Now(), 15*time.Minute, 10)
		must(t, err)
		if len(first) != 1 {
			t.Fatalf("first claim took %d", len(first))
		}
		// While the lease holds, nobody else gets the message.
		clock.Advance(14 * time.Minute)
		if again, err := db.ClaimMail(ctx, "owner-2", clock.Now(), 15*time.Minute, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed a leased message: %d %v", len(again), err)
		}
		// The first worker died; after the lease, another takes it over, and the first can no
		// longer record an outcome.
		clock.Advance(2 * time.Minute)
		taken, err := db.ClaimMail(ctx, "owner-2", clock.Now(), 15*time.Minute, 10)
		must(t, err)
		if len(taken) != 1 {
			t.Fatalf("after the lease ran out: %d", len(taken))
		}
		ok, err := db.FinishMail(ctx, first[0].ID, "owner-1", store.MailOutcome{State: pam.MailSent, At: clock.Now()})
		if err != nil || ok {
			t.Fatalf("stale owner recorded an outcome: %v %v", ok, err)
		}
		ok, err = db.FinishMail(ctx, first[0].ID, "owner-2", store.MailOutcome{State: pam.MailSent, At: clock.Now()})
		if err != nil || !ok {
			t.Fatalf("owner could not record: %v %v", ok, err)
		}
		if m, _ := db.MailByID(ctx, first[0].ID); m.State != pam.MailSent || m.Attempts != 1 {
			t.Fatalf("after sending: %+v", m)
		}
		if again, err := db.ClaimMail(ctx, "owner-3", clock.Now().Add(time.Hour), 15*time.Minute, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed a sent message: %d %v", len(again), err)
		}
	})
}
