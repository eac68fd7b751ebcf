package access_test

import (
	"encoding/json"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// withOutbox makes the world's use cases queue their mail in the real outbox.
func (w *world) withOutbox() {
	w.db.SetClock(w.clock.Now)
	ob := mail.NewOutbox(w.db, config.Config{BaseURL: &url.URL{Scheme: "https", Host: "elevate.example.org"}}, w.clock.Now)
	w.acc = access.New(w.db, w.clock.Now, ob)
}

func (w *world) approve(r pam.Request, by pam.User) pam.Request {
	w.t.Helper()
	r, err := w.acc.Review(w.ctx, as(by), by, r.ID, pam.DecisionApprove, "")
	if err != nil {
		w.t.Fatalf("approve %s: %v", r.ID, err)
	}
	return r
}

func (w *world) extend(r pam.Request, d time.Duration) pam.Request {
	w.t.Helper()
	ext, err := w.acc.Extend(w.ctx, as(w.requester), w.requester, r.ID, pam.Submission{Duration: d, Justification: "still fixing"})
	if err != nil {
		w.t.Fatalf("extend %s: %v", r.ID, err)
	}
	return ext
}

// leftOver is testkit.LeftOverExtension in this world, at its clock.
func (w *world) leftOver(r pam.Request, d time.Duration) pam.Request {
	w.t.Helper()
	ext, err := testkit.LeftOverExtension(w.ctx, w.db, r, d, w.clock.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	return ext
}

func (w *world) load(id string) pam.Request {
	w.t.Helper()
	r, err := w.db.RequestByID(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// events returns one request's audit events with an action, with their details decoded.
func (w *world) events(requestID, action string) []map[string]any {
	w.t.Helper()
	evs, err := w.db.AuditEvents(w.ctx, store.AuditFilter{RequestID: requestID, Action: action, Limit: 50})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range evs {
		d := map[string]any{}
		if err := json.Unmarshal([]byte(e.Details), &d); err != nil {
			w.t.Fatal(err)
		}
		d["_actor"], d["_actor_type"] = e.ActorID, e.ActorType
		out = append(out, d)
	}
	return out
}

// mailKinds returns the kinds of the messages queued about a request for one recipient.
func (w *world) mailKinds(requestID string, to pam.User) []string {
	w.t.Helper()
	ms, err := w.db.Mail(w.ctx, pam.MailFilter{RequestID: requestID, Limit: 100})
	if err != nil {
		w.t.Fatal(err)
	}
	var kinds []string
	for _, m := range ms {
		if m.RecipientID == to.ID {
			kinds = append(kinds, m.Kind)
		}
	}
	return kinds
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestRevokeEndsTheWholeChain: a grant in force with an approved extension lined up behind it
// and a second extension still pending. Revoking the grant denies the next check, and keeps
// denying when the grant's old end arrives and through the extension's window; the approved
// extension is revoked by the same person for the same reason, the pending one cancelled, each
// with its audit event and its mail to the requester.
func TestRevokeEndsTheWholeChain(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		w.withOutbox()
		grant := w.approve(w.submit(), w.approvers[0]) // 09:00–10:00
		w.clock.Advance(40 * time.Minute)
		ext := w.approve(w.extend(grant, 2*time.Hour), w.approvers[1]) // lined up 10:00–12:00
		if !ext.StartsAt.Equal(*grant.EndsAt) {
			t.Fatalf("extension starts %v, grant ends %v", ext.StartsAt, grant.EndsAt)
		}
		pending := w.leftOver(grant, 30*time.Minute)
		if d := w.check(w.task.Key); !d.Allowed || d.RequestID != grant.ID {
			t.Fatalf("before the revoke: %+v", d)
		}

		w.clock.Advance(5 * time.Minute) // 09:45
		revokedAt := w.clock.Now()
		revoker := w.approvers[0]
		if _, err := w.acc.Revoke(w.ctx, as(revoker), revoker, grant.ID, "Incident closed"); err != nil {
			t.Fatal(err)
		}
		for _, step := range []struct {
			name    string
			advance time.Duration
		}{{"at once", 0}, {"at the grant's old end", 15 * time.Minute}, {"in the extension's window", 30 * time.Minute}, {"just before the extension's end", 89 * time.Minute}} {
			w.clock.Advance(step.advance)
			if d := w.check(w.task.Key); d.Allowed {
				t.Fatalf("%s (%s): allowed by %s", step.name, w.clock.Now().Format("15:04"), d.RequestID)
			}
		}

		got := w.load(ext.ID)
		if got.Status != pam.StatusRevoked || got.RevokedBy != revoker.ID || got.RevokeReason != "Incident closed" ||
			!got.EndsAt.Equal(revokedAt) || got.StartsAt.After(revokedAt) {
			t.Fatalf("approved extension: %s by %q for %q, %v–%v", got.Status, got.RevokedBy, got.RevokeReason, got.StartsAt, got.EndsAt)
		}
		got = w.load(pending.ID)
		if got.Status != pam.StatusCancelled || got.CancelReason != pam.CancelGrantRevoked || got.DecidedAt == nil || !got.DecidedAt.Equal(revokedAt) {
			t.Fatalf("pending extension: %s (%q) at %v", got.Status, got.CancelReason, got.DecidedAt)
		}

		// One audit event each, saying it came with the grant's revoke.
		evs := w.events(ext.ID, "request.revoked")
		if len(evs) != 1 || evs[0]["chain_of"] != grant.ID || evs[0]["reason"] != "Incident closed" || evs[0]["_actor"] != string(revoker.ID) {
			t.Fatalf("extension's revoke events: %v", evs)
		}
		evs = w.events(pending.ID, "request.cancelled")
		if len(evs) != 1 || evs[0]["chain_of"] != grant.ID || evs[0]["reason"] != "grant revoked" || evs[0]["status"] != "cancelled" {
			t.Fatalf("pending extension's cancel events: %v", evs)
		}
		if evs := w.events(grant.ID, "request.revoked"); len(evs) != 1 || evs[0]["chain_of"] != nil {
			t.Fatalf("grant's revoke events: %v", evs)
		}

		// And a mail each to the requester.
		for id, kind := range map[string]string{grant.ID: mail.KindRevoked, ext.ID: mail.KindRevoked, pending.ID: mail.KindCancelled} {
			if kinds := w.mailKinds(id, w.requester); !has(kinds, kind) {
				t.Errorf("request %s: the requester was sent %v, want %s", id, kinds, kind)
			}
		}

		// Nothing in the chain can be brought back.
		if _, err := w.acc.Review(w.ctx, as(w.approvers[1]), w.approvers[1], pending.ID, pam.DecisionApprove, ""); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("approving the cancelled extension: %v", err)
		}
		if _, err := w.acc.Extend(w.ctx, as(w.requester), w.requester, grant.ID, pam.Submission{Duration: time.Hour, Justification: "x"}); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("extending the revoked grant: %v", err)
		}
		if d := w.check(w.task.Key); d.Allowed {
			t.Fatalf("at the end: allowed by %s", d.RequestID)
		}
	})
}

// TestPendingExtensionOfARevokedGrantIsCancelledNotDecided: a pending extension whose grant
// was revoked without taking it down (rows left by an older version) is cancelled when someone
// tries to decide it, and grants nothing.
func TestPendingExtensionOfARevokedGrantIsCancelledNotDecided(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		w.withOutbox()
		grant := w.approve(w.submit(), w.approvers[0])
		w.clock.Advance(40 * time.Minute)
		ext := w.extend(grant, time.Hour)
		// The grant alone is revoked, straight in the store.
		base := w.load(grant.ID)
		if err := base.Revoke(w.approvers[0].ID, true, "Incident closed", w.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := w.db.SaveTransition(w.ctx, base); err != nil {
			t.Fatal(err)
		}
		for _, decision := range []string{pam.DecisionApprove, pam.DecisionDeny} {
			_, err := w.acc.Review(w.ctx, as(w.approvers[1]), w.approvers[1], ext.ID, decision, "no")
			if pam.ErrorCode(err) != pam.ECONFLICT {
				t.Fatalf("%s: %v", decision, err)
			}
		}
		got := w.load(ext.ID)
		if got.Status != pam.StatusCancelled || got.CancelReason != pam.CancelGrantRevoked || len(got.Reviews) != 0 {
			t.Fatalf("extension: %s (%q), %d reviews", got.Status, got.CancelReason, len(got.Reviews))
		}
		evs := w.events(ext.ID, "request.cancelled")
		if len(evs) != 1 || evs[0]["_actor_type"] != audit.ActorSystem || evs[0]["chain_of"] != grant.ID {
			t.Fatalf("cancel events: %v", evs)
		}
		if kinds := w.mailKinds(ext.ID, w.requester); !has(kinds, mail.KindCancelled) {
			t.Fatalf("requester's mail: %v", kinds)
		}
		w.clock.Advance(30 * time.Minute)
		if d := w.check(w.task.Key); d.Allowed {
			t.Fatalf("allowed by %s", d.RequestID)
		}
	})
}

