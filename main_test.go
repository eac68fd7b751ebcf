package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBadConfigurationExitsTwoWithOneLine(t *testing.T) {
	code, _, stderr := runCmd(t, map[string]string{"ELEVATE_ADDR": "nonsense"}, "", "serve")
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "ELEVATE_ADDR") {
		t.Fatalf("stderr %q", stderr)
	}
}

func TestBadGroupMaxAgeExitsTwoNamingIt(t *testing.T) {
	code, _, stderr := runCmd(t, map[string]string{"ELEVATE_OIDC_GROUP_MAX_AGE": "a week"}, "", "serve")
	if code != 2 || !strings.Contains(stderr, "ELEVATE_OIDC_GROUP_MAX_AGE") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, stderr := runCmd(t, nil, "", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestUserCommands(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := map[string]string{"ELEVATE_DATABASE_URL": testenv.DatabaseURL(t, dialect)}
		if code, out, stderr := runCmd(t, env, "", "migrate"); code != 0 || !strings.Contains(out, "applied") {
			t.Fatalf("migrate: %d %s %s", code, out, stderr)
		}
		code, out, stderr := runCmd(t, env, "a long enough password\n", "user", "create", "--email", "Root@Example.com", "--name", "Root Admin", "--admin")
		if code != 0 || !strings.Contains(out, "root@example.com") {
			t.Fatalf("create: %d %s %s", code, out, stderr)
		}
		if code, _, stderr := runCmd(t, env, "short\n", "user", "create", "--email", "x@example.com", "--name", "X"); code != 1 || !strings.Contains(stderr, "12 characters") {
			t.Fatalf("short password: %d %s", code, stderr)
		}
		// Every problem is told in one run, each on its own line.
		code, _, stderr = runCmd(t, env, "short\n", "user", "create", "--email", "not an address", "--name", "X")
		if code != 1 || !strings.Contains(stderr, "elevate: --email: Enter a valid email address") ||
			!strings.Contains(stderr, "elevate: password (standard input): Use at least 12 characters") || strings.Count(stderr, "elevate: ") != 2 {
			t.Fatalf("bad address and short password: %d %s", code, stderr)
		}
		if code, _, stderr := runCmd(t, env, "a long enough password\n", "user", "create", "--email", "root@example.com", "--name", "Again"); code != 1 || !strings.Contains(stderr, "already exists") {
			t.Fatalf("duplicate: %d %s", code, stderr)
		}
		if code, _, _ := runCmd(t, env, "", "user", "create", "--name", "No Email"); code != 2 {
			t.Fatalf("missing --email: exit %d", code)
		}
		runCmd(t, env, "another long password\n", "user", "create", "--email", "bo@example.com", "--name", "Bo")
		if code, out, _ := runCmd(t, env, "", "user", "disable", "--email", "bo@example.com"); code != 0 || !strings.Contains(out, "disabled") {
			t.Fatalf("disable: %d %s", code, out)
		}
		if code, _, stderr := runCmd(t, env, "", "user", "disable", "--email", "nobody@example.com"); code != 1 || !strings.Contains(stderr, "not found") {
			t.Fatalf("disable unknown: %d %s", code, stderr)
		}
		code, out, _ = runCmd(t, env, "", "user", "list")
		if code != 0 || !strings.Contains(out, "root@example.com") || !strings.Contains(out, "admin") ||
			!strings.Contains(out, "bo@example.com") || !strings.Contains(out, "disabled") {
			t.Fatalf("list: %d\n%s", code, out)
		}
		code, out, stderr = runCmd(t, env, "", "audit", "verify")
		if code != 0 || !strings.Contains(out, "3 events") {
			t.Fatalf("audit verify: %d %s %s", code, out, stderr)
		}
	})
}

// TestDemoSignInsGoToStderrOnly: the demo's shared password is a secret like the setup link, so
// the sign-ins are printed once on standard error, outside the logger, and nothing on standard
// output; among text logs they stand apart with a blank line around them.
func TestDemoSignInsGoToStderrOnly(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := map[string]string{"ELEVATE_DATABASE_URL": testenv.DatabaseURL(t, dialect), "ELEVATE_LOG_FORMAT": "text"}
		code, out, stderr := runCmd(t, env, "", "demo")
		if code != 0 {
			t.Fatalf("demo: exit %d: %s", code, stderr)
		}
		if out != "" {
			t.Fatalf("demo printed on standard output: %q", out)
		}
		pw := regexp.MustCompile(`\n\nDemo organisation loaded\. Sign in at \S+/login with any of these \(password (demo-\S+)\):\n`).FindStringSubmatch("\n" + stderr)
		if pw == nil {
			t.Fatalf("no sign-in line after a blank line on standard error:\n%s", stderr)
		}
		if strings.Count(stderr, pw[1]) != 1 {
			t.Fatalf("the password appears %d times on standard error, want once:\n%s", strings.Count(stderr, pw[1]), stderr)
		}
		if !strings.Contains(stderr, "  rhea@demo.example ") || !strings.HasSuffix(stderr, "requester\n\n") {
			t.Fatalf("sign-ins not listed, or no blank line after them:\n%s", stderr)
		}
		// The organisation was set up before its oldest request was made: its trail reads in
		// order of time, from its first event to its last.
		db, err := store.Open(env["ELEVATE_DATABASE_URL"])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var last audit.Event
		n := 0
		for ev, err := range db.ExportAuditEvents(t.Context(), audit.Filter{}) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.At.Before(last.At) {
				t.Fatalf("event %d (%s) at %v comes after event %d (%s) at %v", ev.Seq, ev.Action, ev.At, last.Seq, last.Action, last.At)
			}
			last, n = ev, n+1
		}
		if n < 50 || time.Since(last.At) > time.Minute {
			t.Fatalf("%d demo events sealed, the last at %v", n, last.At)
		}
		// A second load is refused and prints no sign-ins.
		if code, out, stderr := runCmd(t, env, "", "demo"); code != 1 || out != "" || strings.Contains(stderr, "password") {
			t.Fatalf("second demo: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
}
