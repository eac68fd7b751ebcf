package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// Headers every delivery carries.
const (
	HeaderEventID   = "Elevate-Event-Id"   // the event's id: the same on every attempt and resend
	HeaderEventType = "Elevate-Event-Type" // the event's type ("request.approved")
	HeaderSignature = "Elevate-Signature"  // t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, generic endpoints only
)

// Sign returns the Elevate-Signature value of body sent at t with secret.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Worker delivers due webhook deliveries after commit, like mail.Worker delivers mail: a batch
// is claimed under a lease (one statement), posted, and its outcomes are recorded with their
// audit events in one transaction. Receivers are called in parallel, each with a short
// timeout, and never inside a transaction: a slow or dead receiver delays only its own
// deliveries.
type Worker struct {
	svc *Service
	now func() time.Time
	log *slog.Logger
	// public refuses loopback, link-local and private addresses once resolved; internal
	// endpoints use internal. Neither follows redirects or uses a proxy.
	public, internal *http.Client

	// Batch is how many deliveries one claim takes, and Parallel how many are posted at once.
	Batch, Parallel int
	// Lease is how long a claim holds its deliveries; longer than a batch can take.
	Lease time.Duration
	// Timeout bounds one attempt, from dialling to the end of the answer.
	Timeout time.Duration
	// BackoffBase and BackoffMax shape the retry delays: base, 2×base, 4×base… up to max.
	BackoffBase, BackoffMax time.Duration
	// RetryFor is how long after the first failure temporary failures are still retried.
	RetryFor time.Duration
}

// errPrivate refuses an address an endpoint that is not internal may not reach.
var errPrivate = errors.New("the address is loopback, link-local or private, and the endpoint is not marked internal")

// NewWorker returns a worker posting the deliveries of svc's endpoints.
func NewWorker(svc *Service, now func() time.Time, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.Default()
	}
	w := &Worker{svc: svc, now: now, log: log, Batch: 50, Parallel: 4, Lease: 5 * time.Minute, Timeout: 5 * time.Second,
		BackoffBase: 30 * time.Second, BackoffMax: time.Hour, RetryFor: 24 * time.Hour}
	w.public = client(func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !pam.PublicAddr(ip) {
			return errPrivate
		}
		return nil
	})
	w.internal = client(nil)
	return w
}

// client is an HTTP client that checks each address it dials with control, follows no
// redirect and uses no proxy (a proxy would be the address checked).
func client(control func(network, address string, c syscall.RawConn) error) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: control}
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: 5 * time.Second, MaxIdleConnsPerHost: 2,
			IdleConnTimeout: 30 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// DeliverDue posts every delivery due now, batch by batch, and returns how many it recorded.
// When ctx ends it claims nothing more; a batch in flight is finished and recorded.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		next, err := w.svc.db.NextWebhookDue(ctx)
		if err != nil {
			return n, fmt.Errorf("look for due webhooks: %w", err)
		}
		if next.IsZero() || next.After(w.now()) {
			return n, nil
		}
		owner := uuid.NewString()
		ds, err := w.svc.db.ClaimWebhooks(ctx, owner, w.now(), w.Lease, w.Batch)
		if err != nil {
			return n, fmt.Errorf("claim webhooks: %w", err)
		}
		if len(ds) == 0 {
			return n, nil
		}
		outcomes := w.send(context.WithoutCancel(ctx), ds)
		if err := w.record(context.WithoutCancel(ctx), owner, ds, outcomes); err != nil {
			return n, err
		}
		n += len(ds)
	}
	return n, nil
}

// outcome is what one attempt comes to: the row's new state and its audit event.
type outcome struct {
	store.WebhookOutcome
	action  audit.Action
	details map[string]any
}

// send posts a claimed batch, Parallel at a time, and judges each result.
func (w *Worker) send(ctx context.Context, ds []pam.WebhookDelivery) []outcome {
	hooks := map[string]*target{}
	for _, d := range ds {
		if _, ok := hooks[d.WebhookID]; !ok {
			hooks[d.WebhookID] = w.target(ctx, d.WebhookID)
		}
	}
	out := make([]outcome, len(ds))
	sem := make(chan struct{}, max(w.Parallel, 1))
	var wg sync.WaitGroup
	for i, d := range ds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			status, err := w.post(ctx, hooks[d.WebhookID], d)
			out[i] = w.judge(d, hooks[d.WebhookID], status, err)
		})
	}
	wg.Wait()
	return out
}

// target is an endpoint as a delivery needs it: where, how, and whether it may be reached.
type target struct {
	name     string
	url      string
	secret   string
	internal bool
	err      *sendError // set when nothing can be sent to it
}

// sendError is why an attempt failed; a permanent one is not retried.
type sendError struct {
	text      string
	permanent bool
}

func (e *sendError) Error() string { return e.text }

