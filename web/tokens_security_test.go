package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// apiCallOTP is apiCall with a step-up code in X-Elevate-OTP.
func (a *app) apiCallOTP(method, path, token, otp string, body any) (int, map[string]any) {
	a.t.Helper()
	return a.apiCallHeaders(method, path, token, body, "X-Elevate-OTP", otp)
}

// Check tokens belong to target systems: only administrators make them (on the admin page, with
// copy-paste lines), a person's API token cannot call the check API, a check token can call
// nothing else, its last use is shown, demoting its maker does not end it, and revoking it does.
func TestCheckTokensAreForSystems(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		ana := a.client()
		ana.signIn("ana@example.com", goodPassword)
		if p := ana.get("/admin/check-tokens"); p.StatusCode != http.StatusForbidden {
			t.Fatalf("a non-admin opened the check tokens page: %d", p.StatusCode)
		}
		ana.get("/profile/tokens")
		if p := ana.post("/admin/check-tokens", url.Values{"name": {"probe"}}); p.StatusCode != http.StatusForbidden {
			t.Fatalf("a non-admin made a check token: %d", p.StatusCode)
		}
		// Asking the profile page for a check token yields an API token, which the check refuses.
		ana.get("/profile/tokens")
		p := ana.post("/profile/tokens", url.Values{"name": {"probe"}, "scope": {"check"}})
		anaTok := strings.TrimSpace(p.find("secret").Text())
		if !strings.HasPrefix(anaTok, "elv_") {
			t.Fatalf("profile token: %d %q", p.StatusCode, anaTok)
		}
		code, out := a.apiCall("POST", "/api/v1/check", anaTok, map[string]string{"user": "root@example.com", "task": "x/y"})
		if code != http.StatusForbidden || out["code"] != "forbidden" || !strings.Contains(out["error"].(string), "check token") {
			t.Fatalf("API token on the check API: %d %v", code, out)
		}

		root := a.client()
		root.signIn("root@example.com", goodPassword)
		root.get("/admin/check-tokens")
		p = root.post("/admin/check-tokens", url.Values{"name": {"exchange-runspace"}})
		secret := strings.TrimSpace(p.find("secret").Text())
		if !strings.HasPrefix(secret, "elvc_") || !strings.Contains(p.find("curl-line").Text(), secret) ||
			!strings.Contains(p.find("command-line").Text(), "elevate check --user") {
			t.Fatalf("new check token page: %d %q", p.StatusCode, secret)
		}
		if got := p.find("check-token").Find(`[data-testid="last-used"]`).Text(); got != "never" {
			t.Fatalf("last use before any check: %q", got)
		}
		check := func() int {
			code, _ := a.apiCall("POST", "/api/v1/check", secret, map[string]string{"user": "ana@example.com", "task": "x/y"})
			return code
		}
		if code := check(); code != http.StatusOK {
			t.Fatalf("check: %d", code)
		}
		if got := root.get("/admin/check-tokens").find("check-token").Find(`[data-testid="last-used"]`).Text(); got != "just now" {
			t.Fatalf("last use after a check: %q", got)
		}
		if code, out := a.apiCall("GET", "/api/v1/requests", secret, nil); code != http.StatusForbidden || out["code"] != "forbidden" {
			t.Fatalf("check token on the requests API: %d %v", code, out)
		}
		// The system's token outlives its maker's admin rights.
		if err := a.db.ExecRaw(context.Background(), "UPDATE users SET admin = false WHERE email = 'root@example.com'"); err != nil {
			t.Fatal(err)
		}
		if code := check(); code != http.StatusOK {
			t.Fatalf("check after the maker was demoted: %d", code)
		}
		if err := a.db.ExecRaw(context.Background(), "UPDATE users SET admin = true WHERE email = 'root@example.com'"); err != nil {
			t.Fatal(err)
		}
		page := root.get("/admin/check-tokens")
		action, _ := page.find("revoke-form").Attr("action")
		// Revoking asks why: without a reason its form opens again with the problem, and the
		// token keeps working.
		p = root.post(action, nil)
		if _, open := p.find("revoke-details").Attr("open"); p.StatusCode != http.StatusUnprocessableEntity || !open ||
			!strings.Contains(p.find("error-reason").Text(), "Say why you revoke this token") {
			t.Fatalf("revoke without a reason: %d, open %v", p.StatusCode, open)
		}
		if code := check(); code != http.StatusOK {
			t.Fatalf("check after a refused revoke: %d", code)
		}
		if p := root.post(action, url.Values{"reason": {"The runspace host was rebuilt."}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", p.StatusCode)
		}
		if code := check(); code != http.StatusUnauthorized {
			t.Fatalf("check with a revoked token: %d", code)
		}
		revoked := a.events("check_token.revoked")
		if len(a.events("check_token.created")) != 1 || len(revoked) != 1 || !strings.Contains(revoked[0].Details, `"reason":"The runspace host was rebuilt."`) {
			t.Fatal("check token changes were not audited with the reason")
		}
	})
}

