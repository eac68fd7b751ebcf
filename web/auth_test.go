package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/testenv"
)

const goodPassword = "correct horse battery"

func TestSetupTokenWorksOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		tok, _, err := a.auth.IssueSetupToken(context.Background())
		if err != nil || tok == "" {
			t.Fatalf("issue token: %q %v", tok, err)
		}
		c := a.client()
		if p := c.get("/setup?token=wrong"); p.StatusCode != http.StatusNotFound {
			t.Fatalf("wrong token: status %d", p.StatusCode)
		}
		if p := c.get("/setup"); p.StatusCode != http.StatusNotFound {
			t.Fatalf("no token: status %d", p.StatusCode)
		}
		if p := c.get("/setup?token=" + tok); p.StatusCode != http.StatusOK {
			t.Fatalf("setup page: status %d", p.StatusCode)
		}

		// A form error keeps what was typed and does not use the token up.
		p := c.post("/setup", url.Values{"token": {tok}, "email": {"ada@example.com"}, "name": {"Ada Admin"},
			"password": {"short"}, "password_confirm": {"short"}})
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("error-password").Text(), "12 characters") {
			t.Fatalf("short password: status %d, error %q", p.StatusCode, p.find("error-password").Text())
		}
		if v, _ := p.find("field-email").Attr("value"); v != "ada@example.com" {
			t.Fatalf("email not kept: %q", v)
		}
		p = c.post("/setup", url.Values{"token": {tok}, "email": {"ada@example.com"}, "name": {"Ada Admin"},
			"password": {goodPassword}, "password_confirm": {goodPassword + "x"}})
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-password_confirm").Text() == "" {
			t.Fatalf("mismatched confirmation: status %d", p.StatusCode)
		}

		p = c.post("/setup", url.Values{"token": {tok}, "email": {"Ada@Example.com"}, "name": {"Ada Admin"},
			"password": {goodPassword}, "password_confirm": {goodPassword}})
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/" {
			t.Fatalf("setup: status %d location %q", p.StatusCode, p.Header.Get("Location"))
		}
		// The new admin lands signed in, greeted by name, with no second sign-in.
		if g := c.get("/").find("greeting").Text(); !strings.Contains(g, "Ada") {
			t.Fatalf("greeting after setup %q", g)
		}
		if evs := a.events("auth.signed_in"); len(evs) != 1 || !strings.Contains(evs[0].Details, `"setup"`) {
			t.Fatalf("sign-in by setup: %+v", evs)
		}

		// The token is spent: both the page and a replayed post answer 404, and no second admin exists.
		if p := c.get("/setup?token=" + tok); p.StatusCode != http.StatusNotFound {
			t.Fatalf("setup page after use: status %d", p.StatusCode)
		}
		p = c.post("/setup", url.Values{"token": {tok}, "email": {"eve@example.com"}, "name": {"Eve"},
			"password": {goodPassword}, "password_confirm": {goodPassword}})
		if p.StatusCode != http.StatusNotFound {
			t.Fatalf("replayed setup: status %d", p.StatusCode)
		}
		if n, _ := a.db.CountUsers(context.Background()); n != 1 {
			t.Fatalf("%d users after setup, want 1", n)
		}
		if tok2, _, _ := a.auth.IssueSetupToken(context.Background()); tok2 != "" {
			t.Fatal("a setup token was issued although a user exists")
		}
		evs := a.events("setup.completed")
		if len(evs) != 1 || evs[0].ActorName != "ada@example.com" {
			t.Fatalf("setup events: %+v", evs)
		}

		// The new admin can sign in again later.
		c.post("/logout", url.Values{})
		c.signIn("ada@example.com", goodPassword)
		if g := c.get("/").find("greeting").Text(); !strings.Contains(g, "Ada") {
			t.Fatalf("greeting %q", g)
		}
	})
}

