package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// estate sets up a role with one task, a group of approvers and a manual policy on the role.
type estate struct {
	policy pam.Policy
	task   pam.Task
	other  pam.Task
}

func (a *app) mustEstate(approvals int, approvers ...pam.User) estate {
	a.t.Helper()
	ctx := context.Background()
	g, err := a.admin.CreateGroup(ctx, audit.System, "Approvers", "")
	if err != nil {
		a.t.Fatal(err)
	}
	for _, u := range approvers {
		if err := a.admin.AddMember(ctx, audit.System, g.ID, u.ID); err != nil {
			a.t.Fatal(err)
		}
	}
	task, _ := a.admin.CreateTask(ctx, audit.System, "exchange/Set-Mailbox", "", "")
	other, _ := a.admin.CreateTask(ctx, audit.System, "exchange/Search-Mailbox", "", "")
	role, _ := a.admin.CreateRole(ctx, audit.System, "Mailbox admin", "")
	if err := a.admin.AddRoleTask(ctx, audit.System, role.ID, task.Key); err != nil {
		a.t.Fatal(err)
	}
	p := pam.NewPolicy(pam.ScopeRole, role.ID)
	p.ApproverGroupID, p.ApprovalsRequired = g.ID, approvals
	if p, err = a.admin.CreatePolicy(ctx, audit.System, p); err != nil {
		a.t.Fatal(err)
	}
	return estate{policy: p, task: task, other: other}
}

