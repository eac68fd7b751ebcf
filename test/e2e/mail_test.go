package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/mail/mailtest"
	"github.com/elevate-pam/elevate/internal/testkit"
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
	p := testkit.Serve(t, map[string]string{
		"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "mail.db"),
		"ELEVATE_SMTP_URL":     srv.URL(),
		"ELEVATE_MAIL_FROM":    "elevate@example.org",
		// The process trusts the test server's certificate the standard way.
		"SSL_CERT_FILE": caFile,
	})
	ctx := testkit.Browser(t)
	setupAndSignIn(t, ctx, p, "mail-setup")
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/users/new"),
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
	if !strings.HasPrefix(link, p.Base+"/set-password?token=") {
		t.Fatalf("no set-password link in:\n%s", m.Text)
	}

	nina := testkit.Browser(t)
	do(t, nina, p,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="set-password-form"]`)),
		fill(`#f-password`, e2ePassword), fill(`#f-password_confirm`, e2ePassword),
		chromedp.Click(chromedp.CSS(`[data-testid="set-password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
	)
	// The email is filled in: the password is all that is left to type.
	if v, err := chromedp.Run(nina, chromedp.Evaluate[string](`document.querySelector('#f-email').value`)); err != nil || v != "nina@example.com" {
		t.Fatalf("email after setting the password: %q %v", v, err)
	}
	do(t, nina, p,
		fill(`#f-password`, e2ePassword),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="greeting"]`)),
	)

	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/outbox?state=sent"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="outbox-row"]`)),
	)
	if r := text(t, ctx, `[data-testid="outbox-row"]`); !strings.Contains(r, "nina@example.com") || !strings.Contains(r, "Sent") {
		t.Fatalf("outbox row: %q", r)
	}
	testkit.Screenshot(t, ctx, "admin-outbox")
	do(t, ctx, p, chromedp.EmulateViewport(375, 800))
	testkit.Screenshot(t, ctx, "admin-outbox-375")
	if n := len(srv.To("nina@example.com")); n != 1 {
		t.Fatalf("nina got %d messages", n)
	}
}

// startWithMail runs the binary with the demo organisation and SMTP pointed at a loopback server
// (STARTTLS and AUTH), trusting its certificate through SSL_CERT_FILE.
func startWithMail(t *testing.T, srv *mailtest.Server, args ...string) *testkit.Process {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return testkit.Serve(t, map[string]string{
		"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "mail.db"),
		"ELEVATE_SMTP_URL":     srv.URL(),
		"ELEVATE_MAIL_FROM":    "elevate@example.org",
		"SSL_CERT_FILE":        caFile,
	}, args...)
}

// waitMail waits for the messages to rcpt whose subject contains subject.
func waitMail(t *testing.T, srv *mailtest.Server, rcpt, subject string) []mailtest.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []mailtest.Message
		for _, m := range srv.To(rcpt) {
			if strings.Contains(m.Subject, subject) {
				out = append(out, m)
			}
		}
		if len(out) > 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s with %q; the server has %d messages", rcpt, subject, len(srv.Messages()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserApproveFromTheMail: a requester asks; the approver's mail arrives at the SMTP
// server; a mail scanner fetching the link changes nothing; the approver opens the link,
// signs in, lands on the request and approves; the requester's "approved" mail arrives, once.
func TestBrowserApproveFromTheMail(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	p := startWithMail(t, srv, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "rhea@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/requests/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="scopes"]`)),
		searchScopes("mailbox admin"),
		chromedp.Click(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-form"]`)),
		fill(`#f-justification`, "Support team <b>mailbox</b>\r\nBcc: intruder@example.net"),
		fill(`#f-ticket`, "INC-5002"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit-request"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline"]`)),
	)
	reqPath, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil {
		t.Fatal(err)
	}

	// The approvers' mail, with a link to the request and what was typed escaped.
	m := waitMail(t, srv, "olivia@demo.example", "Approval needed")[0]
	link := p.Base + reqPath
	if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Fatalf("no link to %s in the mail:\n%s", link, m.Text)
	}
	if !strings.Contains(m.HTML, "Support team &lt;b&gt;mailbox&lt;/b&gt;") || len(m.To) != 1 {
		t.Fatalf("mail to %v, html:\n%s", m.To, m.HTML)
	}
	waitMail(t, srv, "omar@demo.example", "Approval needed")
	mailPage := filepath.Join(t.TempDir(), "mail.html")
	if err := os.WriteFile(mailPage, []byte(m.HTML), 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p, chromedp.EmulateViewport(375, 800), chromedp.Navigate("file://"+mailPage), chromedp.WaitVisible(chromedp.CSS("h1")))
	testkit.Screenshot(t, ctx, "mail-pending-375")

	// A mail scanner fetches the link: it is sent to sign in, and nothing changes (the approver
	// finds the request still pending below).
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(method, link, nil)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch {
		case method == http.MethodGet && (resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=")):
			t.Fatalf("GET by a scanner: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		case resp.StatusCode >= 500:
			t.Fatalf("%s by a scanner: %d", method, resp.StatusCode)
		}
	}

	// The approver opens the link from the mail in a fresh browser, signs in and lands on it.
	olivia := testkit.Browser(t)
	do(t, olivia, p,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		fill(`#f-email`, "olivia@demo.example"), fill(`#f-password`, pw),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="review-form"]`)),
	)
	if st := text(t, olivia, `[data-testid="card-status"]`); !strings.Contains(st, "Pending") {
		t.Fatalf("the request was decided before the approver acted: %q", st)
	}
	testkit.Screenshot(t, olivia, "mail-link-request")
	do(t, olivia, p,
		chromedp.Click(chromedp.CSS(`[data-testid="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="card-notice"]`)),
	)
	// Decided in place, the page stays the request's page: the timeline beside the card gains
	// the approval, and the card keeps its exact times.
	if tl := text(t, olivia, `[data-testid="timeline"]`); !strings.Contains(tl, "Approved by Olivia Approver") {
		t.Fatalf("the timeline after approving: %q", tl)
	}
	if n, err := chromedp.Run(olivia, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="request-card"] [data-testid="time-exact"]').length`)); err != nil || n == 0 {
		t.Fatalf("the card after approving shows no exact time (%v)", err)
	}

	approved := waitMail(t, srv, "rhea@demo.example", "Approved")
	if !strings.Contains(approved[0].Text, link) || !strings.Contains(approved[0].Text, "Starts:") {
		t.Fatalf("approved mail:\n%s", approved[0].Text)
	}
	waitMail(t, srv, "omar@demo.example", "No action needed")
	time.Sleep(2500 * time.Millisecond) // a worker poll later, still one of each
	if n := len(waitMail(t, srv, "rhea@demo.example", "Approved")); n != 1 {
		t.Fatalf("the requester got %d approved mails", n)
	}
	if n := len(srv.To("intruder@example.net")); n != 0 {
		t.Fatalf("the address typed into the justification got %d mails", n)
	}
}
