package store

import (
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
)

// InboxPage's statement is kept by the shape of its filter: every filter gets the statement
// built for it, whichever filters were seen before, so no two filters share a shape whose texts
// differ.
func TestInboxStatementsAreKeptByTheirShape(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var filters []pam.InboxFilter
	for bits := range 1 << 8 {
		f := pam.InboxFilter{Limit: 25, Sort: pam.InboxByAge}
		on := func(i int) bool { return bits&(1<<i) != 0 }
		if on(0) {
			f.RequesterID = "u-1"
		}
		if on(1) {
			f.PolicyID = "p-1"
		}
		if on(2) {
			f.ScopeType, f.ScopeID = pam.ScopeTask, "t-1"
		}
		if on(3) {
			f.TimesOutBy = at
		}
		if on(4) {
			f.After = pam.CursorAt(at, "r-1")
		}
		if on(5) {
			f.NoDelegations = true
		}
		if on(6) {
			f.Sort = pam.InboxByTimeLeft
		}
		if on(7) {
			f.Decided, f.Emergencies = 20, 100
		}
		filters = append(filters, f, pam.InboxFilter{Limit: 1, Sort: f.Sort, After: f.After})
	}
	for _, dialect := range []string{Postgres, SQLite} {
		s := &Store{dialect: dialect}
		for range 2 { // the first round fills the cache, the second reads it
			for _, f := range filters {
				if got, want := s.inboxPageCompiled(f).sql, compileNamed(dialect, s.inboxPageText(f)).sql; got != want {
					t.Fatalf("%s, %+v: the kept statement is another filter's", dialect, f)
				}
			}
		}
	}
}
