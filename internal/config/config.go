// Package config loads Elevate's settings from the environment into one validated value.
package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Config is every setting the process needs. It is built once by Load and passed down.
type Config struct {
	DatabaseURL string
	Addr        string
	BaseURL     *url.URL
	// BaseURLSet reports whether ELEVATE_BASE_URL was given; BaseURL is otherwise the default
	// made from Addr.
	BaseURLSet bool
	SMTPURL    string
	// SMTP is ELEVATE_SMTP_URL parsed; nil when unset (mail then waits in the outbox).
	SMTP            *SMTP
	MailFrom        string
	SecretKey       []byte // nil means "generate and keep in the database"
	OIDCIssuer      string
	OIDCClientID    string
	OIDCSecret      string
	TrustedProxies  []netip.Prefix
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	LogLevel        string
	// LogFormat is ELEVATE_LOG_FORMAT: LogJSON, LogText, or "" to choose by where standard
	// error goes (text on a terminal, JSON otherwise).
	LogFormat string
	// CheckRate is how many check API calls per second one token may make (per process).
	CheckRate float64
	// DatabaseMaxConns is ELEVATE_DATABASE_MAX_CONNS: how many database connections the
	// process opens at most; 0 leaves the store's default for the database.
	DatabaseMaxConns int

	// OIDCAutoCreate creates unknown users at their first SSO sign-in.
	OIDCAutoCreate bool
	// OIDCGroupsClaim is the claim (in the ID token, else userinfo) whose values map to
	// groups the identity provider manages.
	OIDCGroupsClaim string
	// OIDCGroupMaxAge is how long a membership from the identity provider lasts without an SSO
	// sign-in that confirms it; the sweep then removes it.
	OIDCGroupMaxAge time.Duration
	// PasswordLogin allows sign-in with a password; when false only BreakGlassEmail may.
	PasswordLogin bool
	// BreakGlassEmail is the one account that may sign in with a password when PasswordLogin
	// is false (normalised to lower case).
	BreakGlassEmail string
	// StepUpWindow is how long a two-step code entered for a sensitive action stays good.
	StepUpWindow time.Duration
	// SweepInterval is how often the request sweeper writes down timed-out and expired
	// requests. Decisions never wait for it; it keeps states, lists and mail current.
	SweepInterval time.Duration
	// AuditVerifyEvery is how often the audit chain is walked end to end by one of the processes
	// on the database, and the walk recorded (audit.verified); a broken chain is mailed.
	AuditVerifyEvery time.Duration
	// DebugAddr, when set, is a loopback host:port that serves Go's profiler (net/http/pprof).
	DebugAddr string
}

// MinDatabaseConns is the fewest connections ELEVATE_DATABASE_MAX_CONNS allows: the sealer's
// pass and a request's statement must be able to run side by side.
const MinDatabaseConns = 2

// Log formats for ELEVATE_LOG_FORMAT.
const (
	LogJSON = "json" // one JSON object a line, for log collectors
	LogText = "text" // time, level, message, key=value: for a person at a terminal
)

// Error names the variable whose value is wrong, so start-up can print one clear line.
type Error struct {
	Var     string
	Problem string
}

func (e *Error) Error() string { return e.Var + ": " + e.Problem }

// Secure reports whether the portal is served over https, which decides Secure cookies and HSTS.
func (c Config) Secure() bool { return c.BaseURL.Scheme == "https" }

