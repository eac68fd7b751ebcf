// Package webhook sends events to outbound HTTP endpoints: a generic signed JSON format, Slack
// and Microsoft Teams. A delivery is queued in the transaction of the change it reports and
// sent after commit by Worker, through an outbox like mail's (lease, retries with backoff,
// failed after a limit).
package webhook

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// Service holds the endpoints and queues their deliveries. It is an access.Notifier.
type Service struct {
	db   *store.Store
	aead cipher.AEAD
	base string
	now  func() time.Time
}

// New returns the webhook service. secret is the process secret (ELEVATE_SECRET_KEY): URLs and
// signing secrets are encrypted at rest with a key derived from it, as TOTP secrets are.
// baseURL is the portal's address, for links.
func New(db *store.Store, secret []byte, baseURL string, now func() time.Time) *Service {
	block, err := aes.NewCipher(auth.DeriveKey(secret, "webhook"))
	if err != nil {
		panic(fmt.Sprintf("webhook cipher: %v", err)) // a 32-byte key never fails
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("webhook cipher: %v", err))
	}
	return &Service{db: db, aead: aead, base: strings.TrimRight(baseURL, "/"), now: now}
}

// seal encrypts a value of an endpoint; the endpoint id and the field are bound in, so a
// ciphertext copied to another row or column does not decrypt.
func (s *Service) seal(id, field, v string) string {
	if v == "" {
		return ""
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(v), []byte(id+"/"+field)))
}

func (s *Service) open(id, field, enc string) (string, error) {
	if enc == "" {
		return "", nil
	}
	b, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("webhook " + field + ": malformed")
	}
	pt, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(id+"/"+field))
	if err != nil {
		return "", errors.New("webhook " + field + ": does not decrypt with this key")
	}
	return string(pt), nil
}

// newSecret is a fresh signing secret: 32 random bytes, hex.
func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return "whsec_" + hex.EncodeToString(b)
}

// Input is an endpoint as an admin typed it.
type Input struct {
	Name     string
	URL      string
	Format   string
	Events   []string
	Internal bool
	Enabled  bool
}

// validate parses in into w's fields.
func (in Input) validate(w *pam.Webhook) error {
	var ps pam.Problems
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		ps.Add(pam.FieldError("name", "Enter a name, such as the channel or system that receives these events."))
	case utf8.RuneCountInString(name) > 100:
		ps.Add(pam.FieldError("name", "Use a name of at most 100 characters."))
	default:
		ps.Add(pam.CheckChars("name", name, false))
	}
	u, err := pam.ParseWebhookURL(in.URL, in.Internal)
	ps.Add(err)
	if !slices.Contains(pam.WebhookFormats, in.Format) {
		ps.Add(pam.FieldError("format", "Choose a format: generic JSON, Slack or Microsoft Teams."))
	}
	var events []string
	for _, e := range Events { // in the table's order, each once
		if slices.Contains(in.Events, e.Type) {
			events = append(events, e.Type)
		}
	}
	for _, t := range in.Events {
		if _, ok := eventByType(t); !ok {
			ps.Add(pam.FieldError("events", "Choose events from the list."))
		}
	}
	if len(events) == 0 {
		ps.Add(pam.FieldError("events", "Choose at least one event to send."))
	}
	if err := ps.Err(); err != nil {
		return err
	}
	w.Name, w.URL, w.Host, w.Format, w.Events, w.Internal, w.Enabled = name, u.String(), pam.HostOf(u.String()), in.Format, events, in.Internal, in.Enabled
	return nil
}

// details are what an endpoint's audit events record: never its URL's path or its secret.
func details(w pam.Webhook) map[string]any {
	return map[string]any{"name": w.Name, "host": w.Host, "format": w.Format, "events": strings.Join(w.Events, ","),
		"internal": w.Internal, "enabled": w.Enabled}
}

func (s *Service) audit(ctx context.Context, tx *store.Store, a audit.Actor, action audit.Action, id string, d map[string]any) error {
	ev := a.Event(action, "webhook", id, d)
	ev.At = s.now()
	return tx.AppendAudit(ctx, ev)
}

