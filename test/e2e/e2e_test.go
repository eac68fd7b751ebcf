package e2e

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// text reads the visible text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// do runs browser steps and fails the test, with the server's log, on the first error.
func do(t *testing.T, ctx context.Context, p *testkit.Process, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v\nserver log:\n%s", err, p.Logs())
	}
}

// setupAndSignIn creates the first admin through the setup page and signs in as them.
func setupAndSignIn(t *testing.T, ctx context.Context, p *testkit.Process, shot string) {
	t.Helper()
	setup := p.SetupURL()
	if setup == "" {
		t.Fatalf("no setup URL in the log:\n%s", p.Logs())
	}
	do(t, ctx, p,
		chromedp.Navigate(setup),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="setup-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Ada Lindqvist"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), e2ePassword),
		chromedp.SendKeys(chromedp.CSS(`#f-password_confirm`), e2ePassword),
	)
	testkit.Screenshot(t, ctx, shot)
	// The new admin lands signed in on the dashboard.
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="create-admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="greeting"]`)),
	)
	if flash := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(flash, "ada@example.com") {
		t.Errorf("flash after setup: %q", flash)
	}
}

const e2ePassword = "a passphrase for the first admin"

func TestBrowserFirstRunSignInAndOut(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "e2e.db")})
	ctx := testkit.Browser(t)
	setupAndSignIn(t, ctx, p, "setup")
	if g := text(t, ctx, `[data-testid="greeting"]`); !strings.Contains(g, "Ada") {
		t.Fatalf("greeting %q", g)
	}
	testkit.Screenshot(t, ctx, "dashboard")

	// The admin finds the setup and the sign-in on the audit trail, and opens one event.
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="nav-audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)),
	)
	if rows := text(t, ctx, `[data-testid="audit-table"] tbody`); !strings.Contains(rows, "setup.completed") || !strings.Contains(rows, "auth.signed_in") {
		t.Fatalf("audit rows: %q", rows)
	}
	testkit.Screenshot(t, ctx, "audit")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="event-time-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="event-details"]`)),
	)
	testkit.Screenshot(t, ctx, "audit-event")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="user-menu"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
	)
	if h := text(t, ctx, `h1`); h != "Sign in" {
		t.Fatalf("after sign-out the page says %q", h)
	}
	if f := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(f, "signed out") {
		t.Fatalf("after sign-out the flash says %q", f)
	}
	testkit.Screenshot(t, ctx, "signed-out")

	// The setup link is spent.
	resp, err := http.Get(p.SetupURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("setup link after use: %d", resp.StatusCode)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, p.Logs())
	}
	if strings.Contains(p.Logs(), e2ePassword) {
		t.Fatal("the password appeared in the log")
	}
}

func TestBrowserMobileLayout(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db")})
	ctx := testkit.Browser(t)
	do(t, ctx, p, chromedp.EmulateViewport(375, 740))
	// The browser's time zone is kept on the user the first time they sign in.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	setupAndSignIn(t, ctx, p, "setup-375")
	zone := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && zone != "Europe/Paris"; time.Sleep(200 * time.Millisecond) {
		do(t, ctx, p, chromedp.Navigate(p.Base+"/profile"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="field-time_zone"]`)))
		zone, _ = chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`[data-testid="field-time_zone"]`)))
	}
	if zone != "Europe/Paris" {
		t.Fatalf("the browser's zone was not kept: %q", zone)
	}
	do(t, ctx, p, chromedp.Navigate(p.Base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="greeting"]`)))
	sidebar, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector('nav[aria-label="Main"]')).display !== 'none'`))
	if err != nil {
		t.Fatal(err)
	}
	if sidebar {
		t.Fatal("the sidebar shows at 375 px; it should collapse into the menu")
	}
	testkit.Screenshot(t, ctx, "dashboard-375")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="menu-button"]`)),
		chromedp.WaitVisible(chromedp.CSS(`header [data-testid="nav-dashboard"]`)),
	)
	testkit.Screenshot(t, ctx, "menu-375")

	// The audit page fits the phone: neither the page nor its table scrolls sideways.
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`header [data-testid="nav-audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)),
	)
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if wide {
		t.Fatal("the audit page is wider than a 375 px screen")
	}
	testkit.Screenshot(t, ctx, "audit-375")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="event-time-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="event-details"]`)),
	)
	if wide, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
		t.Fatalf("the audit event page is wider than a 375 px screen (%v)", err)
	}
	testkit.Screenshot(t, ctx, "audit-event-375")
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/audit?outcome=success"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-filter-form"]`)),
	)
	testkit.Screenshot(t, ctx, "audit-filtered-375")

	// A table wider than the phone scrolls in its card, shaded on the side with more to see.
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/users"),
		chromedp.WaitVisible(chromedp.CSS(`.card.overflow-x-auto tbody tr`)),
	)
	scrolls, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () {
		var c = document.querySelector(".card.overflow-x-auto"); return c.scrollWidth > c.clientWidth + 20; })()`))
	if err != nil || !scrolls {
		t.Fatalf("the users table fits a 375 px screen; this check needs one that scrolls (%v)", err)
	}
	left, right := edgeShades(t, ctx)
	if left > 4 || right < 12 {
		t.Fatalf("before scrolling: left shade %d, right %d; want none on the left and one on the right", left, right)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () {
		var c = document.querySelector(".card.overflow-x-auto"); c.scrollLeft = c.scrollWidth; return true; })()`)); err != nil {
		t.Fatal(err)
	}
	left, right = edgeShades(t, ctx)
	if left < 12 || right > 4 {
		t.Fatalf("scrolled to the end: left shade %d, right %d; want one on the left and none on the right", left, right)
	}
	testkit.Screenshot(t, ctx, "users-375-scrolled")
}

// edgeShades measures how far from white the first body row of the page's scrolling table card
// is painted just inside the card's left and right edges (0 white, 255 black), from a
// screenshot of the card at the page's scale of 1.
func edgeShades(t *testing.T, ctx context.Context) (left, right int) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`.card.overflow-x-auto`)))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	row, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(function () {
		var c = document.querySelector(".card.overflow-x-auto"), r = c.querySelector("tbody tr");
		return r.getBoundingClientRect().top - c.getBoundingClientRect().top + r.getBoundingClientRect().height / 2; })()`))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	y := b.Min.Y + int(row)
	// The lightest pixel of a small patch: text can darken a pixel, only a shade darkens them all.
	shade := func(x0 int) int {
		least := 255
		for x := x0; x < x0+3; x++ {
			for dy := -2; dy <= 2; dy++ {
				r, g, bl, _ := img.At(x, y+dy).RGBA()
				least = min(least, 255-int((r+g+bl)/3>>8))
			}
		}
		return least
	}
	return shade(b.Min.X + 1), shade(b.Max.X - 4)
}
