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
	return c.resubmit("/admin/policies/"+id, "/admin/policies/"+id, set)
}

// resubmit posts to action the admin form the page at path shows, with set changed.
func (c *client) resubmit(path, action string, set map[string]string) page {
	c.t.Helper()
	form := url.Values{}
	c.get(path).find("admin-form").Find("input, select, textarea").Each(func(_ int, s *goquery.Selection) {
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
	return c.post(action, form)
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
		if got := page.find("card-state").Text(); got != "Waits for 2 more approvals" {
			t.Fatalf("approvals after the switch: %q", got)
		}
		// The new group's inbox counts the same way.
		if row := da.get("/approvals").find("inbox-row"); row.Length() != 1 || !strings.Contains(row.Find("td.num").Text(), "0 of 2") {
			t.Fatalf("dana's inbox row after the switch: %d rows, %q", row.Length(), row.Find("td.num").Text())
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

// mailedTo reports whether a message for the request whose subject contains subject went to email.
func mailedTo(ms []pam.OutboxMessage, email, subject string) bool {
	for _, m := range ms {
		if m.Recipient == email && strings.Contains(m.Subject, subject) {
			return true
		}
	}
	return false
}

// mailedWith reports whether a message whose text contains text went to email.
func mailedWith(ms []pam.OutboxMessage, email, text string) bool {
	for _, m := range ms {
		if m.Recipient == email && strings.Contains(m.Text, text) {
			return true
		}
	}
	return false
}

// grantAndPending gives Rhea a grant in force under es (approved by Olivia) and a request still
// pending; it returns their ids.
func grantAndPending(t *testing.T, req, ol *client, es estate) (grant, pending string) {
	t.Helper()
	g := req.submitVia(es.policy.ID, "2h")
	if p := ol.review(g, "approve", ""); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d", p.StatusCode)
	}
	return strings.TrimPrefix(g, "/requests/"), strings.TrimPrefix(req.submitVia(es.policy.ID, "1h"), "/requests/")
}

// TestDisablingPolicyCancelsPendingAndOffersRevoke: disabling a policy cancels its pending
// requests ("policy disabled"), each audited and mailed to the requester and the approvers,
// in the same save; the grants in force stay, and the policy page offers, with their count, to
// revoke them, asking for a reason; the revoke goes through the revoke chain by the admin.
func TestDisablingPolicyCancelsPendingAndOffersRevoke(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newAppWith(t, dialect, true)
		root := a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		otto := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
		es := a.mustEstate(1, olivia, otto)
		rc, req, ol := a.client(), a.client(), a.client()
		rc.signIn("root@example.com", goodPassword)
		req.signIn("rhea@example.com", goodPassword)
		ol.signIn("olivia@example.com", goodPassword)
		grant, pending := grantAndPending(t, req, ol, es)

		if p := rc.editPolicy(es.policy.ID, map[string]string{"enabled": ""}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("disable: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		if r := statusOf(t, a, pending); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelPolicyDisabled {
			t.Fatalf("pending after disable: %s (%s)", r.Status, r.CancelReason)
		}
		if r := statusOf(t, a, grant); r.Status != pam.StatusApproved {
			t.Fatalf("grant after disable: %s", r.Status)
		}
		if evs := a.events("request.cancelled"); len(evs) != 1 || evs[0].RequestID != pending || evs[0].ActorID != string(root.ID) ||
			!strings.Contains(evs[0].Details, "policy disabled") {
			t.Fatalf("cancel events: %+v", evs)
		}
		ms := a.mails(pending)
		if !mailedTo(ms, "rhea@example.com", "Cancelled") || !mailedTo(ms, "olivia@example.com", "No action needed") || !mailedTo(ms, "otto@example.com", "No action needed") {
			t.Fatalf("cancel mail: %+v", ms)
		}
		if tl := req.get("/requests/" + pending).find("card-state").Text(); !strings.Contains(tl, "Cancelled: policy disabled") {
			t.Fatalf("request page: %q", tl)
		}

		// The page offers to revoke the grant still in force, with the count, and wants a reason.
		page := rc.get("/admin/policies/" + es.policy.ID)
		offer := page.find("revoke-grants-form")
		if offer.Length() != 1 || !strings.Contains(page.find("revoke-grants").Text(), "Revoke 1 grant") {
			t.Fatalf("revoke offer: %q", page.find("revoke-grants").Text())
		}
		p := rc.post("/admin/policies/"+es.policy.ID+"/revoke-grants", url.Values{"reason": {""}})
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-reason").Text() == "" {
			t.Fatalf("revoke without a reason: %d %q", p.StatusCode, p.find("error-reason").Text())
		}
		// The API twin wants the reason too.
		tok := a.apiToken("root@example.com")
		apiRevoke := "/api/v1/policies/" + es.policy.ID + "/revoke-grants"
		if code, out := a.apiCall(http.MethodPost, apiRevoke, tok, map[string]any{}); code != http.StatusBadRequest || out["field"] != "reason" {
			t.Fatalf("API revoke without a reason: %d %v", code, out)
		}
		if p := rc.post("/admin/policies/"+es.policy.ID+"/revoke-grants", url.Values{"reason": {"Policy retired"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", p.StatusCode)
		}
		if code, out := a.apiCall(http.MethodPost, apiRevoke, tok, map[string]any{"reason": "Again"}); code != http.StatusOK || out["revoked"] != float64(0) {
			t.Fatalf("API revoke with nothing left: %d %v", code, out)
		}
		if r := statusOf(t, a, grant); r.Status != pam.StatusRevoked || r.RevokedBy != root.ID || r.RevokeReason != "Policy retired" || r.InForce(a.clock.Now()) {
			t.Fatalf("grant after the offer: %s by %s (%s)", r.Status, r.RevokedBy, r.RevokeReason)
		}
		if !mailedTo(a.mails(grant), "rhea@example.com", "Revoked") {
			t.Fatalf("revoke mail: %+v", a.mails(grant))
		}
		if rc.get("/admin/policies/"+es.policy.ID).find("revoke-grants").Length() != 0 {
			t.Fatal("the offer stays after the grants were revoked")
		}
	})
}

// TestDeletingPolicyWithGrantsInForce: deleting a policy is refused (409, with the count) while
// grants under it are in force, on the page and through the API, unless the admin chooses to
// revoke them; then the grants are revoked, the pending requests cancelled and the policy gone.
func TestDeletingPolicyWithGrantsInForce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		rc, req, ol := a.client(), a.client(), a.client()
		rc.signIn("root@example.com", goodPassword)
		req.signIn("rhea@example.com", goodPassword)
		ol.signIn("olivia@example.com", goodPassword)
		tok := rc.makeToken("automation", "api")
		grant, pending := grantAndPending(t, req, ol, es)
		path := "/api/v1/policies/" + es.policy.ID

		page := rc.get("/admin/policies/" + es.policy.ID)
		if !strings.Contains(page.find("delete-form").Text(), "Also revoke the 1 grant") {
			t.Fatalf("delete form: %q", page.find("delete-form").Text())
		}
		// Deleting asks why; without a reason the page asks again, the box as it was ticked,
		// and nothing changes.
		p := rc.post("/admin/policies/"+es.policy.ID+"/delete", url.Values{"revoke_grants": {"on"}})
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("delete-form").Find(`[data-testid="error-reason"]`).Text(), "Say why you delete this policy") ||
			p.find("field-revoke_grants").AttrOr("checked", "no") == "no" {
			t.Fatalf("delete without a reason: %d %q", p.StatusCode, p.find("error-reason").Text())
		}
		p = rc.post("/admin/policies/"+es.policy.ID+"/delete", url.Values{"reason": {"Mailbox work moved to the new tenant."}})
		if p.StatusCode != http.StatusConflict || !strings.Contains(p.find("error-revoke_grants").Text(), "1 grant under this policy is in force") ||
			!strings.Contains(p.find("delete-form").Text(), "Mailbox work moved to the new tenant.") {
			t.Fatalf("delete with a grant in force: %d %q", p.StatusCode, p.find("error-revoke_grants").Text())
		}
		code, body := a.apiCall(http.MethodDelete, path, tok, nil)
		if code != http.StatusConflict || body["code"] != "conflict" || !strings.Contains(body["error"].(string), "1 grant") {
			t.Fatalf("API delete with a grant in force: %d %v", code, body)
		}
		if code, body := a.apiCall(http.MethodDelete, path+"?revoke_grants=maybe", tok, nil); code != http.StatusBadRequest || body["field"] != "revoke_grants" {
			t.Fatalf("API delete with a bad flag: %d %v", code, body)
		}
		if r := statusOf(t, a, pending); r.Status != pam.StatusPending {
			t.Fatalf("a refused delete changed the pending request: %s", r.Status)
		}
		if code, _ := a.apiCall(http.MethodGet, path, tok, nil); code != http.StatusOK {
			t.Fatalf("policy after refused deletes: %d", code)
		}

		if dialect == "sqlite" {
			p = rc.post("/admin/policies/"+es.policy.ID+"/delete", url.Values{"revoke_grants": {"on"}, "reason": {"Mailbox work moved to the new tenant."}})
			if p.StatusCode != http.StatusSeeOther {
				t.Fatalf("delete revoking: %d", p.StatusCode)
			}
			if evs := a.events(audit.PolicyDeleted.String()); len(evs) != 1 || !strings.Contains(evs[0].Details, `"reason":"Mailbox work moved to the new tenant."`) {
				t.Fatalf("the delete's event keeps no reason: %v", evs)
			}
		} else if code, body := a.apiCall(http.MethodDelete, path+"?revoke_grants=true", tok, nil); code != http.StatusNoContent {
			t.Fatalf("API delete revoking: %d %v", code, body)
		}
		if code, _ := a.apiCall(http.MethodGet, path, tok, nil); code != http.StatusNotFound {
			t.Fatalf("policy after delete: %d", code)
		}
		if r := statusOf(t, a, grant); r.Status != pam.StatusRevoked || r.InForce(a.clock.Now()) {
			t.Fatalf("grant after delete: %s", r.Status)
		}
		if r := statusOf(t, a, pending); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelPolicyDisabled {
			t.Fatalf("pending after delete: %s (%s)", r.Status, r.CancelReason)
		}
		if evs := a.events("policy.deleted"); len(evs) != 1 || !strings.Contains(evs[0].Details, `"grants_revoked":1`) || !strings.Contains(evs[0].Details, `"pending_cancelled":1`) {
			t.Fatalf("policy.deleted: %+v", evs)
		}
	})
}

