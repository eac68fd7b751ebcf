package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// TestRemovingMemberAsksFirst: "Remove…" beside a member opens a page that changes nothing and
// says what the removal ends (grants revoked, pending requests cancelled, counted before the
// change); without a reason it asks again with the error beside the field and nothing changes;
// with one the member goes, the flash says what ended and the audit event keeps the reason.
func TestRemovingMemberAsksFirst(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a, rc, team, rhea, grant, pending := teamWithGrant(t, dialect)
		base := "/admin/groups/" + team.ID
		action := base + "/members/" + string(rhea.ID) + "/remove"

		// The group page links to the confirmation rather than posting.
		if href, _ := rc.get(base).find("members").Find(`a[data-testid="remove"]`).Attr("href"); href != action {
			t.Fatalf("remove link: %q", href)
		}
		unchanged := func(when string) {
			t.Helper()
			if !a.isMember(team, rhea) || statusOf(t, a, grant).Status != pam.StatusApproved || statusOf(t, a, pending).Status != pam.StatusPending {
				t.Fatalf("%s: something changed", when)
			}
		}
		conf := rc.get(action)
		if conf.StatusCode != http.StatusOK {
			t.Fatalf("confirmation: %d", conf.StatusCode)
		}
		if w := conf.find("warning").Text(); !strings.Contains(w, "1 grant in force or scheduled revoked") || !strings.Contains(w, "1 pending request cancelled") {
			t.Fatalf("confirmation says: %q", w)
		}
		if conf.find("field-reason").Length() != 1 || !strings.Contains(conf.find("submit").Text(), "Remove member") || !conf.find("submit").HasClass("btn-danger") {
			t.Fatal("the confirmation asks for no reason, or its button is not the red of one that takes access away")
		}
		unchanged("showing the confirmation")

		// No reason: the same page again, input kept, the error beside the field.
		again := rc.post(action, url.Values{"reason": {"   "}})
		if again.StatusCode != http.StatusUnprocessableEntity || again.find("error-reason").Length() != 1 || again.find("warning").Length() != 1 {
			t.Fatalf("without a reason: %d", again.StatusCode)
		}
		unchanged("removing without a reason")
		if evs := a.events("group.member_removed"); len(evs) != 0 {
			t.Fatalf("audited without a change: %+v", evs)
		}

		if p := rc.post(action, url.Values{"reason": {"Moved to the web team."}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove: %d", p.StatusCode)
		}
		if f := rc.get(base).find("flash").Text(); !strings.Contains(f, "Member removed: 1 grant revoked, 1 pending request cancelled.") {
			t.Fatalf("flash: %q", f)
		}
		if a.isMember(team, rhea) || statusOf(t, a, grant).Status != pam.StatusRevoked || statusOf(t, a, pending).Status != pam.StatusCancelled {
			t.Fatal("the removal did not end what it said")
		}
		evs := a.events("group.member_removed")
		if len(evs) != 1 || !strings.Contains(evs[0].Details, `"reason":"Moved to the web team."`) || !strings.Contains(evs[0].Details, `"grants_revoked":1`) {
			t.Fatalf("member removed: %+v", evs)
		}

		// Someone no longer a member has nothing to confirm.
		if p := rc.get(action); p.StatusCode != http.StatusNotFound {
			t.Fatalf("confirmation for a non-member: %d", p.StatusCode)
		}
	})
}

// TestClosingReviewSaysWhatItRemoves: "Close and apply…" on a review's report folds open a
// confirmation that counts, before the change, the memberships closing removes and the grants
// and pending requests their removal ends; closing then says what it did, in good grammar.
func TestClosingReviewSaysWhatItRemoves(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a, rc, team, rhea, grant, pending := teamWithGrant(t, dialect)

		// Every group, nobody reviews, the default removes: Rhea and Olivia both go.
		rc.get("/admin/reviews/new")
		p := rc.post("/admin/reviews", url.Values{"name": {"Quarterly"}, "scope": {"all"}, "reviewers": {"admins"},
			"default": {"remove"}, "deadline": {a.clock.Now().Add(48 * time.Hour).Format("2006-01-02T15:04")}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("start review: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		report := p.Header.Get("Location")
		rp := rc.get(report)
		details := rp.find("close-details")
		if details.Length() != 1 || details.Is("[open]") || details.Find(`[data-testid="close-campaign"]`).Length() != 1 {
			t.Fatalf("close is not a folded confirmation: %d", details.Length())
		}
		if w := rp.find("close-warning").Text(); !strings.Contains(w, "removes 2 memberships: 1 grant in force or scheduled ended at once and 1 pending request cancelled.") {
			t.Fatalf("warning: %q", w)
		}
		if !a.isMember(team, rhea) || statusOf(t, a, grant).Status != pam.StatusApproved {
			t.Fatal("drawing the report changed something")
		}

		if p := rc.post(report+"/close", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("close: %d", p.StatusCode)
		}
		if f := rc.get(report).find("flash").Text(); !strings.Contains(f, "Access review Quarterly closed: 2 memberships removed, 1 grant ended, 1 pending request cancelled.") {
			t.Fatalf("flash: %q", f)
		}
		if a.isMember(team, rhea) || statusOf(t, a, grant).Status != pam.StatusRevoked || statusOf(t, a, pending).Status != pam.StatusCancelled {
			t.Fatal("closing did not end what it said")
		}
		if rc.get(report).find("close-details").Length() != 0 {
			t.Fatal("a closed review still offers to close")
		}
	})
}

// teamWithGrant is an organisation whose policy's eligible group, "Mail team", holds one
// requester with a grant in force and a pending request under it; rc is its administrator,
// signed in.
func teamWithGrant(t *testing.T, dialect string) (a *app, rc *client, team pam.Group, rhea pam.User, grant, pending string) {
	t.Helper()
	a = newAppWith(t, dialect, true)
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	rhea = a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
	es := a.mustEstate(1, olivia)
	team = a.mustGroup("Mail team", rhea)
	rc, req, ol := a.client(), a.client(), a.client()
	rc.signIn("root@example.com", goodPassword)
	req.signIn("rhea@example.com", goodPassword)
	ol.signIn("olivia@example.com", goodPassword)
	if p := rc.editPolicy(es.policy.ID, map[string]string{"eligible_group_id": team.ID}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("set eligible group: %d %s", p.StatusCode, p.find("form-error").Text())
	}
	grant, pending = grantAndPending(t, req, ol, es)
	return a, rc, team, rhea, grant, pending
}
