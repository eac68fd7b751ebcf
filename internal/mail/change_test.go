package mail_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// The outbox renders a change from the Change it is handed and looks nothing up again: what
// the use case gathered is what the message says, and the kind is the action's.
func TestMailRendersTheChangeItIsGiven(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		r := w.submit("for the audit")
		seen := map[string]bool{}
		for _, m := range w.mail(pam.MailFilter{}) {
			seen[m.ID] = true
		}
		r.Status = pam.StatusDenied
		r.Reviews = []pam.Review{{ReviewerID: w.approvers[0].ID, ReviewerName: "Named In The Change", Decision: pam.DecisionDeny,
			Comment: "not today", At: w.clock.Now()}}
		requester := w.requester
		requester.Name = "Rita From The Change"
		c := access.Change{
			Action: audit.RequestDenied, Actor: as(w.approvers[0]), Request: r, Requester: requester,
			Tasks:     []pam.Task{{Key: "given/Only-In-The-Change"}},
			Approvers: []pam.User{w.approvers[1]},
		}
		must(t, w.db.Tx(w.ctx, func(tx *store.Store) error { return w.outbox.RequestChanged(w.ctx, tx, c) }))

		var queued []pam.OutboxMessage
		for _, m := range w.mail(pam.MailFilter{}) {
			if !seen[m.ID] {
				queued = append(queued, m)
			}
		}
		var kinds, to []string
		for _, m := range queued {
			kinds, to = append(kinds, m.Kind), append(to, m.Recipient)
			for _, want := range []string{"given/Only-In-The-Change", "Named In The Change"} {
				if !strings.Contains(m.Text, want) {
					t.Errorf("%s mail to %s lacks %q:\n%s", m.Kind, m.Recipient, want, m.Text)
				}
			}
			if strings.Contains(m.Text, "exchange/Set-Mailbox") {
				t.Errorf("%s mail to %s lists the stored tasks, not the change's", m.Kind, m.Recipient)
			}
		}
		slices.Sort(kinds)
		if want := []string{audit.RequestDenied.String(), mail.KindDecided}; !slices.Equal(kinds, want) {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
		if !slices.Contains(to, w.approvers[1].Email) || !slices.Contains(to, w.requester.Email) || slices.Contains(to, w.approvers[0].Email) {
			t.Fatalf("went to %v", to)
		}
		for _, m := range queued {
			if m.Recipient == w.requester.Email && !strings.Contains(m.Text, "Rita From The Change") {
				t.Errorf("requester mail does not greet the change's requester:\n%s", m.Text)
			}
		}
	})
}

// A grant the system revoked because its requester left the eligible group tells the requester,
// who reads the mail, "you left", not "the requester left".
func TestRevokedMailSpeaksToTheRequester(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		r := w.submit("for the audit")
		seen := map[string]bool{}
		for _, m := range w.mail(pam.MailFilter{}) {
			seen[m.ID] = true
		}
		r.Status, r.RevokedBy, r.RevokeReason = pam.StatusRevoked, pam.SystemID, pam.RevokeLeftGroup
		c := access.Change{Action: audit.RequestRevoked, Actor: audit.System, Request: r, Requester: w.requester}
		must(t, w.db.Tx(w.ctx, func(tx *store.Store) error { return w.outbox.RequestChanged(w.ctx, tx, c) }))
		n := 0
		for _, m := range w.mail(pam.MailFilter{}) {
			if seen[m.ID] || m.Recipient != w.requester.Email {
				continue
			}
			n++
			if !strings.Contains(m.Text, "you left the policy's eligible group") || strings.Contains(m.Text, "the requester left") {
				t.Errorf("%s mail to the requester:\n%s", m.Kind, m.Text)
			}
		}
		if n == 0 {
			t.Fatal("no mail to the requester")
		}
	})
}

