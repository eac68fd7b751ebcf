package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserLongNameStaysOnAPhone: a name of 100 characters without a space (a group's, as
// an administrator may type it) wraps in the flash that confirms it and on the audit trail's
// row, so the pages stay 375 pixels wide on a phone and the row's outcome on screen.
func TestBrowserLongNameStaysOnAPhone(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "long.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "admin@demo.example", pw)
	name := strings.Repeat("G", 100)
	do(t, ctx, p,
		chromedp.EmulateViewport(375, 800),
		chromedp.Navigate(p.Base+"/admin/groups/new"),
		fill(`#f-name`, name),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	if f := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(f, name) {
		t.Fatalf("flash: %q", f)
	}
	testkit.Screenshot(t, ctx, "long-name-phone")
	w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil || w > 375 {
		t.Fatalf("the page is %d pixels wide on a 375-pixel phone (%v)", w, err)
	}
	// The audit trail names the new group on its row.
	do(t, ctx, p, chromedp.Navigate(p.Base+"/audit"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)))
	testkit.Screenshot(t, ctx, "long-name-audit-phone")
	w, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil || w > 375 {
		t.Fatalf("the audit trail is %d pixels wide on a 375-pixel phone (%v)", w, err)
	}
	fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const c = document.querySelector('[data-testid="audit-table"]').parentElement; return c.scrollWidth <= c.clientWidth })()`))
	if err != nil || !fits {
		t.Fatalf("the audit table scrolls sideways on a phone (%v)", err)
	}
}
