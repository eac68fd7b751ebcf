package store

import (
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
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	bound := regexp.MustCompile(`(?i)\bLIMIT\s+[?@$]`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if bound.MatchString(line) {
				t.Errorf("%s:%d binds its LIMIT: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
