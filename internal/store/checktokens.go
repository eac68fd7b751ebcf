package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
)

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

func checkTokenToDomain(r CheckTokenRow) pam.CheckToken {
	return pam.CheckToken{ID: r.ID, Name: r.Name, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), RevokedAt: utcPtr(r.RevokedAt), RevokedBy: r.RevokedBy}
}

// CreateCheckToken stores a check token under the hash of its secret; a name another token in
// use has is ECONFLICT on the name field, as a taken webhook or group name is (the unique index
// settles two at once).
func (s *Store) CreateCheckToken(ctx context.Context, t pam.CheckToken, hash string) error {
	err := s.conn(ctx).Create(&CheckTokenRow{ID: t.ID, Name: t.Name, TokenHash: hash, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt.UTC()}).Error
	// The secret's hash is unique too, but a clash of two random secrets does not happen: the
	// violation is the name's.
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return &pam.Error{Code: pam.ECONFLICT, Field: "name",
			Message: fmt.Sprintf("Another check token in use has the name %s; choose another, or revoke that one first.", t.Name)}
	}
	return err
}

// CheckTokenByHash returns a live check token by the hash of its secret.
func (s *Store) CheckTokenByHash(ctx context.Context, hash string) (pam.CheckToken, error) {
	var r CheckTokenRow
	if err := s.conn(ctx).Where("token_hash = ? AND revoked_at IS NULL", hash).Take(&r).Error; err != nil {
		return pam.CheckToken{}, translate(err, "Check token")
	}
	return checkTokenToDomain(r), nil
}

// CheckTokens lists check tokens, live ones first and newest first within each (bounded), each
// with its last use read from its newest check event: two statements for the page, whatever
// its size, and no write per check.
func (s *Store) CheckTokens(ctx context.Context, limit int) ([]pam.CheckToken, error) {
	var rows []struct {
		CheckTokenRow
		LastSeq *int64
	}
	err := s.conn(ctx).Table("check_tokens t").
		Select("t.*, (SELECT a.seq FROM audit_events a WHERE a.actor_id = t.id AND a.actor_type = ? AND a.seq IS NOT NULL ORDER BY a.actor_id DESC, a.seq DESC LIMIT 1) AS last_seq", audit.ActorToken).
		Order("t.revoked_at IS NOT NULL, t.created_at DESC, t.id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]pam.CheckToken, len(rows))
	var seqs []int64
	for i, r := range rows {
		out[i] = checkTokenToDomain(r.CheckTokenRow)
		if r.LastSeq != nil {
			seqs = append(seqs, *r.LastSeq)
		}
	}
	if len(seqs) == 0 {
		return out, nil
	}
	var events []AuditRow
	if err := s.conn(ctx).Select("seq", "at").Where("seq IN ?", seqs).Find(&events).Error; err != nil {
		return nil, err
	}
	at := make(map[int64]time.Time, len(events))
	for _, e := range events {
		if e.Seq != nil {
			at[*e.Seq] = e.At.UTC()
		}
	}
	for i, r := range rows {
		if r.LastSeq != nil {
			if t, ok := at[*r.LastSeq]; ok {
				out[i].LastUsedAt = &t
			}
		}
	}
	return out, nil
}

// RevokeCheckToken revokes a live check token; a revoked or unknown one is ECONFLICT or
// ENOTFOUND.
func (s *Store) RevokeCheckToken(ctx context.Context, id, by string, now time.Time) (pam.CheckToken, error) {
	var r CheckTokenRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return pam.CheckToken{}, translate(err, "Check token")
	}
	res := s.conn(ctx).Model(&CheckTokenRow{}).Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"revoked_at": now.UTC(), "revoked_by": by})
	if res.Error != nil {
		return pam.CheckToken{}, res.Error
	}
	if res.RowsAffected == 0 {
		return pam.CheckToken{}, pam.Errorf(pam.ECONFLICT, "The check token %s is already revoked.", r.Name)
	}
	return checkTokenToDomain(r), nil
}
