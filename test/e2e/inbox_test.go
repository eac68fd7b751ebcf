package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserInlineApproveUpdatesTheBadge: an approver approves from a card in the inbox; the
// navigation's count drops, the request's line shows its new approvals and state, and "Decided
// by you recently" lists the request, with no reload of the page, and the focus is on the
// card's result line.
func TestBrowserInlineApproveUpdatesTheBadge(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "inline.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-row"]`)),
	)
	before, err := strconv.Atoi(strings.TrimSpace(text(t, ctx, `#count-side`)))
	if err != nil || before < 1 {
		t.Fatalf("badge before: %d (%v)", before, err)
	}
	// A mark on the window: a reload would drop it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.noReload = true`)); err != nil {
		t.Fatal(err)
	}
	scope := text(t, ctx, `[data-testid="inbox-row"] td[id]`)
	approvals := text(t, ctx, `[data-testid="inbox-row"] > :nth-child(7)`)
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="inbox-row"] [data-testid="review"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-card"] [data-testid="approve"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.htmx-added, .htmx-settling, .htmx-request`)),
		chromedp.Click(chromedp.CSS(`[data-testid="inbox-card"] [data-testid="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="card-notice"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.htmx-added, .htmx-settling, .htmx-request, [data-focus]`)),
	)
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.noReload === true`))
	if err != nil || !kept {
		t.Fatalf("the page reloaded (%v)", err)
	}
	after, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("count-side").textContent.trim()`))
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(before - 1); after != want && !(before == 1 && after == "") {
		t.Fatalf("badge after approving: %q, want %s", after, want)
	}
	// The request's line above the card follows: one approval more, its state in place of
	// "Review", and no tick box left for the bulk form.
	line := `tr:has(+ [data-testid="inbox-card"])`
	var was, now, of int
	if _, err := fmt.Sscanf(approvals, "%d of %d", &was, &of); err != nil {
		t.Fatalf("approvals before: %q (%v)", approvals, err)
	}
	got := text(t, ctx, line+` > :nth-child(7)`)
	if _, err := fmt.Sscanf(got, "%d of", &now); err != nil || now != was+1 {
		t.Fatalf("approvals after approving: %q, before %q", got, approvals)
	}
	left, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const row = document.querySelector('`+line+`');
		return [row.querySelectorAll('[data-testid="review"], input[type="checkbox"]').length,
			row.querySelectorAll(':scope > :nth-child(8) [data-testid="badge"]').length].join(" ");
	})()`))
	if err != nil || left != "0 1" {
		t.Fatalf("the line after approving: review link and tick box, state badge: %q (%v)", left, err)
	}
	decided := text(t, ctx, `[data-testid="decided-section"]`)
	if first := strings.Fields(scope); len(first) == 0 || !strings.Contains(decided, first[0]) || !strings.Contains(decided, "Approved") {
		t.Fatalf("decided by you recently: %q (approved %q)", decided, scope)
	}
	focus, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.getAttribute("data-testid") || ""`))
	if err != nil || focus != "card-notice" {
		t.Fatalf("focus after approving is on %q (%v)", focus, err)
	}
	testkit.Screenshot(t, ctx, "approvals-inline-approved")
}
