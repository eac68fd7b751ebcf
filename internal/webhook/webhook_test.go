package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
	"github.com/elevate-pam/elevate/internal/webhook"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

type world struct {
	t         *testing.T
	ctx       context.Context
	db        *store.Store
	clock     *testenv.Clock
	hooks     *webhook.Service
	acc       *access.Service
	worker    *webhook.Worker
	requester pam.User
	approver  pam.User
	policy    pam.Policy
}

func newWorld(t *testing.T, dialect string) *world {
	t.Helper()
	w := &world{t: t, ctx: context.Background(), db: testenv.Store(t, dialect), clock: testenv.NewClock()}
	adm := admin.New(w.db, w.clock.Now)
	w.hooks = webhook.New(w.db, []byte("test secret key of the process.."), "https://elevate.example.com/", w.clock.Now)
	w.acc = access.New(w.db, w.clock.Now, access.Notifiers(nil, w.hooks))
	w.worker = webhook.NewWorker(w.hooks, w.clock.Now, slog.New(slog.DiscardHandler))
	w.worker.Timeout = 2 * time.Second
	var err error
	if w.requester, _, err = adm.CreateUser(w.ctx, audit.System, "ana@example.com", "Ana <Ops> & Co", false, false); err != nil {
		t.Fatal(err)
	}
	if w.approver, _, err = adm.CreateUser(w.ctx, audit.System, "bo@example.com", "Bo Approver", false, false); err != nil {
		t.Fatal(err)
	}
	g, err := adm.CreateGroup(w.ctx, audit.System, "Approvers", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := adm.AddMember(w.ctx, audit.System, g.ID, w.approver.ID); err != nil {
		t.Fatal(err)
	}
	task, _ := adm.CreateTask(w.ctx, audit.System, "exchange/Set-Mailbox", "", "")
	role, _ := adm.CreateRole(w.ctx, audit.System, "Mailbox admin", "")
	if err := adm.AddRoleTask(w.ctx, audit.System, role.ID, task.Key); err != nil {
		t.Fatal(err)
	}
	p := pam.NewPolicy(pam.ScopeRole, role.ID)
	p.ApproverGroupID, p.ApprovalsRequired = g.ID, 1
	if w.policy, err = adm.CreatePolicy(w.ctx, audit.System, p); err != nil {
		t.Fatal(err)
	}
	return w
}

func as(u pam.User) audit.Actor {
	return audit.Actor{Type: audit.ActorUser, ID: string(u.ID), Name: u.Name}
}

var adminActor = audit.Actor{Type: audit.ActorUser, ID: "admin", Name: "Admin"}

func (w *world) endpoint(name, format, url string, events ...string) (pam.Webhook, string) {
	w.t.Helper()
	h, secret, err := w.hooks.Create(w.ctx, adminActor, webhook.Input{Name: name, URL: url, Format: format, Events: events, Internal: true, Enabled: true})
	if err != nil {
		w.t.Fatal(err)
	}
	return h, secret
}

func (w *world) submit() pam.Request {
	w.t.Helper()
	r, err := w.acc.Submit(w.ctx, as(w.requester), w.requester, w.policy.ID,
		pam.Submission{Duration: 2 * time.Hour, Justification: "INC-42: mailbox <full> & *stuck*", Ticket: "INC-42"})
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *world) deliveries() []pam.WebhookDelivery {
	w.t.Helper()
	ds, err := w.hooks.Deliveries(w.ctx, pam.DeliveryFilter{Limit: 100})
	if err != nil {
		w.t.Fatal(err)
	}
	return ds
}

func (w *world) deliver() int {
	w.t.Helper()
	n, err := w.worker.DeliverDue(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) count(action audit.Action) int {
	w.t.Helper()
	evs, err := w.db.AuditEvents(w.ctx, store.AuditFilter{Action: action.String(), Limit: 500})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(evs)
}

// verify checks an Elevate-Signature header as a receiver would.
func verify(secret, header string, body []byte) (time.Time, bool) {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(m.Sum(nil))
	unix, err := strconv.ParseInt(ts, 10, 64)
	return time.Unix(unix, 0), err == nil && hmac.Equal([]byte(sig), []byte(want))
}

type call struct {
	eventID, eventType, signature string
	body                          []byte
}

// receiver is a local endpoint that records each call and answers with the next status of
// statuses (the last one for the rest).
type receiver struct {
	mu       sync.Mutex
	calls    []call
	statuses []int
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.calls = append(r.calls, call{req.Header.Get(webhook.HeaderEventID), req.Header.Get(webhook.HeaderEventType), req.Header.Get(webhook.HeaderSignature), body})
		status := r.statuses[min(len(r.calls), len(r.statuses))-1]
		r.mu.Unlock()
		rw.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func TestDeliveryRetriedAndSignedOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		rcv := newReceiver(t, http.StatusInternalServerError, http.StatusOK)
		if !strings.HasPrefix(rcv.srv.URL, "http://127.0.0.1:") {
			t.Fatalf("receiver not on loopback: %s", rcv.srv.URL)
		}
		h, secret := w.endpoint("Receiver", pam.WebhookGeneric, rcv.srv.URL+"/hook", "request.created")
		if !h.HasSecret || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("generic endpoint secret = %q", secret)
		}
		r := w.submit()
		ds := w.deliveries()
		if len(ds) != 1 || ds[0].State != pam.MailQueued || ds[0].RequestID != r.ID || ds[0].EventType != "request.created" {
			t.Fatalf("deliveries after submit = %+v", ds)
		}

		// First attempt: the receiver answers 500; the delivery waits for a retry.
		if n := w.deliver(); n != 1 {
			t.Fatalf("first run delivered %d", n)
		}
		d, _ := w.hooks.Delivery(w.ctx, ds[0].ID)
		if d.State != pam.MailRetrying || d.Attempts != 1 || d.LastStatus != 500 || !d.NextAttemptAt.Equal(w.clock.Now().Add(30*time.Second)) {
			t.Fatalf("after a 500: %+v", d)
		}
		if n := w.deliver(); n != 0 {
			t.Fatalf("a delivery not yet due was sent again (%d)", n)
		}

		// Second attempt, once due: 200, recorded as sent, never sent again.
		w.clock.Advance(31 * time.Second)
		if n := w.deliver(); n != 1 {
			t.Fatalf("retry delivered %d", n)
		}
		w.clock.Advance(time.Hour)
		w.deliver()
		d, _ = w.hooks.Delivery(w.ctx, ds[0].ID)
		if d.State != pam.MailSent || d.Attempts != 2 || d.LastStatus != 200 || d.SentAt == nil {
			t.Fatalf("after a 200: %+v", d)
		}
		calls := rcv.got()
		if len(calls) != 2 {
			t.Fatalf("receiver got %d calls, want 2", len(calls))
		}
		for i, c := range calls {
			if c.eventID != d.EventID || c.eventID == "" || c.eventType != "request.created" {
				t.Fatalf("call %d: event id %q type %q, want %q", i, c.eventID, c.eventType, d.EventID)
			}
			at, ok := verify(secret, c.signature, c.body)
			if !ok {
				t.Fatalf("call %d: signature %q does not verify", i, c.signature)
			}
			if _, ok := verify("whsec_wrong", c.signature, c.body); ok {
				t.Fatal("a wrong secret verifies")
			}
			if at.IsZero() || at.After(w.clock.Now()) {
				t.Fatalf("signature time %v", at)
			}
			var ev map[string]any
			if err := json.Unmarshal(c.body, &ev); err != nil || ev["id"] != d.EventID {
				t.Fatalf("body %s: %v", c.body, err)
			}
		}
		if !bytes.Equal(calls[0].body, calls[1].body) {
			t.Fatal("the retry's body differs")
		}
		if w.count(audit.WebhookDeliveryRetryScheduled) != 1 || w.count(audit.WebhookDeliverySent) != 1 || w.count(audit.WebhookCreated) != 1 {
			t.Fatal("delivery outcomes not audited once each")
		}
		validate(t, "generic-event.schema.json", calls[0].body)
	})
}

