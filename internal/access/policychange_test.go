package access_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

func (w *world) status(id string) pam.Request {
	w.t.Helper()
	r, err := w.db.RequestByID(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// TestSweepEndsWhatAChangeMissed: requests a policy or membership change should have ended but
// did not (written by a version before changes reached requests, here changes made without the
// rules) are ended by the sweep: a grant and a request of someone outside the eligible group
// are revoked by the system and cancelled ("no longer eligible"), a request pending under a
// disabled policy is cancelled ("policy disabled"); others are left alone.
func TestSweepEndsWhatAChangeMissed(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		other := w.user("other@example.com")
		team, err := w.adm.CreateGroup(w.ctx, audit.System, "Mail team", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []pam.User{w.requester, other} {
			if err := w.adm.AddMember(w.ctx, audit.System, team.ID, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.EligibleGroupID = team.ID
		if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		grant := w.submit()
		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], grant.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatal(err)
		}
		pending := w.submit()
		others, err := w.acc.Submit(w.ctx, as(other), other, w.policy.ID, pam.Submission{Duration: time.Hour, Justification: "INC-2"})
		if err != nil {
			t.Fatal(err)
		}
		// Without the rules (as an older version did) leaving the group ends nothing.
		if err := w.adm.RemoveMember(w.ctx, audit.System, team.ID, w.requester.ID); err != nil {
			t.Fatal(err)
		}
		if r := w.status(grant.ID); r.Status != pam.StatusApproved {
			t.Fatalf("grant before the sweep: %s", r.Status)
		}
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		if r := w.status(grant.ID); r.Status != pam.StatusRevoked || r.RevokedBy != pam.SystemID || r.InForce(w.clock.Now()) {
			t.Fatalf("grant after the sweep: %s by %q", r.Status, r.RevokedBy)
		}
		if r := w.status(pending.ID); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelNoLongerEligible {
			t.Fatalf("pending after the sweep: %s (%s)", r.Status, r.CancelReason)
		}
		if r := w.status(others.ID); r.Status != pam.StatusPending {
			t.Fatalf("an eligible requester's request: %s", r.Status)
		}
		// A policy disabled without the rules: its pending request is cancelled by the sweep.
		p, err = w.db.PolicyByID(w.ctx, w.policy.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.Enabled = false
		if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		if r := w.status(others.ID); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelPolicyDisabled {
			t.Fatalf("pending under a disabled policy after the sweep: %s (%s)", r.Status, r.CancelReason)
		}
		if n := w.count("request.cancelled"); n != 2 {
			t.Fatalf("%d cancel events, want 2", n)
		}
		// A second sweep finds nothing more.
		if n, err := w.acc.Sweep(w.ctx); err != nil || n != 0 {
			t.Fatalf("second sweep: %d %v", n, err)
		}
	})
}

// TestSubmitRacingDisableLeavesNothingPending: submissions racing a disable of their policy
// either come first, and are cancelled by it, or come after and are refused; none is left
// pending under the disabled policy, without any sweep. The database settles it (the
// submission holds the policy row, the disable waits for it).
func TestSubmitRacingDisableLeavesNothingPending(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		w.adm.SetRequestRules(w.acc)
		var askers []pam.User
		for i := range 6 {
			askers = append(askers, w.user(string(rune('a'+i))+"@example.com"))
		}
		for round := range 3 {
			p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
			if err != nil {
				t.Fatal(err)
			}
			p.Enabled = true
			if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, u := range askers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := w.acc.Submit(w.ctx, as(u), u, w.policy.ID, pam.Submission{Duration: time.Hour, Justification: "INC-3"})
					if err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
						t.Errorf("round %d: submit: %v", round, err)
					}
				}()
			}
			p.Enabled, p.Version = false, p.Version+1
			if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
				t.Fatalf("round %d: disable: %v", round, err)
			}
			wg.Wait()
			left, err := w.db.PendingUnderPolicy(w.ctx, w.policy.ID, w.clock.Now(), 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Fatalf("round %d: %d requests left pending under the disabled policy", round, len(left))
			}
		}
	})
}

