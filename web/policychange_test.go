package web_test

import (
	"context"
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

// editPolicy saves a policy through its page's form as the admin would: what the form shows,
// with set changed ("" unticks a checkbox). It returns the answer.
func (c *client) editPolicy(id string, set map[string]string) page {
	c.t.Helper()
	form := url.Values{}
	c.get("/admin/policies/" + id).find("admin-form").Find("input, select, textarea").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		switch {
		case name == "" || name == "_csrf":
		case goquery.NodeName(s) == "select":
			v, _ := s.Find("option[selected]").Attr("value")
			form.Set(name, v)
		case goquery.NodeName(s) == "textarea":
			form.Set(name, s.Text())
		default:
			if t, _ := s.Attr("type"); t == "checkbox" {
				if _, on := s.Attr("checked"); on {
					form.Set(name, "on")
				}
				return
			}
			v, _ := s.Attr("value")
			form.Set(name, v)
		}
	})
	for k, v := range set {
		if v == "" {
			form.Del(k)
		} else {
			form.Set(k, v)
		}
	}
	return c.post("/admin/policies/"+id, form)
}

// review decides a request through its page.
func (c *client) review(reqURL, decision, comment string) page {
	c.t.Helper()
	c.get(reqURL)
	return c.post(reqURL+"/review", url.Values{"decision": {decision}, "comment": {comment}})
}

// mails lists the messages queued for a request.
func (a *app) mails(requestID string) []pam.OutboxMessage {
	a.t.Helper()
	ms, err := a.db.Mail(context.Background(), pam.MailFilter{RequestID: requestID, Limit: 100})
	if err != nil {
		a.t.Fatal(err)
	}
	return ms
}

func (a *app) mustGroup(name string, members ...pam.User) pam.Group {
	a.t.Helper()
	ctx := context.Background()
	g, err := a.admin.CreateGroup(ctx, audit.System, name, "")
	if err != nil {
		a.t.Fatal(err)
	}
	for _, u := range members {
		if err := a.admin.AddMember(ctx, audit.System, g.ID, u.ID); err != nil {
			a.t.Fatal(err)
		}
	}
	return g
}

func statusOf(t *testing.T, a *app, id string) pam.Request {
	t.Helper()
	r, err := a.db.RequestByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPolicyChangeReachesPendingRequests: a request pending under a policy is decided by the
// policy as it is at the decision. Switching the approver group while it waits takes the old
// approver's approval out of the count and lets the new group decide; raising the quorum makes
// it wait for more; lowering it decides nothing until someone reviews. The request page says
// what changed, when and by whom.
func TestPolicyChangeReachesPendingRequests(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		otto := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
		dana := a.mustUser("dana@example.com", "Dana Security", goodPassword, false)
		erin := a.mustUser("erin@example.com", "Erin Security", goodPassword, false)
		es := a.mustEstate(2, olivia, otto)
		security := a.mustGroup("Security", dana, erin, otto)

		root, req, ol, da, er := a.client(), a.client(), a.client(), a.client(), a.client()
		root.signIn("root@example.com", goodPassword)
		req.signIn("rhea@example.com", goodPassword)
		ol.signIn("olivia@example.com", goodPassword)
		da.signIn("dana@example.com", goodPassword)
		er.signIn("erin@example.com", goodPassword)

		// 1. Approver group switched while pending: Olivia's approval no longer counts.
		reqURL := req.submitVia(es.policy.ID, "1h")
		id := strings.TrimPrefix(reqURL, "/requests/")
		if p := ol.review(reqURL, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("olivia approves: %d", p.StatusCode)
		}
		a.clock.Advance(time.Minute)
		if p := root.editPolicy(es.policy.ID, map[string]string{"approver_group_id": security.ID}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("switch approver group: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		if r := statusOf(t, a, id); r.Status != pam.StatusPending || r.ApproverGroupID != security.ID {
			t.Fatalf("after the switch: %s, group %s", r.Status, r.ApproverGroupID)
		}
		// The request left Olivia's inbox and reached the new group's.
		if p := ol.get(reqURL); p.StatusCode != http.StatusNotFound {
			t.Fatalf("olivia, no longer an approver, still sees it: %d", p.StatusCode)
		}
		page := req.get(reqURL)
		tl := page.find("timeline").Text()
		if !strings.Contains(tl, "Approver group changed from Approvers to Security by Root Admin") ||
			!strings.Contains(tl, "approvals by people no longer approvers do not count") || !strings.Contains(tl, "does not count") {
			t.Fatalf("timeline does not say what changed: %q", tl)
		}
		if got := page.find("card-approvals").Text(); !strings.Contains(got, "0 of 2") {
			t.Fatalf("approvals after the switch: %q", got)
		}
		// Dana approves: one approval that counts of two, still pending.
		if p := da.review(reqURL, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("dana approves: %d", p.StatusCode)
		}
		if r := statusOf(t, a, id); r.Status != pam.StatusPending {
			t.Fatalf("one approval that counts decided it: %s", r.Status)
		}

		// 2. Quorum lowered to 1: decides nothing by itself; the next review does.
		a.clock.Advance(time.Minute)
		if p := root.editPolicy(es.policy.ID, map[string]string{"approvals_required": "1"}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("lower quorum: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		if r := statusOf(t, a, id); r.Status != pam.StatusPending || r.ApprovalsRequired != 1 {
			t.Fatalf("lowering the quorum decided it: %s (%d)", r.Status, r.ApprovalsRequired)
		}
		if tl := req.get(reqURL).find("timeline").Text(); !strings.Contains(tl, "Approvals required changed from 2 to 1 by Root Admin") {
			t.Fatalf("timeline does not say the quorum changed: %q", tl)
		}
		if p := er.review(reqURL, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("erin approves: %d", p.StatusCode)
		}
		if r := statusOf(t, a, id); r.Status != pam.StatusApproved {
			t.Fatalf("after a review under quorum 1: %s", r.Status)
		}

		// 3. Quorum raised while pending: it waits for more.
		a.clock.Advance(time.Minute)
		second := req.submitVia(es.policy.ID, "1h")
		if p := root.editPolicy(es.policy.ID, map[string]string{"approvals_required": "2"}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("raise quorum: %d", p.StatusCode)
		}
		if p := da.review(second, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("dana approves the second: %d", p.StatusCode)
		}
		if r := statusOf(t, a, strings.TrimPrefix(second, "/requests/")); r.Status != pam.StatusPending || r.ApprovalsRequired != 2 {
			t.Fatalf("raised quorum: %s (%d)", r.Status, r.ApprovalsRequired)
		}
		if p := er.review(second, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("erin approves the second: %d", p.StatusCode)
		}
		if r := statusOf(t, a, strings.TrimPrefix(second, "/requests/")); r.Status != pam.StatusApproved {
			t.Fatalf("two approvals under quorum 2: %s", r.Status)
		}
		// The edit's audit event says how many pending requests it reached.
		if evs := a.events("policy.updated"); len(evs) == 0 || !strings.Contains(evs[0].Details, `"pending_reached":1`) {
			t.Fatalf("policy.updated details: %v", evs)
		}
	})
}