func TestRequestLifecycleThroughPagesAndCheck(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		a.mustUser("sam@example.com", "Sam Stranger", goodPassword, false)
		es := a.mustEstate(1, olivia)

		root := a.client()
		root.signIn("root@example.com", goodPassword)
		checkToken := root.makeToken("runspace", "check")

		req := a.client()
		req.signIn("rhea@example.com", goodPassword)
		page := req.get("/requests/new")
		if page.find("scope").Length() != 1 || !strings.Contains(page.find("scope").Text(), "Mailbox admin") {
			t.Fatalf("eligible scopes: %q", page.find("scopes").Text())
		}
		chosen := req.get("/requests/new?policy=" + es.policy.ID)
		if !strings.Contains(chosen.find("chosen-tasks").Text(), "exchange/Set-Mailbox") || !strings.Contains(chosen.find("chosen-approvers").Text(), "Olivia Approver") {
			t.Fatalf("chosen scope: %q / %q", chosen.find("chosen-tasks").Text(), chosen.find("chosen-approvers").Text())
		}
		// Bad input comes back with what was typed; extra fields are ignored.
		p := req.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"9h"}, "justification": {"INC-7 <b>mailbox</b> full"}, "status": {"approved"}})
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-duration").Text() == "" || p.find("field-justification").Text() != "INC-7 <b>mailbox</b> full" {
			t.Fatalf("9h: %d %q %q", p.StatusCode, p.find("error-duration").Text(), p.find("field-justification").Text())
		}
		// The page is still "Request access", and its button does not offer the 9 h refused.
		if p.find("nav-request").AttrOr("aria-current", "") != "page" || p.find("nav-requests").AttrOr("aria-current", "") != "" ||
			p.find("submit-request").Text() != "Request access" || chosen.find("submit-request").Text() != "Request 1 h" {
			t.Fatalf("after 9h: navigation %q, button %q (before %q)", p.find("nav-request").AttrOr("aria-current", ""),
				p.find("submit-request").Text(), chosen.find("submit-request").Text())
		}
		p = req.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"2h"}, "justification": {"INC-7 <b>mailbox</b> full"},
			"status": {"approved"}, "requester_id": {"someone-else"}, "ends_at": {"2099-01-01"}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("submit: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		reqURL := p.Header.Get("Location")
		id := strings.TrimPrefix(reqURL, "/requests/")
		mine := req.get(reqURL)
		if mine.find("card-status").Text() != "Pending" || !strings.Contains(mine.body, "INC-7 &lt;b&gt;mailbox&lt;/b&gt; full") {
			t.Fatalf("request page: %q", mine.find("card-status").Text())
		}
		if d := a.checkAPI(checkToken, "rhea@example.com", es.task.Key); d["allowed"] != false || d["reason"] != "no grant in force" {
			t.Fatalf("check while pending: %v", d)
		}

		// Someone who may not review it sees 404, for the page and for a decision.
		sam := a.client()
		sam.signIn("sam@example.com", goodPassword)
		if p := sam.get(reqURL); p.StatusCode != http.StatusNotFound {
			t.Fatalf("stranger GET: %d", p.StatusCode)
		}
		sam.get("/")
		if p := sam.post(reqURL+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusNotFound {
			t.Fatalf("stranger review: %d", p.StatusCode)
		}

		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		inbox := ap.get("/approvals")
		if badge := inbox.find("nav-approvals").Text(); !strings.Contains(badge, "1") {
			t.Fatalf("approvals badge: %q", badge)
		}
		// The inbox is a table of one line per request; a row's review link opens the request
		// page without JavaScript, and with htmx loads its card into the next row.
		review := inbox.find("review")
		href, _ := review.Attr("href")
		card, _ := review.Attr("hx-get")
		if inbox.find("inbox-row").Length() != 1 || href != reqURL || card != "/approvals/"+id+"/card" {
			t.Fatalf("inbox rows: %d, review %q / %q", inbox.find("inbox-row").Length(), href, card)
		}
		if p := ap.get(card); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != reqURL {
			t.Fatalf("the card opened as a page: %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		got := ap.getHX(card)
		if got.StatusCode != http.StatusOK || !strings.HasPrefix(got.body, `<tr class="tbl-card" data-testid="inbox-card">`) ||
			got.find("review-form").Length() != 1 || got.find("card-justification").Text() == "" || strings.Contains(got.body, "<html") {
			t.Fatalf("the card: %d %q", got.StatusCode, got.body)
		}
		// The card is for those who may see the request, like its page.
		if p := sam.getHX(card); p.StatusCode != http.StatusNotFound {
			t.Fatalf("a stranger's card: %d", p.StatusCode)
		}
		// Deny needs a comment; the inline (htmx) answer is the card with the message.
		p = ap.post(reqURL+"/review", url.Values{"decision": {"deny"}, "back": {"/approvals"}}, "HX-Request", "true")
		if p.StatusCode != http.StatusOK || p.find("error-comment").Text() == "" {
			t.Fatalf("deny without comment: %d %q", p.StatusCode, p.find("error-comment").Text())
		}
		p = ap.post(reqURL+"/review", url.Values{"decision": {"approve"}, "back": {"/approvals"}}, "HX-Request", "true")
		if p.StatusCode != http.StatusOK || !strings.Contains(p.find("card-notice").Text(), "approved") || p.find("card-status").Text() != "In force" {
			t.Fatalf("inline approve: %d %q %q", p.StatusCode, p.find("card-notice").Text(), p.find("card-status").Text())
		}
		if p.doc.Find("html").Length() != 0 && strings.Contains(p.body, "<html") {
			t.Fatal("htmx answer is a whole page")
		}
		if after := ap.get("/approvals"); after.find("inbox-row").Length() != 0 || after.find("decided").Find("tbody tr").Length() != 1 {
			t.Fatal("decided request still in the inbox, or not among the decided")
		}

		d := a.checkAPI(checkToken, "rhea@example.com", es.task.Key)
		if d["allowed"] != true || d["request_id"] != id || d["expires_at"] == "" {
			t.Fatalf("check in force: %v", d)
		}
		if d := a.checkAPI(checkToken, "rhea@example.com", es.other.Key); d["allowed"] != false {
			t.Fatalf("task outside the scope: %v", d)
		}
		if !strings.Contains(req.get(reqURL).find("card-state").Text(), "In force until") {
			t.Fatalf("requester view: %q", req.get(reqURL).find("card-state").Text())
		}

		// Revoke needs a reason, then the very next check is denied.
		a.clock.Advance(10 * time.Minute)
		ap.get(reqURL)
		if p := ap.post(reqURL+"/revoke", url.Values{"reason": {""}}); p.StatusCode != http.StatusUnprocessableEntity || p.find("error-reason").Text() == "" {
			t.Fatalf("revoke without reason: %d", p.StatusCode)
		}
		if p := ap.post(reqURL+"/revoke", url.Values{"reason": {"Work done"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", p.StatusCode)
		}
		if d := a.checkAPI(checkToken, "rhea@example.com", es.task.Key); d["allowed"] != false {
			t.Fatalf("check after revoke: %v", d)
		}
		tl := req.get(reqURL).find("timeline").Text()
		for _, want := range []string{"Requested by Rhea Requester", "Approved by Olivia Approver", "Grant started", "Granted for 2 h, to ", "Revoked by Olivia Approver", "Work done"} {
			if !strings.Contains(tl, want) {
				t.Errorf("timeline lacks %q: %s", want, tl)
			}
		}
		list := req.get("/requests?status=revoked")
		if list.find("requests").Find("tbody tr").Length() != 1 {
			t.Fatalf("revoked filter: %s", list.find("requests").Text())
		}
	})
}

// checkAPI calls POST /api/v1/check with a token.
func (a *app) checkAPI(token, user, task string) map[string]any {
	a.t.Helper()
	code, out := a.apiCall("POST", "/api/v1/check", token, map[string]string{"user": user, "task": task})
	if code != http.StatusOK {
		a.t.Fatalf("check: %d %v", code, out)
	}
	return out
}

func TestCheckAPIFailsClosedAndNeedsCheckScope(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	root := a.client()
	root.signIn("root@example.com", goodPassword)
	tok := root.makeToken("runspace", "check")
	if code, out := a.apiCall("POST", "/api/v1/check", tok, map[string]string{"user": "root@example.com"}); code != http.StatusBadRequest || out["allowed"] != false {
		t.Fatalf("missing task: %d %v", code, out)
	}
	if code, _ := a.apiCall("GET", "/api/v1/requests", tok, nil); code != http.StatusForbidden {
		t.Fatalf("check token on the requests API: %d", code)
	}
	if code, _ := a.apiCall("POST", "/api/v1/check", "", map[string]string{"user": "x", "task": "y"}); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	// The database going away after authentication: the check answers 503, allowed false.
	a.db.ExecRaw(context.Background(), "DROP TABLE org_settings")
	code, out := a.apiCall("POST", "/api/v1/check", tok, map[string]string{"user": "root@example.com", "task": "exchange/Set-Mailbox"})
	if code != http.StatusServiceUnavailable || out["allowed"] != false {
		t.Fatalf("broken database: %d %v", code, out)
	}
	// And before it: the token cannot be looked up. Still 503, allowed false, never a 500.
	a.db.ExecRaw(context.Background(), "DROP TABLE api_tokens")
	code, out = a.apiCall("POST", "/api/v1/check", tok, map[string]string{"user": "root@example.com", "task": "exchange/Set-Mailbox"})
	if code != http.StatusServiceUnavailable || out["allowed"] != false || out["reason"] != "unavailable" {
		t.Fatalf("token store gone: %d %v", code, out)
	}
	// A bad token is still the caller's fault.
	if code, _ := a.apiCall("POST", "/api/v1/check", "", map[string]string{"user": "x", "task": "y"}); code != http.StatusUnauthorized {
		t.Fatalf("no token with the database broken: %d", code)
	}
}

func TestRequestsAPIRaceAnswers409(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		var approvers []pam.User
		var tokens []string
		for _, n := range []string{"a1", "a2", "a3", "a4"} {
			u := a.mustUser(n+"@example.com", "Approver "+n, goodPassword, false)
			approvers = append(approvers, u)
			c := a.client()
			c.signIn(n+"@example.com", goodPassword)
			tokens = append(tokens, c.makeToken("cli", "api"))
		}
		es := a.mustEstate(1, approvers...)
		rc := a.client()
		rc.signIn("rhea@example.com", goodPassword)
		rtok := rc.makeToken("cli", "api")
		code, out := a.apiCall("POST", "/api/v1/requests", rtok, map[string]any{"policy_id": es.policy.ID, "duration_min": 60, "justification": "INC-9", "status": "approved"})
		if code != http.StatusCreated || out["status"] != "pending" {
			t.Fatalf("submit: %d %v", code, out)
		}
		id := out["id"].(string)
		if code, out := a.apiCall("POST", "/api/v1/requests", rtok, map[string]any{"policy_id": es.policy.ID, "duration_min": 0}); code != http.StatusBadRequest || out["field"] != "duration_min" {
			t.Fatalf("zero duration: %d %v", code, out)
		}
		var wg sync.WaitGroup
		codes := make([]int, len(tokens))
		for i, tok := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				act := "approve"
				if i%2 == 1 {
					act = "deny"
				}
				codes[i], _ = a.apiCall("POST", "/api/v1/requests/"+id+"/"+act, tok, map[string]string{"comment": "decided"})
			}()
		}
		wg.Wait()
		ok, conflict := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
				conflict++
			}
		}
		if ok != 1 || conflict != len(tokens)-1 {
			t.Fatalf("answers %v: want one 200 and the rest 409", codes)
		}
		if code, _ := a.apiCall("GET", "/api/v1/requests/"+id, tokens[0], nil); code != http.StatusOK {
			t.Fatalf("approver reads the request: %d", code)
		}
		other := a.mustUser("sam@example.com", "Sam", goodPassword, false)
		_ = other
		sc := a.client()
		sc.signIn("sam@example.com", goodPassword)
		if code, _ := a.apiCall("GET", "/api/v1/requests/"+id, sc.makeToken("cli", "api"), nil); code != http.StatusNotFound {
			t.Fatalf("stranger reads the request: %d", code)
		}
	})
}

