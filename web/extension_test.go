package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// extensionCase is a requester (Rhea, in Europe/Paris) holding a 1 h grant, approved by Olivia
// at the clock's start, with a 2 h extension approved 20 minutes later and lined up behind it.
type extensionCase struct {
	a                *app
	rc, oc           *client
	es               estate
	checkToken       string
	grant, ext       string
	grantEnd, extEnd time.Time
	paris            *time.Location
}

func newExtensionCase(t *testing.T, dialect string) extensionCase {
	t.Helper()
	a := newAppWithMail(t, dialect)
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	x := extensionCase{a: a, es: a.mustEstate(1, olivia)}
	root := a.client()
	root.signIn("root@example.com", goodPassword)
	x.checkToken = root.makeToken("runspace", "check")
	x.rc, x.oc = a.client(), a.client()
	x.rc.signIn("rhea@example.com", goodPassword)
	x.oc.signIn("olivia@example.com", goodPassword)
	x.rc.get("/profile")
	if p := x.rc.post("/profile/timezone", url.Values{"time_zone": {"Europe/Paris"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("time zone: %d", p.StatusCode)
	}
	x.paris, _ = time.LoadLocation("Europe/Paris")
	ask := func(form url.Values) string {
		t.Helper()
		p := x.rc.post("/requests", form)
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("submit %v: %d %s", form, p.StatusCode, p.find("form-error").Text())
		}
		return strings.TrimPrefix(p.Header.Get("Location"), "/requests/")
	}
	approve := func(id string) {
		t.Helper()
		x.oc.get("/requests/" + id)
		if p := x.oc.post("/requests/"+id+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("approve %s: %d", id, p.StatusCode)
		}
	}
	x.rc.get("/requests/new?policy=" + x.es.policy.ID)
	x.grant = ask(url.Values{"policy_id": {x.es.policy.ID}, "duration": {"1h"}, "justification": {"INC-7"}})
	approve(x.grant)
	x.grantEnd = a.clock.Now().Add(time.Hour)
	a.clock.Advance(20 * time.Minute)
	x.rc.get("/requests/new?extend=" + x.grant)
	x.ext = ask(url.Values{"policy_id": {x.es.policy.ID}, "duration": {"2h"}, "justification": {"still fixing"}, "extends": {x.grant}})
	approve(x.ext)
	x.extEnd = x.grantEnd.Add(2 * time.Hour)
	return x
}

// leftOver stores a pending request for more time on the grant beside the lined-up one
// (testkit.LeftOverExtension) and returns its id.
func (x extensionCase) leftOver(t *testing.T, d time.Duration) string {
	t.Helper()
	ctx := context.Background()
	grant, err := x.a.db.RequestByID(ctx, x.grant)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := testkit.LeftOverExtension(ctx, x.a.db, grant, d, x.a.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ext.ID
}

// TestEndingALinedUpExtensionKeepsTheGrant: on a scheduled extension the requester's end
// says what it does (the extra time never starts; the current grant runs until its end, in
// the viewer's zone), and so do the flash after it and the approvers' mail; the check still
// allows. Once the extension has started, ending it stops access at once, and all say so.
func TestEndingALinedUpExtensionKeepsTheGrant(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		x := newExtensionCase(t, dialect)
		end := x.grantEnd.In(x.paris).Format("15:04")

		p := x.rc.get("/requests/" + x.ext)
		text := p.find("end-text").Text()
		if strings.Contains(text, "stops at once") || !strings.Contains(text, "runs until "+end+" (Europe/Paris)") {
			t.Fatalf("end of a lined-up extension says %q", text)
		}
		if got := p.find("end").Text(); got != "Yes, give up the extra time" {
			t.Fatalf("end button %q", got)
		}
		if p := x.rc.post("/requests/"+x.ext+"/end", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("end: %d", p.StatusCode)
		}
		if d := x.a.checkAPI(x.checkToken, "rhea@example.com", x.es.task.Key); d["allowed"] != true {
			t.Fatalf("check after giving up the extension: %v", d)
		}
		if f := x.rc.get("/requests/" + x.ext).find("flash").Text(); !strings.Contains(f, "still runs until "+end+" (Europe/Paris)") || strings.Contains(f, "denied") {
			t.Fatalf("flash %q", f)
		}
		// Its approvers are told the same.
		ms := x.a.messages(x.ext, "request.ended")
		if len(ms) == 0 {
			t.Fatal("no mail to the approvers")
		}
		for _, m := range ms {
			if strings.Contains(m.Text, "no longer works") || !strings.Contains(m.Text, "runs to its own end") {
				t.Fatalf("mail for an extension given up: %q\n%s", m.Subject, m.Text)
			}
		}

		// Another extension, once it has started, stops at once when ended.
		x.rc.get("/requests/new?extend=" + x.grant)
		p = x.rc.post("/requests", url.Values{"policy_id": {x.es.policy.ID}, "duration": {"1h"}, "justification": {"again"}, "extends": {x.grant}})
		second := strings.TrimPrefix(p.Header.Get("Location"), "/requests/")
		x.oc.get("/requests/" + second)
		x.oc.post("/requests/"+second+"/review", url.Values{"decision": {"approve"}})
		for range 3 { // past the grant's end, with both sessions kept alive
			x.a.clock.Advance(15 * time.Minute)
			x.rc.get("/")
			x.oc.get("/")
		}
		if text := x.rc.get("/requests/" + second).find("end-text").Text(); !strings.Contains(text, "stops at once") {
			t.Fatalf("end of an extension in force says %q", text)
		}
		x.rc.post("/requests/"+second+"/end", nil)
		if d := x.a.checkAPI(x.checkToken, "rhea@example.com", x.es.task.Key); d["allowed"] != false {
			t.Fatalf("check after ending the extension in force: %v", d)
		}
		if f := x.rc.get("/requests/" + second).find("flash").Text(); !strings.Contains(f, "Checks are denied from now on") {
			t.Fatalf("flash after ending the extension in force: %q", f)
		}
		if ms := x.a.messages(second, "request.ended"); len(ms) == 0 || !strings.Contains(ms[0].Text, "no longer works") {
			t.Fatalf("mail for an extension ended in force: %v", ms)
		}
	})
}