// A delegate's "approval needed" mail says in whose place they are asked, in both parts and as
// the inbox says it, once for each approver who delegated to them; an approver's own mail says
// nothing of the kind, and a delegate who is an approver too is asked in their own right.
func TestDelegateIsToldOnWhoseBehalfTheyAreAsked(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		alice, bob := w.approvers[0], w.approvers[1]
		w.user("dana@example.com", "Dana Delegate")
		now := w.clock.Now()
		pending := func(r pam.Request) map[string]pam.OutboxMessage {
			t.Helper()
			out := map[string]pam.OutboxMessage{}
			for _, m := range w.mail(pam.MailFilter{RequestID: r.ID}) {
				if m.Kind == mail.KindPending {
					out[m.Recipient] = m
				}
			}
			return out
		}
		says := func(m pam.OutboxMessage, sentence string) bool {
			return strings.Contains(m.Text, sentence) && strings.Contains(m.HTML, sentence)
		}

		_, err := w.acc.Delegate(w.ctx, as(alice), alice, "dana@example.com", now, now.Add(24*time.Hour))
		must(t, err)
		ms := pending(w.submit("one principal"))
		if m, ok := ms["dana@example.com"]; !ok || !says(m, "You are asked on behalf of Approver alice, who delegated to you.") {
			t.Fatalf("Dana's pending mail (sent %v):\n%s\n%s", ok, m.Text, m.HTML)
		}
		for _, e := range []string{alice.Email, bob.Email} {
			if m := ms[e]; m.ID == "" || strings.Contains(m.Text, "on behalf of") || strings.Contains(m.HTML, "on behalf of") {
				t.Fatalf("%s's pending mail (sent %v) speaks of a delegation:\n%s", e, m.ID != "", m.Text)
			}
		}

		_, err = w.acc.Delegate(w.ctx, as(bob), bob, "dana@example.com", now, now.Add(24*time.Hour))
		must(t, err)
		ms = pending(w.submit("two principals"))
		if m := ms["dana@example.com"]; !says(m, "You are asked on behalf of Approver alice and Approver bob, who delegated to you.") {
			t.Fatalf("Dana's pending mail for two:\n%s", m.Text)
		}

		// Bob's delegate is Alice, an approver herself: she is asked as herself.
		w.clock.Advance(time.Minute)
		ds, _, err := w.acc.MyDelegations(w.ctx, bob)
		must(t, err)
		_, err = w.acc.EndDelegation(w.ctx, as(bob), bob, ds.ID)
		must(t, err)
		_, err = w.acc.Delegate(w.ctx, as(bob), bob, alice.Email, w.clock.Now(), w.clock.Now().Add(time.Hour))
		must(t, err)
		ms = pending(w.submit("an approver delegate"))
		if m := ms[alice.Email]; m.ID == "" || strings.Contains(m.Text, "on behalf of") {
			t.Fatalf("Alice's pending mail (sent %v):\n%s", m.ID != "", m.Text)
		}
		if m := ms["dana@example.com"]; !says(m, "You are asked on behalf of Approver alice, who delegated to you.") {
			t.Fatalf("Dana's pending mail after Bob's change:\n%s", m.Text)
		}
	})
}

// A delegate there only as a delegate is reminded while an approver they stand in for still has
// to act, and their reminder names only those: once every one of them was counted (they reviewed
// it themselves), the delegate can no longer decide it, so no reminder and no "no longer needs
// you" reaches them.
func TestDelegateIsRemindedOnlyForApproversStillToAct(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		alice, bob := w.approvers[0], w.approvers[1]
		w.user("dana@example.com", "Dana Delegate")
		p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
		must(t, err)
		p.ApprovalsRequired = 2 // one review leaves it pending
		must(t, w.adm.UpdatePolicy(w.ctx, audit.System, p))
		w.policy = p
		remindIn, ok := w.policy.ReminderDelay()
		if !ok {
			t.Fatal("the policy sends no reminder")
		}
		sent := func(r pam.Request, kind string) map[string]pam.OutboxMessage {
			t.Helper()
			out := map[string]pam.OutboxMessage{}
			for _, m := range w.mail(pam.MailFilter{RequestID: r.ID}) {
				if m.Kind == kind {
					out[m.Recipient] = m
				}
			}
			return out
		}
		approve := func(u pam.User, r pam.Request) {
			t.Helper()
			_, err := w.acc.Review(w.ctx, as(u), u, r.ID, pam.DecisionApprove, "")
			must(t, err)
		}
		remind := func() {
			t.Helper()
			w.clock.Advance(remindIn + time.Minute)
			_, err := w.acc.Sweep(w.ctx)
			must(t, err)
		}
		delegate := func(u pam.User) {
			t.Helper()
			now := w.clock.Now()
			_, err := w.acc.Delegate(w.ctx, as(u), u, "dana@example.com", now, now.Add(48*time.Hour))
			must(t, err)
		}

		// Alice delegated to Dana, then reviewed it herself: Dana is not reminded, Bob is.
		delegate(alice)
		r := w.submit("one principal who acted")
		approve(alice, r)
		remind()
		ms := sent(r, mail.KindReminded)
		if _, ok := ms[bob.Email]; !ok {
			t.Fatalf("Bob got no reminder; reminders went to %v", keys(ms))
		}
		if m, ok := ms["dana@example.com"]; ok {
			t.Fatalf("Dana is reminded of a request Alice already reviewed:\n%s", m.Text)
		}
		// Bob decides it: Dana, who could no longer decide it, is not told it no longer needs her.
		approve(bob, r)
		if m, ok := sent(r, mail.KindDecided)["dana@example.com"]; ok {
			t.Fatalf("Dana is told a request Alice reviewed no longer needs her:\n%s", m.Text)
		}

		// Bob delegated to Dana too; Alice reviewed it: the reminder asks Dana for Bob alone.
		delegate(bob)
		r = w.submit("two principals, one acted")
		approve(alice, r)
		remind()
		m, ok := sent(r, mail.KindReminded)["dana@example.com"]
		if want := "You are asked on behalf of Approver bob, who delegated to you."; !ok ||
			!strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) || strings.Contains(m.Text, "Approver alice") {
			t.Fatalf("Dana's reminder (sent %v):\n%s", ok, m.Text)
		}
		// Withdrawn while Bob's part was open: Dana hears it no longer needs her.
		_, err = w.acc.Withdraw(w.ctx, as(w.requester), w.requester, r.ID)
		must(t, err)
		if _, ok := sent(r, mail.KindDecided)["dana@example.com"]; !ok {
			t.Fatal("Dana is not told a request she could still decide was withdrawn")
		}
	})
}

