// Package web is Elevate's HTTP layer: the route table, middleware, handlers and the error
// handler. It is the only package that imports Echo; it talks to internal services only.
package web

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps is everything the HTTP layer needs, built by main.
type Deps struct {
	Config config.Config
	Auth   *auth.Service
	Admin  *admin.Service
	Access *access.Service
	// Ping reports whether the database answers; /readyz uses it.
	Ping   func(context.Context) error
	Logger *slog.Logger
	Now    func() time.Time
	Secret []byte
	// Audit reads the audit trail for /audit and its export.
	Audit AuditLog
	// Stats reads the organisation overview's figures (/overview).
	Stats OrgStats
	// MFA is two-step verification.
	MFA *auth.MFA
	// Limiter counts sign-in and code attempts.
	Limiter *auth.Limiter
	// SSO is OpenID Connect sign-in; required when Config names an issuer, nil otherwise.
	SSO *auth.SSO
	// MFARequired reports whether the organisation requires approvers and administrators to
	// enrol in two-step verification (main passes MFA.EnrolmentRequired). Pages read it with
	// the session (auth.Frame); API calls and the settings page ask here.
	MFARequired func(context.Context) (bool, error)
	// IsApprover reports whether a user is in any approver group; as MFARequired, for calls
	// without a session.
	IsApprover func(context.Context, pam.UserID) (bool, error)
	// Outbox is the mail queue shown at /admin/outbox.
	Outbox Outbox
	// Webhooks is the outbound endpoints and their deliveries at /admin/webhooks.
	Webhooks Webhooks
	// Catalog, Directory and Policies are the read-only admin pages' data.
	Catalog   Catalog
	Directory Directory
	Policies  PolicyBook
	// DBCounts, when set, reports the statements and round trips the database has served since
	// start; /metrics exports them as counters (main passes the store's).
	DBCounts func() (statements, roundTrips uint64)
	// DBPool, when set, reports the connection pool's figures; /metrics exports its size, its
	// connections in use and idle, and how often and how long requests waited for one (main
	// passes the store's), so ELEVATE_DATABASE_MAX_CONNS can be sized from what was seen.
	DBPool func() sql.DBStats
	// Operations, when set, is read once at each scrape of /metrics for the operator's gauges
	// and decision counters (main passes the store); never on a request's path.
	Operations Operations
	// SweepTiming, when set, reports the request sweep's last run for /metrics.
	SweepTiming func() (took time.Duration, ended time.Time)
}

// missing names the dependencies New needs and d lacks. Now and Logger are optional (the
// wall clock in UTC and slog's default).
func (d Deps) missing() []string {
	var m []string
	for _, c := range []struct {
		name   string
		absent bool
	}{
		{"Auth", d.Auth == nil}, {"Admin", d.Admin == nil}, {"Access", d.Access == nil}, {"Ping", d.Ping == nil},
		{"Secret", len(d.Secret) == 0}, {"Audit", d.Audit == nil}, {"Stats", d.Stats == nil}, {"MFA", d.MFA == nil}, {"Limiter", d.Limiter == nil},
		{"SSO (ELEVATE_OIDC_ISSUER is set)", d.SSO == nil && d.Config.OIDCIssuer != ""},
		{"MFARequired", d.MFARequired == nil}, {"IsApprover", d.IsApprover == nil}, {"Outbox", d.Outbox == nil}, {"Webhooks", d.Webhooks == nil},
		{"Catalog", d.Catalog == nil}, {"Directory", d.Directory == nil}, {"Policies", d.Policies == nil},
	} {
		if c.absent {
			m = append(m, c.name)
		}
	}
	return m
}

// Server is the HTTP application.
type Server struct {
	cfg    config.Config
	auth   *auth.Service
	admin  *admin.Service
	access *access.Service
	// checkLimiter bounds check API calls per token.
	checkLimiter *tokenLimiter
	ping         func(context.Context) error
	log          *slog.Logger
	now          func() time.Time
	audit        AuditLog
	stats        OrgStats
	flash        *securecookie.SecureCookie
	metrics      *metrics
	e            *echo.Echo

	mfa     *auth.MFA
	limiter *auth.Limiter
	sso     *auth.SSO
	// mfaRequired and isApprover decide who must enrol in two-step verification when the
	// request has no frame (see mustEnrol).
	mfaRequired func(context.Context) (bool, error)
	isApprover  func(context.Context, pam.UserID) (bool, error)
	outbox      Outbox
	webhooks    Webhooks
	catalog     Catalog
	directory   Directory
	policies    PolicyBook
}

// New builds the server and its route table from dependencies built by its caller; it builds
// none itself and panics when a required one is missing.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = func() time.Time { return time.Now().UTC() }
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if m := d.missing(); len(m) > 0 {
		// A wiring mistake in main or a test harness, not a condition to run with.
		panic("web.New: missing dependencies: " + strings.Join(m, ", "))
	}
	fc := securecookie.New(auth.DeriveKey(d.Secret, "flash-cookie"), nil)
	fc.MaxAge(300)
	fc.SetSerializer(securecookie.JSONEncoder{})
	s := &Server{
		cfg: d.Config, auth: d.Auth, admin: d.Admin, access: d.Access, ping: d.Ping, log: d.Logger, now: d.Now, flash: fc, audit: d.Audit, stats: d.Stats,
		mfa: d.MFA, limiter: d.Limiter, sso: d.SSO, mfaRequired: d.MFARequired, isApprover: d.IsApprover,
		outbox: d.Outbox, webhooks: d.Webhooks, catalog: d.Catalog, directory: d.Directory, policies: d.Policies,
		metrics: newMetrics(prometheus.NewRegistry(), d.DBCounts, d.DBPool),
	}
	s.metrics.registerOperations(d.Operations, d.SweepTiming, d.Now, d.Logger)
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = ipExtractor(d.Config)
	e.HTTPErrorHandler = s.handleError
	s.checkLimiter = newTokenLimiter(d.Config.CheckRate, int(d.Config.CheckRate*2)+1)
	s.e = e
	s.routes()
	return s
}

// Handler returns the server as an http.Handler (for tests and for http.Server).
func (s *Server) Handler() http.Handler { return s.e }

// ipExtractor trusts X-Forwarded-For only from the configured proxies; without any, it uses
// the connection's address, so a client cannot choose its own IP.
func ipExtractor(cfg config.Config) echo.IPExtractor {
	if len(cfg.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range cfg.TrustedProxies {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