// target reads and decrypts an endpoint.
func (w *Worker) target(ctx context.Context, id string) *target {
	st, err := w.svc.db.WebhookByID(ctx, id)
	if err != nil {
		return &target{err: &sendError{text: "endpoint not found", permanent: pam.ErrorCode(err) == pam.ENOTFOUND}}
	}
	t := &target{name: st.Name, internal: st.Internal}
	if !st.Enabled {
		t.err = &sendError{text: "the endpoint is disabled", permanent: true}
		return t
	}
	if t.url, err = w.svc.open(id, "url", st.URLEnc); err == nil {
		t.secret, err = w.svc.open(id, "secret", st.SecretEnc)
	}
	if err != nil {
		t.err = &sendError{text: err.Error(), permanent: true}
		return t
	}
	if _, err := pam.ParseWebhookURL(t.url, t.internal); err != nil {
		t.err = &sendError{text: "the URL is no longer allowed: " + pam.ErrorMessage(err), permanent: true}
	}
	return t
}

// post makes one attempt and returns the receiver's status (0 when it never answered).
func (w *Worker) post(ctx context.Context, t *target, d pam.WebhookDelivery) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	body := []byte(d.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(d.Body))
	if err != nil {
		return 0, &sendError{text: "bad URL", permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Elevate-Webhook/1")
	req.Header.Set(HeaderEventID, d.EventID)
	req.Header.Set(HeaderEventType, d.EventType)
	if t.secret != "" {
		req.Header.Set(HeaderSignature, Sign(t.secret, w.now(), body))
	}
	c := w.public
	if t.internal {
		c = w.internal
	}
	resp, err := c.Do(req)
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, errPrivate):
			return 0, &sendError{text: errPrivate.Error(), permanent: true}
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			msg = "no answer within " + w.Timeout.String()
		default:
			// A client error names the URL, and its path can hold the receiver's own secret.
			var ue interface{ Unwrap() error }
			if errors.As(err, &ue) && ue.Unwrap() != nil {
				msg = ue.Unwrap().Error()
			}
		}
		return 0, &sendError{text: msg}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // drained for reuse
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return code, nil
	case code >= 300 && code < 400:
		return code, &sendError{text: fmt.Sprintf("HTTP %d: redirects are not followed", code), permanent: true}
	default:
		text := fmt.Sprintf("HTTP %d", code)
		if s := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")); s != "" {
			text += ": " + s
		}
		permanent := code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests && code != http.StatusTooEarly
		return code, &sendError{text: text, permanent: permanent}
	}
}

// judge decides what an attempt's result means for the delivery: sent, retry later, or failed.
func (w *Worker) judge(d pam.WebhookDelivery, t *target, status int, sendErr error) outcome {
	now := w.now()
	o := outcome{WebhookOutcome: store.WebhookOutcome{MailOutcome: store.MailOutcome{State: pam.MailSent, At: now}, Status: status},
		action:  audit.WebhookDeliverySent,
		details: map[string]any{"webhook": t.name, "event_id": d.EventID, "event_type": d.EventType, "attempt": d.Attempts + 1, "status": status}}
	if sendErr == nil {
		return o
	}
	var se *sendError
	if !errors.As(sendErr, &se) {
		se = &sendError{text: sendErr.Error()}
	}
	o.Error = pam.CutBytes(se.text, 1000)
	o.details["error"] = o.Error
	step := pam.Retry{Base: w.BackoffBase, Max: w.BackoffMax, For: w.RetryFor}.After(d.Attempts, d.GiveUpAt, se.permanent, now)
	switch o.State = step.State; {
	case step.Permanent:
		o.action = audit.WebhookDeliveryFailed
		o.details["permanent"] = true
	case step.State == pam.MailFailed:
		o.action = audit.WebhookDeliveryFailed
		o.details["gave_up"] = "temporary failures for " + w.RetryFor.String()
	default:
		o.action = audit.WebhookDeliveryRetryScheduled
		o.NextAttemptAt, o.GiveUpAt = step.Next, step.GiveUp
		o.details["next_attempt_at"] = step.Next.UTC().Format(time.RFC3339)
	}
	return o
}

// record writes a batch's outcomes, each with its audit event, in one transaction, where the
// claim still holds the delivery.
func (w *Worker) record(ctx context.Context, owner string, ds []pam.WebhookDelivery, outs []outcome) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := w.svc.db.Tx(ctx, func(tx *store.Store) error {
		evs := make([]*audit.Event, 0, len(ds))
		for i, d := range ds {
			o := outs[i]
			held, err := tx.FinishWebhook(ctx, d.ID, owner, o.WebhookOutcome)
			if err != nil {
				return fmt.Errorf("record webhook delivery %s: %w", d.ID, err)
			}
			if !held {
				continue // the lease ran out and another worker took it over
			}
			ev := audit.System.Event(o.action, "webhook_delivery", d.ID, o.details)
			ev.At, ev.RequestID, ev.Outcome = o.At, d.RequestID, audit.OutcomeSuccess
			if o.State == pam.MailFailed {
				ev.Outcome = audit.OutcomeFailure
			}
			evs = append(evs, ev)
		}
		return tx.AppendAudits(ctx, evs)
	})
	if err != nil {
		return err
	}
	for i, d := range ds {
		if o := outs[i]; o.State != pam.MailSent {
			w.log.Warn("webhook not delivered", "delivery_id", d.ID, "webhook_id", d.WebhookID, "state", o.State, "error", o.Error)
		}
	}
	return nil
}