// Create adds an endpoint. A generic endpoint gets a signing secret, returned here only.
func (s *Service) Create(ctx context.Context, a audit.Actor, in Input) (pam.Webhook, string, error) {
	w := pam.Webhook{ID: uuid.NewString()}
	if err := in.validate(&w); err != nil {
		return w, "", err
	}
	now := s.now()
	w.CreatedAt, w.UpdatedAt, w.Version = now, now, 1
	secret := ""
	if w.Format == pam.WebhookGeneric {
		secret = newSecret()
	}
	w.HasSecret = secret != ""
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		n, err := tx.CountWebhooks(ctx)
		if err != nil {
			return err
		}
		if n >= store.MaxWebhooks {
			return pam.Errorf(pam.EINVALID, "Elevate keeps at most %d endpoints; delete one first.", store.MaxWebhooks)
		}
		if err := tx.CreateWebhook(ctx, store.StoredWebhook{Webhook: w, URLEnc: s.seal(w.ID, "url", w.URL), SecretEnc: s.seal(w.ID, "secret", secret)}); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, audit.WebhookCreated, w.ID, details(w))
	})
	if err != nil {
		return w, "", fmt.Errorf("create webhook: %w", err)
	}
	return w, secret, nil
}

// Update saves an endpoint read at version. An endpoint changed to the generic format gets a
// signing secret if it had none, returned here only.
func (s *Service) Update(ctx context.Context, a audit.Actor, id string, version int, in Input) (pam.Webhook, string, error) {
	var w pam.Webhook
	secret := ""
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		st, err := tx.WebhookByID(ctx, id)
		if err != nil {
			return err
		}
		w = st.Webhook
		w.Version = version
		if err := in.validate(&w); err != nil {
			return err
		}
		if w.Format == pam.WebhookGeneric && st.SecretEnc == "" {
			secret = newSecret()
			st.SecretEnc = s.seal(id, "secret", secret)
		}
		w.HasSecret = st.SecretEnc != ""
		if err := tx.UpdateWebhook(ctx, store.StoredWebhook{Webhook: w, URLEnc: s.seal(id, "url", w.URL), SecretEnc: st.SecretEnc}, s.now()); err != nil {
			return err
		}
		action := audit.WebhookUpdated
		switch {
		case st.Enabled && !w.Enabled:
			action = audit.WebhookDisabled
		case !st.Enabled && w.Enabled:
			action = audit.WebhookEnabled
		}
		return s.audit(ctx, tx, a, action, id, details(w))
	})
	if err != nil {
		return w, "", fmt.Errorf("update webhook %s: %w", id, err)
	}
	return w, secret, nil
}

// SetEnabled turns an endpoint on or off; a disabled endpoint gets no new deliveries, and
// those waiting fail when their turn comes.
func (s *Service) SetEnabled(ctx context.Context, a audit.Actor, id string, enabled bool) (pam.Webhook, error) {
	var w pam.Webhook
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		st, err := tx.WebhookByID(ctx, id)
		if err != nil {
			return err
		}
		w = st.Webhook
		if w.Enabled == enabled {
			return nil
		}
		w.Enabled = enabled
		if err := tx.UpdateWebhook(ctx, store.StoredWebhook{Webhook: w, URLEnc: st.URLEnc, SecretEnc: st.SecretEnc}, s.now()); err != nil {
			return err
		}
		action := audit.WebhookDisabled
		if enabled {
			action = audit.WebhookEnabled
		}
		return s.audit(ctx, tx, a, action, id, details(w))
	})
	return w, err
}

// RotateSecret gives a generic endpoint a new signing secret, returned here only; deliveries
// from now on are signed with it.
func (s *Service) RotateSecret(ctx context.Context, a audit.Actor, id string) (pam.Webhook, string, error) {
	var w pam.Webhook
	secret := newSecret()
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		st, err := tx.WebhookByID(ctx, id)
		if err != nil {
			return err
		}
		w = st.Webhook
		if w.Format != pam.WebhookGeneric {
			return pam.Errorf(pam.EINVALID, "Only generic endpoints are signed; Slack and Teams check the URL instead.")
		}
		if err := tx.UpdateWebhook(ctx, store.StoredWebhook{Webhook: w, URLEnc: st.URLEnc, SecretEnc: s.seal(id, "secret", secret)}, s.now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, audit.WebhookSecretRotated, id, details(w))
	})
	if err != nil {
		return w, "", err
	}
	return w, secret, nil
}

// Delete removes an endpoint and its deliveries.
func (s *Service) Delete(ctx context.Context, a audit.Actor, id string) (pam.Webhook, error) {
	var w pam.Webhook
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		st, err := tx.WebhookByID(ctx, id)
		if err != nil {
			return err
		}
		w = st.Webhook
		if err := tx.DeleteWebhook(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, audit.WebhookDeleted, id, details(w))
	})
	return w, err
}

