package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/web"
)

// inputNames reads, from the web package's own source, every query and form field a handler
// reads and every JSON field the API decodes, so a new field is walked without editing this test.
func inputNames(t *testing.T) (query, form, jsonNames []string) {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	seen := map[string]map[string]bool{"q": {}, "f": {}, "j": {}}
	re := regexp.MustCompile(`(QueryParam|FormValue)\("([a-z_]+)"\)|json:"([a-z_]+)[,"]`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			switch {
			case m[1] == "QueryParam":
				seen["q"][m[2]] = true
			case m[1] == "FormValue":
				seen["f"][m[2]] = true
			default:
				seen["j"][m[3]] = true
			}
		}
	}
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	query, form, jsonNames = keys(seen["q"]), keys(seen["f"]), keys(seen["j"])
	if len(query) < 5 || len(form) < 20 || len(jsonNames) < 10 {
		t.Fatalf("found too few inputs to walk: %d query, %d form, %d JSON", len(query), len(form), len(jsonNames))
	}
	return query, form, jsonNames
}

// hostileValues are what an attacker or a broken client sends.
var hostileValues = []string{
	"\x00", "a\x00b", "\xff\xfe\xfd", "\xe2\x82", "\x1b[31mred", "line\r\nbreak", "\u202eevil",
	strings.Repeat("x", 10<<10), strings.Repeat("é", 5000),
	"99999999999999999999999999999", "2147483648", "-2147483649", "-1", "1e400", "NaN", "0x7fffffff",
	"../../etc/passwd", "' OR '1'='1' --", "%00", "<script>alert(1)</script>",
	"2026-13-45T99:99:99Z|x", "|", ".", "00000000-0000-0000-0000-000000000000",
}

