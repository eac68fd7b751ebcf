package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
)

// outboxRow is a row of mail_outbox.
type outboxRow struct {
	ID            string
	Kind          string
	RequestID     string
	RecipientID   string
	Recipient     string
	RecipientName string
	Subject       string
	BodyText      string
	BodyHTML      string `gorm:"column:body_html"`
	State         string
	Attempts      int
	NextAttemptAt time.Time
	GiveUpAt      *time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        *time.Time
	UpdatedAt     time.Time
}

// TableName fixes the table name.
func (outboxRow) TableName() string { return "mail_outbox" }

func outboxToDomain(r outboxRow) pam.OutboxMessage {
	return pam.OutboxMessage{
		ID: r.ID, Kind: r.Kind, RequestID: r.RequestID, RecipientID: pam.UserID(r.RecipientID), Recipient: r.Recipient,
		RecipientName: r.RecipientName, Subject: r.Subject, Text: r.BodyText, HTML: r.BodyHTML, State: r.State,
		Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt.UTC(), GiveUpAt: utcPtr(r.GiveUpAt), LastError: r.LastError,
		CreatedAt: r.CreatedAt.UTC(), SentAt: utcPtr(r.SentAt),
	}
}

// EnqueueMail writes a message to the outbox, due at once. Call it inside the transaction of
// the change that causes the mail, so both commit or neither does.
func (s *Store) EnqueueMail(ctx context.Context, m pam.OutboxMessage) error {
	return s.EnqueueMails(ctx, []pam.OutboxMessage{m})
}

// claimPostgres takes due rows of an outbox table (mail_outbox, webhook_deliveries) and writes
// the lease in one statement: rows another worker is claiming at this moment are skipped (SKIP
// LOCKED), and a row changed since the statement began is checked against the condition again
// once locked.
func claimPostgres(table string, limit int) string {
	return `WITH due AS (
	SELECT id FROM ` + table + `
	WHERE state IN (?, ?) AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
	ORDER BY next_attempt_at, created_at, id ` + limitClause(limit) + ` FOR UPDATE SKIP LOCKED)
UPDATE ` + table + ` m SET lease_owner = ?, lease_until = ? FROM due WHERE m.id = due.id RETURNING m.*`
}

// claimSQLite is the same claim for SQLite, run in an immediate transaction.
func claimSQLite(table string, limit int) string {
	return `UPDATE ` + table + ` SET lease_owner = ?, lease_until = ? WHERE id IN (
	SELECT id FROM ` + table + `
	WHERE state IN (?, ?) AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
	ORDER BY next_attempt_at, created_at, id ` + limitClause(limit) + `) RETURNING *`
}

// claimOutbox leases up to limit due rows of an outbox table to owner until now+lease into
// rows (see ClaimMail). Mail and webhook deliveries share it.
func (s *Store) claimOutbox(ctx context.Context, table string, rows any, owner string, now time.Time, lease time.Duration, limit int) error {
	until := now.Add(lease)
	if s.dialect == Postgres {
		return s.conn(ctx).Raw(claimPostgres(table, limit), pam.MailQueued, pam.MailRetrying, now, now, owner, until).Find(rows).Error
	}
	return s.Tx(ctx, func(tx *Store) error {
		return tx.db.Raw(claimSQLite(table, limit), owner, until, pam.MailQueued, pam.MailRetrying, now, now).Find(rows).Error
	})
}

// ClaimMail leases up to limit due messages to owner until now+lease and returns them, oldest
// due first. A message is held by one claim at a time: on PostgreSQL one statement locks the
// due rows, skipping rows another worker is claiming (FOR UPDATE SKIP LOCKED), and writes the
// lease; on SQLite the claim is an immediate transaction, and SQLite serialises writers. Either
// way the lease is written only where nobody holds one. A lease that runs out (a worker died
// mid-send) makes the message due again.
func (s *Store) ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]pam.OutboxMessage, error) {
	now = now.UTC()
	var rows []outboxRow
	if err := s.claimOutbox(ctx, "mail_outbox", &rows, owner, now, lease, limit); err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b outboxRow) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	out := make([]pam.OutboxMessage, len(rows))
	for i, r := range rows {
		out[i] = outboxToDomain(r)
	}
	return out, nil
}

// MailOutcome is what happened to one delivery attempt.
type MailOutcome struct {
	State string // pam.MailSent, pam.MailRetrying or pam.MailFailed
	Error string
	// At is when the attempt ended; NextAttemptAt and GiveUpAt matter for pam.MailRetrying.
	At            time.Time
	NextAttemptAt time.Time
	GiveUpAt      time.Time
	// Redact replaces the bodies of a sent message with this note (a one-time link has no
	// business staying in the database once delivered).
	Redact string
}

