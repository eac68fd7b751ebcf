package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// How often the fixed-period jobs run.
const (
	// MailEvery is how often mail looks for due messages and expiring grants.
	MailEvery = 2 * time.Second
	// SessionSweepEvery is how often ended sessions and old rate-limit windows are removed.
	SessionSweepEvery = 10 * time.Minute
	// SealEvery is how often stored audit events nobody waits for are sealed.
	SealEvery = time.Second
)

// AuditSealer seals stored audit events that are due; store.Store is one.
type AuditSealer interface {
	SealWaiting(ctx context.Context) (int, error)
}

// SealAudit seals the audit events that waited past their writer's own wait: those of a
// process that stopped right after its commit, or of a writer whose seal an older transaction
// held back. Each process runs it; sealers take turns on the chain.
func SealAudit(s AuditSealer, every time.Duration, log *slog.Logger) Job {
	return Job{Name: "audit seal", Every: every, Work: func(ctx context.Context) error {
		n, err := s.SealWaiting(ctx)
		if n > 0 {
			log.Debug("audit events sealed by the sweep", "count", n)
		}
		return err
	}}
}

// RequestSweeper writes down timed-out and expired requests; access.Service is one.
type RequestSweeper interface {
	Sweep(ctx context.Context) (int, error)
}

// SweepRequests is the request sweep. Decisions never depend on it (they compute from times);
// it keeps states, lists and mail current. Every replica sweeps: each change is recorded by
// exactly one of them.
func SweepRequests(s RequestSweeper, every time.Duration, log *slog.Logger) Job {
	return Job{Name: "request sweep", Every: every, Work: func(ctx context.Context) error {
		n, err := s.Sweep(ctx)
		if n > 0 {
			log.Info("requests swept", "count", n)
		}
		return err
	}}
}

// SessionStore forgets ended sessions; store.Store is one.
type SessionStore interface {
	DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error)
}

// SweepSessions deletes sessions that ended (past their lifetime, or idle longer than idle).
// Sessions are checked on every request anyway, so this only keeps the table small.
func SweepSessions(s SessionStore, idle, every time.Duration, now func() time.Time, log *slog.Logger) Job {
	return Job{Name: "session sweep", Every: every, Work: func(ctx context.Context) error {
		n, err := s.DeleteExpiredSessions(ctx, now(), idle)
		if n > 0 {
			log.Debug("ended sessions removed", "count", n)
		}
		return err
	}}
}

// RateLimitStore forgets old rate-limit windows; store.Store is one.
type RateLimitStore interface {
	DeleteRateLimitsBefore(ctx context.Context, windowStart int64) (int64, error)
}

// RateLimitKeep is how long a rate-limit window is kept: longer than any limit's window.
const RateLimitKeep = 24 * time.Hour

// SweepRateLimits deletes rate-limit windows that started more than RateLimitKeep ago.
func SweepRateLimits(s RateLimitStore, every time.Duration, now func() time.Time) Job {
	return Job{Name: "rate limit sweep", Every: every, Work: func(ctx context.Context) error {
		_, err := s.DeleteRateLimitsBefore(ctx, now().Add(-RateLimitKeep).Unix())
		return err
	}}
}

// ExpiryNotices queues the "ends soon" mail; mail.Outbox is one.
type ExpiryNotices interface {
	QueueExpiryNotices(ctx context.Context) (int, error)
}

// MailDelivery sends the mail that is due; mail.Worker is one.
type MailDelivery interface {
	DeliverDue(ctx context.Context) (int, error)
}

// Mail queues expiry notices and then delivers what is due, so a notice queued on a tick goes
// out on the same tick. Either may be nil (no notices, or no delivery); a failure of the first
// does not keep the second from running.
func Mail(notices ExpiryNotices, delivery MailDelivery, every time.Duration) Job {
	return Job{Name: "mail", Every: every, Work: func(ctx context.Context) error {
		var errs []error
		if notices != nil {
			if _, err := notices.QueueExpiryNotices(ctx); err != nil {
				errs = append(errs, fmt.Errorf("queue expiry notices: %w", err))
			}
		}
		if delivery != nil {
			if _, err := delivery.DeliverDue(ctx); err != nil {
				errs = append(errs, fmt.Errorf("deliver mail: %w", err))
			}
		}
		return errors.Join(errs...)
	}}
}

// CampaignCloser closes access review campaigns whose deadline passed and reminds the reviewers
// of those whose deadline nears; admin.Service is one.
type CampaignCloser interface {
	CloseDueCampaigns(ctx context.Context) (int, error)
	RemindDueCampaigns(ctx context.Context) (int, error)
}

