package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// submitVia posts the request form and returns the new request's page path.
func (c *client) submitVia(policyID, duration string) string {
	c.t.Helper()
	p := c.post("/requests", url.Values{"policy_id": {policyID}, "duration": {duration}, "justification": {"INC-9 mailbox full"}})
	if p.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("submit: %d %s", p.StatusCode, p.find("form-error").Text())
	}
	return p.Header.Get("Location")
}

// TestRequestFormWarnsBeforeAskingAgain: the form warns, before a second ask, about a request
// for the same scope still pending and, once it is approved, about the grant in force, with a
// link to ask for more time instead. It warns about nothing of someone else's, nor once the
// grant has ended, nor on the extension form itself. Without JavaScript: it is in the page.
func TestRequestFormWarnsBeforeAskingAgain(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		form := "/requests/new?policy=" + es.policy.ID

		req := a.client()
		req.signIn("rhea@example.com", goodPassword)
		if w := req.get(form).find("held-warning"); w.Length() != 0 {
			t.Fatalf("warning before any request: %q", w.Text())
		}
		reqURL := req.submitVia(es.policy.ID, "2h")
		id := strings.TrimPrefix(reqURL, "/requests/")

		page := req.get(form)
		w := page.find("held-warning")
		if !strings.Contains(w.Text(), "You already asked for this") || page.find("held-extend").Length() != 0 {
			t.Fatalf("warning while pending: %q", w.Text())
		}
		if href, _ := page.find("held-request").Attr("href"); href != reqURL {
			t.Fatalf("pending warning links to %q, want %q", href, reqURL)
		}
		// An approver choosing the same scope has nothing of their own to be warned about.
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		if w := ap.get(form).find("held-warning"); w.Length() != 0 {
			t.Fatalf("approver warned: %q", w.Text())
		}
		if p := ap.post(reqURL+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("approve: %d", p.StatusCode)
		}

		// Approved at the clock's 09:00 UTC for 2 h: "You hold this until 11:00 (UTC)".
		page = req.get(form)
		end := a.clock.Now().Add(2 * time.Hour).UTC().Format("15:04")
		w = page.find("held-warning")
		if !strings.Contains(w.Text(), "You hold this until "+end+" (UTC). Ask for more time instead?") {
			t.Fatalf("warning while in force: %q", w.Text())
		}
		// My requests says how long the grant has left beside "In force".
		if list := req.get("/requests").find("requests").Text(); !strings.Contains(list, "until "+end+", 2 h left") {
			t.Fatalf("my requests while in force: %q", list)
		}
		if href, _ := page.find("held-extend").Attr("href"); href != "/requests/new?extend="+id {
			t.Fatalf("extend link %q", href)
		}
		// The extension form itself does not warn about the grant it extends.
		if w := req.get("/requests/new?extend=" + id).find("held-warning"); w.Length() != 0 {
			t.Fatalf("extension form warned: %q", w.Text())
		}
		// A second ask is still possible: the warning warns, it does not forbid.
		if page.find("submit-request").Length() != 1 {
			t.Fatal("no submit button under the warning")
		}

		// Once the grant is ended there is nothing to warn about.
		req.get(reqURL)
		if p := req.post(reqURL+"/end", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("end: %d", p.StatusCode)
		}
		if w := req.get(form).find("held-warning"); w.Length() != 0 {
			t.Fatalf("warning after the end: %q", w.Text())
		}
	})
}

// TestCopySaysMailIsQueuedWithoutSMTP: with no SMTP server the pages say mail is queued, not
// sent; with one they say approvers were mailed.
func TestCopySaysMailIsQueuedWithoutSMTP(t *testing.T) {
	for _, tc := range []struct {
		name          string
		opts          []appOption
		flash, banner string
		not           string
		inbox         string // an approver's empty inbox
	}{
		{"no SMTP", nil, "Approvers will be mailed when mail is set up; they can see it in Approvals now.",
			"mail goes out once it is set up", "have been mailed", "New ones show here as they come."},
		{"SMTP", []appOption{func(c *config.Config) { c.SMTP = &config.SMTP{Host: "127.0.0.1", Port: 2525} }},
			"Approvers have been mailed", "Approvers are mailed at once.", "when mail is set up", "You will get a mail when one does."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, "sqlite", tc.opts...)
			a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
			olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
			es := a.mustEstate(1, olivia)
			approver := a.client()
			approver.signIn("olivia@example.com", goodPassword)
			if empty := approver.get("/approvals").find("inbox-empty").Text(); !strings.Contains(empty, tc.inbox) {
				t.Fatalf("empty inbox says %q; want %q", strings.TrimSpace(empty), tc.inbox)
			}
			req := a.client()
			req.signIn("rhea@example.com", goodPassword)
			form := req.get("/requests/new")
			if !strings.Contains(form.body, tc.banner) {
				t.Fatalf("request page does not say %q", tc.banner)
			}
			reqURL := req.submitVia(es.policy.ID, "1h")
			page := req.get(reqURL)
			flash := page.find("flash").Text()
			if !strings.Contains(flash, tc.flash) || strings.Contains(flash, tc.not) || strings.Contains(form.body, tc.not) {
				t.Fatalf("flash %q; want %q and not %q", flash, tc.flash, tc.not)
			}
		})
	}
}

