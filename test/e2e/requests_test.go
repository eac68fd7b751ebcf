package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

func signOut(t *testing.T, ctx context.Context, p *testkit.Process) {
	t.Helper()
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="user-menu"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
	)
}

func checkCall(t *testing.T, p *testkit.Process, token, user, task string) map[string]any {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"user": user, "task": task})
	req, _ := http.NewRequest("POST", p.Base+"/api/v1/check", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

// TestBrowserRequestApproveCheckRevoke: a requester asks for a role, an approver approves in
// the inbox, the requester sees the grant in force, and a check for a covered task is allowed,
// then denied after a revoke.
func TestBrowserRequestApproveCheckRevoke(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "req.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)

	// An admin makes a check token for the target system.
	signInAs(t, ctx, p, "admin@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/check-tokens"),
		fill(`#f-name`, "exchange-runspace"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-token"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="secret"]`)),
	)
	token := strings.TrimSpace(text(t, ctx, `[data-testid="secret"]`))
	testkit.Screenshot(t, ctx, "admin-check-tokens")
	signOut(t, ctx, p)

	// The requester asks for Mailbox admin for 1 hour.
	signInAs(t, ctx, p, "rhea@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/requests/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="scopes"]`)),
		searchScopes("mailbox admin"),
		chromedp.Click(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-form"]`)),
		fill(`#f-justification`, "Shared mailbox permissions for the new support team."),
		fill(`#f-ticket`, "INC-5001"),
	)
	testkit.Screenshot(t, ctx, "request-new")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="submit-request"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline"]`)),
	)
	if st := text(t, ctx, `[data-testid="card-status"]`); st != "Pending" {
		t.Fatalf("after asking: %q", st)
	}
	if d := checkCall(t, p, token, "rhea@demo.example", "exchange/Set-Mailbox"); d["allowed"] != false {
		t.Fatalf("check while pending: %v", d)
	}
	// The target host's side: `elevate check` and `elevate run` with the same token.
	host := map[string]string{"ELEVATE_URL": p.Base, "ELEVATE_CHECK_TOKEN": token, "USER": "rhea", "ELEVATE_USER_DOMAIN": "demo.example"}
	if code, _, errOut := testkit.Run(t, host, "check", "--user", "rhea@demo.example", "--task", "exchange/Set-Mailbox"); code != 1 || !strings.Contains(errOut, "no grant in force") {
		t.Fatalf("elevate check while pending: exit %d, %q", code, errOut)
	}
	if code, out, _ := testkit.Run(t, host, "run", "--task", "exchange/Set-Mailbox", "--", "sh", "-c", "echo ran; exit 7"); code != 1 || strings.Contains(out, "ran") {
		t.Fatalf("elevate run while pending: exit %d, %q", code, out)
	}
	reqPath, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	signOut(t, ctx, p)

	// The approver opens the request's card from its line in the inbox (htmx loads it under the
	// line) and approves inline (htmx swaps the card).
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-row"]`)),
	)
	testkit.Screenshot(t, ctx, "approvals")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="review"][href="`+reqPath+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#req-`+strings.TrimPrefix(reqPath, "/requests/")+` [data-testid="approve"]`)),
		// htmx binds the card's form once the swap has settled; a click before that would
		// submit it as a plain form.
		chromedp.WaitNotPresent(chromedp.CSS(`.htmx-added, .htmx-settling, .htmx-request`)),
	)
	if u := text(t, ctx, `[data-testid="page-title"]`); u != "Approvals" {
		t.Fatalf("the card opened another page: %q", u)
	}
	testkit.Screenshot(t, ctx, "approvals-card")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`#req-`+strings.TrimPrefix(reqPath, "/requests/")+` [data-testid="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="card-notice"]`)),
	)
	if n := text(t, ctx, `[data-testid="card-notice"]`); !strings.Contains(n, "Request approved") {
		t.Fatalf("inline approval says %q", n)
	}
	signOut(t, ctx, p)

	signInAs(t, ctx, p, "rhea@demo.example", pw)
	do(t, ctx, p, chromedp.Navigate(p.Base+reqPath), chromedp.WaitVisible(chromedp.CSS(`[data-testid="card-state"]`)))
	if st := text(t, ctx, `[data-testid="card-state"]`); !strings.Contains(st, "In force until") {
		t.Fatalf("requester sees %q", st)
	}
	testkit.Screenshot(t, ctx, "request-in-force")
	if d := checkCall(t, p, token, "rhea@demo.example", "exchange/Set-Mailbox"); d["allowed"] != true {
		t.Fatalf("check after approval: %v", d)
	}
	if code, out, _ := testkit.Run(t, host, "run", "--task", "exchange/Set-Mailbox", "--", "sh", "-c", "echo ran; exit 7"); code != 7 || !strings.Contains(out, "ran") {
		t.Fatalf("elevate run with a grant in force: exit %d, %q", code, out)
	}
	signOut(t, ctx, p)

	// The approver revokes; the next check is denied.
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+reqPath),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="revoke-open"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="revoke-open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="revoke-form"]`)),
		fill(`[data-testid="field-reason"]`, "Team set up; no longer needed."),
		chromedp.Click(chromedp.CSS(`[data-testid="revoke"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	if d := checkCall(t, p, token, "rhea@demo.example", "exchange/Set-Mailbox"); d["allowed"] != false {
		t.Fatalf("check after revoke: %v", d)
	}
	testkit.Screenshot(t, ctx, "request-revoked")
	// Phone width: the inbox and a request card stay usable.
	do(t, ctx, p, chromedp.EmulateViewport(375, 800), chromedp.Navigate(p.Base+"/approvals"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="page-title"]`)))
	testkit.Screenshot(t, ctx, "approvals-375")
	do(t, ctx, p, chromedp.Navigate(p.Base+reqPath), chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline"]`)))
	testkit.Screenshot(t, ctx, "request-375")
}