func TestExpiryBoundaryWithoutSweeper(t *testing.T) {
	a := newApp(t, "postgres")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	es := a.mustEstate(1, olivia)
	root := a.client()
	root.signIn("root@example.com", goodPassword)
	tok := root.makeToken("runspace", "check")
	rc := a.client()
	rc.signIn("rhea@example.com", goodPassword)
	rc.get("/requests/new?policy=" + es.policy.ID)
	p := rc.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"30m"}, "justification": {"x"}})
	id := strings.TrimPrefix(p.Header.Get("Location"), "/requests/")
	oc := a.client()
	oc.signIn("olivia@example.com", goodPassword)
	oc.get("/requests/" + id)
	if p := oc.post("/requests/"+id+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d", p.StatusCode)
	}
	a.clock.Advance(30*time.Minute - time.Second)
	if d := a.checkAPI(tok, "rhea@example.com", es.task.Key); d["allowed"] != true {
		t.Fatalf("a second before the end: %v", d)
	}
	a.clock.Advance(time.Second)
	if d := a.checkAPI(tok, "rhea@example.com", es.task.Key); d["allowed"] != false {
		t.Fatalf("at the end: %v", d)
	}
	rc.signIn("rhea@example.com", goodPassword) // the session idled out meanwhile
	if pg := rc.get("/requests/" + id); pg.find("card-status").Text() != "Expired" {
		t.Fatalf("page after the end: %d %q %s", pg.StatusCode, pg.find("card-status").Text(), pg.find("error-page").Text())
	}
}

