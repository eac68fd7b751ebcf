package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/testenv"
)

// seedRequests inserts n decided requests cheaply (multi-row INSERTs), spread over the last
// days UTC days before now, each decided by a person after minutes minutes.
func (a *app) seedRequests(prefix, requester string, n, days int, minutes time.Duration, now time.Time) {
	a.t.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 500 {
		var vals []string
		var args []any
		for i := start; i < min(n, start+500); i++ {
			created := now.Add(-time.Duration(i%days)*24*time.Hour - 2*time.Hour)
			decided := created.Add(minutes)
			status := []string{"approved", "denied", "expired"}[i%3]
			vals = append(vals, "(?, ?, 'p', 'role', 'r', ?, 'manual', 1, 60, ?, ?, ?, ?)")
			args = append(args, fmt.Sprintf("%s-%d", prefix, i), requester, fmt.Sprintf("Scope %d", i%4), status, created, created.Add(24*time.Hour), decided)
		}
		if err := a.db.ExecRaw(ctx, `INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type,
			approvals_required, duration_min, status, created_at, pending_until, decided_at) VALUES `+strings.Join(vals, ", "), args...); err != nil {
			a.t.Fatal(err)
		}
	}
}

// The overview reads closed days from the rollup (each written once by the sweep) and today
// live; it draws SVG with the numbers in tables, for admins and auditors only, and its cost in
// statements does not grow with the number of requests.
func TestOverviewRollupChartsAndCost(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		a := newApp(t, dialect)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		a.mustUser("otto@example.com", "Otto Auditor", goodPassword, false)
		a.mustAuditor("otto@example.com")
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		a.mustEstate(2, olivia)
		now := a.clock.Now()

		ada := a.client()
		ada.signIn("ada@example.com", goodPassword)
		// Nothing decided yet: the chart says so rather than "max 0 a day" over an empty frame.
		if p := ada.get("/overview"); p.find("per-day-empty").Length() != 1 || p.find("per-day-max").Length() != 0 || p.find("per-day-chart").Length() != 0 {
			t.Fatalf("an empty overview: %q", p.find("per-day").Text())
		}

		a.seedRequests("a", string(rhea.ID), 30, 3, 20*time.Minute, now)
		before := a.db.Counts().Statements
		p := ada.get("/overview")
		few := a.db.Counts().Statements - before
		if p.StatusCode != http.StatusOK {
			t.Fatalf("overview: %d", p.StatusCode)
		}
		// Nothing swept yet: the closed days are empty, today is counted live.
		rows := p.find("per-day-row")
		if rows.Length() != 30 {
			t.Fatalf("%d days in the table", rows.Length())
		}
		today := rows.Last().Find("td").First().Text()
		if today != "10" {
			t.Fatalf("today made %q, want 10 (live)", today)
		}
		if y := rows.Eq(28).Find("td").First().Text(); y != "0" {
			t.Fatalf("yesterday before the sweep: %q", y)
		}
		if p.find("per-day-chart").Find("rect").Length() == 0 || p.find("scopes-chart").Length() != 1 || p.find("scopes-table").Find("tbody tr").Length() != 4 {
			t.Fatal("no chart or no scope table")
		}
		if got := p.find("dead-end").Text(); !strings.Contains(got, "Mailbox admin") ||
			!strings.Contains(got, "the approver group has 1 member and 2 approvals are needed.") {
			t.Fatalf("dead end: %q", got)
		}
		if got := p.find("fig-median-value").Text(); got != "20 min" {
			t.Fatalf("median %q", got)
		}
		// Pending now: two still waiting, the older asked 3 h 10 min ago; one timed out is not.
		for i, c := range []struct {
			asked, timesOut time.Duration
		}{{-190 * time.Minute, time.Hour}, {-time.Hour, time.Hour}, {-5 * time.Hour, -time.Minute}} {
			if err := a.db.ExecRaw(ctx, `INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name,
				approval_type, approvals_required, duration_min, status, created_at, pending_until)
				VALUES (?, ?, 'p', 'role', 'r', 'Scope 0', 'manual', 1, 60, 'pending', ?, ?)`,
				fmt.Sprintf("w-%d", i), string(rhea.ID), now.Add(c.asked), now.Add(c.timesOut)); err != nil {
				t.Fatal(err)
			}
		}
		p = ada.get("/overview")
		if v, note := p.find("fig-pending-value").Text(), p.find("fig-pending-note").Text(); v != "2" || note != "Oldest waiting 3 h 10 min" {
			t.Fatalf("pending %q, %q; want 2, oldest 3 h 10 min", v, note)
		}
		if today := p.find("per-day-row").Last().Find("td").First().Text(); today != "13" {
			t.Fatalf("today made %q, want 13 (with the three asked today)", today)
		}

		// The sweep writes the two closed days once; a later change to a closed day's requests
		// does not rewrite it.
		if n, err := a.db.WriteDailyStats(ctx, now); err != nil || n != 2 {
			t.Fatalf("rollup wrote %d days: %v", n, err)
		}
		if n, err := a.db.WriteDailyStats(ctx, now); err != nil || n != 0 {
			t.Fatalf("second rollup wrote %d days: %v", n, err)
		}
		a.seedRequests("b", string(rhea.ID), 1, 1, time.Minute, now.Add(-24*time.Hour)) // made yesterday, after the rollup
		p = ada.get("/overview")
		rows = p.find("per-day-row")
		if y := rows.Eq(28).Find("td").First().Text(); y != "10" {
			t.Fatalf("yesterday from the rollup: %q, want 10", y)
		}

		// Many more requests, the same statements.
		a.seedRequests("c", string(rhea.ID), 5000, 30, 3*time.Hour, now.Add(time.Second))
		if _, err := a.db.WriteDailyStats(ctx, now.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		before = a.db.Counts().Statements
		p = ada.get("/overview")
		if many := a.db.Counts().Statements - before; many != few {
			t.Fatalf("the overview ran %d statements with 5,000 requests, %d with 30", many, few)
		}
		if p.find("per-day-table").Length() != 1 || !strings.Contains(p.body, "<svg") {
			t.Fatal("no SVG with its table")
		}

		otto := a.client()
		otto.signIn("otto@example.com", goodPassword)
		if p := otto.get("/overview"); p.StatusCode != http.StatusOK {
			t.Fatalf("auditor: %d", p.StatusCode)
		}
		r := a.client()
		r.signIn("rhea@example.com", goodPassword)
		if p := r.get("/overview"); p.StatusCode != http.StatusForbidden {
			t.Fatalf("requester: %d", p.StatusCode)
		}
	})
}

