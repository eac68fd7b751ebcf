package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/webhook"
	"github.com/elevate-pam/elevate/web"
)

// app is the real router on a real database, served on loopback.
type app struct {
	t     *testing.T
	db    *store.Store
	clock *testenv.Clock
	auth  *auth.Service
	admin *admin.Service
	srv   *httptest.Server
	web   *web.Server
	logs  *lockedWriter
}

type appOption func(*config.Config)

// testSecret is every test app's secret key.
const testSecret = "test-secret-test-secret-test-secret!"

func newApp(t *testing.T, dialect string, opts ...appOption) *app {
	t.Helper()
	return newAppWith(t, dialect, false, opts...)
}

// newAppWithMail is newApp whose request changes queue their mail in the outbox, as in
// production.
func newAppWithMail(t *testing.T, dialect string, opts ...appOption) *app {
	t.Helper()
	return newAppWith(t, dialect, true, opts...)
}

// newAppWith is newApp; with mailing set, request changes also queue their mail in the outbox.
func newAppWith(t *testing.T, dialect string, mailing bool, opts ...appOption) *app {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	// The listener comes first so that options (single sign-on) know the app's own URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	for _, o := range opts {
		o(&cfg)
	}
	db := testenv.Store(t, dialect)
	clock := testenv.NewClock()
	db.SetClock(clock.Now)
	secret := []byte(testSecret)
	sessions := auth.NewSessionStore(db, secret, cfg.SessionIdle, cfg.SessionLifetime, cfg.Secure(), clock.Now)
	svc := auth.NewService(db, sessions, clock.Now)
	logs := &lockedWriter{w: &strings.Builder{}}
	adm := admin.New(db, clock.Now)
	mfa, limiter, sso := authDeps(svc, cfg, secret)
	outbox := mail.NewOutbox(db, cfg, clock.Now)
	var notify access.Notifier
	if mailing {
		notify = outbox
	}
	acc := access.New(db, clock.Now, notify)
	adm.SetRequestRules(acc) // as main.go does
	adm.SetProviderManaged(store.ProviderManaged)
	if sso != nil {
		sso.SetGroupSync(adm)
	}
	srv := web.New(web.Deps{
		Config: cfg, Auth: svc, Admin: adm, Access: acc, Ping: db.Ping, Now: clock.Now, Secret: secret,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), Audit: db, Stats: db, IsApprover: db.IsApprover,
		MFA: mfa, MFARequired: mfa.EnrolmentRequired, Limiter: limiter, SSO: sso, Outbox: outbox,
		Webhooks: webhook.New(db, secret, cfg.BaseURL.String(), clock.Now), Catalog: db, Directory: db, Policies: db,
		DBCounts: func() (uint64, uint64) { c := db.Counts(); return c.Statements, c.RoundTrips },
		DBPool:   db.PoolStats, Operations: db, SweepTiming: func() (time.Duration, time.Time) { return 250 * time.Millisecond, clock.Now() },
	})
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return &app{t: t, db: db, clock: clock, auth: svc, admin: adm, srv: hs, web: srv, logs: logs}
}

// authDeps builds two-step verification, the attempt limiter and (when cfg names an issuer)
// single sign-on the way main.go does, so tests run the server as it is wired in production.
func authDeps(svc *auth.Service, cfg config.Config, secret []byte) (*auth.MFA, *auth.Limiter, *auth.SSO) {
	var sso *auth.SSO
	if cfg.OIDCIssuer != "" {
		sso = svc.NewSSO(auth.SSOConfig{
			Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCSecret,
			RedirectURL: cfg.BaseURL.String() + "/auth/sso/callback", AutoCreate: cfg.OIDCAutoCreate,
			Secure: cfg.Secure(), GroupsClaim: cfg.OIDCGroupsClaim,
		}, secret)
	}
	return svc.NewMFA(secret, "Elevate"), svc.NewLimiter(), sso
}

// lockedWriter lets the server's goroutines log into one buffer safely.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// mustUser creates an active user with a password.
func (a *app) mustUser(email, name, password string, admin bool) pam.User {
	a.t.Helper()
	u, err := a.admin.CreateUserWithPassword(context.Background(), audit.System, email, name, password, admin)
	if err != nil {
		a.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// events returns the audit events with the given action, newest first.
func (a *app) events(action string) []audit.Event {
	a.t.Helper()
	evs, err := a.db.AuditEvents(context.Background(), store.AuditFilter{Action: action, Limit: 100})
	if err != nil {
		a.t.Fatal(err)
	}
	return evs
}

// client is a browser-like client: a cookie jar, no automatic redirects, and the CSRF token
// of the last page it loaded.
type client struct {
	t    *testing.T
	app  *app
	http *http.Client
	csrf string
}

func (a *app) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: a.t, app: a, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

type page struct {
	*http.Response
	doc  *goquery.Document
	body string
}

func (p page) find(testid string) *goquery.Selection {
	return p.doc.Find(`[data-testid="` + testid + `"]`)
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
	if tok, ok := doc.Find(`input[name="_csrf"]`).Attr("value"); ok {
		c.csrf = tok
	}
	return page{Response: resp, doc: doc, body: string(b)}
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.app.srv.URL+path, nil)
	return c.do(req)
}

// getHX loads path as htmx does (HX-Request: true).
func (c *client) getHX(path string) page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.app.srv.URL+path, nil)
	req.Header.Set("HX-Request", "true")
	return c.do(req)
}

// post sends a form with the client's CSRF token (unless the form sets _csrf itself).
func (c *client) post(path string, form url.Values, headers ...string) page {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// signIn loads the sign-in page and signs in, failing the test unless it succeeds.
func (c *client) signIn(email, password string) {
	c.t.Helper()
	c.get("/login")
	p := c.post("/login", url.Values{"email": {email}, "password": {password}})
	if p.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign in %s: status %d: %s", email, p.StatusCode, p.find("form-error").Text())
	}
}

// sessionCookie returns the session cookie the jar holds for the app.
func (c *client) sessionCookie() *http.Cookie {
	u, _ := url.Parse(c.app.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == auth.SessionCookie {
			return ck
		}
	}
	return nil
}

// setSessionCookie puts a session cookie value into the jar.
func (c *client) setSessionCookie(v string) {
	u, _ := url.Parse(c.app.srv.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: auth.SessionCookie, Value: v, Path: "/"}})
}

// signedIn reports whether the client's session opens the dashboard.
func (c *client) signedIn() bool {
	c.t.Helper()
	p := c.get("/")
	switch p.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	}
	c.t.Fatalf("GET /: unexpected status %d", p.StatusCode)
	return false
}

// String returns everything logged so far.
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*strings.Builder).String()
}