// SweepReviews closes due access review campaigns and applies their removals, then reminds the
// reviewers of campaigns closing within a day. Every replica sweeps: closing is idempotent and
// applies each removal once, and each campaign is reminded once.
func SweepReviews(s CampaignCloser, every time.Duration, log *slog.Logger) Job {
	return Job{Name: "review sweep", Every: every, Work: func(ctx context.Context) error {
		n, err := s.CloseDueCampaigns(ctx)
		if n > 0 {
			log.Info("access review campaigns closed", "count", n)
		}
		if err != nil {
			return err
		}
		n, err = s.RemindDueCampaigns(ctx)
		if n > 0 {
			log.Info("access review reviewers reminded", "campaigns", n)
		}
		return err
	}}
}

// WebhookDeliverer posts due webhook deliveries; *webhook.Worker is one.
type WebhookDeliverer interface {
	DeliverDue(ctx context.Context) (int, error)
}

// WebhookEvery is how often webhook deliveries are looked for.
const WebhookEvery = 2 * time.Second

// Webhooks delivers due webhook deliveries. It runs apart from mail, so a slow receiver delays
// neither mail nor anything else.
func Webhooks(d WebhookDeliverer, every time.Duration) Job {
	return Job{Name: "webhook delivery", Every: every, Work: func(ctx context.Context) error {
		_, err := d.DeliverDue(ctx)
		return err
	}}
}

// ProviderLapser removes memberships from the identity provider that no sign-in confirmed
// within a maximum age; admin.Service is one.
type ProviderLapser interface {
	LapseProviderMemberships(ctx context.Context, maxAge time.Duration) (int, error)
}

// SweepProviderGroups removes the memberships of groups the identity provider manages that no
// SSO sign-in confirmed within maxAge (ELEVATE_OIDC_GROUP_MAX_AGE), so people who stopped
// signing in do not keep them. Every replica sweeps: each removal is conditional and happens once.
func SweepProviderGroups(s ProviderLapser, maxAge, every time.Duration, log *slog.Logger) Job {
	return Job{Name: "identity provider group sweep", Every: every, Work: func(ctx context.Context) error {
		n, err := s.LapseProviderMemberships(ctx, maxAge)
		if n > 0 {
			log.Info("lapsed identity provider memberships removed", "count", n)
		}
		return err
	}}
}

// SentPruner deletes sent mail and sent webhook deliveries; store.Store is one.
type SentPruner interface {
	PruneSent(ctx context.Context, before time.Time, limit int) (mail, webhooks int64, err error)
}

// SentKeep is how long sent mail and sent webhook deliveries stay in their outboxes (and on
// /admin/outbox and the webhook pages) before the prune removes them. What they told stays in
// the audit trail; messages still owed are never removed.
const SentKeep = 30 * 24 * time.Hour

// A prune run deletes at most pruneBatches batches of pruneBatch rows from each outbox, so a
// first run over a long backlog does not hold the database for long; the next run goes on.
const (
	pruneBatch   = 1000
	pruneBatches = 20
)

// PruneSent deletes sent mail and webhook deliveries older than keep, a batch at a time.
func PruneSent(s SentPruner, keep, every time.Duration, now func() time.Time, log *slog.Logger) Job {
	return Job{Name: "sent prune", Every: every, Work: func(ctx context.Context) error {
		var mails, hooks int64
		defer func() {
			if mails+hooks > 0 {
				log.Debug("sent mail and webhook deliveries removed", "mail", mails, "webhooks", hooks)
			}
		}()
		before := now().Add(-keep)
		for range pruneBatches {
			m, w, err := s.PruneSent(ctx, before, pruneBatch)
			mails, hooks = mails+m, hooks+w
			if err != nil || (m < pruneBatch && w < pruneBatch) {
				return err
			}
		}
		return nil
	}}
}

// ChainVerifier walks the audit chain when no process did within every; admin.Service is one.
type ChainVerifier interface {
	VerifyChainWhenDue(ctx context.Context, every time.Duration) (bool, error)
}

// VerifyChainLooks is how often a process looks whether the chain's walk is due.
const VerifyChainLooks = 5 * time.Minute

// VerifyChain walks the audit chain end to end once per every across all processes on the
// database (each looks every looks; the first to find it due takes the turn) and records it.
func VerifyChain(v ChainVerifier, every, looks time.Duration, log *slog.Logger) Job {
	return Job{Name: "audit verify", Every: min(every, looks), Work: func(ctx context.Context) error {
		walked, err := v.VerifyChainWhenDue(ctx, every)
		if walked && err == nil {
			log.Debug("audit chain verified")
		}
		return err
	}}
}
