package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// TestCheckRefusalsAuditedOncePerWindow: a flood of 401s from one address is one
// check_token.refused event per 15 minutes, and once recorded costs the database nothing for
// calls without a token; a flood of 429s for one token is one auth.rate_limited event of that
// token per 15 minutes. A person's API token (403) is refused as before.
func TestCheckRefusalsAuditedOncePerWindow(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect, func(c *config.Config) { c.CheckRate = 1 })
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		tok := root.makeToken("runspace", "check")
		api := root.makeToken("automation", "api")
		body := map[string]string{"user": "root@example.com", "task": "x/y"}

		refused := func() []audit.Event { return a.events(audit.CheckTokenRefused.String()) }
		for _, bearer := range []string{"", "elvc_unknown", "nonsense", "elv_unknown", ""} {
			if code, out := a.apiCall("POST", "/api/v1/check", bearer, body); code != http.StatusUnauthorized || out["allowed"] == true {
				t.Fatalf("bearer %q: %d %v", bearer, code, out)
			}
		}
		evs := refused()
		if len(evs) != 1 || evs[0].IP != "127.0.0.1" || evs[0].Outcome != audit.OutcomeFailure {
			t.Fatalf("five 401s from one address: %+v; want one event", evs)
		}
		before := a.db.Counts()
		for range 5 {
			if code, _ := a.apiCall("POST", "/api/v1/check", "", body); code != http.StatusUnauthorized {
				t.Fatalf("no token: %d", code)
			}
		}
		if after := a.db.Counts(); after.Statements != before.Statements {
			t.Fatalf("401s in a recorded window cost %d statements", after.Statements-before.Statements)
		}
		if code, _ := a.apiCall("POST", "/api/v1/check", api, body); code != http.StatusForbidden {
			t.Fatalf("API token: %d", code)
		}
		a.clock.Advance(15 * time.Minute)
		a.apiCall("POST", "/api/v1/check", "elvc_unknown", body)
		if n := len(refused()); n != 2 {
			t.Fatalf("the next window: %d events, want 2", n)
		}

		limited := func() []audit.Event { return a.events(audit.AuthRateLimited.String()) }
		flood := func() {
			t.Helper()
			n := 0
			for range 12 {
				if code, _ := a.apiCall("POST", "/api/v1/check", tok, body); code == http.StatusTooManyRequests {
					n++
				}
			}
			if n == 0 {
				t.Fatal("12 immediate calls at 1 per second were never limited")
			}
		}
		flood()
		evs = limited()
		if len(evs) != 1 || evs[0].ActorType != audit.ActorToken || evs[0].ActorName != "runspace" || evs[0].TargetID != evs[0].ActorID {
			t.Fatalf("a flood of 429s: %+v; want one event of the token", evs)
		}
		flood()
		if n := len(limited()); n != 1 {
			t.Fatalf("a second flood in the window: %d events", n)
		}
		a.clock.Advance(15 * time.Minute)
		flood()
		if n := len(limited()); n != 2 {
			t.Fatalf("a flood in the next window: %d events, want 2", n)
		}
	})
}
