package pam

import (
	"time"
	"unicode/utf8"
)

// Retry is how a delivery queue (mail, webhooks) treats a failed attempt: temporary failures
// are tried again after a doubling pause, from Base up to Max, until For has passed since the
// first failure; a permanent one fails at once.
type Retry struct {
	Base, Max, For time.Duration
}

// Backoff is the pause after the given number of attempts.
func (r Retry) Backoff(attempts int) time.Duration {
	d := r.Base
	for i := 1; i < attempts && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// RetryStep is what a failed attempt comes to.
type RetryStep struct {
	State  string // MailRetrying or MailFailed
	Next   time.Time
	GiveUp time.Time
	// Permanent is set when it failed for good because the attempt said so (else it gave up
	// after For).
	Permanent bool
}

// After decides the step after a failed attempt at now, the delivery having made attempts
// before it and, once it failed before, having giveUpAt as its last chance.
func (r Retry) After(attempts int, giveUpAt *time.Time, permanent bool, now time.Time) RetryStep {
	giveUp := now.Add(r.For)
	if giveUpAt != nil {
		giveUp = *giveUpAt
	}
	next := now.Add(r.Backoff(attempts + 1))
	switch {
	case permanent:
		return RetryStep{State: MailFailed, Permanent: true}
	case !next.Before(giveUp):
		return RetryStep{State: MailFailed}
	}
	return RetryStep{State: MailRetrying, Next: next, GiveUp: giveUp}
}

// CutBytes cuts s to at most n bytes without splitting a character.
func CutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
