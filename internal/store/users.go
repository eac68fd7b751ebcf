package store

import (
	"context"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm/clause"
)

func userToDomain(r UserRow) pam.User {
	return pam.User{
		ID: pam.UserID(r.ID), Email: r.Email, Name: r.Name, Admin: r.Admin, Auditor: r.Auditor,
		TimeZone: r.TimeZone, DisabledAt: r.DisabledAt, CreatedAt: r.CreatedAt,
	}
}

// CreateUser inserts a user with a password hash (empty when the user has no password yet).
func (s *Store) CreateUser(ctx context.Context, u pam.User, passwordHash string) error {
	row := UserRow{
		ID: string(u.ID), Email: u.Email, Name: u.Name, PasswordHash: passwordHash,
		Admin: u.Admin, Auditor: u.Auditor, TimeZone: u.TimeZone, DisabledAt: u.DisabledAt,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.CreatedAt.UTC(),
	}
	if row.TimeZone == "" {
		row.TimeZone = "UTC"
	}
	err := s.conn(ctx).Create(&row).Error
	if err != nil {
		if pam.ErrorCode(translate(err, "")) == pam.ECONFLICT {
			return pam.FieldError("email", "A user with the email %s already exists.", u.Email)
		}
		return err
	}
	return nil
}

// UserByID returns one user.
func (s *Store) UserByID(ctx context.Context, id pam.UserID) (pam.User, error) {
	var r UserRow
	if err := s.conn(ctx).Where("id = ?", string(id)).Take(&r).Error; err != nil {
		return pam.User{}, translate(err, "User")
	}
	return userToDomain(r), nil
}

// UserByEmail returns one user and their password hash.
func (s *Store) UserByEmail(ctx context.Context, email string) (pam.User, string, error) {
	var r UserRow
	if err := s.conn(ctx).Where("email = ?", strings.ToLower(email)).Take(&r).Error; err != nil {
		return pam.User{}, "", translate(err, "User")
	}
	return userToDomain(r), r.PasswordHash, nil
}

// CountUsers returns how many users exist (0 means the first admin is still to be created).
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&UserRow{}).Count(&n).Error
	return n, err
}

// UserFilter selects users for a list; After is the email of the last user on the previous page.
type UserFilter struct {
	After string
	Limit int
}

// Users lists users ordered by email, one keyset page at a time.
func (s *Store) Users(ctx context.Context, f UserFilter) ([]pam.User, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	q := s.conn(ctx).Model(&UserRow{}).Order("email").Limit(f.Limit)
	if f.After != "" {
		q = q.Where("email > ?", f.After)
	}
	var rows []UserRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.User, len(rows))
	for i, r := range rows {
		out[i] = userToDomain(r)
	}
	return out, nil
}

// MaxFlagged bounds how many people Auditors and Administrators return.
const MaxFlagged = 100

// Auditors lists the enabled auditors by email, at most MaxFlagged: who is told when the audit
// chain is found broken.
func (s *Store) Auditors(ctx context.Context) ([]pam.User, error) {
	return s.enabledWith(ctx, "auditor")
}

// Administrators lists the enabled administrators by email, at most MaxFlagged: who is told
// of a broken chain when nobody else would be.
func (s *Store) Administrators(ctx context.Context) ([]pam.User, error) {
	return s.enabledWith(ctx, "admin")
}

// enabledWith lists the enabled users whose flag (the column "auditor" or "admin") is set.
func (s *Store) enabledWith(ctx context.Context, flag string) ([]pam.User, error) {
	var rows []UserRow
	if err := s.conn(ctx).Where(flag + " AND disabled_at IS NULL").Order("email").Limit(MaxFlagged).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.User, len(rows))
	for i, r := range rows {
		out[i] = userToDomain(r)
	}
	return out, nil
}

// DisableUser marks a user disabled and ends every session they have. It reports ENOTFOUND
// for an unknown id and ECONFLICT when the user is already disabled.
func (s *Store) DisableUser(ctx context.Context, id pam.UserID, now time.Time) error {
	res := s.conn(ctx).Model(&UserRow{}).Where("id = ? AND disabled_at IS NULL", string(id)).
		Updates(map[string]any{"disabled_at": now.UTC(), "updated_at": now.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		if _, err := s.UserByID(ctx, id); err != nil {
			return err
		}
		return pam.Errorf(pam.ECONFLICT, "The user is already disabled.")
	}
	return s.DeleteUserSessions(ctx, id)
}

// SearchUsers lists users whose email or name contains q, keyset by email.
func (s *Store) SearchUsers(ctx context.Context, q string, after string, limit int) ([]pam.User, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	db := s.conn(ctx).Model(&UserRow{}).Order("email").Limit(limit)
	if after != "" {
		db = db.Where("email > ?", after)
	}
	if strings.TrimSpace(q) != "" {
		pat := likePattern(q)
		db = db.Where("(email LIKE ? ESCAPE '\\' OR LOWER(name) LIKE ? ESCAPE '\\')", pat, pat)
	}
	var rows []UserRow
	if err := db.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.User, len(rows))
	for i, r := range rows {
		out[i] = userToDomain(r)
	}
	return out, nil
}

