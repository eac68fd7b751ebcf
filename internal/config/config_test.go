package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "sqlite:elevate.db" || c.Addr != "127.0.0.1:8080" || c.BaseURL.String() != "http://127.0.0.1:8080" || c.BaseURLSet ||
		c.SessionIdle != 30*time.Minute || c.SessionLifetime != 12*time.Hour || c.SweepInterval != 30*time.Second || c.Secure() ||
		c.DatabaseMaxConns != 0 || c.AuditVerifyEvery != 24*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestBadValuesNameTheirVariable(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"ELEVATE_DATABASE_URL", "mysql://x"},
		{"ELEVATE_ADDR", "8080"},
		{"ELEVATE_BASE_URL", "ftp://x"},
		{"ELEVATE_SMTP_URL", "http://mail"},
		{"ELEVATE_SMTP_URL", "smtp://mail:99999"},
		{"ELEVATE_SMTP_URL", "smtp://mail?starttls=maybe"},
		{"ELEVATE_SMTP_URL", "smtps://mail?starttls=none"},
		{"ELEVATE_SMTP_URL", "smtp://mail?tls=1"},
		{"ELEVATE_MAIL_FROM", "a@b.example\r\nBcc: x@y.example"},
		{"ELEVATE_MAIL_FROM", "Elevate <a@b.example>"},
		{"ELEVATE_MAIL_FROM", "nobody"},
		{"ELEVATE_SECRET_KEY", "short"},
		{"ELEVATE_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"ELEVATE_SESSION_IDLE_TIMEOUT", "soon"},
		{"ELEVATE_SESSION_LIFETIME", "10s"},
		{"ELEVATE_LOG_LEVEL", "loud"},
		{"ELEVATE_LOG_FORMAT", "pretty"},
		{"ELEVATE_OIDC_ISSUER", "idp.example.com"},
		{"ELEVATE_OIDC_AUTO_CREATE", "maybe"},
		{"ELEVATE_OIDC_GROUPS_CLAIM", "my groups"},
		{"ELEVATE_OIDC_GROUP_MAX_AGE", "7d"},
		{"ELEVATE_OIDC_GROUP_MAX_AGE", "30s"},
		{"ELEVATE_OIDC_GROUP_MAX_AGE", "-1h"},
		{"ELEVATE_PASSWORD_LOGIN", "false"},
		{"ELEVATE_PASSWORD_LOGIN", "nope"},
		{"ELEVATE_BREAK_GLASS_EMAIL", "root"},
		{"ELEVATE_STEP_UP_WINDOW", "5s"},
		{"ELEVATE_AUDIT_VERIFY_EVERY", "30s"},
		{"ELEVATE_AUDIT_VERIFY_EVERY", "daily"},
		{"ELEVATE_AUDIT_VERIFY_EVERY", "745h"},
		{"ELEVATE_SWEEP_INTERVAL", "10ms"},
		{"ELEVATE_SWEEP_INTERVAL", "often"},
		{"ELEVATE_DEBUG_ADDR", "0.0.0.0:6060"},
		{"ELEVATE_DEBUG_ADDR", "192.168.1.5:6060"},
		{"ELEVATE_DEBUG_ADDR", "localhost:6060"},
		{"ELEVATE_DEBUG_ADDR", "127.0.0.1"},
		{"ELEVATE_DATABASE_MAX_CONNS", "1"},
		{"ELEVATE_DATABASE_MAX_CONNS", "1001"},
		{"ELEVATE_DATABASE_MAX_CONNS", "many"},
	} {
		_, err := Load(envOf(map[string]string{tc.key: tc.value}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tc.key {
			t.Errorf("%s=%q: got %v, want an error naming %s", tc.key, tc.value, err, tc.key)
		}
	}
}

func TestParsedValues(t *testing.T) {
	c, err := Load(envOf(map[string]string{
		"ELEVATE_BASE_URL":             "https://elevate.example.com/",
		"ELEVATE_TRUSTED_PROXIES":      "10.0.0.1, 192.168.0.0/16",
		"ELEVATE_SESSION_IDLE_TIMEOUT": "15",
		"ELEVATE_DATABASE_URL":         "postgres://u@h/db",
		"ELEVATE_SWEEP_INTERVAL":       "250ms",
		"ELEVATE_DATABASE_MAX_CONNS":   "8",
		"ELEVATE_AUDIT_VERIFY_EVERY":   "6h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Secure() || c.BaseURL.String() != "https://elevate.example.com" || !c.BaseURLSet || len(c.TrustedProxies) != 2 ||
		c.TrustedProxies[0].String() != "10.0.0.1/32" || c.SessionIdle != 15*time.Minute ||
		c.SweepInterval != 250*time.Millisecond || c.DatabaseMaxConns != 8 || c.AuditVerifyEvery != 6*time.Hour {
		t.Fatalf("parsed: %+v", c)
	}
}

func TestSingleSignOnSettings(t *testing.T) {
	c, err := Load(envOf(map[string]string{
		"ELEVATE_OIDC_ISSUER":       "https://idp.example.com",
		"ELEVATE_OIDC_CLIENT_ID":    "elevate",
		"ELEVATE_OIDC_AUTO_CREATE":  "true",
		"ELEVATE_PASSWORD_LOGIN":    "false",
		"ELEVATE_BREAK_GLASS_EMAIL": "Root@Example.com",
		"ELEVATE_STEP_UP_WINDOW":    "5m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.OIDCAutoCreate || c.PasswordLogin || c.BreakGlassEmail != "root@example.com" || c.StepUpWindow != 5*time.Minute {
		t.Fatalf("parsed: %+v", c)
	}
	d, _ := Load(envOf(nil))
	if !d.PasswordLogin || d.OIDCAutoCreate || d.StepUpWindow != 10*time.Minute || d.OIDCGroupsClaim != "groups" || d.OIDCGroupMaxAge != 7*24*time.Hour {
		t.Fatalf("defaults: %+v", d)
	}
	g, err := Load(envOf(map[string]string{"ELEVATE_OIDC_GROUPS_CLAIM": "roles", "ELEVATE_OIDC_GROUP_MAX_AGE": "36h"}))
	if err != nil || g.OIDCGroupsClaim != "roles" || g.OIDCGroupMaxAge != 36*time.Hour {
		t.Fatalf("groups claim %q, max age %v: %v", g.OIDCGroupsClaim, g.OIDCGroupMaxAge, err)
	}
}

func TestSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want SMTP
	}{
		{"smtp://mail.example.com", SMTP{Host: "mail.example.com", Port: 587, StartTLS: StartTLSRequired}},
		{"smtp://u%40x:p%3Ass@127.0.0.1:2525?starttls=none", SMTP{Host: "127.0.0.1", Port: 2525, Username: "u@x", Password: "p:ss", StartTLS: StartTLSNone}},
		{"smtp://mail:25?starttls=opportunistic", SMTP{Host: "mail", Port: 25, StartTLS: StartTLSOpportunistic}},
		{"smtps://u:hunter22@mail", SMTP{Host: "mail", Port: 465, Username: "u", Password: "hunter22", ImplicitTLS: true, StartTLS: StartTLSRequired}},
	} {
		c, err := Load(envOf(map[string]string{"ELEVATE_SMTP_URL": tc.raw}))
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if c.SMTP == nil || *c.SMTP != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.raw, c.SMTP, tc.want)
		}
		if c.SMTP != nil && c.SMTP.Password != "" && strings.Contains(c.SMTP.String(), c.SMTP.Password) {
			t.Errorf("%s: String() shows the password: %s", tc.raw, c.SMTP)
		}
	}
	c, err := Load(envOf(nil))
	if err != nil || c.SMTP != nil {
		t.Fatalf("no SMTP URL: %+v %v", c.SMTP, err)
	}
	_, err = Load(envOf(map[string]string{"ELEVATE_SMTP_URL": "smtp://u:secret@mail:0"}))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad port: %v", err)
	}
}

func TestDebugAddrIsLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "127.0.0.1:0"} {
		c, err := Load(envOf(map[string]string{"ELEVATE_DEBUG_ADDR": addr}))
		if err != nil || c.DebugAddr != addr {
			t.Errorf("%s: %q %v", addr, c.DebugAddr, err)
		}
	}
	if c, err := Load(envOf(nil)); err != nil || c.DebugAddr != "" {
		t.Fatalf("the profiler is on by default: %q %v", c.DebugAddr, err)
	}
}

func TestLogFormat(t *testing.T) {
	for v, want := range map[string]string{"": "", "json": LogJSON, "TEXT": LogText, " text ": LogText} {
		c, err := Load(envOf(map[string]string{"ELEVATE_LOG_FORMAT": v}))
		if err != nil || c.LogFormat != want {
			t.Errorf("ELEVATE_LOG_FORMAT=%q: %q %v, want %q", v, c.LogFormat, err, want)
		}
	}
	_, err := Load(envOf(map[string]string{"ELEVATE_LOG_FORMAT": "pretty"}))
	if err == nil || !strings.Contains(err.Error(), "ELEVATE_LOG_FORMAT") || !strings.Contains(err.Error(), "json or text") {
		t.Fatalf("bad format: %v", err)
	}
}