func TestSignInSuccessAndFailure(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana Requester", goodPassword, false)
		c := a.client()
		c.get("/login")

		wrong := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {"not the password"}})
		unknown := c.post("/login", url.Values{"email": {"nobody@example.com"}, "password": {goodPassword}})
		for name, p := range map[string]page{"wrong password": wrong, "unknown user": unknown} {
			if p.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: status %d", name, p.StatusCode)
			}
		}
		if wrong.find("form-error").Text() == "" || wrong.find("form-error").Text() != unknown.find("form-error").Text() {
			t.Fatalf("messages differ: %q vs %q", wrong.find("form-error").Text(), unknown.find("form-error").Text())
		}
		if v, _ := wrong.find("field-email").Attr("value"); v != "ana@example.com" {
			t.Fatalf("email not kept after failure: %q", v)
		}
		if c.sessionCookie() != nil || c.signedIn() {
			t.Fatal("a failed sign-in left a session")
		}
		if n := len(a.events("auth.sign_in_failed")); n != 2 {
			t.Fatalf("%d failed sign-in events, want 2", n)
		}

		p := c.post("/login", url.Values{"email": {"ANA@example.com "}, "password": {goodPassword}, "next": {"/?x=1"}})
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/?x=1" {
			t.Fatalf("sign in: status %d location %q", p.StatusCode, p.Header.Get("Location"))
		}
		ck := c.sessionCookie()
		if ck == nil {
			t.Fatal("no session cookie")
		}
		set := p.Header.Values("Set-Cookie")
		if joined := strings.Join(set, "\n"); !strings.Contains(joined, "HttpOnly") || !strings.Contains(joined, "SameSite=Lax") {
			t.Fatalf("session cookie attributes: %v", set)
		}
		d := c.get("/")
		if d.StatusCode != http.StatusOK || !strings.Contains(d.find("greeting").Text(), "Ana") {
			t.Fatalf("dashboard: %d %q", d.StatusCode, d.find("greeting").Text())
		}
		if cc := d.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("signed-in page Cache-Control %q", cc)
		}
		ev := a.events("auth.signed_in")
		if len(ev) != 1 || ev[0].ActorName != "ana@example.com" || ev[0].IP != "127.0.0.1" {
			t.Fatalf("sign-in events: %+v", ev)
		}
	})
}

func TestOpenRedirectRefused(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	for _, next := range []string{"//evil.example", "https://evil.example/", "/\\evil.example", "evil"} {
		c := a.client()
		c.get("/login")
		p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {goodPassword}, "next": {next}})
		if loc := p.Header.Get("Location"); loc != "/" {
			t.Errorf("next=%q redirected to %q", next, loc)
		}
	}
}

// TestSignInNextStaysOnSite: a next target that could leave the site, raw or percent-encoded,
// is dropped from the sign-in form and the redirect after sign-in lands on "/"; a path on this
// site survives both.
func TestSignInNextStaysOnSite(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	for _, tc := range []struct{ next, want string }{
		{"/\t/evil.example", "/"},
		{"/%09/evil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/%0d%0a/evil.example", "/"},
		{" /evil.example", "/"},
		{"/\u3000/evil.example", "/"},
		{"https:evil.example", "/"},
		{"/requests?state=pending", "/requests?state=pending"},
	} {
		c := a.client()
		form := c.get("/login?next=" + url.QueryEscape(tc.next))
		if v, _ := form.doc.Find(`input[name="next"]`).Attr("value"); v != tc.want {
			t.Errorf("next=%q: the form carries %q, want %q", tc.next, v, tc.want)
		}
		// A forged form is checked again when it comes back.
		p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {goodPassword}, "next": {tc.next}})
		if loc := p.Header.Get("Location"); p.StatusCode != http.StatusSeeOther || loc != tc.want {
			t.Errorf("next=%q: sign-in answered %d to %q, want %q", tc.next, p.StatusCode, loc, tc.want)
		}
		// Signed in already, the sign-in page sends on at once.
		if loc := c.get("/login?next=" + url.QueryEscape(tc.next)).Header.Get("Location"); loc != tc.want {
			t.Errorf("next=%q: signed in, /login sent to %q, want %q", tc.next, loc, tc.want)
		}
	}
}

