package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// local formats a time as a datetime-local field in UTC (every test user's zone).
func local(t time.Time) string { return t.UTC().Format("2006-01-02T15:04") }

// delegate names to as c's delegate from start until end through the profile page.
func (c *client) delegate(to string, start, end time.Time) page {
	c.t.Helper()
	c.get("/profile")
	return c.post("/profile/delegation", url.Values{"delegate": {to}, "starts_at": {local(start)}, "ends_at": {local(end)}})
}

// ask submits a request under the estate's policy and returns its path.
func (c *client) ask(es estate) string {
	c.t.Helper()
	c.get("/requests/new")
	p := c.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"2h"}, "justification": {"Mailbox full"}})
	if p.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("submit: %d %s", p.StatusCode, p.find("form-error").Text())
	}
	return p.Header.Get("Location")
}

// decide posts a review from the request's page and returns the answer.
func (c *client) decide(path, decision, comment string) page {
	c.t.Helper()
	c.get(path)
	return c.post(path+"/review", url.Values{"decision": {decision}, "comment": {comment}})
}

// An approver names a delegate on the profile; in the range the delegate sees the approver's
// requests in the inbox ("on behalf of"), counted in the navigation, and decides them, recorded
// as by the delegate on behalf of the approver on the page, in the audit event and the API;
// outside the range, and for the delegate's own delegate, nothing.
func TestDelegateDecidesInRangeOnBehalfOfApprover(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		a.mustUser("dana@example.com", "Dana Delegate", goodPassword, false)
		a.mustUser("eve@example.com", "Eve Further", goodPassword, false)
		es := a.mustEstate(1, olivia)
		now := a.clock.Now()

		ol := a.client()
		ol.signIn("olivia@example.com", goodPassword)
		// Not to oneself, not backwards, not for more than 90 days, not to a stranger.
		for _, c := range []struct {
			to         string
			start, end time.Time
			field      string
		}{
			{"olivia@example.com", now, now.Add(24 * time.Hour), "delegate"},
			{"dana@example.com", now.Add(24 * time.Hour), now.Add(time.Hour), "ends_at"},
			{"dana@example.com", now, now.Add(91 * 24 * time.Hour), "ends_at"},
			{"nobody@example.com", now, now.Add(24 * time.Hour), "delegate"},
		} {
			p := ol.delegate(c.to, c.start, c.end)
			if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-"+c.field).Text() == "" || p.find("field-delegate").AttrOr("value", "") != c.to {
				t.Fatalf("delegate %s %v–%v: %d %q", c.to, c.start, c.end, p.StatusCode, p.find("error-"+c.field).Text())
			}
		}
		// Scheduled from an hour from now, for three days.
		if p := ol.delegate("dana@example.com", now.Add(time.Hour), now.Add(73*time.Hour)); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("delegate: %d %s", p.StatusCode, p.find("error-delegate").Text())
		}
		if p := ol.delegate("eve@example.com", now, now.Add(time.Hour)); p.StatusCode != http.StatusUnprocessableEntity ||
			p.find("error-delegate").Text() == "" || p.find("end-delegation").Length() != 1 {
			t.Fatalf("a second delegation: %d %q", p.StatusCode, p.find("error-delegate").Text())
		}
		if p := ol.get("/profile"); !strings.Contains(p.find("delegation-current").Text(), "Dana Delegate") || p.find("end-delegation").Length() != 1 {
			t.Fatalf("profile: %q", p.find("delegation-current").Text())
		}
		if evs := a.events("delegation.created"); len(evs) != 1 || evs[0].ActorID != string(olivia.ID) {
			t.Fatalf("delegation.created events: %d", len(evs))
		}
		// Dana passes it on to Eve: Eve gets nothing from Olivia.
		da := a.client()
		da.signIn("dana@example.com", goodPassword)
		if p := da.get("/profile"); !strings.Contains(p.find("delegated-to-me").Text(), "Olivia Approver") {
			t.Fatalf("Dana's profile: %q", p.find("delegated-to-me").Text())
		}
		if p := da.delegate("eve@example.com", now, now.Add(80*time.Hour)); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("Dana's delegation: %d", p.StatusCode)
		}

		rh := a.client()
		rh.signIn("rhea@example.com", goodPassword)
		early := rh.ask(es)
		// Before the range, Dana is a stranger to it.
		if p := da.get(early); p.StatusCode != http.StatusNotFound {
			t.Fatalf("Dana before the range: %d", p.StatusCode)
		}
		if p := da.post(early+"/review", url.Values{"decision": {"approve"}}); p.StatusCode != http.StatusNotFound {
			t.Fatalf("Dana's review before the range: %d", p.StatusCode)
		}

		a.clock.Advance(2 * time.Hour)
		for _, c := range []*client{ol, da, rh} {
			c.signIn(map[*client]string{ol: "olivia@example.com", da: "dana@example.com", rh: "rhea@example.com"}[c], goodPassword)
		}
		inbox := da.get("/approvals")
		if inbox.find("inbox-row").Length() != 1 || !strings.Contains(inbox.find("inbox-row").Find("td").Eq(1).Text(), "on behalf of Olivia Approver") ||
			!strings.Contains(inbox.find("nav-approvals").Text(), "1") {
			t.Fatalf("Dana's inbox: %d rows, %q, badge %q", inbox.find("inbox-row").Length(), inbox.find("inbox-row").Text(), inbox.find("nav-approvals").Text())
		}
		if p := da.get(early); p.find("review-form").Length() != 1 || !strings.Contains(p.find("decide-on-behalf").Text(), "Olivia Approver") {
			t.Fatalf("Dana's view of the request: %d %q", p.StatusCode, p.find("decide-on-behalf").Text())
		}
		ev := a.client()
		ev.signIn("eve@example.com", goodPassword)
		if p := ev.get("/approvals"); p.find("inbox-row").Length() != 0 {
			t.Fatal("Dana's delegate got Olivia's request")
		}
		if p := ev.get(early); p.StatusCode != http.StatusNotFound {
			t.Fatalf("Eve's view: %d", p.StatusCode)
		}

		if p := da.decide(early, "approve", "Covering for Olivia"); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("Dana approves: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		page := rh.get(early)
		if page.find("card-status").Text() != "Approved" && page.find("card-status").Text() != "In force" ||
			!strings.Contains(page.body, "Approved by Dana Delegate on behalf of Olivia Approver") {
			t.Fatalf("request page: %q", page.find("card-status").Text())
		}
		approved := a.events("request.approved")
		if len(approved) != 1 || !strings.Contains(string(approved[0].Details), `"on_behalf_of":"`+string(olivia.ID)+`"`) ||
			!strings.Contains(string(approved[0].Details), `"on_behalf_of_name":"Olivia Approver"`) {
			t.Fatalf("request.approved: %d %s", len(approved), approved[0].Details)
		}
		// Olivia's own seat is taken on it: the request left her inbox too, and shows among
		// what she decided, marked as decided by Dana on her behalf.
		if p := ol.get("/approvals"); p.find("inbox-row").Length() != 0 {
			t.Fatal("the request stayed in Olivia's inbox")
		} else if rows := p.find("decided").Find("tbody tr"); rows.Length() != 1 ||
			!strings.Contains(rows.Text(), "Approved by Dana Delegate on your behalf") || rows.Find("a").AttrOr("href", "") != early {
			t.Fatalf("Olivia's decided list: %d rows, %q", rows.Length(), rows.Text())
		}
		// Dana's own list has it as her decision.
		if rows := da.get("/approvals").find("decided").Find("tbody tr"); rows.Length() != 1 || strings.Contains(rows.Text(), "on your behalf") {
			t.Fatalf("Dana's decided list: %d rows, %q", rows.Length(), rows.Text())
		}

		// The API twin reports on_behalf_of.
		token := da.makeToken("dana-script", "api")
		second := rh.ask(es)
		id := strings.TrimPrefix(second, "/requests/")
		code, out := a.apiCall("POST", "/api/v1/requests/"+id+"/deny", token, map[string]string{"comment": "Not this week"})
		reviews, _ := out["reviews"].([]any)
		if code != http.StatusOK || len(reviews) != 1 || reviews[0].(map[string]any)["on_behalf_of"] != "Olivia Approver" ||
			reviews[0].(map[string]any)["reviewer"] != "Dana Delegate" {
			t.Fatalf("API deny: %d %v", code, out)
		}

		// After the range, nothing more.
		a.clock.Advance(72 * time.Hour)
		rh.signIn("rhea@example.com", goodPassword)
		da.signIn("dana@example.com", goodPassword)
		late := rh.ask(es)
		if p := da.get(late); p.StatusCode != http.StatusNotFound {
			t.Fatalf("Dana after the range: %d", p.StatusCode)
		}
		if p := da.get("/approvals"); p.find("inbox-row").Length() != 0 {
			t.Fatal("Dana's inbox after the range")
		}
		// The lapsed delegation makes way for the next one.
		ol.signIn("olivia@example.com", goodPassword)
		if p := ol.delegate("eve@example.com", a.clock.Now(), a.clock.Now().Add(time.Hour)); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("a delegation after the last lapsed: %d %s", p.StatusCode, p.find("error-delegate").Text())
		}
	})
}

