package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// auditorAndPlain is an app with an auditor and a person who is not one, each signed in.
func auditorAndPlain(t *testing.T, dialect string) (a *app, auditor, plain *client) {
	t.Helper()
	a = newApp(t, dialect)
	a.mustUser("audrey@example.com", "Audrey Auditor", goodPassword, false)
	a.mustAuditor("audrey@example.com")
	a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	auditor, plain = a.client(), a.client()
	auditor.signIn("audrey@example.com", goodPassword)
	plain.signIn("rhea@example.com", goodPassword)
	return a, auditor, plain
}

// An auditor's dashboard says where the audit chain stands (its head, the events waiting to be
// sealed, how it is verified) and leads to the audit trail, the overview and the export, for
// one statement more than a plain person's dashboard: the chain is never walked on a page view.
func TestAuditorDashboardShowsTheChain(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a, auditor, plain := auditorAndPlain(t, dialect)
		if plain.get("/").find("auditor-panel").Length() != 0 {
			t.Fatal("the audit chain panel is shown to someone who is not an auditor")
		}

		home := auditor.get("/")
		head, err := a.db.AuditHead(context.Background())
		if err != nil || head.Seq == 0 {
			t.Fatalf("audit head: %+v %v", head, err)
		}
		if txt := home.find("chain-head").Text(); !strings.Contains(txt, "Event "+strconv.FormatInt(head.Seq, 10)+" ends the chain") {
			t.Fatalf("chain head: %q", txt)
		}
		if txt := home.find("chain-waiting").Text(); !strings.Contains(txt, "No events wait to be sealed") {
			t.Fatalf("waiting: %q", txt)
		}
		if txt := home.find("chain-verify").Text(); !strings.Contains(txt, "Not verified yet") || !strings.Contains(txt, "once a day") || home.find("verify-now").Length() != 1 {
			t.Fatalf("before the first walk: %q", txt)
		}
		// Once the schedule has started, the dashboard says when its first walk is due.
		if walked, err := a.admin.VerifyChainWhenDue(context.Background(), 24*time.Hour); err != nil || walked {
			t.Fatalf("the schedule's first look walked (%v) or failed: %v", walked, err)
		}
		if next := auditor.get("/").find("next-walk"); next.Length() != 1 || !strings.Contains(next.Parent().Text(), "The first walk is due") {
			t.Fatalf("no first walk due on the dashboard: %q", auditor.get("/").find("chain-verify").Text())
		}
		for id, want := range map[string]string{"auditor-audit": "/audit", "auditor-overview": "/overview",
			"auditor-export-csv": "/audit/export?format=csv", "auditor-export-jsonl": "/audit/export?format=jsonl"} {
			if href, _ := home.find(id).Attr("href"); href != want {
				t.Errorf("%s links to %q, want %q", id, href, want)
			}
		}

		// Stored as a business transaction stores it, and left for the sealer.
		if err := a.db.ExecRaw(context.Background(), `INSERT INTO audit_events (at, actor_type, actor_name, action, target_type, target_id, outcome, details)
			VALUES (?, 'user', 'ada@example.com', 'policy.updated', 'policy', 'p-waiting', 'success', '{}')`, a.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if txt := auditor.get("/").find("chain-waiting").Text(); !strings.Contains(txt, "1 event waits to be sealed") {
			t.Fatalf("one waiting: %q", txt)
		}

		// A walk of the chain is recorded, and the dashboard shows the newest one.
		ctx := context.Background()
		if _, err := a.admin.VerifyChain(ctx, audit.System, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := a.db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		ok := auditor.get("/").find("chain-verify")
		if txt := ok.Text(); !strings.Contains(txt, "Verified") || !strings.Contains(txt, "by Elevate's schedule") ||
			!strings.Contains(txt, "events through event "+strconv.FormatInt(head.Seq, 10)+" check out") {
			t.Fatalf("after a walk: %q", txt)
		}
		// The walk's own event names the event it reached, linked to its page.
		walk, _ := ok.Find("a").Attr("href")
		if target := auditor.get(walk).find("event-target"); target.Text() != "event "+strconv.FormatInt(head.Seq, 10) {
			t.Fatalf("the walk's event %s names its target %q", walk, target.Text())
		} else if href, _ := target.Attr("href"); href != "/audit/"+strconv.FormatInt(head.Seq, 10) {
			t.Fatalf("the walk's target links to %q", href)
		}
		// Someone edits an event behind Elevate's back: the next walk finds it and the
		// dashboard says where the chain breaks, in red, linking to the event.
		testenv.Tamper(t, a.db, dialect, "UPDATE audit_events SET actor_name = 'someone else' WHERE seq = 2")
		if v, err := a.admin.VerifyChain(ctx, audit.System, nil); err != nil || v.Broken == nil || v.Broken.Seq != 2 {
			t.Fatalf("walk over an edited event: %+v %v", v, err)
		}
		if _, err := a.db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		broken := auditor.get("/").find("chain-verify")
		if role, _ := broken.Attr("role"); role != "alert" || !strings.Contains(broken.Text(), "The chain is broken at event 2.") ||
			!strings.Contains(broken.Text(), "does not match its hash") {
			t.Fatalf("after a walk that found a break: role %q, %q", role, broken.Text())
		}
		if href, _ := broken.Find(`a[href="/audit/2"]`).Attr("href"); href != "/audit/2" {
			t.Fatalf("the break does not link to its event: %q", broken.Text())
		}

		statements := func(c *client) uint64 {
			before := a.db.Counts().Statements
			c.get("/")
			return a.db.Counts().Statements - before
		}
		if got, base := statements(auditor), statements(plain); got > base+1 {
			t.Fatalf("the auditor's dashboard took %d statements, a plain one %d: want at most one more", got, base)
		}
	})
}

