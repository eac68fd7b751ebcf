package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// The audit page for the people who read it: filters open, the action chosen from the known
// list (a prefix finds every action under it), and what events point at shown by name, linked,
// with the id on hover; the names for a page are read in one statement, however many rows.
func TestAuditPageNamesTargetsAndOffersKnownActions(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		a := newApp(t, dialect)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		a.mustUser("otto@example.com", "Otto Auditor", goodPassword, false)
		a.mustAuditor("otto@example.com")
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)

		rhea := a.client()
		rhea.signIn("rhea@example.com", goodPassword)
		p := rhea.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"1h"}, "justification": {"INC-1"}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("submit: %d", p.StatusCode)
		}
		id := strings.TrimPrefix(p.Header.Get("Location"), "/requests/")
		if _, err := a.db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}

		ada := a.client()
		ada.signIn("ada@example.com", goodPassword)
		before := a.db.Counts().Statements
		page := ada.get("/audit")
		few := a.db.Counts().Statements - before
		if page.StatusCode != http.StatusOK {
			t.Fatalf("audit page: %d", page.StatusCode)
		}
		if _, open := page.find("audit-filters").Attr("open"); !open {
			t.Fatal("the filters are closed on a first visit")
		}
		// The action picker lists every known action and every object's prefix.
		picker := page.find("field-action")
		for _, act := range audit.Actions() {
			if picker.Find(`option[value="`+act.String()+`"]`).Length() != 1 {
				t.Fatalf("action %s is not offered", act)
			}
		}
		if picker.Find(`option[value="request."]`).Length() != 1 || picker.Find(`option[value="user."]`).Length() != 1 {
			t.Fatal("no prefix choices")
		}

		// The request's creation reads as requester and scope, links to the request, id on hover.
		var created, member string
		page.find("audit-row").Each(func(_ int, row *goquery.Selection) {
			act := row.Find(`[data-testid="action-link"]`).Text()
			tl := row.Find(`[data-testid="target-link"]`)
			switch act {
			case audit.RequestCreated.String():
				created = tl.Text() + "|" + tl.AttrOr("href", "") + "|" + tl.AttrOr("title", "") + "|" +
					row.Find(`[data-testid="request-link"]`).Text() + "|" + row.Find(`[data-testid="actor-link"]`).Text()
			case audit.GroupMemberAdded.String():
				member = tl.Text() + "|" + tl.AttrOr("href", "")
			}
		})
		want := "Rhea Requester · Mailbox admin|/requests/" + id + "|request " + id + "|Rhea Requester · Mailbox admin|Rhea Requester"
		if created != want {
			t.Fatalf("request.created row:\n got %q\nwant %q", created, want)
		}
		if !strings.HasPrefix(member, "Approvers|/admin/groups/") {
			t.Fatalf("group.member_added row: %q", member)
		}

		// A prefix keeps its choice and finds only actions under it.
		byPrefix := ada.get("/audit?action=request.")
		if v := byPrefix.find("field-action").Find("option[selected]").AttrOr("value", ""); v != "request." {
			t.Fatalf("prefix not kept: %q", v)
		}
		rows := byPrefix.find("audit-row")
		if rows.Length() == 0 {
			t.Fatal("request. found nothing")
		}
		rows.Each(func(_ int, row *goquery.Selection) {
			if act := row.Find(`[data-testid="action-link"]`).Text(); !strings.HasPrefix(act, "request.") {
				t.Fatalf("request. found %s", act)
			}
		})
		// A name not on the list stays chosen as typed.
		odd := ada.get("/audit?action=retired.thing")
		if v := odd.find("field-action").Find("option[selected]").AttrOr("value", ""); v != "retired.thing" {
			t.Fatalf("unknown action not kept: %q", v)
		}

		// An auditor reads the same names; the group (an admin page) links to its events instead.
		otto := a.client()
		otto.signIn("otto@example.com", goodPassword)
		op := otto.get("/audit?action=group.member_added")
		if h := op.find("target-link").First().AttrOr("href", ""); !strings.HasPrefix(h, "/audit?") {
			t.Fatalf("an auditor's group link: %q", h)
		}

		// Many more rows of many kinds cost no more statements.
		for range 30 {
			rhea.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"1h"}, "justification": {"INC-2"}})
		}
		if _, err := a.db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		before = a.db.Counts().Statements
		if p := ada.get("/audit"); len(rowSeqs(p)) < 40 {
			t.Fatalf("rows: %d", len(rowSeqs(p)))
		}
		if many := a.db.Counts().Statements - before; many != few {
			t.Fatalf("the audit page ran %d statements for a full page, %d for a few rows", many, few)
		}
	})
}
