package store

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
)

// Session is a signed-in session as the auth layer sees it.
type Session struct {
	IDHash     string
	UserID     pam.UserID
	Data       string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, x Session) error {
	return s.conn(ctx).Create(&SessionRow{
		IDHash: x.IDHash, UserID: string(x.UserID), Data: x.Data, CreatedAt: x.CreatedAt.UTC(),
		LastSeenAt: x.LastSeenAt.UTC(), ExpiresAt: x.ExpiresAt.UTC(), IP: fit(x.IP, audit.MaxIP), UserAgent: fit(x.UserAgent, audit.MaxUserAgent),
	}).Error
}

// SessionByHash returns a session by the hash of its id.
func (s *Store) SessionByHash(ctx context.Context, idHash string) (Session, error) {
	var r SessionRow
	if err := s.conn(ctx).Where("id_hash = ?", idHash).Take(&r).Error; err != nil {
		return Session{}, translate(err, "Session")
	}
	return Session{
		IDHash: r.IDHash, UserID: pam.UserID(r.UserID), Data: r.Data, CreatedAt: r.CreatedAt,
		LastSeenAt: r.LastSeenAt, ExpiresAt: r.ExpiresAt, IP: r.IP, UserAgent: r.UserAgent,
	}, nil
}

// TouchSession records activity, at most once per 30 seconds per session to spare writes.
func (s *Store) TouchSession(ctx context.Context, idHash string, now time.Time) error {
	return s.conn(ctx).Model(&SessionRow{}).
		Where("id_hash = ? AND last_seen_at < ?", idHash, now.UTC().Add(-30*time.Second)).
		Update("last_seen_at", now.UTC()).Error
}

// SaveSessionData replaces a session's data.
func (s *Store) SaveSessionData(ctx context.Context, idHash, data string) error {
	return s.conn(ctx).Model(&SessionRow{}).Where("id_hash = ?", idHash).Update("data", data).Error
}

// DeleteSession removes one session; deleting a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	return s.conn(ctx).Where("id_hash = ?", idHash).Delete(&SessionRow{}).Error
}

// DeleteUserSessions ends every session of a user.
func (s *Store) DeleteUserSessions(ctx context.Context, id pam.UserID) error {
	return s.conn(ctx).Where("user_id = ?", string(id)).Delete(&SessionRow{}).Error
}

// DeleteExpiredSessions removes sessions past their absolute end or idle for longer than idle.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	res := s.conn(ctx).Where("expires_at <= ? OR last_seen_at <= ?", now.UTC(), now.UTC().Add(-idle)).Delete(&SessionRow{})
	return res.RowsAffected, res.Error
}

// fit makes a client-supplied value storable in its column (see audit.Fit).
func fit(s string, n int) string {
	v, _ := audit.Fit(s, n)
	return v
}