func TestCheckAPILimitedPerToken(t *testing.T) {
	a := newApp(t, "sqlite", func(c *config.Config) { c.CheckRate = 2 })
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	root := a.client()
	root.signIn("root@example.com", goodPassword)
	busy := root.makeToken("busy", "check")
	calm := root.makeToken("calm", "check")
	limited := 0
	for range 12 {
		code, out := a.apiCall("POST", "/api/v1/check", busy, map[string]string{"user": "root@example.com", "task": "x/y"})
		if code == http.StatusTooManyRequests {
			if out["allowed"] != false {
				t.Fatalf("a limited check was not denied: %v", out)
			}
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("12 immediate calls at 2 per second were never limited")
	}
	if code, _ := a.apiCall("POST", "/api/v1/check", calm, map[string]string{"user": "root@example.com", "task": "x/y"}); code != http.StatusOK {
		t.Fatalf("another token was limited too: %d", code)
	}
}

// TestRevokedGrantShowsItsChainEnded: revoking a grant on the page ends its extensions; the
// approved one shows "Revoked" with the revoke's reason, the pending one "Cancelled" with its
// reason on its page, in the list and on the API, and checks stay denied.
func TestRevokedGrantShowsItsChainEnded(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		checkToken := root.makeToken("runspace", "check")

		rc := a.client()
		rc.signIn("rhea@example.com", goodPassword)
		apiToken := rc.makeToken("cli", "api")
		oc := a.client()
		oc.signIn("olivia@example.com", goodPassword)
		ask := func(form url.Values) string {
			t.Helper()
			p := rc.post("/requests", form)
			if p.StatusCode != http.StatusSeeOther {
				t.Fatalf("submit %v: %d %s", form, p.StatusCode, p.find("form-error").Text())
			}
			return strings.TrimPrefix(p.Header.Get("Location"), "/requests/")
		}
		approve := func(id string) {
			t.Helper()
			oc.get("/requests/" + id)
			if p := oc.post("/requests/"+id+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("approve %s: %d", id, p.StatusCode)
			}
		}

		rc.get("/requests/new?policy=" + es.policy.ID)
		grant := ask(url.Values{"policy_id": {es.policy.ID}, "duration": {"1h"}, "justification": {"INC-7"}})
		approve(grant)
		for range 2 { // 40 minutes on, with both sessions kept alive
			a.clock.Advance(20 * time.Minute)
			rc.get("/")
			oc.get("/")
		}
		rc.get("/requests/new?extend=" + grant)
		ext := ask(url.Values{"policy_id": {es.policy.ID}, "duration": {"2h"}, "justification": {"still fixing"}, "extends": {grant}})
		approve(ext)
		// A second request for more time waits beside it, as older versions let a requester ask.
		g, err := a.db.RequestByID(context.Background(), grant)
		if err != nil {
			t.Fatal(err)
		}
		left, err := testkit.LeftOverExtension(context.Background(), a.db, g, 30*time.Minute, a.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		pending := left.ID

		oc.get("/requests/" + grant)
		if p := oc.post("/requests/"+grant+"/revoke", url.Values{"reason": {"Work done"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", p.StatusCode)
		}
		for _, step := range []time.Duration{0, 20 * time.Minute, 30 * time.Minute} { // now, the old end, inside the extension
			a.clock.Advance(step)
			if d := a.checkAPI(checkToken, "rhea@example.com", es.task.Key); d["allowed"] != false {
				t.Fatalf("check %s after the revoke: %v", step, d)
			}
		}
		rc.signIn("rhea@example.com", goodPassword) // the session idled out meanwhile

		p := rc.get("/requests/" + pending)
		if got := p.find("card-status").Text(); got != "Cancelled" {
			t.Fatalf("pending extension's status %q", got)
		}
		if got := p.find("card-status").Find(`[data-testid="badge"]`); !strings.Contains(got.AttrOr("class", ""), "slate") {
			t.Errorf("cancelled badge colours %q", got.AttrOr("class", ""))
		}
		if got := p.find("card-state").Text(); got != "Cancelled: grant revoked" {
			t.Fatalf("pending extension's state %q", got)
		}
		if tl := p.find("timeline").Text(); !strings.Contains(tl, "Cancelled: grant revoked") || !strings.Contains(tl, "the grant it extends was revoked") {
			t.Fatalf("timeline: %s", tl)
		}
		if p.find("review-form").Length() != 0 || p.find("withdraw").Length() != 0 {
			t.Fatal("a cancelled request still offers actions")
		}
		p = rc.get("/requests/" + ext)
		if p.find("card-status").Text() != "Revoked" || p.find("card-state").Text() != "Revoked: Work done" {
			t.Fatalf("approved extension: %q %q", p.find("card-status").Text(), p.find("card-state").Text())
		}
		if tl := p.find("timeline").Text(); !strings.Contains(tl, "Revoked by Olivia Approver") || !strings.Contains(tl, "Work done") {
			t.Fatalf("extension's timeline: %s", tl)
		}

		list := rc.get("/requests?status=cancelled")
		rows := list.find("requests").Find("tbody tr")
		if rows.Length() != 1 || rows.Find(`[data-testid="badge"]`).Text() != "Cancelled" || !strings.Contains(rows.Text(), "grant revoked") {
			t.Fatalf("cancelled list: %q", list.find("requests").Text())
		}
		if tab := list.doc.Find(`nav[aria-label="Filter by state"] a[aria-current="page"]`).Text(); tab != "Cancelled" {
			t.Fatalf("active tab %q", tab)
		}

		code, out := a.apiCall("GET", "/api/v1/requests/"+pending, apiToken, nil)
		if code != http.StatusOK || out["status"] != "cancelled" || out["cancel_reason"] != "grant revoked" {
			t.Fatalf("API, pending extension: %d %v", code, out)
		}
		code, out = a.apiCall("GET", "/api/v1/requests/"+ext, apiToken, nil)
		if _, ok := out["cancel_reason"]; code != http.StatusOK || out["status"] != "revoked" || out["revoke_reason"] != "Work done" || ok {
			t.Fatalf("API, approved extension: %d %v", code, out)
		}
	})
}

// TestBackTargetStaysOnSite: a no-JS review returns to its back target only when that is a
// path on this site; anything else falls back to the request's page.
func TestBackTargetStaysOnSite(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	es := a.mustEstate(1, olivia)
	req := a.client()
	req.signIn("rhea@example.com", goodPassword)
	ap := a.client()
	ap.signIn("olivia@example.com", goodPassword)
	for _, tc := range []struct{ back, want string }{
		{"/%2F/evil.example", ""},
		{"/\t/evil.example", ""},
		{"/approvals?state=pending", "/approvals?state=pending"},
	} {
		req.get("/requests/new")
		p := req.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"1h"}, "justification": {"INC-8"}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("submit: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		reqURL := p.Header.Get("Location")
		want := tc.want
		if want == "" {
			want = reqURL
		}
		ap.get(reqURL)
		p = ap.post(reqURL+"/review", url.Values{"decision": {"deny"}, "comment": {"not now"}, "back": {tc.back}})
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != want {
			t.Errorf("back=%q: review answered %d to %q, want %q", tc.back, p.StatusCode, p.Header.Get("Location"), want)
		}
	}
}

// When the organisation's ceiling is lowered below a policy's maximum, the request form offers
// no more than the ceiling, which is all the server accepts: the help, the duration line, the
// default typed in, the emergency length and the submit button, which names a duration only
// up to the ceiling (data-label-max lets request.js keep to the same bound).
func TestRequestFormKeepsToTheOrgCeiling(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia) // at most 4 h, 1 h by default
		pol, err := a.db.PolicyByID(ctx, es.policy.ID)
		if err != nil {
			t.Fatal(err)
		}
		pol.EmergencyAllowed, pol.EmergencyDuration = true, time.Hour
		if err = a.admin.UpdatePolicy(ctx, audit.System, pol); err != nil {
			t.Fatal(err)
		}
		if err = a.admin.UpdateSettings(ctx, audit.System, admin.SettingsInput{Enforcement: true, MaxDuration: 45 * time.Minute}); err != nil {
			t.Fatal(err)
		}
		rh := a.client()
		rh.signIn("rhea@example.com", goodPassword)
		form := rh.get("/requests/new?policy=" + es.policy.ID)
		button := form.find("submit-request")
		if button.Text() != "Request 45 min" || button.AttrOr("data-label-max", "") != "45" ||
			form.find("field-duration").AttrOr("value", "") != "45m" {
			t.Fatalf("form under a 45 min ceiling: button %q, max %q, duration %q", button.Text(),
				button.AttrOr("data-label-max", ""), form.find("field-duration").AttrOr("value", ""))
		}
		if help, line := form.doc.Find("#h-duration").Text(), form.find("chosen-duration").Text(); !strings.Contains(help, "at most 45 min") ||
			line != "45 min by default, at most 45 min" {
			t.Fatalf("duration help %q, line %q", help, line)
		}
		if sub := form.find("scope").First().Text(); !strings.Contains(sub, "up to 45 min") {
			t.Fatalf("the list of scopes offers more than the ceiling: %q", sub)
		}
		if e := form.find("submit-emergency").Text(); e != "Take emergency access for 45 min" {
			t.Fatalf("emergency button: %q", e)
		}
		// 1 h is within the policy but above the ceiling: refused, and the button does not offer it.
		p := rh.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"1h"}, "justification": {"Mailbox full"}})
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("error-duration").Text(), "45 min") ||
			p.find("submit-request").Text() != "Request access" {
			t.Fatalf("1h under a 45 min ceiling: %d %q, button %q", p.StatusCode, p.find("error-duration").Text(), p.find("submit-request").Text())
		}
		if p := rh.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"45m"}, "justification": {"Mailbox full"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("45m: %d %s", p.StatusCode, p.find("error-duration").Text())
		}
	})
}

