package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
)

type dailyStatsRow struct {
	Day             string `gorm:"primaryKey"`
	Created         int
	Approved        int
	Denied          int
	TimedOut        int
	Withdrawn       int
	Cancelled       int
	DecisionMinutes string
	Scopes          string
	WrittenAt       time.Time
}

func (dailyStatsRow) TableName() string { return "daily_stats" }

const dayLayout = "2006-01-02"

// utcDay is the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// countDay reads one UTC day [from, from+24h) from the requests, two indexed range reads:
// those made that day (by created_at) and those that left pending that day (by decided_at).
func countDay(db dbConn, ctx context.Context, from, to time.Time) (pam.DayStats, error) {
	st := pam.DayStats{Day: from.Format(dayLayout), DecisionMinutes: map[int]int{}, Scopes: map[string]int{}}
	var made []struct {
		ScopeName string
		N         int
	}
	if err := db.conn(ctx).Raw(`SELECT scope_name, COUNT(*) AS n FROM requests WHERE created_at >= ? AND created_at < ?
		GROUP BY scope_name`, from, to).Find(&made).Error; err != nil {
		return st, fmt.Errorf("requests made on %s: %w", st.Day, err)
	}
	for _, r := range made {
		st.Created += r.N
		st.Scopes[r.ScopeName] += r.N
	}
	var left []struct {
		Status, ApprovalType string
		CreatedAt, DecidedAt time.Time
	}
	if err := db.conn(ctx).Raw(`SELECT status, approval_type, created_at, decided_at FROM requests
		WHERE decided_at >= ? AND decided_at < ?`, from, to).Find(&left).Error; err != nil {
		return st, fmt.Errorf("requests decided on %s: %w", st.Day, err)
	}
	for _, r := range left {
		manual := r.ApprovalType == "manual"
		switch pam.Status(r.Status) {
		case pam.StatusApproved, pam.StatusExpired, pam.StatusRevoked, "ended": // ended early, once that state exists
			st.Approved++
		case pam.StatusDenied:
			st.Denied++
		case pam.StatusTimedOut:
			st.TimedOut++
			manual = false
		case pam.StatusWithdrawn:
			st.Withdrawn++
			manual = false
		case pam.StatusCancelled:
			st.Cancelled++
			manual = false
		default:
			manual = false
		}
		if manual {
			st.DecisionMinutes[int(r.DecidedAt.Sub(r.CreatedAt)/time.Minute)]++
		}
	}
	return st, nil
}

// dbConn is what countDay needs: a Store or a migration's transaction.
type dbConn interface {
	conn(ctx context.Context) *gorm.DB
}

// WriteDailyStats writes the rollup of every closed UTC day before now that has none yet, from
// the day of the oldest request (or the day after the newest row) to yesterday. A day already
// written is never written again (INSERT … ON CONFLICT DO NOTHING settles two sweepers).
// It returns how many days it wrote.
func (s *Store) WriteDailyStats(ctx context.Context, now time.Time) (int, error) {
	return writeDailyStats(s, ctx, now)
}

func writeDailyStats(db dbConn, ctx context.Context, now time.Time) (int, error) {
	today := utcDay(now)
	var last struct{ Day *string }
	if err := db.conn(ctx).Raw(`SELECT MAX(day) AS day FROM daily_stats`).Find(&last).Error; err != nil {
		return 0, fmt.Errorf("daily stats: last day: %w", err)
	}
	var from time.Time
	if last.Day != nil && *last.Day != "" {
		d, err := time.Parse(dayLayout, *last.Day)
		if err != nil {
			return 0, fmt.Errorf("daily stats: last day %q: %w", *last.Day, err)
		}
		from = d.AddDate(0, 0, 1)
	} else {
		var first []struct{ CreatedAt time.Time }
		if err := db.conn(ctx).Raw(`SELECT created_at FROM requests ORDER BY created_at LIMIT 1`).Find(&first).Error; err != nil {
			return 0, fmt.Errorf("daily stats: first request: %w", err)
		}
		if len(first) == 0 {
			return 0, nil
		}
		from = utcDay(first[0].CreatedAt)
	}
	n := 0
	for day := from; day.Before(today); day = day.AddDate(0, 0, 1) {
		st, err := countDay(db, ctx, day, day.AddDate(0, 0, 1))
		if err != nil {
			return n, err
		}
		mins, _ := json.Marshal(st.DecisionMinutes)
		scopes, _ := json.Marshal(st.Scopes)
		if err := db.conn(ctx).Exec(`INSERT INTO daily_stats (day, created, approved, denied, timed_out, withdrawn, cancelled,
			decision_minutes, scopes, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day) DO NOTHING`,
			st.Day, st.Created, st.Approved, st.Denied, st.TimedOut, st.Withdrawn, st.Cancelled, string(mins), string(scopes), now.UTC()).Error; err != nil {
			return n, fmt.Errorf("daily stats %s: %w", st.Day, err)
		}
		n++
	}
	return n, nil
}

