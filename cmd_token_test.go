package main

import (
	"context"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// `elevate token create-check` prints one working check token on standard output and nothing
// secret on stderr; the creation is audited with the shell as its actor.
func TestTokenCreateCheckCommand(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := map[string]string{"ELEVATE_DATABASE_URL": testenv.DatabaseURL(t, dialect)}
		getenv := func(k string) string { return env[k] }
		var out, errOut strings.Builder
		if code := run(context.Background(), []string{"token", "create-check"}, getenv, strings.NewReader(""), &out, &errOut); code != 2 {
			t.Fatalf("without --name: exit %d", code)
		}
		out.Reset()
		errOut.Reset()
		if code := run(context.Background(), []string{"token", "create-check", "--name", "exchange-runspace"}, getenv, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		secret := strings.TrimSpace(out.String())
		if !strings.HasPrefix(secret, "elvc_") || strings.Contains(errOut.String(), secret) {
			t.Fatalf("stdout %q, stderr %q", secret, errOut.String())
		}
		svc, db := setupService(t, env["ELEVATE_DATABASE_URL"])
		tok, err := svc.AuthenticateCheckToken(context.Background(), secret)
		if err != nil || tok.Name != "exchange-runspace" || tok.CreatedBy != "cli" {
			t.Fatalf("token: %+v %v", tok, err)
		}
		evs, err := db.AuditEvents(context.Background(), store.AuditFilter{Action: "check_token.created", Limit: 5})
		if err != nil || len(evs) != 1 || evs[0].ActorName != "cli" || strings.Contains(evs[0].Details, secret) {
			t.Fatalf("events: %+v %v", evs, err)
		}
	})
}