// A delegate who is an approver too acts once; once a delegate acted for an approver, the
// approver does not review that request again; the requester never gets their own request by
// delegation, nor does anyone for an approver who is its requester.
func TestDelegationNeverCountsTwiceNorReachesTheRequester(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		otto := a.mustUser("otto@example.com", "Otto Approver", goodPassword, false)
		a.mustUser("dana@example.com", "Dana Delegate", goodPassword, false)
		es := a.mustEstate(2, olivia, otto)
		now := a.clock.Now()
		ol, ot, da, rh := a.client(), a.client(), a.client(), a.client()
		ol.signIn("olivia@example.com", goodPassword)
		ot.signIn("otto@example.com", goodPassword)
		da.signIn("dana@example.com", goodPassword)
		rh.signIn("rhea@example.com", goodPassword)

		// Otto, an approver himself, decides for Olivia too: he acts once.
		if p := ol.delegate("otto@example.com", now, now.Add(48*time.Hour)); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("delegate to Otto: %d", p.StatusCode)
		}
		r1 := rh.ask(es)
		if p := ot.decide(r1, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("Otto approves: %d", p.StatusCode)
		}
		if p := ot.decide(r1, "approve", ""); p.StatusCode != http.StatusConflict {
			t.Fatalf("Otto again: %d", p.StatusCode)
		}
		if p := rh.get(r1); p.find("card-status").Text() != "Pending" {
			t.Fatalf("after Otto alone: %q", p.find("card-status").Text())
		}
		if p := ol.decide(r1, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("Olivia approves: %d", p.StatusCode)
		}
		if p := rh.get(r1); p.find("card-status").Text() == "Pending" {
			t.Fatal("two distinct approvals left it pending")
		}
		ol.get("/profile")
		end := ol.get("/profile").find("end-delegation").Parent().AttrOr("action", "")
		if p := ol.post(end, nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("end my delegation: %d", p.StatusCode)
		}
		if evs := a.events("delegation.ended"); len(evs) != 1 || evs[0].ActorID != string(olivia.ID) {
			t.Fatalf("delegation.ended: %d", len(evs))
		}

		// Dana acts for Olivia; Olivia then has no second say, and the quorum needs Otto.
		if p := ol.delegate("dana@example.com", now, now.Add(48*time.Hour)); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("delegate to Dana: %d %s", p.StatusCode, p.find("error-delegate").Text())
		}
		r2 := rh.ask(es)
		if p := da.decide(r2, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("Dana approves: %d", p.StatusCode)
		}
		if p := ol.decide(r2, "approve", ""); p.StatusCode != http.StatusConflict {
			t.Fatalf("Olivia after her delegate: %d", p.StatusCode)
		}
		if p := rh.get(r2); p.find("card-status").Text() != "Pending" {
			t.Fatalf("after Dana for Olivia: %q", p.find("card-status").Text())
		}
		if p := ot.decide(r2, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("Otto approves: %d", p.StatusCode)
		}

		// Olivia asks herself (with Petra in the group, two others can approve): Dana may not
		// act for the requester.
		petra := a.mustUser("petra@example.com", "Petra Approver", goodPassword, false)
		if err := a.admin.AddMember(context.Background(), audit.System, es.policy.ApproverGroupID, petra.ID); err != nil {
			t.Fatal(err)
		}
		r3 := ol.ask(es)
		if p := da.get(r3); p.StatusCode != http.StatusNotFound {
			t.Fatalf("Dana on Olivia's own request: %d", p.StatusCode)
		}
		if p := da.get("/approvals"); p.find("inbox-row").Length() != 0 {
			t.Fatal("Olivia's own request reached her delegate")
		}

		// Otto delegates to the requester: Rhea never gets her own request that way.
		if p := ot.delegate("rhea@example.com", now, now.Add(48*time.Hour)); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("delegate to Rhea: %d", p.StatusCode)
		}
		r4 := rh.ask(es)
		// (Olivia's own request, still pending, is Rhea's to decide for Otto; hers is not.)
		if p := rh.get("/approvals"); p.find("inbox-row").Length() != 1 || p.find("review").AttrOr("href", "") != r3 {
			t.Fatalf("Rhea's inbox: %d %q", p.find("inbox-row").Length(), p.find("review").AttrOr("href", ""))
		}
		if p := rh.decide(r4, "approve", ""); p.StatusCode != http.StatusForbidden {
			t.Fatalf("Rhea on her own request: %d", p.StatusCode)
		}
	})
}

