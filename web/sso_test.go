package web_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// startExampleOP runs zitadel's example OpenID Provider on loopback with its own users and one
// web client registered for redirect. It returns the issuer URL.
func startExampleOP(t *testing.T, redirect string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	users := map[string]map[string]any{}
	for _, u := range []struct {
		id, email string
		verified  bool
	}{
		{"u1", "ana@example.com", true},
		{"u2", "newbie@example.com", true},
		{"u3", "unverified@example.com", false},
		{"u4", "gone@example.com", true},
	} {
		users[u.id] = map[string]any{"ID": u.id, "Username": u.email, "Password": "idp password", "FirstName": "Test",
			"LastName": u.id, "Email": u.email, "EmailVerified": u.verified, "PreferredLanguage": "en"}
	}
	b, _ := json.Marshal(users)
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	us, err := storage.StoreFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := storage.NewStorageWithClients(us, map[string]*storage.Client{"elevate": storage.WebClient("elevate", "client secret", redirect)})
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return issuer
}

// withSSO configures single sign-on against the provider start returns.
func withSSO(start func(t *testing.T, redirect string) string, t *testing.T, autoCreate bool) appOption {
	return func(c *config.Config) {
		c.OIDCIssuer = start(t, c.BaseURL.String()+"/auth/sso/callback")
		c.OIDCClientID, c.OIDCSecret, c.OIDCAutoCreate = "elevate", "client secret", autoCreate
	}
}

// providerLogin follows the app's redirect to the provider, signs in there and returns the
// callback address the provider sends the browser back to.
func (c *client) providerLogin(username string) string {
	c.t.Helper()
	start := c.get("/auth/sso")
	if start.StatusCode != http.StatusFound {
		c.t.Fatalf("start SSO: %d %s", start.StatusCode, start.body)
	}
	app, _ := url.Parse(c.app.srv.URL)
	jar, _ := cookiejar.New(nil)
	idp := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == app.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := idp.Get(start.Header.Get("Location"))
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		c.t.Fatalf("no provider login page at %s", resp.Request.URL)
	}
	login := *resp.Request.URL
	login.RawQuery = ""
	resp, err = idp.PostForm(login.String(), url.Values{"id": {id}, "username": {username}, "password": {"idp password"}})
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	back := resp.Header.Get("Location")
	if !strings.HasPrefix(back, c.app.srv.URL+"/auth/sso/callback?") {
		c.t.Fatalf("provider did not send back to the callback: %d %q", resp.StatusCode, back)
	}
	return strings.TrimPrefix(back, c.app.srv.URL)
}