// TestLeavingEligibleGroupEndsOpenRequests: whoever leaves a policy's eligible group, by being
// removed from it, by the policy's eligible group changing, or by being disabled, has their
// pending requests cancelled ("no longer eligible") and their grants revoked by the system, in
// the same transaction; others keep theirs.
func TestLeavingEligibleGroupEndsOpenRequests(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newAppWith(t, dialect, true)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		ruth := a.mustUser("ruth@example.com", "Ruth Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		team := a.mustGroup("Mail team", rhea, ruth)
		other := a.mustGroup("Other team", rhea)
		rc, req, ru, ol := a.client(), a.client(), a.client(), a.client()
		rc.signIn("root@example.com", goodPassword)
		req.signIn("rhea@example.com", goodPassword)
		ru.signIn("ruth@example.com", goodPassword)
		ol.signIn("olivia@example.com", goodPassword)
		if p := rc.editPolicy(es.policy.ID, map[string]string{"eligible_group_id": team.ID}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("set eligible group: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		grant, pending := grantAndPending(t, req, ol, es)
		ruths := strings.TrimPrefix(ru.submitVia(es.policy.ID, "1h"), "/requests/")

		// Removed from the group: Rhea's grant is revoked by the system, her request cancelled.
		rc.get("/admin/groups/" + team.ID)
		if p := rc.post("/admin/groups/"+team.ID+"/members/"+string(rhea.ID)+"/remove", url.Values{"reason": {"Left the mail team."}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove member: %d", p.StatusCode)
		}
		if r := statusOf(t, a, grant); r.Status != pam.StatusRevoked || r.RevokedBy != pam.SystemID || r.InForce(a.clock.Now()) {
			t.Fatalf("grant after leaving: %s by %q", r.Status, r.RevokedBy)
		}
		if r := statusOf(t, a, pending); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelNoLongerEligible {
			t.Fatalf("pending after leaving: %s (%s)", r.Status, r.CancelReason)
		}
		if r := statusOf(t, a, ruths); r.Status != pam.StatusPending {
			t.Fatalf("someone who stayed lost a request: %s", r.Status)
		}
		revoked := a.events("request.revoked")
		if len(revoked) != 1 || revoked[0].ActorType != audit.ActorSystem || revoked[0].RequestID != grant {
			t.Fatalf("revoke events: %+v", revoked)
		}
		if !mailedTo(a.mails(grant), "rhea@example.com", "Revoked") || !mailedTo(a.mails(pending), "rhea@example.com", "Cancelled") || !mailedWith(a.mails(grant), "rhea@example.com", "Elevate revoked your access") {
			t.Fatal("the requester was not told")
		}
		if tl := req.get("/requests/" + grant).find("timeline").Text(); !strings.Contains(tl, "Revoked by Elevate (system)") {
			t.Fatalf("timeline: %q", tl)
		}
		if evs := a.events("group.member_removed"); len(evs) != 1 || !strings.Contains(evs[0].Details, `"grants_revoked":1`) {
			t.Fatalf("member removed: %+v", evs)
		}

		// The policy's eligible group changes to one Ruth is not in: her request is cancelled.
		if p := rc.editPolicy(es.policy.ID, map[string]string{"eligible_group_id": other.ID}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("change eligible group: %d", p.StatusCode)
		}
		if r := statusOf(t, a, ruths); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelNoLongerEligible {
			t.Fatalf("ruth after the eligible group changed: %s (%s)", r.Status, r.CancelReason)
		}

		// Disabled: Rhea, eligible again through the other group, loses what she had open.
		again := strings.TrimPrefix(req.submitVia(es.policy.ID, "1h"), "/requests/")
		rc.get("/admin/users/" + string(rhea.ID))
		// Disabling asks why: without a reason the page asks again, and she keeps her access.
		if p := rc.post("/admin/users/"+string(rhea.ID)+"/change?to=disable", nil); p.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(p.find("disable-form").Find(`[data-testid="error-reason"]`).Text(), "Say why you disable this user") {
			t.Fatalf("disable without a reason: %d", p.StatusCode)
		}
		if r := statusOf(t, a, again); r.Status != pam.StatusPending {
			t.Fatalf("a refused disable changed her request: %s", r.Status)
		}
		if p := rc.post("/admin/users/"+string(rhea.ID)+"/change?to=disable", url.Values{"reason": {"Left the company."}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("disable: %d", p.StatusCode)
		}
		if evs := a.events(audit.UserDisabled.String()); len(evs) != 1 || !strings.Contains(evs[0].Details, `"reason":"Left the company."`) {
			t.Fatalf("the disable's event keeps no reason: %v", evs)
		}
		if r := statusOf(t, a, again); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelNoLongerEligible {
			t.Fatalf("after disable: %s (%s)", r.Status, r.CancelReason)
		}
	})
}

// TestDefaultApproverChangeReachesPendingRequests: a policy without an approver group of its own
// is decided by the organisation's default group; changing that group reaches the requests
// pending under it as a change of the policy's own group does.
func TestDefaultApproverChangeReachesPendingRequests(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		dana := a.mustUser("dana@example.com", "Dana Security", goodPassword, false)
		es := a.mustEstate(1, olivia)
		security := a.mustGroup("Security", dana)
		rc, req, da := a.client(), a.client(), a.client()
		rc.signIn("root@example.com", goodPassword)
		req.signIn("rhea@example.com", goodPassword)
		da.signIn("dana@example.com", goodPassword)
		// The policy falls back on the default group, the estate's approvers.
		if p := rc.resubmit("/admin/settings", "/admin/settings", map[string]string{"default_approver_group_id": es.policy.ApproverGroupID}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("settings: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		if p := rc.editPolicy(es.policy.ID, map[string]string{"approver_group_id": ""}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("policy on the default group: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		reqURL := req.submitVia(es.policy.ID, "1h")
		a.clock.Advance(time.Minute)
		if p := rc.resubmit("/admin/settings", "/admin/settings", map[string]string{"default_approver_group_id": security.ID}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("new default group: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		if tl := req.get(reqURL).find("timeline").Text(); !strings.Contains(tl, "Approver group changed from Approvers to Security by Root Admin") {
			t.Fatalf("timeline: %q", tl)
		}
		if p := da.review(reqURL, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("the new default group's member approves: %d", p.StatusCode)
		}
		if r := statusOf(t, a, strings.TrimPrefix(reqURL, "/requests/")); r.Status != pam.StatusApproved {
			t.Fatalf("after the new default group approved: %s", r.Status)
		}
	})
}
