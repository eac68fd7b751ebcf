package store

import (
	"context"
	"fmt"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// Migrate applies every pending migration, each in its own transaction. It is safe to call on
// every start; concurrent starts on PostgreSQL are serialised by an advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if s.dialect == Postgres {
		// Several replicas may start at once; one migrates while the others wait.
		return db.Connection(func(conn *gorm.DB) error {
			if err := conn.Exec("SELECT pg_advisory_lock(72210101)").Error; err != nil {
				return fmt.Errorf("migrate: lock: %w", err)
			}
			defer conn.Exec("SELECT pg_advisory_unlock(72210101)")
			return s.migrate(conn)
		})
	}
	return s.migrate(db)
}

func (s *Store) migrate(db *gorm.DB) error {
	opts := &gormigrate.Options{
		TableName:      "schema_migrations",
		IDColumnName:   "id",
		IDColumnSize:   64,
		UseTransaction: true,
	}
	m := gormigrate.New(db, opts, s.migrations())
	if err := m.Migrate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Migrations are append-only: never edit one that has shipped; add a new one.
// Each declares its own copies of the rows it creates, so later changes to rows.go cannot
// change what an old migration did.
func (s *Store) migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		{ID: "0001_foundation", Migrate: func(tx *gorm.DB) error { return m0001(tx, s.dialect) }},
		{ID: "0007_mfa_sso", Migrate: m0007},
	}
}

type m0001User struct {
	ID           string `gorm:"primaryKey;size:36"`
	Email        string `gorm:"size:254;not null;uniqueIndex:users_email_key"`
	Name         string `gorm:"size:200;not null"`
	PasswordHash string `gorm:"size:200;not null;default:''"`
	Admin        bool   `gorm:"not null;default:false"`
	Auditor      bool   `gorm:"not null;default:false"`
	TimeZone     string `gorm:"size:64;not null;default:'UTC'"`
	DisabledAt   *time.Time
	CreatedAt    time.Time `gorm:"not null"`
	UpdatedAt    time.Time `gorm:"not null"`
}

type m0001Session struct {
	IDHash     string    `gorm:"primaryKey;size:64"`
	UserID     string    `gorm:"size:36;not null;index:sessions_user_id_idx"`
	Data       string    `gorm:"not null;default:'{}'"`
	CreatedAt  time.Time `gorm:"not null"`
	LastSeenAt time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null;index:sessions_expires_at_idx"`
	IP         string    `gorm:"size:64;not null;default:''"`
	UserAgent  string    `gorm:"size:300;not null;default:''"`
}

type m0001Value struct {
	Key       string `gorm:"primaryKey;size:64"`
	Value     string `gorm:"not null"`
	UpdatedAt time.Time
}

type m0001Audit struct {
	Seq        int64     `gorm:"primaryKey;autoIncrement:false"`
	At         time.Time `gorm:"not null;index:audit_events_at_idx"`
	ActorType  string    `gorm:"size:16;not null"`
	ActorID    string    `gorm:"size:64;not null;default:'';index:audit_events_actor_idx"`
	ActorName  string    `gorm:"size:254;not null;default:''"`
	Action     string    `gorm:"size:64;not null;index:audit_events_action_idx"`
	TargetType string    `gorm:"size:32;not null;default:''"`
	TargetID   string    `gorm:"size:64;not null;default:'';index:audit_events_target_idx"`
	RequestID  string    `gorm:"size:36;not null;default:'';index:audit_events_request_idx"`
	Outcome    string    `gorm:"size:16;not null"`
	Details    string    `gorm:"not null"`
	IP         string    `gorm:"size:64;not null;default:''"`
	UserAgent  string    `gorm:"size:300;not null;default:''"`
	PrevHash   string    `gorm:"size:64;not null"`
	Hash       string    `gorm:"size:64;not null"`
}

type m0001AuditHead struct {
	ID   int    `gorm:"primaryKey;autoIncrement:false"`
	Seq  int64  `gorm:"not null"`
	Hash string `gorm:"size:64;not null"`
}

func m0001(tx *gorm.DB, dialect string) error {
	for table, row := range map[string]any{
		"users":         &m0001User{},
		"sessions":      &m0001Session{},
		"system_values": &m0001Value{},
		"audit_events":  &m0001Audit{},
		"audit_head":    &m0001AuditHead{},
	} {
		if err := tx.Table(table).AutoMigrate(row); err != nil {
			return fmt.Errorf("create %s: %w", table, err)
		}
	}
	if err := tx.Exec("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, ?)", "0000000000000000000000000000000000000000000000000000000000000000").Error; err != nil {
		return fmt.Errorf("seed audit_head: %w", err)
	}
	// The audit trail is append-only: the database itself refuses edits and deletions.
	var stmts []string
	if dialect == Postgres {
		stmts = []string{
			`CREATE FUNCTION elevate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
			 BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$`,
			`CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
			 FOR EACH ROW EXECUTE FUNCTION elevate_audit_append_only()`,
			`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
			 FOR EACH STATEMENT EXECUTE FUNCTION elevate_audit_append_only()`,
		}
	} else {
		stmts = []string{
			`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
			 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`,
			`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
			 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`,
		}
	}
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("audit triggers: %w", err)
		}
	}
	return nil
}
