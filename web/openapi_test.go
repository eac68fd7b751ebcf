package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/web/openapi"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vconfig "github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// contract validates real calls of the JSON API against the OpenAPI document the server serves,
// and remembers which answers each operation gave.
type contract struct {
	t *testing.T
	a *app
	v validator.Validator
	// loose validates the document's own answer, whose schema names only its top level (the
	// answer is compared byte for byte with the embedded document instead).
	loose validator.Validator
	ops   []operation
	// seen holds, per operation ("POST /api/v1/requests/{id}/approve"), the statuses answered.
	seen map[string]map[int]bool
	// codes holds every "status code" pair of an error answered, and "400 field" when a 400
	// named its field.
	codes map[string]bool
}

type operation struct {
	key string // "METHOD /path/{id}"
	re  *regexp.Regexp
}

// apiDocument parses the document and builds its validator: strict (a property the document
// does not declare fails, even where a schema would allow more) and with formats asserted.
func apiDocument(t *testing.T, doc []byte) (libopenapi.Document, validator.Validator) {
	t.Helper()
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatalf("parse the OpenAPI document: %v", err)
	}
	v, errs := validator.NewValidator(d, vconfig.WithFormatAssertions(), vconfig.WithStrictMode(),
		vconfig.WithStrictIgnoredHeadersExtra(everyAnswerHeaders...),
		// An audit event's details are free-form by design: each action has its own.
		vconfig.WithStrictIgnorePaths("$.body.events[*].details.**"))
	if len(errs) > 0 {
		t.Fatalf("build the validator: %v", errs)
	}
	return d, v
}

// everyAnswerHeaders are the headers on every answer of the server, pages and API alike (see
// securityHeaders); the document describes them once instead of on each answer.
var everyAnswerHeaders = []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
	"Cross-Origin-Opener-Policy", "Permissions-Policy", "Strict-Transport-Security", "X-Request-Id"}

// operations lists the document's operations as "METHOD /path" with a matcher for real paths.
func operations(t *testing.T, d libopenapi.Document) []operation {
	t.Helper()
	m, err := d.BuildV3Model()
	if err != nil {
		t.Fatalf("build the model: %v", err)
	}
	var ops []operation
	for path, item := range m.Model.Paths.PathItems.FromOldest() {
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$")
		for method := range item.GetOperations().FromOldest() {
			ops = append(ops, operation{key: strings.ToUpper(method) + " " + path, re: re})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].key < ops[j].key })
	return ops
}

// newContract fetches the document from the server, with no token, and checks it against the
// OpenAPI 3.1 specification.
func newContract(t *testing.T, a *app) *contract {
	t.Helper()
	resp, err := http.Get(a.srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, openapi.JSON) {
		t.Fatalf("GET /api/v1/openapi.json: %d, %d bytes", resp.StatusCode, len(body))
	}
	d, v := apiDocument(t, body)
	loose, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("the document is not valid OpenAPI: %s", describe(errs))
	}
	if d.GetSpecInfo().VersionNumeric < 3.1 {
		t.Fatalf("OpenAPI %s, want 3.1", d.GetSpecInfo().Version)
	}
	return &contract{t: t, a: a, v: v, loose: loose, ops: operations(t, d), seen: map[string]map[int]bool{}, codes: map[string]bool{}}
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s at %s (%s)", f.Reason, f.FieldPath, f.KeywordLocation)
		}
	}
	return b.String()
}

