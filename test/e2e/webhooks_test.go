package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// An admin points a Slack endpoint and a generic one at receivers on loopback (marked
// internal). The generic receiver hangs: the requester's submission is as quick as ever, the
// Slack message arrives, valid against its schema, and the hung delivery waits for a retry.
func TestBrowserWebhooksToLocalReceivers(t *testing.T) {
	var mu sync.Mutex
	var slack [][]byte
	slackSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		slack = append(slack, b)
		mu.Unlock()
	}))
	defer slackSrv.Close()
	release := make(chan struct{})
	hangSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hangSrv.Close()
	defer close(release)

	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "hooks.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "admin@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="webhooks-empty"]`)),
		chromedp.Navigate(p.Base+"/admin/webhooks/new"),
		fill(`#f-name`, "#access-requests"),
		fill(`#f-url`, slackSrv.URL+"/services/T0/B0/x"),
	)
	// Without "Internal receiver" the loopback http URL is refused beside the field.
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="save-webhook"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-url"]`)),
	)
	testkit.Screenshot(t, ctx, "webhook-new-error")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`#f-internal`)),
		chromedp.Click(chromedp.CSS(`[data-testid="save-webhook"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		chromedp.Navigate(p.Base+"/admin/webhooks/new"),
		fill(`#f-name`, "Audit receiver"),
		fill(`#f-url`, hangSrv.URL+"/elevate"),
		chromedp.SetValue(chromedp.CSS(`#f-format`), "generic"),
		chromedp.Click(chromedp.CSS(`#f-internal`)),
		chromedp.Click(chromedp.CSS(`[data-testid="save-webhook"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="secret"]`)),
	)
	if s := text(t, ctx, `[data-testid="secret"]`); !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("secret shown: %q", s)
	}
	testkit.Screenshot(t, ctx, "webhook-secret")
	signOut(t, ctx, p)

	signInAs(t, ctx, p, "rhea@demo.example", pw)
	do(t, ctx, p,
		// Straight to the search's result: clicking while the search page loads could hit the
		// list it replaces.
		chromedp.Navigate(p.Base+"/requests/new?q=mailbox+admin"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="scope"]`)),
	)
	do(t, ctx, p,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-form"]`)),
		fill(`#f-justification`, "Shared mailbox permissions for the new support team."),
		fill(`#f-ticket`, "INC-5001"),
	)
	start := time.Now()
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="submit-request"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline"]`)),
	)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("submitting with a hanging receiver took %v", took)
	}
	signOut(t, ctx, p)

	// The delivery job runs every 2 s; the Slack message arrives without waiting for the hung one.
	deadline := time.Now().Add(20 * time.Second)
	var body []byte
	for time.Now().Before(deadline) && body == nil {
		mu.Lock()
		if len(slack) > 0 {
			body = slack[0]
		}
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	if body == nil {
		t.Fatalf("no Slack message\n%s", p.Logs())
	}
	sch, err := jsonschema.NewCompiler().Compile("../../internal/webhook/testdata/slack-message.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err := sch.Validate(v); err != nil || !bytes.Contains(body, []byte("Mailbox admin")) || !bytes.Contains(body, []byte(p.Base+"/requests/")) {
		t.Fatalf("Slack message %s: %v", body, err)
	}

	// The admin sees one delivery sent and one waiting for a retry after the timeout.
	signInAs(t, ctx, p, "admin@demo.example", pw)
	deadline = time.Now().Add(20 * time.Second)
	for {
		do(t, ctx, p, chromedp.Navigate(p.Base+"/admin/webhooks?state=retrying"), chromedp.WaitVisible(chromedp.CSS(`#main h1`)))
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="delivery"]').length`))
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hung delivery is not waiting for a retry\n%s", p.Logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if e := text(t, ctx, `[data-testid="last-error"]`); !strings.Contains(e, "no answer within 5s") {
		t.Fatalf("last error: %q", e)
	}
	do(t, ctx, p, chromedp.Navigate(p.Base+"/admin/webhooks"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="deliveries"]`)))
	testkit.Screenshot(t, ctx, "webhooks")
	do(t, ctx, p, chromedp.EmulateViewport(375, 900), chromedp.Navigate(p.Base+"/admin/webhooks"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="deliveries"]`)))
	testkit.Screenshot(t, ctx, "webhooks-375")
	do(t, ctx, p, chromedp.Click(chromedp.CSS(`[data-testid="event-type"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="body"]`)))
	testkit.Screenshot(t, ctx, "webhook-delivery-375")
}
