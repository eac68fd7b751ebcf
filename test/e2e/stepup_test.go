package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testkit"
	"github.com/pquerna/otp/totp"
)

// TestBrowserStepUpKeepsWhatWasTyped enrols in two-step verification in a real browser, then
// turns it off: the reason typed before the code was asked for must arrive with the action,
// also after a wrong code.
func TestBrowserStepUpKeepsWhatWasTyped(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "stepup.db")
	p := testkit.Serve(t, map[string]string{
		"ELEVATE_DATABASE_URL": "sqlite:" + dbPath,
		// Discovery is lazy, so an unreachable issuer still shows the SSO button.
		"ELEVATE_OIDC_ISSUER": "http://127.0.0.1:9", "ELEVATE_OIDC_CLIENT_ID": "elevate",
	})
	ctx := testkit.Browser(t)
	do(t, ctx, p, chromedp.Navigate(p.Base+"/login"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-sso"]`)))
	testkit.Screenshot(t, ctx, "login-sso")
	do(t, ctx, p, chromedp.EmulateViewport(375, 740))
	testkit.Screenshot(t, ctx, "login-sso-375")
	do(t, ctx, p,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-sso"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sso-refused"]`)),
	)
	if m := text(t, ctx, `[data-testid="sso-refused-message"]`); !strings.Contains(m, "cannot be reached") {
		t.Fatalf("SSO with the provider down says %q", m)
	}
	testkit.Screenshot(t, ctx, "sso-unavailable")
	setupAndSignIn(t, ctx, p, "stepup-setup")

	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="start-mfa"]`)),
	)
	testkit.Screenshot(t, ctx, "profile-mfa-off")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="start-mfa"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="mfa-qr"]`)),
	)
	testkit.Screenshot(t, ctx, "mfa-setup")
	do(t, ctx, p, chromedp.EmulateViewport(375, 740))
	testkit.Screenshot(t, ctx, "mfa-setup-375")
	do(t, ctx, p, chromedp.EmulateViewport(1280, 900))
	secret := strings.ReplaceAll(text(t, ctx, `[data-testid="mfa-secret"]`), " ", "")
	first, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.SendKeys(chromedp.CSS(`#f-code`), first),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-mfa"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="recovery-codes"]`)),
	)
	testkit.Screenshot(t, ctx, "recovery-codes")
	recovery := text(t, ctx, `[data-testid="recovery-codes"] li`)

	const reason = "Lost my phone on the train"
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="codes-done"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="disable-form"]`)),
	)
	testkit.Screenshot(t, ctx, "profile-mfa-on")
	do(t, ctx, p, chromedp.EmulateViewport(375, 740))
	testkit.Screenshot(t, ctx, "profile-mfa-on-375")
	do(t, ctx, p,
		chromedp.EmulateViewport(1280, 900),
		chromedp.SendKeys(chromedp.CSS(`#f-reason`), reason),
		chromedp.Click(chromedp.CSS(`[data-testid="disable-mfa"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="step-up-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-stepup_code`), "000000"),
		chromedp.Click(chromedp.CSS(`[data-testid="step-up-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-stepup_code"]`)),
	)
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="step-up-form"] input[name="reason"]').value`))
	if err != nil || kept != reason {
		t.Fatalf("after a wrong code the form carries reason %q (%v)", kept, err)
	}
	testkit.Screenshot(t, ctx, "step-up-wrong-code")
	do(t, ctx, p, chromedp.EmulateViewport(375, 740))
	testkit.Screenshot(t, ctx, "step-up-375")
	do(t, ctx, p,
		chromedp.SendKeys(chromedp.CSS(`#f-stepup_code`), recovery),
		chromedp.Click(chromedp.CSS(`[data-testid="step-up-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="start-mfa"]`)),
	)
	if f := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(f, "off") {
		t.Fatalf("flash after turning off: %q", f)
	}

	db, err := store.Open("sqlite:" + dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The server seals its events moments after each change; seal what may still wait.
	if _, err := db.SealWaiting(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := db.AuditEvents(context.Background(), store.AuditFilter{Action: "mfa.disabled"})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Details, reason) {
		t.Fatalf("mfa.disabled events %+v %v", evs, err)
	}
	if logs := p.Logs(); strings.Contains(logs, secret) || strings.Contains(logs, recovery) {
		t.Fatal("a secret or code reached the log")
	}
}
