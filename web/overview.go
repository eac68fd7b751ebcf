package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/overview"
	"github.com/labstack/echo/v4"
)

// OrgStats reads the organisation overview's figures; *store.Store provides it, from the daily
// rollup and a few indexed counts, in a fixed number of statements.
type OrgStats interface {
	DashboardStats(ctx context.Context, now time.Time, days int) (pam.Stats, error)
}

// overviewDays is how far back the overview looks, today included.
const overviewDays = 30

// showOverview is the organisation overview for administrators and auditors (read-only).
func (s *Server) showOverview(c echo.Context) error {
	now := s.now()
	st, err := s.stats.DashboardStats(c.Request().Context(), now, overviewDays)
	if err != nil {
		return fmt.Errorf("overview: %w", err)
	}
	u, _ := CurrentUser(c)
	vm := overview.VM{Meta: s.meta(c, "Overview"), ChartW: 600, ChartH: 140, Pending: st.Pending, InForce: st.InForce, CanEdit: u.Admin}
	if !st.OldestPending.IsZero() {
		vm.Oldest = "Oldest waiting " + pam.FormatDuration(now.Sub(st.OldestPending).Truncate(time.Minute))
	}
	minutes := map[int]int{}
	scopes := map[string]int{}
	for _, d := range st.Days {
		vm.MaxPerDay = max(vm.MaxPerDay, d.Approved+d.Denied+d.TimedOut+d.Withdrawn+d.Cancelled)
		for m, n := range d.DecisionMinutes {
			minutes[m] += n
		}
		for k, n := range d.Scopes {
			scopes[k] += n
		}
	}
	slot := vm.ChartW / len(st.Days)
	for i, d := range st.Days {
		vm.Days = append(vm.Days, overview.DayRow{Day: d.Day, Created: d.Created, Approved: d.Approved, Denied: d.Denied,
			TimedOut: d.TimedOut, Other: d.Withdrawn + d.Cancelled})
		y := vm.ChartH
		for _, part := range []struct {
			n           int
			class, what string
		}{{d.Approved, "bar-approved", "approved"}, {d.Denied, "bar-denied", "denied"}, {d.TimedOut, "bar-timed-out", "timed out"},
			{d.Withdrawn + d.Cancelled, "bar-other", "withdrawn or cancelled"}} {
			if part.n == 0 {
				continue
			}
			h := max(1, part.n*(vm.ChartH-14)/max(1, vm.MaxPerDay))
			y -= h
			vm.Bars = append(vm.Bars, overview.Rect{X: i*slot + 1, Y: y, W: slot - 2, H: h, Class: part.class,
				Title: fmt.Sprintf("%s: %d %s", d.Day, part.n, part.what)})
		}
	}
	vm.Decisions, vm.Median, vm.P90 = decisionTimes(minutes)
	vm.DecisionsNote = "No decision by a person in 30 days"
	if vm.Decisions > 0 {
		vm.DecisionsNote = pam.Count(vm.Decisions, "decision by a person", "decisions by people")
		vm.P90Note = "9 in 10 decisions came faster"
	}
	type kv struct {
		name string
		n    int
	}
	var top []kv
	for k, n := range scopes {
		top = append(top, kv{k, n})
	}
	slices.SortFunc(top, func(a, b kv) int { return cmp.Or(b.n-a.n, cmp.Compare(a.name, b.name)) })
	top = top[:min(len(top), 6)]
	for i, t := range top {
		vm.Scopes = append(vm.Scopes, overview.ScopeRow{Name: t.name, Requests: t.n,
			Bar: overview.Rect{X: 0, Y: i*34 + 16, W: max(2, t.n*300/top[0].n), H: 12, Title: t.name + ": " + count(t.n, "request")}})
	}
	vm.ScopeChartH = len(top)*34 + 4
	for _, d := range st.DeadEnds {
		members := "no enabled members"
		if d.Approvers > 0 {
			members = count(d.Approvers, "member")
		}
		verb := "are"
		if d.Needed == 1 {
			verb = "is"
		}
		why := fmt.Sprintf("No one can approve this: the approver group has %s and %s %s needed.", members, count(d.Needed, "approval"), verb)
		if u.Admin {
			why += " Add approvers to the group or lower the approvals needed."
		}
		vm.DeadEnds = append(vm.DeadEnds, overview.DeadEnd{Scope: d.Scope, Why: why, URL: "/admin/policies/" + d.PolicyID})
	}
	return render(c, http.StatusOK, overview.Page(vm))
}

// count is "1 member", "2 members".
func count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// decisionTimes reads the median and the 90th percentile from decision minutes (minutes → how
// many), nearest rank; "—" when nobody decided anything.
func decisionTimes(minutes map[int]int) (n int, median, p90 string) {
	keys := slices.Sorted(func(yield func(int) bool) {
		for k := range minutes {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		n += minutes[k]
	}
	if n == 0 {
		return 0, "—", "—"
	}
	at := func(q float64) string {
		rank := int(q*float64(n) + 0.999999) // nearest rank, 1-based
		seen := 0
		for _, k := range keys {
			if seen += minutes[k]; seen >= max(rank, 1) {
				if k == 0 {
					return "under 1 min"
				}
				return pam.FormatDuration(time.Duration(k) * time.Minute)
			}
		}
		return "—"
	}
	return n, at(0.5), at(0.9)
}