// A stolen password must not defeat the second factor through tokens: minting a token needs a
// step-up, and so does every API call that needs one on the pages, with a current code in
// X-Elevate-OTP (single-use, never a recovery code). Owners the organisation requires to enrol
// who have not are refused everywhere on the API.
func TestAPIStepUp(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia", goodPassword, false)
		dana := a.mustUser("dana@example.com", "Dana", goodPassword, false)
		es := a.mustEstate(1, olivia, dana)

		oc := a.client()
		oc.signIn("olivia@example.com", goodPassword)
		secret, recovery := oc.enrol()
		// Past the step-up window, minting a token asks for a code and mints nothing without it.
		a.clock.Advance(11 * time.Minute)
		oc.get("/profile/tokens")
		p := oc.post("/profile/tokens", url.Values{"name": {"approvals bot"}})
		if p.StatusCode != http.StatusOK || p.find("step-up-form").Length() != 1 || p.find("secret").Length() != 0 {
			t.Fatalf("minting without a step-up: %d", p.StatusCode)
		}
		p = oc.post("/profile/tokens", url.Values{"name": {"approvals bot"}, "stepup_code": {code(t, secret, a.clock.Now())}})
		otok := strings.TrimSpace(p.find("secret").Text())
		if !strings.HasPrefix(otok, "elv_") {
			t.Fatalf("minting with a code: %d", p.StatusCode)
		}

		anaTok := a.apiToken("ana@example.com")
		_, req := a.apiCall("POST", "/api/v1/requests", anaTok, map[string]any{"policy_id": es.policy.ID, "duration_min": 60, "justification": "mailbox move"})
		id, _ := req["id"].(string)
		approve := "/api/v1/requests/" + id + "/approve"

		a.clock.Advance(time.Minute)
		if code, out := a.apiCall("POST", approve, otok, map[string]any{}); code != http.StatusUnauthorized || out["code"] != "step_up_required" {
			t.Fatalf("approve without a code: %d %v", code, out)
		}
		if code, out := a.apiCallOTP("POST", approve, otok, "000000", map[string]any{}); code != http.StatusUnauthorized || out["code"] != "step_up_required" {
			t.Fatalf("approve with a wrong code: %d %v", code, out)
		}
		if code, out := a.apiCallOTP("POST", approve, otok, recovery[0], map[string]any{}); code != http.StatusUnauthorized || out["code"] != "step_up_required" {
			t.Fatalf("approve with a recovery code: %d %v", code, out)
		}
		good := code(t, secret, a.clock.Now())
		if code, out := a.apiCallOTP("POST", approve, otok, good, map[string]any{}); code != http.StatusOK || out["status"] != "approved" {
			t.Fatalf("approve with a current code: %d %v", code, out)
		}
		revoke := "/api/v1/requests/" + id + "/revoke"
		if code, out := a.apiCallOTP("POST", revoke, otok, good, map[string]any{"reason": "done"}); code != http.StatusUnauthorized || out["code"] != "step_up_required" {
			t.Fatalf("the same code twice: %d %v", code, out)
		}

		// An enrolled admin's policy writes need a code too; reads do not.
		rc := a.client()
		rc.signIn("root@example.com", goodPassword)
		rsecret, _ := rc.enrol()
		rtok := a.apiTokenWithCode(rc, rsecret)
		if code, out := a.apiCall("DELETE", "/api/v1/policies/"+es.policy.ID, rtok, nil); code != http.StatusUnauthorized || out["code"] != "step_up_required" {
			t.Fatalf("policy delete without a code: %d %v", code, out)
		}
		if code, _ := a.apiCall("GET", "/api/v1/policies", rtok, nil); code != http.StatusOK {
			t.Fatalf("policy list: %d", code)
		}

		// Once the organisation requires enrolment, an approver who has not enrolled can mint
		// nothing and their older token can do nothing.
		danaTok := a.apiToken("dana@example.com")
		if err := a.db.SetValue(context.Background(), auth.RequireMFAEnrolmentKey, "true", a.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if code, out := a.apiCall("GET", "/api/v1/requests", danaTok, nil); code != http.StatusForbidden || out["code"] != "enrolment_required" {
			t.Fatalf("not enrolled, required: %d %v", code, out)
		}
		dc := a.client()
		dc.signIn("dana@example.com", goodPassword)
		dc.get("/profile/tokens")
		if p := dc.post("/profile/tokens", url.Values{"name": {"x"}}); p.StatusCode != http.StatusForbidden || p.find("secret").Length() != 0 {
			t.Fatalf("minting while enrolment is required: %d", p.StatusCode)
		}
		if n := len(a.events("mfa.step_up_failed")); n < 2 {
			t.Fatalf("%d failed step-ups audited", n)
		}
	})
}

