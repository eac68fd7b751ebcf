package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// The API adds one statement to a submit or an approval: the token read with its owner and the
// frame the enrolment and step-up rules need. (This app queues no mail; internal/access's
// budget test counts the mail.) Each audit event is counted as one statement, as it will be
// once events are inserted without the chain's head.
func TestAPISubmitAndApproveStatements(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia", goodPassword, false)
		omar := a.mustUser("omar@example.com", "Omar", goodPassword, false)
		es := a.mustEstate(1, olivia, omar)
		rc := a.client()
		rc.signIn("rhea@example.com", goodPassword)
		rtok := rc.makeToken("cli", "api")
		oc := a.client()
		oc.signIn("olivia@example.com", goodPassword)
		otok := oc.makeToken("cli", "api")
		// A first call records each token's use, which later calls within the minute skip.
		a.apiCall("GET", "/api/v1/requests", rtok, nil)
		a.apiCall("GET", "/api/v1/requests", otok, nil)

		perEvent := statementsPerEvent(t, a)
		call := func(path, token string, body any, want int) (map[string]any, uint64) {
			t.Helper()
			before := a.db.Counts()
			code, out := a.apiCall("POST", path, token, body)
			if code != want {
				t.Fatalf("%s: %d %v", path, code, out)
			}
			return out, a.db.Counts().Statements - before.Statements - (perEvent - 1)
		}

		out, n := call("/api/v1/requests", rtok, map[string]any{"policy_id": es.policy.ID, "duration_min": 60, "justification": "INC-9"}, http.StatusCreated)
		if n > 5 {
			t.Errorf("submit through the API took %d statements, want at most 5", n)
		}
		out, n = call("/api/v1/requests/"+out["id"].(string)+"/approve", otok, map[string]string{"comment": "ok"}, http.StatusOK)
		if n > 6 {
			t.Errorf("approve through the API took %d statements, want at most 6", n)
		}
		if out["status"] != string(pam.StatusApproved) {
			t.Fatalf("approved: %v", out)
		}
	})
}

// statementsPerEvent is how many statements appending one audit event takes today.
func statementsPerEvent(t *testing.T, a *app) uint64 {
	t.Helper()
	before := a.db.Counts()
	err := a.db.Tx(context.Background(), func(tx *store.Store) error {
		return tx.AppendAudit(context.Background(), audit.System.Event(audit.SettingsUpdated, "x", "1", nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	return a.db.Counts().Statements - before.Statements
}

// Ending one's own grant from its page reads the grant once, in the transaction that ends it,
// and words the flash from what that transaction found. Its two events (the grant's and its
// lined-up extension's) count one statement each, as in TestAPISubmitAndApproveStatements.
func TestEndingOwnGrantReadsItOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		x := newExtensionCase(t, dialect)
		perEvent := statementsPerEvent(t, x.a)
		x.rc.get("/requests/" + x.grant)
		before := x.a.db.Counts().Statements
		if p := x.rc.post("/requests/"+x.grant+"/end", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("end: %d", p.StatusCode)
		}
		if n := x.a.db.Counts().Statements - before - 2*(perEvent-1); n > 10 {
			t.Errorf("ending a grant with its extension took %d statements, want at most 10", n)
		}
		if f := x.rc.get("/requests/" + x.grant).find("flash").Text(); !strings.Contains(f, "Checks are denied from now on") {
			t.Fatalf("flash after ending the grant: %q", f)
		}
	})
}
