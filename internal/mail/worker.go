package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// Worker delivers the outbox after commit. Several workers, in one process or many on one
// PostgreSQL, may run at once: each message is leased to one of them. When it runs is up to its
// caller (internal/jobs polls it). It never sends inside a transaction: a batch is claimed (one
// statement), sent, and its outcomes are recorded with their audit events (one transaction)
// while the next batch is claimed and sent on the same connection.
type Worker struct {
	db     *store.Store
	sender Sender
	now    func() time.Time
	log    *slog.Logger

	// Batch is how many messages one claim takes.
	Batch int
	// Lease is how long a claim holds its messages; longer than a batch can take to send and
	// record. No message of a batch is started once its lease has run out.
	Lease time.Duration
	// BackoffBase and BackoffMax shape the retry delays: base, 2×base, 4×base… up to max.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// RetryFor is how long after the first failure temporary failures are still retried.
	RetryFor time.Duration

	// beforeCommit, when set, runs inside the transaction recording a batch, last (tests
	// hold a recording open with it).
	beforeCommit func()
}

// NewWorker returns a worker. A nil sender (no SMTP configured) delivers nothing: mail waits in
// the outbox.
func NewWorker(db *store.Store, sender Sender, now func() time.Time, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.Default()
	}
	return &Worker{db: db, sender: sender, now: now, log: log,
		Batch: 100, Lease: 15 * time.Minute,
		BackoffBase: 30 * time.Second, BackoffMax: time.Hour, RetryFor: 24 * time.Hour}
}

// recordFor bounds the transaction recording a batch, which runs on after a stop.
const recordFor = time.Minute

// attempt is a batch that was sent and waits to be recorded.
type attempt struct {
	owner    string
	msgs     []pam.OutboxMessage
	outcomes []outcome
}

// DeliverDue sends every message due now, batch by batch over one SMTP connection, and returns
// how many it attempted and recorded. While a batch is sent, the one before it is recorded (at
// most one waits), so the database and the mail server work at the same time. When ctx ends it
// claims nothing more, but finishes the batch it is sending and records what was sent, so no
// message is left leased with its outcome unknown.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	if w.sender == nil {
		return 0, nil
	}
	// A read first: most polls find nothing due, and a claim is a write (on SQLite it takes the
	// database's write lock).
	next, err := w.db.NextMailDue(ctx)
	if err != nil {
		return 0, fmt.Errorf("look for due mail: %w", err)
	}
	if next.IsZero() || next.After(w.now()) {
		return 0, nil
	}
	session := w.sender.Session()
	defer session.Close()

	sent := make(chan attempt)      // unbuffered: one batch is recorded while the next is sent
	failed := make(chan struct{})   // closed when recording failed: stop claiming
	recorded := make(chan error, 1) // the recorder's last word
	n := 0
	go func() {
		var err error
		for a := range sent {
			if err != nil {
				continue
			}
			if err = w.record(ctx, a); err != nil {
				close(failed)
			} else {
				n += len(a.msgs)
			}
		}
		recorded <- err
	}()
	err = w.claimAndSend(ctx, session, sent, failed)
	close(sent)
	if rerr := <-recorded; rerr != nil {
		// Messages sent but not recorded keep their lease, and are sent again once it runs
		// out (with the same Message-ID).
		err = errors.Join(err, rerr)
	}
	return n, err
}

// claimAndSend claims batches and sends them until none is due, ctx ends or recording failed,
// handing each sent batch to the recorder. It claims the next batch before it hands over the
// one it sent: on SQLite a claim waits for every other write, so claiming after the handover
// would wait for the very recording it should overlap.
func (w *Worker) claimAndSend(ctx context.Context, session Session, sent chan<- attempt, failed <-chan struct{}) error {
	next, err := w.claim(ctx)
	for err == nil && len(next.msgs) > 0 {
		b := next
		// Sending ends with the lease, not with ctx: a shutdown finishes the batch it holds.
		bctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), b.until)
		a := attempt{owner: b.owner, msgs: b.msgs, outcomes: w.send(bctx, session, b.msgs)}
		cancel()
		next = batch{}
		select {
		case <-failed:
			return nil
		default:
			if ctx.Err() == nil {
				next, err = w.claim(ctx)
			}
		}
		select {
		case sent <- a:
		case <-failed:
			return nil // a batch claimed meanwhile is due again when its lease runs out
		}
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// batch is a claim: its owner, its messages, and when its lease ends at the earliest.
type batch struct {
	owner string
	until time.Time
	msgs  []pam.OutboxMessage
}