// apiToken signs a person in and mints an API token through the profile page.
func (a *app) apiToken(email string) string {
	a.t.Helper()
	c := a.client()
	c.signIn(email, goodPassword)
	return c.makeToken("cli", "api")
}

// apiTokenWithCode mints an API token for an enrolled, signed-in client, passing the step-up.
func (a *app) apiTokenWithCode(c *client, secret string) string {
	a.t.Helper()
	a.clock.Advance(30 * time.Second)
	c.get("/profile/tokens")
	p := c.post("/profile/tokens", url.Values{"name": {"automation"}, "stepup_code": {code(a.t, secret, a.clock.Now())}})
	tok := strings.TrimSpace(p.find("secret").Text())
	if !strings.HasPrefix(tok, "elv_") {
		a.t.Fatalf("mint with a code: %d", p.StatusCode)
	}
	return tok
}

// An extension is made under its grant's policy, so it needs that policy's step-up whatever
// policy_id the caller names (on the API as on the pages).
func TestExtensionNeedsItsGrantsStepUp(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		olivia := a.mustUser("olivia@example.com", "Olivia", goodPassword, false)
		a.mustUser("eve@example.com", "Eve", goodPassword, false)
		es := a.mustEstate(1, olivia)
		strict := pam.NewPolicy(pam.ScopeTask, es.other.ID)
		strict.ApprovalType, strict.MFARequired = pam.ApprovalAuto, true
		strict, err := a.admin.CreatePolicy(context.Background(), audit.System, strict)
		if err != nil {
			t.Fatal(err)
		}
		ec := a.client()
		ec.signIn("eve@example.com", goodPassword)
		secret, _ := ec.enrol()
		tok := a.apiTokenWithCode(ec, secret)
		a.clock.Advance(30 * time.Second)
		status, out := a.apiCallOTP("POST", "/api/v1/requests", tok, code(t, secret, a.clock.Now()), map[string]any{"policy_id": strict.ID, "duration_min": 60, "justification": "x"})
		if status != http.StatusCreated || out["status"] != "approved" {
			t.Fatalf("ask under the strict policy: %d %v", status, out)
		}
		grant := out["id"].(string)
		body := map[string]any{"policy_id": es.policy.ID, "duration_min": 60, "justification": "more", "extends": grant}
		if status, out := a.apiCall("POST", "/api/v1/requests", tok, body); status != http.StatusUnauthorized || out["code"] != "step_up_required" {
			t.Fatalf("extension naming a lenient policy, without a code: %d %v", status, out)
		}
		a.clock.Advance(30 * time.Second)
		if status, out := a.apiCallOTP("POST", "/api/v1/requests", tok, code(t, secret, a.clock.Now()), body); status != http.StatusCreated || out["extends"] != grant {
			t.Fatalf("extension with a code: %d %v", status, out)
		}
	})
}
