package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
)

// CheckFacts is everything a check decides from, read in one statement by Store.CheckFacts.
type CheckFacts struct {
	// Token is the live check token the call presented; its ID is empty when the hash names
	// no token, or a revoked one.
	Token pam.CheckToken
	// Enforcement and ExemptGroupID are the organisation settings.
	Enforcement   bool
	ExemptGroupID string
	// UserID is empty when no user matches; UserDisabled says the user is disabled.
	UserID       pam.UserID
	UserDisabled bool
	// Exempt says the user is enabled and a member of the exempt group.
	Exempt bool
	// TaskID is empty when no task has the key.
	TaskID string
	// GrantID is empty when no grant is in force; otherwise GrantEndsAt is its end.
	GrantID     string
	GrantEndsAt *time.Time
}

// checkFactsRow is the single row the CheckFacts statement returns, its fields in the order of
// the statement's columns.
type checkFactsRow struct {
	TokenID        *string
	TokenName      *string
	TokenCreatedBy *string
	TokenCreatedAt *time.Time
	Enforcement    bool
	ExemptGroupID  *string
	UserID         *string
	UserDisabledAt *time.Time
	Exempt         int
	TaskID         *string
	GrantID        *string
	GrantEndsAt    *time.Time
}

// checkFactsSQL builds the one statement of a check. The settings row, the token, the user and
// the task are each found by a unique key; the grant is the one GrantFor chooses (grantQuery's
// conditions, written out here with the user and task of the same row), read from the user's
// own grants on requests_grant_idx (requester_id, status, ends_at), newest end first, at most one.
//
// On PostgreSQL the grant is a LATERAL subquery: planned on its own with the user's id as a
// parameter, it is the same plan for every user and task, so PostgreSQL keeps one cached generic
// plan and never plans the statement again per call. Its end bound is written as a row
// comparison on the index's three columns: requests_ends_idx (status, ends_at) cannot serve it,
// so no statistics (fresh, stale or none, right after a bulk load) can make the plan walk
// every in-force grant of every user instead of the user's own. SQLite has no LATERAL; it
// reads the same grant through a correlated subquery, with the plain end bound its planner
// puts on the same index, and joins the row by its primary key.
func checkFactsSQL(dialect string, byEmail bool) string {
	userKey := "u.id = ?"
	if byEmail {
		userKey = "u.email = ?"
	}
	cols, ends := "r.id, r.ends_at", "(r.requester_id, r.status, r.ends_at) > (u.id, '"+string(pam.StatusApproved)+"', ?)"
	if dialect == SQLite {
		cols, ends = "r.id", "r.ends_at > ?"
	}
	grant := `SELECT ` + cols + ` FROM requests r
		WHERE r.requester_id = u.id AND r.status = '` + string(pam.StatusApproved) + `'
			AND ` + ends + ` AND r.starts_at <= ?
			AND ((r.scope_type = 'task' AND r.scope_id = t.id)
				OR (r.scope_type = 'role' AND r.scope_id IN (SELECT rt.role_id FROM role_tasks rt WHERE rt.task_id = t.id))
				OR (r.scope_type = 'role_group' AND r.scope_id IN (SELECT rgr.role_group_id FROM role_group_roles rgr
					JOIN role_tasks rgt ON rgt.role_id = rgr.role_id WHERE rgt.task_id = t.id)))
			AND (r.extends_id = '' OR EXISTS (SELECT 1 FROM requests b WHERE b.id = r.extends_id
				AND b.status IN ('` + string(pam.StatusApproved) + `', '` + string(pam.StatusExpired) + `')
				AND (b.ends_at >= r.starts_at OR b.ends_at < r.decided_at)))
		ORDER BY r.ends_at DESC LIMIT 1`
	join := `LEFT JOIN LATERAL (` + grant + `) g ON true`
	if dialect == SQLite {
		join = `LEFT JOIN requests g ON g.id = (` + grant + `)`
	}
	return `SELECT k.id AS token_id, k.name AS token_name, k.created_by AS token_created_by, k.created_at AS token_created_at,
			o.enforcement AS enforcement, o.exempt_group_id AS exempt_group_id,
			u.id AS user_id, u.disabled_at AS user_disabled_at,
			CASE WHEN u.disabled_at IS NULL AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = o.exempt_group_id AND gm.user_id = u.id)
				THEN 1 ELSE 0 END AS exempt,
			t.id AS task_id, g.id AS grant_id, g.ends_at AS grant_ends_at
		FROM org_settings o
		LEFT JOIN check_tokens k ON k.token_hash = ? AND k.revoked_at IS NULL
		LEFT JOIN users u ON ` + userKey + `
		LEFT JOIN tasks t ON t.key_lower = ?
		` + join + `
		WHERE o.id = 1`
}

