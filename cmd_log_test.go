package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Secrets a run is given or typed into it; none may reach the log in either format.
const (
	canaryPassword  = "canary-password-7f3e9a"
	canaryWrong     = "canary-wrong-password-51c2"
	canarySMTP      = "canary-smtp-secret-d81b"
	canarySecretKey = "canary-secret-key-0123456789abcdef0123"
)

var (
	listenAddr = regexp.MustCompile(`addr[="]+:?"?(127\.0\.0\.1:\d+)`)
	csrfField  = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
)

// serveAndSignIn runs `elevate serve` with ELEVATE_LOG_FORMAT=format (empty: unset) and secrets
// in its settings, creates the first administrator through the printed setup link, signs in
// wrongly and rightly, stops the server and returns its stderr and the session cookie it set.
func serveAndSignIn(t *testing.T, format string) (stderr, session string) {
	t.Helper()
	env := map[string]string{"ELEVATE_DATABASE_URL": testenv.DatabaseURL(t, store.SQLite), "ELEVATE_ADDR": "127.0.0.1:0",
		"ELEVATE_BASE_URL": "http://elevate.test", "ELEVATE_LOG_LEVEL": "debug", "ELEVATE_LOG_FORMAT": format,
		"ELEVATE_SMTP_URL": "smtp://mailer:" + canarySMTP + "@127.0.0.1:1?starttls=none", "ELEVATE_SECRET_KEY": canarySecretKey}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &notifyWriter{want: "elevate listening", seen: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, out)
	}()
	select {
	case <-out.seen:
	case code := <-done:
		t.Fatalf("serve ended with %d before listening:\n%s", code, out.String())
	}
	m := listenAddr.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no listening address in:\n%s", out.String())
	}
	base := "http://" + m[1]
	links := setupLinks(t, out.String())
	if len(links) != 1 {
		t.Fatalf("setup links %v in:\n%s", links, out.String())
	}
	link := strings.Replace(links[0], "http://elevate.test", base, 1)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) int {
		t.Helper()
		page := base + path
		if path == "/setup" {
			page = link
		}
		res, err := client.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tok := csrfField.FindSubmatch(body)
		if tok == nil {
			t.Fatalf("GET %s: %d, no CSRF field", path, res.StatusCode)
		}
		form.Set("_csrf", string(tok[1]))
		res, err = client.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	u, _ := url.Parse(link)
	if st := post("/setup", url.Values{"token": {u.Query().Get("token")}, "email": {"root@example.com"}, "name": {"Root Admin"},
		"password": {canaryPassword}, "password_confirm": {canaryPassword}}); st != http.StatusSeeOther {
		t.Fatalf("setup: %d\n%s", st, out.String())
	}
	jar, _ = cookiejar.New(nil)
	client.Jar = jar
	if st := post("/login", url.Values{"email": {"root@example.com"}, "password": {canaryWrong}}); st == http.StatusSeeOther {
		t.Fatalf("a wrong password signed in")
	}
	if st := post("/login", url.Values{"email": {"root@example.com"}, "password": {canaryPassword}}); st != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", st, out.String())
	}
	bu, _ := url.Parse(base)
	for _, c := range jar.Cookies(bu) {
		if strings.Contains(strings.ToLower(c.Name), "session") {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatalf("no session cookie among %v", jar.Cookies(bu))
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, out.String())
	}
	return out.String(), session
}

// The log format follows ELEVATE_LOG_FORMAT (JSON when unset and stderr is no terminal); in
// either format no password, SMTP password, secret key or session id is logged, and the setup
// link is printed once outside the logger: among text logs on its own line between blank lines.
func TestLogFormatsLogNoSecret(t *testing.T) {
	for _, format := range []string{"", "json", "text"} {
		t.Run("format="+format, func(t *testing.T) {
			stderr, session := serveAndSignIn(t, format)
			for _, secret := range []string{canaryPassword, canaryWrong, canarySMTP, canarySecretKey, session} {
				if strings.Contains(stderr, secret) {
					t.Errorf("the log holds the secret %q:\n%s", secret, stderr)
				}
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			records := 0
			for i, line := range lines {
				switch {
				case strings.Contains(line, "/setup?token="):
					if format == "text" && (strings.TrimSpace(line) != strings.Fields(line)[0] || lines[i-1] != "" || lines[i+1] != "") {
						t.Errorf("the setup link does not stand alone between blank lines:\n%s", stderr)
					}
				case line == "" || strings.HasPrefix(line, "First run:"):
				case format == "text":
					if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") || !strings.Contains(line, " msg=") {
						t.Errorf("not a text record: %s", line)
					}
					records++
				default:
					if !json.Valid([]byte(line)) {
						t.Errorf("not a JSON record: %s", line)
					}
					records++
				}
			}
			if records < 3 {
				t.Errorf("only %d log records:\n%s", records, stderr)
			}
			if format != "text" && strings.Count(stderr, "/setup?token=") != 1 {
				t.Errorf("setup link lines:\n%s", stderr)
			}
		})
	}
}

// A bad ELEVATE_LOG_FORMAT stops the start with one line naming the variable.
func TestBadLogFormatExitsTwo(t *testing.T) {
	code, _, stderr := runCmd(t, map[string]string{"ELEVATE_LOG_FORMAT": "pretty"}, "", "serve")
	if code != 2 || !strings.Contains(stderr, "ELEVATE_LOG_FORMAT") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("exit %d: %q", code, stderr)
	}
}
