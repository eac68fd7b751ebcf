package store

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// MFARow is a row of user_mfa: one TOTP secret per user, encrypted by the auth layer. A row
// without ConfirmedAt is an enrolment that has begun but not been confirmed with a first code.
type MFARow struct {
	UserID      string `gorm:"primaryKey;size:36"`
	SecretEnc   string `gorm:"size:200;not null"`
	ConfirmedAt *time.Time
	// LastStep is the last TOTP time step accepted for this user; a code is accepted only for a
	// later step, so a code cannot be used twice.
	LastStep  int64     `gorm:"not null;default:0"`
	CreatedAt time.Time `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
}

// TableName fixes the table name.
func (MFARow) TableName() string { return "user_mfa" }

// RecoveryCodeRow is a row of mfa_recovery_codes; only a keyed hash of the code is stored.
type RecoveryCodeRow struct {
	ID       int64  `gorm:"primaryKey;autoIncrement"`
	UserID   string `gorm:"size:36;not null;index"`
	CodeHash string `gorm:"size:64;not null;uniqueIndex"`
	UsedAt   *time.Time
}

// TableName fixes the table name.
func (RecoveryCodeRow) TableName() string { return "mfa_recovery_codes" }

// MFA is a user's TOTP enrolment as the auth layer sees it.
type MFA struct {
	UserID      pam.UserID
	SecretEnc   string
	ConfirmedAt *time.Time
	LastStep    int64
	CreatedAt   time.Time
}

// Confirmed reports whether the enrolment is complete.
func (m MFA) Confirmed() bool { return m.ConfirmedAt != nil }

// MFAByUser returns a user's enrolment, or ENOTFOUND when there is none.
func (s *Store) MFAByUser(ctx context.Context, id pam.UserID) (MFA, error) {
	var r MFARow
	if err := s.conn(ctx).Where("user_id = ?", string(id)).Take(&r).Error; err != nil {
		return MFA{}, translate(err, "Two-step verification")
	}
	return MFA{UserID: pam.UserID(r.UserID), SecretEnc: r.SecretEnc, ConfirmedAt: r.ConfirmedAt, LastStep: r.LastStep, CreatedAt: r.CreatedAt}, nil
}

// MFAStatus returns a user's enrolment with how many of their recovery codes are unused, in one
// statement (the profile page's), or ENOTFOUND when there is no enrolment.
func (s *Store) MFAStatus(ctx context.Context, id pam.UserID) (MFA, int64, error) {
	var r struct {
		MFARow `gorm:"embedded"`
		Unused int64
	}
	res := s.conn(ctx).Raw(`SELECT m.*, (SELECT COUNT(*) FROM mfa_recovery_codes c WHERE c.user_id = m.user_id AND c.used_at IS NULL) AS unused
		FROM user_mfa m WHERE m.user_id = ?`, string(id)).Find(&r)
	if res.Error != nil {
		return MFA{}, 0, res.Error
	}
	if res.RowsAffected == 0 {
		return MFA{}, 0, pam.Errorf(pam.ENOTFOUND, "Two-step verification not found.")
	}
	return MFA{UserID: pam.UserID(r.UserID), SecretEnc: r.SecretEnc, ConfirmedAt: r.ConfirmedAt, LastStep: r.LastStep, CreatedAt: r.CreatedAt}, r.Unused, nil
}

// BeginMFA stores a new unconfirmed secret for a user, replacing an earlier unconfirmed one.
// It reports ECONFLICT when the user already has a confirmed enrolment.
func (s *Store) BeginMFA(ctx context.Context, id pam.UserID, secretEnc string, now time.Time) error {
	now = now.UTC()
	res := s.conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"secret_enc", "last_step", "created_at", "updated_at"}),
		Where:     clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "user_mfa.confirmed_at IS NULL"}}},
	}).Create(&MFARow{UserID: string(id), SecretEnc: secretEnc, CreatedAt: now, UpdatedAt: now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ECONFLICT, "Two-step verification is already on.")
	}
	return nil
}

// ConfirmMFA marks an unconfirmed enrolment confirmed; ECONFLICT when there is none to confirm.
func (s *Store) ConfirmMFA(ctx context.Context, id pam.UserID, now time.Time) error {
	res := s.conn(ctx).Model(&MFARow{}).Where("user_id = ? AND confirmed_at IS NULL", string(id)).
		Updates(map[string]any{"confirmed_at": now.UTC(), "updated_at": now.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return pam.Errorf(pam.ECONFLICT, "There is no set-up in progress. Start again.")
	}
	return nil
}

// UseMFAStep records that the TOTP code of time step step was used. It reports false when that
// step or a later one was already used, which settles two racing uses of one code in the database.
func (s *Store) UseMFAStep(ctx context.Context, id pam.UserID, step int64, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&MFARow{}).Where("user_id = ? AND last_step < ?", string(id), step).
		Updates(map[string]any{"last_step": step, "updated_at": now.UTC()})
	return res.RowsAffected == 1, res.Error
}

// DeleteMFA removes a user's enrolment and recovery codes.
func (s *Store) DeleteMFA(ctx context.Context, id pam.UserID) error {
	if err := s.conn(ctx).Where("user_id = ?", string(id)).Delete(&RecoveryCodeRow{}).Error; err != nil {
		return err
	}
	return s.conn(ctx).Where("user_id = ?", string(id)).Delete(&MFARow{}).Error
}

// ReplaceRecoveryCodes deletes a user's recovery codes and stores the given hashes instead.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, id pam.UserID, hashes []string) error {
	if err := s.conn(ctx).Where("user_id = ?", string(id)).Delete(&RecoveryCodeRow{}).Error; err != nil {
		return err
	}
	rows := make([]RecoveryCodeRow, len(hashes))
	for i, h := range hashes {
		rows[i] = RecoveryCodeRow{UserID: string(id), CodeHash: h}
	}
	if len(rows) == 0 {
		return nil
	}
	return s.conn(ctx).Create(&rows).Error
}

// UseRecoveryCode spends one unused recovery code of a user, reporting whether it was there.
func (s *Store) UseRecoveryCode(ctx context.Context, id pam.UserID, hash string, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&RecoveryCodeRow{}).Where("user_id = ? AND code_hash = ? AND used_at IS NULL", string(id), hash).
		Update("used_at", now.UTC())
	return res.RowsAffected == 1, res.Error
}

// SetUserTimeZone changes the zone a user sees times in. The caller validates the name.
func (s *Store) SetUserTimeZone(ctx context.Context, id pam.UserID, zone string, now time.Time) error {
	res := s.conn(ctx).Model(&UserRow{}).Where("id = ?", string(id)).
		Updates(map[string]any{"time_zone": zone, "updated_at": now.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return pam.Errorf(pam.ENOTFOUND, "User not found.")
	}
	return nil
}

// RateLimitRow is a row of rate_limits: how many attempts one key made in one fixed window.
type RateLimitRow struct {
	Key         string `gorm:"primaryKey;size:160"`
	WindowStart int64  `gorm:"primaryKey;autoIncrement:false"`
	Count       int64  `gorm:"not null"`
}

// TableName fixes the table name.
func (RateLimitRow) TableName() string { return "rate_limits" }

// CountAttempt adds one attempt for key in the window starting at windowStart (Unix seconds)
// and returns the window's count including it. The increment is one statement, so replicas
// sharing the database count together and never lose an attempt.
func (s *Store) CountAttempt(ctx context.Context, key string, windowStart int64) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
		RETURNING count`, key, windowStart).Find(&n).Error
	return n, err
}

// UncountAttempt takes one attempt back from a window's count (never below zero).
func (s *Store) UncountAttempt(ctx context.Context, key string, windowStart int64) error {
	return s.conn(ctx).Model(&RateLimitRow{}).Where("key = ? AND window_start = ? AND count > 0", key, windowStart).
		Update("count", gorm.Expr("count - 1")).Error
}

// DeleteRateLimitsBefore removes counters of windows that started before windowStart.
func (s *Store) DeleteRateLimitsBefore(ctx context.Context, windowStart int64) (int64, error) {
	res := s.conn(ctx).Where("window_start < ?", windowStart).Delete(&RateLimitRow{})
	return res.RowsAffected, res.Error
}
