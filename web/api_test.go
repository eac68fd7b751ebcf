package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/testenv"
)

// apiCall sends a JSON request with a bearer token and decodes the JSON answer.
func (a *app) apiCall(method, path, token string, body any) (int, map[string]any) {
	a.t.Helper()
	return a.apiCallHeaders(method, path, token, body)
}

// apiCallHeaders is apiCall with extra headers, given as name, value pairs.
func (a *app) apiCallHeaders(method, path, token string, body any, headers ...string) (int, map[string]any) {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, a.srv.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// makeToken creates a token and returns its secret: an API token through the profile page, or
// (scope "check", the client being an admin) a check token through /admin/check-tokens.
func (c *client) makeToken(name, scope string) string {
	c.t.Helper()
	path, prefix := "/profile/tokens", "elv_"
	if scope == "check" {
		path, prefix = "/admin/check-tokens", "elvc_"
	}
	c.get(path)
	p := c.post(path, url.Values{"name": {name}})
	secret := strings.TrimSpace(p.find("secret").Text())
	if p.StatusCode != http.StatusOK || !strings.HasPrefix(secret, prefix) {
		c.t.Fatalf("make %s token: %d %q %s", scope, p.StatusCode, secret, p.find("form-error").Text())
	}
	return secret
}

func TestAPIRoutesNeedTokensAndRoles(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root", goodPassword, true)
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	rc := a.client()
	rc.signIn("root@example.com", goodPassword)
	adminAPI := rc.makeToken("admin automation", "api")
	adminCheck := rc.makeToken("runspace", "check")
	uc := a.client()
	uc.signIn("ana@example.com", goodPassword)
	userAPI := uc.makeToken("ana scripts", "api")

	n := 0
	for _, r := range a.web.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/policies") {
			continue
		}
		n++
		path := routeParam.ReplaceAllString(r.Path, "00000000-0000-0000-0000-000000000000")
		if code, _ := a.apiCall(r.Method, path, "", map[string]any{}); code != http.StatusUnauthorized {
			t.Errorf("no token %s %s: %d", r.Method, r.Path, code)
		}
		if code, _ := a.apiCall(r.Method, path, "elv_forged", map[string]any{}); code != http.StatusUnauthorized {
			t.Errorf("forged token %s %s: %d", r.Method, r.Path, code)
		}
		if code, _ := a.apiCall(r.Method, path, userAPI, map[string]any{}); code != http.StatusForbidden {
			t.Errorf("non-admin %s %s: %d", r.Method, r.Path, code)
		}
		if code, _ := a.apiCall(r.Method, path, adminCheck, map[string]any{}); code != http.StatusForbidden {
			t.Errorf("check-scoped token %s %s: %d", r.Method, r.Path, code)
		}
		if code, _ := a.apiCall(r.Method, path, adminAPI, map[string]any{}); code == http.StatusUnauthorized || code == http.StatusForbidden {
			t.Errorf("admin %s %s: %d", r.Method, r.Path, code)
		}
	}
	if n != 6 {
		t.Fatalf("%d policy API routes, want 6", n)
	}
}

