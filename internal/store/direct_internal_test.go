package store

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestCompileNamed(t *testing.T) {
	q := `SELECT @a, '@not', x FROM t WHERE y = @b_2 AND z = @a AND e = 'a@b.example' AND w = @`
	pg := compileNamed(Postgres, q)
	if want := `SELECT $1, '@not', x FROM t WHERE y = $2 AND z = $3 AND e = 'a@b.example' AND w = @`; pg.sql != want {
		t.Errorf("postgres:\n got %s\nwant %s", pg.sql, want)
	}
	if want := []string{"a", "b_2", "a"}; !slices.Equal(pg.names, want) {
		t.Errorf("names %v, want %v", pg.names, want)
	}
	lite := compileNamed(SQLite, q)
	if want := `SELECT ?, '@not', x FROM t WHERE y = ? AND z = ? AND e = 'a@b.example' AND w = @`; lite.sql != want {
		t.Errorf("sqlite:\n got %s\nwant %s", lite.sql, want)
	}
}

func TestPositional(t *testing.T) {
	q := `SELECT ?, '?' FROM t WHERE a = ? AND b = 'x'`
	if got, want := positional(Postgres, q), `SELECT $1, '?' FROM t WHERE a = $2 AND b = 'x'`; got != want {
		t.Errorf("postgres: got %s, want %s", got, want)
	}
	if got := positional(SQLite, q); got != q {
		t.Errorf("sqlite: got %s", got)
	}
}

// No statement of the store binds its LIMIT (see limitClause): on SQLite each call of one was
// parsed twice. The gorm builder's Limit is written as a literal on SQLite already.
func TestNoStatementBindsItsLimit(t *testing.T) {
	for _, hit := range sourceLines(t, regexp.MustCompile(`(?i)\bLIMIT\s+[?@$]`)) {
		t.Errorf("binds its LIMIT: %s", hit)
	}
}

// Every keyset cursor compares a row value, (a, b) < (?, ?), which both databases read as one
// range of the index in the list's order. Written as a < ? OR (a = ? AND b < ?), PostgreSQL
// walked the index from its start past every row before the page (121-140 ms deep in a list of
// 150,000 mails).
func TestKeysetCursorsCompareRows(t *testing.T) {
	for _, hit := range sourceLines(t, regexp.MustCompile(`[<>] \? OR \(`)) {
		t.Errorf("a cursor of OR terms: %s", hit)
	}
}

// sourceLines returns the lines of the package's non-test sources that match re, as
// file:line: text.
func sourceLines(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if re.MatchString(line) {
				hits = append(hits, fmt.Sprintf("%s:%d: %s", f, i+1, strings.TrimSpace(line)))
			}
		}
	}
	return hits
}