// TestEscalationMembersApprovalKeepsCounting: an approval by an escalation member, made once the
// request was escalated, still counts at the next review (it is not taken for the approval of
// someone who is no longer an approver).
func TestEscalationMembersApprovalKeepsCounting(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 2)
		backup, err := w.adm.CreateGroup(w.ctx, audit.System, "Backup approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		bea := w.user("bea@example.com")
		if err := w.adm.AddMember(w.ctx, audit.System, backup.ID, bea.ID); err != nil {
			t.Fatal(err)
		}
		p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.PendingTimeout, p.EscalationGroupID, p.EscalateAfter = 8*time.Hour, backup.ID, 4*time.Hour
		if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		r := w.submit()
		w.clock.Advance(5 * time.Hour)
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.acc.Review(w.ctx, as(bea), bea, r.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatalf("escalation member approves: %v", err)
		}
		got, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != pam.StatusApproved {
			t.Fatalf("after an escalation member's and an approver's approvals: %s, want approved", got.Status)
		}
	})
}

// TestReviewRemovalEndsWhatTheGroupGave: an access review that removes a requester from a
// policy's eligible group ends what that membership gave, as removing them on the group's page
// does: the pending request is cancelled ("no longer eligible") and the grant revoked by the
// system.
func TestReviewRemovalEndsWhatTheGroupGave(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		w.adm.SetRequestRules(w.acc)
		boss, _, err := w.adm.CreateUser(w.ctx, audit.System, "boss@example.com", "Boss", true, false)
		if err != nil {
			t.Fatal(err)
		}
		team, err := w.adm.CreateGroup(w.ctx, audit.System, "Mail team", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.adm.AddMember(w.ctx, audit.System, team.ID, w.requester.ID); err != nil {
			t.Fatal(err)
		}
		p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.EligibleGroupID = team.ID
		if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		grant := w.submit()
		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], grant.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatal(err)
		}
		pending := w.submit()
		c, err := w.adm.StartCampaign(w.ctx, as(boss), pam.CampaignInput{Name: "Quarterly", Scope: string(pam.ReviewAllGroups),
			Reviewers: string(pam.ReviewByAdmins), Default: string(pam.ReviewRemove), Deadline: w.clock.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		// Nobody reviews; the administrator closes it, and the default removes every member.
		if _, err := w.adm.CloseCampaign(w.ctx, as(boss), c.ID); err != nil {
			t.Fatal(err)
		}
		if r := w.status(grant.ID); r.Status != pam.StatusRevoked || r.RevokedBy != pam.SystemID {
			t.Fatalf("grant after the review: %s by %q", r.Status, r.RevokedBy)
		}
		if r := w.status(pending.ID); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelNoLongerEligible {
			t.Fatalf("pending after the review: %s (%s)", r.Status, r.CancelReason)
		}
	})
}

// TestDelegatesApprovalKeepsCounting: an approval a delegate made for an approver counts for
// that approver at the next review, as long as the approver still is one.
func TestDelegatesApprovalKeepsCounting(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 2)
		dana := w.user("dana@example.com")
		olivia := w.approvers[0]
		if _, err := w.acc.Delegate(w.ctx, as(olivia), olivia, dana.Email, w.clock.Now().Add(-time.Minute), w.clock.Now().Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		r := w.submit()
		if _, err := w.acc.Review(w.ctx, as(dana), dana, r.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatalf("delegate approves: %v", err)
		}
		got, err := w.acc.Review(w.ctx, as(w.approvers[1]), w.approvers[1], r.ID, pam.DecisionApprove, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != pam.StatusApproved {
			t.Fatalf("after a delegate's and an approver's approvals: %s, want approved", got.Status)
		}
	})
}

