package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserAuditOnAPhone reads the demo's audit trail at 375 px: when, who, what and the
// outcome of every row are on screen with nothing to scroll sideways, the page's or the table's,
// and targets read by name.
func TestBrowserAuditOnAPhone(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "demo.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "audrey@demo.example", pw)
	for _, width := range []int64{1280, 375} {
		do(t, ctx, p, chromedp.EmulateViewport(width, 900),
			chromedp.Navigate(p.Base+"/audit?action=request."),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)),
		)
		testkit.Screenshot(t, ctx, map[int64]string{1280: "audit-requests", 375: "audit-requests-375"}[width])
		fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
			const t = document.querySelector('[data-testid="audit-table"]');
			return document.documentElement.scrollWidth <= window.innerWidth && t.parentElement.scrollWidth <= t.parentElement.clientWidth;
		})()`))
		if err != nil || !fits {
			t.Fatalf("at %d px the audit page scrolls sideways (%v)", width, err)
		}
		// Every row's when, who, what and outcome are visible and inside the screen.
		off, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			for (const row of document.querySelectorAll('[data-testid="audit-row"]')) {
				for (const sel of ['[data-testid="event-time-link"]', '[data-testid="actor-link"]', '[data-testid="action-link"]', '[data-testid="outcome"]']) {
					const el = row.querySelector(sel);
					const r = el && el.getBoundingClientRect();
					if (!r || r.width === 0 || r.right > window.innerWidth) return 'row ' + row.dataset.seq + ' ' + sel;
				}
			}
			return '';
		})()`))
		if err != nil || off != "" {
			t.Fatalf("at %d px: %s is not on screen (%v)", width, off, err)
		}
		target := `[data-testid="target-link"]`
		if width == 375 {
			target = `[data-testid="target-link-phone"]`
		}
		if got := text(t, ctx, target); !strings.Contains(got, " · ") {
			t.Errorf("at %d px the request reads %q, not by requester and scope", width, got)
		}
	}
}

// TestBrowserOverview shows the demo's overview to its auditor at both widths, with no page
// wider than the screen and the pictures drawn without any script.
func TestBrowserOverview(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "demo.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "audrey@demo.example", pw)
	for _, width := range []int64{1280, 375} {
		do(t, ctx, p, chromedp.EmulateViewport(width, 900),
			chromedp.Navigate(p.Base+"/overview"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="per-day-chart"]`)),
		)
		testkit.Screenshot(t, ctx, map[int64]string{1280: "overview", 375: "overview-375"}[width])
		fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		if err != nil || !fits {
			t.Fatalf("at %d px the overview scrolls sideways (%v)", width, err)
		}
	}
}