// Webhook returns one endpoint with its URL decrypted (for its edit form).
func (s *Service) Webhook(ctx context.Context, id string) (pam.Webhook, error) {
	st, err := s.db.WebhookByID(ctx, id)
	if err != nil {
		return st.Webhook, err
	}
	w := st.Webhook
	if w.URL, err = s.open(id, "url", st.URLEnc); err != nil {
		return w, err
	}
	return w, nil
}

// Webhooks lists the endpoints by name, without their URLs (lists show the host).
func (s *Service) Webhooks(ctx context.Context) ([]pam.Webhook, error) {
	sts, err := s.db.Webhooks(ctx)
	out := make([]pam.Webhook, len(sts))
	for i, st := range sts {
		out[i] = st.Webhook
	}
	return out, err
}

// Deliveries lists deliveries newest first.
func (s *Service) Deliveries(ctx context.Context, f pam.DeliveryFilter) ([]pam.WebhookDelivery, error) {
	return s.db.WebhookDeliveries(ctx, f)
}

// Delivery returns one delivery.
func (s *Service) Delivery(ctx context.Context, id string) (pam.WebhookDelivery, error) {
	return s.db.WebhookDeliveryByID(ctx, id)
}

// DeliveryCounts counts deliveries by state.
func (s *Service) DeliveryCounts(ctx context.Context) (map[string]int64, error) {
	return s.db.WebhookDeliveryCounts(ctx)
}

// Resend queues a failed delivery again, due at once, with the same event id and body, so a
// receiver that got it after all can drop the duplicate.
func (s *Service) Resend(ctx context.Context, a audit.Actor, id string) (pam.WebhookDelivery, error) {
	var d pam.WebhookDelivery
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		if d, err = tx.RequeueWebhook(ctx, id, s.now()); err != nil {
			return err
		}
		ev := a.Event(audit.WebhookDeliveryRetryRequested, "webhook_delivery", d.ID, map[string]any{
			"webhook": d.WebhookName, "event_id": d.EventID, "event_type": d.EventType, "attempts": d.Attempts})
		ev.At, ev.RequestID = s.now(), d.RequestID
		return tx.AppendAudit(ctx, ev)
	})
	return d, err
}

// RequestChanged queues a delivery of c to each enabled endpoint that wants it, inside the
// change's transaction tx. Changes that are no webhook event queue nothing.
func (s *Service) RequestChanged(ctx context.Context, tx *store.Store, c access.Change) error {
	t, ok := EventOf(c.Action)
	if !ok || (c.Subscribed != nil && !c.Subscribed(t.Type)) {
		return nil // nobody listens: no body rendered, no statement
	}
	e := Event{ID: uuid.NewString(), Type: t, At: s.now(), Actor: c.Actor.Name, Request: requestFields(c),
		Link: s.base + "/requests/" + url.PathEscape(c.Request.ID)}
	if err := s.Enqueue(ctx, tx, e); err != nil {
		return fmt.Errorf("queue webhooks for request %s (%s): %w", c.Request.ID, c.Action, err)
	}
	return nil
}

// Link is the portal's address of path ("/admin/reviews/…"), for events' links.
func (s *Service) Link(path string) string { return s.base + path }

// CampaignChanged queues the start or close of an access review campaign (action says which)
// for the endpoints subscribed to it, in the campaign change's transaction; it is the admin
// service's CampaignNotifier. The payload names the campaign, its deadline and its counts, and
// links to its report (sign-in required).
func (s *Service) CampaignChanged(ctx context.Context, tx *store.Store, action audit.Action, actor audit.Actor, c pam.Campaign) error {
	t, ok := EventOf(action)
	if !ok {
		return nil
	}
	data := map[string]any{"id": c.ID, "name": c.Name, "deadline": c.Deadline.UTC().Format(time.RFC3339),
		"memberships": c.Items}
	summary := fmt.Sprintf("Access review %s started by %s: %s to review by %s (UTC).", c.Name, actor.Name,
		pam.Count(c.Items, "membership", "memberships"), c.Deadline.UTC().Format("2006-01-02 15:04"))
	if action == audit.ReviewCampaignClosed {
		data["decided"], data["removed"] = c.Decided, c.Removed
		summary = fmt.Sprintf("Access review %s closed by %s: %d of %s decided, %d removed.", c.Name, actor.Name,
			c.Decided, pam.Count(c.Items, "membership", "memberships"), c.Removed)
	}
	return s.Enqueue(ctx, tx, Event{ID: uuid.NewString(), Type: t, At: s.now(), Actor: actor.Name, Summary: summary, Data: data,
		Link: s.Link("/admin/reviews/" + url.PathEscape(c.ID))})
}

