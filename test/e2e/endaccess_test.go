package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserEndMyAccessThenCheckDenied: a requester's grant is approved and a check for a
// covered task is allowed; the requester ends it from the request page ("End my access now…",
// then the confirmation), the page says it ended early, and the very next check is denied.
// On the way, the request form's button follows the typed duration.
func TestBrowserEndMyAccessThenCheckDenied(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "end.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)

	signInAs(t, ctx, p, "admin@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/check-tokens"),
		fill(`#f-name`, "exchange-runspace"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-token"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="secret"]`)),
	)
	token := strings.TrimSpace(text(t, ctx, `[data-testid="secret"]`))
	signOut(t, ctx, p)

	signInAs(t, ctx, p, "rhea@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/requests/new?q=mailbox+admin"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-form"]`)),
	)
	// Typing: the field gets its new value and an input event, as from the keyboard.
	typeDuration := func(v string) {
		t.Helper()
		js := `(() => { const f = document.getElementById("f-duration"); f.value = ` + strconv.Quote(v) + `; f.dispatchEvent(new Event("input", {bubbles: true})); return f.value })()`
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js)); err != nil || got != v {
			t.Fatalf("type %q: %q %v", v, got, err)
		}
	}
	typeDuration("1h30m")
	if b := text(t, ctx, `[data-testid="submit-request"]`); b != "Request 1 h 30 min" {
		t.Fatalf("button after typing 1h30m: %q", b)
	}
	typeDuration("soon")
	if b := text(t, ctx, `[data-testid="submit-request"]`); b != "Request access" {
		t.Fatalf("button after typing nonsense: %q", b)
	}
	// Past the policy's maximum, the button does not offer what would be refused.
	typeDuration("99h")
	if b := text(t, ctx, `[data-testid="submit-request"]`); b != "Request access" {
		t.Fatalf("button after typing 99h: %q", b)
	}
	typeDuration("2h")
	if b := text(t, ctx, `[data-testid="submit-request"]`); b != "Request 2 h" {
		t.Fatalf("button after typing 2h: %q", b)
	}
	do(t, ctx, p,
		fill(`#f-justification`, "Moving the support team's shared mailboxes."),
		fill(`#f-ticket`, "INC-5002"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit-request"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline"], [data-testid="form-error"], .field-input-error`)),
	)
	if body := text(t, ctx, `main`); !strings.Contains(body, "Timeline") {
		t.Fatalf("submitting the form: %s", body)
	}
	reqPath, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	signOut(t, ctx, p)

	// The approver approves on the request page (as from the link in a mail).
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+reqPath),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="approve"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.htmx-added, .htmx-settling, .htmx-request`)),
		chromedp.Click(chromedp.CSS(`[data-testid="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="card-notice"]`)),
	)
	signOut(t, ctx, p)

	if d := checkCall(t, p, token, "rhea@demo.example", "exchange/Set-Mailbox"); d["allowed"] != true {
		t.Fatalf("check while in force: %v", d)
	}
	signInAs(t, ctx, p, "rhea@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+reqPath),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="end-access"]`)),
	)
	if st := text(t, ctx, `[data-testid="card-status"]`); st != "In force" {
		t.Fatalf("before the end: %q", st)
	}
	// The confirmation is folded away until asked for.
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid="end"]').checkVisibility({contentVisibilityAuto: true}) && document.querySelector('[data-testid="end-access"]').open`))
	if err != nil {
		t.Fatal(err)
	}
	if shown {
		t.Fatal("the end button shows before End my access now… was opened")
	}
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="end-access"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="end"]`)),
	)
	testkit.Screenshot(t, ctx, "request-end-confirm")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="end"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	if st := text(t, ctx, `[data-testid="card-status"]`); st != "Ended early" {
		t.Fatalf("after the end: %q", st)
	}
	if f := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(f, "has ended") {
		t.Fatalf("flash %q", f)
	}
	testkit.Screenshot(t, ctx, "request-ended")
	if d := checkCall(t, p, token, "rhea@demo.example", "exchange/Set-Mailbox"); d["allowed"] != false || d["reason"] != "no grant in force" {
		t.Fatalf("check after the end: %v", d)
	}
}
