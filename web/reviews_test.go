package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// reviewItemIDs lists the item ids of a reviewer's page, by member email.
func reviewItemIDs(p page) map[string]string {
	out := map[string]string{}
	p.find("review-item").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Find(`input[name="item"]`).Attr("value")
		out[strings.TrimSpace(s.Find("div.text-xs").First().Text())] = id
	})
	return out
}

// An administrator names a group's owner and starts a review of a policy's groups; the owner
// reviews from the page the mail links to (never her own membership), an administrator decides
// in bulk, closing applies the removal, and the report reads the same as a page, a CSV and JSON.
func TestAccessReviewThroughThePages(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		cfg, _ := config.Load(func(string) string { return "" })
		a.admin.SetReviewMailer(mail.NewOutbox(a.db, cfg, a.clock.Now))
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		olivia := a.mustUser("olivia@example.com", "Olivia Owner", goodPassword, false)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		es := a.mustEstate(1, olivia, rhea)
		group := es.policy.ApproverGroupID

		root := a.client()
		root.signIn("root@example.com", goodPassword)
		root.get("/admin/groups/" + group)
		if p := root.post("/admin/groups/"+group+"/owners", url.Values{"user_id": {string(olivia.ID)}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("add owner: %d", p.StatusCode)
		}
		if p := root.get("/admin/groups/" + group); p.find("owners-item").Length() != 1 {
			t.Fatalf("owners on the group page: %d", p.find("owners-item").Length())
		}
		if n := len(a.events(audit.GroupOwnerAdded.String())); n != 1 {
			t.Fatalf("%d owner events", n)
		}

		form := root.get("/admin/reviews/new")
		if form.find("policy-choice").Length() != 1 {
			t.Fatalf("policy choices: %d", form.find("policy-choice").Length())
		}
		// Each policy is named with its scope type in words, as elsewhere, not its raw value.
		if got, want := form.find("policy-choice-type").Text(), es.policy.ScopeType.Label(); got != want || strings.Contains(got, "_") {
			t.Fatalf("policy choice type: %q, want %q", got, want)
		}
		deadline := a.clock.Now().Add(48 * time.Hour).Format("2006-01-02T15:04")
		// No policy ticked: the form comes back with the input kept and the problem beside it.
		bad := root.post("/admin/reviews", url.Values{"name": {"Q3 approvers"}, "scope": {"policies"}, "reviewers": {"owners"},
			"default": {"keep"}, "deadline": {deadline}})
		if bad.StatusCode != http.StatusUnprocessableEntity || bad.find("error-policies").Length() != 1 {
			t.Fatalf("no policy: %d %q", bad.StatusCode, bad.find("error-policies").Text())
		}
		if v, _ := bad.find("field-name").Attr("value"); v != "Q3 approvers" {
			t.Fatalf("name not kept: %q", v)
		}
		p := root.post("/admin/reviews", url.Values{"name": {"Q3 approvers"}, "scope": {"policies"}, "policies": {es.policy.ID},
			"reviewers": {"owners"}, "default": {"keep"}, "deadline": {deadline}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("start: %d %s", p.StatusCode, p.body)
		}
		report := p.Header.Get("Location")
		id := strings.TrimPrefix(report, "/admin/reviews/")
		msgs, err := a.db.Mail(ctx, pam.MailFilter{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		invited := map[string]bool{}
		for _, m := range msgs {
			if m.Kind == mail.KindReviewRequested {
				invited[m.Recipient] = strings.Contains(m.Text, "/reviews/"+id)
			}
		}
		if !invited["olivia@example.com"] || !invited["root@example.com"] || invited["rhea@example.com"] {
			t.Fatalf("invitations: %v", invited)
		}

		// Olivia owns the group and is one of its members: she reviews Rhea, not herself.
		ov := a.client()
		ov.signIn("olivia@example.com", goodPassword)
		if p := ov.get("/reviews"); p.find("my-reviews").Find("a").Length() != 1 {
			t.Fatalf("olivia's reviews: %s", p.find("my-reviews").Text())
		}
		// Her dashboard points to it with its deadline; Rhea, who reviews nothing, sees no such card.
		if d := ov.get("/"); d.find("review-due").Length() != 1 || href(d, "review-due") != "/reviews/"+id ||
			!strings.Contains(d.find("review-due").Text(), "Q3 approvers") || !strings.Contains(d.find("review-due").Text(), "closes in 2 days") {
			t.Fatalf("olivia's dashboard: %d review cards: %q", d.find("review-due").Length(), d.find("review-due").Text())
		}
		rc := a.client()
		rc.signIn("rhea@example.com", goodPassword)
		if d := rc.get("/"); d.find("greeting").Length() != 1 || d.find("review-due").Length() != 0 {
			t.Fatalf("rhea's dashboard: %d greetings, %d review cards", d.find("greeting").Length(), d.find("review-due").Length())
		}
		page := ov.get("/reviews/" + id)
		// The navigation leads to her reviews and marks them as where she is.
		if nav := page.find("nav-reviews").First(); nav.AttrOr("href", "") != "/reviews" || nav.AttrOr("aria-current", "") != "page" {
			t.Fatalf("the navigation's reviews entry: %q, current %q", nav.AttrOr("href", ""), nav.AttrOr("aria-current", ""))
		}
		ids := reviewItemIDs(page)
		if len(ids) != 1 || ids["rhea@example.com"] == "" {
			t.Fatalf("olivia is offered %v", ids)
		}
		if !strings.Contains(page.find("review-items").Text(), "Approves Mailbox admin") {
			t.Fatalf("what the membership lets her do: %s", page.find("review-items").Text())
		}
		// Root's page holds Olivia's item too; Olivia trying it herself is refused.
		rootIDs := reviewItemIDs(root.get("/reviews/" + id))
		own := rootIDs["olivia@example.com"]
		if own == "" || len(rootIDs) != 2 {
			t.Fatalf("root is offered %v", rootIDs)
		}
		ov.get("/reviews/" + id)
		if p := ov.post("/reviews/"+id+"/items/"+own, url.Values{"decision": {"keep"}}); p.StatusCode != http.StatusForbidden {
			t.Fatalf("keeping her own membership: %d", p.StatusCode)
		}
		row := ov.post("/reviews/"+id+"/items/"+ids["rhea@example.com"], url.Values{"decision": {"keep"}, "comment": {"On call"}}, "HX-Request", "true")
		if row.StatusCode != http.StatusOK || !strings.Contains(row.find("decision").Text(), "Keep") {
			t.Fatalf("inline keep: %d %s", row.StatusCode, row.body)
		}

		// A day before the deadline the sweep reminds whoever still has something to decide:
		// root, of Olivia's own membership; not Olivia, who decided Rhea's.
		a.clock.Advance(25 * time.Hour)
		if n, err := a.admin.RemindDueCampaigns(ctx); err != nil || n != 1 {
			t.Fatalf("reminders: %d campaigns, %v", n, err)
		}
		var reminders []pam.OutboxMessage
		all, _ := a.db.Mail(ctx, pam.MailFilter{Limit: 50})
		for _, m := range all {
			if m.Kind == mail.KindReviewReminded {
				reminders = append(reminders, m)
			}
		}
		if len(reminders) != 1 || reminders[0].Recipient != "root@example.com" || !strings.Contains(reminders[0].Subject, "Reminder: access review Q3 approvers closes") ||
			!strings.Contains(reminders[0].Text, "1 group membership waits") || !strings.Contains(reminders[0].Text, "/reviews/"+id) {
			t.Fatalf("reminders: %+v", reminders)
		}
		root.signIn("root@example.com", goodPassword)
		ov.signIn("olivia@example.com", goodPassword)

		// Bulk: more than a page's worth is bad input; the ticked rows are each decided.
		root.get("/reviews/" + id)
		tooMany := url.Values{"decision": {"remove"}}
		for range pam.MaxBulkReview + 1 {
			tooMany.Add("item", own)
		}
		if p := root.post("/reviews/"+id+"/bulk", tooMany); p.StatusCode != http.StatusBadRequest {
			t.Fatalf("too many ticked: %d", p.StatusCode)
		}
		if p := root.post("/reviews/"+id+"/bulk", url.Values{"decision": {"remove"}, "item": {own}, "comment": {"=moved teams"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("bulk: %d %s", p.StatusCode, p.body)
		}
		if n := len(a.events(audit.ReviewItemDecided.String())); n != 2 {
			t.Fatalf("%d decisions audited", n)
		}

		root.get(report)
		if p := root.post(report+"/close", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("close: %d", p.StatusCode)
		}
		if f := root.get(report).find("flash").Text(); !strings.Contains(f, "closed: 1 membership removed.") {
			t.Fatalf("flash after close: %q", f)
		}
		if in, _ := a.db.IsMember(ctx, group, olivia.ID); in {
			t.Fatal("olivia is still a member")
		}
		if in, _ := a.db.IsMember(ctx, group, rhea.ID); !in {
			t.Fatal("rhea was removed")
		}
		// Decisions stop with the close.
		ov.get("/reviews/" + id)
		if p := ov.post("/reviews/"+id+"/items/"+ids["rhea@example.com"], url.Values{"decision": {"remove"}}); p.StatusCode != http.StatusSeeOther ||
			len(a.events(audit.ReviewItemDecided.String())) != 2 {
			t.Fatalf("deciding after the close: %d", p.StatusCode)
		}

		rp := root.get(report)
		if rp.find("report-row").Length() != 2 || rp.find("close-campaign").Length() != 0 {
			t.Fatalf("report: %d rows", rp.find("report-row").Length())
		}
		c := root.get(report + "/export?format=csv")
		recs, err := csv.NewReader(strings.NewReader(c.body)).ReadAll()
		if err != nil || len(recs) != 3 {
			t.Fatalf("csv: %v %q", err, c.body)
		}
		byUser := map[string][]string{}
		for _, r := range recs[1:] {
			byUser[r[3]] = r
		}
		if r := byUser["olivia@example.com"]; r[6] != "remove" || r[7] != "'=moved teams" || r[8] != "Root Admin" || r[10] != "removed" {
			t.Fatalf("olivia's row %q", r)
		}
		if r := byUser["rhea@example.com"]; r[6] != "keep" || r[8] != "Olivia Owner" || r[10] != "kept" {
			t.Fatalf("rhea's row %q", r)
		}
		j := root.get(report + "/export?format=json")
		var doc struct {
			Campaign map[string]any
			Items    []map[string]any
		}
		if err := json.Unmarshal([]byte(j.body), &doc); err != nil || len(doc.Items) != 2 || doc.Campaign["status"] != "closed" {
			t.Fatalf("json: %v %s", err, j.body)
		}
		if p := root.get(report + "/export?format=xml"); p.StatusCode != http.StatusBadRequest {
			t.Fatalf("unknown format: %d", p.StatusCode)
		}
		// An auditor reads the report and its downloads, and closes nothing.
		aud := a.mustUser("audrey@example.com", "Audrey Auditor", goodPassword, false)
		if _, err := a.admin.ChangeUser(ctx, audit.System, aud.ID, admin.MakeAuditor); err != nil {
			t.Fatal(err)
		}
		au := a.client()
		au.signIn("audrey@example.com", goodPassword)
		if p := au.get(report); p.StatusCode != http.StatusOK || p.find("report-row").Length() != 2 || p.find("tab-reviews").Length() != 1 || p.find("tab-users").Length() != 0 {
			t.Fatalf("auditor's report: %d", p.StatusCode)
		}
		if p := au.get(report + "/export?format=csv"); p.StatusCode != http.StatusOK {
			t.Fatalf("auditor's download: %d", p.StatusCode)
		}
		if p := au.post(report+"/close", nil); p.StatusCode != http.StatusForbidden {
			t.Fatalf("auditor closes: %d", p.StatusCode)
		}
		// Someone who reviews nothing there does not see the campaign.
		rh := a.client()
		rh.signIn("rhea@example.com", goodPassword)
		if p := rh.get("/reviews/" + id); p.StatusCode != http.StatusNotFound {
			t.Fatalf("rhea opens the review: %d", p.StatusCode)
		}
	})
}
