package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/mail/mailtest"
)

// TestBrowserMailedPasswordLink: an administrator adds a user, the binary delivers the welcome
// mail over SMTP (STARTTLS and AUTH) to a real server on loopback, the new user opens the link
// from the mail in a fresh browser, chooses a password and signs in; the outbox shows the
// message as sent.
func TestBrowserMailedPasswordLink(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startElevate(t, map[string]string{
		"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "mail.db"),
		"ELEVATE_SMTP_URL":     srv.URL(),
		"ELEVATE_MAIL_FROM":    "elevate@example.org",
		// The process trusts the test server's certificate the standard way.
		"SSL_CERT_FILE": caFile,
	})
	ctx := browser(t)
	setupAndSignIn(t, ctx, p, "mail-setup")
	do(t, ctx, p,
		chromedp.Navigate(p.base+"/admin/users/new"),
		fill(`#f-email`, "nina@example.com"), fill(`#f-name`, "Nina <Newcomer>"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="secret"]`)),
	)

	msgs := srv.WaitFor(1, 20*time.Second)
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "nina@example.com" || !strings.Contains(m.Subject, "Welcome to Elevate") {
		t.Fatalf("mail to %v: %q", m.To, m.Subject)
	}
	if !strings.Contains(m.HTML, "Nina &lt;Newcomer&gt;") {
		t.Fatalf("name not escaped in HTML:\n%s", m.HTML)
	}
	link := regexp.MustCompile(`https?://\S+/set-password\?token=\S+`).FindString(m.Text)
	if !strings.HasPrefix(link, p.base+"/set-password?token=") {
		t.Fatalf("no set-password link in:\n%s", m.Text)
	}

	nina := browser(t)
	do(t, nina, p,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="set-password-form"]`)),
		fill(`#f-password`, e2ePassword), fill(`#f-password_confirm`, e2ePassword),
		chromedp.Click(chromedp.CSS(`[data-testid="set-password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
	)
	signInAs(t, nina, p, "nina@example.com", e2ePassword)

	do(t, ctx, p,
		chromedp.Navigate(p.base+"/admin/outbox?state=sent"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="outbox-row"]`)),
	)
	if r := text(t, ctx, `[data-testid="outbox-row"]`); !strings.Contains(r, "nina@example.com") || !strings.Contains(r, "Sent") {
		t.Fatalf("outbox row: %q", r)
	}
	screenshot(t, ctx, "admin-outbox")
	do(t, ctx, p, chromedp.EmulateViewport(375, 800))
	screenshot(t, ctx, "admin-outbox-375")
	if n := len(srv.To("nina@example.com")); n != 1 {
		t.Fatalf("nina got %d messages", n)
	}
}