// TestExtensionFormNamesTheGrant: the form that asks for more time says so in its title,
// names the grant in force and its end in the viewer's zone, and its duration help says the
// extra time starts where that grant ends, not at approval.
func TestExtensionFormNamesTheGrant(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		x := newExtensionCase(t, dialect)
		// The time lined up behind the grant is given up first: more time is asked once at a time.
		x.rc.get("/requests/" + x.ext)
		if p := x.rc.post("/requests/"+x.ext+"/end", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("give up the extension: %d", p.StatusCode)
		}
		end := x.grantEnd.In(x.paris).Format("15:04") + " (Europe/Paris)"
		p := x.rc.get("/requests/new?extend=" + x.grant)
		if got := p.find("page-title").Text(); got != "Ask for more time" {
			t.Fatalf("title %q", got)
		}
		if got := p.doc.Find("title").Text(); !strings.Contains(got, "Ask for more time") {
			t.Fatalf("document title %q", got)
		}
		if sub := p.find("page-title").Next().Text(); !strings.Contains(sub, "More time on your grant of Mailbox admin, which is in force until "+end) {
			t.Fatalf("subtitle %q", sub)
		}
		note := p.find("extending")
		if href, _ := note.Find("a").Attr("href"); !strings.Contains(note.Text(), "until "+end) || href != "/requests/"+x.grant {
			t.Fatalf("extending note %q, link %q", note.Text(), href)
		}
		help := p.find("request-form").Text()
		if strings.Contains(help, "counts from approval") || !strings.Contains(help, "starts where your current grant ends, at "+end) {
			t.Fatalf("request form %q", help)
		}
		// A new request keeps its own words.
		p = x.rc.get("/requests/new?policy=" + x.es.policy.ID)
		if p.find("page-title").Text() != "Request access" || p.find("extending").Length() != 0 || !strings.Contains(p.find("request-form").Text(), "counts from approval") {
			t.Fatalf("new request form: %q", p.find("page-title").Text())
		}
	})
}

