package pam

import "time"

// APIToken is a person's bearer token for the API, never with its secret: it acts for its
// owner with the owner's rights.
type APIToken struct {
	ID         string
	UserID     UserID
	Name       string
	Scope      string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// CheckToken is a target system's token for the check API, never with its secret. It belongs
// to its system, not to a person: the administrator who made it is recorded, and changes to
// that person's account do not end it.
type CheckToken struct {
	ID        string
	Name      string
	CreatedBy string // the creating administrator's email, or "cli"
	CreatedAt time.Time
	RevokedAt *time.Time
	RevokedBy string
	// LastUsedAt is the time of the token's newest check event (nil if it never checked).
	LastUsedAt *time.Time
}
