package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// rawCheck posts a raw body to the check API with an optional User-Agent.
func (a *app) rawCheck(token string, body []byte, userAgent string) (int, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/check", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Hostile checks (NUL bytes, control characters, invalid UTF-8, values longer than any column,
// a 10 KB User-Agent, a body that is not JSON) sent at the same moment as good ones: every good
// check answers 200 and is audited, every hostile one answers 400 and is audited too, fitted,
// and the chain still verifies. Before, one unstorable event failed its whole group commit, so
// other systems' checks answered 503 (on PostgreSQL).
func TestHostileChecksDoNotFailOthers(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		good := a.checkToken(root, "runspace")
		bad := a.checkToken(root, "fuzzer")
		// The longest task key the product accepts can be created and checked.
		longKey := "s" + strings.Repeat("y", 62) + "/" + "N" + strings.Repeat("a", 126)
		if _, err := a.admin.CreateTask(context.Background(), audit.System, longKey, "Long", ""); err != nil {
			t.Fatal(err)
		}
		hostile := []struct {
			body []byte
			ua   string
			want int
		}{
			{[]byte(`{"user":"root@example.com\u0000","task":"exchange/Set-Mailbox"}`), "", http.StatusBadRequest},
			{[]byte(`{"user":"root@example.com","task":"exchange/Set\u0000Mailbox"}`), "", http.StatusBadRequest},
			{[]byte(`{"user":"root@example.com","task":"exchange/Set\u0001Mailbox"}`), "", http.StatusBadRequest},
			{[]byte("{\"user\":\"root\xff\xfe@example.com\",\"task\":\"exchange/Set-Mailbox\"}"), "", http.StatusBadRequest},
			{[]byte(`{"user":"root@example.com","task":"` + strings.Repeat("x", 300) + `"}`), "", http.StatusBadRequest},
			{[]byte(`{"user":"` + strings.Repeat("u", 10_000) + `","task":"exchange/Set-Mailbox"}`), "", http.StatusBadRequest},
			{[]byte(`{"user":"root@example.com","task":"exchange/Set-Mailbox"}`), strings.Repeat("agent\xff\t", 1_500), http.StatusOK},
			{[]byte(`not json at all`), "", http.StatusBadRequest},
			{[]byte(`{"user":"` + strings.Repeat("u", 100<<10) + `","task":"exchange/Set-Mailbox"}`), "", http.StatusRequestEntityTooLarge},
		}
		const rounds = 4
		var wg sync.WaitGroup
		goodCodes := make(chan int, 64)
		badCodes := make(chan [2]int, 64)
		for range rounds {
			for _, h := range hostile {
				wg.Go(func() {
					code, _ := a.rawCheck(bad, h.body, h.ua)
					badCodes <- [2]int{code, h.want}
				})
			}
			for _, task := range []string{"exchange/Set-Mailbox", longKey} {
				wg.Go(func() {
					b, _ := json.Marshal(map[string]string{"user": "root@example.com", "task": task})
					code, out := a.rawCheck(good, b, "")
					if code != http.StatusOK || out["allowed"] != false {
						t.Errorf("good check of %.20s…: %d %v", task, code, out)
					}
					goodCodes <- code
				})
			}
		}
		wg.Wait()
		close(goodCodes)
		close(badCodes)
		for c := range badCodes {
			if c[0] != c[1] {
				t.Errorf("hostile check answered %d, want %d", c[0], c[1])
			}
		}
		var goodEvents, badEvents int
		evs, err := a.db.AuditEvents(context.Background(), store.AuditFilter{Action: "access.checked", Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			switch ev.ActorName {
			case "runspace":
				goodEvents++
			case "fuzzer":
				badEvents++
				if ev.Outcome != audit.OutcomeFailure {
					t.Errorf("hostile check event %d: %s %s", ev.Seq, ev.Outcome, ev.Details)
				}
				if len(ev.TargetID) > audit.MaxTargetID || strings.ContainsRune(ev.TargetID, 0) || len(ev.UserAgent) > audit.MaxUserAgent {
					t.Errorf("event %d stored unfitted values: %q", ev.Seq, ev.TargetID)
				}
				// A 10 KB user grows the trail by its fitted form and a hash, not by 10 KB.
				if len(ev.Details) > 1500 {
					t.Errorf("event %d keeps %d bytes of details", ev.Seq, len(ev.Details))
				}
			}
		}
		if goodEvents != 2*rounds || badEvents != len(hostile)*rounds {
			t.Errorf("audited %d good and %d hostile checks; want %d and %d", goodEvents, badEvents, 2*rounds, len(hostile)*rounds)
		}
		if _, _, err := a.db.VerifyAudit(context.Background(), nil); err != nil {
			t.Fatalf("audit chain: %v", err)
		}
	})
}