// Admins see every delegation in force or scheduled on the users page and end any, as the
// actor of its event; the delegate then decides nothing more. Others cannot end it. Ending
// someone else's takes their delegate's say away, so it asks for a reason: without one nothing
// ends and the form comes back open with the error beside the field and what was typed; with
// one it ends and its audit event keeps the reason. The profile's one-click end is for one's
// own delegation only, an admin's included.
func TestAdminEndsADelegation(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newAppWithMail(t, dialect)
		root := a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		dana := a.mustUser("dana@example.com", "Dana Delegate", goodPassword, false)
		es := a.mustEstate(1, olivia)
		now := a.clock.Now()
		ol, da, rh, ad := a.client(), a.client(), a.client(), a.client()
		ol.signIn("olivia@example.com", goodPassword)
		da.signIn("dana@example.com", goodPassword)
		rh.signIn("rhea@example.com", goodPassword)
		ad.signIn("root@example.com", goodPassword)
		if p := ol.delegate("dana@example.com", now, now.Add(24*time.Hour)); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("delegate: %d", p.StatusCode)
		}
		// The new request's mail goes to Olivia and to Dana, in range.
		r1 := rh.ask(es)
		to := map[string]bool{}
		ms, err := a.db.Mail(context.Background(), pam.MailFilter{RequestID: strings.TrimPrefix(r1, "/requests/"), Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			to[m.Recipient] = true
		}
		if !to["olivia@example.com"] || !to["dana@example.com"] || to["rhea@example.com"] {
			t.Fatalf("pending mail went to %v", to)
		}

		// Dana decides it; the requester's mail says for whom.
		if p := da.decide(r1, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("Dana approves: %d", p.StatusCode)
		}
		ms, _ = a.db.Mail(context.Background(), pam.MailFilter{RequestID: strings.TrimPrefix(r1, "/requests/"), Limit: 50})
		told := false
		for _, m := range ms {
			if m.Recipient == "rhea@example.com" && strings.HasPrefix(m.Subject, "Approved") {
				told = strings.Contains(m.Text, "Approved by Dana Delegate on behalf of Olivia Approver.") &&
					strings.Contains(m.HTML, "Dana Delegate on behalf of Olivia Approver")
			}
		}
		if !told {
			t.Fatal("the requester's mail does not say Dana approved on behalf of Olivia")
		}

		users := ad.get("/admin/users")
		row := users.find("delegation-row")
		if row.Length() != 1 || !strings.Contains(row.Text(), "Olivia Approver") || !strings.Contains(row.Text(), "Dana Delegate") {
			t.Fatalf("admin delegations: %d %q", row.Length(), row.Text())
		}
		action := row.Find("form").AttrOr("action", "")
		if row.Find(`[data-testid="field-reason"]`).Length() != 1 || row.Find(`[data-testid="admin-end-delegation-details"]`).AttrOr("open", "none") != "none" {
			t.Fatalf("the end of someone else's delegation does not ask why, folded: %q", row.Text())
		}
		// Dana may not end it; neither through the admin route.
		if p := da.post(action, url.Values{"reason": {"Back early"}}); p.StatusCode != http.StatusForbidden && p.StatusCode != http.StatusNotFound {
			t.Fatalf("Dana ends it: %d", p.StatusCode)
		}
		// The profile's one-click end is not a way round the reason, for an admin either.
		ownEnd := strings.Replace(action, "/admin/delegations/", "/profile/delegation/", 1)
		if p := ad.post(ownEnd, nil); p.StatusCode != http.StatusNotFound {
			t.Fatalf("admin ends someone else's delegation from the profile route: %d", p.StatusCode)
		}
		// No reason, only spaces, one too long or one with a control character: nothing ends and
		// the form asks again.
		for _, why := range []string{"", "   ", strings.Repeat("x", pam.MaxComment+1), "pasted \x1b[0m"} {
			p := ad.post(action, url.Values{"reason": {why}})
			row := p.find("delegation-row")
			if p.StatusCode != http.StatusUnprocessableEntity || row.Length() != 1 || row.Find(`[data-testid="error-reason"]`).Text() == "" ||
				row.Find(`[data-testid="admin-end-delegation-details"]`).AttrOr("open", "none") == "none" ||
				row.Find(`[data-testid="field-reason"]`).Text() != why {
				t.Fatalf("end with reason %.20q: %d, %d rows, error %q", why, p.StatusCode, row.Length(), row.Find(`[data-testid="error-reason"]`).Text())
			}
		}
		if evs := a.events("delegation.ended"); len(evs) != 0 {
			t.Fatalf("ended without a reason: %d events", len(evs))
		}
		id := strings.TrimSuffix(strings.TrimPrefix(action, "/admin/delegations/"), "/end")
		if d, err := a.db.DelegationByID(context.Background(), id); err != nil || d.EndedAt != nil {
			t.Fatalf("the delegation after ends without a reason: %+v %v", d, err)
		}
		if p := ad.post("/admin/delegations/no-such-one/end", url.Values{"reason": {"Gone"}}); p.StatusCode != http.StatusNotFound {
			t.Fatalf("ending a delegation that does not exist: %d", p.StatusCode)
		}
		if p := ad.post(action, url.Values{"reason": {"  Olivia is back early.  "}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("admin ends it: %d %s", p.StatusCode, p.find("error-reason").Text())
		}
		evs := a.events("delegation.ended")
		if len(evs) != 1 || evs[0].ActorID != string(root.ID) || !strings.Contains(string(evs[0].Details), string(dana.ID)) ||
			!strings.Contains(string(evs[0].Details), `"reason":"Olivia is back early."`) {
			t.Fatalf("delegation.ended: %d %s", len(evs), evs[0].Details)
		}
		if ad.post(action, url.Values{"reason": {"Again"}}); len(a.events("delegation.ended")) != 1 {
			t.Fatal("ended twice")
		}
		if p := ad.get("/admin/users"); p.find("delegation-row").Length() != 0 || p.find("delegations-empty").Length() != 1 {
			t.Fatal("an ended delegation is still listed")
		}
		r2 := rh.ask(es)
		if p := da.get(r2); p.StatusCode != http.StatusNotFound {
			t.Fatalf("Dana after the end: %d", p.StatusCode)
		}
		ms, _ = a.db.Mail(context.Background(), pam.MailFilter{RequestID: strings.TrimPrefix(r2, "/requests/"), Limit: 50})
		for _, m := range ms {
			if m.Recipient == "dana@example.com" {
				t.Fatal("mail to Dana after her delegation ended")
			}
		}

		// An admin's own delegation ends from the users page in one click, as on the profile.
		if p := ad.delegate("dana@example.com", now, now.Add(24*time.Hour)); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("the admin's own delegation: %d", p.StatusCode)
		}
		row = ad.get("/admin/users").find("delegation-row")
		if row.Length() != 1 || row.Find(`[data-testid="field-reason"]`).Length() != 0 {
			t.Fatalf("the admin's own delegation asks why: %d %q", row.Length(), row.Text())
		}
		if p := ad.post(row.Find("form").AttrOr("action", ""), nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("the admin ends their own: %d", p.StatusCode)
		}
		if evs := a.events("delegation.ended"); len(evs) != 2 {
			t.Fatalf("delegation.ended: %d", len(evs))
		}
	})
}

