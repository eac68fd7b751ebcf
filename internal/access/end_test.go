package access_test

import (
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestEndMyAccessEndsTheWholeChain: a requester ends their grant in force, which has an approved
// extension lined up behind it and a second one pending. The next check is denied and stays
// denied through the extension's window; the approved extension is ended too and the pending one
// cancelled ("grant ended"), each with its one audit event; the approvers are told, for their
// information; nothing in the chain can be brought back.
func TestEndMyAccessEndsTheWholeChain(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		w.withOutbox()
		grant := w.approve(w.submit(), w.approvers[0]) // 09:00–10:00
		w.clock.Advance(40 * time.Minute)
		ext := w.approve(w.extend(grant, 2*time.Hour), w.approvers[1]) // lined up 10:00–12:00
		pending := w.leftOver(grant, 30*time.Minute)
		if d := w.check(w.task.Key); !d.Allowed || d.RequestID != grant.ID {
			t.Fatalf("before the end: %+v", d)
		}

		// Nobody but the requester ends it: an approver revokes instead.
		if _, err := w.acc.End(w.ctx, as(w.approvers[0]), w.approvers[0], grant.ID); pam.ErrorCode(err) != pam.EFORBIDDEN {
			t.Fatalf("an approver ending it: %v", err)
		}

		w.clock.Advance(5 * time.Minute) // 09:45
		endedAt := w.clock.Now()
		got, err := w.acc.End(w.ctx, as(w.requester), w.requester, grant.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != pam.StatusEnded || !got.EndsAt.Equal(endedAt) {
			t.Fatalf("ended grant: %s until %v", got.Status, got.EndsAt)
		}
		for _, step := range []struct {
			name    string
			advance time.Duration
		}{{"at once", 0}, {"at the grant's old end", 15 * time.Minute}, {"in the extension's window", 30 * time.Minute}} {
			w.clock.Advance(step.advance)
			if d := w.check(w.task.Key); d.Allowed {
				t.Fatalf("%s (%s): allowed by %s", step.name, w.clock.Now().Format("15:04"), d.RequestID)
			}
		}

		e := w.load(ext.ID)
		if e.Status != pam.StatusEnded || !e.EndsAt.Equal(endedAt) || e.StartsAt.After(endedAt) || e.RevokedBy != "" {
			t.Fatalf("approved extension: %s by %q, %v–%v", e.Status, e.RevokedBy, e.StartsAt, e.EndsAt)
		}
		p := w.load(pending.ID)
		if p.Status != pam.StatusCancelled || p.CancelReason != pam.CancelGrantEnded || p.DecidedAt == nil || !p.DecidedAt.Equal(endedAt) {
			t.Fatalf("pending extension: %s (%q) at %v", p.Status, p.CancelReason, p.DecidedAt)
		}

		// One event each, by the requester; the links say whose end took them down.
		if evs := w.events(grant.ID, "request.ended"); len(evs) != 1 || evs[0]["_actor"] != string(w.requester.ID) || evs[0]["status"] != "ended" || evs[0]["chain_of"] != nil {
			t.Fatalf("grant's end events: %v", evs)
		}
		if evs := w.events(ext.ID, "request.ended"); len(evs) != 1 || evs[0]["chain_of"] != grant.ID {
			t.Fatalf("extension's end events: %v", evs)
		}
		if evs := w.events(pending.ID, "request.cancelled"); len(evs) != 1 || evs[0]["chain_of"] != grant.ID || evs[0]["reason"] != "grant ended" {
			t.Fatalf("pending extension's cancel events: %v", evs)
		}
		for id, want := range map[string]pam.Status{grant.ID: pam.StatusEnded, ext.ID: pam.StatusEnded, pending.ID: pam.StatusCancelled} {
			if st, err := testkit.Whole(w.ctx, w.db, id); err != nil || st != want {
				t.Fatalf("request %s: %s, %v", id, st, err)
			}
		}

		// The approvers hear of it, for their information; the requester, who did it, does not.
		for _, a := range w.approvers {
			if kinds := w.mailKinds(grant.ID, a); !has(kinds, mail.KindEnded) {
				t.Errorf("approver %s was sent %v, want %s", a.Email, kinds, mail.KindEnded)
			}
		}
		if kinds := w.mailKinds(grant.ID, w.requester); has(kinds, mail.KindEnded) {
			t.Errorf("the requester was sent %v", kinds)
		}
		// The extension ended with it is told to nobody by mail: the grant's own mail said it.
		for _, u := range append([]pam.User{w.requester}, w.approvers...) {
			if kinds := w.mailKinds(ext.ID, u); has(kinds, mail.KindEnded) {
				t.Errorf("%s was sent %v about the extension ended with its grant", u.Email, kinds)
			}
		}

		// Nothing can be brought back, and a second end is a conflict.
		if _, err := w.acc.End(w.ctx, as(w.requester), w.requester, grant.ID); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("ending twice: %v", err)
		}
		if _, err := w.acc.Review(w.ctx, as(w.approvers[1]), w.approvers[1], pending.ID, pam.DecisionApprove, ""); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("approving the cancelled extension: %v", err)
		}
		if _, err := w.acc.Extend(w.ctx, as(w.requester), w.requester, grant.ID, pam.Submission{Duration: time.Hour, Justification: "x"}); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("extending the ended grant: %v", err)
		}
		if _, err := w.acc.Revoke(w.ctx, as(w.approvers[0]), w.approvers[0], grant.ID, "late"); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("revoking the ended grant: %v", err)
		}
		// A stranger learns nothing.
		if _, err := w.acc.End(w.ctx, as(w.approvers[0]), w.user("stranger@example.com"), ext.ID); pam.ErrorCode(err) != pam.ENOTFOUND {
			t.Fatalf("a stranger ending it: %v", err)
		}
	})
}
