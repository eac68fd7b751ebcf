package pam

import "time"

// Mail states in the outbox.
const (
	MailQueued   = "queued"
	MailRetrying = "retrying"
	MailSent     = "sent"
	MailFailed   = "failed"
)

// MailStates lists the outbox states in display order.
var MailStates = []string{MailQueued, MailRetrying, MailSent, MailFailed}

// OutboxMessage is one mail in the outbox: rendered when queued, delivered after commit.
type OutboxMessage struct {
	ID            string
	Kind          string
	RequestID     string
	RecipientID   UserID
	Recipient     string // email address
	RecipientName string
	Subject       string
	Text          string
	HTML          string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	// GiveUpAt is when temporary failures stop being retried; set at the first failure.
	GiveUpAt  *time.Time
	LastError string
	CreatedAt time.Time
	SentAt    *time.Time
}
