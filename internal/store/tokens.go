package store

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
)

// APITokenRow is a row of api_tokens.
type APITokenRow struct {
	ID         string
	UserID     string
	Name       string
	Scope      string
	TokenHash  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TableName fixes the table name.
func (APITokenRow) TableName() string { return "api_tokens" }

func tokenToDomain(r APITokenRow) pam.APIToken {
	return pam.APIToken{ID: r.ID, UserID: pam.UserID(r.UserID), Name: r.Name, Scope: r.Scope, CreatedAt: r.CreatedAt,
		LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
}

// CreateAPIToken stores a token under the hash of its secret.
func (s *Store) CreateAPIToken(ctx context.Context, t pam.APIToken, hash string) error {
	return s.conn(ctx).Create(&APITokenRow{ID: t.ID, UserID: string(t.UserID), Name: t.Name, Scope: t.Scope, TokenHash: hash,
		CreatedAt: t.CreatedAt.UTC()}).Error
}

// APITokenByHash returns a live (not revoked) token by the hash of its secret.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (pam.APIToken, error) {
	var r APITokenRow
	if err := s.conn(ctx).Where("token_hash = ? AND revoked_at IS NULL", hash).Take(&r).Error; err != nil {
		return pam.APIToken{}, translate(err, "Token")
	}
	return tokenToDomain(r), nil
}

// tokenUserRow is a live API token with its owner and the owner's frame.
type tokenUserRow struct {
	APITokenRow
	UEmail, UName, UTimeZone string
	UAdmin, UAuditor         bool
	UDisabledAt              *time.Time
	UCreatedAt               time.Time
	FEnrolment               string
	FApprover, FEnrolled     bool
}

// APITokenWithUser returns a live token by the hash of its secret together with its owner and
// the owner's frame (as SessionWithUser reads it for a session), in one statement: every API
// call asks this first. ENOTFOUND when no live token has that hash.
func (s *Store) APITokenWithUser(ctx context.Context, hash, enrolmentKey string) (pam.APIToken, pam.User, Frame, error) {
	rows, err := s.queryCompiled(ctx, tokenQueries[s.dialect], map[string]any{"hash": hash, "key": enrolmentKey, "now": s.now().UTC()})
	if err != nil {
		return pam.APIToken{}, pam.User{}, Frame{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return pam.APIToken{}, pam.User{}, Frame{}, err
		}
		return pam.APIToken{}, pam.User{}, Frame{}, pam.Errorf(pam.ENOTFOUND, "Token not found.")
	}
	var r tokenUserRow
	if err := rows.Scan(&r.ID, &r.UserID, &r.Name, &r.Scope, &r.TokenHash, &r.CreatedAt, &r.LastUsedAt, &r.RevokedAt,
		&r.UEmail, &r.UName, &r.UTimeZone, &r.UAdmin, &r.UAuditor, &r.UDisabledAt, &r.UCreatedAt,
		&r.FEnrolment, &r.FApprover, &r.FEnrolled); err != nil {
		return pam.APIToken{}, pam.User{}, Frame{}, err
	}
	if err := rows.Close(); err != nil {
		return pam.APIToken{}, pam.User{}, Frame{}, err
	}
	u := userToDomain(UserRow{
		ID: r.UserID, Email: r.UEmail, Name: r.UName, Admin: r.UAdmin, Auditor: r.UAuditor,
		TimeZone: r.UTimeZone, DisabledAt: r.UDisabledAt, CreatedAt: r.UCreatedAt,
	})
	r.APITokenRow.CreatedAt = r.APITokenRow.CreatedAt.UTC()
	return tokenToDomain(r.APITokenRow), u, Frame{Enrolment: r.FEnrolment, Approver: r.FApprover, MFAEnrolled: r.FEnrolled}, nil
}

// tokenSQL is APITokenWithUser's statement; its columns are tokenUserRow's, in order.
var tokenSQL = `SELECT t.id, t.user_id, t.name, t.scope, t.token_hash, t.created_at, t.last_used_at, t.revoked_at,
		u.email AS u_email, u.name AS u_name, u.time_zone AS u_time_zone, u.admin AS u_admin, u.auditor AS u_auditor,
		u.disabled_at AS u_disabled_at, u.created_at AS u_created_at,
		COALESCE((SELECT sv.value FROM system_values sv WHERE sv.key = @key), '') AS f_enrolment,
		` + approverExists("t.user_id") + ` AS f_approver,
		EXISTS (SELECT 1 FROM user_mfa m WHERE m.user_id = t.user_id AND m.confirmed_at IS NOT NULL) AS f_enrolled
	FROM api_tokens t JOIN users u ON u.id = t.user_id
	WHERE t.token_hash = @hash AND t.revoked_at IS NULL`

// tokenQueries are tokenSQL compiled once for each dialect: through the ORM, every API call
// parsed the statement's named arguments and scanned its row by reflection.
var tokenQueries = map[string]compiledQuery{Postgres: compileNamed(Postgres, tokenSQL), SQLite: compileNamed(SQLite, tokenSQL)}

// APITokens lists a user's tokens, newest first (bounded).
func (s *Store) APITokens(ctx context.Context, user pam.UserID) ([]pam.APIToken, error) {
	var rows []APITokenRow
	err := s.conn(ctx).Where("user_id = ?", string(user)).Order("created_at DESC").Limit(200).Find(&rows).Error
	out := make([]pam.APIToken, len(rows))
	for i, r := range rows {
		out[i] = tokenToDomain(r)
	}
	return out, err
}

// RevokeAPIToken revokes one of a user's live tokens.
func (s *Store) RevokeAPIToken(ctx context.Context, user pam.UserID, id string, now time.Time) (pam.APIToken, error) {
	var r APITokenRow
	if err := s.conn(ctx).Where("id = ? AND user_id = ?", id, string(user)).Take(&r).Error; err != nil {
		return pam.APIToken{}, translate(err, "Token")
	}
	res := s.conn(ctx).Model(&APITokenRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now.UTC())
	if res.Error != nil {
		return pam.APIToken{}, res.Error
	}
	if res.RowsAffected == 0 {
		return pam.APIToken{}, pam.Errorf(pam.ECONFLICT, "The token %s is already revoked.", r.Name)
	}
	return tokenToDomain(r), nil
}

// TouchAPIToken records a use, at most once a minute per token to spare writes.
func (s *Store) TouchAPIToken(ctx context.Context, id string, now time.Time) error {
	return s.conn(ctx).Model(&APITokenRow{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, now.UTC().Add(-time.Minute)).
		Update("last_used_at", now.UTC()).Error
}