// FinishMail records the outcome of an attempt made under owner's lease and releases the
// lease. It reports false, writing nothing, when owner no longer holds the message.
func (s *Store) FinishMail(ctx context.Context, id, owner string, o MailOutcome) (bool, error) {
	at := o.At.UTC()
	set := map[string]any{
		"state": o.State, "attempts": gorm.Expr("attempts + 1"), "last_error": o.Error,
		"lease_owner": "", "lease_until": nil, "updated_at": at,
	}
	switch o.State {
	case pam.MailSent:
		set["sent_at"] = at
		if o.Redact != "" {
			set["body_text"], set["body_html"] = o.Redact, o.Redact
		}
	case pam.MailRetrying:
		set["next_attempt_at"] = o.NextAttemptAt.UTC()
		set["give_up_at"] = o.GiveUpAt.UTC()
	}
	res := s.conn(ctx).Model(&outboxRow{}).Where("id = ? AND lease_owner = ? AND state IN ?", id, owner, []string{pam.MailQueued, pam.MailRetrying}).Updates(set)
	return res.RowsAffected == 1, res.Error
}

// finishSent records delivered messages still leased to owner and returns the ids it recorded.
const finishSent = `UPDATE mail_outbox SET state = ?, attempts = attempts + 1, last_error = '', lease_owner = '',
	lease_until = NULL, updated_at = ?, sent_at = ? WHERE id IN ? AND lease_owner = ? AND state IN (?, ?) RETURNING id`

// finishSentRedacted does the same and replaces the bodies with a note.
const finishSentRedacted = `UPDATE mail_outbox SET state = ?, attempts = attempts + 1, last_error = '', lease_owner = '',
	lease_until = NULL, updated_at = ?, sent_at = ?, body_text = ?, body_html = ? WHERE id IN ? AND lease_owner = ?
	AND state IN (?, ?) RETURNING id`

// FinishMails records the outcomes of a batch of attempts made under owner's lease
// (outcomes[i] is the outcome for ids[i]) and releases their leases, like FinishMail for each,
// and reports for each message whether it was recorded: false, writing nothing, where owner no
// longer holds it. Delivered messages that share a time and a redaction note are recorded by
// one statement; any other outcome (a retry, a failure) takes a statement of its own.
func (s *Store) FinishMails(ctx context.Context, owner string, ids []string, outcomes []MailOutcome) ([]bool, error) {
	if len(ids) != len(outcomes) {
		return nil, fmt.Errorf("finish mail: %d ids, %d outcomes", len(ids), len(outcomes))
	}
	type sentKey struct {
		at     time.Time
		redact string
	}
	sent := map[sentKey][]string{}
	var keys []sentKey // in first-seen order, so the statements are the same on every run
	done := make([]bool, len(ids))
	index := make(map[string]int, len(ids))
	for i, o := range outcomes {
		index[ids[i]] = i
		if o.State != pam.MailSent {
			ok, err := s.FinishMail(ctx, ids[i], owner, o)
			if err != nil {
				return nil, err
			}
			done[i] = ok
			continue
		}
		k := sentKey{o.At.UTC(), o.Redact}
		if _, seen := sent[k]; !seen {
			keys = append(keys, k)
		}
		sent[k] = append(sent[k], ids[i])
	}
	for _, k := range keys {
		var recorded []string
		var q *gorm.DB
		if k.redact == "" {
			q = s.conn(ctx).Raw(finishSent, pam.MailSent, k.at, k.at, sent[k], owner, pam.MailQueued, pam.MailRetrying)
		} else {
			q = s.conn(ctx).Raw(finishSentRedacted, pam.MailSent, k.at, k.at, k.redact, k.redact, sent[k], owner,
				pam.MailQueued, pam.MailRetrying)
		}
		if err := q.Find(&recorded).Error; err != nil {
			return nil, err
		}
		for _, id := range recorded {
			done[index[id]] = true
		}
	}
	return done, nil
}

// releaseMail clears owner's leases on the given messages where owner still holds them.
const releaseMail = `UPDATE mail_outbox SET lease_owner = '', lease_until = NULL WHERE id IN ? AND lease_owner = ?
	AND state IN (?, ?)`

// ReleaseMail gives up owner's claim on messages it has not sent (a worker that stops with a
// batch claimed ahead): their leases are cleared in one statement, so they are due at once for
// the next claim, with their attempts and times as they were. A message owner no longer holds
// (recorded, or taken over after the lease ran out) is left alone. It reports how many it
// released.
func (s *Store) ReleaseMail(ctx context.Context, owner string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res := s.conn(ctx).Exec(releaseMail, ids, owner, pam.MailQueued, pam.MailRetrying)
	return int(res.RowsAffected), res.Error
}

// RequeueMail puts a failed message back in the queue, due at once, with a fresh retry window.
// A message that is not failed is ECONFLICT.
func (s *Store) RequeueMail(ctx context.Context, id string, now time.Time) (pam.OutboxMessage, error) {
	now = now.UTC()
	res := s.conn(ctx).Model(&outboxRow{}).Where("id = ? AND state = ?", id, pam.MailFailed).Updates(map[string]any{
		"state": pam.MailQueued, "next_attempt_at": now, "give_up_at": nil, "lease_owner": "", "lease_until": nil, "updated_at": now,
	})
	if res.Error != nil {
		return pam.OutboxMessage{}, res.Error
	}
	m, err := s.MailByID(ctx, id)
	if err != nil {
		return m, err
	}
	if res.RowsAffected == 0 {
		return m, pam.Errorf(pam.ECONFLICT, "Only a failed message can be retried; this one is %s.", m.State)
	}
	return m, nil
}