// claim leases the next batch of due messages (none when nothing is due).
func (w *Worker) claim(ctx context.Context) (batch, error) {
	b := batch{owner: uuid.NewString(), until: time.Now().Add(w.Lease)}
	msgs, err := w.db.ClaimMail(ctx, b.owner, w.now(), w.Lease, w.Batch)
	if err != nil {
		return batch{}, fmt.Errorf("claim mail: %w", err)
	}
	b.msgs = msgs
	return b, nil
}

// send sends a claimed batch and judges each result.
func (w *Worker) send(ctx context.Context, session Session, msgs []pam.OutboxMessage) []outcome {
	results := session.Send(ctx, msgs)
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
	return outcomes
}

// record writes a sent batch's outcomes, each with its audit event, in one transaction (one
// commit per batch, not per message), also after ctx ended (shutdown) and after the lease ran
// out: an outcome is recorded only where its claim still holds the message, since another
// worker may have taken it over.
func (w *Worker) record(ctx context.Context, a attempt) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordFor)
	defer cancel()
	ids := make([]string, len(a.msgs))
	recorded := make([]store.MailOutcome, len(a.msgs))
	for i, m := range a.msgs {
		ids[i], recorded[i] = m.ID, a.outcomes[i].MailOutcome
	}
	err := w.db.Tx(ctx, func(tx *store.Store) error {
		held, err := tx.FinishMails(ctx, a.owner, ids, recorded)
		if err != nil {
			return fmt.Errorf("record delivery of %d messages: %w", len(a.msgs), err)
		}
		evs := make([]*audit.Event, 0, len(a.msgs))
		for i, m := range a.msgs {
			o := a.outcomes[i]
			if !held[i] {
				continue // the lease ran out and another worker took the message over
			}
			ev := audit.System.Event(o.action, "mail", m.ID, o.details)
			ev.At, ev.RequestID, ev.Outcome = o.At, m.RequestID, audit.OutcomeSuccess
			if o.State == pam.MailFailed {
				ev.Outcome = audit.OutcomeFailure
			}
			evs = append(evs, ev)
		}
		// Each message keeps its own event; the batch's events are stored in one statement.
		if err := tx.AppendAudits(ctx, evs); err != nil {
			return err
		}
		if w.beforeCommit != nil {
			w.beforeCommit()
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, m := range a.msgs {
		if o := a.outcomes[i]; o.State != pam.MailSent {
			w.log.Warn("mail not delivered", "mail_id", m.ID, "state", o.State, "error", o.Error)
		}
	}
	return nil
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
	o.Error = pam.CutBytes(de.Text, 1000)
	o.details["error"] = o.Error
	step := pam.Retry{Base: w.BackoffBase, Max: w.BackoffMax, For: w.RetryFor}.After(m.Attempts, m.GiveUpAt, de.Permanent, now)
	switch o.State = step.State; {
	case step.Permanent:
		o.action = audit.MailFailed
		o.details["permanent"] = true
	case step.State == pam.MailFailed:
		o.action = audit.MailFailed
		o.details["gave_up"] = "temporary failures for " + w.RetryFor.String()
	default:
		o.action = audit.MailRetryScheduled
		o.NextAttemptAt, o.GiveUpAt = step.Next, step.GiveUp
		o.details["next_attempt_at"] = step.Next.UTC().Format(time.RFC3339)
	}
	return o
}
