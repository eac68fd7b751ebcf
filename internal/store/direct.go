package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// The hottest reads (a check's facts, a signed-in page's session) skip gorm: its statement
// builder parses named arguments byte by byte and its scanner walks the destination by
// reflection on every call, together about a sixth of such a request's CPU. They run on
// database/sql directly, on the transaction's connection when there is one, with their named
// arguments compiled once into positional ones per statement text.

// compiledQuery is a statement text whose @names are replaced by the dialect's positional
// placeholders, with the names in the order their values are passed.
type compiledQuery struct {
	sql   string
	names []string
}

// compiledQueries caches compileNamed by dialect and statement text; the texts are fixed at
// start (a few shapes each), so it stays small.
var compiledQueries sync.Map

// compileNamed replaces each @name in q (a letter or underscore, then letters, digits and
// underscores) by a positional placeholder: $1, $2… on PostgreSQL, ? on SQLite. A name used twice
// takes two places. Text inside single-quoted literals is left alone.
func compileNamed(dialect, q string) compiledQuery {
	key := dialect + "\x00" + q
	if c, ok := compiledQueries.Load(key); ok {
		return c.(compiledQuery)
	}
	var b strings.Builder
	var names []string
	quoted := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			quoted = !quoted
		}
		if quoted || c != '@' || i+1 >= len(q) || !nameStart(q[i+1]) {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(q) && nameByte(q[j]) {
			j++
		}
		names = append(names, q[i+1:j])
		if dialect == Postgres {
			b.WriteString("$" + strconv.Itoa(len(names)))
		} else {
			b.WriteByte('?')
		}
		i = j - 1
	}
	c := compiledQuery{sql: b.String(), names: names}
	compiledQueries.Store(key, c)
	return c
}

// limitClause is a LIMIT with its count written into the statement's text, for statements
// written out by hand (gorm's Limit is written so on SQLite already). SQLite plans a bound
// LIMIT by its value, so binding one marks the statement to be compiled again at its first
// step, even when it is kept prepared: every call of a statement with a bound LIMIT was
// parsed again. n always comes from the code (a page size, a cap, a batch), never from a
// request's text.
func limitClause(n int) string { return "LIMIT " + strconv.Itoa(n) }

func nameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func nameByte(c byte) bool { return nameStart(c) || (c >= '0' && c <= '9') }

// queryDirect runs q with its named arguments on database/sql and returns its rows; the caller
// scans and closes them. An argument q names but args lacks is an error, before any round trip.
func (s *Store) queryDirect(ctx context.Context, q string, args map[string]any) (*sql.Rows, error) {
	return s.queryCompiled(ctx, compileNamed(s.dialect, q), args)
}

// queryCompiled is queryDirect for a statement compiled already: one built from parts, kept by
// its shape, whose text need not be built and hashed again on every call.
func (s *Store) queryCompiled(ctx context.Context, c compiledQuery, args map[string]any) (*sql.Rows, error) {
	vals := make([]any, len(c.names))
	for i, n := range c.names {
		v, ok := args[n]
		if !ok {
			return nil, fmt.Errorf("query: no value for @%s", n)
		}
		vals[i] = v
	}
	return s.queryPositional(ctx, c.sql, vals...)
}

// queryPositional runs q, whose placeholders are already the dialect's (see positional), on
// database/sql and returns its rows; the caller scans and closes them.
func (s *Store) queryPositional(ctx context.Context, q string, vals ...any) (*sql.Rows, error) {
	pool := s.db.Statement.ConnPool
	if pool == nil {
		return nil, gorm.ErrInvalidDB
	}
	s.counts.statement()
	return pool.QueryContext(ctx, q, vals...)
}

// positional rewrites the ? placeholders of q (outside single-quoted literals) as $1, $2… on
// PostgreSQL; SQLite takes q as it is.
func positional(dialect, q string) string {
	if dialect != Postgres {
		return q
	}
	var b strings.Builder
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			quoted = !quoted
		}
		if c == '?' && !quoted {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// nullTime scans a time that may be NULL. PostgreSQL's driver gives a time.Time; SQLite's gives
// one for a column declared as a time, and the stored text where a union or an expression hides
// the declaration.
type nullTime struct {
	Time  time.Time
	Valid bool
}

// sqliteTimeLayouts are the forms SQLite's driver writes times in.
var sqliteTimeLayouts = []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05"}

// Scan implements sql.Scanner.
func (t *nullTime) Scan(src any) error {
	var text string
	switch v := src.(type) {
	case nil:
		*t = nullTime{}
		return nil
	case time.Time:
		*t = nullTime{Time: v.UTC(), Valid: true}
		return nil
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return fmt.Errorf("scan time: unsupported %T", src)
	}
	for _, layout := range sqliteTimeLayouts {
		if v, err := time.Parse(layout, text); err == nil {
			*t = nullTime{Time: v.UTC(), Valid: true}
			return nil
		}
	}
	return fmt.Errorf("scan time: %q is not a time", text)
}

// ptr is the time, or nil when it was NULL.
func (t nullTime) ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}
