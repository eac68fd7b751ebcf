package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// An auditor's dashboard says where the audit chain stands (its head, the events waiting to be
// sealed, how it is verified) and leads to the audit trail, the overview and the export, for
// one statement more than a plain person's dashboard: the chain is never walked on a page view.
func TestAuditorDashboardShowsTheChain(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("audrey@example.com", "Audrey Auditor", goodPassword, false)
		a.mustAuditor("audrey@example.com")
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		auditor, plain := a.client(), a.client()
		auditor.signIn("audrey@example.com", goodPassword)
		plain.signIn("rhea@example.com", goodPassword)
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
		if txt := home.find("chain-verify").Text(); !strings.Contains(txt, "Not verified yet") || !strings.Contains(txt, "once a day") || !strings.Contains(txt, "elevate audit verify") {
			t.Fatalf("before the first walk: %q", txt)
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
		err = a.db.Tx(ctx, func(tx *store.Store) error {
			lift := "SET LOCAL session_replication_role = replica" // the append-only trigger stays quiet
			if dialect == store.SQLite {
				lift = "DROP TRIGGER audit_events_no_update"
			}
			if err := tx.ExecRaw(ctx, lift); err != nil {
				return err
			}
			return tx.ExecRaw(ctx, "UPDATE audit_events SET actor_name = 'someone else' WHERE seq = 2")
		})
		if err != nil {
			t.Fatal(err)
		}
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
