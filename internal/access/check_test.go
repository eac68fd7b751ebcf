package access_test

import (
	"errors"
	"testing"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

func since(before store.Counts, db *store.Store) store.Counts {
	after := db.Counts()
	return store.Counts{Statements: after.Statements - before.Statements, RoundTrips: after.RoundTrips - before.RoundTrips}
}

// TestCheckCostsOneReadStatement: beside its audit event, a check with a check token reads
// the database exactly once (one statement, one round trip), whatever it decides, on both
// databases; a refused token costs that one read and records nothing; input that cannot be
// decided costs one read of the token and is recorded as the token's call.
func TestCheckCostsOneReadStatement(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 1, 1)
		r := w.submit()
		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatal(err)
		}
		tok := pam.CheckToken{ID: "k-runspace", Name: "runspace", CreatedAt: w.clock.Now()}
		if err := w.db.CreateCheckToken(w.ctx, tok, "hash-runspace"); err != nil {
			t.Fatal(err)
		}
		if err := w.db.CreateCheckToken(w.ctx, pam.CheckToken{ID: "k-old", Name: "old", CreatedAt: w.clock.Now()}, "hash-old"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RevokeCheckToken(w.ctx, "k-old", "root", w.clock.Now()); err != nil {
			t.Fatal(err)
		}
		// What the event alone costs, written the way a check writes it.
		before := w.db.Counts()
		ev := audit.Actor{Type: audit.ActorToken, ID: tok.ID, Name: tok.Name}.Event(audit.AccessChecked, "task", w.task.Key, map[string]any{"allowed": true})
		if err := w.acc.AppendCheckEvent(w.ctx, ev); err != nil {
			t.Fatal(err)
		}
		event := since(before, w.db)
		if event.Statements == 0 {
			t.Fatal("the event cost nothing: the counters do not count")
		}
		one := store.Counts{Statements: 1, RoundTrips: 1}

		for _, tc := range []struct {
			name, user, task, reason string
		}{
			{"grant in force", w.requester.Email, w.task.Key, access.ReasonGrant},
			{"by id", string(w.requester.ID), w.task.Key, access.ReasonGrant},
			{"no grant", w.requester.Email, w.other.Key, access.ReasonNoGrant},
			{"unknown user", "ghost@example.com", w.task.Key, access.ReasonUnknownUser},
			{"unknown task", w.requester.Email, "exchange/Nothing", access.ReasonUnknownTask},
			{"bad input", w.requester.Email, "", access.ReasonBadRequest},
		} {
			checks := w.count(audit.AccessChecked.String())
			before := w.db.Counts()
			var admitted pam.CheckToken
			got, d, err := w.acc.CheckByToken(w.ctx, access.CheckCall{TokenHash: "hash-runspace", Actor: audit.Actor{IP: "192.0.2.7"},
				User: tc.user, Task: tc.task, Admit: func(t pam.CheckToken) error { admitted = t; return nil }})
			cost := since(before, w.db)
			if (err != nil) != (tc.reason == access.ReasonBadRequest) || d.Reason != tc.reason || got.ID != tok.ID || admitted.ID != tok.ID {
				t.Fatalf("%s: %+v %v token %q admitted %q", tc.name, d, err, got.ID, admitted.ID)
			}
			if cost.Statements-event.Statements != one.Statements || cost.RoundTrips-event.RoundTrips != one.RoundTrips {
				t.Fatalf("%s: the check cost %+v, its event %+v: want exactly one read beside the event", tc.name, cost, event)
			}
			if w.count(audit.AccessChecked.String()) != checks+1 {
				t.Fatalf("%s: not recorded once", tc.name)
			}
		}
		evs, err := w.db.AuditEvents(w.ctx, store.AuditFilter{Action: audit.AccessChecked.String(), Limit: 1})
		if err != nil || len(evs) != 1 || evs[0].ActorID != tok.ID || evs[0].ActorName != tok.Name || evs[0].IP != "192.0.2.7" {
			t.Fatalf("the newest check event is not the token's call: %+v %v", evs, err)
		}

		// A token that is unknown or revoked: one read, nothing decided, nothing recorded,
		// and Admit is never asked.
		for _, hash := range []string{"hash-unknown", "hash-old"} {
			for _, task := range []string{w.task.Key, ""} {
				checks := w.count(audit.AccessChecked.String())
				before := w.db.Counts()
				_, d, err := w.acc.CheckByToken(w.ctx, access.CheckCall{TokenHash: hash, User: w.requester.Email, Task: task,
					Admit: func(pam.CheckToken) error { t.Fatal("admitted an unknown token"); return nil }})
				if !errors.Is(err, access.ErrUnknownCheckToken) || d.Allowed {
					t.Fatalf("token %s, task %q: %+v %v", hash, task, d, err)
				}
				if cost := since(before, w.db); cost != one {
					t.Fatalf("token %s, task %q: cost %+v, want one read", hash, task, cost)
				}
				if w.count(audit.AccessChecked.String()) != checks {
					t.Fatalf("token %s: recorded", hash)
				}
			}
		}

		// A call Admit refuses (over its rate) costs the read and records nothing.
		checks := w.count(audit.AccessChecked.String())
		limited := errors.New("over the rate")
		before = w.db.Counts()
		if _, d, err := w.acc.CheckByToken(w.ctx, access.CheckCall{TokenHash: "hash-runspace", User: w.requester.Email, Task: w.task.Key,
			Admit: func(pam.CheckToken) error { return limited }}); !errors.Is(err, limited) || d.Allowed {
			t.Fatalf("refused by Admit: %+v %v", d, err)
		}
		if cost := since(before, w.db); cost != one || w.count(audit.AccessChecked.String()) != checks {
			t.Fatalf("refused by Admit: cost %+v, %d events (had %d)", cost, w.count(audit.AccessChecked.String()), checks)
		}
	})
}