func TestHangingReceiverDelaysNothing(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
			select {
			case <-release:
			case <-req.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) }) // runs first: the handler returns, then Close
		w.endpoint("Hangs", pam.WebhookGeneric, srv.URL, "request.created", "request.approved")
		w.worker.Timeout, w.worker.RetryFor = 150*time.Millisecond, 2*time.Minute

		start := time.Now()
		r := w.submit()
		if _, err := w.acc.Review(w.ctx, as(w.approver), w.approver, r.ID, "approve", "ok"); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("submitting and approving took %v with a hanging receiver", took)
		}
		start = time.Now()
		if n := w.deliver(); n != 2 {
			t.Fatalf("delivered %d", n)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("a delivery run took %v against a hanging receiver", took)
		}
		for _, d := range w.deliveries() {
			if d.State != pam.MailRetrying || d.LastStatus != 0 || !strings.Contains(d.LastError, "no answer within") {
				t.Fatalf("hung delivery: %+v", d)
			}
		}
		// Retries give up after RetryFor: the delivery fails and an admin may resend it.
		for range 2 {
			w.clock.Advance(time.Hour)
			w.deliver()
		}
		ds := w.deliveries()
		for _, d := range ds {
			if d.State != pam.MailFailed {
				t.Fatalf("after a day of timeouts: %+v", d)
			}
		}
		d, err := w.hooks.Resend(w.ctx, adminActor, ds[0].ID)
		if err != nil || d.State != pam.MailQueued || d.EventID != ds[0].EventID {
			t.Fatalf("resend: %+v %v", d, err)
		}
		if _, err := w.hooks.Resend(w.ctx, adminActor, ds[0].ID); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("resending a queued delivery: %v", err)
		}
		if w.count(audit.WebhookDeliveryRetryRequested) != 1 || w.count(audit.WebhookDeliveryFailed) != 2 {
			t.Fatal("failure and resend not audited")
		}
	})
}

