package store

import (
	"slices"
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
