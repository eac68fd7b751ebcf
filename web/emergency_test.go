package web_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// newMailApp is newApp whose request changes queue their mail in the outbox, as in production.
func newMailApp(t *testing.T, dialect string) *app {
	t.Helper()
	return newAppWithMail(t, dialect)
}

// messages lists the outbox messages of a request of one kind.
func (a *app) messages(requestID, kind string) []pam.OutboxMessage {
	a.t.Helper()
	ms, err := a.db.Mail(context.Background(), pam.MailFilter{RequestID: requestID, Limit: 100})
	if err != nil {
		a.t.Fatal(err)
	}
	var out []pam.OutboxMessage
	for _, m := range ms {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// recipients lists the recipients of a request's messages of one kind, sorted.
func (a *app) recipients(requestID, kind string) []string {
	a.t.Helper()
	var to []string
	for _, m := range a.messages(requestID, kind) {
		to = append(to, m.Recipient)
	}
	sort.Strings(to)
	return to
}

// An emergency request is granted at once for the policy's emergency duration, needs a fresh
// two-step code (so people not enrolled cannot make one), is one open per person and policy,
// mails every approver and the security address, shows its red banner, and waits in the
// approvers' inbox until one of them (never the requester) confirms it or marks it as misuse,
// which revokes it. The API twins do the same.
func TestEmergencyAccessThroughPagesAndAPI(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newMailApp(t, dialect)
		ctx := context.Background()
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		oscar := a.mustUser("oscar@example.com", "Oscar Approver", goodPassword, false)
		eve := a.mustUser("eve@example.com", "Eve Requester", goodPassword, false)
		es := a.mustEstate(1, olivia, oscar, eve)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		root := a.client()
		root.signIn("root@example.com", goodPassword)

		// The policy page and the settings page carry the new settings, validated like the others.
		p := root.get("/admin/policies/" + es.policy.ID)
		if p.find("field-emergency_allowed").Length() == 0 && !strings.Contains(p.body, `name="emergency_allowed"`) {
			t.Fatal("no emergency setting on the policy page")
		}
		policyForm := url.Values{"approval_type": {"manual"}, "approver_group_id": {es.policy.ApproverGroupID}, "approvals_required": {"1"},
			"default_duration": {"1h"}, "max_duration": {"4h"}, "pending_timeout": {"24h"}, "justification_required": {"on"},
			"enabled": {"on"}, "emergency_allowed": {"on"}, "emergency_duration": {"5h"}, "version": {"1"}}
		if p := root.post("/admin/policies/"+es.policy.ID, policyForm); p.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(p.body, "emergency duration between") || !strings.Contains(p.body, `value="5h"`) {
			t.Fatalf("an emergency duration above the maximum: %d", p.StatusCode)
		}
		policyForm.Set("emergency_duration", "30m")
		if p := root.post("/admin/policies/"+es.policy.ID, policyForm); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("allow emergencies: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		// The policy API carries the same settings with the same validation.
		rootTok := root.makeToken("admin", "api")
		status, pol := a.apiCall("GET", "/api/v1/policies/"+es.policy.ID, rootTok, nil)
		if status != http.StatusOK || pol["emergency_allowed"] != true || pol["emergency_duration_min"] != float64(30) {
			t.Fatalf("policy API: %d %v", status, pol)
		}
		pol["emergency_duration_min"] = 300
		if status, out := a.apiCall("PUT", "/api/v1/policies/"+es.policy.ID, rootTok, pol); status != http.StatusBadRequest || out["field"] != "emergency_duration_min" {
			t.Fatalf("policy API, emergency duration above the maximum: %d %v", status, out)
		}
		pol["emergency_duration_min"] = -5
		if status, out := a.apiCall("PUT", "/api/v1/policies/"+es.policy.ID, rootTok, pol); status != http.StatusBadRequest || out["field"] != "emergency_duration_min" {
			t.Fatalf("policy API, a negative emergency duration: %d %v", status, out)
		}
		root.get("/admin/settings")
		settings := url.Values{"enforcement": {"on"}, "max_duration": {"24h"}, "security_email": {"not an address"}}
		if p := root.post("/admin/settings", settings); p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.body, "not an address") {
			t.Fatalf("a bad security address: %d", p.StatusCode)
		}
		settings.Set("security_email", "Security@Example.com")
		if p := root.post("/admin/settings", settings); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("save the security address: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		if org, _ := a.db.OrgSettings(ctx); org.SecurityEmail != "security@example.com" {
			t.Fatalf("security address: %q", org.SecurityEmail)
		}

		// Eve sees the separate emergency choice; without two-step verification she cannot use it.
		ec := a.client()
		ec.signIn("eve@example.com", goodPassword)
		p = ec.get("/requests/new?policy=" + es.policy.ID)
		if p.find("emergency-form").Length() != 1 || !strings.Contains(p.find("submit-emergency").Text(), "30 min") {
			t.Fatalf("no emergency form: %q", p.find("emergency").Text())
		}
		ask := url.Values{"policy_id": {es.policy.ID}, "justification": {"Mail flow is down for everyone"}, "ticket": {"INC-42"}}
		if p := ec.post("/requests/emergency", ask); p.StatusCode != http.StatusForbidden {
			t.Fatalf("emergency without two-step verification: %d", p.StatusCode)
		}
		secret, _ := ec.enrol()
		// A missing justification is shown beside its field before any code is asked.
		ec.get("/requests/new?policy=" + es.policy.ID)
		if p := ec.post("/requests/emergency", url.Values{"policy_id": {es.policy.ID}, "ticket": {"INC-42"}}); p.StatusCode != http.StatusUnprocessableEntity ||
			p.find("emergency").AttrOr("open", "x") == "x" || !strings.Contains(p.find("emergency").Text(), "Say why you need emergency access") ||
			!strings.Contains(p.find("emergency").Text(), "INC-42") && p.find(`emergency-form`).Find(`input[value="INC-42"]`).Length() == 0 ||
			p.find("nav-request").AttrOr("aria-current", "") != "page" {
			t.Fatalf("emergency without a justification: %d, navigation %q", p.StatusCode, p.find("nav-request").AttrOr("aria-current", ""))
		}
		// Even right after a step-up, the emergency asks for a code of its own.
		a.clock.Advance(30 * time.Second)
		if p := ec.post("/requests/emergency", ask); p.StatusCode != http.StatusOK || !strings.Contains(p.body, "stepup_code") {
			t.Fatalf("emergency asks for a code: %d", p.StatusCode)
		}
		if n := len(a.events(audit.RequestEmergencyGranted.String())); n != 0 {
			t.Fatalf("granted before the code: %d", n)
		}
		a.clock.Advance(30 * time.Second)
		withCode := url.Values{"policy_id": ask["policy_id"], "justification": ask["justification"], "ticket": ask["ticket"],
			"stepup_code": {code(t, secret, a.clock.Now())}}
		p = ec.post("/requests/emergency", withCode)
		if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/requests/") {
			t.Fatalf("emergency with a code: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		id := strings.TrimPrefix(p.Header.Get("Location"), "/requests/")
		r, err := a.db.RequestByID(ctx, id)
		if err != nil || !r.Emergency || r.Status != pam.StatusApproved || !r.InForce(a.clock.Now()) || r.Duration != 30*time.Minute ||
			r.EndsAt.Sub(*r.StartsAt) != 30*time.Minute {
			t.Fatalf("the emergency grant: %+v %v", r, err)
		}
		if evs := a.events(audit.RequestEmergencyGranted.String()); len(evs) != 1 || evs[0].ActorType != audit.System.Type {
			t.Fatalf("granted event: %+v", evs)
		}
		// Every approver but Eve, and the security address, were mailed at once.
		if to := a.recipients(id, mail.KindEmergency); strings.Join(to, ",") != "olivia@example.com,oscar@example.com,security@example.com" {
			t.Fatalf("emergency mail went to %v", to)
		}
		ms, _ := a.db.Mail(ctx, pam.MailFilter{RequestID: id, Limit: 10})
		for _, m := range ms {
			if m.Kind == mail.KindEmergency && (!strings.Contains(m.Subject, "Emergency access: Eve Requester took") ||
				!strings.Contains(m.Text, "Mail flow is down for everyone") || !strings.Contains(m.Text, "/requests/"+id)) {
				t.Fatalf("emergency mail: %q\n%s", m.Subject, m.Text)
			}
		}
		// The banner shows on her page and her list; she may not review it herself.
		p = ec.get("/requests/" + id)
		if p.find("emergency-banner").Length() != 1 || p.find("emergency-review-form").Length() != 0 {
			t.Fatalf("requester's page: banner %d, review form %d", p.find("emergency-banner").Length(), p.find("emergency-review-form").Length())
		}
		if p := ec.get("/requests"); p.find("emergency-badge").Length() != 1 {
			t.Fatal("no emergency badge on the requester's list")
		}
		if p := ec.post("/requests/"+id+"/emergency-review", url.Values{"outcome": {"confirmed"}}); p.StatusCode != http.StatusForbidden {
			t.Fatalf("requester reviews her own emergency: %d", p.StatusCode)
		}
		// The admin dashboard lists it, unreviewed, with its link.
		if p := root.get("/"); p.find("unreviewed-emergency").Length() != 1 || href(p, "unreviewed-emergency-link") != "/requests/"+id {
			t.Fatalf("dashboard: %d unreviewed emergencies", p.find("unreviewed-emergency").Length())
		}
		// One open emergency per person and policy.
		ec.get("/requests/new?policy=" + es.policy.ID)
		a.clock.Advance(30 * time.Second)
		withCode.Set("stepup_code", code(t, secret, a.clock.Now()))
		if p := ec.post("/requests/emergency", withCode); p.StatusCode != http.StatusConflict || !strings.Contains(p.body, "already have emergency access") {
			t.Fatalf("a second open emergency: %d", p.StatusCode)
		}

		// Olivia finds it in her inbox, counted in the navigation, and confirms it.
		oc := a.client()
		oc.signIn("olivia@example.com", goodPassword)
		p = oc.get("/approvals")
		if p.find("emergency-review-row").Length() != 1 {
			t.Fatalf("no emergency review in the inbox: %d", p.find("emergency-review-row").Length())
		}
		if n := strings.TrimSpace(oc.get("/").doc.Find(".nav-count").First().Text()); n != "1" {
			t.Fatalf("navigation count: %q", n)
		}
		p = oc.get("/requests/" + id)
		if p.find("emergency-banner").Length() != 1 || p.find("emergency-review-form").Length() != 1 {
			t.Fatal("the approver sees no banner or no review form")
		}
		// Misuse revokes, so it folds open first, as "Revoke…" does; without a reason it comes
		// back open, the error beside its field.
		if d := p.find("misuse-details"); d.Length() != 1 || d.Is("[open]") || d.Find(`[data-testid="emergency-misuse"]`).Length() != 1 ||
			d.Find(`textarea[name="reason"][required]`).Length() != 1 {
			t.Fatal("mark as misuse is not a folded confirmation asking why")
		}
		if p := oc.post("/requests/"+id+"/emergency-review", url.Values{"outcome": {"misuse"}, "reason": {"  "}}); p.StatusCode != http.StatusUnprocessableEntity ||
			!p.find("misuse-details").Is("[open]") || !strings.Contains(p.find("misuse-details").Find(`[data-testid="error-reason"]`).Text(), "Say what was wrong") {
			t.Fatalf("misuse without a reason: %d", p.StatusCode)
		}
		if p := oc.post("/requests/"+id+"/emergency-review", url.Values{"outcome": {"confirmed"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirm: %d", p.StatusCode)
		}
		if r, _ := a.db.RequestByID(ctx, id); r.EmergencyReview == nil || r.EmergencyReview.Outcome != pam.EmergencyConfirmed ||
			r.EmergencyReview.ReviewerID != olivia.ID || r.Status != pam.StatusApproved {
			t.Fatalf("after confirm: %+v", r.EmergencyReview)
		}
		if len(a.events(audit.RequestEmergencyConfirmed.String())) != 1 {
			t.Fatal("confirm not audited")
		}
		// The security address and the other approver hear that it was reviewed; Olivia, who
		// reviewed it, and Eve do not.
		if to := a.recipients(id, mail.KindEmergencyConfirmed); strings.Join(to, ",") != "oscar@example.com,security@example.com" {
			t.Fatalf("the confirmation went to %v", to)
		}
		for _, m := range a.messages(id, mail.KindEmergencyConfirmed) {
			if !strings.Contains(m.Subject, "Emergency access confirmed: Eve Requester") || !strings.Contains(m.Text, "confirmed it was needed") ||
				!strings.Contains(m.Text, olivia.Name) || !strings.Contains(m.HTML, "/requests/"+id) {
				t.Fatalf("confirmation mail: %q\n%s", m.Subject, m.Text)
			}
		}
		if p := oc.get("/approvals"); p.find("emergency-review-row").Length() != 0 {
			t.Fatal("a reviewed emergency stays in the inbox")
		}
		// One review record: Oscar cannot review it again.
		osc := a.client()
		osc.signIn("oscar@example.com", goodPassword)
		osc.get("/requests/" + id)
		if p := osc.post("/requests/"+id+"/emergency-review", url.Values{"outcome": {"misuse"}, "reason": {"late"}}); p.StatusCode != http.StatusConflict {
			t.Fatalf("a second review: %d", p.StatusCode)
		}

		// The API twin: the grant ends, then a new emergency needs X-Elevate-OTP every time.
		tok := a.apiTokenWithCode(ec, secret)
		a.clock.Advance(31 * time.Minute)
		body := map[string]any{"policy_id": es.policy.ID, "justification": "Again on fire"}
		if status, out := a.apiCall("POST", "/api/v1/requests/emergency", tok, body); status != http.StatusUnauthorized || out["code"] != "step_up_required" {
			t.Fatalf("API emergency without a code: %d %v", status, out)
		}
		a.clock.Advance(30 * time.Second)
		status, out := a.apiCallOTP("POST", "/api/v1/requests/emergency", tok, code(t, secret, a.clock.Now()), body)
		if status != http.StatusCreated || out["emergency"] != true || out["status"] != "approved" || out["in_force"] != true {
			t.Fatalf("API emergency: %d %v", status, out)
		}
		id2 := out["id"].(string)
		if to := a.recipients(id2, mail.KindEmergency); len(to) != 3 {
			t.Fatalf("API emergency mail: %v", to)
		}
		// Eve cannot confirm her own on the API either; Oscar marks it as misuse, which revokes it.
		a.clock.Advance(30 * time.Second)
		if status, out := a.apiCallOTP("POST", "/api/v1/requests/"+id2+"/confirm", tok, code(t, secret, a.clock.Now()), nil); status != http.StatusForbidden {
			t.Fatalf("requester confirms on the API: %d %v", status, out)
		}
		otok := a.apiToken("oscar@example.com")
		if status, out := a.apiCall("POST", "/api/v1/requests/"+id2+"/misuse", otok, map[string]any{}); status != http.StatusBadRequest || out["field"] != "reason" {
			t.Fatalf("misuse without a reason: %d %v", status, out)
		}
		status, out = a.apiCall("POST", "/api/v1/requests/"+id2+"/misuse", otok, map[string]any{"reason": "No incident was open"})
		if status != http.StatusOK || out["status"] != "revoked" || out["in_force"] != false {
			t.Fatalf("misuse: %d %v", status, out)
		}
		if rv, _ := out["emergency_review"].(map[string]any); rv["outcome"] != "misuse" || rv["reviewer"] != oscar.Name {
			t.Fatalf("misuse review: %v", out["emergency_review"])
		}
		if len(a.events(audit.RequestMisuseReported.String())) != 1 || len(a.events(audit.RequestRevoked.String())) != 1 {
			t.Fatal("misuse and its revoke not audited")
		}
		// The misuse, with its reason and the revoke, reaches the security address and Olivia.
		if to := a.recipients(id2, mail.KindMisuse); strings.Join(to, ",") != "olivia@example.com,security@example.com" {
			t.Fatalf("the misuse report went to %v", to)
		}
		for _, m := range a.messages(id2, mail.KindMisuse) {
			if !strings.Contains(m.Subject, "Misuse reported: Eve Requester") || !strings.Contains(m.Text, "No incident was open") ||
				!strings.Contains(m.Text, "revoked at once") {
				t.Fatalf("misuse mail: %q\n%s", m.Subject, m.Text)
			}
		}
		if to := a.recipients(id2, mail.KindRevoked); strings.Join(to, ",") != eve.Email {
			t.Fatalf("revoke mail: %v", to)
		}
		// The admin dashboard listed the unreviewed ones; now none is left.
		root = a.client()
		root.signIn("root@example.com", goodPassword)
		if p := root.get("/"); p.StatusCode != http.StatusOK || p.find("unreviewed-emergency").Length() != 0 {
			t.Fatalf("dashboard still lists %d unreviewed emergencies", p.find("unreviewed-emergency").Length())
		}
	})
}
