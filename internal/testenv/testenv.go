// Package testenv gives tests real databases: a fresh SQLite file or a fresh PostgreSQL schema
// per test, migrated, and removed afterwards. Tests never skip for a missing database: a
// PostgreSQL that cannot be reached is a failure, so CI cannot pass by testing less.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/store"
)

// Dialects are the databases every store and HTTP test runs against.
var Dialects = []string{store.SQLite, store.Postgres}

// PostgresURL is the server tests use; ELEVATE_TEST_POSTGRES_URL overrides it.
func PostgresURL() string {
	if u := os.Getenv("ELEVATE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// ForEachDialect runs fn as a parallel subtest on SQLite and on PostgreSQL.
func ForEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// DatabaseURL creates an empty database for one test and returns its URL: a file for SQLite,
// a new schema for PostgreSQL. Both are removed when the test ends.
func DatabaseURL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case store.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "elevate.db")
	case store.Postgres:
		return postgresSchema(t)
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

// Store opens a fresh database of the given dialect with every migration applied: a new
// PostgreSQL schema, migrated, or a SQLite file that starts as a copy of sqliteMigrated's. The
// test's own Migrate runs either way, and on the copy finds every migration applied.
func Store(t testing.TB, dialect string) *store.Store {
	t.Helper()
	u := DatabaseURL(t, dialect)
	if dialect == store.SQLite {
		b, err := sqliteMigrated()
		if err != nil {
			t.Fatalf("migrate the SQLite template: %v", err)
		}
		if err := os.WriteFile(strings.TrimPrefix(u, "sqlite:"), b, 0o600); err != nil {
			t.Fatalf("write the SQLite template to %s: %v", u, err)
		}
	}
	db, err := store.Open(u)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	// A test reads the trail right after its change: each change waits for its seal.
	db.SetSealWait(10 * time.Second)
	return db
}

var (
	templateOnce sync.Once
	template     []byte
	templateErr  error
)

// sqliteMigrated returns the bytes of a SQLite database with every migration applied, made once
// per test binary (one package's tests) in a directory of its own and removed at once. Migrating
// a new file took 1.7 s a test under the race detector (0.08 s without it), most of a short
// store or HTTP test. Closing the store's last connection folds the write-ahead log into the
// file; a log left behind would hold part of the database, so it is an error.
func sqliteMigrated() ([]byte, error) {
	templateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "elevate-template-")
		if err != nil {
			templateErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "elevate.db")
		db, err := store.Open("sqlite:" + path)
		if err != nil {
			templateErr = err
			return
		}
		err = db.Migrate(context.Background())
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if fi, werr := os.Stat(path + "-wal"); err == nil && werr == nil && fi.Size() > 0 {
			err = fmt.Errorf("%s-wal still holds %d bytes after close", path, fi.Size())
		}
		if err == nil {
			template, err = os.ReadFile(path)
		}
		templateErr = err
	})
	return template, templateErr
}

var (
	adminOnce sync.Once
	admin     *store.Store
	adminErr  error
)

func postgresSchema(t testing.TB) string {
	t.Helper()
	adminOnce.Do(func() {
		admin, adminErr = store.Open(PostgresURL())
		if adminErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			adminErr = admin.Ping(ctx)
		}
	})
	if adminErr != nil {
		t.Fatalf("PostgreSQL at %s is required for this test (make test starts it): %v", PostgresURL(), adminErr)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if err := admin.ExecRaw(context.Background(), fmt.Sprintf("CREATE SCHEMA %s", schema)); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.ExecRaw(context.Background(), fmt.Sprintf("DROP SCHEMA %s CASCADE", schema))
	})
	u, _ := url.Parse(PostgresURL())
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Clock is a settable clock for tests; it starts at a fixed instant.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to 2026-03-02 09:00 UTC.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Tamper runs stmts on the audit trail in one transaction with its append-only triggers lifted,
// as someone holding the database's keys could: for tests that show a walk of the chain finds it.
func Tamper(t testing.TB, db *store.Store, dialect string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	err := db.Tx(ctx, func(tx *store.Store) error {
		lift := []string{"SET LOCAL session_replication_role = replica"}
		if dialect == store.SQLite {
			lift = []string{"DROP TRIGGER IF EXISTS audit_events_no_update", "DROP TRIGGER IF EXISTS audit_events_no_delete"}
		}
		for _, q := range append(lift, stmts...) {
			if err := tx.ExecRaw(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
