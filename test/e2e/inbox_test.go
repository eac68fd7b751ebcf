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

// TestBrowserInlineApproveInANarrowedInboxOnAPhone: on a 375 px phone an approver narrows the
// inbox to one requester from a card, then approves that requester's request with the card's
// quick Approve. Without a reload the request's line shows its approvals and state in place of
// "Review", and the count line says how many of the waiting requests the filter still keeps,
// not how many wait in all (a reload, with none kept, shows the empty state instead).
func TestBrowserInlineApproveInANarrowedInboxOnAPhone(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "narrowed.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	do(t, ctx, p, chromedp.EmulateViewport(375, phoneHeight))
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	// Rhea's demo request takes one approval: approving it settles it.
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-row"]`)),
	)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		[...document.querySelectorAll('[data-testid="inbox-row"]')].find(r => r.textContent.includes("Rhea")).querySelector('[data-testid="review"]').click();
		return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-card"] [data-testid="card-narrow"] a`)),
		chromedp.Click(chromedp.CSS(`[data-testid="inbox-card"] [data-testid="card-narrow"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="filter-chip"]`)),
	)
	before := text(t, ctx, `[data-testid="inbox-total"]`)
	if !strings.HasPrefix(before, "1 of ") {
		t.Fatalf("the narrowed inbox's line: %q", before)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.noReload = true`)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="inbox-row"] [data-testid="review"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-card"] [data-testid="approve-quick"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.htmx-added, .htmx-settling, .htmx-request`)),
		chromedp.Click(chromedp.CSS(`[data-testid="inbox-card"] [data-testid="approve-quick"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="card-notice"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.htmx-added, .htmx-settling, .htmx-request, [data-focus]`)),
	)
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.noReload === true`))
	if err != nil || !kept {
		t.Fatalf("the page reloaded (%v)", err)
	}
	line := `tr:has(+ [data-testid="inbox-card"])`
	if got := text(t, ctx, line+` > :nth-child(7)`); got != "1 of 1" {
		t.Fatalf("approvals on the line after approving: %q", got)
	}
	left, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const row = document.querySelector('`+line+`');
		return [row.querySelectorAll('[data-testid="review"], input[type="checkbox"]').length,
			row.querySelector(':scope > :nth-child(8)').textContent.trim()].join(" ");
	})()`))
	if err != nil || left != "0 In force" {
		t.Fatalf("the line after approving: review link and tick box, state: %q (%v)", left, err)
	}
	// With no tick box left, the requester starts where the line's scope does, not after the
	// blank the tick box's cell would leave.
	indent, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
		const row = document.querySelector('`+line+`');
		return row.querySelector(':scope > :nth-child(2)').getBoundingClientRect().left - row.querySelector(':scope > :nth-child(3)').getBoundingClientRect().left;
	})()`))
	if err != nil || indent < -1 || indent > 1 {
		t.Fatalf("on a phone the decided line's requester stands %.0f px right of its scope (%v)", indent, err)
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Fatalf("the inbox after an inline decision is wider than a 375 px screen (%v)", err)
	}
	after := text(t, ctx, `[data-testid="inbox-total"]`)
	testkit.Screenshot(t, ctx, "approvals-narrowed-inline-approved-375")
	// Rhea's was her one waiting request; Ravi's still waits. The line says what a reload
	// shows: the narrowed inbox empty, with a link to the rest.
	if after != "No waiting request matches these filters. Show all 1 waiting request." {
		t.Fatalf("the line after approving: %q (before %q)", after, before)
	}
	do(t, ctx, p, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-empty"]`)))
	if got := text(t, ctx, `[data-testid="inbox-empty"]`); got != after {
		t.Fatalf("the narrowed inbox after a reload: %q, before it %q", got, after)
	}
}