func TestEventsReachOnlySubscribersInTheirFormat(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		rcv := newReceiver(t, http.StatusOK)
		all := []string{"request.created", "request.approved", "request.denied", "request.revoked", "request.expired", "request.timed_out"}
		w.endpoint("Slack", pam.WebhookSlack, rcv.srv.URL+"/slack", all...)
		w.endpoint("Teams", pam.WebhookTeams, rcv.srv.URL+"/teams", all...)
		off, _ := w.endpoint("Off", pam.WebhookGeneric, rcv.srv.URL+"/off", all...)
		if _, err := w.hooks.SetEnabled(w.ctx, adminActor, off.ID, false); err != nil {
			t.Fatal(err)
		}
		w.endpoint("Created only", pam.WebhookGeneric, rcv.srv.URL+"/created", "request.created")

		r := w.submit()
		if _, err := w.acc.Review(w.ctx, as(w.approver), w.approver, r.ID, "approve", "ok"); err != nil {
			t.Fatal(err)
		}
		// The grant runs out: expiry sends no mail, but endpoints hear of it.
		w.clock.Advance(3 * time.Hour)
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		timedOut := w.submit()
		w.clock.Advance(48 * time.Hour)
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		w.deliver()
		types := map[string]int{}
		for _, c := range rcv.got() {
			types[c.eventType]++
			if c.signature != "" && !strings.Contains(string(c.body), `"id"`) {
				t.Fatalf("a chat message is signed: %s", c.body)
			}
			switch {
			case bytes.Contains(c.body, []byte(`"blocks"`)):
				validate(t, "slack-message.schema.json", c.body)
			case bytes.Contains(c.body, []byte(`"AdaptiveCard"`)):
				validate(t, "teams-message.schema.json", c.body)
			default:
				validate(t, "generic-event.schema.json", c.body)
			}
			if !bytes.Contains(c.body, []byte("https://elevate.example.com/requests/")) {
				t.Fatalf("no link to the request: %s", c.body)
			}
		}
		want := map[string]int{"request.created": 6, "request.approved": 2, "request.expired": 2, "request.timed_out": 2}
		for k, n := range want {
			if types[k] != n {
				t.Fatalf("deliveries by type = %v, want %v", types, want)
			}
		}
		_ = timedOut
	})
}

// validate checks body against a schema kept in testdata.
func validate(t *testing.T, schema string, body []byte) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("testdata/" + schema)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("%s does not match %s: %v", body, schema, err)
	}
}

