package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
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
	return s.migrateList(db, s.migrations())
}

// migrateList applies the migrations of list that have not run, in order, each in a transaction
// of its own that also records its id: a failure leaves the ones before it applied, and a long
// one holds its locks only while it runs. (gormigrate's own transaction would span them all.)
func (s *Store) migrateList(db *gorm.DB, list []*gormigrate.Migration) error {
	opts := &gormigrate.Options{
		TableName:      "schema_migrations",
		IDColumnName:   "id",
		IDColumnSize:   64,
		UseTransaction: true,
	}
	// Fresh sessions on db's connection: a statement built on db itself would stay in it.
	fresh := func() *gorm.DB { return db.Session(&gorm.Session{NewDB: true}) }
	applied := map[string]bool{}
	if fresh().Migrator().HasTable(opts.TableName) {
		var ids []string
		if err := fresh().Table(opts.TableName).Pluck(opts.IDColumnName, &ids).Error; err != nil {
			return fmt.Errorf("migrate: read applied migrations: %w", err)
		}
		for _, id := range ids {
			applied[id] = true
		}
	}
	for _, m := range list {
		if applied[m.ID] {
			continue
		}
		if err := gormigrate.New(fresh(), opts, []*gormigrate.Migration{m}).Migrate(); err != nil {
			return fmt.Errorf("migrate %s: %w", m.ID, err)
		}
	}
	return nil
}

// Migrations are append-only: never edit one that has shipped; add a new one.
// Each declares its own copies of the rows it creates, so later changes to rows.go cannot
// change what an old migration did.
func (s *Store) migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		{ID: "0001_foundation", Migrate: func(tx *gorm.DB) error { return m0001(tx, s.dialect) }},
		{ID: "0002_catalog", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0002) }},
		{ID: "0003_api_tokens", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0003) }},
		{ID: "0004_requests", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0004) }},
		{ID: "0005_outbox", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0005) }},
		{ID: "0006_audit_search", Migrate: m0006},
		{ID: "0007_mfa_sso", Migrate: m0007},
		{ID: "0008_request_cancel", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0008) }},
		{ID: "0009_audit_text", Migrate: func(tx *gorm.DB) error { return m0009(tx, s.dialect) }},
		{ID: "0010_check_tokens", Migrate: func(tx *gorm.DB) error { return s.m0010(tx) }},
		{ID: "0011_audit_sealer", Migrate: func(tx *gorm.DB) error { return m0011(tx, s.dialect) }},
		{ID: "0012_requests_waiting_idx", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0012) }},
		{ID: "0013_dashboard_daily_stats", Migrate: func(tx *gorm.DB) error { return m0013(tx, s.dialect) }},
		{ID: "0014_inbox_filters", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0014) }},
		{ID: "0015_reminders_escalation", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0015) }},
		{ID: "0016_delegations", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0016) }},
		{ID: "0017_emergency_access", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0017) }},
		{ID: "0018_policy_changes", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0018) }},
		{ID: "0019_webhooks", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0019) }},
		{ID: "0020_access_reviews", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0020) }},
		{ID: "0021_idp_groups", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0021) }},
		{ID: "0022_audit_sealed_indexes", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0022) }},
		{ID: "0023_mail_bodies_inline", Migrate: func(tx *gorm.DB) error { return m0023(tx, s.dialect) }},
		{ID: "0024_requests_waiting_left_idx", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0024) }},
		{ID: "0025_review_reminders", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0025) }},
		{ID: "0026_emergency_reviewed_at", Migrate: func(tx *gorm.DB) error { return m0026(tx, s.dialect) }},
		{ID: "0027_review_items_counts_idx", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.dialect, m0027) }},
		{ID: "0028_audit_seal_lag", Migrate: func(tx *gorm.DB) error { return m0028(tx, s.dialect) }},
		{ID: "0029_check_token_names", Migrate: func(tx *gorm.DB) error { return m0029(tx, s.dialect) }},
		{ID: "0030_delegated_reviews", Migrate: func(tx *gorm.DB) error { return m0030(tx, s.dialect) }},
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

