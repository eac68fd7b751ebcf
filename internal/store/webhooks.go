package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
)

// webhookRow is a row of webhooks. The URL and the secret are encrypted by the webhook service.
type webhookRow struct {
	ID        string
	Name      string
	Host      string
	URLEnc    string `gorm:"column:url_enc"`
	SecretEnc string
	Format    string
	Events    string // ",type,type,": one LIKE finds the subscribers of a type
	Internal  bool
	Enabled   bool
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName fixes the table name.
func (webhookRow) TableName() string { return "webhooks" }

// StoredWebhook is an endpoint as stored: its URL and secret still encrypted.
type StoredWebhook struct {
	pam.Webhook
	URLEnc    string
	SecretEnc string
}

func webhookToRow(w StoredWebhook) webhookRow {
	return webhookRow{ID: w.ID, Name: w.Name, Host: w.Host, URLEnc: w.URLEnc, SecretEnc: w.SecretEnc, Format: w.Format,
		Events: "," + strings.Join(w.Events, ",") + ",", Internal: w.Internal, Enabled: w.Enabled, Version: w.Version,
		CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
}

func webhookToDomain(r webhookRow) StoredWebhook {
	var events []string
	for _, e := range strings.Split(strings.Trim(r.Events, ","), ",") {
		if e != "" {
			events = append(events, e)
		}
	}
	return StoredWebhook{Webhook: pam.Webhook{ID: r.ID, Name: r.Name, Host: r.Host, Format: r.Format, Events: events,
		Internal: r.Internal, Enabled: r.Enabled, HasSecret: r.SecretEnc != "", Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}, URLEnc: r.URLEnc, SecretEnc: r.SecretEnc}
}

// errWebhookName is a name another endpoint has.
var errWebhookName = &pam.Error{Code: pam.ECONFLICT, Field: "name", Message: "Another endpoint has that name; choose another."}

// nameTaken maps a unique violation (the name) to errWebhookName.
func nameTaken(err error) error {
	if pam.ErrorCode(translate(err, "Endpoint")) == pam.ECONFLICT {
		return errWebhookName
	}
	return err
}

// CreateWebhook stores a new endpoint; a name already used is ECONFLICT on the name field.
func (s *Store) CreateWebhook(ctx context.Context, w StoredWebhook) error {
	r := webhookToRow(w)
	r.Version = 1
	return nameTaken(s.conn(ctx).Create(&r).Error)
}

// UpdateWebhook saves an endpoint read at w.Version; ECONFLICT when someone changed it
// meanwhile (on the name field: a name already used), ENOTFOUND when it is gone.
func (s *Store) UpdateWebhook(ctx context.Context, w StoredWebhook, now time.Time) error {
	r := webhookToRow(w)
	res := s.conn(ctx).Model(&webhookRow{}).Where("id = ? AND version = ?", w.ID, versionArg(w.Version)).Updates(map[string]any{
		"name": r.Name, "host": r.Host, "url_enc": r.URLEnc, "secret_enc": r.SecretEnc, "format": r.Format, "events": r.Events,
		"internal": r.Internal, "enabled": r.Enabled, "version": gorm.Expr("version + 1"), "updated_at": now.UTC(),
	})
	if res.Error != nil {
		return nameTaken(res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.WebhookByID(ctx, w.ID); err != nil {
			return err
		}
		return pam.Errorf(pam.ECONFLICT, "Someone changed this endpoint meanwhile. Reload the page and try again.")
	}
	return nil
}

// DeleteWebhook deletes an endpoint and its deliveries; ENOTFOUND when it is gone.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	// SQLite's foreign keys cascade too, but only with the pragma on: say it outright.
	if err := s.conn(ctx).Where("webhook_id = ?", id).Delete(&webhookDeliveryRow{}).Error; err != nil {
		return err
	}
	res := s.conn(ctx).Where("id = ?", id).Delete(&webhookRow{})
	if res.Error == nil && res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "Endpoint not found.")
	}
	return res.Error
}

// WebhookByID returns one endpoint, or ENOTFOUND.
func (s *Store) WebhookByID(ctx context.Context, id string) (StoredWebhook, error) {
	var r webhookRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return StoredWebhook{}, translate(err, "Endpoint")
	}
	return webhookToDomain(r), nil
}

// MaxWebhooks bounds the endpoints an organisation keeps: every change reads its subscribers.
const MaxWebhooks = 100