// TestEscalationGroupChangeReachesPendingRequests: a new escalation group on a policy reaches
// its pending requests, as a new approver group does, and decides none of them. One not yet
// escalated escalates to the new group at its own time; one already escalated escalates again,
// to the new group, at the sweep's next pass, with its own event and mail, and until then the
// old group's member has no say and her approval stops counting. The request page's rule
// change and the policy's audit event say so. Turning escalation off stops a pending request
// from escalating; turning it on lets one asked before escalate, counted from the edit.
func TestEscalationGroupChangeReachesPendingRequests(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 2)
		w.withOutbox()
		w.adm.SetRequestRules(w.acc)
		bea, nick := w.user("bea@example.com"), w.user("nick@example.com")
		backup, err := w.adm.CreateGroup(w.ctx, audit.System, "Backup approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		night, err := w.adm.CreateGroup(w.ctx, audit.System, "Night shift", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.adm.AddMember(w.ctx, audit.System, backup.ID, bea.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.adm.AddMember(w.ctx, audit.System, night.ID, nick.ID); err != nil {
			t.Fatal(err)
		}
		edit := func(group string) {
			t.Helper()
			p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
			if err != nil {
				t.Fatal(err)
			}
			p.PendingTimeout, p.EscalationGroupID, p.EscalateAfter = 8*time.Hour, group, 4*time.Hour
			if group == "" {
				p.EscalateAfter = 0
			}
			if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
				t.Fatal(err)
			}
		}
		sweep := func() {
			t.Helper()
			if _, err := w.acc.Sweep(w.ctx); err != nil {
				t.Fatal(err)
			}
		}
		edit(backup.ID)
		early := w.submit()
		w.clock.Advance(5 * time.Hour)
		sweep()
		if r := w.status(early.ID); !r.Escalated() || r.EscalationGroupID != backup.ID {
			t.Fatalf("the early request did not escalate to the backup group: %+v", r)
		}
		if _, err := w.acc.Review(w.ctx, as(bea), bea, early.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatalf("the backup member approves: %v", err)
		}
		late := w.submit()
		before := w.status(late.ID)

		w.clock.Advance(time.Minute)
		edit(night.ID)
		if r := w.status(late.ID); r.EscalationGroupID != night.ID || r.Escalated() || r.EscalateAt == nil ||
			!r.EscalateAt.Equal(*before.EscalateAt) || r.Version != before.Version+1 || r.Status != pam.StatusPending {
			t.Fatalf("the late request after the edit: group %q, escalated %v, at %v (was %v), version %d (was %d), %s",
				r.EscalationGroupID, r.Escalated(), r.EscalateAt, before.EscalateAt, r.Version, before.Version, r.Status)
		}
		// The escalated request waits to escalate again, due now; until the sweep, neither group
		// decides it.
		r := w.status(early.ID)
		if r.EscalationGroupID != night.ID || r.Escalated() || r.EscalateAt == nil || !r.EscalateAt.Equal(w.clock.Now()) || r.Status != pam.StatusPending {
			t.Fatalf("the escalated request after the edit: group %q, escalated %v at %v, %s", r.EscalationGroupID, r.Escalated(), r.EscalateAt, r.Status)
		}
		if _, err := w.acc.Review(w.ctx, as(nick), nick, early.ID, pam.DecisionApprove, ""); err == nil {
			t.Fatal("the new escalation group's member decided before the request escalated to it")
		}
		// Bea's say is gone, and her approval no longer counts: one approver's leaves it pending.
		if _, err := w.acc.Review(w.ctx, as(bea), bea, early.ID, pam.DecisionApprove, ""); err == nil {
			t.Fatal("the old escalation group's member reviewed again")
		}
		got, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], early.ID, pam.DecisionApprove, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != pam.StatusPending {
			t.Fatalf("after a lapsed and one counting approval: %s, want pending", got.Status)
		}
		sweep()
		escalations := w.events(early.ID, audit.RequestEscalated.String())
		if len(escalations) != 2 || escalations[0]["escalation_group"] != "Night shift" {
			t.Fatalf("escalation events after the sweep: %v", escalations)
		}
		if kinds := w.mailKinds(early.ID, nick); !has(kinds, audit.RequestEscalated.String()) {
			t.Fatalf("the new group's member was not told: %v", kinds)
		}
		if got, err = w.acc.Review(w.ctx, as(nick), nick, early.ID, pam.DecisionApprove, ""); err != nil || got.Status != pam.StatusApproved {
			t.Fatalf("the new escalation group's member approves: %v %v", got.Status, err)
		}
		changes, err := w.db.RuleChanges(w.ctx, w.policy.ID, early.CreatedAt, w.clock.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].Rule != pam.RuleEscalationGroup || changes[0].From != "Backup approvers" || changes[0].To != "Night shift" {
			t.Fatalf("rule changes: %+v", changes)
		}
		evs, err := w.db.AuditEvents(w.ctx, store.AuditFilter{Action: audit.PolicyUpdated.String(), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 || !strings.Contains(string(evs[0].Details), `"escalation_reached":2`) {
			t.Fatalf("the policy's audit event does not count the requests reached: %d events", len(evs))
		}

		// Escalation turned off: the late request no longer escalates.
		edit("")
		if r := w.status(late.ID); r.EscalationGroupID != "" || r.EscalateAt != nil {
			t.Fatalf("the late request without escalation: group %q at %v", r.EscalationGroupID, r.EscalateAt)
		}
		// Turned on again: the request asked meanwhile escalates "Escalate after" from the edit.
		quiet := w.submit()
		w.clock.Advance(time.Hour)
		edit(night.ID)
		r = w.status(quiet.ID)
		if want := w.clock.Now().Add(4 * time.Hour); r.EscalationGroupID != night.ID || r.EscalateAt == nil || !r.EscalateAt.Equal(want) {
			t.Fatalf("a request asked without escalation after it is turned on: group %q at %v, want %v", r.EscalationGroupID, r.EscalateAt, want)
		}
		w.clock.Advance(4*time.Hour + time.Minute)
		sweep()
		if r := w.status(quiet.ID); !r.Escalated() || r.EscalationGroupID != night.ID {
			t.Fatalf("the quiet request did not escalate: %+v", r)
		}

		// Made automatic with its escalation kept: the requests still pending stay manual, and
		// keep their escalation.
		kept := w.submit()
		p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.ApprovalType = pam.ApprovalAuto
		if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		if r := w.status(kept.ID); r.EscalationGroupID != night.ID || r.EscalateAt == nil || r.Version != kept.Version {
			t.Fatalf("a pending request after its policy was made automatic: group %q at %v, version %d (was %d)", r.EscalationGroupID, r.EscalateAt, r.Version, kept.Version)
		}
	})
}