// execAll runs DDL written once for both databases; {ts} is the timestamp type of the dialect.
func execAll(tx *gorm.DB, dialect string, stmts []string) error {
	ts := "datetime"
	if dialect == Postgres {
		ts = "timestamptz"
	}
	for _, q := range stmts {
		q = strings.ReplaceAll(q, "{ts}", ts)
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}

// m0002 adds the privileged estate: groups, tasks, roles, role groups, policies, org settings
// and one-time set-password links. Foreign keys let the database refuse deleting a group
// that a policy or the settings still use, whatever races the application loses.
var m0002 = []string{
	`CREATE TABLE groups (
		id varchar(36) PRIMARY KEY,
		name varchar(100) NOT NULL,
		name_key varchar(100) NOT NULL UNIQUE,
		description text NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		updated_at {ts} NOT NULL)`,
	`CREATE TABLE group_members (
		group_id varchar(36) NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
		user_id varchar(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		added_at {ts} NOT NULL,
		PRIMARY KEY (group_id, user_id))`,
	`CREATE INDEX group_members_user_idx ON group_members (user_id)`,
	`CREATE TABLE tasks (
		id varchar(36) PRIMARY KEY,
		key varchar(192) NOT NULL,
		key_lower varchar(192) NOT NULL UNIQUE,
		name varchar(100) NOT NULL,
		description text NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		updated_at {ts} NOT NULL)`,
	`CREATE TABLE roles (
		id varchar(36) PRIMARY KEY,
		name varchar(100) NOT NULL,
		name_key varchar(100) NOT NULL UNIQUE,
		description text NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		updated_at {ts} NOT NULL)`,
	`CREATE TABLE role_tasks (
		role_id varchar(36) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
		task_id varchar(36) NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
		PRIMARY KEY (role_id, task_id))`,
	`CREATE INDEX role_tasks_task_idx ON role_tasks (task_id)`,
	`CREATE TABLE role_groups (
		id varchar(36) PRIMARY KEY,
		name varchar(100) NOT NULL,
		name_key varchar(100) NOT NULL UNIQUE,
		description text NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		updated_at {ts} NOT NULL)`,
	`CREATE TABLE role_group_roles (
		role_group_id varchar(36) NOT NULL REFERENCES role_groups(id) ON DELETE CASCADE,
		role_id varchar(36) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
		PRIMARY KEY (role_group_id, role_id))`,
	`CREATE INDEX role_group_roles_role_idx ON role_group_roles (role_id)`,
	`CREATE TABLE policies (
		id varchar(36) PRIMARY KEY,
		scope_type varchar(16) NOT NULL,
		scope_id varchar(36) NOT NULL,
		approval_type varchar(16) NOT NULL,
		approver_group_id varchar(36) REFERENCES groups(id),
		approvals_required integer NOT NULL,
		default_duration_min integer NOT NULL,
		max_duration_min integer NOT NULL,
		justification_required boolean NOT NULL,
		ticket_required boolean NOT NULL,
		eligible_group_id varchar(36) REFERENCES groups(id),
		mfa_required boolean NOT NULL,
		pending_timeout_min integer NOT NULL,
		enabled boolean NOT NULL,
		version integer NOT NULL DEFAULT 1,
		created_at {ts} NOT NULL,
		updated_at {ts} NOT NULL,
		UNIQUE (scope_type, scope_id))`,
	`CREATE INDEX policies_created_idx ON policies (created_at, id)`,
	`CREATE INDEX policies_approver_group_idx ON policies (approver_group_id)`,
	`CREATE INDEX policies_eligible_group_idx ON policies (eligible_group_id)`,
	`CREATE TABLE org_settings (
		id integer PRIMARY KEY,
		enforcement boolean NOT NULL,
		default_approver_group_id varchar(36) REFERENCES groups(id),
		exempt_group_id varchar(36) REFERENCES groups(id),
		max_duration_min integer NOT NULL,
		updated_at {ts} NOT NULL)`,
	`INSERT INTO org_settings (id, enforcement, max_duration_min, updated_at) VALUES (1, true, 1440, CURRENT_TIMESTAMP)`,
	`CREATE TABLE password_tokens (
		token_hash varchar(64) PRIMARY KEY,
		user_id varchar(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		expires_at {ts} NOT NULL,
		created_at {ts} NOT NULL)`,
	`CREATE INDEX password_tokens_user_idx ON password_tokens (user_id)`,
	`CREATE INDEX users_name_idx ON users (name)`,
}

// m0003 adds API tokens: named, scoped, stored as hashes, revocable, with their last use.
var m0003 = []string{
	`CREATE TABLE api_tokens (
		id varchar(36) PRIMARY KEY,
		user_id varchar(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		name varchar(100) NOT NULL,
		scope varchar(16) NOT NULL,
		token_hash varchar(64) NOT NULL UNIQUE,
		created_at {ts} NOT NULL,
		last_used_at {ts},
		revoked_at {ts})`,
	`CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at)`,
}

// m0004 adds requests and their reviews. A request keeps a copy of what its policy said when it
// was made (scope, approver group, approvals needed), so editing or deleting the policy later
// never changes a decision in flight. One review per reviewer is a primary key.
var m0004 = []string{
	`CREATE TABLE requests (
		id varchar(36) PRIMARY KEY,
		requester_id varchar(36) NOT NULL REFERENCES users(id),
		policy_id varchar(36) NOT NULL,
		scope_type varchar(16) NOT NULL,
		scope_id varchar(36) NOT NULL,
		scope_name varchar(200) NOT NULL,
		approval_type varchar(16) NOT NULL,
		approver_group_id varchar(36) REFERENCES groups(id) ON DELETE SET NULL,
		approvals_required integer NOT NULL,
		duration_min integer NOT NULL,
		justification text NOT NULL DEFAULT '',
		ticket varchar(100) NOT NULL DEFAULT '',
		scheduled_start {ts},
		status varchar(16) NOT NULL,
		created_at {ts} NOT NULL,
		pending_until {ts} NOT NULL,
		decided_at {ts},
		starts_at {ts},
		ends_at {ts},
		revoked_by varchar(36) NOT NULL DEFAULT '',
		revoke_reason text NOT NULL DEFAULT '',
		extends_id varchar(36) NOT NULL DEFAULT '',
		expiry_notified_at {ts},
		version integer NOT NULL DEFAULT 1)`,
	`CREATE INDEX requests_requester_idx ON requests (requester_id, created_at, id)`,
	`CREATE INDEX requests_requester_status_idx ON requests (requester_id, status, created_at, id)`,
	`CREATE INDEX requests_grant_idx ON requests (requester_id, status, ends_at)`,
	`CREATE INDEX requests_inbox_idx ON requests (status, approver_group_id, created_at, id)`,
	`CREATE INDEX requests_pending_until_idx ON requests (status, pending_until)`,
	`CREATE INDEX requests_ends_idx ON requests (status, ends_at)`,
	`CREATE TABLE reviews (
		request_id varchar(36) NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
		reviewer_id varchar(36) NOT NULL REFERENCES users(id),
		decision varchar(16) NOT NULL,
		comment text NOT NULL DEFAULT '',
		at {ts} NOT NULL,
		PRIMARY KEY (request_id, reviewer_id))`,
	`CREATE INDEX reviews_reviewer_idx ON reviews (reviewer_id, at)`,
}

// m0005 adds the mail outbox: every message is written in the transaction of the change that
// causes it and delivered after commit by a worker. A worker claims rows by writing a lease
// (owner and expiry) with a conditional update, so two workers never hold one message.
var m0005 = []string{
	`CREATE TABLE mail_outbox (
		id varchar(36) PRIMARY KEY,
		kind varchar(32) NOT NULL,
		request_id varchar(36) NOT NULL DEFAULT '',
		recipient_id varchar(36) NOT NULL DEFAULT '',
		recipient varchar(254) NOT NULL,
		recipient_name varchar(200) NOT NULL DEFAULT '',
		subject varchar(300) NOT NULL,
		body_text text NOT NULL,
		body_html text NOT NULL,
		state varchar(16) NOT NULL,
		attempts integer NOT NULL DEFAULT 0,
		next_attempt_at {ts} NOT NULL,
		give_up_at {ts},
		lease_owner varchar(36) NOT NULL DEFAULT '',
		lease_until {ts},
		last_error text NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		sent_at {ts},
		updated_at {ts} NOT NULL)`,
	`CREATE INDEX mail_outbox_due_idx ON mail_outbox (state, next_attempt_at)`,
	`CREATE INDEX mail_outbox_created_idx ON mail_outbox (created_at, id)`,
	`CREATE INDEX mail_outbox_state_created_idx ON mail_outbox (state, created_at, id)`,
	`CREATE INDEX mail_outbox_request_idx ON mail_outbox (request_id)`,
	`CREATE INDEX requests_expiry_notice_idx ON requests (status, expiry_notified_at, ends_at)`,
}

// m0006AuditHead adds the head's time, so writers keep event times in sequence order.
type m0006AuditHead struct {
	At *time.Time
}

// m0006 backs every audit filter with an index that also orders by seq, so a filtered keyset
// page reads only the rows it shows; the single-column indexes they replace are dropped. It
// also records the head event's time on the head row.
func m0006(tx *gorm.DB) error {
	for _, q := range []string{
		"DROP INDEX IF EXISTS audit_events_at_idx",
		"DROP INDEX IF EXISTS audit_events_actor_idx",
		"DROP INDEX IF EXISTS audit_events_action_idx",
		"DROP INDEX IF EXISTS audit_events_target_idx",
		"DROP INDEX IF EXISTS audit_events_request_idx",
		"CREATE INDEX audit_events_at_seq_idx ON audit_events (at, seq)",
		"CREATE INDEX audit_events_actor_id_seq_idx ON audit_events (actor_id, seq)",
		"CREATE INDEX audit_events_actor_name_seq_idx ON audit_events (actor_name, seq)",
		"CREATE INDEX audit_events_action_seq_idx ON audit_events (action, seq)",
		"CREATE INDEX audit_events_target_seq_idx ON audit_events (target_type, target_id, seq)",
		"CREATE INDEX audit_events_target_type_seq_idx ON audit_events (target_type, seq)",
		"CREATE INDEX audit_events_target_id_seq_idx ON audit_events (target_id, seq)",
		"CREATE INDEX audit_events_request_seq_idx ON audit_events (request_id, seq)",
		"CREATE INDEX audit_events_outcome_seq_idx ON audit_events (outcome, seq)",
	} {
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("audit indexes: %w", err)
		}
	}
	if err := tx.Table("audit_head").Migrator().AddColumn(&m0006AuditHead{}, "At"); err != nil {
		return fmt.Errorf("audit head time: %w", err)
	}
	return tx.Exec("UPDATE audit_head SET at = (SELECT at FROM audit_events WHERE audit_events.seq = audit_head.seq)").Error
}

