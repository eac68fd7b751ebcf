package web_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// sweepTogether runs n sweepers, each an access service of its own with the outbox, at the
// same moment against the app's database, as n processes would.
func (a *app) sweepTogether(n int) {
	a.t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		a.t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		svc := access.New(a.db, a.clock.Now, mail.NewOutbox(a.db, cfg, a.clock.Now))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = svc.Sweep(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			a.t.Fatalf("sweep: %v", err)
		}
	}
}

// mailTo lists, sorted, the recipients of the request's messages of one kind (recipients),
// checking that each subject starts with subject and that each links to the request.
func (a *app) mailTo(requestID, kind, subject string) []string {
	a.t.Helper()
	var to []string
	for _, m := range a.messages(requestID, kind) {
		if !strings.HasPrefix(m.Subject, subject) || !strings.Contains(m.Text, "/requests/"+requestID) || m.HTML == "" {
			a.t.Fatalf("%s mail: %q\n%s", kind, m.Subject, m.Text)
		}
		to = append(to, m.Recipient)
	}
	sort.Strings(to)
	return to
}

// A policy set on its page reminds the approvers who have not acted once, and escalates once,
// however many sweeps run at the same moment; an escalation member may then decide, the
// requester still may not, and the requester's page says who can approve and when it
// escalates.
func TestReminderAndEscalationThroughPages(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		otto := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
		pia := a.mustUser("pia@example.com", "Pia Approver", goodPassword, false)
		bea := a.mustUser("bea@example.com", "Bea Backup", goodPassword, false)
		approvers, err := a.admin.CreateGroup(ctx, audit.System, "Approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		backup, err := a.admin.CreateGroup(ctx, audit.System, "Backup approvers", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []pam.User{olivia, otto, pia} {
			if err := a.admin.AddMember(ctx, audit.System, approvers.ID, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		// The requester is in the escalation group too: escalation never lets her decide her own.
		for _, u := range []pam.User{bea, rhea} {
			if err := a.admin.AddMember(ctx, audit.System, backup.ID, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		task, err := a.admin.CreateTask(ctx, audit.System, "exchange/Set-Mailbox", "", "")
		if err != nil {
			t.Fatal(err)
		}

		root := a.client()
		root.signIn("root@example.com", goodPassword)
		root.get("/admin/policies/new?scope_type=task&scope_id=" + task.ID)
		p := root.post("/admin/policies", url.Values{"scope_type": {"task"}, "scope_id": {task.ID}, "approval_type": {"manual"},
			"approver_group_id": {approvers.ID}, "approvals_required": {"2"}, "default_duration": {"1h"}, "max_duration": {"4h"},
			"pending_timeout": {"8h"}, "remind_after": {"2h"}, "escalation_group_id": {backup.ID}, "escalate_after": {"4h"}, "enabled": {"on"}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("create policy: %d %s %s", p.StatusCode, p.find("form-error").Text(), p.find("warning").Text())
		}
		policyURL := p.Header.Get("Location")
		pp := root.get(policyURL)
		if v, _ := pp.find("field-remind_after").Attr("value"); v != "2h" {
			t.Fatalf("remind after shown as %q", v)
		}
		if !strings.Contains(pp.find("escalation").Text(), "Backup approvers") {
			t.Fatalf("escalation section: %q", pp.find("escalation").Text())
		}
		policyID := strings.TrimPrefix(policyURL, "/admin/policies/")

		req := a.client()
		req.signIn("rhea@example.com", goodPassword)
		req.get("/requests/new?policy=" + policyID)
		p = req.post("/requests", url.Values{"policy_id": {policyID}, "duration": {"1h"}, "justification": {"INC-42"}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("submit: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		reqURL := p.Header.Get("Location")
		id := strings.TrimPrefix(reqURL, "/requests/")
		mine := req.get(reqURL)
		if got := mine.find("card-deciders").Text(); got != "Olivia Approver, Otto Approver, Pia Approver" {
			t.Fatalf("who can approve: %q", got)
		}
		escAt := a.clock.Now().Add(4 * time.Hour).UTC().Format("15:04")
		if got := mine.find("card-escalation").Text(); !strings.Contains(got, "Escalates to Backup approvers at "+escAt+" (UTC)") {
			t.Fatalf("escalation line: %q", got)
		}

		ol := a.client()
		ol.signIn("olivia@example.com", goodPassword)
		ol.get(reqURL)
		if p := ol.post(reqURL+"/review", url.Values{"decision": {"approve"}, "back": {reqURL}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("olivia approves: %d", p.StatusCode)
		}
		if got := req.get(reqURL).find("card-deciders").Text(); got != "Otto Approver, Pia Approver" {
			t.Fatalf("who can approve after one approval: %q", got)
		}

		// Before the escalation the backup group cannot see the request.
		bc := a.client()
		bc.signIn("bea@example.com", goodPassword)
		if p := bc.get(reqURL); p.StatusCode != http.StatusNotFound {
			t.Fatalf("escalation member before escalation: %d", p.StatusCode)
		}

		// Nothing is due yet.
		a.sweepTogether(2)
		if n := len(a.events(audit.RequestReminded.String())); n != 0 {
			t.Fatalf("reminded early: %d", n)
		}
		a.clock.Advance(2 * time.Hour)
		a.sweepTogether(3)
		if n := len(a.events(audit.RequestReminded.String())); n != 1 {
			t.Fatalf("reminder events after concurrent sweeps: %d, want 1", n)
		}
		if got := a.mailTo(id, mail.KindReminded, "Reminder: Rhea Requester's request for task exchange/Set-Mailbox waits"); strings.Join(got, ",") != "otto@example.com,pia@example.com" {
			t.Fatalf("reminded %v, want the approvers who have not acted", got)
		}
		a.sweepTogether(2)
		if got := a.mailTo(id, mail.KindReminded, "Reminder: Rhea Requester's request for task exchange/Set-Mailbox waits"); len(got) != 2 {
			t.Fatalf("reminded again: %v", got)
		}
		// Sessions end after 30 idle minutes: everyone signs in again after the clock moved.
		bc = a.client()
		bc.signIn("bea@example.com", goodPassword)
		if p := bc.get(reqURL); p.StatusCode != http.StatusNotFound {
			t.Fatalf("escalation member after the reminder: %d", p.StatusCode)
		}

		a.clock.Advance(2 * time.Hour)
		a.sweepTogether(3)
		bc, req = a.client(), a.client()
		bc.signIn("bea@example.com", goodPassword)
		req.signIn("rhea@example.com", goodPassword)
		evs := a.events(audit.RequestEscalated.String())
		if len(evs) != 1 || evs[0].RequestID != id {
			t.Fatalf("escalation events after concurrent sweeps: %d, want 1", len(evs))
		}
		if got := a.mailTo(id, mail.KindEscalated, "Escalated to you: Rhea Requester asks for"); strings.Join(got, ",") != "bea@example.com" {
			t.Fatalf("escalation mailed to %v, want the escalation group without the requester", got)
		}
		a.sweepTogether(2)
		if n := len(a.events(audit.RequestEscalated.String())); n != 1 {
			t.Fatalf("escalated again: %d", n)
		}

		// The escalation member's inbox says why the request is there, and counts it.
		inbox := bc.get("/approvals")
		if inbox.find("inbox-row").Length() != 1 || inbox.find("escalated").Length() != 1 {
			t.Fatalf("escalation inbox: %d rows, %d escalated", inbox.find("inbox-row").Length(), inbox.find("escalated").Length())
		}
		if badge := inbox.find("nav-approvals").Text(); !strings.Contains(badge, "1") {
			t.Fatalf("navigation count: %q", badge)
		}
		// An approver's own inbox does not call it escalated.
		oc := a.client()
		oc.signIn("otto@example.com", goodPassword)
		if oi := oc.get("/approvals"); oi.find("inbox-row").Length() != 1 || oi.find("escalated").Length() != 0 {
			t.Fatalf("approver inbox: %d rows, %d escalated", oi.find("inbox-row").Length(), oi.find("escalated").Length())
		}

		mine = req.get(reqURL)
		if got := mine.find("card-escalation").Text(); !strings.Contains(got, "Escalated to Backup approvers at "+escAt) {
			t.Fatalf("escalated line: %q", got)
		}
		if got := mine.find("card-deciders").Text(); got != "Bea Backup, Otto Approver, Pia Approver" {
			t.Fatalf("who can approve after escalation: %q", got)
		}
		if !strings.Contains(mine.find("timeline").Text()+mine.body, "Escalated to Backup approvers") {
			t.Fatal("timeline without the escalation")
		}

		// The requester, though in the escalation group, still cannot decide her own request.
		rtok := req.makeToken("cli", "api")
		if code, out := a.apiCall("POST", "/api/v1/requests/"+id+"/approve", rtok, map[string]string{"comment": "me"}); code != http.StatusForbidden {
			t.Fatalf("self-approval after escalation: %d %v", code, out)
		}
		code, out := a.apiCall("GET", "/api/v1/requests/"+id, rtok, nil)
		if code != http.StatusOK || out["escalated_at"] == nil || out["escalation_group"] != "Backup approvers" || out["reminded_at"] == nil {
			t.Fatalf("API request: %d %v", code, out)
		}
		if names, _ := out["approvers"].([]any); len(names) != 3 || names[0] != "Bea Backup" {
			t.Fatalf("API approvers: %v", out["approvers"])
		}

		// The escalation member decides, and the quorum (two) is met with Olivia's approval.
		bc.get(reqURL)
		if p := bc.post(reqURL+"/review", url.Values{"decision": {"approve"}, "back": {reqURL}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("escalation member approves: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		if st := req.get(reqURL).find("card-status").Text(); st != "In force" {
			t.Fatalf("after the escalation member's approval: %q", st)
		}
		if n := len(a.events(audit.RequestApproved.String())); n != 1 {
			t.Fatalf("approved events: %d", n)
		}
	})
}

// The follow-up settings are checked alike on the page and the API: escalating at or after the
// time to decide is refused beside its field; an escalation group without enabled members
// needs the same confirmation as a policy nobody can approve; "off" turns reminders off.
func TestPolicyFollowUpValidation(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		g, _ := a.admin.CreateGroup(ctx, audit.System, "Approvers", "")
		if err := a.admin.AddMember(ctx, audit.System, g.ID, olivia.ID); err != nil {
			t.Fatal(err)
		}
		empty, _ := a.admin.CreateGroup(ctx, audit.System, "Nobody home", "")
		task, _ := a.admin.CreateTask(ctx, audit.System, "exchange/Set-Mailbox", "", "")
		other, _ := a.admin.CreateTask(ctx, audit.System, "exchange/Search-Mailbox", "", "")

		root := a.client()
		root.signIn("root@example.com", goodPassword)
		root.get("/admin/policies/new?scope_type=task&scope_id=" + task.ID)
		form := url.Values{"scope_type": {"task"}, "scope_id": {task.ID}, "approval_type": {"manual"}, "approver_group_id": {g.ID},
			"approvals_required": {"1"}, "default_duration": {"1h"}, "max_duration": {"4h"}, "pending_timeout": {"8h"},
			"escalation_group_id": {empty.ID}, "escalate_after": {"8h"}, "remind_after": {"off"}, "enabled": {"on"}}
		p := root.post("/admin/policies", form)
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-escalate_after").Text() == "" {
			t.Fatalf("escalate at the timeout: %d %q", p.StatusCode, p.find("error-escalate_after").Text())
		}
		if v, _ := p.find("field-escalate_after").Attr("value"); v != "8h" {
			t.Fatalf("typed value not kept: %q", v)
		}
		if v, _ := p.find("field-remind_after").Attr("value"); v != "off" {
			t.Fatalf("typed reminder not kept: %q", v)
		}
		form.Set("escalate_after", "3h")
		p = root.post("/admin/policies", form)
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("warning").Text(), "Escalation reaches no one") ||
			p.find("field-confirm_dead_end").Length() != 1 {
			t.Fatalf("empty escalation group: %d %q", p.StatusCode, p.find("warning").Text())
		}
		if href, _ := p.find("warning-fix").Attr("href"); href != "/admin/groups/"+empty.ID {
			t.Fatalf("fix link %q", href)
		}
		form.Set("confirm_dead_end", "on")
		if p = root.post("/admin/policies", form); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirmed: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		evs := a.events(audit.PolicyCreated.String())
		if len(evs) != 1 || !strings.Contains(evs[0].Details, "Escalation reaches no one") || !strings.Contains(evs[0].Details, `"remind_after_min":-1`) {
			t.Fatalf("policy.created: %+v", evs)
		}

		tok := root.makeToken("cli", "api")
		body := map[string]any{"scope_type": "task", "scope_id": other.ID, "approval_type": "manual", "approver_group_id": g.ID,
			"approvals_required": 1, "default_duration_min": 60, "max_duration_min": 240, "pending_timeout_min": 480,
			"escalation_group_id": g.ID, "escalate_after_min": 480, "enabled": true}
		if code, out := a.apiCall("POST", "/api/v1/policies", tok, body); code != http.StatusBadRequest || out["field"] != "escalate_after_min" {
			t.Fatalf("API escalate at the timeout: %d %v", code, out)
		}
		body["escalate_after_min"] = 120
		if code, out := a.apiCall("POST", "/api/v1/policies", tok, body); code != http.StatusBadRequest || out["field"] != "escalation_group_id" {
			t.Fatalf("API escalation to the approver group: %d %v", code, out)
		}
		body["escalation_group_id"] = empty.ID
		if code, out := a.apiCall("POST", "/api/v1/policies", tok, body); code != http.StatusBadRequest || out["field"] != "confirm_dead_end" {
			t.Fatalf("API empty escalation group: %d %v", code, out)
		}
		body["remind_after_min"] = 480
		body["confirm_dead_end"] = true
		if code, out := a.apiCall("POST", "/api/v1/policies", tok, body); code != http.StatusBadRequest || out["field"] != "remind_after_min" {
			t.Fatalf("API reminder at the timeout: %d %v", code, out)
		}
		body["remind_after_min"] = -1
		code, out := a.apiCall("POST", "/api/v1/policies", tok, body)
		if code != http.StatusCreated || out["remind_after_min"] != float64(-1) || out["escalate_after_min"] != float64(120) || out["escalation_group_id"] != empty.ID {
			t.Fatalf("API create: %d %v", code, out)
		}
	})
}