// Load reads the configuration through getenv (os.Getenv in production) and validates every value.
func Load(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		DatabaseURL:  get("ELEVATE_DATABASE_URL", "sqlite:elevate.db"),
		Addr:         get("ELEVATE_ADDR", "127.0.0.1:8080"),
		SMTPURL:      get("ELEVATE_SMTP_URL", ""),
		MailFrom:     get("ELEVATE_MAIL_FROM", "elevate@localhost"),
		OIDCIssuer:   get("ELEVATE_OIDC_ISSUER", ""),
		OIDCClientID: get("ELEVATE_OIDC_CLIENT_ID", ""),
		OIDCSecret:   get("ELEVATE_OIDC_CLIENT_SECRET", ""),
		LogLevel:     strings.ToLower(get("ELEVATE_LOG_LEVEL", "info")),
		LogFormat:    strings.ToLower(get("ELEVATE_LOG_FORMAT", "")),
	}

	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return c, &Error{"ELEVATE_DATABASE_URL", "must start with sqlite: or postgres://"}
	}
	if c.DatabaseURL == "sqlite:" {
		return c, &Error{"ELEVATE_DATABASE_URL", "sqlite: needs a file path, for example sqlite:elevate.db"}
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return c, &Error{"ELEVATE_ADDR", fmt.Sprintf("%q is not host:port", c.Addr)}
	}
	if c.DebugAddr = get("ELEVATE_DEBUG_ADDR", ""); c.DebugAddr != "" {
		host, port, err := net.SplitHostPort(c.DebugAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || port == "" || perr != nil || !ip.IsLoopback() {
			return c, &Error{"ELEVATE_DEBUG_ADDR", fmt.Sprintf("%q is not a loopback host:port such as 127.0.0.1:6060 (the profiler must not be reachable from the network)", c.DebugAddr)}
		}
	}

	base := get("ELEVATE_BASE_URL", "")
	c.BaseURLSet = base != ""
	if base == "" {
		host, port, _ := net.SplitHostPort(c.Addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, &Error{"ELEVATE_BASE_URL", fmt.Sprintf("%q is not an http(s) URL", base)}
	}
	c.BaseURL = u

	if c.SMTPURL != "" {
		if c.SMTP, err = ParseSMTPURL(c.SMTPURL); err != nil {
			return c, err
		}
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || a.Address != c.MailFrom || strings.ContainsAny(c.MailFrom, "\r\n") {
		return c, &Error{"ELEVATE_MAIL_FROM", fmt.Sprintf("%q is not one email address", c.MailFrom)}
	}

	if k := get("ELEVATE_SECRET_KEY", ""); k != "" {
		if len(k) < 32 {
			return c, &Error{"ELEVATE_SECRET_KEY", "must be at least 32 characters"}
		}
		c.SecretKey = []byte(k)
	}

	if c.OIDCIssuer != "" {
		iu, err := url.Parse(c.OIDCIssuer)
		if err != nil || (iu.Scheme != "https" && iu.Scheme != "http") || iu.Host == "" {
			return c, &Error{"ELEVATE_OIDC_ISSUER", fmt.Sprintf("%q is not an http(s) URL", c.OIDCIssuer)}
		}
	}
	if (c.OIDCIssuer == "") != (c.OIDCClientID == "") {
		return c, &Error{"ELEVATE_OIDC_CLIENT_ID", "ELEVATE_OIDC_ISSUER and ELEVATE_OIDC_CLIENT_ID must be set together"}
	}
	if c.OIDCAutoCreate, err = boolean(get, "ELEVATE_OIDC_AUTO_CREATE", "false"); err != nil {
		return c, err
	}
	if c.PasswordLogin, err = boolean(get, "ELEVATE_PASSWORD_LOGIN", "true"); err != nil {
		return c, err
	}
	if c.OIDCAutoCreate && c.OIDCIssuer == "" {
		return c, &Error{"ELEVATE_OIDC_AUTO_CREATE", "needs single sign-on (ELEVATE_OIDC_ISSUER) to be configured"}
	}
	c.OIDCGroupsClaim = get("ELEVATE_OIDC_GROUPS_CLAIM", "groups")
	if utf8.RuneCountInString(c.OIDCGroupsClaim) > 100 || strings.ContainsAny(c.OIDCGroupsClaim, " \t\r\n") {
		return c, &Error{"ELEVATE_OIDC_GROUPS_CLAIM", fmt.Sprintf("%q is not a claim name (one word, such as groups or roles)", c.OIDCGroupsClaim)}
	}
	maxAge := get("ELEVATE_OIDC_GROUP_MAX_AGE", "168h")
	if c.OIDCGroupMaxAge, err = time.ParseDuration(maxAge); err != nil || c.OIDCGroupMaxAge < time.Minute {
		return c, &Error{"ELEVATE_OIDC_GROUP_MAX_AGE", fmt.Sprintf("%q is not a duration of at least 1m (for example 168h for 7 days)", maxAge)}
	}
	if !c.PasswordLogin && c.OIDCIssuer == "" {
		return c, &Error{"ELEVATE_PASSWORD_LOGIN", "false needs single sign-on (ELEVATE_OIDC_ISSUER), or nobody could sign in"}
	}
	if bg := get("ELEVATE_BREAK_GLASS_EMAIL", ""); bg != "" {
		a, perr := mail.ParseAddress(bg)
		if perr != nil || a.Address != bg {
			return c, &Error{"ELEVATE_BREAK_GLASS_EMAIL", fmt.Sprintf("%q is not one email address", bg)}
		}
		c.BreakGlassEmail = strings.ToLower(bg)
	}

	for _, p := range strings.Split(get("ELEVATE_TRUSTED_PROXIES", ""), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return c, &Error{"ELEVATE_TRUSTED_PROXIES", fmt.Sprintf("%q is not an IP address or CIDR range", p)}
			}
			c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			return c, &Error{"ELEVATE_TRUSTED_PROXIES", fmt.Sprintf("%q is not an IP address or CIDR range", p)}
		}
		c.TrustedProxies = append(c.TrustedProxies, pf.Masked())
	}

	if c.SessionIdle, err = duration(get, "ELEVATE_SESSION_IDLE_TIMEOUT", "30m"); err != nil {
		return c, err
	}
	if c.SessionLifetime, err = duration(get, "ELEVATE_SESSION_LIFETIME", "12h"); err != nil {
		return c, err
	}
	if c.StepUpWindow, err = duration(get, "ELEVATE_STEP_UP_WINDOW", "10m"); err != nil {
		return c, err
	}
	sweep := get("ELEVATE_SWEEP_INTERVAL", "30s")
	if c.SweepInterval, err = time.ParseDuration(sweep); err != nil || c.SweepInterval < 100*time.Millisecond || c.SweepInterval > time.Hour {
		return c, &Error{"ELEVATE_SWEEP_INTERVAL", fmt.Sprintf("%q is not a duration between 100ms and 1h (for example 30s)", sweep)}
	}
	verify := get("ELEVATE_AUDIT_VERIFY_EVERY", "24h")
	if c.AuditVerifyEvery, err = time.ParseDuration(verify); err != nil || c.AuditVerifyEvery < time.Minute || c.AuditVerifyEvery > 31*24*time.Hour {
		return c, &Error{"ELEVATE_AUDIT_VERIFY_EVERY", fmt.Sprintf("%q is not a duration between 1m and 744h (for example 24h)", verify)}
	}
	if c.SessionIdle > c.SessionLifetime {
		return c, &Error{"ELEVATE_SESSION_IDLE_TIMEOUT", "must not be longer than ELEVATE_SESSION_LIFETIME"}
	}
	c.CheckRate = 200
	if v := get("ELEVATE_CHECK_RATE", ""); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 1 || r > 1e6 {
			return c, &Error{"ELEVATE_CHECK_RATE", fmt.Sprintf("%q is not a number of calls per second between 1 and 1000000", v)}
		}
		c.CheckRate = r
	}
	if v := get("ELEVATE_DATABASE_MAX_CONNS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < MinDatabaseConns || n > 1000 {
			return c, &Error{"ELEVATE_DATABASE_MAX_CONNS", fmt.Sprintf("%q is not a number of connections between %d and 1000", v, MinDatabaseConns)}
		}
		c.DatabaseMaxConns = n
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return c, &Error{"ELEVATE_LOG_LEVEL", "must be debug, info, warn or error"}
	}
	switch c.LogFormat {
	case "", LogJSON, LogText:
	default:
		return c, &Error{"ELEVATE_LOG_FORMAT", fmt.Sprintf("%q is not json or text (unset: text on a terminal, json otherwise)", c.LogFormat)}
	}
	return c, nil
}

