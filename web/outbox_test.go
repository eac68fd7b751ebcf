package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/mail/mailtest"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	gosmtp "github.com/emersion/go-smtp"
)

func TestOutboxShowsFiltersAndRetriesMail(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		base, _ := url.Parse(a.srv.URL)
		outbox := mail.NewOutbox(a.db, config.Config{BaseURL: base, MailFrom: "elevate@example.org"}, a.clock.Now)
		a.admin.SetMailer(outbox)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		c := a.client()
		c.signIn("root@example.com", goodPassword)

		p := c.get("/admin/outbox")
		if p.StatusCode != http.StatusOK || p.find("outbox-empty").Length() != 1 || p.find("outbox-notice").Length() != 1 {
			t.Fatalf("empty outbox: %d", p.StatusCode)
		}
		if p.find("tab-outbox").AttrOr("aria-current", "") != "page" {
			t.Fatal("outbox tab not marked current")
		}

		// Adding users through the pages queues their set-password mail.
		for _, e := range []string{"nina@example.com", "omar@example.com"} {
			c.get("/admin/users/new")
			if p := c.post("/admin/users", url.Values{"email": {e}, "name": {"New " + e}}); p.StatusCode != http.StatusOK {
				t.Fatalf("create user: %d", p.StatusCode)
			}
		}
		p = c.get("/admin/outbox")
		rows := p.find("outbox-row")
		if rows.Length() != 2 || !strings.Contains(rows.Text(), "nina@example.com") || !strings.Contains(rows.Text(), "Welcome to Elevate") ||
			strings.TrimSpace(p.find("state").First().Text()) != "Queued" || strings.TrimSpace(p.find("next-try").First().Text()) != "when SMTP is configured" {
			t.Fatalf("queued rows: %q", rows.Text())
		}
		// Each message opens on a page of its own with its text part, shown as text.
		m := c.get(href(p, "read-mail"))
		if m.StatusCode != http.StatusOK || !strings.Contains(m.find("mail-text").Text(), "Welcome to Elevate") && !strings.Contains(m.find("mail-text").Text(), "password") ||
			m.find("mail-envelope").Length() != 1 || m.find("mail-text").Children().Length() != 0 {
			t.Fatalf("a message's page: %d %q", m.StatusCode, m.find("mail-text").Text())
		}
		// The badge and the attempts read as words apart: "Queued after 0 attempts".
		if st := strings.Join(strings.Fields(m.find("state-attempts").Parent().Text()), " "); st != "Queued after 0 attempts" {
			t.Fatalf("a message's state: %q", st)
		}
		if m := c.get("/admin/outbox/no-such-message"); m.StatusCode != http.StatusNotFound {
			t.Fatalf("an unknown message: %d", m.StatusCode)
		}

		// The server refuses one address for good; the other is delivered.
		srv := mailtest.Start(t, mailtest.Options{})
		srv.Reject(func(rcpt string) error {
			if rcpt == "omar@example.com" {
				return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "mailbox <unknown>"}
			}
			return nil
		})
		w := mail.NewWorker(a.db, mail.NewSMTP(srv.SMTP(), "elevate@example.org", mail.WithRootCAs(srv.Roots)), a.clock.Now,
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		if _, err := w.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		p = c.get("/admin/outbox?state=failed")
		rows = p.find("outbox-row")
		if rows.Length() != 1 || !strings.Contains(rows.Find(`[data-testid="recipient"]`).Text(), "omar@example.com") ||
			!strings.Contains(p.find("last-error").Text(), "550") || strings.TrimSpace(p.find("attempts").Text()) != "1" {
			t.Fatalf("failed filter: %q", rows.Text())
		}
		if !strings.Contains(p.body, "mailbox &lt;unknown&gt;") {
			t.Fatal("the server's answer is not shown escaped")
		}
		if s := c.get("/admin/outbox?state=sent"); s.find("outbox-row").Length() != 1 || s.find("sent").Text() == "" {
			t.Fatalf("sent filter: %q", s.find("outbox-row").Text())
		}
		if s := c.get("/admin/outbox?state=retrying"); s.find("outbox-empty").Length() != 1 {
			t.Fatal("retrying filter not empty")
		}

		// Retry: a POST with the CSRF token, audited; the message goes back to the queue.
		action, ok := p.find("retry").Closest("form").Attr("action")
		if !ok {
			t.Fatal("no retry button on a failed message")
		}
		if r := c.post(action, url.Values{"_csrf": {"forged"}}); r.StatusCode != http.StatusForbidden {
			t.Fatalf("retry without a valid token: %d", r.StatusCode)
		}
		c.get("/admin/outbox?state=failed")
		r := c.post(action, nil)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("retry: %d", r.StatusCode)
		}
		if f := c.get(r.Header.Get("Location")).find("flash").Text(); !strings.Contains(f, "omar@example.com") {
			t.Fatalf("flash %q", f)
		}
		if evs := a.events("mail.retry_requested"); len(evs) != 1 || evs[0].ActorName != "root@example.com" {
			t.Fatalf("retry events %+v", evs)
		}
		if again := c.post(action, nil); again.StatusCode != http.StatusSeeOther ||
			!strings.Contains(c.get(again.Header.Get("Location")).find("flash").Text(), "Only a failed message") {
			t.Fatalf("retrying a queued message: %d", again.StatusCode)
		}
		if r := c.post("/admin/outbox/00000000-0000-0000-0000-000000000000/retry", nil); r.StatusCode != http.StatusNotFound {
			t.Fatalf("retry of an unknown message: %d", r.StatusCode)
		}
		srv.Reject(nil)
		if _, err := w.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		if len(srv.To("omar@example.com")) != 1 || len(srv.To("nina@example.com")) != 1 {
			t.Fatalf("after retry: %d messages", len(srv.Messages()))
		}

		// Keyset pages of 50.
		for i := range 55 {
			if err := a.db.EnqueueMail(ctx, pam.OutboxMessage{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Kind: "test",
				Recipient: fmt.Sprintf("u%02d@example.com", i), Subject: "s", Text: "t", HTML: "h", CreatedAt: a.clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		first := c.get("/admin/outbox")
		next, ok := first.find("page-next").Attr("href")
		if first.find("outbox-row").Length() != 50 || !ok {
			t.Fatalf("first page: %d rows, next %v", first.find("outbox-row").Length(), ok)
		}
		second := c.get(next)
		if n := second.find("outbox-row").Length(); n != 7 {
			t.Fatalf("second page: %d rows", n)
		}
		seen := map[string]bool{}
		for _, pg := range []page{first, second} {
			pg.find("outbox-row").Each(func(_ int, s *goquery.Selection) {
				id, _ := s.Attr("data-id")
				if seen[id] {
					t.Errorf("message %s on two pages", id)
				}
				seen[id] = true
			})
		}
	})
}