// LockActiveAdmins returns the ids of enabled admins and, on PostgreSQL, locks their rows until
// the transaction ends, so two admins demoting each other at once cannot leave nobody in charge.
func (s *Store) LockActiveAdmins(ctx context.Context) ([]pam.UserID, error) {
	q := s.conn(ctx).Model(&UserRow{}).Where("admin AND disabled_at IS NULL").Order("id")
	if s.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var rows []UserRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.UserID, len(rows))
	for i, r := range rows {
		out[i] = pam.UserID(r.ID)
	}
	return out, nil
}

// UpdateUserFlags sets the admin and auditor flags and the disabled time of a user.
func (s *Store) UpdateUserFlags(ctx context.Context, u pam.User, now time.Time) error {
	var disabled any
	if u.DisabledAt != nil {
		disabled = u.DisabledAt.UTC()
	}
	res := s.conn(ctx).Model(&UserRow{}).Where("id = ?", string(u.ID)).Updates(map[string]any{
		"admin": u.Admin, "auditor": u.Auditor, "disabled_at": disabled, "updated_at": now.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "User not found.")
	}
	return nil
}

// SetUserAuditor gives or takes the auditor flag (read-only access to the audit trail). It
// reports ENOTFOUND for an unknown id and ECONFLICT when the flag already has that value.
func (s *Store) SetUserAuditor(ctx context.Context, id pam.UserID, auditor bool, now time.Time) error {
	res := s.conn(ctx).Model(&UserRow{}).Where("id = ? AND auditor = ?", string(id), !auditor).
		Updates(map[string]any{"auditor": auditor, "updated_at": now.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		if _, err := s.UserByID(ctx, id); err != nil {
			return err
		}
		if auditor {
			return pam.Errorf(pam.ECONFLICT, "The user is already an auditor.")
		}
		return pam.Errorf(pam.ECONFLICT, "The user is not an auditor.")
	}
	return nil
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, id pam.UserID, hash string, now time.Time) error {
	return s.conn(ctx).Model(&UserRow{}).Where("id = ?", string(id)).
		Updates(map[string]any{"password_hash": hash, "updated_at": now.UTC()}).Error
}

// SetTimeZone stores the user's IANA time zone.
func (s *Store) SetTimeZone(ctx context.Context, id pam.UserID, tz string) error {
	return s.conn(ctx).Model(&UserRow{}).Where("id = ?", string(id)).Update("time_zone", tz).Error
}

// PasswordTokenRow is a one-time set-password link (only its hash is stored).
type PasswordTokenRow struct {
	TokenHash string `gorm:"primaryKey"`
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// TableName fixes the table name.
func (PasswordTokenRow) TableName() string { return "password_tokens" }

// CreatePasswordToken stores a set-password link for a user, replacing older ones.
func (s *Store) CreatePasswordToken(ctx context.Context, id pam.UserID, hash string, expires, now time.Time) error {
	if err := s.conn(ctx).Where("user_id = ?", string(id)).Delete(&PasswordTokenRow{}).Error; err != nil {
		return err
	}
	return s.conn(ctx).Create(&PasswordTokenRow{TokenHash: hash, UserID: string(id), ExpiresAt: expires.UTC(), CreatedAt: now.UTC()}).Error
}

// PasswordTokenUser returns the user a live set-password link belongs to, or ENOTFOUND.
func (s *Store) PasswordTokenUser(ctx context.Context, hash string, now time.Time) (pam.UserID, error) {
	var r PasswordTokenRow
	if err := s.conn(ctx).Where("token_hash = ? AND expires_at > ?", hash, now.UTC()).Take(&r).Error; err != nil {
		return "", translate(err, "Link")
	}
	return pam.UserID(r.UserID), nil
}

// TakePasswordToken deletes a live link, reporting whether this caller got it (single use).
func (s *Store) TakePasswordToken(ctx context.Context, hash string, now time.Time) (pam.UserID, error) {
	id, err := s.PasswordTokenUser(ctx, hash, now)
	if err != nil {
		return "", err
	}
	res := s.conn(ctx).Where("token_hash = ?", hash).Delete(&PasswordTokenRow{})
	if res.Error != nil {
		return "", res.Error
	}
	if res.RowsAffected != 1 {
		return "", pam.Errorf(pam.ENOTFOUND, "Link not found.")
	}
	return id, nil
}
