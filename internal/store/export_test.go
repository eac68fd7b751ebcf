package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// AuditPagePlan returns the database's plan for the query that finds the first page of f, as
// text, with sequential scans and sorts made as costly as possible on PostgreSQL so the plan
// shows whether an index can serve the filter and its order.
func (s *Store) AuditPagePlan(ctx context.Context, f audit.Filter) (string, error) {
	plan, _, err := s.auditPagePlan(ctx, f, true)
	return plan, err
}

// AuditPageCost explains (with ANALYZE, on PostgreSQL) the query that reads the first page of f
// with the planner's own settings, and returns the plan and how many rows of audit_events it
// read.
func (s *Store) AuditPageCost(ctx context.Context, f audit.Filter) (string, int64, error) {
	return s.auditPagePlan(ctx, f, false)
}

func (s *Store) auditPagePlan(ctx context.Context, f audit.Filter, forced bool) (string, int64, error) {
	k, empty := s.newAuditKeyset(f)
	if empty {
		return "", 0, fmt.Errorf("plan: empty time range")
	}
	if !k.since.IsZero() || !k.until.IsZero() {
		// As AuditPage narrows it.
		if err := auditSeqRange(s.conn(ctx), &k, s.now()); err != nil {
			return "", 0, err
		}
	}
	hi := k.hi
	if f.Before > 0 {
		hi = min(hi, f.Before)
	}
	q, args := k.seqsSQL(k.lo, hi, false, 51)
	sql := "SELECT * FROM audit_events WHERE seq IN (" + q + ") ORDER BY seq DESC"
	if forced {
		// The sequence numbers' walk decides what the page costs; the rows are then read by key.
		sql = q
	}
	var lines []string
	err := s.Tx(ctx, func(tx *Store) error {
		prefix := "EXPLAIN QUERY PLAN "
		if s.dialect == Postgres {
			prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
			if forced {
				prefix = "EXPLAIN "
				for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_sort = off"} {
					if err := tx.db.Exec(set).Error; err != nil {
						return err
					}
				}
			}
		}
		rows, err := tx.db.Raw(prefix+sql, args...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			lines = append(lines, fmt.Sprint(vals[len(vals)-1]))
		}
		return rows.Err()
	})
	plan := strings.Join(lines, "\n")
	// Rows read: every "rows=N loops=M" of a scan on audit_events, and what its filter removed.
	var read int64
	for _, l := range lines {
		if !strings.Contains(l, "Scan") {
			continue
		}
		var n, loops int64
		if i := strings.Index(l, "(actual rows="); i >= 0 {
			fmt.Sscanf(l[i:], "(actual rows=%d loops=%d)", &n, &loops)
			read += n * loops
		}
	}
	for _, l := range lines {
		var n int64
		if i := strings.Index(l, "Rows Removed by Filter: "); i >= 0 {
			fmt.Sscanf(l[i:], "Rows Removed by Filter: %d", &n)
			read += n
		}
	}
	return plan, read, err
}

// GrantForPlan returns the database's plan for GrantFor's query, made like AuditPagePlan's.
func (s *Store) GrantForPlan(ctx context.Context, user pam.UserID, taskID string, now time.Time) (string, error) {
	return s.plan(ctx, s.grantQuery(ctx, user, taskID, now).Order("ends_at DESC").Limit(1), &[]RequestRow{})
}

// InboxCountPlan returns the database's plan for InboxCount's statement, made like
// AuditPagePlan's.
func (s *Store) InboxCountPlan(ctx context.Context, user pam.UserID, now time.Time) (string, error) {
	return s.plan(ctx, s.inboxCountQuery(ctx, user, now), &[]struct{ N int64 }{})
}

// SessionPlan returns the database's plan for SessionWithUser's statement with the inbox
// counted at inboxAt, made like AuditPagePlan's.
func (s *Store) SessionPlan(ctx context.Context, idHash, enrolmentKey string, inboxAt time.Time) (string, error) {
	return s.plan(ctx, s.sessionQuery(ctx, idHash, enrolmentKey, inboxAt), &[]sessionUserRow{})
}

// InboxPagePlan returns the database's plan for InboxPage's statement, made like
// AuditPagePlan's.
// limit counts the one row read past the page.
func (s *Store) InboxPagePlan(ctx context.Context, user pam.UserID, now time.Time, after *pam.Cursor, limit int) (string, error) {
	return s.plan(ctx, s.inboxPageQuery(ctx, user, now, pam.InboxFilter{After: after, Limit: limit - 1}), &[]inboxPageRow{})
}

