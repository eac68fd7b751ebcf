package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserSetupChecklist: a fresh setup lands on the dashboard with the checklist; following
// a step's link and doing it ticks that step.
func TestBrowserSetupChecklist(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "checklist.db")})
	ctx := testkit.Browser(t)
	setupAndSignIn(t, ctx, p, "checklist-setup")
	step := func(key string) string {
		return `[data-testid="setup-step"][data-step="` + key + `"]`
	}
	do(t, ctx, p, chromedp.WaitVisible(chromedp.CSS(`[data-testid="setup-checklist"]`)))
	if got := text(t, ctx, `[data-testid="setup-progress"]`); got != "0 of 6 done" {
		t.Fatalf("fresh progress %q", got)
	}
	testkit.Screenshot(t, ctx, "setup-checklist")
	do(t, ctx, p, chromedp.EmulateViewport(375, 800))
	testkit.Screenshot(t, ctx, "setup-checklist-phone")
	do(t, ctx, p, chromedp.EmulateViewport(1280, 900))

	// The task step links to the task form; saving a task ticks it.
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(step("task")+` a`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-key`)),
		fill(`#f-key`, "exchange/New-JournalRule"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="task-roles"]`)),
		chromedp.Navigate(p.Base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="setup-checklist"]`)),
	)
	done, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+step("task")+`').dataset.done`))
	if err != nil || done != "true" {
		t.Fatalf("task step after adding a task: %q %v", done, err)
	}
	if got := text(t, ctx, `[data-testid="setup-progress"]`); got != "1 of 6 done" {
		t.Fatalf("progress after a task %q", got)
	}
	if s := text(t, ctx, step("task")); !strings.Contains(s, "Done") {
		t.Fatalf("task step says %q", s)
	}
	// The next step still to do says what it is for.
	if s := text(t, ctx, step("policy")); !strings.Contains(s, "who may ask") {
		t.Fatalf("policy step says %q", s)
	}
	testkit.Screenshot(t, ctx, "setup-checklist-ticked")
}