// The statement has four shapes, fixed at start, with the dialect's placeholders (it runs on
// database/sql directly, see queryPositional): each keeps its one prepared plan per connection.
var checkFactsSQLs = map[string][2]string{
	Postgres: {positional(Postgres, checkFactsSQL(Postgres, false)), positional(Postgres, checkFactsSQL(Postgres, true))},
	SQLite:   {checkFactsSQL(SQLite, false), checkFactsSQL(SQLite, true)},
}

// CheckFacts reads, in one statement, everything a check decides from: the live check token
// whose secret hashes to tokenHash, the organisation settings, the user (by email, compared
// lower-cased, when userRef holds an @, else by id), whether that user is in the exempt group,
// the task with taskKey (ignoring case) and the grant in force at now that lets the user run it,
// chosen as GrantFor chooses. Nothing is cached: a revoked token, a changed setting, a disabled
// user and a revoked or expired grant are all seen by the next call. Without the settings row
// (or the database) it returns an error, and the caller must deny.
func (s *Store) CheckFacts(ctx context.Context, tokenHash, userRef, taskKey string, now time.Time) (CheckFacts, error) {
	byEmail, userArg := false, userRef
	if strings.Contains(userRef, "@") {
		byEmail, userArg = true, strings.ToLower(userRef)
	}
	at := now.UTC()
	q := checkFactsSQLs[s.dialect][0]
	if byEmail {
		q = checkFactsSQLs[s.dialect][1]
	}
	rows, err := s.queryPositional(ctx, q, tokenHash, userArg, strings.ToLower(taskKey), at, at)
	if err != nil {
		return CheckFacts{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return CheckFacts{}, err
		}
		return CheckFacts{}, errors.New("check facts: the organisation settings row is missing")
	}
	var r checkFactsRow
	if err := rows.Scan(&r.TokenID, &r.TokenName, &r.TokenCreatedBy, &r.TokenCreatedAt, &r.Enforcement, &r.ExemptGroupID,
		&r.UserID, &r.UserDisabledAt, &r.Exempt, &r.TaskID, &r.GrantID, &r.GrantEndsAt); err != nil {
		return CheckFacts{}, err
	}
	if err := rows.Close(); err != nil {
		return CheckFacts{}, err
	}
	f := CheckFacts{
		Enforcement: r.Enforcement, ExemptGroupID: deref(r.ExemptGroupID), UserID: pam.UserID(deref(r.UserID)),
		UserDisabled: r.UserDisabledAt != nil, Exempt: r.Exempt != 0, TaskID: deref(r.TaskID), GrantID: deref(r.GrantID),
	}
	if r.TokenID != nil {
		f.Token = pam.CheckToken{ID: *r.TokenID, Name: deref(r.TokenName), CreatedBy: deref(r.TokenCreatedBy)}
		if r.TokenCreatedAt != nil {
			f.Token.CreatedAt = r.TokenCreatedAt.UTC()
		}
	}
	if f.GrantID != "" {
		f.GrantEndsAt = utcPtr(r.GrantEndsAt)
	}
	return f, nil
}