// ChainWalked queues a walk of the audit chain by actor for the endpoints subscribed to
// audit.verified, in the transaction that records the walk; it is the admin service's
// ChainNotifier. An intact chain's payload carries the head the walk reached as a checkpoint
// (SEQ:HASH, what `elevate audit verify --checkpoint` takes), so an endpoint that keeps them
// holds checkpoints outside Elevate's database; a broken one names the first bad event and why.
func (s *Service) ChainWalked(ctx context.Context, tx *store.Store, actor audit.Actor, head audit.Head, events int64, broken *audit.ChainError) error {
	t, _ := EventOf(audit.ChainVerified)
	data := map[string]any{"outcome": audit.OutcomeSuccess, "through": head.Seq, "hash": head.Hash, "checkpoint": head.String(), "events": events}
	summary := fmt.Sprintf("Audit chain verified by %s: %s through event %d check out; checkpoint %s.",
		actor.Name, pam.Count(int(events), "event", "events"), head.Seq, head)
	link := s.Link("/audit/" + strconv.FormatInt(head.Seq, 10))
	if head.Seq == 0 { // nothing sealed yet: no checkpoint to keep, no event to open
		data = map[string]any{"outcome": audit.OutcomeSuccess, "through": 0, "events": 0}
		summary, link = "Audit chain verified by "+actor.Name+": no events sealed yet.", s.Link("/audit")
	}
	if broken != nil {
		data = map[string]any{"outcome": audit.OutcomeFailure, "broken_at": broken.Seq, "reason": broken.Reason}
		summary = fmt.Sprintf("Audit chain BROKEN at event %d, found by %s: %s.", broken.Seq, actor.Name, broken.Reason)
		link = s.Link("/audit/" + strconv.FormatInt(broken.Seq, 10))
	}
	return s.Enqueue(ctx, tx, Event{ID: uuid.NewString(), Type: t, At: s.now(), Actor: actor.Name, Summary: summary, Data: data, Link: link})
}

// Enqueue queues e for each enabled endpoint subscribed to its type, rendered in the
// endpoint's format, inside tx: call it in the transaction of the change e reports. Every
// endpoint's delivery carries e.ID. It costs one statement, whether or not anyone listens.
func (s *Service) Enqueue(ctx context.Context, tx *store.Store, e Event) error {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	ev := store.WebhookEvent{EventID: e.ID, Type: e.Type.Type, At: e.At, Bodies: map[string]string{}}
	if e.Request != nil {
		ev.RequestID = e.Request.ID
	}
	for _, f := range pam.WebhookFormats {
		b, err := Body(f, e)
		if err != nil {
			return err
		}
		ev.Bodies[f] = string(b)
	}
	_, err := tx.EnqueueWebhookEvent(ctx, ev)
	return err
}

// requestFields are the public fields of the request of c.
func requestFields(c access.Change) *RequestFields {
	r := c.Request
	f := &RequestFields{ID: r.ID, Status: string(r.Status),
		Requester:       Person{Name: c.Requester.Name, Email: c.Requester.Email},
		Scope:           Scope{Type: string(r.ScopeType), Name: r.ScopeName},
		DurationMinutes: int(r.Duration / time.Minute), Justification: r.Justification, Ticket: r.Ticket,
		CreatedAt: r.CreatedAt.UTC(), StartsAt: utc(r.StartsAt), EndsAt: utc(r.EndsAt),
		Approvals: r.Approvals(), ApprovalsRequired: r.ApprovalsRequired, Tasks: []string{},
		RevokedBy: c.RevokerName, RevokeReason: r.RevokeReason, CancelReason: string(r.CancelReason)}
	if f.Requester.Name == "" {
		f.Requester = Person{Name: r.RequesterName, Email: r.RequesterEmail}
	}
	if r.Status == pam.StatusPending {
		f.PendingUntil = utc(&r.PendingUntil)
	}
	for i, t := range c.Tasks {
		if i == access.ChangeTasks {
			f.MoreTasks = true
			break
		}
		f.Tasks = append(f.Tasks, t.Key)
	}
	return f
}

func utc(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