// m0009 widens the audit trail's and sessions' client-facing columns to text on PostgreSQL:
// a task key (up to 191 bytes) did not fit target_id's 64, so such a task could never be
// checked. Lengths are enforced where values enter (audit.Fit), not by the column. Changing
// varchar to text rewrites nothing on PostgreSQL; SQLite never enforced the lengths.
func m0009(tx *gorm.DB, dialect string) error {
	if dialect != Postgres {
		return nil
	}
	for _, q := range []string{
		`ALTER TABLE audit_events ALTER COLUMN actor_type TYPE text, ALTER COLUMN actor_id TYPE text,
			ALTER COLUMN actor_name TYPE text, ALTER COLUMN action TYPE text, ALTER COLUMN target_type TYPE text,
			ALTER COLUMN target_id TYPE text, ALTER COLUMN request_id TYPE text, ALTER COLUMN outcome TYPE text,
			ALTER COLUMN ip TYPE text, ALTER COLUMN user_agent TYPE text`,
		`ALTER TABLE sessions ALTER COLUMN ip TYPE text, ALTER COLUMN user_agent TYPE text`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
	}
	return nil
}

// m0010 gives target systems their own tokens. Check tokens used to be minted by any signed-in
// person on the profile page, which let anyone learn which accounts exist and who holds which
// grant. Now they live in check_tokens and only administrators make them. Live check tokens of
// administrators move there unchanged (same secret, same id, so their history stays theirs);
// those of everyone else are revoked. Each move and each revocation is an audit event.
func (s *Store) m0010(tx *gorm.DB) error {
	if err := execAll(tx, s.dialect, []string{
		`CREATE TABLE check_tokens (
			id varchar(36) PRIMARY KEY,
			name varchar(100) NOT NULL,
			token_hash varchar(64) NOT NULL UNIQUE,
			created_by varchar(254) NOT NULL DEFAULT '',
			created_at {ts} NOT NULL,
			revoked_at {ts},
			revoked_by varchar(254) NOT NULL DEFAULT '')`,
		`CREATE INDEX check_tokens_created_idx ON check_tokens (created_at, id)`,
	}); err != nil {
		return err
	}
	var old []struct {
		ID, Name, TokenHash, Email string
		Admin                      bool
		Disabled                   bool
		CreatedAt                  time.Time
	}
	err := tx.Raw(`SELECT t.id, t.name, t.token_hash, u.email, u.admin, u.disabled_at IS NOT NULL AS disabled, t.created_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.scope = 'check' AND t.revoked_at IS NULL ORDER BY t.created_at, t.id`).Scan(&old).Error
	if err != nil {
		return fmt.Errorf("read check tokens: %w", err)
	}
	now := time.Now().UTC()
	for _, t := range old {
		if err := tx.Exec("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", now, t.ID).Error; err != nil {
			return fmt.Errorf("retire check token %s: %w", t.ID, err)
		}
		var ev *audit.Event
		if t.Admin && !t.Disabled {
			if err := tx.Exec("INSERT INTO check_tokens (id, name, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
				t.ID, t.Name, t.TokenHash, t.Email, t.CreatedAt).Error; err != nil {
				return fmt.Errorf("move check token %s: %w", t.ID, err)
			}
			ev = audit.System.Event(audit.CheckTokenMoved, "token", t.ID, map[string]any{"name": t.Name, "owner": t.Email,
				"to": "check tokens", "reason": "upgrade: check tokens belong to target systems and are managed by administrators"})
		} else {
			ev = audit.System.Event(audit.CheckTokenRevoked, "token", t.ID, map[string]any{"name": t.Name, "owner": t.Email,
				"reason": "upgrade: only administrators may hold check tokens"})
		}
		ev.At = now
		if err := m0010AppendAudit(tx, s.dialect, ev); err != nil {
			return err
		}
	}
	return nil
}