func TestSessionFixation(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("mallory@example.com", "Mallory", goodPassword, false)
		a.mustUser("victim@example.com", "Victim", goodPassword, true)

		attacker := a.client()
		attacker.signIn("mallory@example.com", goodPassword)
		planted := attacker.sessionCookie().Value

		victim := a.client()
		victim.setSessionCookie(planted)
		victim.get("/") // any page gives the form token
		if p := victim.post("/login", url.Values{"email": {"victim@example.com"}, "password": {goodPassword}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("victim sign in: %d", p.StatusCode)
		}
		if got := victim.sessionCookie().Value; got == planted {
			t.Fatal("session id was not rotated at sign-in")
		}
		// The planted id is worthless now: it neither opens the victim's session nor the old one.
		if attacker.signedIn() {
			t.Fatal("the cookie from before sign-in still works")
		}
		if !victim.signedIn() {
			t.Fatal("victim not signed in")
		}
	})
}

func TestCookieReplayAfterSignOut(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		c := a.client()
		c.signIn("ana@example.com", goodPassword)
		copied := c.sessionCookie().Value
		c.get("/")
		p := c.post("/logout", nil)
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
			t.Fatalf("sign out: %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		if l := c.get("/login"); !strings.Contains(l.find("flash").Text(), "signed out") {
			t.Fatalf("no signed-out message: %q", l.find("flash").Text())
		}
		thief := a.client()
		thief.setSessionCookie(copied)
		if thief.signedIn() {
			t.Fatal("a copied cookie still works after sign-out")
		}
		if n := len(a.events("auth.signed_out")); n != 1 {
			t.Fatalf("%d sign-out events", n)
		}
	})
}

func TestDisabledUserSessionRejected(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		a.mustUser("bo@example.com", "Bo", goodPassword, false)

		// Through the service: sessions end at once.
		c := a.client()
		c.signIn("ana@example.com", goodPassword)
		if _, err := a.admin.ChangeUserByEmail(ctx, actorCLI, "ana@example.com", admin.Disable); err != nil {
			t.Fatal(err)
		}
		if c.signedIn() {
			t.Fatal("disabled user's session still works")
		}
		// Even if only the flag changes, the next request refuses the live session.
		c2 := a.client()
		c2.signIn("bo@example.com", goodPassword)
		if err := a.db.ExecRaw(ctx, "UPDATE users SET disabled_at = ? WHERE email = ?", a.clock.Now(), "bo@example.com"); err != nil {
			t.Fatal(err)
		}
		if c2.signedIn() {
			t.Fatal("disabled user's session still works")
		}
		// And a disabled user cannot sign in again.
		c3 := a.client()
		c3.get("/login")
		if p := c3.post("/login", url.Values{"email": {"bo@example.com"}, "password": {goodPassword}}); p.StatusCode != http.StatusUnauthorized {
			t.Fatalf("disabled sign-in: %d", p.StatusCode)
		}
	})
}

func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)

		idle := a.client()
		idle.signIn("ana@example.com", goodPassword)
		a.clock.Advance(29 * time.Minute)
		if !idle.signedIn() {
			t.Fatal("session ended before the idle timeout")
		}
		a.clock.Advance(29 * time.Minute) // 58 min after sign-in, 29 after the last request
		if !idle.signedIn() {
			t.Fatal("activity did not extend the idle timeout")
		}
		a.clock.Advance(30 * time.Minute)
		if idle.signedIn() {
			t.Fatal("session survived 30 idle minutes")
		}

		busy := a.client()
		busy.signIn("ana@example.com", goodPassword)
		start := a.clock.Now()
		for a.clock.Now().Sub(start) < 12*time.Hour-20*time.Minute {
			a.clock.Advance(20 * time.Minute)
			if !busy.signedIn() {
				t.Fatalf("active session ended after %s", a.clock.Now().Sub(start))
			}
		}
		a.clock.Advance(20 * time.Minute)
		if busy.signedIn() {
			t.Fatalf("session outlived its 12 h lifetime (%s)", a.clock.Now().Sub(start))
		}
	})
}