func TestChatPayloadsMatchSchemas(t *testing.T) {
	ends := time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)
	e := webhook.Event{ID: "0b8f3c1e-0000-4000-8000-000000000001", Type: webhook.Events[1], At: ends.Add(-2 * time.Hour), Actor: "Bo",
		Link: "https://elevate.example.com/requests/r1",
		Request: &webhook.RequestFields{ID: "r1", Status: "approved", Requester: webhook.Person{Name: "Ana <b>&", Email: "ana@example.com"},
			Scope: webhook.Scope{Type: "role", Name: "Mailbox admin"}, Tasks: []string{"exchange/Set-Mailbox"}, DurationMinutes: 120,
			Justification: strings.Repeat("long * _ justification <x> ", 200), Ticket: "INC-1", CreatedAt: ends.Add(-3 * time.Hour),
			EndsAt: &ends, Approvals: 1, ApprovalsRequired: 1}}
	for format, schema := range map[string]string{pam.WebhookSlack: "slack-message.schema.json", pam.WebhookTeams: "teams-message.schema.json",
		pam.WebhookGeneric: "generic-event.schema.json"} {
		b, err := webhook.Body(format, e)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, schema, b)
		if format == pam.WebhookSlack && bytes.Contains(b, []byte("<b>")) {
			t.Fatalf("Slack control characters not escaped: %s", b)
		}
	}
	// An event without a request (a review campaign) renders too.
	c := webhook.Event{ID: "e2", Type: webhook.Events[0], At: ends, Actor: "Admin", Summary: "Review campaign Q1 started", Link: "https://elevate.example.com/admin/reviews/1"}
	for format, schema := range map[string]string{pam.WebhookSlack: "slack-message.schema.json", pam.WebhookTeams: "teams-message.schema.json"} {
		b, _ := webhook.Body(format, c)
		validate(t, schema, b)
		c.Summary = "" // and without a summary, the event's label stands in
		b, _ = webhook.Body(format, c)
		validate(t, schema, b)
	}
	// A schema refuses what Elevate must never send: a button in Slack, a submit action in Teams.
	bad := map[string]string{
		"slack-message.schema.json": `{"text":"x","blocks":[{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Approve"},"value":"approve"}]}]}`,
		"teams-message.schema.json": `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"x"}],"actions":[{"type":"Action.Submit","title":"Approve"}]}}]}`,
	}
	for schema, body := range bad {
		c := jsonschema.NewCompiler()
		sch, err := c.Compile("testdata/" + schema)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if sch.Validate(v) == nil {
			t.Fatalf("%s accepts %s", schema, body)
		}
	}
}

func TestURLValidation(t *testing.T) {
	cases := []struct {
		url      string
		internal bool
		ok       bool
	}{
		{"https://hooks.slack.com/services/T/B/x", false, true},
		{"https://example.com:8443/hook?x=1", false, true},
		{"http://example.com/hook", false, false},
		{"http://receiver.internal:8080/hook", true, true},
		{"https://user:pass@example.com/hook", false, false},
		{"https://user@example.com/hook", true, false},
		{"https://127.0.0.1/hook", false, false},
		{"https://127.0.0.1/hook", true, true},
		{"https://[::1]/hook", false, false},
		{"https://[::ffff:10.0.0.1]/hook", false, false},
		{"https://10.1.2.3/hook", false, false},
		{"https://192.168.1.5/hook", false, false},
		{"https://172.16.0.1/hook", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://100.64.0.1/hook", false, false},
		{"https://0.0.0.0/hook", false, false},
		{"https://localhost/hook", false, false},
		{"https://api.localhost./hook", false, false},
		{"https://8.8.8.8/hook", false, true},
		{"ftp://example.com/hook", true, false},
		{"example.com/hook", false, false},
		{"https:///hook", false, false},
		{"", false, false},
	}
	for _, c := range cases {
		_, err := pam.ParseWebhookURL(c.url, c.internal)
		if (err == nil) != c.ok {
			t.Errorf("ParseWebhookURL(%q, internal=%v) = %v, want ok=%v", c.url, c.internal, err, c.ok)
		}
		if err != nil {
			var pe *pam.Error
			if !errors.As(err, &pe) || pe.Field != "url" || pe.Code != pam.EINVALID {
				t.Errorf("%q: error %#v is not an invalid url field", c.url, err)
			}
		}
	}
}

func TestEndpointAdmin(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		in := webhook.Input{Name: "Ops", URL: "http://example.com/hook", Format: pam.WebhookGeneric, Events: []string{"request.created"}, Enabled: true}
		if _, _, err := w.hooks.Create(w.ctx, adminActor, in); pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("http without internal: %v", err)
		}
		in.URL = "https://hooks.slack.com/services/T0/B0/secretpart"
		in.Format = pam.WebhookSlack
		h, secret, err := w.hooks.Create(w.ctx, adminActor, in)
		if err != nil || secret != "" || h.HasSecret {
			t.Fatalf("slack endpoint: %+v %q %v", h, secret, err)
		}
		var pe *pam.Error
		if _, _, err := w.hooks.Create(w.ctx, adminActor, in); !errors.As(err, &pe) || pe.Code != pam.ECONFLICT || pe.Field != "name" {
			t.Fatalf("a second endpoint with the same name: %v", err)
		}
		// The URL is stored encrypted, its host apart; the edit form gets it back.
		st, err := w.db.WebhookByID(w.ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(st.URLEnc, "secretpart") || st.URLEnc == "" || st.URL != "" {
			t.Fatalf("url stored as %q", st.URLEnc)
		}
		got, err := w.hooks.Webhook(w.ctx, h.ID)
		if err != nil || got.URL != in.URL || got.Host != "hooks.slack.com" {
			t.Fatalf("read back: %+v %v", got, err)
		}
		// Switching to the generic format creates a secret, shown once.
		in.Format = pam.WebhookGeneric
		_, secret, err = w.hooks.Update(w.ctx, adminActor, h.ID, got.Version, in)
		if err != nil || secret == "" {
			t.Fatalf("update to generic: %q %v", secret, err)
		}
		if _, _, err := w.hooks.Update(w.ctx, adminActor, h.ID, got.Version, in); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("a stale update: %v", err)
		}
		if _, err := w.hooks.Delete(w.ctx, adminActor, h.ID); err != nil {
			t.Fatal(err)
		}
		if w.count(audit.WebhookCreated) != 1 || w.count(audit.WebhookUpdated) != 1 || w.count(audit.WebhookDeleted) != 1 {
			t.Fatal("endpoint changes not audited")
		}
		evs, _ := w.db.AuditEvents(w.ctx, store.AuditFilter{Action: "webhook.", Limit: 50})
		for _, ev := range evs {
			if b, _ := json.Marshal(ev.Details); bytes.Contains(b, []byte("secretpart")) || bytes.Contains(b, []byte("whsec_")) {
				t.Fatalf("audit details hold a secret: %s", b)
			}
		}
	})
}