// TestGrammarAndNavigationOnRequestPages: the requester reads "You ask for", counts agree with
// their nouns, and an approver who opens someone else's request sees Approvals highlighted.
func TestGrammarAndNavigationOnRequestPages(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	otto := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
	es := a.mustEstate(2, olivia, otto)
	req := a.client()
	req.signIn("rhea@example.com", goodPassword)
	reqURL := req.submitVia(es.policy.ID, "1h")

	mine := req.get(reqURL)
	card := strings.Join(strings.Fields(mine.find("request-card").Text()), " ")
	if !strings.Contains(card, "You ask for") || strings.Contains(card, "You asks") {
		t.Fatalf("requester's card: %q", card)
	}
	if st := mine.find("card-state").Text(); st != "Waits for 2 more approvals" {
		t.Fatalf("state line %q", st)
	}
	// Beside "just now", the exact time: on the card and on every timeline entry.
	asked := a.clock.Now().UTC().Format("2006-01-02 15:04") + " UTC"
	if ex := mine.find("time-exact"); ex.Length() < 3 || !strings.Contains(ex.First().Text(), asked) ||
		!strings.Contains(mine.find("timeline").Text(), asked) {
		t.Fatalf("exact times: %d, %q; want %q", ex.Length(), ex.Text(), asked)
	}
	if cur, _ := mine.find("nav-requests").Attr("aria-current"); cur != "page" {
		t.Fatalf("requester's own request: My requests not current (%q)", cur)
	}

	ap := a.client()
	ap.signIn("olivia@example.com", goodPassword)
	theirs := ap.get(reqURL)
	if cur, _ := theirs.find("nav-approvals").Attr("aria-current"); cur != "page" {
		t.Fatalf("approver on someone else's request: Approvals not current (%q)", cur)
	}
	if cur, ok := theirs.find("nav-requests").Attr("aria-current"); ok {
		t.Fatalf("approver on someone else's request: My requests current (%q)", cur)
	}
	if !strings.Contains(strings.Join(strings.Fields(theirs.find("request-card").Text()), " "), "Rhea Requester asks for") {
		t.Fatalf("approver's card: %q", theirs.find("request-card").Text())
	}
	p := ap.post(reqURL+"/review", url.Values{"decision": {"approve"}})
	if f := ap.get(p.Header.Get("Location")).find("flash").Text(); !strings.Contains(f, "It needs 1 more approval.") {
		t.Fatalf("flash after the first of two approvals: %q", f)
	}
	for _, body := range []string{mine.body, theirs.body} {
		if strings.Contains(body, "(s)") {
			t.Fatal("a page still says (s)")
		}
	}
}