// TestExtensionsShowAsSuch: the grant's page links the extension lined up behind it with its
// end (in the viewer's zone) and a request for more time still waiting; My requests, the inbox's
// line and its card label an extension "Extension", and nothing else.
func TestExtensionsShowAsSuch(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		x := newExtensionCase(t, dialect)
		// A second request for more time waits beside the lined-up one, as older versions let
		// a requester ask (TestOneRequestForMoreTimeAtATime).
		pending := x.leftOver(t, 30*time.Minute)

		exts := x.rc.get("/requests/" + x.grant).find("card-extensions").Find("a")
		want := "until " + x.extEnd.In(x.paris).Format("15:04") + " (Europe/Paris)"
		if exts.Length() != 2 || !strings.Contains(exts.First().Text(), want) || exts.First().AttrOr("href", "") != "/requests/"+x.ext {
			t.Fatalf("grant's extensions: %d %q", exts.Length(), exts.Text())
		}
		if !strings.Contains(exts.Last().Text(), "waiting for approval") || exts.Last().AttrOr("href", "") != "/requests/"+pending {
			t.Fatalf("pending extension on the grant's page: %q", exts.Last().Text())
		}
		if x.rc.get("/requests/"+x.ext).find("card-extensions").Length() != 0 {
			t.Fatal("an extension with none of its own lists extensions")
		}

		rows := x.rc.get("/requests").find("requests").Find("tbody tr")
		labelled := 0
		rows.Each(func(_ int, r *goquery.Selection) {
			href := r.Find("a").First().AttrOr("href", "")
			has := r.Find(`[data-testid="extension-label"]`).Length() == 1
			if has != (href != "/requests/"+x.grant) {
				t.Errorf("my requests: %s labelled %v", href, has)
			}
			if has {
				labelled++
			}
		})
		if labelled != 2 {
			t.Fatalf("my requests label %d extensions", labelled)
		}

		row := x.oc.get("/approvals").find("inbox-row")
		if row.Length() != 1 || row.Find(`[data-testid="extension-label"]`).Text() != "Extension" {
			t.Fatalf("inbox line: %q", row.Text())
		}
		card := x.oc.getHX("/approvals/" + pending + "/card")
		if card.find("extension-label").Length() != 1 || !strings.Contains(card.find("request-card").Text(), "Rhea Requester asks for more time on") {
			t.Fatalf("inbox card: %q", card.find("request-card").Text())
		}
	})
}

// TestDecidedShowsTheStateAsMyRequestsDoes: a grant in force reads "In force" with its end
// under "Decided by you recently", as in its requester's My requests, not "Approved".
func TestDecidedShowsTheStateAsMyRequestsDoes(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		x := newExtensionCase(t, dialect)
		var mine, decided string
		x.rc.get("/requests").find("requests").Find("tbody tr").Each(func(_ int, r *goquery.Selection) {
			if r.Find("a").First().AttrOr("href", "") == "/requests/"+x.grant {
				mine = r.Find(`[data-testid="badge"]`).Text()
			}
		})
		x.oc.get("/approvals").find("decided").Find("tbody tr").Each(func(_ int, r *goquery.Selection) {
			if r.Find("a").First().AttrOr("href", "") == "/requests/"+x.grant {
				decided = r.Find(`[data-testid="badge"]`).Text()
				if want := "until " + x.grantEnd.UTC().Format("15:04"); !strings.Contains(r.Text(), want) {
					t.Errorf("decided row %q lacks %q", r.Text(), want)
				}
			}
		})
		if mine != "In force" || decided != mine {
			t.Fatalf("my requests say %q, decided by you says %q", mine, decided)
		}
	})
}

// backLink is the page header's "← …" link: its text and where it goes.
func backLink(p page) (string, string) {
	l := p.doc.Find("main a").FilterFunction(func(_ int, a *goquery.Selection) bool {
		return strings.HasPrefix(a.Text(), "←")
	}).First()
	return strings.TrimSpace(l.Text()), l.AttrOr("href", "")
}