func TestPolicyAPI(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root", goodPassword, true)
		c := a.client()
		c.signIn("root@example.com", goodPassword)
		tok := c.makeToken("automation", "api")
		c.get("/admin/tasks/new")
		c.post("/admin/tasks", url.Values{"key": {"exchange/Set-Mailbox"}})
		task, err := a.db.TaskByKey(t.Context(), "exchange/set-mailbox")
		if err != nil {
			t.Fatal(err)
		}
		body := map[string]any{"scope_type": "task", "scope_id": task.ID, "approval_type": "manual", "approvals_required": 9,
			"default_duration_min": 60, "max_duration_min": 240, "pending_timeout_min": 1440, "enabled": true, "status": "approved"}
		code, out := a.apiCall("POST", "/api/v1/policies", tok, body)
		if code != http.StatusBadRequest || out["field"] != "approvals_required" || out["error"] == "" {
			t.Fatalf("9 approvals: %d %v", code, out)
		}
		if code, out := a.apiCall("POST", "/api/v1/policies", tok, "not an object"); code != http.StatusBadRequest || out["error"] == "" {
			t.Fatalf("bad JSON: %d %v", code, out)
		}
		body["approvals_required"] = 1
		// Nobody could approve it (no approver group anywhere): refused, as on the pages, until
		// the caller confirms.
		code, out = a.apiCall("POST", "/api/v1/policies", tok, body)
		if code != http.StatusBadRequest || out["field"] != "confirm_dead_end" || !strings.Contains(out["error"].(string), "No one can approve this") {
			t.Fatalf("a policy nobody can approve, unconfirmed: %d %v", code, out)
		}
		body["confirm_dead_end"] = true
		code, out = a.apiCall("POST", "/api/v1/policies", tok, body)
		if code != http.StatusCreated || out["scope_name"] != "exchange/Set-Mailbox" {
			t.Fatalf("create: %d %v", code, out)
		}
		id := out["id"].(string)
		if code, _ := a.apiCall("POST", "/api/v1/policies", tok, body); code != http.StatusBadRequest {
			t.Fatalf("second policy for the scope: %d", code)
		}
		body["approvals_required"] = 2
		code, out = a.apiCall("PUT", "/api/v1/policies/"+id, tok, body)
		if code != http.StatusOK || out["approvals_required"] != float64(2) || out["version"] != float64(2) {
			t.Fatalf("update: %d %v", code, out)
		}
		body["version"] = 1
		if code, _ := a.apiCall("PUT", "/api/v1/policies/"+id, tok, body); code != http.StatusConflict {
			t.Fatalf("stale update: %d", code)
		}
		code, out = a.apiCall("GET", "/api/v1/policies", tok, nil)
		if list, _ := out["policies"].([]any); code != http.StatusOK || len(list) != 1 {
			t.Fatalf("list: %d %v", code, out)
		}
		if code, _ := a.apiCall("DELETE", "/api/v1/policies/"+id, tok, nil); code != http.StatusNoContent {
			t.Fatalf("delete: %d", code)
		}
		if code, _ := a.apiCall("GET", "/api/v1/policies/"+id, tok, nil); code != http.StatusNotFound {
			t.Fatalf("get deleted: %d", code)
		}
		// A revoked token stops working at once.
		c.get("/profile/tokens")
		revoke, _ := c.get("/profile/tokens").doc.Find(`[data-testid="token"] form`).Attr("action")
		if p := c.post(revoke, nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", p.StatusCode)
		}
		if code, _ := a.apiCall("GET", "/api/v1/policies", tok, nil); code != http.StatusUnauthorized {
			t.Fatalf("revoked token: %d", code)
		}
	})
}

func TestAuditAPI(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root", goodPassword, true)
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	c := a.client()
	c.signIn("root@example.com", goodPassword)
	tok := c.makeToken("siem", "api")
	code, out := a.apiCall("GET", "/api/v1/audit?action=auth.signed_in&limit=1", tok, nil)
	evs, _ := out["events"].([]any)
	if code != http.StatusOK || len(evs) != 1 || evs[0].(map[string]any)["actor"] != "root@example.com" {
		t.Fatalf("audit API: %d %v", code, out)
	}
	code, out = a.apiCall("GET", "/api/v1/audit?limit=2", tok, nil)
	evs, _ = out["events"].([]any)
	next, _ := out["next_before"].(float64)
	if code != http.StatusOK || len(evs) != 2 || next == 0 {
		t.Fatalf("first page: %d %v", code, out)
	}
	_, older := a.apiCall("GET", "/api/v1/audit?limit=2&before="+strconv.Itoa(int(next)), tok, nil)
	if oe, _ := older["events"].([]any); len(oe) == 0 || oe[0].(map[string]any)["seq"].(float64) >= next {
		t.Fatalf("older page: %v", older)
	}
	if code, out := a.apiCall("GET", "/api/v1/audit?since=yesterday", tok, nil); code != http.StatusBadRequest || out["field"] != "since" {
		t.Fatalf("bad since: %d %v", code, out)
	}
	uc := a.client()
	uc.signIn("ana@example.com", goodPassword)
	if code, _ := a.apiCall("GET", "/api/v1/audit", uc.makeToken("x", "api"), nil); code != http.StatusForbidden {
		t.Fatalf("non-admin on the audit API: %d", code)
	}
}

// checkToken creates a check token for a target system as the signed-in admin c.
func (a *app) checkToken(c *client, system string) string {
	a.t.Helper()
	return c.makeToken(system, "check")
}