// A scope's link on the request page keeps the search as typed, whatever its characters, and
// opens the form at #chosen: "C# & F+" comes back as "C# & F+", not as "C".
func TestScopeLinkKeepsTheSearch(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		role, err := a.admin.CreateRole(ctx, audit.System, "C# & F+ tools", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.admin.AddRoleTask(ctx, audit.System, role.ID, es.task.Key); err != nil {
			t.Fatal(err)
		}
		p := pam.NewPolicy(pam.ScopeRole, role.ID)
		p.ApproverGroupID = es.policy.ApproverGroupID
		if p, err = a.admin.CreatePolicy(ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		rh := a.client()
		rh.signIn("rhea@example.com", goodPassword)
		const q = "C# & F+"
		page := rh.get("/requests/new?q=" + url.QueryEscape(q))
		href := page.find("scope").AttrOr("href", "")
		link, err := url.Parse(href)
		if page.find("scope").Length() != 1 || err != nil || link.Query().Get("q") != q || link.Query().Get("policy") != p.ID || link.Fragment != "chosen" {
			t.Fatalf("scope link %q (%d found): %v", href, page.find("scope").Length(), err)
		}
		if chosen := rh.get(link.RequestURI()); chosen.find("search").AttrOr("value", "") != q || chosen.find("submit-request").Length() != 1 {
			t.Fatalf("following it: search %q", chosen.find("search").AttrOr("value", ""))
		}
	})
}
