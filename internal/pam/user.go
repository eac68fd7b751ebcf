package pam

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// UserID identifies a user; it is a UUID string.
type UserID string

// User is a person (or service account) who can sign in, ask for access or approve it.
type User struct {
	ID         UserID
	Email      string
	Name       string
	Admin      bool
	Auditor    bool
	TimeZone   string
	DisabledAt *time.Time
	CreatedAt  time.Time
}

// Active reports whether the user may sign in and act.
func (u User) Active() bool { return u.DisabledAt == nil }

// Password length bounds. The upper bound keeps hashing cost predictable.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// NormalizeEmail lower-cases and trims an address and checks that it is one plain address.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", FieldError("email", "Enter an email address.")
	}
	a, err := mail.ParseAddress(s)
	if _, bad := BadChar(s, false); bad || err != nil || a.Address != s || len(s) > 254 {
		return "", FieldError("email", "Enter a valid email address, like name@example.com.")
	}
	return s, nil
}

// ValidateName checks a display name.
func ValidateName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", FieldError("name", "Enter a name.")
	}
	if utf8.RuneCountInString(s) > MaxNameLen || strings.ContainsAny(s, "\r\n\t") {
		return "", FieldError("name", "Use at most %d characters on one line.", MaxNameLen)
	}
	if err := CheckChars("name", s, false); err != nil {
		return "", err
	}
	return s, nil
}

// ValidatePassword checks a new password and its confirmation, and tells both problems at once.
func ValidatePassword(pw, confirm string) error {
	var ps Problems
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPasswordLen:
		ps.Add(FieldError("password", "Use at least %d characters.", MinPasswordLen))
	case n > MaxPasswordLen:
		ps.Add(FieldError("password", "Use at most %d characters.", MaxPasswordLen))
	}
	if pw != confirm {
		ps.Add(FieldError("password_confirm", "The two passwords differ. Type the same password twice."))
	}
	return ps.Err()
}
