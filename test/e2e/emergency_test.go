package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
	"github.com/pquerna/otp/totp"
)

// TestBrowserEmergencyAccessToReview: an administrator allows emergency access on a policy and
// names the security address; a requester enrolled in two-step verification takes emergency
// access from the request page with a fresh code, gets it at once under a red banner, and an
// approver finds it under "Review emergency access" and marks it as misuse, which revokes it.
func TestBrowserEmergencyAccessToReview(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "emergency.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	axe := axeSource(t)

	// The administrator sets the emergency duration on the Mailbox admin policy (the demo allows
	// emergencies there, so its box is already ticked) and names the security address.
	signInAs(t, ctx, p, "admin@demo.example", pw)
	do(t, ctx, p, chromedp.Navigate(p.Base+"/admin/policies"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="policies"]`)))
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('[data-testid="policies"] a')).find(a => a.textContent.trim() === "Mailbox admin").getAttribute("href")`))
	if err != nil || href == "" {
		t.Fatalf("the Mailbox admin policy: %q %v", href, err)
	}
	do(t, ctx, p,
		chromedp.Navigate(p.Base+href),
		chromedp.WaitVisible(chromedp.CSS(`#f-emergency_allowed`)),
		chromedp.SetValue(chromedp.CSS(`#f-emergency_duration`), "45m"),
		chromedp.Submit(chromedp.CSS(`#f-emergency_duration`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		chromedp.Navigate(p.Base+"/admin/settings"),
		chromedp.WaitVisible(chromedp.CSS(`#f-security_email`)),
		chromedp.SetValue(chromedp.CSS(`#f-security_email`), "security@demo.example"),
		chromedp.Submit(chromedp.CSS(`#f-security_email`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	signOut(t, ctx, p)

	// The requester enrols in two-step verification, then takes emergency access.
	signInAs(t, ctx, p, "rhea@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="start-mfa"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="start-mfa"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="mfa-qr"]`)),
	)
	secret := strings.ReplaceAll(text(t, ctx, `[data-testid="mfa-secret"]`), " ", "")
	first, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.SendKeys(chromedp.CSS(`#f-code`), first),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-mfa"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="recovery-codes"]`)),
		chromedp.Navigate(p.Base+"/requests/new?q=mailbox+admin"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency"] summary`)),
		chromedp.Click(chromedp.CSS(`[data-testid="emergency"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-justification-emergency`)),
	)
	if b := text(t, ctx, `[data-testid="submit-emergency"]`); b != "Take emergency access for 45 min" {
		t.Fatalf("emergency button: %q", b)
	}
	testkit.Screenshot(t, ctx, "emergency-form")
	checkAxe(t, ctx, axe, "emergency form")
	do(t, ctx, p,
		fill(`#f-justification-emergency`, "Mail flow to the support mailboxes is down."),
		fill(`#f-ticket-emergency`, "INC-9001"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit-emergency"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="step-up-form"]`)),
	)
	// A code of the next step: the one used to enrol is spent.
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.SendKeys(chromedp.CSS(`#f-stepup_code`), next),
		chromedp.Click(chromedp.CSS(`[data-testid="step-up-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-banner"]`)),
	)
	if st := text(t, ctx, `[data-testid="card-status"]`); st != "In force" {
		t.Fatalf("emergency grant: %q", st)
	}
	if f := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(f, "Emergency access granted") {
		t.Fatalf("flash %q", f)
	}
	testkit.Screenshot(t, ctx, "emergency-granted")
	reqPath, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	signOut(t, ctx, p)

	// The administrator's dashboard lists it, unreviewed.
	signInAs(t, ctx, p, "admin@demo.example", pw)
	do(t, ctx, p, chromedp.Navigate(p.Base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="unreviewed-emergency"]`)))
	if l := text(t, ctx, `[data-testid="unreviewed-emergency-link"]`); l != "Rhea Requester · Mailbox admin" {
		t.Fatalf("dashboard lists %q", l)
	}
	testkit.Screenshot(t, ctx, "emergency-dashboard")
	checkAxe(t, ctx, axe, "dashboard with an unreviewed emergency")
	signOut(t, ctx, p)

	// An approver finds it in the inbox and marks it as misuse.
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-review-row"]`)),
	)
	testkit.Screenshot(t, ctx, "emergency-inbox")
	checkAxe(t, ctx, axe, "inbox with an emergency to review")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="emergency-review-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-review-form"]`)),
	)
	if path, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`)); path != reqPath {
		t.Fatalf("the review link opened %q, want %q", path, reqPath)
	}
	do(t, ctx, p, chromedp.EmulateViewport(375, 740))
	testkit.Screenshot(t, ctx, "emergency-review-375")
	checkAxe(t, ctx, axe, "emergency review at 375 px")
	// On a phone the review's actions are on the first screen, as Approve and Deny are on an
	// ordinary request; "Mark as misuse…" there opens the fold with its reason.
	for _, sel := range []string{`[data-testid="emergency-confirm-quick"]`, `[data-testid="misuse-quick"]`} {
		below, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const r = document.querySelector('`+sel+`').getBoundingClientRect(); return r.width === 0 ? 1e6 : r.bottom - window.innerHeight; })()`))
		if err != nil || below > 0 {
			t.Fatalf("at 375 px %s ends %.0f px below the first screen (%v)", sel, below, err)
		}
		// Each reads on one line: its words take no more height than one line of its text.
		lines, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const el = document.querySelector('`+sel+`'); const r = document.createRange(); r.selectNodeContents(el); return r.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight); })()`))
		if err != nil || lines > 1.5 {
			t.Fatalf("at 375 px %s wraps onto %.1f lines (%v)", sel, lines, err)
		}
	}
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="misuse-quick"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="misuse-form"] textarea`)),
	)
	do(t, ctx, p,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(p.Base+reqPath),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-review-form"]`)),
		// Marking as misuse revokes, so it folds open first.
		chromedp.Click(chromedp.CSS(`[data-testid="misuse-open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="emergency-misuse"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="misuse-form"] textarea`), "No incident was open at the time."),
		chromedp.Click(chromedp.CSS(`[data-testid="emergency-misuse"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	if st := text(t, ctx, `[data-testid="card-status"]`); st != "Revoked" {
		t.Fatalf("after misuse: %q", st)
	}
	if r := text(t, ctx, `[data-testid="emergency-review"]`); !strings.Contains(r, "Marked as misuse by Olivia") {
		t.Fatalf("review line: %q", r)
	}
	testkit.Screenshot(t, ctx, "emergency-misuse")

	// Reviewed, it leaves the inbox's list of emergencies to review.
	do(t, ctx, p, chromedp.Navigate(p.Base+"/approvals"), chromedp.WaitVisible(chromedp.CSS(`main`)))
	left, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="emergency-review-row"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("the inbox still lists %d emergencies to review", left)
	}
	testkit.Screenshot(t, ctx, "emergency-inbox-after")
}