// TestAuditorsGoBackToTheAuditTrail: an auditor who does not decide a request goes back from
// its page to the audit trail, where they found it; its approver goes back to Approvals and its
// requester to My requests.
func TestAuditorsGoBackToTheAuditTrail(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		x := newExtensionCase(t, dialect)
		aud := x.a.mustUser("aud@example.com", "Audrey Auditor", goodPassword, false)
		if _, err := x.a.admin.ChangeUser(context.Background(), actorCLI, aud.ID, admin.MakeAuditor); err != nil {
			t.Fatal(err)
		}
		ac := x.a.client()
		ac.signIn("aud@example.com", goodPassword)
		for _, tc := range []struct {
			who         *client
			label, href string
		}{{ac, "← Audit", "/audit"}, {x.oc, "← Approvals", "/approvals"}, {x.rc, "← My requests", "/requests"}} {
			p := tc.who.get("/requests/" + x.grant)
			if p.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", tc.label, p.StatusCode)
			}
			if label, href := backLink(p); label != tc.label || href != tc.href {
				t.Errorf("back link %q to %q, want %q to %q", label, href, tc.label, tc.href)
			}
		}
	})
}

// TestWordsForTakenAndForTheRequester: emergency access already taken reads "took", not "asks
// for", and a decided request "asked for"; a grant the system revoked because its requester left the eligible group tells the
// requester "you left", on the card and in the timeline, and everyone else "the requester left";
// a grant its requester ended says "by you" to them.
func TestWordsForTakenAndForTheRequester(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		x := newExtensionCase(t, dialect)
		p, now := x.es.policy, x.a.clock.Now()
		rhea, _, err := x.a.db.UserByEmail(context.Background(), "rhea@example.com")
		if err != nil {
			t.Fatal(err)
		}
		row := func(id string, edit func(*pam.Request)) string {
			t.Helper()
			start, end := now.Add(-10*time.Minute), now.Add(50*time.Minute)
			r := pam.Request{ID: id, RequesterID: rhea.ID, PolicyID: p.ID, ScopeType: p.ScopeType, ScopeID: p.ScopeID,
				ScopeName: "Mailbox admin", ApprovalType: pam.ApprovalManual, ApproverGroupID: p.ApproverGroupID, ApprovalsRequired: 1,
				Duration: time.Hour, Justification: "Why.", Status: pam.StatusApproved, CreatedAt: start, PendingUntil: end,
				DecidedAt: &start, StartsAt: &start, EndsAt: &end}
			edit(&r)
			if err := x.a.db.CreateRequest(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			return "/requests/" + id
		}
		words := func(c *client, path string) string {
			t.Helper()
			return strings.Join(strings.Fields(c.get(path).find("card-requester").Parent().Text()), " ")
		}
		taken := row("00000000-0000-4000-b000-000000000001", func(r *pam.Request) { r.Emergency = true })
		if got := words(x.oc, taken); !strings.Contains(got, "Rhea Requester took emergency access to") || strings.Contains(got, "asks for") {
			t.Fatalf("emergency card for the approver: %q", got)
		}
		if got := words(x.rc, taken); !strings.Contains(got, "You took emergency access to") {
			t.Fatalf("emergency card for the requester: %q", got)
		}

		revoked := row("00000000-0000-4000-b000-000000000002", func(r *pam.Request) {
			r.Status, r.RevokedBy, r.RevokeReason = pam.StatusRevoked, pam.SystemID, pam.RevokeLeftGroup
		})
		mine := x.rc.get(revoked)
		if got := mine.find("card-state").Text(); got != "Revoked: No longer eligible: you left the policy's eligible group." {
			t.Fatalf("requester's state line %q", got)
		}
		if tl := mine.find("timeline").Text(); !strings.Contains(tl, "you left") || strings.Contains(tl, "the requester left") {
			t.Fatalf("requester's timeline %q", tl)
		}
		if got := x.oc.get(revoked).find("card-state").Text(); got != "Revoked: No longer eligible: the requester left the policy's eligible group." {
			t.Fatalf("approver's state line %q", got)
		}

		ended := row("00000000-0000-4000-b000-000000000003", func(r *pam.Request) { r.Status = pam.StatusEnded })
		if got := x.rc.get(ended).find("card-state").Text(); !strings.HasPrefix(got, "Ended early by you at ") {
			t.Fatalf("requester's ended line %q", got)
		}
		if got := x.oc.get(ended).find("card-state").Text(); !strings.HasPrefix(got, "Ended early by the requester at ") {
			t.Fatalf("approver's ended line %q", got)
		}

		// A decided request asked; only a pending one still asks.
		if got := words(x.oc, revoked); !strings.Contains(got, "Rhea Requester asked for") {
			t.Fatalf("revoked card for the approver: %q", got)
		}
		if got := words(x.rc, ended); !strings.Contains(got, "You asked for") {
			t.Fatalf("ended card for the requester: %q", got)
		}
		denied := row("00000000-0000-4000-b000-000000000004", func(r *pam.Request) {
			r.Status, r.ExtendsID, r.StartsAt, r.EndsAt = pam.StatusDenied, strings.TrimPrefix(ended, "/requests/"), nil, nil
		})
		if got := words(x.oc, denied); !strings.Contains(got, "Rhea Requester asked for more time on") {
			t.Fatalf("denied extension for the approver: %q", got)
		}
	})
}

