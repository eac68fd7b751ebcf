package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// CheckFactsPlan returns the plan CheckFacts's statement runs with (looking the user up by
// email): on PostgreSQL the cached generic plan, the one a prepared statement keeps once it
// stops planning per call (forced with plan_cache_mode, run with EXPLAIN ANALYZE through
// PREPARE and EXECUTE); on SQLite its query plan.
func (s *Store) CheckFactsPlan(ctx context.Context, tokenHash, email, taskKey string, now time.Time) (string, error) {
	q := checkFactsSQLs[s.dialect][1]
	args := []string{tokenHash, strings.ToLower(email), strings.ToLower(taskKey), now.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano)}
	var lines []string
	err := s.Tx(ctx, func(tx *Store) error {
		var sql string
		if s.dialect == Postgres {
			for i := 1; strings.Contains(q, "?"); i++ {
				q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
			}
			lits := make([]string, len(args))
			for i, a := range args {
				lits[i] = "'" + strings.ReplaceAll(a, "'", "''") + "'"
			}
			for _, st := range []string{"SET LOCAL plan_cache_mode = force_generic_plan",
				"PREPARE check_facts_plan (text, text, text, timestamptz, timestamptz) AS " + q} {
				if err := tx.db.Exec(st).Error; err != nil {
					return err
				}
			}
			defer tx.db.Exec("DEALLOCATE check_facts_plan")
			sql = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) EXECUTE check_facts_plan(" + strings.Join(lits, ", ") + ")"
		} else {
			sql = "EXPLAIN QUERY PLAN " + q
		}
		var vals []any
		if s.dialect == SQLite {
			for _, a := range args[:3] {
				vals = append(vals, a)
			}
			vals = append(vals, now.UTC(), now.UTC())
		}
		rows, err := tx.db.Raw(sql, vals...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			v := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range v {
				ptrs[i] = &v[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			lines = append(lines, fmt.Sprint(v[len(v)-1]))
		}
		return rows.Err()
	})
	return strings.Join(lines, "\n"), err
}

// SQLiteCompiles narrows the readers' pool to one connection and counts, from now on, the
// SELECTs SQLite compiles on it: its authorizer is asked while a statement compiles, never
// while a compiled one runs again. The returned function reads the count.
func (s *Store) SQLiteCompiles(ctx context.Context) (func() int64, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxIdleConns(1)
	sqlDB.SetMaxOpenConns(1)
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var n atomic.Int64
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("the SQLite driver's connection %T takes no authorizer", dc)
		}
		return r.RegisterAuthorizer(func(action sqlite.AuthorizerActionCode, _, _, _, _ string) sqlite.AuthorizerReturnCode {
			if action == sqlite.AuthSelect {
				n.Add(1)
			}
			return sqlite.AuthorizerOK
		})
	})
	return n.Load, err
}
