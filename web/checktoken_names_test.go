package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Two check tokens in use never share a name, so an administrator can tell which to revoke: a
// second one is refused with 409 beside the name field, the name kept; a revoked token's name
// may be used again; two admins making one name at once get one token and one refusal, not 500.
func TestCheckTokenNameTakenIsRefusedBesideTheField(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		root.makeToken("exchange", "check")

		root.get("/admin/check-tokens")
		p := root.post("/admin/check-tokens", url.Values{"name": {"exchange"}})
		if p.StatusCode != http.StatusConflict || !strings.Contains(p.find("error-name").Text(), "Another check token") ||
			p.find("field-name").AttrOr("value", "") != "exchange" || p.find("secret").Length() != 0 {
			t.Fatalf("second exchange: %d %q", p.StatusCode, p.find("error-name").Text())
		}
		if n := len(a.events(audit.CheckTokenCreated.String())); n != 1 {
			t.Fatalf("%d check tokens made", n)
		}

		toks, err := a.db.CheckTokens(t.Context(), 10)
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens: %v %v", toks, err)
		}
		root.get("/admin/check-tokens")
		if p := root.post("/admin/check-tokens/"+toks[0].ID+"/revoke", url.Values{"reason": {"host rebuilt"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", p.StatusCode)
		}
		root.makeToken("exchange", "check")

		ada := a.client()
		ada.signIn("ada@example.com", goodPassword)
		root.get("/admin/check-tokens")
		ada.get("/admin/check-tokens")
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, c := range []*client{root, ada} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = c.post("/admin/check-tokens", url.Values{"name": {"runspace"}}).StatusCode
			}()
		}
		wg.Wait()
		if !(codes[0] == http.StatusOK && codes[1] == http.StatusConflict) && !(codes[1] == http.StatusOK && codes[0] == http.StatusConflict) {
			t.Fatalf("racing creates: %v", codes)
		}
	})
}
