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
// statement), sent, and its outcomes are recorded with their audit events (one transaction),
// and the three overlap, so the SMTP connection does not wait for the database between batches.
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

	// beforeCommit, when set, runs inside the transaction recording batches, after its
	// updates and before its queued audit events are written and it commits (tests hold a
	// recording open with it); afterClaim, when set, runs after each claim that took
	// messages, with the claim's number (tests stop a worker holding a claim with it).
	beforeCommit func()
	afterClaim   func(n int)
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

// recordFor bounds a claim, a release and the transaction recording batches, which run on
// after a stop.
const recordFor = time.Minute

// recordAhead is how many sent batches may wait for the recorder before the sender waits: the
// recorder takes every waiting batch in one transaction, so it catches up with a sender that
// ran ahead, and a crash leaves few messages sent but not recorded (they are sent again, with
// their Message-ID, once their lease runs out).
const recordAhead = 2

// claimAhead is how many batches may be claimed ahead of the one being sent. A claim can wait
// for the database (on SQLite, for every other write, such as the recording of the batches
// before it), so a claim a batch earlier than needed is ready in time.
const claimAhead = 2

// attempt is a batch that was sent and waits to be recorded.
type attempt struct {
	owner    string
	msgs     []pam.OutboxMessage
	outcomes []outcome
}

// DeliverDue sends every message due now, batch by batch over one SMTP connection, and returns
// how many it attempted and recorded. Claiming, sending and recording overlap: while a batch is
// sent, the next one is claimed, and the batches sent before it are recorded. When ctx ends it
// claims nothing more and finishes the batch it is sending; a batch claimed ahead and not begun
// is released (due at once for the next worker), and what was sent is recorded, so no message
// is left leased without being sent, nor sent with its outcome unknown.
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

	claimed := make(chan batch, claimAhead-1) // and one in the claimer's hands
	done := make(chan struct{})               // closed when the sender is done: claim nothing more
	claimErr := make(chan error, 1)           // the claimer's last word
	go func() { claimErr <- w.claimBatches(ctx, claimed, done) }()

	sent := make(chan attempt, recordAhead)
	failed := make(chan struct{}) // closed when recording failed: send nothing more
	n := 0
	recorded := make(chan error, 1) // the recorder's last word
	go func() {
		var err error
		n, err = w.recordAll(ctx, sent, failed)
		recorded <- err
	}()

	err = w.sendClaimed(ctx, session, claimed, sent, failed)
	close(done)
	close(sent)
	err = errors.Join(err, <-claimErr)
	for b := range claimed { // claimed ahead and never sent
		err = errors.Join(err, w.release(ctx, b))
	}
	if rerr := <-recorded; rerr != nil {
		// Messages sent but not recorded keep their lease, and are sent again once it runs
		// out (with the same Message-ID).
		err = errors.Join(err, rerr)
	}
	if err == nil {
		err = ctx.Err()
	}
	return n, err
}

// claimBatches claims batches and hands them to the sender, claimAhead batches ahead of the one
// being sent, until none is due, ctx ends or the sender is done. A batch it holds when it stops
// is released (and DeliverDue releases those it handed over and the sender never took).
func (w *Worker) claimBatches(ctx context.Context, claimed chan<- batch, done <-chan struct{}) error {
	defer close(claimed)
	for k := 1; ctx.Err() == nil; k++ {
		b, err := w.claim(ctx)
		if err != nil || len(b.msgs) == 0 {
			return err
		}
		if w.afterClaim != nil {
			w.afterClaim(k)
		}
		select {
		case claimed <- b:
		case <-done:
			return w.release(ctx, b)
		case <-ctx.Done():
			return w.release(ctx, b)
		}
	}
	return nil
}

