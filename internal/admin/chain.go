package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// ChainMailer tells people that a walk of the audit chain found it broken, inside the
// transaction that records the walk; mail.Outbox is one.
type ChainMailer interface {
	ChainBroken(ctx context.Context, tx *store.Store, b ChainBreak) error
}

// ChainBreak is a broken chain as the people told of it hear it: the first bad event, why, who
// found it and when, and whom to tell (the organisation's security address and its auditors).
type ChainBreak struct {
	Seq    int64
	Reason string
	By     audit.Actor
	At     time.Time
	To     []pam.User
}

// SetChainMailer makes a broken chain also go out by mail.
func (s *Service) SetChainMailer(m ChainMailer) { s.chainMailer = m }

// ChainNotifier hears of every walk of the chain, inside the transaction that records it; the
// webhook service is one.
type ChainNotifier interface {
	ChainWalked(ctx context.Context, tx *store.Store, a audit.Actor, head audit.Head, events int64, broken *audit.ChainError) error
}

// SetChainNotifier makes every walk of the chain also tell n.
func (s *Service) SetChainNotifier(n ChainNotifier) { s.chainNotifier = n }

// Verification is one walk of the chain: the head it reached, how many events it checked, how
// many stored events still waited to be sealed, and the first bad event when it found one.
type Verification struct {
	Head    audit.Head
	Events  int64
	Waiting int64
	Broken  *audit.ChainError
	// CheckpointMissed is the checkpoint the walk was given failing while the chain holds on
	// its own (walked again without it): the chain is not broken, but it is not the chain the
	// checkpoint was taken from, or the checkpoint was mistyped.
	CheckpointMissed *audit.ChainError
}

// VerifyChain walks every sealed event (against checkpoint when one is given) and records the
// walk as an audit.ChainVerified event by a, with outcome failure when the chain is broken,
// telling the chain notifier (webhooks); a broken chain is also mailed to the security address
// and the auditors, in the same transaction, unless the last walk told of the same break within
// a day. A checkpoint that fails is walked again without it: the chain holding on its own is
// recorded as holding, the checkpoint's failure in CheckpointMissed (for whoever gave it). An error reading the chain (the database down) records nothing and is returned;
// one recording the walk wraps ErrWalkNotRecorded, beside what the walk found.
func (s *Service) VerifyChain(ctx context.Context, a audit.Actor, checkpoint *audit.Head) (Verification, error) {
	var v Verification
	head, n, err := s.db.VerifyAudit(ctx, checkpoint)
	if errors.As(err, &v.Broken) && v.Broken.Checkpoint {
		v.CheckpointMissed, v.Broken = v.Broken, nil
		head, n, err = s.db.VerifyAudit(ctx, nil)
	}
	if v.Broken == nil && errors.As(err, &v.Broken) {
		err = nil
	}
	if err != nil && v.Broken == nil {
		return Verification{}, err
	}
	v.Head, v.Events = head, n
	if v.Waiting, _, err = s.db.AuditWaiting(ctx); err != nil {
		return Verification{}, err
	}
	details := map[string]any{"through": head.Seq, "events": n, "waiting": v.Waiting}
	if checkpoint != nil {
		details["checkpoint"] = checkpoint.Seq
		if v.CheckpointMissed != nil {
			details["checkpoint_missed"] = v.CheckpointMissed.Reason
		}
	}
	target := fmt.Sprint(head.Seq)
	if v.Broken != nil {
		details = map[string]any{"broken_at": v.Broken.Seq, "reason": v.Broken.Reason}
		target = fmt.Sprint(v.Broken.Seq)
	}
	ev := a.Event(audit.ChainVerified, audit.ChainTarget, target, details)
	ev.At = s.now()
	if v.Broken != nil {
		ev.Outcome = audit.OutcomeFailure
	}
	err = s.tx(ctx, func(tx *store.Store) error {
		// The last walk, read before this one is stored: a break it already told of is not
		// mailed again within a day.
		last, err := tx.AuditStatus(ctx)
		if err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, ev); err != nil {
			return err
		}
		if s.chainNotifier != nil {
			if err := s.chainNotifier.ChainWalked(ctx, tx, a, v.Head, v.Events, v.Broken); err != nil {
				return err
			}
		}
		if v.Broken == nil || s.chainMailer == nil || toldAlready(last.Verified, v.Broken, s.now()) {
			return nil
		}
		to, err := chainRecipients(ctx, tx)
		if err != nil || len(to) == 0 {
			return err
		}
		return s.chainMailer.ChainBroken(ctx, tx, ChainBreak{Seq: v.Broken.Seq, Reason: v.Broken.Reason, By: a, At: s.now(), To: to})
	})
	if err != nil {
		return v, fmt.Errorf("%w: %w", ErrWalkNotRecorded, err)
	}
	return v, nil
}