// MailByID returns one message, or ENOTFOUND.
func (s *Store) MailByID(ctx context.Context, id string) (pam.OutboxMessage, error) {
	var r outboxRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return pam.OutboxMessage{}, translate(err, "Message")
	}
	return outboxToDomain(r), nil
}

// Mail lists outbox messages newest first, one keyset page at a time.
func (s *Store) Mail(ctx context.Context, f pam.MailFilter) ([]pam.OutboxMessage, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	q := s.conn(ctx).Model(&outboxRow{}).Order("created_at DESC, id DESC").Limit(f.Limit)
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.RequestID != "" {
		q = q.Where("request_id = ?", f.RequestID)
	}
	if f.Before != nil {
		t := f.Before.At.UTC()
		q = q.Where("(created_at, id) < (?, ?)", t, f.Before.ID)
	}
	var rows []outboxRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.OutboxMessage, len(rows))
	for i, r := range rows {
		out[i] = outboxToDomain(r)
	}
	return out, nil
}

// MailCounts counts the outbox's messages by state.
func (s *Store) MailCounts(ctx context.Context) (map[string]int64, error) {
	return s.countByState(ctx, &outboxRow{})
}

// countByState counts the rows of a delivery queue (mail or webhook deliveries, by its row
// model) by state.
func (s *Store) countByState(ctx context.Context, model any) (map[string]int64, error) {
	var rows []struct {
		State string
		N     int64
	}
	err := s.conn(ctx).Model(model).Select("state, COUNT(*) AS n").Group("state").Find(&rows).Error
	out := map[string]int64{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, err
}

// NextMailDue returns when the earliest waiting message is due (zero when none waits).
func (s *Store) NextMailDue(ctx context.Context) (time.Time, error) {
	var row outboxRow
	err := s.conn(ctx).Model(&outboxRow{}).Where("state IN ?", []string{pam.MailQueued, pam.MailRetrying}).
		Order("next_attempt_at").Limit(1).Find(&row).Error
	return row.NextAttemptAt, err
}

// ActiveGroupMembers lists a group's enabled members (bounded), by email.
func (s *Store) ActiveGroupMembers(ctx context.Context, groupID string, limit int) ([]pam.User, error) {
	if groupID == "" {
		return nil, nil
	}
	var rows []UserRow
	err := s.conn(ctx).Model(&UserRow{}).
		Where("disabled_at IS NULL AND id IN (SELECT user_id FROM group_members WHERE group_id = ?)", groupID).
		Order("email").Limit(limit).Find(&rows).Error
	out := make([]pam.User, len(rows))
	for i, r := range rows {
		out[i] = userToDomain(r)
	}
	return out, err
}

// DueForExpiryNotice returns ids of grants in force at now that end within `within` and whose
// requester has not been told yet (bounded). Grants no longer than `within` are left out:
// their approval mail already said when they end.
func (s *Store) DueForExpiryNotice(ctx context.Context, now time.Time, within time.Duration, limit int) ([]string, error) {
	var ids []string
	now = now.UTC()
	err := s.conn(ctx).Model(&RequestRow{}).
		Where("status = ? AND expiry_notified_at IS NULL AND starts_at <= ? AND ends_at > ? AND ends_at <= ? AND duration_min > ?",
			string(pam.StatusApproved), now, now, now.Add(within), int(within/time.Minute)).
		Order("ends_at").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// ClaimExpiryNotice marks a grant's expiry notice as sent and reports whether this call did
// it: of several processes claiming one grant, exactly one gets true.
func (s *Store) ClaimExpiryNotice(ctx context.Context, requestID string, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&RequestRow{}).
		Where("id = ? AND status = ? AND expiry_notified_at IS NULL", requestID, string(pam.StatusApproved)).
		Update("expiry_notified_at", now.UTC())
	return res.RowsAffected == 1, res.Error
}

// PruneSent deletes up to limit mail messages and up to limit webhook deliveries that were
// created and sent before before, the oldest first, and says how many of each it deleted. A sent
// message is owed to nobody any more, and what it told is in the audit trail; messages still
// queued, retrying or failed are never touched. Each table's read is a range of its
// (state, created_at, id) index.
func (s *Store) PruneSent(ctx context.Context, before time.Time, limit int) (mail, webhooks int64, err error) {
	before = before.UTC()
	for i, table := range []string{"mail_outbox", "webhook_deliveries"} {
		res := s.conn(ctx).Exec(`DELETE FROM `+table+` WHERE id IN (SELECT id FROM `+table+`
			WHERE state = ? AND created_at < ? AND sent_at < ? ORDER BY created_at, id `+limitClause(limit)+`)`, pam.MailSent, before, before)
		if res.Error != nil {
			return mail, webhooks, res.Error
		}
		if i == 0 {
			mail = res.RowsAffected
		} else {
			webhooks = res.RowsAffected
		}
	}
	return mail, webhooks, nil
}