// sendClaimed sends the claimed batches as they come and hands each to the recorder without
// waiting for it (unless recordAhead batches wait already), until the claimer has no more, ctx
// ends or recording failed. A batch received after ctx ended is released, not sent. So is a
// batch claimed ahead that has spent half its lease waiting for the batch before it (a server
// that slow would see its messages run out of lease midway): the run ends there, and the next
// one claims them afresh.
func (w *Worker) sendClaimed(ctx context.Context, session Session, claimed <-chan batch, sent chan<- attempt, failed <-chan struct{}) error {
	for ahead := false; ; ahead = true {
		var b batch
		var ok bool
		select {
		case b, ok = <-claimed:
			if !ok {
				return nil
			}
		case <-failed:
			return nil
		}
		select {
		case <-failed:
			return w.release(ctx, b)
		default:
			if ctx.Err() != nil || ahead && time.Until(b.until) < w.Lease/2 {
				return w.release(ctx, b)
			}
		}
		// Sending ends with the lease, not with ctx: a shutdown finishes the batch it holds.
		bctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), b.until)
		a := attempt{owner: b.owner, msgs: b.msgs, outcomes: w.send(bctx, session, b.msgs)}
		cancel()
		select {
		case sent <- a:
		case <-failed:
			return nil // sent, not recorded: due again when its lease runs out
		}
	}
}

// batch is a claim: its owner, its messages, and when its lease ends at the earliest.
type batch struct {
	owner string
	until time.Time
	msgs  []pam.OutboxMessage
}

// claim leases the next batch of due messages (none when nothing is due). The claim runs to its
// end even when ctx ends meanwhile: a claim cut off midway could have leased messages without
// telling, and they would wait out the lease; the caller releases what it will not send.
func (w *Worker) claim(ctx context.Context) (batch, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordFor)
	defer cancel()
	b := batch{owner: uuid.NewString(), until: time.Now().Add(w.Lease)}
	msgs, err := w.db.ClaimMail(ctx, b.owner, w.now(), w.Lease, w.Batch)
	if err != nil {
		return batch{}, fmt.Errorf("claim mail: %w", err)
	}
	b.msgs = msgs
	return b, nil
}

// release gives back a batch claimed and not sent, so that its messages are due at once for
// the next worker instead of when the lease runs out. It runs on after ctx ended.
func (w *Worker) release(ctx context.Context, b batch) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordFor)
	defer cancel()
	ids := make([]string, len(b.msgs))
	for i, m := range b.msgs {
		ids[i] = m.ID
	}
	if _, err := w.db.ReleaseMail(ctx, b.owner, ids); err != nil {
		return fmt.Errorf("release %d unsent messages: %w", len(ids), err)
	}
	return nil
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

// recordAll records the sent batches in order until sent is closed, every batch waiting when
// the recorder comes round in one transaction, and returns how many messages it recorded. After
// a failure it records nothing more, and closes failed.
func (w *Worker) recordAll(ctx context.Context, sent <-chan attempt, failed chan<- struct{}) (int, error) {
	n := 0
	for a := range sent {
		group := []attempt{a}
	waiting:
		for len(group) <= recordAhead {
			select {
			case a, ok := <-sent:
				if !ok {
					break waiting
				}
				group = append(group, a)
			default:
				break waiting
			}
		}
		if err := w.record(ctx, group); err != nil {
			close(failed)
			return n, err
		}
		for _, a := range group {
			n += len(a.msgs)
		}
	}
	return n, nil
}

// record writes the outcomes of sent batches, each with its audit event, in one transaction
// (one commit for the batches, not one per message), also after ctx ended (shutdown) and after
// a lease ran out: an outcome is recorded only where its claim still holds the message, since
// another worker may have taken it over.
func (w *Worker) record(ctx context.Context, group []attempt) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordFor)
	defer cancel()
	err := w.db.Tx(ctx, func(tx *store.Store) error {
		for _, a := range group {
			if err := w.recordBatch(ctx, tx, a); err != nil {
				return err
			}
		}
		if w.beforeCommit != nil {
			w.beforeCommit()
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range group {
		for i, m := range a.msgs {
			if o := a.outcomes[i]; o.State != pam.MailSent {
				w.log.Warn("mail not delivered", "mail_id", m.ID, "state", o.State, "error", o.Error)
			}
		}
	}
	return nil
}

// recordBatch writes one batch's outcomes and queues their audit events in tx, which writes
// the queued events of its batches together before it commits (on SQLite at most 200 a
// statement: its driver binds a statement's parameters in time that grows with the square of
// their number).
func (w *Worker) recordBatch(ctx context.Context, tx *store.Store, a attempt) error {
	ids := make([]string, len(a.msgs))
	recorded := make([]store.MailOutcome, len(a.msgs))
	for i, m := range a.msgs {
		ids[i], recorded[i] = m.ID, a.outcomes[i].MailOutcome
	}
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
	return tx.AppendAudits(ctx, evs)
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