// ChainBreakMailEvery is how often the same break of the chain is mailed at most.
const ChainBreakMailEvery = 24 * time.Hour

// toldAlready reports whether the last recorded walk found the same break within
// ChainBreakMailEvery before now, so its mail went out already.
func toldAlready(last *audit.Verified, b *audit.ChainError, now time.Time) bool {
	return last != nil && last.BrokenAt == b.Seq && last.Reason == b.Reason && now.Sub(last.At) < ChainBreakMailEvery
}

// ErrWalkNotRecorded is the error VerifyChain wraps when it walked the chain (its Verification
// says what it found) but could not record the walk.
var ErrWalkNotRecorded = errors.New("the walk of the audit chain could not be recorded")

// chainRecipients are whom a broken chain is mailed to: the organisation's security address,
// when set, and every enabled auditor; when there is neither, the enabled administrators, so
// the news reaches someone.
func chainRecipients(ctx context.Context, tx *store.Store) ([]pam.User, error) {
	org, err := tx.OrgSettings(ctx)
	if err != nil {
		return nil, err
	}
	to, err := tx.Auditors(ctx)
	if err != nil {
		return nil, err
	}
	if org.SecurityEmail != "" {
		to = append([]pam.User{{Email: org.SecurityEmail, Name: "Security team"}}, to...)
	}
	if len(to) == 0 {
		return tx.Administrators(ctx)
	}
	return to, nil
}

// chainTurn is the system value whose time is the last scheduled walk of the chain (or when
// the schedule started), and chainAsked the last one someone asked for on a page.
const (
	chainTurn  = store.ChainTurn
	chainAsked = "audit_verify_asked"
)

// VerifyChainWhenDue walks the chain as the system when no process of this database did so in
// the last every (the database settles which process does), and reports whether it walked. The
// first call on a database walks nothing and starts the schedule: the first walk comes every
// later (`elevate audit verify`, or an auditor's "Verify now", walks at once).
func (s *Service) VerifyChainWhenDue(ctx context.Context, every time.Duration) (bool, error) {
	now := s.now()
	if started, err := s.db.InsertValue(ctx, chainTurn, "", now); err != nil || started {
		return false, err
	}
	ok, err := s.db.TakeTurn(ctx, chainTurn, now, every)
	if err != nil || !ok {
		return false, err
	}
	if _, err := s.VerifyChain(ctx, audit.System, nil); err != nil {
		// A walk that did not get recorded (the database down, the process stopping) gives its
		// turn back, so the next look walks again.
		back, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return true, errors.Join(err, s.db.ReleaseTurn(back, chainTurn, now, every))
	}
	return true, nil
}

// AskedWalkEvery is how often a walk of the chain may be asked for from a page, by anyone.
const AskedWalkEvery = time.Minute

// AskedWalkLimit bounds a walk asked for from a page.
const AskedWalkLimit = time.Hour

// SetBackground makes walks asked for on pages (WalkChainSoon) run under ctx, which the server
// cancels when it stops (then WaitWalks); without it they run under their request's context
// freed of its cancellation.
func (s *Service) SetBackground(ctx context.Context) { s.bg = ctx }

// WaitWalks waits until the walks asked for on pages have ended.
func (s *Service) WaitWalks() { s.walks.Wait() }

// WalkChainSoon starts a walk of the chain by a in the background (VerifyChain; its record is
// the result) unless this process is walking for someone already or one was asked for within
// AskedWalkEvery, by anyone on any process, and reports whether it started one. The walk
// outlives ctx's cancellation (it runs under the background context, SetBackground), bounded
// by AskedWalkLimit; a walk cut short records nothing. done, when not nil, is called when it
// ends.
func (s *Service) WalkChainSoon(ctx context.Context, a audit.Actor, done func(error)) (bool, error) {
	if !s.walking.CompareAndSwap(false, true) {
		return false, nil
	}
	ok, err := s.db.ClaimTurn(ctx, chainAsked, s.now(), AskedWalkEvery)
	if err != nil || !ok {
		s.walking.Store(false)
		return false, err
	}
	parent := s.bg
	if parent == nil {
		parent = context.WithoutCancel(ctx)
	}
	s.walks.Add(1)
	go func() {
		defer s.walks.Done()
		defer s.walking.Store(false)
		ctx, cancel := context.WithTimeout(parent, AskedWalkLimit)
		defer cancel()
		_, err := s.VerifyChain(ctx, a, nil)
		if done != nil {
			done(err)
		}
	}()
	return true, nil
}
