package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// mustRequest stores one request waiting under policy p, asked at `at` and timing out at `until`.
func (a *app) mustRequest(p pam.Policy, scopeName string, requester pam.User, n int, at, until time.Time) string {
	a.t.Helper()
	id := fmt.Sprintf("00000000-0000-4000-9000-%012d", n)
	if err := a.db.CreateRequest(context.Background(), pam.Request{
		ID: id, RequesterID: requester.ID, PolicyID: p.ID, ScopeType: p.ScopeType, ScopeID: p.ScopeID, ScopeName: scopeName,
		ApprovalType: pam.ApprovalManual, ApproverGroupID: p.ApproverGroupID, ApprovalsRequired: p.ApprovalsRequired,
		Duration: time.Hour, Justification: "Why.", Status: pam.StatusPending, CreatedAt: at, PendingUntil: until,
	}); err != nil {
		a.t.Fatal(err)
	}
	return id
}

// inboxIDs lists the ids of an inbox page's rows, in order.
func inboxIDs(p page) []string {
	var ids []string
	p.find("inbox").Find(`input[name="id"]`).Each(func(_ int, s *goquery.Selection) {
		v, _ := s.Attr("value")
		ids = append(ids, v)
	})
	return ids
}

// The inbox narrows to a requester, a scope, a policy and what times out within the hour, sorts
// by age or by time left, keeps all of it in the next-page link, flags what times out soon, and
// answers a value no page gave out with 400.
func TestInboxFilters(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		ron := a.mustUser("ron@example.com", "Ron Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		// A second policy, on a task, with the same approvers.
		other := pam.NewPolicy(pam.ScopeTask, es.other.ID)
		other.ApproverGroupID, other.ApprovalsRequired = es.policy.ApproverGroupID, 1
		other, err := a.admin.CreatePolicy(ctx, audit.System, other)
		if err != nil {
			t.Fatal(err)
		}
		now := a.clock.Now()
		// Asked oldest first: 0..3; timing out soonest first: 3, 1, 2, 0.
		r0 := a.mustRequest(es.policy, "Mailbox admin", rhea, 0, now.Add(-4*time.Hour), now.Add(20*time.Hour))
		r1 := a.mustRequest(other, "exchange/Search-Mailbox", rhea, 1, now.Add(-3*time.Hour), now.Add(30*time.Minute))
		r2 := a.mustRequest(es.policy, "Mailbox admin", ron, 2, now.Add(-2*time.Hour), now.Add(2*time.Hour))
		r3 := a.mustRequest(other, "exchange/Search-Mailbox", ron, 3, now.Add(-1*time.Hour), now.Add(10*time.Minute))

		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		want := func(path string, ids ...string) page {
			t.Helper()
			p := ap.get(path)
			if p.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", path, p.StatusCode)
			}
			if got := inboxIDs(p); strings.Join(got, ",") != strings.Join(ids, ",") {
				t.Fatalf("GET %s lists %v, want %v", path, got, ids)
			}
			return p
		}
		all := want("/approvals", r0, r1, r2, r3)
		if all.find("inbox-total").Text() != "4 requests wait for you." || all.find("filter-clear").Length() != 0 {
			t.Fatalf("unfiltered: %q", all.find("inbox-total").Text())
		}
		// The rows that time out within the hour are flagged, in words.
		all.find("inbox").Find("tbody tr").Each(func(_ int, s *goquery.Selection) {
			id, _ := s.Find(`input[name="id"]`).Attr("value")
			soon := s.Find(`[data-testid="soon"]`).Length() == 1
			if id != "" && soon != (id == r1 || id == r3) {
				t.Errorf("row %s: flagged %v", id, soon)
			}
		})
		want("/approvals?sort=left", r3, r1, r2, r0)
		want("/approvals?soon=1", r1, r3)
		want("/approvals?soon=1&sort=left", r3, r1)
		p := want("/approvals?requester="+string(rhea.ID), r0, r1)
		if p.find("inbox-total").Text() != "2 of 4 waiting requests match." || !strings.Contains(p.find("filter-chip").Text(), "Requester: Rhea Requester") {
			t.Fatalf("requester filter: %q, chip %q", p.find("inbox-total").Text(), p.find("filter-chip").Text())
		}
		if href, _ := p.find("filter-clear").Attr("href"); href != "/approvals" {
			t.Fatalf("clear link %q", href)
		}
		want("/approvals?scope=task:"+es.other.ID, r1, r3)
		want("/approvals?policy="+es.policy.ID, r0, r2)
		want("/approvals?policy="+es.policy.ID+"&requester="+string(ron.ID), r2)
		if e := want("/approvals?policy=" + es.policy.ID + "&requester=" + string(ron.ID) + "&soon=1"); e.find("inbox-empty").Length() != 1 ||
			!strings.Contains(e.find("inbox-empty").Text(), "No waiting request matches") {
			t.Fatalf("empty filtered inbox: %q", e.find("inbox-empty").Text())
		}
		// The form carries the chosen requester along when the order changes.
		if v, _ := p.find("inbox-filter").Find(`input[name="requester"]`).Attr("value"); v != string(rhea.ID) {
			t.Fatalf("filter form keeps requester %q", v)
		}

		// The next-page link keeps the filter and the order.
		for i := 4; i < 4+inboxPageSizeForTest+2; i++ {
			a.mustRequest(other, "exchange/Search-Mailbox", ron, i, now.Add(-time.Minute), now.Add(time.Duration(40-i)*time.Minute))
		}
		first := ap.get("/approvals?soon=1&sort=left&requester=" + string(ron.ID))
		next, ok := first.find("page-next").Attr("href")
		if !ok {
			t.Fatal("no next page")
		}
		u, _ := url.Parse(next)
		if q := u.Query(); q.Get("soon") != "1" || q.Get("sort") != "left" || q.Get("requester") != string(ron.ID) || q.Get("after") == "" {
			t.Fatalf("next link %q drops the filter", next)
		}
		seen := map[string]bool{}
		var order []string
		for _, pg := range []page{first, ap.get(next)} {
			for _, id := range inboxIDs(pg) {
				if seen[id] {
					t.Fatalf("%s listed twice", id)
				}
				seen[id] = true
				order = append(order, id)
			}
		}
		// Everything of Ron's that times out within the hour: r3 and the new ones within 40 min.
		if !seen[r3] || seen[r2] || len(order) != 1+inboxPageSizeForTest+2 {
			t.Fatalf("pages listed %d: %v", len(order), order)
		}

		for _, bad := range []string{"sort=new", "soon=yes", "scope=role", "scope=planet:x", "requester=" + strings.Repeat("x", 65)} {
			if p := ap.get("/approvals?" + bad); p.StatusCode != http.StatusBadRequest || p.find("error-next").Length() != 1 {
				t.Errorf("%s: %d", bad, p.StatusCode)
			}
		}
	})
}