// The out-of-office form proposes a delegation from now for a week, in the approver's time
// zone, so naming a delegate takes only their address.
func TestDelegationFormProposesAWeekFromNow(t *testing.T) {
	a := newApp(t, "sqlite")
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	a.mustUser("dana@example.com", "Dana Delegate", goodPassword, false)
	if err := a.db.SetTimeZone(t.Context(), olivia.ID, "Asia/Tokyo"); err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	now := a.clock.Now()
	ol := a.client()
	ol.signIn("olivia@example.com", goodPassword)
	p := ol.get("/profile")
	start, end := p.find("field-starts_at").AttrOr("value", ""), p.find("field-ends_at").AttrOr("value", "")
	if want := now.In(tokyo).Format("2006-01-02T15:04"); start != want {
		t.Fatalf("proposed start %q, want now in Tokyo %q", start, want)
	}
	if want := now.Add(7 * 24 * time.Hour).In(tokyo).Format("2006-01-02T15:04"); end != want {
		t.Fatalf("proposed end %q, want a week later %q", end, want)
	}
	p = ol.post("/profile/delegation", url.Values{"delegate": {"dana@example.com"}, "starts_at": {start}, "ends_at": {end}})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("naming a delegate with what the form proposes: %d %s", p.StatusCode, p.find("error-delegate").Text())
	}
	ds, err := a.db.OpenDelegations(t.Context(), olivia.ID, now, nil, 2)
	if err != nil || len(ds) != 1 || !ds[0].StartsAt.Equal(now.Truncate(time.Minute)) || !ds[0].EndsAt.Equal(now.Add(7*24*time.Hour).Truncate(time.Minute)) {
		t.Fatalf("the delegation: %+v %v", ds, err)
	}
}
