package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/jobs"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// groupsStorage is the example provider's storage with a groups claim the test sets per user:
// in the ID token, or only in the userinfo answer, or not at all.
type groupsStorage struct {
	*storage.Storage
	mu         sync.Mutex
	groups     map[string]any  // by user id; absent: no claim
	onlyInfo   map[string]bool // the claim is in the userinfo answer only
	infoCalled int
}

func (g *groupsStorage) set(userID string, groups any, onlyUserinfo bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if groups == nil {
		delete(g.groups, userID)
	} else {
		g.groups[userID] = groups
	}
	g.onlyInfo[userID] = onlyUserinfo
}

func (g *groupsStorage) add(info *oidc.UserInfo, userinfo bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if userinfo {
		g.infoCalled++
	}
	v, ok := g.groups[info.Subject]
	if ok && g.onlyInfo[info.Subject] == userinfo {
		info.AppendClaims("groups", v)
	}
}

// SetUserinfoFromRequest fills the ID token.
func (g *groupsStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := g.Storage.SetUserinfoFromRequest(ctx, info, token, scopes); err != nil {
		return err
	}
	g.add(info, false)
	return nil
}

// SetUserinfoFromToken fills the userinfo answer.
func (g *groupsStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := g.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	g.add(info, true)
	return nil
}

// startGroupsOP runs zitadel's example OpenID Provider on loopback, as startExampleOP does,
// with users whose groups the returned storage sets. It returns the issuer URL.
func startGroupsOP(t *testing.T, redirect string) (string, *groupsStorage) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	users := map[string]map[string]any{}
	for id, email := range map[string]string{"u1": "ana@example.com", "u2": "bob@example.com", "u3": "carl@example.com"} {
		users[id] = map[string]any{"ID": id, "Username": email, "Password": "idp password", "FirstName": "Test",
			"LastName": id, "Email": email, "EmailVerified": true, "PreferredLanguage": "en"}
	}
	b, _ := json.Marshal(users)
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	us, err := storage.StoreFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := &groupsStorage{Storage: storage.NewStorageWithClients(us, map[string]*storage.Client{"elevate": storage.WebClient("elevate", "client secret", redirect)}),
		groups: map[string]any{}, onlyInfo: map[string]bool{}}
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return issuer, st
}

// ssoSignIn signs a new client in through the provider as username and returns it.
func (a *app) ssoSignIn(username string) *client {
	a.t.Helper()
	c := a.client()
	if p := c.get(c.providerLogin(username)); p.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("SSO sign-in of %s: %d %s", username, p.StatusCode, p.find("sso-refused-message").Text())
	}
	c.get("/") // for its CSRF token
	return c
}

func (a *app) isMember(g pam.Group, u pam.User) bool {
	a.t.Helper()
	in, err := a.db.IsMember(context.Background(), g.ID, u.ID)
	if err != nil {
		a.t.Fatal(err)
	}
	return in
}

// membershipEvents returns the events of action about u in g, newest first.
func (a *app) membershipEvents(action audit.Action, g pam.Group, u pam.User) []audit.Event {
	a.t.Helper()
	var out []audit.Event
	for _, ev := range a.events(action.String()) {
		if ev.TargetID == g.ID && strings.Contains(ev.Details, `"user_id":"`+string(u.ID)+`"`) {
			out = append(out, ev)
		}
	}
	return out
}