// PreparedPlans runs fn inside one transaction, so on one connection, and returns how many
// generic and custom plans PostgreSQL made there for the prepared statements whose text holds
// like (pgx prepares and caches every statement on its connection).
func (s *Store) PreparedPlans(ctx context.Context, like string, fn func(tx *Store) error) (generic, custom int64, err error) {
	err = s.Tx(ctx, func(tx *Store) error {
		if err := fn(tx); err != nil {
			return err
		}
		var r struct{ Generic, Custom int64 }
		err := tx.db.Raw(`SELECT COALESCE(SUM(generic_plans), 0) AS generic, COALESCE(SUM(custom_plans), 0) AS custom
			FROM pg_prepared_statements WHERE strpos(statement, ?) > 0`, like).Scan(&r).Error
		generic, custom = r.Generic, r.Custom
		return err
	})
	return generic, custom, err
}

// GenericPlans returns PostgreSQL's generic plans (the ones a prepared statement is run with
// from its sixth call on) for InboxCount's, SessionWithUser's and InboxPage's statements.
func (s *Store) GenericPlans(ctx context.Context, user pam.UserID, idHash, enrolmentKey string, now time.Time) (map[string]string, error) {
	out := map[string]string{}
	for name, q := range map[string]struct {
		q    *gorm.DB
		dest any
	}{
		"count":   {s.inboxCountQuery(ctx, user, now), &[]struct{ N int64 }{}},
		"session": {s.sessionQuery(ctx, idHash, enrolmentKey, now), &[]sessionUserRow{}},
		"page":    {s.inboxPageQuery(ctx, user, now, pam.InboxFilter{Limit: 25}), &[]inboxPageRow{}},
	} {
		stmt := q.q.Session(&gorm.Session{DryRun: true}).Find(q.dest).Statement
		err := s.Tx(ctx, func(tx *Store) error {
			if err := tx.db.Exec("SET LOCAL plan_cache_mode = force_generic_plan").Error; err != nil {
				return err
			}
			if err := tx.db.Exec("PREPARE elevate_generic AS " + stmt.SQL.String()).Error; err != nil {
				return err
			}
			// EXECUTE takes no bound parameters: the values are written out (test values only).
			args := make([]string, len(stmt.Vars))
			for i, v := range stmt.Vars {
				switch v := v.(type) {
				case string:
					args[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
				case time.Time:
					args[i] = "'" + v.UTC().Format(time.RFC3339Nano) + "'"
				default:
					args[i] = fmt.Sprint(v)
				}
			}
			var lines []string
			if err := tx.db.Raw("EXPLAIN EXECUTE elevate_generic(" + strings.Join(args, ", ") + ")").Scan(&lines).Error; err != nil {
				return err
			}
			out[name] = strings.Join(lines, "\n")
			return tx.db.Exec("DEALLOCATE elevate_generic").Error
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
}

// IndexExists reports whether the database has an index of that name.
func (s *Store) IndexExists(ctx context.Context, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?"
	if s.dialect == Postgres {
		q = "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?"
	}
	var n int64
	err := s.db.WithContext(ctx).Raw(q, name).Scan(&n).Error
	return n == 1, err
}

func (s *Store) plan(ctx context.Context, q *gorm.DB, dest any) (string, error) {
	stmt := q.Session(&gorm.Session{DryRun: true}).Find(dest).Statement
	var lines []string
	err := s.Tx(ctx, func(tx *Store) error {
		prefix := "EXPLAIN QUERY PLAN "
		if s.dialect == Postgres {
			prefix = "EXPLAIN "
			for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_sort = off"} {
				if err := tx.db.Exec(set).Error; err != nil {
					return err
				}
			}
		}
		rows, err := tx.db.Raw(prefix+stmt.SQL.String(), stmt.Vars...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			lines = append(lines, fmt.Sprint(vals[len(vals)-1]))
		}
		return rows.Err()
	})
	return strings.Join(lines, "\n"), err
}

// MigrateUpTo applies the migrations up to and including id, as an older version would have.
func (s *Store) MigrateUpTo(ctx context.Context, id string) error {
	all := s.migrations()
	for i, m := range all {
		if m.ID == id {
			return s.migrateList(s.db.WithContext(ctx), all[:i+1])
		}
	}
	return fmt.Errorf("no migration %s", id)
}

// HoldConnections takes n connections from the pool at once, then gives them all back, and
// returns the pool's statistics after that.
func (s *Store) HoldConnections(ctx context.Context, n int) (sql.DBStats, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return sql.DBStats{}, err
	}
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := sqlDB.Conn(ctx)
		if err != nil {
			return sql.DBStats{}, err
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	return sqlDB.Stats(), nil
}

// MaxOpenConnections is the pool's size for the dialect.
func MaxOpenConnections(dialect string) int {
	if dialect == SQLite {
		return maxOpenSQLite
	}
	return maxOpenPostgres()
}

// SealPlan explains the statement that seals two stored events (EXPLAIN QUERY PLAN on SQLite,
// EXPLAIN on PostgreSQL), as one line.
func (s *Store) SealPlan(ctx context.Context) (string, error) {
	q, args := s.sealStatement([]audit.Event{{ID: 1, Seq: 1}, {ID: 2, Seq: 2}}, time.Now())
	prefix := "EXPLAIN QUERY PLAN "
	if s.dialect == Postgres {
		prefix = "EXPLAIN (COSTS OFF) "
	}
	var rows []map[string]any
	if err := s.conn(ctx).Raw(prefix+q, args...).Scan(&rows).Error; err != nil {
		return "", err
	}
	var lines []string
	for _, r := range rows {
		for _, k := range []string{"detail", "QUERY PLAN"} {
			if v, ok := r[k]; ok {
				lines = append(lines, fmt.Sprint(v))
			}
		}
	}
	return strings.Join(lines, "; "), nil
}

// sessionQuery is SessionWithUser's statement as a gorm query, for the plan tests.
func (s *Store) sessionQuery(ctx context.Context, idHash, enrolmentKey string, inboxAt time.Time) *gorm.DB {
	return s.conn(ctx).Raw(sessionSQL(s.dialect, !inboxAt.IsZero()), sessionArgs(idHash, enrolmentKey, inboxAt))
}

// EventAtGenericPlan returns PostgreSQL's generic plan for AuditEventAt's statement (the plan a
// prepared statement keeps from its sixth call on), run for seq with the rows each node read.
func (s *Store) EventAtGenericPlan(ctx context.Context, seq int64) (string, error) {
	var lines []string
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.db.Exec("SET LOCAL plan_cache_mode = force_generic_plan").Error; err != nil {
			return err
		}
		if err := tx.db.Exec("PREPARE elevate_event_at AS " + compileNamed(Postgres, eventAtSQL).sql).Error; err != nil {
			return err
		}
		if err := tx.db.Raw(fmt.Sprintf("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE elevate_event_at(%d)", seq)).Pluck("QUERY PLAN", &lines).Error; err != nil {
			return err
		}
		return tx.db.Exec("DEALLOCATE elevate_event_at").Error
	})
	return strings.Join(lines, "\n"), err
}

// AuditIndexes returns each index on audit_events that the schema declares, by name, with its
// definition (sqlite_master's SQL on SQLite, pg_indexes' on PostgreSQL).
func (s *Store) AuditIndexes(ctx context.Context) (map[string]string, error) {
	q := `SELECT name, sql AS def FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' AND sql IS NOT NULL`
	if s.dialect == Postgres {
		q = `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'audit_events' AND schemaname = current_schema()`
	}
	var rows []struct{ Name, Def string }
	if err := s.conn(ctx).Raw(q).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Name] = r.Def
	}
	return out, nil
}

