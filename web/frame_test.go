package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// statements returns what the database ran while the client loaded path, and the page.
func (c *client) statements(path string) (uint64, page) {
	c.t.Helper()
	before := c.app.db.Counts().Statements
	p := c.get(path)
	return c.app.db.Counts().Statements - before, p
}

// A signed-in page pays one statement for its session, user, frame (the enrolment rule's
// facts) and the navigation's count together; the rest is the page's own. The approver here is
// as costly a viewer as there is: enrolled, under required enrolment, with a request waiting.
func TestSignedInPagesSpendOneStatementOnTheirFrame(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		root.enrol()
		rhea := a.client()
		rhea.signIn("rhea@example.com", goodPassword)
		rhea.get("/requests/new")
		if p := rhea.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"1h"}, "justification": {"INC-1"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("submit: %d", p.StatusCode)
		}
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		ap.enrol()
		if err := a.db.SetValue(ctx, auth.RequireMFAEnrolmentKey, "true", a.clock.Now()); err != nil {
			t.Fatal(err)
		}

		// Beyond its frame (session, user, enrolment facts and the navigation's count: one
		// statement), the profile reads the viewer's own two-step status (the enrolment with its
		// unused recovery codes) and their delegation in force or scheduled; the dashboard the viewer's grants and pending
		// requests (and, for a pending one, its people and reviews), then the open access reviews
		// they review (one indexed statement); the inbox its page with the
		// count of all of it (which the navigation shows, so the frame skips it) and what the
		// viewer decided; an audit event page the event and whether a later one exists, then the
		// names of what it points at (one statement for every kind of target). Before
		// the frame these were 6, 8, 5 and 8; before the count joined it, 4, 4, 3 and 6; before the
		// inbox's table, 8 for the inbox; before the event's one read, 4 for the event; before the
		// two-step status's one read, 3 for the enrolled approver's profile.
		const frame = 1
		for _, want := range []struct {
			who  string
			c    *client
			path string
			own  uint64
		}{
			{"enrolled approver", ap, "/profile", 2}, {"enrolled approver", ap, "/", 3},
			{"requester", rhea, "/profile", 2}, {"requester", rhea, "/", 5},
			{"enrolled approver", ap, "/approvals", 2}, {"admin", root, "/audit/1", 2},
		} {
			want.c.get(want.path) // the idle clock stays put from here on
			n, p := want.c.statements(want.path)
			if p.StatusCode != http.StatusOK {
				t.Fatalf("%s: GET %s: %d", want.who, want.path, p.StatusCode)
			}
			if n > frame+want.own {
				t.Errorf("%s: GET %s ran %d statements, want at most %d + %d", want.who, want.path, n, frame, want.own)
			}
		}

		// The badge counts what the inbox lists.
		inbox := ap.get("/approvals")
		if cards := inbox.find("inbox-row").Length(); cards != 1 || strings.TrimSpace(strings.TrimPrefix(inbox.find("nav-approvals").First().Text(), "Approvals")) != "1" {
			t.Fatalf("inbox: %d cards, badge %q", cards, inbox.find("nav-approvals").Text())
		}
		if n, err := access.New(a.db, a.clock.Now, nil).InboxCount(ctx, olivia); err != nil || n != 1 {
			t.Fatalf("InboxCount: %d %v", n, err)
		}
		// A form drawn again after a POST shows it too.
		ap.get("/requests/new")
		p := ap.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"9h"}})
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("nav-approvals").Text(), "1") {
			t.Fatalf("re-drawn form: %d, badge %q", p.StatusCode, p.find("nav-approvals").Text())
		}
	})
}

// The enrolment rule reads its facts from the frame: an approver who is not enrolled is sent
// to enrol as soon as the setting is on, and let through once the group approves nothing.
func TestFrameKeepsTheEnrolmentRule(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		if !ap.signedIn() {
			t.Fatal("an approver was sent to enrol before the setting")
		}
		if err := a.db.SetValue(ctx, auth.RequireMFAEnrolmentKey, "true", a.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if p := ap.get("/"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/profile#mfa" {
			t.Fatalf("approver without enrolment: %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		if err := a.admin.DeletePolicy(ctx, audit.System, es.policy.ID); err != nil {
			t.Fatal(err)
		}
		a.clock.Advance(time.Second)
		if !ap.signedIn() {
			t.Fatal("a member of a group that approves nothing is sent to enrol")
		}
	})
}

// Everyone who decides requests must enrol when the organisation requires it of approvers: a
// member of an escalation group alone, and a delegate who approves nothing in their own name,
// on the pages and with their API tokens alike. A member of a group that decides nothing is
// let through.
func TestEveryoneWhoDecidesMustEnrol(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		bea := a.mustUser("bea@example.com", "Bea Backup", goodPassword, false)
		a.mustUser("dora@example.com", "Dora Delegate", goodPassword, false)
		nina := a.mustUser("nina@example.com", "Nina Nobody", goodPassword, false)
		es := a.mustEstate(1, olivia)
		backup, err := a.admin.CreateGroup(ctx, audit.System, "Backup approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		idle, err := a.admin.CreateGroup(ctx, audit.System, "Readers", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.admin.AddMember(ctx, audit.System, backup.ID, bea.ID); err != nil {
			t.Fatal(err)
		}
		if err := a.admin.AddMember(ctx, audit.System, idle.ID, nina.ID); err != nil {
			t.Fatal(err)
		}
		p := pam.NewPolicy(pam.ScopeTask, es.other.ID)
		p.ApproverGroupID, p.ApprovalsRequired = es.policy.ApproverGroupID, 1
		p.EscalationGroupID, p.EscalateAfter = backup.ID, time.Hour
		if _, err := a.admin.CreatePolicy(ctx, audit.System, p); err != nil {
			t.Fatal(err)
		}
		ol := a.client()
		ol.signIn("olivia@example.com", goodPassword)
		now := a.clock.Now()
		if d := ol.delegate("dora@example.com", now, now.Add(24*time.Hour)); d.StatusCode != http.StatusSeeOther {
			t.Fatalf("delegate: %d %s", d.StatusCode, d.find("form-error").Text())
		}

		clients, tokens := map[string]*client{}, map[string]string{}
		for _, email := range []string{"bea@example.com", "dora@example.com", "nina@example.com"} {
			c := a.client()
			c.signIn(email, goodPassword)
			if !c.signedIn() {
				t.Fatalf("%s was sent to enrol before the setting", email)
			}
			clients[email], tokens[email] = c, c.makeToken("cli", "api")
		}
		if err := a.db.SetValue(ctx, auth.RequireMFAEnrolmentKey, "true", now); err != nil {
			t.Fatal(err)
		}
		a.clock.Advance(time.Second)
		for email, must := range map[string]bool{"bea@example.com": true, "dora@example.com": true, "nina@example.com": false} {
			pg := clients[email].get("/")
			sent := pg.StatusCode == http.StatusSeeOther && pg.Header.Get("Location") == "/profile#mfa"
			code, out := a.apiCall("GET", "/api/v1/requests", tokens[email], nil)
			refused := code == http.StatusForbidden && out["code"] == "enrolment_required"
			if sent != must || refused != must {
				t.Errorf("%s: page %d %q, API %d %v; want sent to enrol: %v", email, pg.StatusCode, pg.Header.Get("Location"), code, out, must)
			}
		}
	})
}