func TestSSOSignInWithRealProvider(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect, withSSO(startExampleOP, t, false))
		a.mustUser("ana@example.com", "Ana Requester", goodPassword, false)
		a.mustUser("gone@example.com", "Gone", goodPassword, false)

		// A session id planted before sign-in is worthless after it.
		a.mustUser("mallory@example.com", "Mallory", goodPassword, false)
		attacker := a.client()
		attacker.signIn("mallory@example.com", goodPassword)
		planted := attacker.sessionCookie().Value
		if _, err := a.admin.ChangeUserByEmail(t.Context(), actorCLI, "gone@example.com", admin.Disable); err != nil {
			t.Fatal(err)
		}
		if l := a.client().get("/login"); l.find("sign-in-sso").Length() != 1 {
			t.Fatal("no Sign in with SSO on the sign-in page")
		}
		c := a.client()
		c.setSessionCookie(planted)
		back := c.providerLogin("ana@example.com")
		p := c.get(back)
		if ck := c.sessionCookie(); ck == nil || ck.Value == planted {
			t.Fatal("the session id was not rotated at SSO sign-in")
		}
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/" {
			t.Fatalf("callback: %d %q %s", p.StatusCode, p.Header.Get("Location"), p.find("sso-refused-message").Text())
		}
		if !c.signedIn() || !strings.Contains(c.get("/").find("greeting").Text(), "Ana") {
			t.Fatal("not signed in after SSO")
		}
		ev := a.events("auth.signed_in") // newest first: the SSO one, then the planter's
		if len(ev) != 2 || ev[0].ActorName != "ana@example.com" || !strings.Contains(ev[0].Details, `"method":"sso"`) {
			t.Fatalf("sign-in events: %+v", ev)
		}
		if attacker.signedIn() {
			t.Fatal("the planted session still works")
		}
		// The callback works once: replaying it is refused.
		replay := a.client()
		if p := replay.get(back); p.StatusCode != http.StatusForbidden || replay.sessionCookie() != nil {
			t.Fatalf("replayed callback: %d", p.StatusCode)
		}

		for _, tc := range []struct{ user, reason, says string }{
			{"newbie@example.com", "unknown_user", "no Elevate account"},
			{"unverified@example.com", "email_unverified", "not verified"},
			{"gone@example.com", "disabled", "disabled"},
		} {
			c := a.client()
			p := c.get(c.providerLogin(tc.user))
			if p.StatusCode != http.StatusForbidden || !strings.Contains(p.find("sso-refused-message").Text(), tc.says) {
				t.Fatalf("%s: %d %q", tc.user, p.StatusCode, p.find("sso-refused-message").Text())
			}
			if c.sessionCookie() != nil {
				t.Fatalf("%s: refused but has a session", tc.user)
			}
			if !hasRefusal(a, tc.reason) {
				t.Fatalf("%s: no refusal event with reason %s", tc.user, tc.reason)
			}
		}
		if n, _ := a.db.CountUsers(t.Context()); n != 3 {
			t.Fatalf("%d users; an unknown SSO user was created", n)
		}
	})
}

func hasRefusal(a *app, reason string) bool {
	for _, ev := range a.events("auth.sso_refused") {
		if strings.Contains(ev.Details, `"reason":"`+reason+`"`) && ev.Outcome == "failure" {
			return true
		}
	}
	return false
}

func TestSSOAutoCreatesUnknownUsers(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect, withSSO(startExampleOP, t, true))
		c := a.client()
		c.get("/login")
		p := c.get(c.providerLogin("newbie@example.com"))
		if p.StatusCode != http.StatusSeeOther || !c.signedIn() {
			t.Fatalf("auto-create: %d %s", p.StatusCode, p.find("sso-refused-message").Text())
		}
		u, _, err := a.db.UserByEmail(t.Context(), "newbie@example.com")
		if err != nil || u.Admin {
			t.Fatalf("created user %+v %v", u, err)
		}
		if n := len(a.events("user.created")); n != 1 {
			t.Fatalf("%d user.created events", n)
		}
		// The created user has no password to sign in with.
		other := a.client()
		other.get("/login")
		if p := other.post("/login", url.Values{"email": {"newbie@example.com"}, "password": {""}}); p.StatusCode != http.StatusUnauthorized {
			t.Fatalf("password sign-in of an SSO user: %d", p.StatusCode)
		}
	})
}

// fakeOP is a minimal OpenID Provider whose ID tokens each test shapes, to check that Elevate
// refuses what a real provider would never send.
type fakeOP struct {
	t      *testing.T
	issuer string
	key    *rsa.PrivateKey
	now    func() time.Time

	mu        sync.Mutex
	nonce     string
	challenge string
	shape     func(claims map[string]any) *rsa.PrivateKey
}

func startFakeOP(t *testing.T, now func() time.Time) *fakeOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeOP{t: t, key: key, now: now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": f.issuer, "authorization_endpoint": f.issuer + "/authorize", "token_endpoint": f.issuer + "/token",
			"jwks_uri": f.issuer + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f.mu.Lock()
		f.nonce, f.challenge = q.Get("nonce"), q.Get("code_challenge")
		f.mu.Unlock()
		if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
			http.Error(w, "state, nonce and S256 PKCE are required", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?code=the-code&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge || r.FormValue("code") != "the-code" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		now := f.now()
		claims := map[string]any{"iss": f.issuer, "sub": "s-1", "aud": "elevate", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"nonce": f.nonce, "email": "ana@example.com", "email_verified": true, "name": "Ana"}
		signer := f.key
		if f.shape != nil {
			if k := f.shape(claims); k != nil {
				signer = k
			}
		}
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: signer}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			f.t.Error(err)
			return
		}
		payload, _ := json.Marshal(claims)
		obj, err := sig.Sign(payload)
		if err != nil {
			f.t.Error(err)
			return
		}
		raw, _ := obj.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": raw})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.issuer = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

