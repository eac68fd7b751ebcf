package web_test

import (
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/testenv"
)

var actorCLI = audit.Actor{Type: audit.ActorSystem, Name: "test"}

func mustPrefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func checkSecurityHeaders(t *testing.T, name string, p page, https bool) {
	t.Helper()
	h := p.Header
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: Content-Security-Policy %q", name, csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", name, h.Get("X-Content-Type-Options"))
	}
	if h.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("%s: Referrer-Policy %q", name, h.Get("Referrer-Policy"))
	}
	if hsts := h.Get("Strict-Transport-Security"); (hsts != "") != https {
		t.Errorf("%s: Strict-Transport-Security %q with https=%v", name, hsts, https)
	}
}

func TestSecurityHeadersOnEveryKindOfAnswer(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		c := a.client()

		ok := c.get("/login")
		redirect := c.get("/")
		notFound := c.get("/no/such/page")
		css := c.get("/static/css/app.css")
		health := c.get("/healthz")
		if ok.StatusCode != 200 || redirect.StatusCode != http.StatusSeeOther || notFound.StatusCode != 404 || css.StatusCode != 200 || health.StatusCode != 200 {
			t.Fatalf("statuses: %d %d %d %d %d", ok.StatusCode, redirect.StatusCode, notFound.StatusCode, css.StatusCode, health.StatusCode)
		}
		if !strings.Contains(redirect.Header.Get("Location"), "/login") {
			t.Fatalf("redirect to %q", redirect.Header.Get("Location"))
		}
		if notFound.find("error-page").Length() != 1 || notFound.find("request-id").Text() == "" {
			t.Fatal("404 is not the error page with a request id")
		}
		if !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
			t.Fatalf("css content type %q", css.Header.Get("Content-Type"))
		}
		for name, p := range map[string]page{"200": ok, "303": redirect, "404": notFound, "static": css, "json": health} {
			checkSecurityHeaders(t, name, p, false)
		}

		// A 500: the database goes away under a signed-in user.
		c.signIn("ana@example.com", goodPassword)
		if err := a.db.Close(); err != nil {
			t.Fatal(err)
		}
		failed := c.get("/")
		if failed.StatusCode != http.StatusInternalServerError {
			t.Fatalf("with the database closed: status %d", failed.StatusCode)
		}
		checkSecurityHeaders(t, "500", failed, false)
		id := failed.find("request-id").Text()
		if id == "" || strings.Contains(failed.body, "sql:") || strings.Contains(failed.body, "database is closed") || strings.Contains(failed.body, "goroutine") {
			t.Fatalf("500 page leaks internals or lacks a request id: %s", failed.body)
		}
		if logs := a.logs.String(); !strings.Contains(logs, `"request_id":"`+id+`"`) {
			t.Fatalf("the 500 was not logged with its request id %s", id)
		}
		if r := c.get("/readyz"); r.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("readyz with the database closed: %d", r.StatusCode)
		}
	})
}

func TestFingerprintedAssetsAreCached(t *testing.T) {
	a := newApp(t, "sqlite")
	c := a.client()
	href, _ := c.get("/login").doc.Find(`link[rel="stylesheet"]`).Attr("href")
	if !strings.Contains(href, "?v=") {
		t.Fatalf("stylesheet not fingerprinted: %q", href)
	}
	if cc := c.get(href).Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Fatalf("fingerprinted asset Cache-Control %q", cc)
	}
	if p := c.get("/static/css/"); p.StatusCode != http.StatusNotFound {
		t.Fatalf("directory listing: %d", p.StatusCode)
	}
	if p := c.get("/static/static.go"); p.StatusCode != http.StatusNotFound {
		t.Fatalf("source file served: %d", p.StatusCode)
	}
}

func TestHTTPSAddsHSTSAndSecureCookies(t *testing.T) {
	a := newApp(t, "sqlite", func(c *config.Config) { c.BaseURL, _ = url.Parse("https://elevate.example") })
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	c := a.client()
	p := c.get("/login")
	checkSecurityHeaders(t, "https login", p, true)
	for _, sc := range p.Header.Values("Set-Cookie") {
		if !strings.Contains(sc, "Secure") {
			t.Fatalf("cookie without Secure over https: %s", sc)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	a := newApp(t, "postgres")
	c := a.client()
	if p := c.get("/readyz"); p.StatusCode != 200 {
		t.Fatalf("readyz: %d", p.StatusCode)
	}
	c.get("/login")
	m := c.get("/metrics")
	if m.StatusCode != 200 || !strings.Contains(m.body, `elevate_http_requests_total{method="GET",route="/login",status="200"}`) ||
		!strings.Contains(m.body, "elevate_http_request_duration_seconds_bucket") ||
		!regexp.MustCompile(`(?m)^elevate_db_statements_total [1-9]`).MatchString(m.body) ||
		!regexp.MustCompile(`(?m)^elevate_db_round_trips_total [1-9]`).MatchString(m.body) {
		t.Fatalf("metrics: %d\n%s", m.StatusCode, m.body[:min(len(m.body), 2000)])
	}
}

func TestHeadAnswersLikeGetWithoutABody(t *testing.T) {
	a := newApp(t, "sqlite")
	for path, want := range map[string]int{"/login": 200, "/requests/abc": 303, "/nope": 404} {
		req, _ := http.NewRequest(http.MethodHead, a.srv.URL+path, nil)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || len(b) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes, want %d and no body", path, resp.StatusCode, len(b), want)
		}
	}
}