func boolean(get func(string, string) string, key, def string) (bool, error) {
	v, err := strconv.ParseBool(get(key, def))
	if err != nil {
		return false, &Error{key, "must be true or false"}
	}
	return v, nil
}

func duration(get func(string, string) string, key, def string) (time.Duration, error) {
	v := get(key, def)
	d, err := time.ParseDuration(v)
	if err != nil {
		if n, nerr := strconv.Atoi(v); nerr == nil {
			d, err = time.Duration(n)*time.Minute, nil
		}
	}
	if err != nil || d < time.Minute {
		return 0, &Error{key, fmt.Sprintf("%q is not a duration of at least 1m (for example 30m or 12h)", v)}
	}
	return d, nil
}

// StartTLS policies for smtp:// URLs.
const (
	StartTLSRequired      = "required"
	StartTLSOpportunistic = "opportunistic"
	StartTLSNone          = "none"
)

// SMTP is where and how mail is sent.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS is smtps://: TLS from the first byte (port 465 by default).
	ImplicitTLS bool
	// StartTLS is the policy for smtp://: required (the default), opportunistic or none.
	StartTLS string
}

// String is the server without its password, for logs.
func (s SMTP) String() string {
	scheme := "smtp"
	if s.ImplicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	if !s.ImplicitTLS {
		u.RawQuery = "starttls=" + s.StartTLS
	}
	return u.String()
}

// ParseSMTPURL parses smtp://user:pass@host:port?starttls=required|opportunistic|none or
// smtps://user:pass@host:port. Errors name ELEVATE_SMTP_URL and never echo the password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	bad := func(problem string) error { return &Error{"ELEVATE_SMTP_URL", problem} }
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, bad("must look like smtp://user:pass@host:port or smtps://…")
	}
	s := &SMTP{Host: u.Hostname(), ImplicitTLS: u.Scheme == "smtps", StartTLS: StartTLSRequired}
	s.Port = 587
	if s.ImplicitTLS {
		s.Port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad(fmt.Sprintf("port %q is not a number between 1 and 65535", p))
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	if u.Path != "" && u.Path != "/" {
		return nil, bad("takes no path")
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return nil, bad(fmt.Sprintf("unknown parameter %q (only starttls)", k))
		}
	}
	if v := q.Get("starttls"); v != "" {
		if s.ImplicitTLS {
			return nil, bad("smtps:// is TLS from the start; starttls applies to smtp:// only")
		}
		switch v {
		case StartTLSRequired, StartTLSOpportunistic, StartTLSNone:
			s.StartTLS = v
		default:
			return nil, bad(fmt.Sprintf("starttls=%q must be required, opportunistic or none", v))
		}
	}
	return s, nil
}