func (f *fakeOP) setShape(fn func(map[string]any) *rsa.PrivateKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shape = fn
}

// fakeLogin runs the flow against the fake provider and returns the app's answer to the callback.
func (c *client) fakeLogin() page {
	c.t.Helper()
	return c.fakeLoginFrom("/auth/sso")
}

// fakeLoginFrom starts the flow at path (which may carry a next target).
func (c *client) fakeLoginFrom(path string) page {
	c.t.Helper()
	start := c.get(path)
	if start.StatusCode != http.StatusFound {
		c.t.Fatalf("start SSO: %d", start.StatusCode)
	}
	return c.followProvider(start.Header.Get("Location"))
}

// followProvider visits the fake provider's authorization URL and returns the app's answer to
// the callback it sends back to.
func (c *client) followProvider(authURL string) page {
	c.t.Helper()
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authURL)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	back := resp.Header.Get("Location")
	if !strings.HasPrefix(back, c.app.srv.URL+"/auth/sso/callback?") {
		c.t.Fatalf("fake provider answered %d %q", resp.StatusCode, back)
	}
	return c.get(strings.TrimPrefix(back, c.app.srv.URL))
}

func TestSSORefusesBadTokens(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		var op *fakeOP
		a := newApp(t, dialect, func(c *config.Config) {
			op = startFakeOP(t, time.Now) // replaced by the app's clock below
			c.OIDCIssuer, c.OIDCClientID, c.OIDCSecret = op.issuer, "elevate", "client secret"
		})
		op.now = a.clock.Now
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		other, _ := rsa.GenerateKey(rand.Reader, 2048)

		cases := []struct {
			name, reason string
			shape        func(map[string]any) *rsa.PrivateKey
		}{
			{"wrong nonce", "nonce_mismatch", func(m map[string]any) *rsa.PrivateKey { m["nonce"] = "someone-elses-nonce"; return nil }},
			{"no nonce", "nonce_mismatch", func(m map[string]any) *rsa.PrivateKey { delete(m, "nonce"); return nil }},
			{"wrong audience", "id_token_invalid", func(m map[string]any) *rsa.PrivateKey { m["aud"] = "another-app"; return nil }},
			{"wrong issuer", "id_token_invalid", func(m map[string]any) *rsa.PrivateKey { m["iss"] = "https://evil.example"; return nil }},
			{"expired", "id_token_expired", func(m map[string]any) *rsa.PrivateKey {
				m["iat"], m["exp"] = a.clock.Now().Add(-time.Hour).Unix(), a.clock.Now().Add(-time.Minute).Unix()
				return nil
			}},
			{"unverified email", "email_unverified", func(m map[string]any) *rsa.PrivateKey { m["email_verified"] = false; return nil }},
			{"forged signature", "id_token_invalid", func(map[string]any) *rsa.PrivateKey { return other }},
		}
		for _, tc := range cases {
			op.setShape(tc.shape)
			c := a.client()
			p := c.fakeLogin()
			if p.StatusCode != http.StatusForbidden || p.find("sso-refused").Length() != 1 {
				t.Fatalf("%s: status %d", tc.name, p.StatusCode)
			}
			if c.sessionCookie() != nil || c.signedIn() {
				t.Fatalf("%s: signed in", tc.name)
			}
			if !hasRefusal(a, tc.reason) {
				t.Fatalf("%s: no refusal with reason %s", tc.name, tc.reason)
			}
		}

		// A callback whose state differs from the one this browser started with.
		op.setShape(nil)
		c := a.client()
		start := c.get("/auth/sso")
		loc, _ := url.Parse(start.Header.Get("Location"))
		if p := c.get("/auth/sso/callback?code=the-code&state=" + url.QueryEscape(loc.Query().Get("state")+"x")); p.StatusCode != http.StatusForbidden || !hasRefusal(a, "state_mismatch") {
			t.Fatalf("wrong state: %d", p.StatusCode)
		}
		if c.sessionCookie() != nil {
			t.Fatal("wrong state signed in")
		}

		// The same provider with a well-formed token signs in, so the refusals above were about the token.
		good := a.client()
		if p := good.fakeLogin(); p.StatusCode != http.StatusSeeOther || !good.signedIn() {
			t.Fatalf("good token: %d %s", p.StatusCode, p.find("sso-refused-message").Text())
		}
		if strings.Contains(a.logs.String(), "the-code") {
			t.Fatal("an authorization code reached the log")
		}
	})
}

