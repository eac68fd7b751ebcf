package store

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
)

// CheckToken is a target system's token for the check API, as stored (never the secret).
// It belongs to its system, not to a person: the administrator who made it is recorded, and
// changes to that person's account do not end it.
type CheckToken struct {
	ID        string
	Name      string
	CreatedBy string // the creating administrator's email, or "cli"
	CreatedAt time.Time
	RevokedAt *time.Time
	RevokedBy string
	// LastUsedAt is the time of the token's newest check event (nil if it never checked).
	LastUsedAt *time.Time
}

// CheckTokenRow is a row of check_tokens.
type CheckTokenRow struct {
	ID        string
	Name      string
	TokenHash string
	CreatedBy string
	CreatedAt time.Time
	RevokedAt *time.Time
	RevokedBy string
}

// TableName fixes the table name.
func (CheckTokenRow) TableName() string { return "check_tokens" }

func checkTokenToDomain(r CheckTokenRow) CheckToken {
	return CheckToken{ID: r.ID, Name: r.Name, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), RevokedAt: utcPtr(r.RevokedAt), RevokedBy: r.RevokedBy}
}

// CreateCheckToken stores a check token under the hash of its secret.
func (s *Store) CreateCheckToken(ctx context.Context, t CheckToken, hash string) error {
	return s.conn(ctx).Create(&CheckTokenRow{ID: t.ID, Name: t.Name, TokenHash: hash, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt.UTC()}).Error
}

// CheckTokenByHash returns a live check token by the hash of its secret.
func (s *Store) CheckTokenByHash(ctx context.Context, hash string) (CheckToken, error) {
	var r CheckTokenRow
	if err := s.conn(ctx).Where("token_hash = ? AND revoked_at IS NULL", hash).Take(&r).Error; err != nil {
		return CheckToken{}, translate(err, "Check token")
	}
	return checkTokenToDomain(r), nil
}

// CheckTokens lists check tokens, live ones first and newest first within each (bounded), each
// with its last use read from its newest check event: one index read per token, no write per
// check.
func (s *Store) CheckTokens(ctx context.Context, limit int) ([]CheckToken, error) {
	var rows []CheckTokenRow
	err := s.conn(ctx).Order("revoked_at IS NOT NULL, created_at DESC, id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]CheckToken, len(rows))
	for i, r := range rows {
		out[i] = checkTokenToDomain(r)
		var at []time.Time
		err := s.conn(ctx).Model(&AuditRow{}).Where("actor_id = ? AND actor_type = ?", r.ID, audit.ActorToken).
			Order("actor_id DESC, seq DESC").Limit(1).Pluck("at", &at).Error
		if err != nil {
			return nil, err
		}
		if len(at) == 1 {
			t := at[0].UTC()
			out[i].LastUsedAt = &t
		}
	}
	return out, nil
}

// RevokeCheckToken revokes a live check token; a revoked or unknown one is ECONFLICT or
// ENOTFOUND.
func (s *Store) RevokeCheckToken(ctx context.Context, id, by string, now time.Time) (CheckToken, error) {
	var r CheckTokenRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return CheckToken{}, translate(err, "Check token")
	}
	res := s.conn(ctx).Model(&CheckTokenRow{}).Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"revoked_at": now.UTC(), "revoked_by": by})
	if res.Error != nil {
		return CheckToken{}, res.Error
	}
	if res.RowsAffected == 0 {
		return CheckToken{}, pam.Errorf(pam.ECONFLICT, "The check token %s is already revoked.", r.Name)
	}
	return checkTokenToDomain(r), nil
}
