package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// Worker delivers the outbox after commit. Several workers, in one process or many on one
// PostgreSQL, may run at once: each message is leased to one of them. When it runs is up to its
// caller (internal/jobs polls it). It never sends inside a transaction: a batch is claimed (one short transaction), sent, and
// the outcomes are recorded with their audit events (one more transaction).
type Worker struct {
	db     *store.Store
	sender Sender
	now    func() time.Time
	log    *slog.Logger

	// Batch is how many messages one claim takes (sent over one connection).
	Batch int
	// Lease is how long a claim holds its messages; longer than a batch can take to send.
	Lease time.Duration
	// BackoffBase and BackoffMax shape the retry delays: base, 2×base, 4×base… up to max.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// RetryFor is how long after the first failure temporary failures are still retried.
	RetryFor time.Duration
}

// NewWorker returns a worker. A nil sender (no SMTP configured) delivers nothing: mail waits in
// the outbox.
func NewWorker(db *store.Store, sender Sender, now func() time.Time, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.Default()
	}
	return &Worker{db: db, sender: sender, now: now, log: log,
		Batch: 20, Lease: 15 * time.Minute,
		BackoffBase: 30 * time.Second, BackoffMax: time.Hour, RetryFor: 24 * time.Hour}
}

// DeliverDue sends every message due now, batch by batch, and returns how many it attempted.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	if w.sender == nil {
		return 0, nil
	}
	// A read first: most polls find nothing due, and a claim is a write transaction (on SQLite
	// it takes the database's write lock).
	next, err := w.db.NextMailDue(ctx)
	if err != nil {
		return 0, fmt.Errorf("look for due mail: %w", err)
	}
	if next.IsZero() || next.After(w.now()) {
		return 0, nil
	}
	n := 0
	for ctx.Err() == nil {
		owner := uuid.NewString()
		msgs, err := w.db.ClaimMail(ctx, owner, w.now(), w.Lease, w.Batch)
		if err != nil {
			return n, fmt.Errorf("claim mail: %w", err)
		}
		if len(msgs) == 0 {
			return n, nil
		}
		done, err := w.deliverBatch(ctx, owner, msgs)
		n += done
		if err != nil {
			return n, err
		}
	}
	return n, ctx.Err()
}

// deliverBatch sends a claimed batch and records every outcome, with its audit event, in one
// transaction (one commit per batch, not per message). It finishes even when ctx ends
// meanwhile (shutdown), so no message is left leased with its outcome unknown; the lease
// bounds how long that may take.
func (w *Worker) deliverBatch(ctx context.Context, owner string, msgs []pam.OutboxMessage) (int, error) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.Lease)
	defer cancel()
	results := w.sender.Send(bctx, msgs)
	now := w.now()
	outcomes := make([]outcome, len(msgs))
	for i, m := range msgs {
		var err error
		if i < len(results) {
			err = results[i]
		} else {
			err = &DeliveryError{Text: "sender returned no result"}
		}
		outcomes[i] = w.judge(m, err, now)
	}
	ids := make([]string, len(msgs))
	recorded := make([]store.MailOutcome, len(msgs))
	for i, m := range msgs {
		ids[i], recorded[i] = m.ID, outcomes[i].MailOutcome
	}
	err := w.db.Tx(bctx, func(tx *store.Store) error {
		held, err := tx.FinishMails(bctx, owner, ids, recorded)
		if err != nil {
			return fmt.Errorf("record delivery of %d messages: %w", len(msgs), err)
		}
		for i, m := range msgs {
			o := outcomes[i]
			if !held[i] {
				continue // the lease ran out and another worker took the message over
			}
			ev := audit.System.Event(o.action, "mail", m.ID, o.details)
			ev.At, ev.RequestID, ev.Outcome = now, m.RequestID, audit.OutcomeSuccess
			if o.State == pam.MailFailed {
				ev.Outcome = audit.OutcomeFailure
			}
			if err := tx.AppendAudit(bctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i, m := range msgs {
		if o := outcomes[i]; o.State != pam.MailSent {
			w.log.Warn("mail not delivered", "mail_id", m.ID, "state", o.State, "error", o.Error)
		}
	}
	return len(msgs), nil
}

// backoff is the delay before attempt number attempts+1.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.BackoffBase
	for i := 1; i < attempts && d < w.BackoffMax; i++ {
		d *= 2
	}
	return min(d, w.BackoffMax)
}

// outcome is what one attempt comes to: the row's new state and the audit event to write.
type outcome struct {
	store.MailOutcome
	action  audit.Action
	details map[string]any
}

// judge decides what an attempt's result means for the message: sent, retry later, or failed.
func (w *Worker) judge(m pam.OutboxMessage, sendErr error, now time.Time) outcome {
	o := outcome{MailOutcome: store.MailOutcome{State: pam.MailSent, At: now}, action: audit.MailSent,
		details: map[string]any{"recipient": m.Recipient, "subject": m.Subject, "kind": m.Kind, "attempt": m.Attempts + 1}}
	if sendErr == nil {
		if m.Kind == KindPasswordSet {
			o.Redact = "Removed after delivery: this message held a one-time set-password link."
		}
		return o
	}
	var de *DeliveryError
	if !errors.As(sendErr, &de) {
		de = &DeliveryError{Text: sendErr.Error()}
	}
	o.Error = truncate(de.Text, 1000)
	o.details["error"] = o.Error
	giveUp := now.Add(w.RetryFor)
	if m.GiveUpAt != nil {
		giveUp = *m.GiveUpAt
	}
	next := now.Add(w.backoff(m.Attempts + 1))
	switch {
	case de.Permanent:
		o.State, o.action = pam.MailFailed, audit.MailFailed
		o.details["permanent"] = true
	case !next.Before(giveUp):
		o.State, o.action = pam.MailFailed, audit.MailFailed
		o.details["gave_up"] = "temporary failures for " + w.RetryFor.String()
	default:
		o.State, o.action = pam.MailRetrying, audit.MailRetryScheduled
		o.NextAttemptAt, o.GiveUpAt = next, giveUp
		o.details["next_attempt_at"] = next.UTC().Format(time.RFC3339)
	}
	return o
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
