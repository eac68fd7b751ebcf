package scale

import (
	"context"
	"net/http"
	neturl "net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestChecksSeeChangesMadeThroughTheOtherReplica runs two processes on one PostgreSQL database.
// Each change is made through process A, by an administrator on the pages or the API, right
// after process B answered a check that the change must turn around; B's very next check
// answers the new way: enforcement switched off and on again, an exempt group set and
// changed, a grant revoked, a user disabled, a check token revoked.
func TestChecksSeeChangesMadeThroughTheOtherReplica(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t, store.Postgres)
	o := seedOrg(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	now := func() time.Time { return time.Now().UTC() }
	adm := admin.New(o.DB, now)
	svc, err := adm.CreateGroup(ctx, audit.System, "Check robots", "")
	if err != nil {
		t.Fatal(err)
	}
	robot := testkit.Requesters[0] // no grant; a member of the service accounts group
	if err := adm.AddMember(ctx, audit.System, svc.ID, o.Users[robot].ID); err != nil {
		t.Fatal(err)
	}
	_, spare, err := auth.NewService(o.DB, nil, now).CreateCheckToken(ctx, "spare-check", audit.System)
	if err != nil {
		t.Fatal(err)
	}
	a, b := startFleet(t, url), startFleet(t, url)
	admin, err := o.SignIn(ctx, a.Base, testkit.AdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	// checkOnB asks process B and fails unless it answers 200 with allowed and reason as given.
	checkOnB := func(step, who string, allowed bool, reason string) {
		t.Helper()
		st, out, err := o.CheckAccess(ctx, b.Base, who, o.JournalTask)
		if err != nil || st != http.StatusOK || out["allowed"] != allowed || out["reason"] != reason {
			t.Fatalf("%s: check of %s on B: %d %v %v; want allowed %v (%s)", step, who, st, out, err, allowed, reason)
		}
	}
	// onA posts a form on process A as the administrator and wants the redirect of a success.
	onA := func(step, path string, form neturl.Values) {
		t.Helper()
		if st, _, err := admin.Get(ctx, "/admin/settings"); err != nil || st != http.StatusOK {
			t.Fatalf("%s: settings page on A: %d %v", step, st, err)
		}
		if st, body, err := admin.Post(ctx, path, form); err != nil || st != http.StatusSeeOther {
			t.Fatalf("%s: POST %s on A: %d %v\n%s", step, path, st, err, errorsIn(body))
		}
	}
	org, err := o.DB.OrgSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	settings := func(enforcement bool, exempt string) neturl.Values {
		f := neturl.Values{"default_approver_group_id": {org.DefaultApproverGroupID}, "exempt_group_id": {exempt},
			"max_duration": {strconv.Itoa(int(org.MaxDuration / time.Minute))}, "reason": {"maintenance window"}, "confirm": {"on"}}
		if enforcement {
			f.Set("enforcement", "on")
		}
		return f
	}

	// Enforcement: off, then on again.
	checkOnB("enforcement on", robot, false, access.ReasonNoGrant)
	onA("enforcement off", "/admin/settings", settings(false, ""))
	checkOnB("enforcement off", robot, true, access.ReasonNotEnforced)
	onA("enforcement on again", "/admin/settings", settings(true, ""))
	checkOnB("enforcement on again", robot, false, access.ReasonNoGrant)

	// The exempt group: set, then changed to a group the person is not in.
	onA("exempt group set", "/admin/settings", settings(true, svc.ID))
	checkOnB("exempt group set", robot, true, access.ReasonExempt)
	onA("exempt group changed", "/admin/settings", settings(true, org.DefaultApproverGroupID))
	checkOnB("exempt group changed", robot, false, access.ReasonNoGrant)

	// A grant revoked through A.
	grant := func(who string) string {
		t.Helper()
		id, _, err := o.Submit(ctx, a.Base, who)
		if err != nil {
			t.Fatal(err)
		}
		if st, out, err := o.Act(ctx, a.Base, testkit.Approvers[0], id, "approve"); err != nil || st != http.StatusOK {
			t.Fatalf("approve: %d %v %v", st, out, err)
		}
		return id
	}
	revoked := testkit.Requesters[1]
	id := grant(revoked)
	checkOnB("grant in force", revoked, true, access.ReasonGrant)
	if st, out, err := o.Act(ctx, a.Base, testkit.AdminEmail, id, "revoke"); err != nil || st != http.StatusOK {
		t.Fatalf("revoke: %d %v %v", st, out, err)
	}
	checkOnB("grant revoked", revoked, false, access.ReasonNoGrant)

	// A user disabled through A, while their grant is still in force.
	disabled := testkit.Requesters[2]
	grant(disabled)
	checkOnB("before the user is disabled", disabled, true, access.ReasonGrant)
	onA("user disabled", "/admin/users/"+string(o.Users[disabled].ID)+"/change?to=disable", neturl.Values{"reason": {"Left the company."}})
	checkOnB("user disabled", disabled, false, access.ReasonDisabled)

	// A check token revoked through A.
	st, out, err := testkit.Call(ctx, "POST", b.Base+"/api/v1/check", spare, map[string]string{"user": robot, "task": o.JournalTask})
	if err != nil || st != http.StatusOK {
		t.Fatalf("spare check token on B: %d %v %v", st, out, err)
	}
	toks, err := o.DB.CheckTokens(ctx, 200)
	if err != nil {
		t.Fatal(err)
	}
	var spareID string
	for _, tok := range toks {
		if tok.Name == "spare-check" {
			spareID = tok.ID
		}
	}
	onA("check token revoked", "/admin/check-tokens/"+spareID+"/revoke", neturl.Values{"reason": {"System retired."}})
	st, out, err = testkit.Call(ctx, "POST", b.Base+"/api/v1/check", spare, map[string]string{"user": robot, "task": o.JournalTask})
	if err != nil || st != http.StatusUnauthorized || out["allowed"] == true {
		t.Fatalf("revoked check token on B: %d %v %v", st, out, err)
	}
	// The other token still works there.
	checkOnB("another token", robot, false, access.ReasonNoGrant)

	for _, p := range []*testkit.Process{a, b} {
		if err := p.Stop(); err != nil {
			t.Fatalf("stop: %v\n%s", err, p.Logs())
		}
	}
	verifyChain(t, url)
}

// errorsIn picks the messages a re-rendered form shows out of a page.
func errorsIn(body string) string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)data-testid="[a-z_-]*error[a-z_-]*"[^>]*>(.*?)<`).FindAllStringSubmatch(body, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return strings.Join(out, "\n")
}