func TestAddressCheckedWhenDelivering(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		rcv := newReceiver(t, http.StatusOK)
		h, _ := w.endpoint("Was internal", pam.WebhookGeneric, rcv.srv.URL, "request.created")
		// The endpoint loses its internal mark behind the service's back: its loopback URL is
		// refused when delivering, for good.
		if err := w.db.ExecRaw(w.ctx, "UPDATE webhooks SET internal = ? WHERE id = ?", false, h.ID); err != nil {
			t.Fatal(err)
		}
		w.submit()
		w.deliver()
		ds := w.deliveries()
		if len(ds) != 1 || ds[0].State != pam.MailFailed || len(rcv.got()) != 0 {
			t.Fatalf("loopback delivery of a public endpoint: %+v, %d calls", ds, len(rcv.got()))
		}
		// The client of public endpoints checks the address it dials, whatever name led there.
		req, _ := http.NewRequest(http.MethodPost, rcv.srv.URL, nil)
		if _, err := w.worker.PublicClient().Do(req); err == nil || !strings.Contains(err.Error(), "not marked internal") {
			t.Fatalf("public client reached loopback: %v", err)
		}
	})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		target := newReceiver(t, http.StatusOK)
		redirect := httptest.NewServer(http.RedirectHandler(target.srv.URL, http.StatusTemporaryRedirect))
		t.Cleanup(redirect.Close)
		gone := newReceiver(t, http.StatusGone)
		w.endpoint("Moved", pam.WebhookTeams, redirect.URL, "request.created")
		w.endpoint("Gone", pam.WebhookSlack, gone.srv.URL, "request.created")
		w.submit()
		w.deliver()
		for _, d := range w.deliveries() {
			if d.State != pam.MailFailed || d.Attempts != 1 {
				t.Fatalf("%s: %+v", d.WebhookName, d)
			}
			if d.WebhookName == "Moved" && (d.LastStatus != 307 || !strings.Contains(d.LastError, "redirects are not followed")) {
				t.Fatalf("redirect: %+v", d)
			}
		}
		if len(target.got()) != 0 || len(gone.got()) != 1 {
			t.Fatalf("redirect followed (%d) or 410 retried (%d)", len(target.got()), len(gone.got()))
		}
	})
}