// inboxPageSizeForTest is the inbox's page size (web's inboxPageSize).
const inboxPageSizeForTest = 25

// A bulk decision names at most 50 requests: 51 ticked is 400 on the confirmation and on the
// decision alike, and nothing is decided.
func TestBulkCap(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		ids := a.mustWaiting(es, rhea, 51)
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		ap.get("/approvals")
		for _, path := range []string{"/approvals/bulk", "/approvals/bulk/decide"} {
			p := ap.post(path, url.Values{"id": ids, "decision": {"approve"}})
			if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.body, "Tick at most 50 requests at a time; you ticked 51.") {
				t.Fatalf("POST %s with 51: %d", path, p.StatusCode)
			}
			// Nothing ticked: the inbox's buttons lead back to the inbox, which says why; the
			// final step, reached only from a confirmation, refuses it outright.
			p = ap.post(path, url.Values{"decision": {"approve"}, "back": {"/approvals?sort=left"}})
			if path == "/approvals/bulk" {
				if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/approvals?sort=left" {
					t.Fatalf("POST %s with none: %d %q", path, p.StatusCode, p.Header.Get("Location"))
				}
				if f := ap.get("/approvals?sort=left").find("flash").Text(); !strings.Contains(f, "Tick the requests to decide first.") {
					t.Fatalf("the inbox after a bulk with none ticked says %q", f)
				}
			} else if p.StatusCode != http.StatusBadRequest {
				t.Fatalf("POST %s with none: %d", path, p.StatusCode)
			}
			if p := ap.post(path, url.Values{"id": ids[:2], "decision": {"maybe"}}); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("POST %s deciding maybe: %d", path, p.StatusCode)
			}
		}
		if n := len(a.events(audit.RequestReviewed.String())) + len(a.events(audit.RequestApproved.String())); n != 0 {
			t.Fatalf("%d decisions recorded", n)
		}
		// Fifty is allowed, and a ticked id repeated counts once.
		p := ap.post("/approvals/bulk", url.Values{"id": append(ids[:50:50], ids[0]), "decision": {"approve"}})
		if p.StatusCode != http.StatusOK || p.find("page-title").Text() != "Approve 50 requests" {
			t.Fatalf("50: %d %q", p.StatusCode, p.find("page-title").Text())
		}
	})
}