// m0010AppendAudit chains ev after the head the way events were written when migration 0010
// shipped (the table had no id and no sealer yet).
func m0010AppendAudit(tx *gorm.DB, dialect string, ev *audit.Event) error {
	lock := ""
	if dialect == Postgres {
		lock = " FOR UPDATE"
	}
	var head struct {
		Seq  int64
		Hash string
		At   *time.Time
	}
	if err := tx.Raw("SELECT seq, hash, at FROM audit_head WHERE id = 1" + lock).Scan(&head).Error; err != nil {
		return fmt.Errorf("audit: read head: %w", err)
	}
	ev.Normalize()
	if head.At != nil && ev.At.Before(*head.At) {
		ev.At = head.At.UTC()
	}
	ev.Chain(head.Seq, head.Hash)
	if err := tx.Exec(`INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_name, action, target_type, target_id,
		request_id, outcome, details, ip, user_agent, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.Seq, ev.At, ev.ActorType, ev.ActorID, ev.ActorName, ev.Action, ev.TargetType, ev.TargetID,
		ev.RequestID, ev.Outcome, ev.Details, ev.IP, ev.UserAgent, ev.PrevHash, ev.Hash).Error; err != nil {
		return fmt.Errorf("audit: insert event %d: %w", ev.Seq, err)
	}
	return tx.Exec("UPDATE audit_head SET seq = ?, hash = ?, at = ? WHERE id = 1", ev.Seq, ev.Hash, ev.At).Error
}

// m0012 indexes the waiting requests alone, with every column the inbox's condition reads
// (waitingFor): counting an approver's inbox, which every signed-in page does with its session,
// then reads this small index and no request row. A plain build takes a lock that holds back
// writes to requests while it runs (well under a second for 100,000 rows), never reads: checks
// keep answering.
var m0012 = []string{
	`CREATE INDEX requests_waiting_idx ON requests (approver_group_id, created_at, id, pending_until, requester_id)
		WHERE status = 'pending'`,
}

// m0014 indexes the waiting requests by what the inbox's policy and scope filters compare
// (inboxPageText), with the other columns its condition and orders read, so a filtered inbox
// reads this small index and only the page's request rows; and a requester's requests by scope,
// for the approver's card (RequesterHistory). Built plainly, as m0012.
var m0014 = []string{
	`CREATE INDEX requests_requester_scope_idx ON requests (requester_id, scope_type, scope_id, created_at)`,
	`CREATE INDEX requests_waiting_scope_idx ON requests (approver_group_id, scope_type, scope_id, policy_id, pending_until, created_at, id, requester_id)
		WHERE status = 'pending'`,
}
