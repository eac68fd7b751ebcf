package e2e

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserDurationButtonReadsAsTheServer: while a duration is typed, the request form's
// button (static/js/request.js) names it exactly when the server would accept it, read by
// pam.ParseDuration and within the form's range, and keeps its plain label for anything the
// server refuses, fractions and Go's other duration syntax included.
func TestBrowserDurationButtonReadsAsTheServer(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "duration.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "rhea@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/requests/new?q=mailbox+admin"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-form"]`)),
	)
	// The range the server drew the form with, in minutes.
	bounds, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`(() => { const b = document.querySelector('[data-testid="submit-request"]');
		return [parseInt(b.dataset.labelMin, 10), parseInt(b.dataset.labelMax, 10)] })()`))
	if err != nil || len(bounds) != 2 || bounds[1] < 90 {
		t.Fatalf("the button's range: %v %v", bounds, err)
	}
	least, most := time.Duration(bounds[0])*time.Minute, time.Duration(bounds[1])*time.Minute
	// label is what the button says for a duration typed, by the server's reading of it.
	label := func(typed string) string {
		if d, err := pam.ParseDuration("duration", typed); err == nil && d >= least && d <= most {
			return "Request " + pam.FormatDuration(d)
		}
		return "Request access"
	}
	for _, c := range []struct{ typed, want string }{
		{"90", "Request 1 h 30 min"}, {"45m", "Request 45 min"}, {"1h30m", "Request 1 h 30 min"}, {" 2H ", "Request 2 h"},
		{"4.5m", "Request access"}, {"1.5d", "Request access"}, {"1.5h", "Request access"}, {"90s", "Request access"},
		{"5400s", "Request access"}, {"+1h", "Request access"}, {"1h30m0s", "Request access"}, {"30m1h", "Request access"},
		{"1h 30m", "Request access"}, {".5h", "Request access"}, {"1e2", "Request access"}, {"0", "Request access"},
		{"4", "Request access"}, {"99999999999999999999", "Request access"}, {"\u00a01h\u2003", "Request 1 h"},
		{"\ufeff1h", "Request access"}, {"\u00851h", "Request 1 h"}, {"0d1h", "Request 1 h"}, {"1d", ""}, {"2d4h", ""}, {"0090", "Request 1 h 30 min"},
	} {
		// Typing: the field gets its new value and an input event, as from the keyboard.
		js := `(() => { const f = document.getElementById("f-duration"); f.value = ` + strconv.Quote(c.typed) +
			`; f.dispatchEvent(new Event("input", {bubbles: true}));
			return document.querySelector('[data-testid="submit-request"]').textContent })()`
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("type %q: %v", c.typed, err)
		}
		if want := label(c.typed); got != want || c.want != "" && got != c.want {
			t.Errorf("typed %q: the button says %q; the server reads it as %q (expected %q)", c.typed, got, want, c.want)
		}
	}
}