// A bulk approval is confirmed first (how many and which, nothing decided yet), then each
// request is decided on its own (its own event and mail); one decided by someone else meanwhile
// is left as it is, and the summary says so. A deny needs its comment: the confirmation comes
// back with the ids and the error, and nothing is decided.
func TestBulkDecide(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		otto := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
		es := a.mustEstate(1, olivia, otto)
		var ids []string
		for i := range 4 {
			at := a.clock.Now().Add(time.Duration(i-10) * time.Minute)
			ids = append(ids, a.mustRequest(es.policy, "Mailbox admin", rhea, i, at, at.Add(24*time.Hour)))
		}
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		inbox := ap.get("/approvals?sort=left")
		if inbox.find("bulk-form").Length() != 1 || len(inboxIDs(inbox)) != 4 {
			t.Fatal("no bulk form")
		}
		if f, _ := inbox.find("inbox").Find(`input[name="id"]`).First().Attr("form"); f != "bulk" {
			t.Fatalf("tick boxes belong to form %q", f)
		}
		ticked := ids[:3]
		conf := ap.post("/approvals/bulk", url.Values{"id": ticked, "decision": {"approve"}, "back": {"/approvals?sort=left"}})
		if conf.StatusCode != http.StatusOK || conf.find("page-title").Text() != "Approve 3 requests" || conf.find("bulk-items").Find("li").Length() != 3 {
			t.Fatalf("confirmation: %d %q", conf.StatusCode, conf.find("page-title").Text())
		}
		if n := len(a.events(audit.RequestApproved.String())); n != 0 {
			t.Fatalf("the confirmation decided %d", n)
		}
		// Meanwhile Otto approves one of them.
		ot := a.client()
		ot.signIn("otto@example.com", goodPassword)
		ot.get("/requests/" + ticked[1])
		if p := ot.post("/requests/"+ticked[1]+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("Otto's approval: %d", p.StatusCode)
		}

		form := url.Values{"decision": {"approve"}, "comment": {"Planned change."}, "back": {"/approvals?sort=left"}}
		conf.find("bulk-decide-form").Find(`input[name="id"]`).Each(func(_ int, s *goquery.Selection) {
			v, _ := s.Attr("value")
			form.Add("id", v)
		})
		done := ap.post("/approvals/bulk/decide", form)
		if done.StatusCode != http.StatusSeeOther || done.Header.Get("Location") != "/approvals?sort=left" {
			t.Fatalf("decide: %d to %q", done.StatusCode, done.Header.Get("Location"))
		}
		after := ap.get("/approvals?sort=left")
		if f := after.find("flash").Text(); strings.TrimSpace(f) != "Approved 2; already decided 1." {
			t.Fatalf("summary %q", f)
		}
		if got := inboxIDs(after); len(got) != 1 || got[0] != ids[3] {
			t.Fatalf("left waiting: %v", got)
		}
		// Each decision is its own event: Olivia's two and Otto's one.
		if n := len(a.events(audit.RequestApproved.String())); n != 3 {
			t.Fatalf("%d approval events, want 3", n)
		}

		// Deny without a comment: the confirmation again, with the error and the ids kept.
		p := ap.post("/approvals/bulk/decide", url.Values{"id": {ids[3]}, "decision": {"deny"}})
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("bulk-decide-form").Text(), "Say why you deny it") {
			t.Fatalf("deny without comment: %d", p.StatusCode)
		}
		if v, _ := p.find("bulk-decide-form").Find(`input[name="id"]`).Attr("value"); v != ids[3] {
			t.Fatalf("kept id %q", v)
		}
		// Several without a comment: the page asks for it of them all.
		more := a.mustRequest(es.policy, "Mailbox admin", rhea, 4, a.clock.Now(), a.clock.Now().Add(24*time.Hour))
		p = ap.post("/approvals/bulk/decide", url.Values{"id": {ids[3], more}, "decision": {"deny"}})
		if got := p.find("bulk-decide-form").Text(); p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "each requester sees your comment") {
			t.Fatalf("deny several without comment: %d %q", p.StatusCode, got)
		}
		if n := len(a.events(audit.RequestDenied.String())); n != 0 {
			t.Fatalf("%d denials", n)
		}
	})
}

// Ticked requests that no longer wait (decided by someone else since) make a confirmation that
// says there is nothing left to do, never "Approve 0 requests".
func TestBulkWithNothingLeftSaysSo(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		otto := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
		es := a.mustEstate(1, olivia, otto)
		now := a.clock.Now()
		id := a.mustRequest(es.policy, "Mailbox admin", rhea, 0, now.Add(-10*time.Minute), now.Add(20*time.Hour))
		ap := a.client()
		ap.signIn("olivia@example.com", goodPassword)
		ap.get("/approvals")
		ot := a.client()
		ot.signIn("otto@example.com", goodPassword)
		ot.get("/requests/" + id)
		if p := ot.post("/requests/"+id+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("the other approver's approval: %d", p.StatusCode)
		}
		for decision, want := range map[string]string{"approve": "Nothing left to approve", "deny": "Nothing left to deny"} {
			p := ap.post("/approvals/bulk", url.Values{"id": {id}, "decision": {decision}})
			if h1 := strings.TrimSpace(p.doc.Find("h1").Text()); p.StatusCode != http.StatusOK || h1 != want || p.find("bulk-none").Length() != 1 {
				t.Fatalf("%s with nothing left: %d, heading %q", decision, p.StatusCode, h1)
			}
		}
	})
}