// TestHostileInputNeverFails walks the route table on PostgreSQL, where a NUL byte or invalid
// UTF-8 that reaches a query is an error: every path parameter, query field, form field and
// JSON field gets each hostile value, as an anonymous visitor, as a signed-in administrator and
// with an administrator's API token. Any 5xx fails, naming the route and the value.
func TestHostileInputNeverFails(t *testing.T) {
	a := newApp(t, "postgres")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	olivia := a.mustUser("olivia@example.com", "Olivia", goodPassword, false)
	a.mustEstate(1, olivia)
	admin := a.client()
	admin.signIn("root@example.com", goodPassword)
	apiTok := admin.makeToken("walker", "api")
	checkTok := admin.makeToken("walker", "check")
	anon := a.client()
	anon.get("/login")
	query, form, jsonNames := inputNames(t)

	// typedOnly sends the hostile value only in the fields people type, which the edge leaves
	// to their parsers; otherwise one refused id would hide what the handlers do with them.
	typedOnly := false
	send := func(c *client, method, path string, h string) (int, string) {
		var body *bytes.Reader
		ct := ""
		isAPI := strings.HasPrefix(path, "/api/")
		switch {
		case method == http.MethodGet || method == http.MethodDelete:
			q := url.Values{}
			for _, n := range query {
				q.Set(n, h)
			}
			path += "?" + q.Encode()
			body = bytes.NewReader(nil)
		case isAPI:
			m := map[string]string{}
			for _, n := range jsonNames {
				m[n] = h
			}
			b, _ := json.Marshal(m)
			body, ct = bytes.NewReader(b), "application/json"
		default:
			f := url.Values{}
			for _, n := range form {
				if !typedOnly || web.FreeTextFields[n] {
					f.Set(n, h)
				}
			}
			f.Set("_csrf", c.csrf)
			body, ct = bytes.NewReader([]byte(f.Encode())), "application/x-www-form-urlencoded"
		}
		req, err := http.NewRequest(method, a.srv.URL+path, body)
		if err != nil {
			return 0, err.Error()
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if isAPI {
			tok := apiTok
			if strings.HasSuffix(path, "/check") || strings.Contains(path, "/check?") {
				tok = checkTok
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		p := c.do(req)
		return p.StatusCode, p.body
	}

	n := 0
	for _, r := range a.web.Routes() {
		if r.Path == "/logout" || r.Method == "echo_route_not_found" || strings.HasPrefix(r.Method, "echo_") {
			continue
		}
		for i, h := range hostileValues {
			typedOnly = false
			path := routeParam.ReplaceAllStringFunc(r.Path, func(string) string { return url.PathEscape(h) })
			path = strings.Replace(path, "*", url.PathEscape(h), 1)
			if r.Method == http.MethodPost && !strings.HasPrefix(r.Path, "/api/") {
				typedOnly = i%2 == 1 // half the walk: hostile typed fields behind plain ids
				if typedOnly {
					path = routeParam.ReplaceAllString(r.Path, "00000000-0000-0000-0000-000000000000")
				}
			}
			for who, c := range map[string]*client{"anonymous": anon, "admin": admin} {
				if strings.HasPrefix(r.Path, "/api/") && who == "anonymous" {
					continue
				}
				code, body := send(c, r.Method, path, h)
				n++
				if code >= 500 || code == 0 {
					t.Errorf("%s %s as %s with hostile value %d: %d %.200s", r.Method, r.Path, who, i, code, body)
				}
			}
			// A walked action may end the session; carry on signed in. A GET changes nothing, so
			// it cannot (checking after each one cost a dashboard per request walked).
			if r.Method != http.MethodGet && !admin.signedIn() {
				admin.signIn("root@example.com", goodPassword)
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d requests walked", n)
	}
	if logs := a.logs.String(); strings.Contains(logs, `"status":500`) || strings.Contains(logs, "request failed") {
		t.Errorf("the server logged failures:\n%.2000s", logs)
	}
}

// What people type keeps its place: a control character pasted into a justification or a name
// comes back as an error under that field with the rest of the form as typed, while the same
// character in an id or a filter is refused at the edge with 400 naming the field.
func TestUnstorableTextIsAFieldError(t *testing.T) {
	a := newApp(t, "postgres")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	a.mustUser("rhea@example.com", "Rhea", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia", goodPassword, false)
	es := a.mustEstate(1, olivia)
	rc := a.client()
	rc.signIn("rhea@example.com", goodPassword)
	rc.get("/requests/new?policy=" + es.policy.ID)
	p := rc.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"1h"}, "justification": {"pasted \x1b[0m from a terminal"}, "ticket": {"INC-9"}})
	if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-justification").Text() == "" || p.find("field-ticket").AttrOr("value", "") != "INC-9" {
		t.Fatalf("justification with a control character: %d %q", p.StatusCode, p.find("error-justification").Text())
	}
	root := a.client()
	root.signIn("root@example.com", goodPassword)
	root.get("/admin/groups/new")
	p = root.post("/admin/groups", url.Values{"name": {"Ops\x00"}, "description": {"on call"}})
	if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-name").Text() == "" || p.find("field-description").Text() != "on call" {
		t.Fatalf("group name with a NUL: %d %q", p.StatusCode, p.find("error-name").Text())
	}
	p = root.get("/audit?action=" + url.QueryEscape("request.\x00"))
	if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.body, "“action”") {
		t.Fatalf("filter with a NUL: %d", p.StatusCode)
	}
	code, out := a.apiCall("GET", "/api/v1/requests/"+url.PathEscape("\xff\xfe"), root.makeToken("x", "api"), nil)
	if code != http.StatusBadRequest || out["code"] != "invalid" || out["field"] != "id" {
		t.Fatalf("API id with invalid UTF-8: %d %v", code, out)
	}
}

// A browser whose User-Agent is longer than any column (with bytes that are not UTF-8) can sign
// in, and its failed sign-ins are audited, on PostgreSQL.
func TestLongUserAgentCanSignIn(t *testing.T) {
	a := newApp(t, "postgres")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	ua := strings.Repeat("Mozilla/5.0 \xff (X11) ", 600)
	c := a.client()
	c.get("/login")
	if p := c.post("/login", url.Values{"email": {"root@example.com"}, "password": {"wrong password!"}}, "User-Agent", ua); p.StatusCode != http.StatusUnauthorized {
		t.Fatalf("failed sign-in: %d", p.StatusCode)
	}
	if p := c.post("/login", url.Values{"email": {"root@example.com"}, "password": {goodPassword}}, "User-Agent", ua); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", p.StatusCode)
	}
	failed := a.events("auth.sign_in_failed")
	if len(failed) != 1 || !strings.HasSuffix(failed[0].UserAgent, "…") {
		t.Fatalf("failed sign-in events: %+v", failed)
	}
}