func TestCrossSitePostRefused(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		c := a.client()
		c.signIn("ana@example.com", goodPassword)
		c.get("/")

		// A form posted from another site, even one that somehow carries the token.
		p := c.post("/logout", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		if p.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site post: status %d", p.StatusCode)
		}
		// An older browser without fetch metadata and without the token.
		p = c.post("/logout", url.Values{"_csrf": {""}})
		if p.StatusCode != http.StatusForbidden {
			t.Fatalf("post without token: status %d", p.StatusCode)
		}
		p = c.post("/logout", url.Values{"_csrf": {"forged"}})
		if p.StatusCode != http.StatusForbidden {
			t.Fatalf("post with a forged token: status %d", p.StatusCode)
		}
		if !c.signedIn() {
			t.Fatal("a refused post signed the user out")
		}
		if n := len(a.events("auth.signed_out")); n != 0 {
			t.Fatalf("refused posts left %d sign-out events", n)
		}

		// A login form posted from another site changes nothing either.
		other := a.client()
		before := len(a.events("auth.sign_in_failed"))
		p = other.post("/login", url.Values{"email": {"ana@example.com"}, "password": {goodPassword}}, "Sec-Fetch-Site", "cross-site")
		if p.StatusCode != http.StatusForbidden || other.sessionCookie() != nil {
			t.Fatalf("cross-site login: status %d", p.StatusCode)
		}
		if len(a.events("auth.signed_in")) != 1 || len(a.events("auth.sign_in_failed")) != before {
			t.Fatal("a cross-site login was processed")
		}
	})
}

func TestLongPasswordRoundTrips(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		pw := string([]rune(strings.Repeat("Pässwörd-", 15))[:127]) + "z"
		if n := len([]rune(pw)); n != 128 {
			t.Fatalf("test password has %d characters", n)
		}
		a.mustUser("ana@example.com", "Ana", pw, false)
		c := a.client()
		c.get("/login")
		r := []rune(pw)
		r[len(r)-1]++
		if p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {string(r)}}); p.StatusCode != http.StatusUnauthorized {
			t.Fatalf("last character changed: status %d", p.StatusCode)
		}
		if p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {pw[:len(pw)-1]}}); p.StatusCode != http.StatusUnauthorized {
			t.Fatalf("last byte dropped: status %d", p.StatusCode)
		}
		c.signIn("ana@example.com", pw)
	})
}

func TestClientIPIgnoresForgedForwardedFor(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	c := a.client()
	c.get("/login")
	c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {"wrong password!"}}, "X-Forwarded-For", "203.0.113.9")
	if ev := a.events("auth.sign_in_failed"); len(ev) != 1 || ev[0].IP != "127.0.0.1" {
		t.Fatalf("untrusted X-Forwarded-For was believed: %+v", ev)
	}

	proxied := newApp(t, "sqlite", func(c *config.Config) {
		c.TrustedProxies = mustPrefixes(t, "127.0.0.1/32")
	})
	proxied.mustUser("ana@example.com", "Ana", goodPassword, false)
	pc := proxied.client()
	pc.get("/login")
	pc.post("/login", url.Values{"email": {"ana@example.com"}, "password": {"wrong password!"}}, "X-Forwarded-For", "203.0.113.9")
	if ev := proxied.events("auth.sign_in_failed"); len(ev) != 1 || ev[0].IP != "203.0.113.9" {
		t.Fatalf("trusted proxy's X-Forwarded-For ignored: %+v", ev)
	}
}
