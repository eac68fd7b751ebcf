package web_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/webhook"
)

func TestWebhooksPages(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("nora@example.com", "Nora", goodPassword, false)
		c := a.client()
		c.signIn("root@example.com", goodPassword)

		p := c.get("/admin/webhooks")
		if p.StatusCode != http.StatusOK || p.find("webhooks-empty").Length() != 1 || p.find("deliveries-empty").Length() != 1 ||
			p.find("tab-webhooks").AttrOr("aria-current", "") != "page" {
			t.Fatalf("empty webhooks page: %d", p.StatusCode)
		}

		// Plain http to a public name is refused beside the URL field, the input kept.
		c.get("/admin/webhooks/new")
		form := url.Values{"name": {"Ops receiver"}, "url": {"http://hooks.example.com/in"}, "format": {pam.WebhookGeneric},
			"events": {"request.created", "request.approved"}, "enabled": {"on"}}
		p = c.post("/admin/webhooks", form)
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.find("error-url").Text()+p.body, "https") ||
			p.find("field-name").AttrOr("value", "") != "Ops receiver" || p.find("event-request.approved").AttrOr("checked", "x") == "x" {
			t.Fatalf("http without internal: %d", p.StatusCode)
		}
		for _, bad := range []string{"https://u:p@hooks.example.com/in", "https://10.0.0.5/in"} {
			form.Set("url", bad)
			if p := c.post("/admin/webhooks", form); p.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%s accepted: %d", bad, p.StatusCode)
			}
		}
		form.Del("events")
		form.Set("url", "https://hooks.example.com/in")
		if p := c.post("/admin/webhooks", form); p.StatusCode != http.StatusUnprocessableEntity || p.find("error-events").Length() != 1 {
			t.Fatalf("no events: %d", p.StatusCode)
		}

		// An internal generic endpoint on a closed loopback port: its secret is shown once.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := "http://" + ln.Addr().String() + "/hook"
		ln.Close()
		form.Set("url", dead)
		form.Set("internal", "on")
		form["events"] = []string{"request.created"}
		p = c.post("/admin/webhooks", form)
		secret := strings.TrimSpace(p.find("secret").Text())
		if p.StatusCode != http.StatusOK || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("create: %d %q", p.StatusCode, secret)
		}
		p = c.get("/admin/webhooks")
		rows := p.find("webhook")
		if rows.Length() != 1 || strings.Contains(p.body, secret) || strings.Contains(rows.Text(), "/hook") {
			t.Fatalf("list: %q", rows.Text())
		}
		edit := c.get(href(p, "name"))
		if edit.StatusCode != http.StatusOK || edit.find("field-url").AttrOr("value", "") != dead || edit.find("secret").Length() != 0 {
			t.Fatalf("edit page: %d", edit.StatusCode)
		}
		// A new signing secret folds open first and says the receiver stops accepting; then it
		// replaces the secret and shows the new one once.
		rot := edit.find("rotate-details")
		if rot.Length() != 1 || rot.Is("[open]") || rot.Find(`[data-testid="rotate"]`).Length() != 1 || !strings.Contains(rot.Text(), "stops accepting") {
			t.Fatalf("new signing secret asks nothing first: %q", rot.Text())
		}
		if p := c.post(rot.Find("form").AttrOr("action", ""), nil); p.StatusCode != http.StatusOK ||
			!strings.HasPrefix(strings.TrimSpace(p.find("secret").Text()), "whsec_") || strings.TrimSpace(p.find("secret").Text()) == secret {
			t.Fatalf("new signing secret: %d", p.StatusCode)
		}

		// A delivery that fails for good can be sent again, with the same event id.
		hooks := webhook.New(a.db, []byte(testSecret), a.srv.URL, a.clock.Now)
		err := a.db.Tx(ctx, func(tx *store.Store) error {
			return hooks.Enqueue(ctx, tx, webhook.Event{Type: webhook.Events[0], At: a.clock.Now(), Actor: "system", Summary: "test", Link: a.srv.URL})
		})
		if err != nil {
			t.Fatal(err)
		}
		w := webhook.NewWorker(hooks, a.clock.Now, slog.New(slog.DiscardHandler))
		w.RetryFor = time.Second
		if _, err := w.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		p = c.get("/admin/webhooks?state=failed")
		if p.find("delivery").Length() != 1 || p.find("last-error").Length() != 1 || p.find("resend").Length() != 1 {
			t.Fatalf("failed deliveries: %q", p.find("deliveries").Text())
		}
		d := c.get(href(p, "event-type"))
		eventID := strings.TrimSpace(d.find("event-id").Text())
		if d.StatusCode != http.StatusOK || eventID == "" || !strings.Contains(d.find("body").Text(), eventID) {
			t.Fatalf("delivery page: %d", d.StatusCode)
		}
		action, _ := d.find("resend").Parents().Filter("form").Attr("action")
		if p := c.post(action, nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("resend: %d", p.StatusCode)
		}
		p = c.get("/admin/webhooks?state=queued")
		if p.find("delivery").Length() != 1 || len(a.events(audit.WebhookDeliveryRetryRequested.String())) != 1 {
			t.Fatal("resent delivery not queued or not audited")
		}

		// The audit trail names the endpoint and links to it.
		au := c.get("/audit?action=webhook.created")
		if !strings.Contains(au.body, "Ops receiver") || !strings.Contains(au.body, "/admin/webhooks/") {
			t.Fatalf("audit page does not name the endpoint: %d", au.StatusCode)
		}

		// Turning off, then deleting (which needs the box ticked).
		base := strings.TrimSuffix(href(c.get("/admin/webhooks"), "name"), "/")
		c.get(base)
		if p := c.post(base+"/disable", nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("disable: %d", p.StatusCode)
		}
		c.get(base)
		if p := c.post(base+"/delete", nil); p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("delete without confirming: %d", p.StatusCode)
		}
		if p := c.post(base+"/delete", url.Values{"confirm": {"on"}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("delete: %d", p.StatusCode)
		}
		for _, act := range []audit.Action{audit.WebhookCreated, audit.WebhookDisabled, audit.WebhookDeleted} {
			if len(a.events(act.String())) != 1 {
				t.Fatalf("%s not audited", act)
			}
		}

		// Not for people who are not admins.
		n := a.client()
		n.signIn("nora@example.com", goodPassword)
		if p := n.get("/admin/webhooks"); p.StatusCode != http.StatusForbidden {
			t.Fatalf("a non-admin sees webhooks: %d", p.StatusCode)
		}
	})
}
