package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/elevate-pam/elevate/internal/store"
)

// dialectNames are the databases a run measures, as the table names them, in the order they run.
var dialectNames = map[string]string{store.Postgres: "PostgreSQL", store.SQLite: "SQLite"}

// databases reads ELEVATE_BENCH_DATABASES (comma-separated: postgres, sqlite; unset or "all"
// is both), in the order PostgreSQL, SQLite whatever order it names them in.
func databases() ([]string, error) {
	v := strings.TrimSpace(os.Getenv("ELEVATE_BENCH_DATABASES"))
	if v == "" || v == "all" {
		return []string{store.Postgres, store.SQLite}, nil
	}
	var out []string
	for _, w := range strings.Split(v, ",") {
		w = strings.TrimSpace(w)
		if _, ok := dialectNames[w]; !ok {
			return nil, fmt.Errorf("ELEVATE_BENCH_DATABASES: unknown database %q (known: postgres, sqlite)", w)
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(a, b) }) // postgres < sqlite
	return out, nil
}

// serveEnv is the environment of a measured `elevate serve` on dbURL. The per-token limit on
// checks is lifted: the benchmark measures what a process can do.
func serveEnv(dbURL string) map[string]string {
	return map[string]string{"ELEVATE_DATABASE_URL": dbURL, "ELEVATE_LOG_LEVEL": "warn", "ELEVATE_CHECK_RATE": "1000000"}
}

// dbRun is one database's part of the run: its rows, the measurements whose errors fail the
// run, and its server's peak resident memory.
type dbRun struct {
	dialect  string
	rows     []row
	measured []*result
	steady   *result
	peakRSS  int64
}

// failure is why this database's part fails the run, or nil.
func (d *dbRun) failure() error {
	if d.steady != nil && d.steady.errors.Load() > 0 {
		return fmt.Errorf("the constant-rate run had %d errors; first: %v", d.steady.errors.Load(), d.steady.firstErr())
	}
	for _, r := range d.measured {
		if r.errors.Load() > 0 {
			return fmt.Errorf("a measurement had %d errors; first: %v", r.errors.Load(), r.firstErr())
		}
	}
	if d.peakRSS >= memoryLimit {
		return fmt.Errorf("server resident memory peaked at %d MB", d.peakRSS>>20)
	}
	return nil
}

// emptyDatabase makes an empty database of dialect and returns its URL and how to remove it: a
// schema of its own on the PostgreSQL server, or a new file in dir.
func emptyDatabase(ctx context.Context, dialect, dir string) (string, func(), error) {
	if dialect == store.SQLite {
		f, err := os.CreateTemp(dir, "bench-*.db")
		if err != nil {
			return "", nil, err
		}
		f.Close()
		os.Remove(f.Name())
		return "sqlite:" + f.Name(), func() {
			for _, s := range []string{"", "-wal", "-shm"} {
				os.Remove(f.Name() + s)
			}
		}, nil
	}
	adminDB, err := store.Open(postgresURL())
	if err != nil {
		return "", nil, err
	}
	if err := adminDB.Ping(ctx); err != nil {
		adminDB.Close()
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", postgresURL(), err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "bench_" + hex.EncodeToString(b)
	if err := adminDB.ExecRaw(ctx, "CREATE SCHEMA "+schema); err != nil {
		adminDB.Close()
		return "", nil, err
	}
	drop := func() {
		_ = adminDB.ExecRaw(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		adminDB.Close()
	}
	u, _ := url.Parse(postgresURL())
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}
