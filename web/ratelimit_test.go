package web_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// prefill counts n earlier attempts of key under rule, as the app would have.
func prefill(t *testing.T, a *app, rule auth.Rule, key string, n int) {
	t.Helper()
	l := a.auth.NewLimiter()
	for range n {
		if _, err := l.Allow(t.Context(), rule, key); err != nil {
			t.Fatal(err)
		}
	}
}

func retryAfter(t *testing.T, p page) int {
	t.Helper()
	n, err := strconv.Atoi(p.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q", p.Header.Get("Retry-After"))
	}
	return n
}

// Without trusted proxies, X-Forwarded-For is the client's own claim: rotating it must not
// give a guesser a fresh address.
func TestSignInLimitPerIPIgnoresForgedForwardedFor(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		// Earlier failures from this client, counted without paying for 27 password hashes.
		prefill(t, a, auth.SignInPerIP, "127.0.0.1", 27)
		c := a.client()
		c.get("/login")
		for i := range 3 {
			p := c.post("/login", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong password"}},
				"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
			if p.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status %d", i+1, p.StatusCode)
			}
		}
		for i := range 2 {
			p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {goodPassword}},
				"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
			if p.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("attempt over the limit: status %d", p.StatusCode)
			}
			if s := retryAfter(t, p); s > 15*60 {
				t.Fatalf("Retry-After %d beyond the window", s)
			}
		}
		if c.sessionCookie() != nil {
			t.Fatal("a refused attempt signed in")
		}
		evs := a.events("auth.rate_limited")
		if len(evs) != 1 || evs[0].IP != "127.0.0.1" || evs[0].Outcome != "failure" {
			t.Fatalf("rate-limit events: %+v", evs)
		}
		// The window ends.
		a.clock.Advance(15 * time.Minute)
		c.signIn("ana@example.com", goodPassword)
	})
}

// Behind a trusted proxy each forwarded address counts on its own, but the account's limit
// holds across all of them.
func TestSignInLimitPerAccountAcrossAddresses(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect, func(c *config.Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		// Successful sign-ins are given back and do not use the budget up.
		for range 3 {
			a.client().signIn("ana@example.com", goodPassword)
		}
		prefill(t, a, auth.SignInPerAccount, "ana@example.com", 7)
		c := a.client()
		c.get("/login")
		for i := range 3 {
			p := c.post("/login", url.Values{"email": {"Ana@example.com"}, "password": {"wrong password"}},
				"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
			if p.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status %d", i+1, p.StatusCode)
			}
		}
		p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {goodPassword}}, "X-Forwarded-For", "192.0.2.77")
		if p.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("11th attempt on one account: status %d", p.StatusCode)
		}
		retryAfter(t, p)
		evs := a.events("auth.rate_limited")
		if len(evs) != 1 || evs[0].IP != "192.0.2.77" {
			t.Fatalf("rate-limit events: %+v", evs)
		}
		// Another account from another address is unaffected.
		a.mustUser("bo@example.com", "Bo", goodPassword, false)
		other := a.client()
		other.get("/login")
		if p := other.post("/login", url.Values{"email": {"bo@example.com"}, "password": {goodPassword}}, "X-Forwarded-For", "192.0.2.78"); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("other account: status %d", p.StatusCode)
		}
	})
}

func TestCodeAttemptsLimited(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		c := a.client()
		c.signIn("ana@example.com", goodPassword)
		secret, _ := c.enrol() // a right code is given back
		a.clock.Advance(30 * time.Second)
		for i := range 5 {
			if p := c.post("/profile/mfa/recovery", url.Values{"stepup_code": {"000000"}}, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)); p.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("wrong code %d: status %d", i+1, p.StatusCode)
			}
		}
		// Even the right code is refused once the limit is reached.
		p := c.post("/profile/mfa/recovery", url.Values{"stepup_code": {code(t, secret, a.clock.Now())}})
		if p.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("code over the limit: status %d", p.StatusCode)
		}
		retryAfter(t, p)
		if n := len(a.events("mfa.step_up_passed")); n != 0 {
			t.Fatal("a step-up passed over the limit")
		}
		if n := len(a.events("auth.rate_limited")); n != 1 {
			t.Fatalf("%d rate-limit events", n)
		}
		a.clock.Advance(5 * time.Minute)
		if p := c.post("/profile/mfa/recovery", url.Values{"stepup_code": {code(t, secret, a.clock.Now())}}); p.StatusCode != http.StatusOK {
			t.Fatalf("after the window: status %d", p.StatusCode)
		}
	})
}
