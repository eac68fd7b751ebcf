package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserAdminEndsADelegationWithAReason: an approver names a delegate on the profile; an
// administrator ends it from the users page through "End…", which asks for a reason. Sent
// without one (the browser's own check taken away, as an old browser would), the page comes
// back with the form open and the problem under the field; with one, it ends. The open form is
// checked with axe, kept within the page's width and photographed at desktop and phone width.
func TestBrowserAdminEndsADelegationWithAReason(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "delegation.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	src := axeSource(t)
	ctx := testkit.BrowserWithin(t, 2*time.Minute)

	// Scheduled from tomorrow for a day, whatever the approver's time zone.
	day := time.Now().UTC()
	from, until := day.AddDate(0, 0, 1).Format("2006-01-02")+"T09:00", day.AddDate(0, 0, 2).Format("2006-01-02")+"T09:00"
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="delegation-form"]`)),
		fill(`[data-testid="delegation-form"] [name="delegate"]`, "omar@demo.example"),
	)
	set := `(() => { const f = document.querySelector('[data-testid="delegation-form"]');
		f.querySelector('[name="starts_at"]').value = ` + strconv.Quote(from) + `;
		f.querySelector('[name="ends_at"]').value = ` + strconv.Quote(until) + `; return true })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](set)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="save-delegation"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	if f := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(f, "Delegate named") {
		t.Fatalf("naming a delegate: %q\n%s", f, text(t, ctx, `main`))
	}
	signOut(t, ctx, p)

	signInAs(t, ctx, p, "admin@demo.example", pw)
	for _, width := range []int64{1280, 375} {
		do(t, ctx, p,
			chromedp.EmulateViewport(width, 900),
			chromedp.Navigate(p.Base+"/admin/users"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="delegation-row"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="admin-end-delegation-open"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-end-delegation-form"] [data-testid="field-reason"]`)),
		)
		// The open form scrolls inside its table's card; the page never scrolls sideways.
		if w, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); err != nil || w > width {
			t.Errorf("at %d px the page is %d px wide (%v)", width, w, err)
		}
		checkAxe(t, ctx, src, "/admin/users ending a delegation at "+itoa(width))
		testkit.Screenshot(t, ctx, "admin-end-delegation-"+itoa(width))
	}
	unchecked := `(() => { document.querySelector('[data-testid="admin-end-delegation-form"] [name="reason"]').removeAttribute("required"); return true })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](unchecked)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="admin-end-delegation"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-end-delegation-form"] [data-testid="error-reason"]`)),
	)
	if e := text(t, ctx, `[data-testid="error-reason"]`); !strings.Contains(e, "Say why") {
		t.Fatalf("no reason: %q", e)
	}
	do(t, ctx, p,
		fill(`[data-testid="admin-end-delegation-form"] [name="reason"]`, "Olivia is back early."),
		chromedp.Click(chromedp.CSS(`[data-testid="admin-end-delegation"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="delegations-empty"]`)),
	)
	if f := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(f, "Delegation ended") {
		t.Fatalf("after ending: %q", f)
	}
}
