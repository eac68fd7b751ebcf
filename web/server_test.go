package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/web"
)

// web.New builds nothing itself: a dependency main forgot is a loud failure at start, not a
// default built behind its back.
func TestNewRefusesMissingDependencies(t *testing.T) {
	a := newApp(t, "sqlite")
	mustPanic := func(name string, d web.Deps, want ...string) {
		t.Helper()
		defer func() {
			t.Helper()
			msg := fmt.Sprint(recover())
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Fatalf("%s: panic %q does not name %s", name, msg, w)
				}
			}
		}()
		web.New(d)
	}
	mustPanic("nothing", web.Deps{}, "Auth", "Admin", "Access", "Secret", "MFA", "Limiter", "MFARequired", "IsApprover", "Outbox")

	mfa := a.auth.NewMFA([]byte(testSecret), "Elevate")
	full := web.Deps{Auth: a.auth, Admin: a.admin, Access: nil, Ping: a.db.Ping, Secret: []byte(testSecret), Audit: a.db, Stats: a.db,
		MFA: mfa, MFARequired: mfa.EnrolmentRequired, Limiter: a.auth.NewLimiter(), IsApprover: a.db.IsApprover, Outbox: nil}
	mustPanic("no access, no outbox", full, "Access", "Outbox")

	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.OIDCIssuer = "https://idp.example.org"
	mustPanic("sso configured but not built", web.Deps{Config: cfg}, "SSO")
}
