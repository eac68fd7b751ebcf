package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Migration 0007 adds TOTP enrolments, recovery codes and the shared attempt counters behind
// rate limits. It declares its own copies of the rows it creates.

type m0007MFA struct {
	UserID      string `gorm:"primaryKey;size:36"`
	SecretEnc   string `gorm:"size:200;not null"`
	ConfirmedAt *time.Time
	LastStep    int64     `gorm:"not null;default:0"`
	CreatedAt   time.Time `gorm:"not null"`
	UpdatedAt   time.Time `gorm:"not null"`
}

type m0007RecoveryCode struct {
	ID       int64  `gorm:"primaryKey;autoIncrement"`
	UserID   string `gorm:"size:36;not null;index:mfa_recovery_codes_user_idx"`
	CodeHash string `gorm:"size:64;not null;uniqueIndex:mfa_recovery_codes_hash_key"`
	UsedAt   *time.Time
}

type m0007RateLimit struct {
	Key         string `gorm:"primaryKey;size:160"`
	WindowStart int64  `gorm:"primaryKey;autoIncrement:false"`
	Count       int64  `gorm:"not null"`
}

func m0007(tx *gorm.DB) error {
	for _, t := range []struct {
		name string
		row  any
	}{
		{"user_mfa", &m0007MFA{}},
		{"mfa_recovery_codes", &m0007RecoveryCode{}},
		{"rate_limits", &m0007RateLimit{}},
	} {
		if err := tx.Table(t.name).AutoMigrate(t.row); err != nil {
			return fmt.Errorf("create %s: %w", t.name, err)
		}
	}
	return nil
}