// Webhooks lists the endpoints by name (at most MaxWebhooks).
func (s *Store) Webhooks(ctx context.Context) ([]StoredWebhook, error) {
	var rows []webhookRow
	err := s.conn(ctx).Order("name, id").Limit(MaxWebhooks).Find(&rows).Error
	out := make([]StoredWebhook, len(rows))
	for i, r := range rows {
		out[i] = webhookToDomain(r)
	}
	return out, err
}

// CountWebhooks counts the endpoints.
func (s *Store) CountWebhooks(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&webhookRow{}).Count(&n).Error
	return n, err
}

// webhookDeliveryRow is a row of webhook_deliveries.
type webhookDeliveryRow struct {
	ID            string
	WebhookID     string
	EventID       string
	EventType     string
	RequestID     string
	Body          string
	State         string
	Attempts      int
	LastStatus    int
	NextAttemptAt time.Time
	GiveUpAt      *time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        *time.Time
	UpdatedAt     time.Time
	WebhookName   string `gorm:"->;-:migration"` // read by Deliveries' join
}

// TableName fixes the table name.
func (webhookDeliveryRow) TableName() string { return "webhook_deliveries" }

func deliveryToDomain(r webhookDeliveryRow) pam.WebhookDelivery {
	return pam.WebhookDelivery{ID: r.ID, WebhookID: r.WebhookID, WebhookName: r.WebhookName, EventID: r.EventID,
		EventType: r.EventType, RequestID: r.RequestID, Body: r.Body, State: r.State, Attempts: r.Attempts,
		LastStatus: r.LastStatus, LastError: r.LastError, NextAttemptAt: r.NextAttemptAt.UTC(), GiveUpAt: utcPtr(r.GiveUpAt),
		CreatedAt: r.CreatedAt.UTC(), SentAt: utcPtr(r.SentAt)}
}

// WebhookEvent is one event to queue for every endpoint that wants it, with its body in each
// format.
type WebhookEvent struct {
	EventID   string
	Type      string
	RequestID string
	At        time.Time
	Bodies    map[string]string // by format; the generic body for any format not listed
}

// enqueueWebhookEvent inserts a delivery per enabled endpoint subscribed to the event's type;
// {id} is the dialect's random id.
const enqueueWebhookEvent = `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, request_id, body, state,
	attempts, last_status, next_attempt_at, lease_owner, last_error, created_at, updated_at)
	SELECT {id}, id, ?, ?, ?, CASE format WHEN ? THEN ? WHEN ? THEN ? ELSE ? END, ?, 0, 0, ?, '', '', ?, ?
	FROM webhooks WHERE enabled = ? AND events LIKE ?`

// EnqueueWebhookEvent queues e for each enabled endpoint subscribed to its type, in one
// statement whatever their number (none costs the same single statement), and returns how many
// deliveries it queued. Call it inside the transaction of the change e reports, so both commit
// or neither does.
func (s *Store) EnqueueWebhookEvent(ctx context.Context, e WebhookEvent) (int64, error) {
	id := "lower(hex(randomblob(16)))"
	if s.dialect == Postgres {
		id = "gen_random_uuid()::text"
	}
	at := e.At.UTC()
	res := s.conn(ctx).Exec(strings.Replace(enqueueWebhookEvent, "{id}", id, 1),
		e.EventID, e.Type, e.RequestID, pam.WebhookSlack, e.Bodies[pam.WebhookSlack], pam.WebhookTeams, e.Bodies[pam.WebhookTeams],
		e.Bodies[pam.WebhookGeneric], pam.MailQueued, at, at, at, true, "%,"+e.Type+",%")
	return res.RowsAffected, res.Error
}

// ClaimWebhooks leases up to limit due deliveries to owner until now+lease, oldest due first,
// with the claim ClaimMail uses.
func (s *Store) ClaimWebhooks(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]pam.WebhookDelivery, error) {
	var rows []webhookDeliveryRow
	if err := s.claimOutbox(ctx, "webhook_deliveries", &rows, owner, now.UTC(), lease, limit); err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b webhookDeliveryRow) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	out := make([]pam.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = deliveryToDomain(r)
	}
	return out, nil
}

// WebhookOutcome is what happened to one delivery attempt: MailOutcome's fields and the
// receiver's HTTP status (0 when it never answered).
type WebhookOutcome struct {
	MailOutcome
	Status int
}