// DashboardStats reads the last days UTC days (today included) and the counts of now, in a
// fixed number of statements however many requests there are: one for the rollup, two for
// today, one each for pending, in force and the policies nobody can approve.
func (s *Store) DashboardStats(ctx context.Context, now time.Time, days int) (pam.Stats, error) {
	today := utcDay(now)
	first := today.AddDate(0, 0, -(days - 1))
	var rows []dailyStatsRow
	if err := s.conn(ctx).Where("day >= ? AND day < ?", first.Format(dayLayout), today.Format(dayLayout)).Order("day").Find(&rows).Error; err != nil {
		return pam.Stats{}, fmt.Errorf("daily stats: %w", err)
	}
	byDay := map[string]pam.DayStats{}
	for _, r := range rows {
		st := pam.DayStats{Day: r.Day, Created: r.Created, Approved: r.Approved, Denied: r.Denied, TimedOut: r.TimedOut,
			Withdrawn: r.Withdrawn, Cancelled: r.Cancelled}
		_ = json.Unmarshal([]byte(r.DecisionMinutes), &st.DecisionMinutes)
		_ = json.Unmarshal([]byte(r.Scopes), &st.Scopes)
		byDay[r.Day] = st
	}
	var out pam.Stats
	for d := first; d.Before(today); d = d.AddDate(0, 0, 1) {
		st, ok := byDay[d.Format(dayLayout)]
		if !ok {
			st = pam.DayStats{Day: d.Format(dayLayout)}
		}
		out.Days = append(out.Days, st)
	}
	live, err := countDay(s, ctx, today, now.Add(time.Nanosecond))
	if err != nil {
		return out, err
	}
	out.Days = append(out.Days, live)

	// Counted in the database: an organisation may have thousands waiting. SQLite's MIN() gives
	// the time as text, which nullTime reads.
	pending, err := s.queryDirect(ctx, `SELECT COUNT(*), MIN(created_at) FROM requests WHERE status = @pending AND pending_until > @now`,
		map[string]any{"pending": string(pam.StatusPending), "now": now.UTC()})
	if err != nil {
		return out, fmt.Errorf("pending requests: %w", err)
	}
	var oldest nullTime
	if pending.Next() {
		err = pending.Scan(&out.Pending, &oldest)
	}
	if err = errors.Join(err, pending.Err(), pending.Close()); err != nil {
		return out, fmt.Errorf("pending requests: %w", err)
	}
	out.OldestPending = oldest.Time
	var inForce struct{ N int }
	if err := s.conn(ctx).Raw(`SELECT COUNT(*) AS n FROM requests WHERE status = ? AND ends_at > ? AND starts_at <= ?`,
		string(pam.StatusApproved), now, now).Find(&inForce).Error; err != nil {
		return out, fmt.Errorf("grants in force: %w", err)
	}
	out.InForce = inForce.N
	var dead []struct {
		ID, Scope         string
		Approvers, Needed int
	}
	// The requester never approves their own request, so a lone approver may still be stuck;
	// that finer case is the policy page's to explain. Here: too few people at all (deadEnd).
	const defaultGroup = "(SELECT default_approver_group_id FROM org_settings LIMIT 1)"
	if err := s.conn(ctx).Raw(`SELECT p.id AS id, COALESCE(t.key, ro.name, rg.name, '') AS scope, p.approvals_required AS needed,
			` + policyApprovers + ` AS approvers
		FROM ` + withApprovers(defaultGroup) + `
		LEFT JOIN tasks t ON p.scope_type = 'task' AND t.id = p.scope_id
		LEFT JOIN roles ro ON p.scope_type = 'role' AND ro.id = p.scope_id
		LEFT JOIN role_groups rg ON p.scope_type = 'role_group' AND rg.id = p.scope_id
		WHERE ` + deadEnd).Find(&dead).Error; err != nil {
		return out, fmt.Errorf("policies nobody can approve: %w", err)
	}
	for _, d := range dead {
		out.DeadEnds = append(out.DeadEnds, pam.DeadEndPolicy{PolicyID: d.ID, Scope: d.Scope, Approvers: d.Approvers, Needed: d.Needed})
	}
	return out, nil
}