// TestGroupsFromTheIdentityProvider: an administrator maps a group to a value of the groups
// claim on its page; from then on each SSO sign-in through a real provider sets the person's
// membership from the claim (in the ID token, or only in userinfo, as an array or one string),
// audited with the provider as the actor. A sign-in whose claim lost the value removes the
// member the way the group page does: the pending request is cancelled (no longer eligible)
// and the grant revoked by the system. The members of a managed group cannot be edited by hand,
// and unmapping gives them back to hand editing.
func TestGroupsFromTheIdentityProvider(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		var op *groupsStorage
		var issuer string
		a := newAppWith(t, dialect, true, func(c *config.Config) {
			issuer, op = startGroupsOP(t, c.BaseURL.String()+"/auth/sso/callback")
			c.OIDCIssuer, c.OIDCClientID, c.OIDCSecret = issuer, "elevate", "client secret"
		})
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		ana := a.mustUser("ana@example.com", "Ana Requester", goodPassword, false)
		bob := a.mustUser("bob@example.com", "Bob Builder", goodPassword, false)
		carl := a.mustUser("carl@example.com", "Carl Contractor", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		team := a.mustGroup("Exchange admins", carl) // Carl was added by hand before the mapping
		op.set("u1", []any{"staff", "exchange-admins", 7}, false)
		op.set("u2", "exchange-admins", true)

		root := a.client()
		root.signIn("root@example.com", goodPassword)
		if p := root.editPolicy(es.policy.ID, map[string]string{"eligible_group_id": team.ID}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("set eligible group: %d", p.StatusCode)
		}
		base := "/admin/groups/" + team.ID
		if p := root.get(base); p.find("idp-map-form").Length() != 1 || p.find("idp-managed").Length() != 0 {
			t.Fatal("the group page does not offer the mapping")
		}
		// A bad value comes back beside its field, the input kept.
		if p := root.post(base+"/idp", url.Values{"idp_value": {strings.Repeat("x", 201)}}); p.StatusCode != http.StatusUnprocessableEntity || p.find("error-idp_value").Length() != 1 {
			t.Fatalf("bad value: %d", p.StatusCode)
		}
		root.get(base)
		if p := root.post(base+"/idp", url.Values{"idp_value": {" exchange-admins "}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("map: %d %s", p.StatusCode, p.body)
		}
		if evs := a.events(audit.GroupIdPMapped.String()); len(evs) != 1 || evs[0].ActorName != "root@example.com" || !strings.Contains(evs[0].Details, `"after":{"idp_value":"exchange-admins"}`) {
			t.Fatalf("mapped events: %+v", evs)
		}
		gp := root.get(base)
		if b := gp.find("idp-managed").Text(); !strings.Contains(b, "Managed by the identity provider") || !strings.Contains(b, "groups = exchange-admins") {
			t.Fatalf("banner: %q", b)
		}
		if gp.find("remove").Length() != 0 || gp.find("members-search").Length() != 0 || gp.find("idp-unmap").Length() != 1 {
			t.Fatal("a managed group's page offers hand edits, or no way back")
		}
		if !strings.Contains(gp.find("members").Text(), "lapses in 7 days") {
			t.Fatalf("members: %q", gp.find("members").Text())
		}
		list := root.get("/admin/groups")
		if row := list.find("groups").Find("tr:contains('Exchange admins')").Text(); !strings.Contains(row, "Managed by the identity provider") || !strings.Contains(row, "groups contains exchange-admins") {
			t.Fatalf("groups list row: %q", row)
		}

		// Hand edits are refused, on the page and in the use case the shell would call.
		root.get(base)
		if p := root.post(base+"/members", url.Values{"user_id": {string(olivia.ID)}}); p.StatusCode != http.StatusSeeOther ||
			!strings.Contains(root.get(base).find("flash").Text(), "identity provider manages the members") {
			t.Fatalf("hand add: %d", p.StatusCode)
		}
		if p := root.post(base+"/members/"+string(carl.ID)+"/remove", url.Values{"reason": {"Left the team."}}); p.StatusCode != http.StatusSeeOther ||
			!strings.Contains(root.get(base).find("flash").Text(), "identity provider manages the members") {
			t.Fatalf("hand remove: %d", p.StatusCode)
		}
		if err := a.admin.AddMember(ctx, audit.System, team.ID, olivia.ID); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("service add: %v", err)
		}
		if err := a.admin.RemoveMember(ctx, audit.System, team.ID, carl.ID); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("service remove: %v", err)
		}
		if a.isMember(team, olivia) || !a.isMember(team, carl) {
			t.Fatal("a refused hand edit changed the members")
		}

		// Sign-ins: Ana (ID token, an array) and Bob (userinfo only, one string) join; Carl,
		// whose provider sends no groups at all, leaves.
		anaC := a.ssoSignIn("ana@example.com")
		a.ssoSignIn("bob@example.com")
		a.ssoSignIn("carl@example.com")
		if !a.isMember(team, ana) || !a.isMember(team, bob) || a.isMember(team, carl) {
			t.Fatalf("after sign-ins: ana %v bob %v carl %v", a.isMember(team, ana), a.isMember(team, bob), a.isMember(team, carl))
		}
		for _, u := range []pam.User{ana, bob} {
			evs := a.membershipEvents(audit.GroupMemberAdded, team, u)
			if len(evs) != 1 || evs[0].ActorType != audit.ActorSystem || evs[0].ActorName != "identity provider "+issuer ||
				!strings.Contains(evs[0].Details, `"source":"identity provider"`) {
				t.Fatalf("%s added: %+v", u.Email, evs)
			}
		}
		if evs := a.membershipEvents(audit.GroupMemberRemoved, team, carl); len(evs) != 1 || evs[0].ActorName != "identity provider "+issuer {
			t.Fatalf("carl removed: %+v", evs)
		}
		signIns := a.events(audit.AuthSignedIn.String())
		if !strings.Contains(signIns[2].Details, `"idp_claim":"id_token"`) || !strings.Contains(signIns[2].Details, `"idp_groups":["Exchange admins"]`) ||
			!strings.Contains(signIns[1].Details, `"idp_claim":"userinfo"`) || !strings.Contains(signIns[0].Details, `"idp_claim":"absent"`) {
			t.Fatalf("sign-in events: %s | %s | %s", signIns[2].Details, signIns[1].Details, signIns[0].Details)
		}
		// Signing in again confirms, and adds nothing twice.
		a.ssoSignIn("bob@example.com")
		if n := len(a.membershipEvents(audit.GroupMemberAdded, team, bob)); n != 1 {
			t.Fatalf("bob added %d times", n)
		}

		// Ana, eligible through the group, holds a grant and waits for another request.
		ol := a.client()
		ol.signIn("olivia@example.com", goodPassword)
		grant, pending := grantAndPending(t, anaC, ol, es)
		// The provider takes her out of the group: her next sign-in ends both.
		op.set("u1", []any{"staff"}, false)
		a.ssoSignIn("ana@example.com")
		if a.isMember(team, ana) {
			t.Fatal("ana is still a member")
		}
		if r := statusOf(t, a, grant); r.Status != pam.StatusRevoked || r.RevokedBy != pam.SystemID || r.InForce(a.clock.Now()) {
			t.Fatalf("grant after the provider removed her: %s by %q", r.Status, r.RevokedBy)
		}
		if r := statusOf(t, a, pending); r.Status != pam.StatusCancelled || r.CancelReason != pam.CancelNoLongerEligible {
			t.Fatalf("pending after the provider removed her: %s (%s)", r.Status, r.CancelReason)
		}
		evs := a.membershipEvents(audit.GroupMemberRemoved, team, ana)
		if len(evs) != 1 || evs[0].ActorName != "identity provider "+issuer || !strings.Contains(evs[0].Details, `"grants_revoked":1`) ||
			!strings.Contains(evs[0].Details, `"pending_cancelled":1`) {
			t.Fatalf("ana removed: %+v", evs)
		}
		if ev := a.events(audit.RequestRevoked.String()); len(ev) != 1 || ev[0].ActorType != audit.ActorSystem || ev[0].RequestID != grant {
			t.Fatalf("revoke events: %+v", ev)
		}
		if !mailedTo(a.mails(grant), "ana@example.com", "Revoked") {
			t.Fatal("ana was not told her grant ended")
		}
		if p := anaC.post("/requests", url.Values{"policy_id": {es.policy.ID}, "duration": {"1h"}, "justification": {"again"}}); p.StatusCode == http.StatusSeeOther {
			t.Fatal("ana may still ask under the policy")
		}

		// Unmapping gives the members back to hand editing; they stay.
		root.get(base)
		if p := root.post(base+"/idp/remove", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("unmap: %d", p.StatusCode)
		}
		if n := len(a.events(audit.GroupIdPUnmapped.String())); n != 1 || !a.isMember(team, bob) {
			t.Fatalf("%d unmapped events; bob member %v", n, a.isMember(team, bob))
		}
		if p := root.post(base+"/members", url.Values{"user_id": {string(olivia.ID)}}); p.StatusCode != http.StatusSeeOther || !a.isMember(team, olivia) {
			t.Fatalf("hand add after unmapping: %d", p.StatusCode)
		}
		// A sign-in no longer touches the group.
		op.set("u2", nil, false)
		a.ssoSignIn("bob@example.com")
		if !a.isMember(team, bob) {
			t.Fatal("a sign-in changed a group edited by hand")
		}
	})
}