// FinishWebhook records the outcome of an attempt made under owner's lease and releases the
// lease. It reports false, writing nothing, when owner no longer holds the delivery.
func (s *Store) FinishWebhook(ctx context.Context, id, owner string, o WebhookOutcome) (bool, error) {
	at := o.At.UTC()
	set := map[string]any{
		"state": o.State, "attempts": gorm.Expr("attempts + 1"), "last_error": o.Error, "last_status": o.Status,
		"lease_owner": "", "lease_until": nil, "updated_at": at,
	}
	switch o.State {
	case pam.MailSent:
		set["sent_at"] = at
	case pam.MailRetrying:
		set["next_attempt_at"] = o.NextAttemptAt.UTC()
		set["give_up_at"] = o.GiveUpAt.UTC()
	}
	res := s.conn(ctx).Model(&webhookDeliveryRow{}).Where("id = ? AND lease_owner = ? AND state IN ?", id, owner,
		[]string{pam.MailQueued, pam.MailRetrying}).Updates(set)
	return res.RowsAffected == 1, res.Error
}

// RequeueWebhook puts a failed delivery back in the queue, due at once, with a fresh retry
// window and its event id unchanged. A delivery that is not failed is ECONFLICT.
func (s *Store) RequeueWebhook(ctx context.Context, id string, now time.Time) (pam.WebhookDelivery, error) {
	now = now.UTC()
	res := s.conn(ctx).Model(&webhookDeliveryRow{}).Where("id = ? AND state = ?", id, pam.MailFailed).Updates(map[string]any{
		"state": pam.MailQueued, "next_attempt_at": now, "give_up_at": nil, "lease_owner": "", "lease_until": nil, "updated_at": now,
	})
	if res.Error != nil {
		return pam.WebhookDelivery{}, res.Error
	}
	d, err := s.WebhookDeliveryByID(ctx, id)
	if err != nil {
		return d, err
	}
	if res.RowsAffected == 0 {
		return d, pam.Errorf(pam.ECONFLICT, "Only a failed delivery can be sent again; this one is %s.", d.State)
	}
	return d, nil
}

// deliveryColumns reads a delivery with its endpoint's name.
const deliveryColumns = "webhook_deliveries.*, webhooks.name AS webhook_name"

// WebhookDeliveryByID returns one delivery, or ENOTFOUND.
func (s *Store) WebhookDeliveryByID(ctx context.Context, id string) (pam.WebhookDelivery, error) {
	var rows []webhookDeliveryRow
	err := s.conn(ctx).Model(&webhookDeliveryRow{}).Select(deliveryColumns).
		Joins("JOIN webhooks ON webhooks.id = webhook_deliveries.webhook_id").
		Where("webhook_deliveries.id = ?", id).Limit(1).Find(&rows).Error
	if err != nil {
		return pam.WebhookDelivery{}, err
	}
	if len(rows) == 0 {
		return pam.WebhookDelivery{}, pam.Errorf(pam.ENOTFOUND, "Delivery not found.")
	}
	return deliveryToDomain(rows[0]), nil
}

// WebhookDeliveries lists deliveries newest first, one keyset page at a time.
func (s *Store) WebhookDeliveries(ctx context.Context, f pam.DeliveryFilter) ([]pam.WebhookDelivery, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	q := s.conn(ctx).Model(&webhookDeliveryRow{}).Select(deliveryColumns).
		Joins("JOIN webhooks ON webhooks.id = webhook_deliveries.webhook_id").
		Order("webhook_deliveries.created_at DESC, webhook_deliveries.id DESC").Limit(f.Limit)
	if f.State != "" {
		q = q.Where("webhook_deliveries.state = ?", f.State)
	}
	if f.WebhookID != "" {
		q = q.Where("webhook_deliveries.webhook_id = ?", f.WebhookID)
	}
	if f.Before != nil {
		t := f.Before.At.UTC()
		q = q.Where("(webhook_deliveries.created_at, webhook_deliveries.id) < (?, ?)", t, f.Before.ID)
	}
	var rows []webhookDeliveryRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = deliveryToDomain(r)
	}
	return out, nil
}

// WebhookDeliveryCounts counts deliveries by state.
func (s *Store) WebhookDeliveryCounts(ctx context.Context) (map[string]int64, error) {
	return s.countByState(ctx, &webhookDeliveryRow{})
}

// NextWebhookDue returns when the earliest waiting delivery is due (zero when none waits).
func (s *Store) NextWebhookDue(ctx context.Context) (time.Time, error) {
	var row webhookDeliveryRow
	err := s.conn(ctx).Model(&webhookDeliveryRow{}).Select("next_attempt_at").
		Where("state IN ?", []string{pam.MailQueued, pam.MailRetrying}).Order("next_attempt_at").Limit(1).Find(&row).Error
	return row.NextAttemptAt, err
}