func cut(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// callOpt changes one call of the contract.
type callOpt func(*apiCallSpec)

type apiCallSpec struct {
	headers     http.Header
	raw         []byte // sent as is instead of body
	contentType string
	// badInput marks a call that breaks the document on purpose: its request must fail
	// validation, and only its answer is checked against the document.
	badInput bool
}

func withOTP(code string) callOpt {
	return func(s *apiCallSpec) { s.headers.Set("X-Elevate-OTP", code) }
}
func withHeader(k, v string) callOpt {
	return func(s *apiCallSpec) { s.headers.Set(k, v) }
}
func badInput() callOpt { return func(s *apiCallSpec) { s.badInput = true } }
func rawBody(contentType string, b []byte) callOpt {
	return func(s *apiCallSpec) { s.contentType, s.raw = contentType, b }
}

// call sends one API call, validates the request and the answer against the document, and
// returns the status and the decoded JSON answer.
func (k *contract) call(method, path, token string, body any, opts ...callOpt) (int, map[string]any) {
	k.t.Helper()
	spec := apiCallSpec{headers: http.Header{}, contentType: "application/json"}
	for _, o := range opts {
		o(&spec)
	}
	payload := spec.raw
	if payload == nil && body != nil {
		payload, _ = json.Marshal(body)
	}
	build := func() *http.Request {
		var r io.Reader
		if payload != nil {
			r = bytes.NewReader(payload)
		}
		req, _ := http.NewRequest(method, k.a.srv.URL+path, r)
		if payload != nil {
			req.Header.Set("Content-Type", spec.contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for h, vs := range spec.headers {
			req.Header[h] = vs
		}
		return req
	}
	resp, err := http.DefaultClient.Do(build())
	if err != nil {
		k.t.Fatalf("%s %s: %v", method, path, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	v := k.v
	if strings.HasPrefix(path, "/api/v1/openapi.json") {
		v = k.loose
	}
	req := build()
	ok, errs := v.ValidateHttpRequest(req)
	switch {
	case spec.badInput && ok:
		k.t.Errorf("%s %s: the document accepts a request the test sends as bad input", method, path)
	case !spec.badInput && !ok:
		k.t.Errorf("%s %s: the request breaks the document:%s", method, path, describe(errs))
	}
	req = build()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if ok, errs := v.ValidateHttpResponse(req, resp); !ok {
		k.t.Errorf("%s %s → %d: the answer breaks the document:%s\n  body: %s", method, path, resp.StatusCode, describe(errs), cut(raw))
	}

	p := strings.SplitN(path, "?", 2)[0]
	matched := false
	for _, op := range k.ops {
		if strings.HasPrefix(op.key, method+" ") && op.re.MatchString(p) {
			if k.seen[op.key] == nil {
				k.seen[op.key] = map[int]bool{}
			}
			k.seen[op.key][resp.StatusCode] = true
			matched = true
			break
		}
	}
	if !matched {
		k.t.Errorf("%s %s: no operation in the document", method, path)
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode >= 400 {
		c, _ := out["code"].(string)
		k.codes[fmt.Sprintf("%d %s", resp.StatusCode, c)] = true
		if f, _ := out["field"].(string); f != "" {
			k.codes[fmt.Sprintf("%d field", resp.StatusCode)] = true
		}
	}
	return resp.StatusCode, out
}

// must is call, failing the test unless the answer has the wanted status (and, for an error,
// the wanted code and field when given as "code" or "code/field").
func (k *contract) must(want int, wantCode, method, path, token string, body any, opts ...callOpt) map[string]any {
	k.t.Helper()
	code, out := k.call(method, path, token, body, opts...)
	c, f, _ := strings.Cut(wantCode, "/")
	if code != want || (c != "" && out["code"] != c) || (f != "" && out["field"] != f) {
		k.t.Fatalf("%s %s: %d %v, want %d %s", method, path, code, out, want, wantCode)
	}
	return out
}

// covered fails unless every operation of the document answered a success and an error, and
// the errors the API promises were all seen.
func (k *contract) covered(wantErrors ...string) {
	k.t.Helper()
	for _, op := range k.ops {
		ok, bad := false, false
		for s := range k.seen[op.key] {
			ok = ok || s < 400
			bad = bad || s >= 400
		}
		if op.key == "GET /api/v1/openapi.json" {
			bad = true // public and constant: it has no error to give
		}
		if !ok || !bad {
			k.t.Errorf("%s: answered %v; the test must drive a success and an error", op.key, k.seen[op.key])
		}
	}
	for _, w := range wantErrors {
		if !k.codes[w] {
			k.t.Errorf("no answer %q was seen (seen: %v)", w, k.codes)
		}
	}
}

// The OpenAPI document is the API's contract: every endpoint is driven through the real server,
// with successes and the errors that really occur, and every request and answer must match the
// document (an undeclared property, a wrong type, an undocumented status all fail).
func TestOpenAPIContract(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect, func(c *config.Config) { c.CheckRate = 2 })
		k := newContract(t, a)
		rootUser := a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		dana := a.mustUser("dana@example.com", "Dana Approver", goodPassword, false)
		a.mustUser("sam@example.com", "Sam Stranger", goodPassword, false)
		es := a.mustEstate(1, olivia, dana)
		duty, err := a.admin.CreateGroup(t.Context(), audit.System, "Duty managers", "")
		if err != nil {
			t.Fatal(err)
		}
		now := a.clock.Now

		root := a.client()
		root.signIn("root@example.com", goodPassword)
		rootTok := root.makeToken("automation", "api")
		checkTok := root.makeToken("runspace", "check")
		floodTok := root.makeToken("flood", "check")
		rheaTok, danaTok, samTok := a.apiToken("rhea@example.com"), a.apiToken("dana@example.com"), a.apiToken("sam@example.com")
		oc := a.client()
		oc.signIn("olivia@example.com", goodPassword)
		oSecret, _ := oc.enrol()
		oliviaTok := a.apiTokenWithCode(oc, oSecret)
		ac := a.client()
		ac.signIn("ada@example.com", goodPassword)
		aSecret, _ := ac.enrol()
		adaTok := a.apiTokenWithCode(ac, aSecret)
		// Each code works once: the next one is taken in the next 30-second step.
		otp := func(secret string) callOpt {
			a.clock.Advance(30 * time.Second)
			return withOTP(code(t, secret, now()))
		}

		// The document itself: public, and revalidated by its ETag.
		resp, err := http.Get(a.srv.URL + "/api/v1/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("ETag") != openapi.ETag || !strings.Contains(resp.Header.Get("Cache-Control"), "public") ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("document headers: %v", resp.Header)
		}
		k.must(http.StatusOK, "", "GET", "/api/v1/openapi.json", "", nil)
		k.must(http.StatusNotModified, "", "GET", "/api/v1/openapi.json", "", nil, withHeader("If-None-Match", openapi.ETag))

		// The check.
		check := map[string]any{"user": "rhea@example.com", "task": es.task.Key}
		if out := k.must(http.StatusOK, "", "POST", "/api/v1/check", checkTok, check); out["allowed"] != false {
			t.Fatalf("check before any grant: %v", out)
		}
		k.must(http.StatusBadRequest, "invalid/user", "POST", "/api/v1/check", checkTok, map[string]any{"user": "", "task": es.task.Key})
		k.must(http.StatusBadRequest, "invalid", "POST", "/api/v1/check", checkTok, nil, rawBody("application/json", []byte(`{"user": 1}`)), badInput())
		k.must(http.StatusUnauthorized, "unauthenticated", "POST", "/api/v1/check", "", check, badInput())
		k.must(http.StatusUnauthorized, "unauthenticated", "POST", "/api/v1/check", "elvc_forged", check)
		k.must(http.StatusForbidden, "forbidden", "POST", "/api/v1/check", rheaTok, check)
		big := []byte(`{"user":"rhea@example.com","task":"` + strings.Repeat("x", 70<<10) + `"}`)
		k.must(http.StatusRequestEntityTooLarge, "invalid", "POST", "/api/v1/check", checkTok, nil, rawBody("application/json", big), badInput())
		limited := false
		for range 30 {
			if code, _ := k.call("POST", "/api/v1/check", floodTok, check); code == http.StatusTooManyRequests {
				limited = true
				break
			}
		}
		if !limited {
			t.Fatal("a flood of checks was never limited")
		}

		// Requests: submit, read, list.
		ask := func(tok string, body map[string]any, opts ...callOpt) string {
			t.Helper()
			return k.must(http.StatusCreated, "", "POST", "/api/v1/requests", tok, body, opts...)["id"].(string)
		}
		askBody := map[string]any{"policy_id": es.policy.ID, "duration_min": 60, "justification": "mailbox move", "ticket": "CHG-1"}
		first := ask(rheaTok, askBody)
		k.must(http.StatusBadRequest, "invalid/duration_min", "POST", "/api/v1/requests", rheaTok, map[string]any{"policy_id": es.policy.ID, "duration_min": 0}, badInput())
		k.must(http.StatusBadRequest, "invalid/scheduled_start", "POST", "/api/v1/requests", rheaTok,
			map[string]any{"policy_id": es.policy.ID, "duration_min": 60, "scheduled_start": "tomorrow"}, badInput())
		k.must(http.StatusNotFound, "not_found", "POST", "/api/v1/requests", rheaTok, map[string]any{"policy_id": "00000000-0000-0000-0000-000000000000", "duration_min": 60})
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		_ = mw.WriteField("policy_id", es.policy.ID)
		mw.Close()
		k.must(http.StatusUnsupportedMediaType, "invalid", "POST", "/api/v1/requests", rheaTok, nil, rawBody(mw.FormDataContentType(), form.Bytes()), badInput())
		k.must(http.StatusRequestEntityTooLarge, "invalid", "POST", "/api/v1/requests", rheaTok,
			map[string]any{"policy_id": es.policy.ID, "duration_min": 60, "justification": strings.Repeat("x", 70<<10)}, badInput())
		k.must(http.StatusUnauthorized, "unauthenticated", "GET", "/api/v1/requests", "", nil, badInput())
		k.must(http.StatusUnauthorized, "unauthenticated", "GET", "/api/v1/requests", "elv_forged", nil)
		k.must(http.StatusForbidden, "forbidden", "GET", "/api/v1/requests", checkTok, nil)
		if list := k.must(http.StatusOK, "", "GET", "/api/v1/requests?status=pending", rheaTok, nil); len(list["requests"].([]any)) != 1 {
			t.Fatalf("pending list: %v", list)
		}
		k.must(http.StatusBadRequest, "invalid/status", "GET", "/api/v1/requests?status=asleep", rheaTok, nil, badInput())
		k.must(http.StatusBadRequest, "invalid/after", "GET", "/api/v1/requests?after=yesterday", rheaTok, nil)
		got := k.must(http.StatusOK, "", "GET", "/api/v1/requests/"+first, rheaTok, nil)
		if got["status"] != "pending" || len(got["approvers"].([]any)) == 0 {
			t.Fatalf("pending request: %v", got)
		}
		k.must(http.StatusNotFound, "not_found", "GET", "/api/v1/requests/"+first, samTok, nil)
		k.must(http.StatusNotFound, "not_found", "GET", "/api/v1/requests/00000000-0000-0000-0000-000000000000", rheaTok, nil)

		// Decisions: a step-up for the enrolled approver, one decision only, a grant in force.
		approve := "/api/v1/requests/" + first + "/approve"
		k.must(http.StatusUnauthorized, "step_up_required", "POST", approve, oliviaTok, map[string]any{"comment": "ok"})
		k.must(http.StatusUnauthorized, "step_up_required", "POST", approve, oliviaTok, map[string]any{"comment": "ok"}, withOTP("000000"))
		k.must(http.StatusForbidden, "forbidden", "POST", approve, rheaTok, map[string]any{"comment": "mine"})
		if out := k.must(http.StatusOK, "", "POST", approve, oliviaTok, map[string]any{"comment": "ok"}, otp(oSecret)); out["status"] != "approved" || out["in_force"] != true {
			t.Fatalf("approved: %v", out)
		}
		k.must(http.StatusConflict, "conflict", "POST", approve, danaTok, map[string]any{"comment": "late"})
		if out := k.must(http.StatusOK, "", "POST", "/api/v1/check", checkTok, check); out["allowed"] != true || out["request_id"] != first || out["expires_at"] == nil {
			t.Fatalf("check with a grant: %v", out)
		}
		// An extension, then ending the grant early cancels it.
		ext := ask(rheaTok, map[string]any{"extends": first, "duration_min": 30, "justification": "more time"})
		if out := k.must(http.StatusOK, "", "POST", "/api/v1/requests/"+first+"/end", rheaTok, nil); out["status"] != "ended" {
			t.Fatalf("ended: %v", out)
		}
		k.must(http.StatusConflict, "conflict", "POST", "/api/v1/requests/"+first+"/end", rheaTok, nil)
		if out := k.must(http.StatusOK, "", "GET", "/api/v1/requests/"+ext, rheaTok, nil); out["status"] != "cancelled" || out["cancel_reason"] != "grant ended" || out["extends"] != first {
			t.Fatalf("extension after the end: %v", out)
		}

		// A delegate approves for an approver (on_behalf_of); an administrator revokes.
		dc := a.client()
		dc.signIn("dana@example.com", goodPassword)
		if p := dc.delegate("sam@example.com", now().Add(-time.Minute), now().Add(24*time.Hour)); p.StatusCode >= 400 {
			t.Fatalf("delegate: %d", p.StatusCode)
		}
		second := ask(rheaTok, askBody)
		out := k.must(http.StatusOK, "", "POST", "/api/v1/requests/"+second+"/approve", samTok, map[string]any{"comment": "for Dana"})
		if rv := out["reviews"].([]any); len(rv) != 1 || rv[0].(map[string]any)["on_behalf_of"] == nil {
			t.Fatalf("delegated review: %v", out)
		}
		if out := k.must(http.StatusOK, "", "POST", "/api/v1/requests/"+second+"/revoke", rootTok, map[string]any{"reason": "done early"}); out["status"] != "revoked" || out["revoke_reason"] != "done early" {
			t.Fatalf("revoked: %v", out)
		}
		k.must(http.StatusConflict, "conflict", "POST", "/api/v1/requests/"+second+"/revoke", rootTok, map[string]any{"reason": "again"})
		k.must(http.StatusNotFound, "not_found", "POST", "/api/v1/requests/00000000-0000-0000-0000-000000000000/revoke", rootTok, map[string]any{"reason": "x"})

		// Withdraw and deny.
		third := ask(rheaTok, askBody)
		k.must(http.StatusOK, "", "POST", "/api/v1/requests/"+third+"/withdraw", rheaTok, nil)
		k.must(http.StatusConflict, "conflict", "POST", "/api/v1/requests/"+third+"/withdraw", rheaTok, nil)
		fourth := ask(rheaTok, askBody)
		k.must(http.StatusOK, "", "POST", "/api/v1/requests/"+fourth+"/deny", danaTok, map[string]any{"comment": "not now"})
		k.must(http.StatusConflict, "conflict", "POST", "/api/v1/requests/"+fourth+"/deny", oliviaTok, map[string]any{"comment": "no"}, otp(oSecret))

		// Policies, and emergency access under one that allows it.
		k.must(http.StatusOK, "", "GET", "/api/v1/policies", rootTok, nil)
		k.must(http.StatusForbidden, "forbidden", "GET", "/api/v1/policies", rheaTok, nil)
		k.must(http.StatusBadRequest, "invalid/after", "GET", "/api/v1/policies?after=x", rootTok, nil)
		k.must(http.StatusOK, "", "GET", "/api/v1/policies/"+es.policy.ID, rootTok, nil)
		k.must(http.StatusNotFound, "not_found", "GET", "/api/v1/policies/00000000-0000-0000-0000-000000000000", rootTok, nil)
		pol := map[string]any{"scope_type": "task", "scope_id": es.other.ID, "approval_type": "manual", "approver_group_id": es.policy.ApproverGroupID,
			"approvals_required": 9, "default_duration_min": 60, "max_duration_min": 240, "pending_timeout_min": 1440, "enabled": true,
			"emergency_allowed": true, "emergency_duration_min": 30, "escalation_group_id": duty.ID, "escalate_after_min": 60}
		k.must(http.StatusBadRequest, "invalid/approvals_required", "POST", "/api/v1/policies", rootTok, pol, badInput())
		pol["approvals_required"] = 1
		// An escalation group with nobody in it is refused until confirmed.
		k.must(http.StatusBadRequest, "invalid/confirm_dead_end", "POST", "/api/v1/policies", rootTok, pol)
		if err := a.admin.AddMember(t.Context(), audit.System, duty.ID, rootUser.ID); err != nil {
			t.Fatal(err)
		}
		k.must(http.StatusUnauthorized, "step_up_required", "POST", "/api/v1/policies", adaTok, pol)
		k.must(http.StatusForbidden, "forbidden", "POST", "/api/v1/policies", rheaTok, pol)
		created := k.must(http.StatusCreated, "", "POST", "/api/v1/policies", adaTok, pol, otp(aSecret))
		polPath := "/api/v1/policies/" + created["id"].(string)
		pol["pending_timeout_min"], pol["version"] = 720, created["version"]
		k.must(http.StatusOK, "", "PUT", polPath, rootTok, pol)
		k.must(http.StatusConflict, "conflict", "PUT", polPath, rootTok, pol)
		k.must(http.StatusNotFound, "not_found", "PUT", "/api/v1/policies/00000000-0000-0000-0000-000000000000", rootTok, pol)
		k.must(http.StatusBadRequest, "invalid/max_duration_min", "PUT", polPath, rootTok, map[string]any{"default_duration_min": 60, "max_duration_min": 0, "pending_timeout_min": 60}, badInput())

		emergency := "/api/v1/requests/emergency"
		why := map[string]any{"policy_id": created["id"], "justification": "outage", "ticket": "INC-9"}
		k.must(http.StatusForbidden, "enrolment_required", "POST", emergency, rheaTok, why)
		k.must(http.StatusUnauthorized, "step_up_required", "POST", emergency, oliviaTok, why)
		k.must(http.StatusBadRequest, "invalid", "POST", emergency, oliviaTok, nil, rawBody("application/json", []byte("[1]")), badInput())
		em := k.must(http.StatusCreated, "", "POST", emergency, oliviaTok, why, otp(oSecret))
		if em["emergency"] != true || em["status"] != "approved" {
			t.Fatalf("emergency: %v", em)
		}
		k.must(http.StatusConflict, "conflict", "POST", emergency, oliviaTok, why, otp(oSecret))
		emID := em["id"].(string)
		k.must(http.StatusForbidden, "forbidden", "POST", "/api/v1/requests/"+emID+"/confirm", oliviaTok, nil, otp(oSecret))
		if out := k.must(http.StatusOK, "", "POST", "/api/v1/requests/"+emID+"/confirm", danaTok, map[string]any{"comment": "seen"}); out["emergency_review"] == nil {
			t.Fatalf("confirmed: %v", out)
		}
		k.must(http.StatusConflict, "conflict", "POST", "/api/v1/requests/"+emID+"/misuse", danaTok, map[string]any{"reason": "changed my mind"})
		k.must(http.StatusConflict, "conflict/revoke_grants", "DELETE", polPath, rootTok, nil)
		k.must(http.StatusOK, "", "POST", "/api/v1/requests/"+emID+"/end", oliviaTok, nil)
		em2 := k.must(http.StatusCreated, "", "POST", emergency, oliviaTok, why, otp(oSecret))["id"].(string)
		if out := k.must(http.StatusOK, "", "POST", "/api/v1/requests/"+em2+"/misuse", danaTok, map[string]any{"reason": "no outage"}); out["status"] != "revoked" {
			t.Fatalf("misuse: %v", out)
		}
		k.must(http.StatusForbidden, "forbidden", "POST", polPath+"/revoke-grants", oliviaTok, map[string]any{"reason": "retired"}, otp(oSecret))
		k.must(http.StatusNotFound, "not_found", "POST", "/api/v1/policies/no-such-policy/revoke-grants", rootTok, map[string]any{"reason": "retired"})
		k.must(http.StatusBadRequest, "invalid/reason", "POST", polPath+"/revoke-grants", rootTok, map[string]any{"reason": " "})
		if out := k.must(http.StatusOK, "", "POST", polPath+"/revoke-grants", rootTok, map[string]any{"reason": "retired"}); out["revoked"] == nil {
			t.Fatalf("revoke grants: %v", out)
		}
		k.must(http.StatusBadRequest, "invalid/revoke_grants", "DELETE", polPath+"?revoke_grants=maybe", rootTok, nil, badInput())
		k.must(http.StatusNoContent, "", "DELETE", polPath+"?revoke_grants=true", rootTok, nil)
		k.must(http.StatusNotFound, "not_found", "DELETE", polPath, rootTok, nil)

		// The audit trail.
		page := k.must(http.StatusOK, "", "GET", "/api/v1/audit?limit=2", rootTok, nil)
		next, _ := page["next_before"].(float64)
		if len(page["events"].([]any)) != 2 || next == 0 {
			t.Fatalf("audit page: %v", page)
		}
		k.must(http.StatusOK, "", "GET", fmt.Sprintf("/api/v1/audit?before=%d&action=request.&outcome=success&since=2000-01-01", int(next)), rootTok, nil)
		k.must(http.StatusOK, "", "GET", "/api/v1/audit?request_id="+first, rootTok, nil)
		k.must(http.StatusBadRequest, "invalid/since", "GET", "/api/v1/audit?since=yesterday", rootTok, nil)
		k.must(http.StatusBadRequest, "invalid/limit", "GET", "/api/v1/audit?limit=501", rootTok, nil, badInput())
		k.must(http.StatusForbidden, "forbidden", "GET", "/api/v1/audit", rheaTok, nil)

		// Wrong codes until the code limit answers 429.
		limited = false
		for range 30 {
			if code, _ := k.call("POST", approve, oliviaTok, nil, withOTP("000000")); code == http.StatusTooManyRequests {
				limited = true
				break
			}
		}
		if !limited {
			t.Fatal("wrong codes were never limited")
		}

		k.covered("400 field", "400 invalid", "401 unauthenticated", "401 step_up_required", "403 forbidden",
			"403 enrolment_required", "404 not_found", "409 conflict", "409 field", "413 invalid", "415 invalid",
			"429 rate_limited")
	})
}

// Every /api/v1 route has an operation in the document and every operation a route, so neither
// can be added without the other.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	a := newApp(t, "sqlite")
	d, _ := apiDocument(t, openapi.JSON)
	inDoc := map[string]bool{}
	for _, op := range operations(t, d) {
		inDoc[op.key] = true
	}
	routed := map[string]bool{}
	for _, r := range a.web.Routes() {
		if !strings.HasPrefix(r.Path, "/api/") || strings.HasPrefix(r.Method, "echo_") || r.Method == http.MethodHead {
			continue
		}
		key := r.Method + " " + routeParam.ReplaceAllStringFunc(r.Path, func(p string) string { return "{" + p[1:] + "}" })
		routed[key] = true
		if !inDoc[key] {
			t.Errorf("route %s has no operation in the OpenAPI document", key)
		}
	}
	for key := range inDoc {
		if !routed[key] {
			t.Errorf("operation %s has no route", key)
		}
	}
	if len(routed) < 18 {
		t.Fatalf("only %d API routes found", len(routed))
	}
}

// The API tokens page and the check tokens page link to the contract, and the link opens it.
func TestTokenPagesLinkTheContract(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	c := a.client()
	c.signIn("root@example.com", goodPassword)
	for _, page := range []string{"/profile/tokens", "/admin/check-tokens"} {
		p := c.get(page)
		href, _ := p.find("openapi-link").Attr("href")
		if p.StatusCode != http.StatusOK || href != "/api/v1/openapi.json" {
			t.Fatalf("%s: %d, link %q", page, p.StatusCode, href)
		}
		if doc := a.client().get(href); doc.StatusCode != http.StatusOK || doc.body != string(openapi.JSON) {
			t.Fatalf("%s: the link answers %d", page, doc.StatusCode)
		}
	}
}