// What arrives encoded passes the edge's check as text and is held to the same rule once
// decoded, on PostgreSQL: a NUL inside an access review's page link, on the page or in the
// link a bulk decision returns to, is a 400; a version no column can hold is the conflict a
// stale version is. Neither fails a statement.
func TestDecodedValuesAreRefusedNotFailed(t *testing.T) {
	a := newApp(t, "postgres")
	ctx := context.Background()
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	olivia := a.mustUser("olivia@example.com", "Olivia", goodPassword, false)
	rhea := a.mustUser("rhea@example.com", "Rhea", goodPassword, false)
	es := a.mustEstate(1, olivia, rhea)
	camp, err := a.admin.StartCampaign(ctx, audit.System, pam.CampaignInput{Name: "Q3 review", Scope: "all", Reviewers: "owners",
		Default: string(pam.ReviewKeep), Deadline: a.clock.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	root := a.client()
	root.signIn("root@example.com", goodPassword)

	good := base64.RawURLEncoding.EncodeToString([]byte(`["Approvers","rhea@example.com","x"]`))
	nul := base64.RawURLEncoding.EncodeToString([]byte(`["Approvers\u0000","rhea@example.com","x"]`))
	for _, path := range []string{"/admin/reviews/" + camp.ID, "/reviews/" + camp.ID} {
		if p := root.get(path + "?after=" + good); p.StatusCode != http.StatusOK {
			t.Fatalf("GET %s after a good cursor: %d", path, p.StatusCode)
		}
		if p := root.get(path + "?after=" + nul); p.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s after a cursor holding a NUL: %d", path, p.StatusCode)
		}
	}
	// Nothing ticked: the review's first page asks again, the link it came from being void.
	back := "/reviews/" + camp.ID + "?after=" + nul
	if p := root.post("/reviews/"+camp.ID+"/bulk", url.Values{"decision": {"keep"}, "back": {back}}); p.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "Tick the memberships to decide first.") {
		t.Errorf("a bulk decision returning to a cursor holding a NUL: %d", p.StatusCode)
	}

	tok := root.makeToken("editor", "api")
	status, pol := a.apiCall("GET", "/api/v1/policies/"+es.policy.ID, tok, nil)
	if status != http.StatusOK {
		t.Fatalf("policy API: %d", status)
	}
	policyForm := url.Values{"approval_type": {"manual"}, "approver_group_id": {es.policy.ApproverGroupID}, "approvals_required": {"1"},
		"default_duration": {"1h"}, "max_duration": {"4h"}, "pending_timeout": {"24h"}, "enabled": {"on"}}
	root.get("/admin/webhooks/new")
	hook := url.Values{"name": {"Ops receiver"}, "url": {"http://127.0.0.1:9/in"}, "format": {pam.WebhookGeneric},
		"events": {"request.created"}, "internal": {"on"}, "enabled": {"on"}}
	if p := root.post("/admin/webhooks", hook); p.StatusCode != http.StatusOK || p.find("secret").Length() != 1 {
		t.Fatalf("create a webhook: %d", p.StatusCode)
	}
	hookPath := href(root.get("/admin/webhooks"), "name")
	if !strings.HasPrefix(hookPath, "/admin/webhooks/") {
		t.Fatalf("the webhook's page: %q", hookPath)
	}
	for _, v := range []int64{math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64} {
		pol["version"] = v
		if status, out := a.apiCall("PUT", "/api/v1/policies/"+es.policy.ID, tok, pol); status != http.StatusConflict {
			t.Errorf("PUT a policy at version %d: %d %v", v, status, out)
		}
		policyForm.Set("version", strconv.FormatInt(v, 10))
		if p := root.post("/admin/policies/"+es.policy.ID, policyForm); p.StatusCode != http.StatusConflict {
			t.Errorf("POST the policy form at version %d: %d", v, p.StatusCode)
		}
		hook.Set("version", strconv.FormatInt(v, 10))
		if p := root.post(hookPath, hook); p.StatusCode != http.StatusConflict {
			t.Errorf("POST the webhook form at version %d: %d", v, p.StatusCode)
		}
	}
	if logs := a.logs.String(); strings.Contains(logs, `"status":500`) || strings.Contains(logs, "request failed") {
		t.Errorf("the server logged failures:\n%.2000s", logs)
	}
}