// "Verify now" walks the chain in the background for an auditor, records the walk as theirs and
// shows it on the dashboard; one walk a minute may be asked for, and only by auditors and
// administrators.
func TestAuditorAsksForAWalkOfTheChain(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a, auditor, plain := auditorAndPlain(t, dialect)
		plain.get("/")
		if p := plain.post("/audit/verify", nil); p.StatusCode != http.StatusForbidden && p.StatusCode != http.StatusNotFound {
			t.Fatalf("someone who is not an auditor asked for a walk: %d", p.StatusCode)
		}

		home := auditor.get("/")
		if home.find("verify-now").Length() != 1 {
			t.Fatal("no Verify now button on the auditor's dashboard")
		}
		ask := func() string {
			t.Helper()
			if p := auditor.post("/audit/verify", nil); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/" {
				t.Fatalf("Verify now answered %d to %q", p.StatusCode, p.Header.Get("Location"))
			}
			return auditor.get("/").find("flash").Text()
		}
		if flash := ask(); !strings.Contains(flash, "Walking the chain") {
			t.Fatalf("after Verify now: %q", flash)
		}
		ctx := context.Background()
		// walked waits for the walk asked for and returns the newest recorded walk, which must
		// be newer than event after.
		walked := func(after int64) *audit.Verified {
			t.Helper()
			a.admin.WaitWalks()
			if _, err := a.db.SealWaiting(ctx); err != nil {
				t.Fatal(err)
			}
			st, err := a.db.AuditStatus(ctx)
			if err != nil || st.Verified == nil || st.Verified.Seq <= after {
				t.Fatalf("no walk recorded after event %d: %+v %v", after, st.Verified, err)
			}
			return st.Verified
		}
		first := walked(0)
		if first.Actor != "Audrey Auditor" || first.BrokenAt != 0 {
			t.Fatalf("the walk was recorded as %+v", first)
		}
		if txt := auditor.get("/").find("chain-verify").Text(); !strings.Contains(txt, "Verified") || !strings.Contains(txt, "by Audrey Auditor") {
			t.Fatalf("the dashboard after the walk: %q", txt)
		}
		if flash := ask(); !strings.Contains(flash, "less than a minute ago") {
			t.Fatalf("a second ask within the minute: %q", flash)
		}
		a.clock.Advance(time.Minute)
		if flash := ask(); !strings.Contains(flash, "Walking the chain") {
			t.Fatalf("an ask a minute later: %q", flash)
		}
		walked(first.Seq)
	})
}