// OutboxToastBytes is the size of mail_outbox's TOAST table on PostgreSQL.
func (s *Store) OutboxToastBytes(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'mail_outbox'::regclass`).Scan(&n).Error
	return n, err
}

// InboxPageAnalyzed runs the inbox page's statement for f under EXPLAIN ANALYZE on PostgreSQL
// and returns the plan with the rows each node read.
func (s *Store) InboxPageAnalyzed(ctx context.Context, user pam.UserID, now time.Time, f pam.InboxFilter) (string, error) {
	q, args := s.inboxPageSQL(user, now, f)
	return s.analyzed(ctx, q, args)
}

// DueForSweepAnalyzed runs the sweep's statement under EXPLAIN ANALYZE on PostgreSQL.
func (s *Store) DueForSweepAnalyzed(ctx context.Context, now time.Time, limit int) (string, error) {
	return s.analyzed(ctx, dueForSweepSQL(limit), now.UTC(), now.UTC())
}

// DeadEndsAnalyzed runs CountDeadEndPolicies's statement under EXPLAIN ANALYZE on PostgreSQL.
func (s *Store) DeadEndsAnalyzed(ctx context.Context, defaultGroup string) (string, error) {
	return s.analyzed(ctx, deadEndsSQL, sql.Named("group", defaultGroup))
}

// analyzed runs q under EXPLAIN ANALYZE on PostgreSQL and returns the plan with the rows each
// node read.
func (s *Store) analyzed(ctx context.Context, q string, args ...any) (string, error) {
	var lines []string
	err := s.conn(ctx).Raw("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "+q, args...).Pluck("QUERY PLAN", &lines).Error
	return strings.Join(lines, "\n"), err
}

// TableIDs returns the ids of table's rows in id order.
func (s *Store) TableIDs(ctx context.Context, table string) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw("SELECT id FROM " + table + " ORDER BY id").Scan(&ids).Error
	return ids, err
}

// TakeSharedPool takes every connection of the shared pool and returns a function that gives
// them back.
func (s *Store) TakeSharedPool(ctx context.Context) (func(), error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	var conns []*sql.Conn
	release := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for range sqlDB.Stats().MaxOpenConnections {
		c, err := sqlDB.Conn(ctx)
		if err != nil {
			release()
			return nil, err
		}
		conns = append(conns, c)
	}
	return release, nil
}

// AuditSeqRange returns the open sequence range lo < seq < hi that a search of f's time range
// walks (auditSeqRange).
func (s *Store) AuditSeqRange(ctx context.Context, f audit.Filter) (lo, hi int64, err error) {
	k, _ := s.newAuditKeyset(f)
	err = auditSeqRange(s.conn(ctx), &k, s.now())
	return k.lo, k.hi, err
}

// MigrateSteps applies a migration for each pair of id and statement, as migrateList applies the
// product's.
func (s *Store) MigrateSteps(ctx context.Context, steps ...[2]string) error {
	var list []*gormigrate.Migration
	for _, st := range steps {
		list = append(list, &gormigrate.Migration{ID: st[0], Migrate: func(tx *gorm.DB) error { return tx.Exec(st[1]).Error }})
	}
	return s.migrateList(s.db.WithContext(ctx), list)
}

// AppendAuditNow writes ev inside the transaction tx at once, as its flush does at the end:
// tests use it to hold a stored, uncommitted event open.
func (s *Store) AppendAuditNow(ctx context.Context, ev *audit.Event) error {
	if !s.inTx {
		return fmt.Errorf("AppendAuditNow runs inside a transaction")
	}
	if err := s.AppendAudit(ctx, ev); err != nil {
		return err
	}
	return s.flush()
}

// HoldSealer keeps this process's sealer from starting a pass until the returned function is
// called, so a test can count the statements of a change alone.
func (s *Store) HoldSealer() func() {
	s.seal.pass.Lock()
	return s.seal.pass.Unlock
}

// WriteTransactions creates, updates and deletes a row through GORM outside any transaction
// and returns how many transactions GORM began for them on the pool.
func (s *Store) WriteTransactions(ctx context.Context, key string) (int, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return 0, err
	}
	spy := &beginSpy{DB: sqlDB}
	g := s.db.Session(&gorm.Session{NewDB: true, Context: ctx})
	g.Statement.ConnPool = spy
	if err := g.Create(&RateLimitRow{Key: key, WindowStart: 1, Count: 9}).Error; err != nil {
		return spy.begun, err
	}
	if err := g.Model(&RateLimitRow{}).Where("key = ?", key).Update("count", 1).Error; err != nil {
		return spy.begun, err
	}
	return spy.begun, g.Where("key = ?", key).Delete(&RateLimitRow{}).Error
}

// beginSpy is a pool that counts the transactions begun on it.
type beginSpy struct {
	*sql.DB
	begun int
}

func (b *beginSpy) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	b.begun++
	return b.DB.BeginTx(ctx, opts)
}

// inboxPageQuery is InboxPage's statement through the ORM, for its plan.
func (s *Store) inboxPageQuery(ctx context.Context, user pam.UserID, now time.Time, f pam.InboxFilter) *gorm.DB {
	q, args := s.inboxPageSQL(user, now, f)
	return s.conn(ctx).Raw(q, args)
}

// inboxPageSQL is InboxPage's statement and its named values.
func (s *Store) inboxPageSQL(user pam.UserID, now time.Time, f pam.InboxFilter) (string, map[string]any) {
	return s.inboxPageText(f), inboxArgs(user, now, f)
}