// TestRevokeRacingTheExtension: a revoke of a grant runs at the same moment as the approval of
// its extension, or as the asking for one. Whichever commits first, the extension ends up
// revoked, cancelled or never made, and no check is allowed once the grant is revoked.
func TestRevokeRacingTheExtension(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		for i := range 6 {
			grant := w.approve(w.submit(), w.approvers[0])
			w.clock.Advance(30 * time.Minute)
			var ext pam.Request
			if i%2 == 0 {
				ext = w.extend(grant, time.Hour)
			}
			var wg sync.WaitGroup
			var revokeErr, otherErr error
			start := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				_, revokeErr = w.acc.Revoke(w.ctx, as(w.approvers[0]), w.approvers[0], grant.ID, "race")
			}()
			go func() {
				defer wg.Done()
				<-start
				if i%2 == 0 {
					_, otherErr = w.acc.Review(w.ctx, as(w.approvers[1]), w.approvers[1], ext.ID, pam.DecisionApprove, "")
				} else {
					ext, otherErr = w.acc.Extend(w.ctx, as(w.requester), w.requester, grant.ID, pam.Submission{Duration: time.Hour, Justification: "x"})
				}
			}()
			close(start)
			wg.Wait()
			if revokeErr != nil {
				t.Fatalf("round %d: revoke: %v", i, revokeErr)
			}
			if otherErr != nil && pam.ErrorCode(otherErr) != pam.ECONFLICT {
				t.Fatalf("round %d: %v", i, otherErr)
			}
			if ext.ID != "" {
				if st := w.load(ext.ID).Status; st != pam.StatusRevoked && st != pam.StatusCancelled {
					t.Fatalf("round %d: the extension is %s after the revoke (%v)", i, st, otherErr)
				}
			}
			for _, d := range []time.Duration{0, 30 * time.Minute, time.Hour} {
				w.clock.Advance(d)
				if dec := w.check(w.task.Key); dec.Allowed {
					t.Fatalf("round %d, %s: allowed by %s", i, w.clock.Now().Format("15:04"), dec.RequestID)
				}
			}
			w.clock.Advance(time.Hour)
		}
	})
}

