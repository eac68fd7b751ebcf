package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

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
		if !strings.Contains(home.find("chain-verify").Text(), "elevate audit verify") {
			t.Fatalf("how to verify: %q", home.find("chain-verify").Text())
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