// A new "Escalate after" or reminder delay moves when the requests pending under the policy
// escalate and remind, counted from when each was asked, unless they did already; each moved
// request is at a new version, the request pages say what changed, the policy's event counts
// them, and the sweep acts on the new times. The pending timeout does not move.
func TestEscalateAfterAndReminderChangesReachPendingRequests(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 2)
		w.withOutbox()
		w.adm.SetRequestRules(w.acc)
		backup, err := w.adm.CreateGroup(w.ctx, audit.System, "Backup approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.adm.AddMember(w.ctx, audit.System, backup.ID, w.user("bea@example.com").ID); err != nil {
			t.Fatal(err)
		}
		edit := func(change func(p *pam.Policy)) {
			t.Helper()
			p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
			if err != nil {
				t.Fatal(err)
			}
			change(&p)
			if err := w.adm.UpdatePolicy(w.ctx, audit.System, p); err != nil {
				t.Fatal(err)
			}
		}
		edit(func(p *pam.Policy) {
			p.PendingTimeout, p.EscalationGroupID, p.EscalateAfter, p.RemindAfter = 8*time.Hour, backup.ID, 4*time.Hour, 0
		})
		first := w.submit()
		w.clock.Advance(time.Hour)
		second := w.submit()
		w.clock.Advance(time.Minute)

		edit(func(p *pam.Policy) { p.EscalateAfter, p.RemindAfter = 2*time.Hour, 30*time.Minute })
		for _, r := range []pam.Request{first, second} {
			got := w.status(r.ID)
			if want := r.CreatedAt.Add(2 * time.Hour); got.EscalateAt == nil || !got.EscalateAt.Equal(want) {
				t.Fatalf("escalates at %v, want %v", got.EscalateAt, want)
			}
			if want := r.CreatedAt.Add(30 * time.Minute); got.RemindAt == nil || !got.RemindAt.Equal(want) {
				t.Fatalf("reminds at %v, want %v", got.RemindAt, want)
			}
			if got.Version <= r.Version || !got.PendingUntil.Equal(r.PendingUntil) {
				t.Fatalf("version %d (was %d), times out %v (was %v)", got.Version, r.Version, got.PendingUntil, r.PendingUntil)
			}
		}
		evs, err := w.db.AuditEvents(w.ctx, store.AuditFilter{Action: audit.PolicyUpdated.String(), Limit: 1})
		if err != nil || len(evs) == 0 || !strings.Contains(evs[0].Details, `"escalation_retimed":2`) || !strings.Contains(evs[0].Details, `"reminders_retimed":2`) {
			t.Fatalf("the policy's event does not count the requests moved: %v %v", evs, err)
		}
		changes, err := w.db.RuleChanges(w.ctx, w.policy.ID, second.CreatedAt, w.clock.Now(), 10)
		if err != nil || len(changes) != 2 {
			t.Fatalf("rule changes: %+v %v", changes, err)
		}
		for _, c := range changes {
			switch c.Rule {
			case pam.RuleEscalateAfter:
				if c.From != "4 h" || c.To != "2 h" || !strings.Contains(c.Text(), "Escalate after changed from 4 h to 2 h") {
					t.Fatalf("escalation change: %+v %q", c, c.Text())
				}
			case pam.RuleReminder:
				if c.From != "halfway to the timeout" || c.To != "after 30 min" || !strings.Contains(c.Text(), "Reminder changed from halfway to the timeout to after 30 min") {
					t.Fatalf("reminder change: %+v %q", c, c.Text())
				}
			default:
				t.Fatalf("unexpected change %+v", c)
			}
		}

		// The first request's reminder is due at once: the sweep reminds it, and a later edit
		// leaves it alone. The second, not reminded yet, takes the default again: halfway to
		// its own timeout; then none.
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		if r := w.status(first.ID); r.RemindedAt == nil {
			t.Fatal("the sweep did not remind the request whose new reminder time had passed")
		}
		reminded := w.status(first.ID)
		edit(func(p *pam.Policy) { p.RemindAfter = 0 })
		if r := w.status(second.ID); r.RemindAt == nil || !r.RemindAt.Equal(second.CreatedAt.Add(4*time.Hour)) {
			t.Fatalf("back to the default: reminds at %v, want halfway to its timeout", r.RemindAt)
		}
		if r := w.status(first.ID); r.Version != reminded.Version || !r.RemindAt.Equal(*reminded.RemindAt) {
			t.Fatalf("a request already reminded was moved: %v (version %d, was %d)", r.RemindAt, r.Version, reminded.Version)
		}
		edit(func(p *pam.Policy) { p.RemindAfter = pam.NoReminder })
		if r := w.status(second.ID); r.RemindAt != nil {
			t.Fatalf("reminders turned off: still reminds at %v", r.RemindAt)
		}
		all, err := w.db.RuleChanges(w.ctx, w.policy.ID, second.CreatedAt, w.clock.Now(), 10)
		if err != nil || len(all) == 0 {
			t.Fatal(err)
		}
		off := slices.IndexFunc(all, func(c pam.RuleChange) bool { return c.Rule == pam.RuleReminder && c.To == "" })
		if off < 0 || all[off].Text() != "Reminder changed from halfway to the timeout to none by system; unless they were reminded already, its approvers are not reminded." {
			t.Fatalf("no change turning reminders off, or it reads wrong: %+v", all)
		}

		// The sweep escalates at the new time: 2 h after each was asked.
		w.clock.Advance(time.Hour)
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		if !w.status(first.ID).Escalated() || w.status(second.ID).Escalated() {
			t.Fatal("after 2 h 1 min the first request should have escalated and the second not yet")
		}

		// A new group and a new delay in one edit: the request not yet escalated escalates to
		// the new group at the new delay from when it was asked.
		night, err := w.adm.CreateGroup(w.ctx, audit.System, "Night shift", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.adm.AddMember(w.ctx, audit.System, night.ID, w.user("nick@example.com").ID); err != nil {
			t.Fatal(err)
		}
		edit(func(p *pam.Policy) { p.EscalationGroupID, p.EscalateAfter = night.ID, 3*time.Hour })
		if r := w.status(second.ID); r.EscalationGroupID != night.ID || r.EscalateAt == nil || !r.EscalateAt.Equal(second.CreatedAt.Add(3*time.Hour)) {
			t.Fatalf("after a new group and delay: group %q at %v, want %v", r.EscalationGroupID, r.EscalateAt, second.CreatedAt.Add(3*time.Hour))
		}
	})
}