func keys(ms map[string]pam.OutboxMessage) []string {
	var out []string
	for k := range ms {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A delegate who is also a member of the escalation group decides an escalated request in their
// own right: the escalation tells them so, and once it escalated, their reminder comes although
// the approver they stand in for reviewed it, and speaks of no delegation.
func TestEscalationMemberIsRemindedInTheirOwnRight(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		alice := w.approvers[0]
		dana := w.user("dana@example.com", "Dana Delegate")
		esc, err := w.adm.CreateGroup(w.ctx, audit.System, "Escalation", "")
		must(t, err)
		must(t, w.adm.AddMember(w.ctx, audit.System, esc.ID, dana.ID))
		p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
		must(t, err)
		p.ApprovalsRequired, p.EscalationGroupID, p.EscalateAfter, p.RemindAfter = 2, esc.ID, time.Hour, 2*time.Hour
		must(t, w.adm.UpdatePolicy(w.ctx, audit.System, p))
		w.policy = p
		now := w.clock.Now()
		_, err = w.acc.Delegate(w.ctx, as(alice), alice, dana.Email, now, now.Add(24*time.Hour))
		must(t, err)

		r := w.submit("escalated to a delegate")
		_, err = w.acc.Review(w.ctx, as(alice), alice, r.ID, pam.DecisionApprove, "")
		must(t, err)
		for range 2 { // escalated, then reminded
			w.clock.Advance(time.Hour + time.Minute)
			_, err = w.acc.Sweep(w.ctx)
			must(t, err)
		}
		var reminded, escalated []string
		for _, m := range w.mail(pam.MailFilter{RequestID: r.ID}) {
			if m.Kind == mail.KindEscalated {
				escalated = append(escalated, m.Recipient)
				if m.Recipient == dana.Email && strings.Contains(m.Text, "on behalf of") {
					t.Fatalf("Dana's escalation mail speaks of a delegation:\n%s", m.Text)
				}
			}
			if m.Kind != mail.KindReminded {
				continue
			}
			reminded = append(reminded, m.Recipient)
			if m.Recipient == dana.Email && strings.Contains(m.Text, "on behalf of") {
				t.Fatalf("Dana's reminder speaks of a delegation:\n%s", m.Text)
			}
		}
		if !slices.Equal(escalated, []string{dana.Email}) {
			t.Fatalf("escalation mail went to %v, want Dana of the escalation group alone", escalated)
		}
		// Once Dana acted for Alice she reviews it no more, so its escalation does not ask her.
		acted := w.submit("decided by the delegate first")
		_, err = w.acc.Review(w.ctx, as(dana), dana, acted.ID, pam.DecisionApprove, "")
		must(t, err)
		w.clock.Advance(time.Hour + time.Minute)
		_, err = w.acc.Sweep(w.ctx)
		must(t, err)
		if got, err := w.db.RequestByID(w.ctx, acted.ID); err != nil || !got.Escalated() {
			t.Fatalf("the second request did not escalate: %+v %v", got, err)
		}
		for _, m := range w.mail(pam.MailFilter{RequestID: acted.ID}) {
			if m.Kind == mail.KindEscalated && m.Recipient == dana.Email {
				t.Fatalf("Dana, who acted for Alice, is asked again by the escalation:\n%s", m.Text)
			}
		}
		if !slices.Contains(reminded, dana.Email) {
			t.Fatalf("reminders went to %v, not to Dana of the escalation group", reminded)
		}
	})
}