// TestSSONextStaysOnSite: the next target survives single sign-on when it is a path on this
// site, is dropped at the start when it is not, and is checked again at the callback, so even
// a flow that stored a bad one lands on "/".
func TestSSONextStaysOnSite(t *testing.T) {
	var op *fakeOP
	a := newApp(t, "sqlite", func(c *config.Config) {
		op = startFakeOP(t, time.Now) // replaced by the app's clock below
		c.OIDCIssuer, c.OIDCClientID, c.OIDCSecret = op.issuer, "elevate", "client secret"
	})
	op.now = a.clock.Now
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	for _, tc := range []struct{ next, want string }{
		{"/requests?state=pending", "/requests?state=pending"},
		{"/%09/evil.example", "/"},
		{"/%2F/evil.example", "/"},
	} {
		c := a.client()
		if p := c.fakeLoginFrom("/auth/sso?next=" + url.QueryEscape(tc.next)); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != tc.want {
			t.Errorf("next=%q: callback answered %d to %q, want %q", tc.next, p.StatusCode, p.Header.Get("Location"), tc.want)
		}
	}

	// A flow cookie that holds a target off the site, as one begun before the rule tightened would.
	sso := a.auth.NewSSO(auth.SSOConfig{Issuer: op.issuer, ClientID: "elevate", ClientSecret: "client secret",
		RedirectURL: a.srv.URL + "/auth/sso/callback"}, []byte(testSecret))
	for _, next := range []string{"//evil.example", "/\t/evil.example", "/%5Cevil.example"} {
		rec := httptest.NewRecorder()
		to, err := sso.Begin(rec, httptest.NewRequest(http.MethodGet, "/auth/sso", nil), next)
		if err != nil {
			t.Fatal(err)
		}
		c := a.client()
		app, _ := url.Parse(a.srv.URL + "/auth/sso")
		c.http.Jar.SetCookies(app, rec.Result().Cookies())
		if p := c.followProvider(to); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/" {
			t.Errorf("stored next=%q: callback answered %d to %q, want /", next, p.StatusCode, p.Header.Get("Location"))
		}
	}
}

func TestPasswordSignInOffExceptBreakGlass(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect, func(c *config.Config) {
			op := startFakeOP(t, time.Now)
			c.OIDCIssuer, c.OIDCClientID = op.issuer, "elevate"
			c.PasswordLogin, c.BreakGlassEmail = false, "root@example.com"
		})
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		a.mustUser("root@example.com", "Root", goodPassword, true)
		c := a.client()
		l := c.get("/login")
		if l.find("sign-in-sso").Length() != 1 || l.find("break-glass").Length() != 1 {
			t.Fatal("sign-in page lacks SSO or the break-glass form")
		}
		p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {goodPassword}})
		if p.StatusCode != http.StatusForbidden || c.sessionCookie() != nil || !strings.Contains(p.find("form-error").Text(), "turned off") {
			t.Fatalf("password sign-in while off: %d", p.StatusCode)
		}
		c.signIn("Root@example.com", goodPassword)
		if !c.signedIn() {
			t.Fatal("break-glass admin cannot sign in")
		}
	})
}
