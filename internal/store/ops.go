package store

import (
	"context"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
)

// Operations reads the figures /metrics exports at scrape time. Every statement reads an index
// of its own (requests_pending_until_idx, requests_ends_idx, each queue's state indexes,
// audit_events_unsealed_idx) and touches only the rows it counts: the waiting ones, never
// the history.
func (s *Store) Operations(ctx context.Context, now time.Time) (pam.Operations, error) {
	var o pam.Operations
	now = now.UTC()
	db := s.conn(ctx)
	if err := db.Model(&RequestRow{}).Where("status = ? AND pending_until > ?", string(pam.StatusPending), now).Count(&o.RequestsPending).Error; err != nil {
		return o, fmt.Errorf("count pending requests: %w", err)
	}
	if err := db.Model(&RequestRow{}).Where("status = ? AND ends_at > ? AND starts_at <= ?", string(pam.StatusApproved), now, now).Count(&o.GrantsInForce).Error; err != nil {
		return o, fmt.Errorf("count grants in force: %w", err)
	}
	var err error
	if o.Mail, err = s.queue(ctx, &outboxRow{}); err != nil {
		return o, fmt.Errorf("mail queue: %w", err)
	}
	if o.Webhooks, err = s.queue(ctx, &webhookDeliveryRow{}); err != nil {
		return o, fmt.Errorf("webhook queue: %w", err)
	}
	if o.AuditWaiting, o.AuditOldest, err = s.AuditWaiting(ctx); err != nil {
		return o, fmt.Errorf("audit events waiting: %w", err)
	}
	return o, nil
}

// queue counts a delivery queue's waiting messages (mail or webhook deliveries, by its row
// model) by state and finds when the oldest was queued.
func (s *Store) queue(ctx context.Context, model any) (pam.Queue, error) {
	var q pam.Queue
	waiting := []string{pam.MailQueued, pam.MailRetrying}
	var rows []struct {
		State string
		N     int64
	}
	if err := s.conn(ctx).Model(model).Select("state, COUNT(*) AS n").Where("state IN ?", waiting).Group("state").Find(&rows).Error; err != nil {
		return q, err
	}
	for _, r := range rows {
		switch r.State {
		case pam.MailQueued:
			q.Queued = r.N
		case pam.MailRetrying:
			q.Retrying = r.N
		}
	}
	if q.Queued+q.Retrying == 0 {
		return q, nil
	}
	// The column read as itself: an aggregate such as min(created_at) comes back from SQLite
	// as text.
	var first []struct{ CreatedAt time.Time }
	if err := s.conn(ctx).Model(model).Select("created_at").Where("state IN ?", waiting).Order("created_at").Limit(1).Find(&first).Error; err != nil {
		return q, err
	}
	if len(first) > 0 {
		q.Oldest = first[0].CreatedAt.UTC()
	}
	return q, nil
}
