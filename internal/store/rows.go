package store

import "time"

// UserRow is a row of users.
type UserRow struct {
	ID           string `gorm:"primaryKey;size:36"`
	Email        string `gorm:"size:254;not null;uniqueIndex"`
	Name         string `gorm:"size:200;not null"`
	PasswordHash string `gorm:"size:200;not null;default:''"`
	Admin        bool   `gorm:"not null;default:false"`
	Auditor      bool   `gorm:"not null;default:false"`
	TimeZone     string `gorm:"size:64;not null;default:'UTC'"`
	DisabledAt   *time.Time
	CreatedAt    time.Time `gorm:"not null"`
	UpdatedAt    time.Time `gorm:"not null"`
}

// TableName fixes the table name.
func (UserRow) TableName() string { return "users" }

// SessionRow is a row of sessions. The cookie holds the id; only its hash is stored.
type SessionRow struct {
	IDHash     string    `gorm:"primaryKey;size:64"`
	UserID     string    `gorm:"size:36;not null;index"`
	Data       string    `gorm:"not null;default:'{}'"`
	CreatedAt  time.Time `gorm:"not null"`
	LastSeenAt time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null;index"`
	IP         string    `gorm:"size:64;not null;default:''"`
	UserAgent  string    `gorm:"size:300;not null;default:''"`
}

// TableName fixes the table name.
func (SessionRow) TableName() string { return "sessions" }

// ValueRow is a row of system_values: process-wide values kept in the database so that every
// replica shares them (the generated secret key, the setup token hash).
type ValueRow struct {
	Key       string `gorm:"primaryKey;size:64"`
	Value     string `gorm:"not null"`
	UpdatedAt time.Time
}

// TableName fixes the table name.
func (ValueRow) TableName() string { return "system_values" }

// AuditRow is a row of audit_events. A row is inserted unsealed (Seq, PrevHash, Hash and
// SealedAt empty) or, for a check, sealed; the triggers allow one UPDATE, the sealing of an
// unsealed row, and no DELETE (see migration 0011).
type AuditRow struct {
	ID         int64 `gorm:"primaryKey"`
	Seq        *int64
	At         time.Time
	ActorType  string
	ActorID    string
	ActorName  string
	Action     string
	TargetType string
	TargetID   string
	RequestID  string
	SubjectID  string
	Outcome    string
	Details    string
	IP         string
	UserAgent  string
	PrevHash   *string
	Hash       *string
	SealedAt   *time.Time
}

// TableName fixes the table name.
func (AuditRow) TableName() string { return "audit_events" }

// AuditHeadRow is the single row holding the chain's head; only the sealer moves it.
type AuditHeadRow struct {
	ID   int    `gorm:"primaryKey;autoIncrement:false"`
	Seq  int64  `gorm:"not null"`
	Hash string `gorm:"size:64;not null"`
	// At is when the head event was sealed; sealing times never decrease along the chain.
	At *time.Time
}

// TableName fixes the table name.
func (AuditHeadRow) TableName() string { return "audit_head" }