// TestReviewCampaignEventsReachSubscribers: starting and closing an access review queue one
// delivery each, in the campaign's transaction, for an endpoint subscribed to them; the chat
// format names the campaign and links to its report.
func TestReviewCampaignEventsReachSubscribers(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		adm := admin.New(w.db, w.clock.Now)
		adm.SetCampaignNotifier(w.hooks)
		boss, _, err := adm.CreateUser(w.ctx, audit.System, "boss@example.com", "Boss", true, false)
		if err != nil {
			t.Fatal(err)
		}
		w.endpoint("Reviews", pam.WebhookSlack, "http://127.0.0.1:9/hook", "review_campaign.started", "review_campaign.closed")
		c, err := adm.StartCampaign(w.ctx, as(boss), pam.CampaignInput{Name: "Quarterly", Scope: string(pam.ReviewAllGroups),
			Reviewers: string(pam.ReviewByAdmins), Default: string(pam.ReviewKeep), Deadline: w.clock.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := adm.CloseCampaign(w.ctx, as(boss), c.ID); err != nil {
			t.Fatal(err)
		}
		ds := w.deliveries()
		types := map[string]bool{}
		for _, d := range ds {
			types[d.EventType] = true
			validate(t, "slack-message.schema.json", []byte(d.Body))
			if !strings.Contains(d.Body, "Quarterly") || !strings.Contains(d.Body, "/admin/reviews/"+c.ID) {
				t.Fatalf("%s body: %s", d.EventType, d.Body)
			}
		}
		if len(ds) != 2 || !types["review_campaign.started"] || !types["review_campaign.closed"] {
			t.Fatalf("deliveries: %d %v", len(ds), types)
		}
	})
}

// Every walk of the audit chain reaches the endpoints subscribed to audit.verified: an intact
// chain's payload carries the head it reached as a checkpoint that `elevate audit verify
// --checkpoint` takes, so the endpoint holds checkpoints outside Elevate; a broken one names the
// first bad event. The Slack message stays within its schema.
func TestChainWalksReachSubscribers(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		adm := admin.New(w.db, w.clock.Now)
		adm.SetChainNotifier(w.hooks)
		w.endpoint("Checkpoints", pam.WebhookGeneric, "http://127.0.0.1:9/keep", "audit.verified")
		w.endpoint("Chat", pam.WebhookSlack, "http://127.0.0.1:9/chat", "audit.verified")
		w.endpoint("Requests only", pam.WebhookGeneric, "http://127.0.0.1:9/req", "request.created")
		if _, err := w.db.SealWaiting(w.ctx); err != nil {
			t.Fatal(err)
		}
		v, err := adm.VerifyChain(w.ctx, audit.System, nil)
		if err != nil || v.Broken != nil || v.Head.Seq == 0 {
			t.Fatalf("walk: %+v %v", v, err)
		}
		ds := w.deliveries()
		if len(ds) != 2 {
			t.Fatalf("%d deliveries, want one for each endpoint subscribed", len(ds))
		}
		for _, d := range ds {
			if d.EventType != "audit.verified" {
				t.Fatalf("delivered %s", d.EventType)
			}
			if strings.Contains(d.Body, `"blocks"`) {
				validate(t, "slack-message.schema.json", []byte(d.Body))
				continue
			}
			var got struct {
				Data struct {
					Outcome, Checkpoint string
					Through, Events     int64
				}
				Link string
			}
			if err := json.Unmarshal([]byte(d.Body), &got); err != nil {
				t.Fatal(err)
			}
			cp, err := audit.ParseCheckpoint(got.Data.Checkpoint)
			if err != nil || cp != v.Head || got.Data.Outcome != audit.OutcomeSuccess || got.Data.Events != v.Events ||
				!strings.HasSuffix(got.Link, fmt.Sprintf("/audit/%d", v.Head.Seq)) {
				t.Fatalf("payload %s (%v), want checkpoint %s", d.Body, err, v.Head)
			}
			if _, _, err := w.db.VerifyAudit(w.ctx, &cp); err != nil {
				t.Fatalf("the delivered checkpoint does not verify: %v", err)
			}
		}

		// An edited event: the next walk's payload names it and why, with no checkpoint.
		testenv.Tamper(t, w.db, dialect, "UPDATE audit_events SET actor_name = 'someone else' WHERE seq = 1")
		if v, err := adm.VerifyChain(w.ctx, audit.System, nil); err != nil || v.Broken == nil {
			t.Fatalf("walk over an edited event: %+v %v", v, err)
		}
		var broken []string
		for _, d := range w.deliveries() {
			if strings.Contains(d.Body, `"broken_at":1`) {
				broken = append(broken, d.Body)
			}
		}
		if len(broken) != 1 || !strings.Contains(broken[0], `"outcome":"failure"`) || strings.Contains(broken[0], `"checkpoint"`) ||
			!strings.Contains(broken[0], `/audit/1"`) {
			t.Fatalf("the broken walk's generic payloads: %q", broken)
		}
	})
}

