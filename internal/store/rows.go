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

// AuditRow is a row of audit_events. Rows are never updated or deleted (triggers refuse it).
type AuditRow struct {
	Seq        int64     `gorm:"primaryKey;autoIncrement:false"`
	At         time.Time `gorm:"not null;index"`
	ActorType  string    `gorm:"size:16;not null"`
	ActorID    string    `gorm:"size:64;not null;default:'';index"`
	ActorName  string    `gorm:"size:254;not null;default:''"`
	Action     string    `gorm:"size:64;not null;index"`
	TargetType string    `gorm:"size:32;not null;default:''"`
	TargetID   string    `gorm:"size:64;not null;default:'';index"`
	RequestID  string    `gorm:"size:36;not null;default:'';index"`
	Outcome    string    `gorm:"size:16;not null"`
	Details    string    `gorm:"not null"`
	IP         string    `gorm:"size:64;not null;default:''"`
	UserAgent  string    `gorm:"size:300;not null;default:''"`
	PrevHash   string    `gorm:"size:64;not null"`
	Hash       string    `gorm:"size:64;not null"`
}

// TableName fixes the table name.
func (AuditRow) TableName() string { return "audit_events" }

// AuditHeadRow is the single row holding the chain's head; writers lock it to append in order.
type AuditHeadRow struct {
	ID   int    `gorm:"primaryKey;autoIncrement:false"`
	Seq  int64  `gorm:"not null"`
	Hash string `gorm:"size:64;not null"`
	// At is the head event's time; the next event's time is never earlier.
	At *time.Time
}

// TableName fixes the table name.
func (AuditHeadRow) TableName() string { return "audit_head" }