// TestProviderMembershipsLapse: a membership from the identity provider that no sign-in
// confirmed within ELEVATE_OIDC_GROUP_MAX_AGE is removed by the sweep through the group page's
// removal path (audited, the grant it allowed revoked); one confirmed since stays. An access
// review never removes a member of a managed group: it lists "remove in the identity provider".
func TestProviderMembershipsLapse(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		var op *groupsStorage
		var cfg config.Config
		a := newApp(t, dialect, func(c *config.Config) {
			var issuer string
			issuer, op = startGroupsOP(t, c.BaseURL.String()+"/auth/sso/callback")
			c.OIDCIssuer, c.OIDCClientID, c.OIDCSecret = issuer, "elevate", "client secret"
			cfg = *c
		})
		if cfg.OIDCGroupMaxAge != 7*24*time.Hour {
			t.Fatalf("default max age %v", cfg.OIDCGroupMaxAge)
		}
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		ana := a.mustUser("ana@example.com", "Ana Requester", goodPassword, false)
		bob := a.mustUser("bob@example.com", "Bob Builder", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		team := a.mustGroup("Exchange admins")
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		if p := root.editPolicy(es.policy.ID, map[string]string{"eligible_group_id": team.ID}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("set eligible group: %d", p.StatusCode)
		}
		if err := a.admin.MapGroupToIdP(ctx, audit.System, team.ID, "exchange-admins"); err != nil {
			t.Fatal(err)
		}
		op.set("u1", []any{"exchange-admins"}, false)
		op.set("u2", []any{"exchange-admins"}, false)
		a.ssoSignIn("ana@example.com")
		a.ssoSignIn("bob@example.com")

		log := slog.New(slog.NewTextHandler(&strings.Builder{}, nil))
		sweep := jobs.SweepProviderGroups(a.admin, cfg.OIDCGroupMaxAge, cfg.SweepInterval, log)
		a.clock.Advance(6 * 24 * time.Hour)
		if err := sweep.Work(ctx); err != nil {
			t.Fatal(err)
		}
		if !a.isMember(team, ana) || !a.isMember(team, bob) {
			t.Fatal("a membership lapsed before its time")
		}
		a.ssoSignIn("bob@example.com") // confirmed again on day 6
		// An hour before her membership lapses, Ana (signing in with her password, which
		// confirms nothing) gets a two-hour grant.
		a.clock.Advance(23 * time.Hour)
		anaC, ol := a.client(), a.client()
		anaC.signIn("ana@example.com", goodPassword)
		ol.signIn("olivia@example.com", goodPassword)
		grant := strings.TrimPrefix(anaC.submitVia(es.policy.ID, "2h"), "/requests/")
		if p := ol.review("/requests/"+grant, "approve", ""); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("approve: %d", p.StatusCode)
		}
		a.clock.Advance(time.Hour + time.Minute)
		if r := statusOf(t, a, grant); !r.InForce(a.clock.Now()) {
			t.Fatalf("grant not in force before the sweep: %s", r.Status)
		}
		if err := sweep.Work(ctx); err != nil {
			t.Fatal(err)
		}
		if a.isMember(team, ana) || !a.isMember(team, bob) {
			t.Fatalf("after 7 days: ana %v (want gone), bob %v (want kept)", a.isMember(team, ana), a.isMember(team, bob))
		}
		evs := a.membershipEvents(audit.GroupMemberRemoved, team, ana)
		if len(evs) != 1 || evs[0].ActorName != "system" || !strings.Contains(evs[0].Details, `"reason":"lapsed: no sign-in confirmed it"`) ||
			!strings.Contains(evs[0].Details, `"max_age":"168h0m0s"`) || !strings.Contains(evs[0].Details, `"grants_revoked":1`) {
			t.Fatalf("lapse events: %+v", evs)
		}
		if r := statusOf(t, a, grant); r.Status != pam.StatusRevoked || r.RevokedBy != pam.SystemID {
			t.Fatalf("grant after the lapse: %s by %q", r.Status, r.RevokedBy)
		}
		if err := sweep.Work(ctx); err != nil || len(a.membershipEvents(audit.GroupMemberRemoved, team, ana)) != 1 {
			t.Fatalf("a second sweep: %v", err)
		}

		// An access review of the managed group removes nobody: Bob's item says to remove him
		// in the identity provider.
		root = a.client()
		root.signIn("root@example.com", goodPassword)
		root.get("/admin/reviews/new")
		p := root.post("/admin/reviews", url.Values{"name": {"IdP check"}, "scope": {"all"}, "reviewers": {"admins"},
			"default": {"remove"}, "deadline": {a.clock.Now().Add(48 * time.Hour).Format("2006-01-02T15:04")}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("start review: %d %s", p.StatusCode, p.find("form-error").Text())
		}
		report := p.Header.Get("Location")
		root.get(report)
		if p := root.post(report+"/close", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("close: %d", p.StatusCode)
		}
		if !a.isMember(team, bob) {
			t.Fatal("the review removed a member of a managed group")
		}
		rows := root.get(report).find("report-row")
		found := false
		rows.Each(func(_ int, s *goquery.Selection) {
			if strings.Contains(s.Text(), "bob@example.com") && strings.Contains(s.Text(), "Exchange admins") {
				found = strings.Contains(s.Text(), "Remove in the identity provider")
			}
		})
		if !found {
			t.Fatalf("report rows: %s", rows.Text())
		}
	})
}
