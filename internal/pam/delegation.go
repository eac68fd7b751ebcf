package pam

import "time"

// MaxDelegation is the longest a delegation may run: out of office, not a standing transfer of
// the right to decide.
const MaxDelegation = 90 * 24 * time.Hour

// Delegation lets its delegate decide, from StartsAt until EndsAt, the requests its principal
// (an approver away) could decide, and receive their request mail. It is in force while not
// ended and StartsAt <= now < EndsAt; it never passes on: a delegate's own delegate gets
// nothing from the principal.
type Delegation struct {
	ID             string
	PrincipalID    UserID
	PrincipalName  string
	PrincipalEmail string
	DelegateID     UserID
	DelegateName   string
	DelegateEmail  string
	StartsAt       time.Time
	EndsAt         time.Time
	CreatedAt      time.Time
	EndedAt        *time.Time // ended early, or closed once lapsed
	EndedBy        UserID
}

// InForce reports whether the delegation lets its delegate act at now.
func (d Delegation) InForce(now time.Time) bool {
	return d.EndedAt == nil && !now.Before(d.StartsAt) && now.Before(d.EndsAt)
}

// Open reports whether the delegation is in force or scheduled at now.
func (d Delegation) Open(now time.Time) bool {
	return d.EndedAt == nil && now.Before(d.EndsAt)
}

// Validate checks a new delegation of principal to delegate (who must be enabled) over
// [start, end) at now: not to oneself, the end after the start and after now, at most
// MaxDelegation long, starting within a year. It tells every field's problem at once (Problems).
func (d Delegation) Validate(delegate User, now time.Time) error {
	var ps Problems
	switch {
	case d.DelegateID == "" || delegate.ID == "":
		ps.Add(FieldError("delegate", "Choose who decides for you: enter their email address."))
	case d.DelegateID == d.PrincipalID:
		ps.Add(FieldError("delegate", "You cannot delegate to yourself; choose someone else."))
	case !delegate.Active():
		ps.Add(FieldError("delegate", "That person is disabled; choose someone else."))
	}
	switch {
	case d.StartsAt.IsZero():
		ps.Add(FieldError("starts_at", "Enter when the delegation starts."))
	case d.StartsAt.After(now.Add(365 * 24 * time.Hour)):
		ps.Add(FieldError("starts_at", "Choose a start within the next year."))
	}
	switch {
	case d.EndsAt.IsZero():
		ps.Add(FieldError("ends_at", "Enter when the delegation ends."))
	case !d.StartsAt.IsZero() && !d.EndsAt.After(d.StartsAt):
		ps.Add(FieldError("ends_at", "The end must be after the start."))
	case !d.EndsAt.After(now):
		ps.Add(FieldError("ends_at", "The end must be in the future."))
	case !d.StartsAt.IsZero() && d.EndsAt.Sub(d.StartsAt) > MaxDelegation:
		ps.Add(FieldError("ends_at", "A delegation lasts at most 90 days; choose an earlier end."))
	}
	return ps.Err()
}