// TestEndMyAccessOnThePageAndTheAPI: the requester's grant in force offers "End my access now";
// posting it ends the grant, the next check is denied, and the page shows it ended early. The
// API twin does the same for another grant; an approver can do neither (they revoke).
func TestEndMyAccessOnThePageAndTheAPI(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		checkToken := root.makeToken("runspace", "check")

		req := a.client()
		req.signIn("rhea@example.com", goodPassword)
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		grant := func() string {
			u := req.submitVia(es.policy.ID, "2h")
			ap.get(u)
			if p := ap.post(u+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("approve: %d", p.StatusCode)
			}
			return u
		}
		reqURL := grant()
		if d := a.checkAPI(checkToken, "rhea@example.com", es.task.Key); d["allowed"] != true {
			t.Fatalf("check in force: %v", d)
		}
		if ap.get(reqURL).find("end-form").Length() != 0 {
			t.Fatal("the approver is offered End my access")
		}
		if p := ap.post(reqURL+"/end", nil); p.StatusCode == http.StatusSeeOther && p.Header.Get("Location") == reqURL {
			if d := a.checkAPI(checkToken, "rhea@example.com", es.task.Key); d["allowed"] != true {
				t.Fatal("an approver's end ended the grant")
			}
		}
		page := req.get(reqURL)
		if page.find("end-form").Length() != 1 || page.find("end").Text() == "" {
			t.Fatal("no End my access on the requester's grant in force")
		}
		p := req.post(reqURL+"/end", nil)
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != reqURL {
			t.Fatalf("end: %d %s", p.StatusCode, p.Header.Get("Location"))
		}
		if d := a.checkAPI(checkToken, "rhea@example.com", es.task.Key); d["allowed"] != false || d["reason"] != "no grant in force" {
			t.Fatalf("check after the end: %v", d)
		}
		page = req.get(reqURL)
		if st := page.find("card-status").Text(); st != "Ended early" || page.find("end-form").Length() != 0 ||
			!strings.Contains(page.find("flash").Text(), "has ended") {
			t.Fatalf("after the end: %q, end form %d, flash %q", st, page.find("end-form").Length(), page.find("flash").Text())
		}
		if n := len(a.events("request.ended")); n != 1 {
			t.Fatalf("%d request.ended events", n)
		}
		// Ending it again is a conflict, told on the page.
		if p := req.post(reqURL+"/end", nil); p.StatusCode != http.StatusSeeOther || !strings.Contains(req.get(reqURL).find("flash").Text(), "already ended") {
			t.Fatalf("second end: %d", p.StatusCode)
		}

		// The API twin.
		second := strings.TrimPrefix(grant(), "/requests/")
		token := req.makeToken("laptop", "api")
		if code, out := a.apiCall("POST", "/api/v1/requests/"+second+"/end", token, nil); code != http.StatusOK || out["status"] != "ended" || out["in_force"] != false {
			t.Fatalf("API end: %d %v", code, out)
		}
		if d := a.checkAPI(checkToken, "rhea@example.com", es.task.Key); d["allowed"] != false {
			t.Fatalf("check after the API end: %v", d)
		}
		if code, _ := a.apiCall("POST", "/api/v1/requests/"+second+"/end", token, nil); code != http.StatusConflict {
			t.Fatalf("API end twice: %d", code)
		}
		apToken := ap.makeToken("ap", "api")
		third := strings.TrimPrefix(grant(), "/requests/")
		if code, _ := a.apiCall("POST", "/api/v1/requests/"+third+"/end", apToken, nil); code != http.StatusForbidden {
			t.Fatalf("approver's API end: %d", code)
		}
	})
}

// TestRequestDurationOutOfRangeTellsThePolicyRange: a duration written well but zero or beyond
// any bound ("0", "0m", "400d") is answered with the policy's range, as the help under the
// field gives it, not with the reader's bound of a year; a badly written one is told its form.
func TestRequestDurationOutOfRangeTellsThePolicyRange(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	es := a.mustEstate(1, olivia)
	req := a.client()
	req.signIn("rhea@example.com", goodPassword)
	longest := pam.FormatDuration(es.policy.Longest(24 * time.Hour))
	for typed, want := range map[string]string{
		"0":            "Choose a duration between 5 min and " + longest + ".",
		"0m":           "Choose a duration between 5 min and " + longest + ".",
		"400d":         "Choose a duration between 5 min and " + longest + ".",
		"999999999999": "Choose a duration between 5 min and " + longest + ".",
		"soon":         "Write a duration in whole numbers, like 30m, 4h, 1h30m or 2d.",
	} {
		p := req.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {typed}, "justification": {"Mailbox full"}})
		if got := p.find("error-duration").Text(); p.StatusCode != http.StatusUnprocessableEntity || got != want {
			t.Errorf("%q: %d %q, want %q", typed, p.StatusCode, got, want)
		}
		if got := p.find("field-duration").AttrOr("value", ""); got != typed {
			t.Errorf("%q: the field comes back with %q", typed, got)
		}
	}
}

// Someone who decides nothing is told so by their empty inbox, rather than promised requests
// that cannot come; an approver with none waiting is not.
func TestEmptyInboxOfSomeoneWhoDecidesNothing(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	a.mustEstate(1, olivia)
	for email, decides := range map[string]bool{"rhea@example.com": false, "olivia@example.com": true} {
		c := a.client()
		c.signIn(email, goodPassword)
		empty := c.get("/approvals").find("inbox-empty").Text()
		if strings.Contains(empty, "you do not approve any") == decides {
			t.Errorf("%s's empty inbox says %q", email, strings.TrimSpace(empty))
		}
	}
}

// A refused request keeps the scope search it was chosen from: the search box and the list
// come back as they were, with the typed input.
func TestRefusedRequestKeepsItsScopeSearch(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	es := a.mustEstate(1, olivia)
	rc := a.client()
	rc.signIn("rhea@example.com", goodPassword)
	form := rc.get("/requests/new?q=mailbox&policy=" + es.policy.ID)
	if form.find("request-form").Find(`input[name="q"]`).AttrOr("value", "") != "mailbox" {
		t.Fatal("the request form does not carry the search")
	}
	p := rc.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"forever"}, "justification": {"INC-9"}, "q": {"mailbox"}})
	if p.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a bad duration: %d", p.StatusCode)
	}
	if got := p.find("search").AttrOr("value", ""); got != "mailbox" {
		t.Fatalf("search box after the refusal: %q", got)
	}
	if got := p.find("field-justification").Text(); got != "INC-9" {
		t.Fatalf("justification after the refusal: %q", got)
	}
}