// TestPasswordLinkPageSaysWhetherMailGoesOut: with no mail server the new user's link page does
// not say Elevate is mailing it (the mail waits in the outbox), and tells the admin to hand it
// over; with one, it says the link is on its way.
func TestPasswordLinkPageSaysWhetherMailGoesOut(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []appOption
		want, not string
	}{
		{"no SMTP", nil, "No mail server is set up, so the mail with this link to nina@example.com waits in the Outbox: hand the link over yourself.", "is mailing"},
		{"SMTP", []appOption{func(c *config.Config) { c.SMTP = &config.SMTP{Host: "127.0.0.1", Port: 2525} }},
			"Elevate is mailing this link to nina@example.com (see Outbox)", "No mail server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, "sqlite", tc.opts...)
			base, _ := url.Parse(a.srv.URL)
			a.admin.SetMailer(mail.NewOutbox(a.db, config.Config{BaseURL: base, MailFrom: "elevate@example.org"}, a.clock.Now))
			a.mustUser("root@example.com", "Root Admin", goodPassword, true)
			c := a.client()
			c.signIn("root@example.com", goodPassword)
			c.get("/admin/users/new")
			p := c.post("/admin/users", url.Values{"email": {"nina@example.com"}, "name": {"Nina New"}})
			help := p.find("secret-help").Text()
			if p.StatusCode != http.StatusOK || !strings.Contains(help, tc.want) || strings.Contains(help, tc.not) {
				t.Fatalf("link page: %d %q", p.StatusCode, help)
			}
		})
	}
}

// TestAddUserFormKeepsItsNoteWhenRefused: the form for a new user says what happens next, also
// when it comes back with a problem beside a field.
func TestAddUserFormKeepsItsNoteWhenRefused(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	c := a.client()
	c.signIn("root@example.com", goodPassword)
	note := c.get("/admin/users/new").find("form-note").Text()
	if !strings.Contains(note, "one-time link") {
		t.Fatalf("new user form's note: %q", note)
	}
	p := c.post("/admin/users", url.Values{"email": {"root@example.com"}, "name": {"Root Again"}})
	if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-email").Text() == "" || p.find("form-note").Text() != note {
		t.Fatalf("refused: %d %q, note %q", p.StatusCode, p.find("error-email").Text(), p.find("form-note").Text())
	}
}