// TestChangeWithoutSubscribersCostsNoStatement: a request change that no enabled endpoint
// subscribes to renders no body and runs no statement for webhooks (the subscriptions are read
// with the change's audience); one that an endpoint subscribes to costs one.
func TestChangeWithoutSubscribersCostsNoStatement(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		statements := func() uint64 {
			before := w.db.Counts().Statements
			w.submit()
			return w.db.Counts().Statements - before
		}
		none := statements()
		w.endpoint("Denials", pam.WebhookSlack, "http://127.0.0.1:9/hook", "request.denied")
		if n := statements(); n != none || len(w.deliveries()) != 0 {
			t.Fatalf("a submission nobody subscribes to: %d statements (%d without endpoints), %d deliveries", n, none, len(w.deliveries()))
		}
		w.endpoint("Requests", pam.WebhookSlack, "http://127.0.0.1:9/hook2", "request.created")
		if n := statements(); n != none+1 || len(w.deliveries()) != 1 {
			t.Fatalf("a subscribed submission: %d statements (%d without), %d deliveries", n, none, len(w.deliveries()))
		}
	})
}

// stopped is one request change a grant's or request's end should report.
type stopped struct {
	request, event, status, cancelReason, actor string
}

// TestEndsWithdrawalsAndCancelsReachSubscribers: every way a grant ends (early by its holder,
// its extensions with it, by time) and a request stops without a decision (withdrawn by its
// requester; cancelled because its grant was ended or revoked, its policy disabled or its
// requester no longer eligible) queues one delivery per subscribed endpoint in the change's own
// transaction, present as soon as the change returns; each then reaches a loopback receiver
// with its event id, the generic one signed, each body matching its format's schema and naming
// the request, its state and why it was cancelled.
func TestEndsWithdrawalsAndCancelsReachSubscribers(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		adm := admin.New(w.db, w.clock.Now)
		adm.SetRequestRules(w.acc)
		rcv := newReceiver(t, http.StatusOK)
		events := []string{"request.withdrawn", "request.ended", "request.expired", "request.cancelled"}
		_, secret := w.endpoint("Mirror", pam.WebhookGeneric, rcv.srv.URL+"/generic", events...)
		w.endpoint("Slack", pam.WebhookSlack, rcv.srv.URL+"/slack", events...)
		w.endpoint("Teams", pam.WebhookTeams, rcv.srv.URL+"/teams", events...)
		var want []stopped
		// queued checks that the change just made queued its event for each endpoint, before
		// any worker ran: it was written with the change.
		queued := func(s stopped) {
			t.Helper()
			n := 0
			for _, d := range w.deliveries() {
				if d.RequestID == s.request && d.EventType == s.event && d.State == pam.MailQueued {
					n++
				}
			}
			if n != 3 {
				t.Fatalf("%s of %s: %d deliveries queued with the change, want one per endpoint (3)", s.event, s.request, n)
			}
			want = append(want, s)
		}
		approve := func(r pam.Request) pam.Request {
			t.Helper()
			r, err := w.acc.Review(w.ctx, as(w.approver), w.approver, r.ID, pam.DecisionApprove, "ok")
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		extend := func(r pam.Request) pam.Request {
			t.Helper()
			ext, err := w.acc.Extend(w.ctx, as(w.requester), w.requester, r.ID, pam.Submission{Duration: time.Hour, Justification: "still fixing"})
			if err != nil {
				t.Fatal(err)
			}
			return ext
		}
		requester := w.requester.Name

		// Withdrawn by its requester.
		r := w.submit()
		if _, err := w.acc.Withdraw(w.ctx, as(w.requester), w.requester, r.ID); err != nil {
			t.Fatal(err)
		}
		queued(stopped{r.ID, "request.withdrawn", "withdrawn", "", requester})

		// Ended early by its holder, with its chain: the approved extension lined up behind it
		// ends too (no mail, but endpoints hear of it), the pending one is cancelled.
		grant := approve(w.submit())
		ext := approve(extend(grant))
		left, err := testkit.LeftOverExtension(w.ctx, w.db, grant, time.Hour, w.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(10 * time.Minute)
		if _, err := w.acc.End(w.ctx, as(w.requester), w.requester, grant.ID); err != nil {
			t.Fatal(err)
		}
		queued(stopped{grant.ID, "request.ended", "ended", "", requester})
		queued(stopped{ext.ID, "request.ended", "ended", "", requester})
		queued(stopped{left.ID, "request.cancelled", "cancelled", "grant ended", requester})

		// A revoked grant's pending extension is cancelled.
		grant = approve(w.submit())
		pending := extend(grant)
		if _, err := w.acc.Revoke(w.ctx, as(w.approver), w.approver, grant.ID, "Done with the mailbox."); err != nil {
			t.Fatal(err)
		}
		queued(stopped{pending.ID, "request.cancelled", "cancelled", "grant revoked", w.approver.Name})

		// A grant that runs out ends by time, written down by the sweep.
		grant = approve(w.submit())
		w.clock.Advance(3 * time.Hour)
		if _, err := w.acc.Sweep(w.ctx); err != nil {
			t.Fatal(err)
		}
		queued(stopped{grant.ID, "request.expired", "expired", "", "system"})

		// Its policy disabled: the requests pending under it are cancelled.
		r = w.submit()
		p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.Enabled = false
		if err := adm.UpdatePolicy(w.ctx, adminActor, p); err != nil {
			t.Fatal(err)
		}
		queued(stopped{r.ID, "request.cancelled", "cancelled", "policy disabled", adminActor.Name})
		if p, err = w.db.PolicyByID(w.ctx, w.policy.ID); err != nil {
			t.Fatal(err)
		}
		p.Enabled = true
		if err := adm.UpdatePolicy(w.ctx, adminActor, p); err != nil {
			t.Fatal(err)
		}

		// Its requester no longer eligible (disabled): their pending request is cancelled.
		r = w.submit()
		if _, err := adm.ChangeUser(w.ctx, adminActor, w.requester.ID, admin.Disable); err != nil {
			t.Fatal(err)
		}
		queued(stopped{r.ID, "request.cancelled", "cancelled", "no longer eligible", "system"})

		for w.deliver() > 0 {
		}
		for _, d := range w.deliveries() {
			if d.State != pam.MailSent {
				t.Fatalf("delivery %s (%s) to %s: %s", d.EventType, d.RequestID, d.WebhookName, d.State)
			}
		}
		calls := rcv.got()
		if len(calls) != 3*len(want) {
			t.Fatalf("receiver got %d calls, want %d", len(calls), 3*len(want))
		}
		ids := map[string]int{}
		for _, c := range calls {
			ids[c.eventID]++
			switch {
			case bytes.Contains(c.body, []byte(`"blocks"`)):
				validate(t, "slack-message.schema.json", c.body)
				if c.signature != "" {
					t.Fatalf("a Slack message is signed: %s", c.body)
				}
			case bytes.Contains(c.body, []byte(`"AdaptiveCard"`)):
				validate(t, "teams-message.schema.json", c.body)
				if c.signature != "" {
					t.Fatalf("a Teams message is signed: %s", c.body)
				}
			default:
				validate(t, "generic-event.schema.json", c.body)
				if _, ok := verify(secret, c.signature, c.body); !ok {
					t.Fatalf("signature %q does not verify for %s", c.signature, c.body)
				}
			}
		}
		for id, n := range ids {
			if n != 3 {
				t.Fatalf("event %s reached %d endpoints, want 3 with the same id", id, n)
			}
		}
		for _, s := range want {
			var generic, chat []call
			for _, c := range calls {
				if c.eventType != s.event || !bytes.Contains(c.body, []byte("/requests/"+s.request)) {
					continue
				}
				if c.signature != "" {
					generic = append(generic, c)
				} else {
					chat = append(chat, c)
				}
			}
			if len(generic) != 1 || len(chat) != 2 {
				t.Fatalf("%s of %s: %d generic and %d chat deliveries", s.event, s.request, len(generic), len(chat))
			}
			var ev struct {
				ID, Type, Actor, Link string
				Request               struct {
					ID, Status   string
					CancelReason string `json:"cancel_reason"`
				}
			}
			if err := json.Unmarshal(generic[0].body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.ID != generic[0].eventID || ev.Type != s.event || ev.Actor != s.actor || ev.Request.ID != s.request ||
				ev.Request.Status != s.status || ev.Request.CancelReason != s.cancelReason ||
				ev.Link != "https://elevate.example.com/requests/"+s.request {
				t.Fatalf("%s of %s: body %s, want %+v", s.event, s.request, generic[0].body, s)
			}
			for _, c := range chat {
				if s.cancelReason != "" && !bytes.Contains(c.body, []byte(s.cancelReason)) {
					t.Fatalf("%s of %s: the chat message does not say why: %s", s.event, s.request, c.body)
				}
			}
		}
	})
}