// TestOverviewCountsAgreeWithTheirNouns: one decision is "1 decision by a person", a scope asked
// once is "1 request", and with no decision the median says there was none and the percentile
// explains nothing it does not have.
func TestOverviewCountsAgreeWithTheirNouns(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
	rhea := a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
	ada := a.client()
	ada.signIn("ada@example.com", goodPassword)
	p := ada.get("/overview")
	if got := p.find("fig-median-note").Text(); got != "No decision by a person in 30 days" {
		t.Fatalf("no decision: %q", got)
	}
	if got := p.find("fig-p90-note"); got.Length() != 0 {
		t.Fatalf("the percentile explains itself with no decision: %q", got.Text())
	}
	a.seedRequests("one", string(rhea.ID), 1, 1, 20*time.Minute, a.clock.Now())
	p = ada.get("/overview")
	if got := p.find("fig-median-note").Text(); got != "1 decision by a person" {
		t.Fatalf("one decision: %q", got)
	}
	if got := p.find("fig-p90-note").Text(); got != "9 in 10 decisions came faster" {
		t.Fatalf("percentile note: %q", got)
	}
	if got := p.find("scopes-chart").Find("title").First().Text(); got != "Scope 0: 1 request" {
		t.Fatalf("scope bar: %q", got)
	}
}