// More time is asked for one request at a time: each starts where the grant ends, so a second
// would cover the same hours as the first. While one waits or is lined up, the grant offers no
// other, and one asked all the same is refused with why; through the API too.
func TestOneRequestForMoreTimeAtATime(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		x := newExtensionCase(t, dialect)
		again := func(want string) {
			t.Helper()
			if g := x.rc.get("/requests/" + x.grant); g.find("extend").Length() != 0 {
				t.Fatalf("the grant still offers more time while %s", want)
			}
			// The form is not offered either: its address leads back to the grant, saying why.
			if f := x.rc.get("/requests/new?extend=" + x.grant); f.StatusCode != http.StatusSeeOther || f.Header.Get("Location") != "/requests/"+x.grant {
				t.Fatalf("the form for more time while %s: %d %q", want, f.StatusCode, f.Header.Get("Location"))
			}
			if flash := x.rc.get("/requests/" + x.grant).find("flash").Text(); !strings.Contains(flash, want) {
				t.Fatalf("the grant's page says %q", flash)
			}
			p := x.rc.post("/requests", url.Values{"policy_id": {x.es.policy.ID}, "duration": {"2h"}, "justification": {"more"}, "extends": {x.grant}})
			if p.StatusCode == http.StatusSeeOther || !strings.Contains(p.doc.Text(), want) {
				t.Fatalf("a second request for more time: %d %q", p.StatusCode, p.find("form-error").Text())
			}
		}
		again("already approved and follows it")

		// Once the lined-up time is given up, more can be asked; while that waits, no more.
		x.rc.get("/requests/" + x.ext)
		if p := x.rc.post("/requests/"+x.ext+"/end", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("give up the extension: %d", p.StatusCode)
		}
		if g := x.rc.get("/requests/" + x.grant); g.find("extend").Length() != 1 {
			t.Fatal("the grant offers no more time once its extension is given up")
		}
		x.rc.get("/requests/new?extend=" + x.grant)
		if p := x.rc.post("/requests", url.Values{"policy_id": {x.es.policy.ID}, "duration": {"1h"}, "justification": {"more"}, "extends": {x.grant}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("ask again: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		again("already asked for more time")
		tok := x.rc.makeToken("cli", "api")
		code, out := x.a.apiCall("POST", "/api/v1/requests", tok, map[string]any{"extends": x.grant, "duration_min": 60, "justification": "more"})
		if code != http.StatusConflict {
			t.Fatalf("through the API: %d %v", code, out)
		}
	})
}

// TestDashboardTellsAPendingExtensionFromItsGrant: beside the grant in force, a request for
// more time on it waits under the same scope's name and says it is more time.
func TestDashboardTellsAPendingExtensionFromItsGrant(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	es := a.mustEstate(1, olivia)
	rc, oc := a.client(), a.client()
	rc.signIn("rhea@example.com", goodPassword)
	oc.signIn("olivia@example.com", goodPassword)
	grant := strings.TrimPrefix(rc.submitVia(es.policy.ID, "1h"), "/requests/")
	oc.get("/requests/" + grant)
	if p := oc.post("/requests/"+grant+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d", p.StatusCode)
	}
	rc.get("/requests/new?extend=" + grant)
	if p := rc.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"2h"}, "justification": {"still fixing"}, "extends": {grant}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("extend: %d %s", p.StatusCode, p.find("form-error").Text())
	}
	waiting := strings.Join(strings.Fields(rc.get("/").find("waiting").Text()), " ")
	if !strings.Contains(waiting, "2 h more time; 0 of 1 approvals") {
		t.Fatalf("waiting: %q", waiting)
	}
}
