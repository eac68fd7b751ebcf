package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

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