// TestExtensionApprovedAfterItsGrantRanOutStands: the chain rule in the check does not refuse an
// extension approved after its grant had ended by itself; it starts on its own approval.
func TestExtensionApprovedAfterItsGrantRanOutStands(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		grant := w.approve(w.submit(), w.approvers[0])
		w.clock.Advance(50 * time.Minute)
		ext := w.extend(grant, time.Hour)
		w.clock.Advance(20 * time.Minute) // the grant ran out 10 minutes ago
		if d := w.check(w.task.Key); d.Allowed {
			t.Fatalf("between the two: %+v", d)
		}
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		ext = w.approve(ext, w.approvers[1])
		if !ext.StartsAt.Equal(w.clock.Now()) {
			t.Fatalf("extension starts %v, approved %v", ext.StartsAt, w.clock.Now())
		}
		if d := w.check(w.task.Key); !d.Allowed || d.RequestID != ext.ID {
			t.Fatalf("after its approval: %+v", d)
		}
	})
}

// TestSweepEndsChainsAnOlderVersionLeftOpen: before revokes ended whole chains, a revoked grant
// could leave its extensions approved or pending. The check refuses them at once; the sweep ends
// them as a revoke does now (same person and reason, or cancelled), audited and mailed; and they
// cannot be extended meanwhile.
func TestSweepEndsChainsAnOlderVersionLeftOpen(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 1, 1)
		w.withOutbox()
		base := w.approve(w.submit(), w.approvers[0])
		w.clock.Advance(30 * time.Minute)
		ext := w.approve(w.extend(base, time.Hour), w.approvers[0])
		pending := w.leftOver(base, 30*time.Minute)
		// What an older version wrote on revoke: the base alone.
		if err := w.db.ExecRaw(w.ctx, "UPDATE requests SET status = 'revoked', revoked_by = ?, revoke_reason = 'old revoke', ends_at = ?, version = version + 1 WHERE id = ?",
			string(w.approvers[0].ID), w.clock.Now().UTC(), base.ID); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(45 * time.Minute) // inside the extension's window
		if d := w.check(w.task.Key); d.Allowed {
			t.Fatalf("the extension of a revoked grant was allowed: %+v", d)
		}
		if _, err := w.acc.Extend(w.ctx, as(w.requester), w.requester, ext.ID, pam.Submission{Duration: time.Hour, Justification: "more"}); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("extending the extension of a revoked grant: %v", err)
		}
		n, err := w.acc.Sweep(w.ctx)
		if err != nil || n < 2 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		if r := w.load(ext.ID); r.Status != pam.StatusRevoked || r.RevokeReason != "old revoke" || r.RevokedBy != w.approvers[0].ID {
			t.Fatalf("approved extension after the sweep: %s %q by %s", r.Status, r.RevokeReason, r.RevokedBy)
		}
		if r := w.load(pending.ID); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelGrantRevoked {
			t.Fatalf("pending extension after the sweep: %s %q", r.Status, r.CancelReason)
		}
		if evs := w.events(ext.ID, "request.revoked"); len(evs) != 1 || evs[0]["chain_of"] != base.ID || evs[0]["_actor_type"] != audit.ActorSystem {
			t.Fatalf("revoke events: %v", evs)
		}
		if len(w.events(pending.ID, "request.cancelled")) != 1 || len(w.mailKinds(ext.ID, w.requester)) == 0 {
			t.Fatal("the cancel was not audited, or the requester not told")
		}
		if n, err := w.acc.Sweep(w.ctx); err != nil || n != 0 {
			t.Fatalf("a second sweep changed %d (%v)", n, err)
		}
		if _, _, err := w.db.VerifyAudit(w.ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}
