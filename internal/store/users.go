package store

import (
	"context"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
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
