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

// sessionUserRow is one session joined with its user and its frame, its fields in the order of
// sessionSQL's columns.
type sessionUserRow struct {
	IDHash, UserID, Data, IP, UserAgent string
	CreatedAt, LastSeenAt, ExpiresAt    time.Time
	UEmail, UName, UTimeZone            string
	UAdmin, UAuditor                    bool
	UDisabledAt                         *time.Time
	UCreatedAt                          time.Time
	FEnrolment                          string
	FApprover, FEnrolled, FDelegate     bool
	FInbox                              *int64
}

// Frame is what the rules every signed-in page passes through need besides the user, read in
// the statement that reads the session, so a page pays one statement for all of it.
type Frame struct {
	// Enrolment is the text of the system value SessionWithUser was asked for ("" when unset).
	Enrolment string
	// Approver reports whether the user is an approver (see IsApprover).
	Approver bool
	// MFAEnrolled reports whether the user has confirmed two-step verification.
	MFAEnrolled bool
	// Inbox is InboxCount for the user at the time SessionWithUser was given; InboxRead is false
	// (and Inbox 0) when it was given none.
	Inbox     int64
	InboxRead bool
	// Delegate reports whether the user holds a delegation that has not ended at now (or is
	// still to start): false means no request waits for them on behalf of someone else.
	Delegate bool
}

// SessionWithUser returns a session by the hash of its id together with its user and its
// frame, whose Enrolment is the system value enrolmentKey, in one statement: every signed-in
// request asks this first. With inbox true the same statement also counts the requests
// waiting for the user at now (InboxCount), for the navigation of a page; requests that draw
// no navigation, or count their inbox themselves, pass false.
// ENOTFOUND when the session or its user is missing.
func (s *Store) SessionWithUser(ctx context.Context, idHash, enrolmentKey string, now time.Time, inbox bool) (Session, pam.User, Frame, error) {
	rows, err := s.queryCompiled(ctx, sessionQueries[sessionShape{s.dialect, inbox}], sessionArgs(idHash, enrolmentKey, now))
	if err != nil {
		return Session{}, pam.User{}, Frame{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Session{}, pam.User{}, Frame{}, err
		}
		return Session{}, pam.User{}, Frame{}, pam.Errorf(pam.ENOTFOUND, "Session not found.")
	}
	var r sessionUserRow
	if err := rows.Scan(&r.IDHash, &r.UserID, &r.Data, &r.IP, &r.UserAgent, &r.CreatedAt, &r.LastSeenAt, &r.ExpiresAt,
		&r.UEmail, &r.UName, &r.UTimeZone, &r.UAdmin, &r.UAuditor, &r.UDisabledAt, &r.UCreatedAt,
		&r.FEnrolment, &r.FApprover, &r.FEnrolled, &r.FDelegate, &r.FInbox); err != nil {
		return Session{}, pam.User{}, Frame{}, err
	}
	if err := rows.Close(); err != nil {
		return Session{}, pam.User{}, Frame{}, err
	}
	sess := Session{
		IDHash: r.IDHash, UserID: pam.UserID(r.UserID), Data: r.Data, CreatedAt: r.CreatedAt.UTC(),
		LastSeenAt: r.LastSeenAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), IP: r.IP, UserAgent: r.UserAgent,
	}
	u := userToDomain(UserRow{
		ID: r.UserID, Email: r.UEmail, Name: r.UName, Admin: r.UAdmin, Auditor: r.UAuditor,
		TimeZone: r.UTimeZone, DisabledAt: r.UDisabledAt, CreatedAt: r.UCreatedAt,
	})
	f := Frame{Enrolment: r.FEnrolment, Approver: r.FApprover, MFAEnrolled: r.FEnrolled, Delegate: r.FDelegate}
	if inbox && r.FInbox != nil {
		f.Inbox, f.InboxRead = *r.FInbox, true
	}
	return sess, u, f, nil
}

// sessionSQL is SessionWithUser's statement, with the navigation's inbox count or without;
// its columns are sessionUserRow's, in order.
func sessionSQL(dialect string, inbox bool) string {
	count := "NULL"
	if inbox {
		count = navCount(dialect, "s.user_id")
	}
	return `SELECT s.id_hash, s.user_id, s.data, s.ip, s.user_agent, s.created_at, s.last_seen_at, s.expires_at,
			u.email AS u_email, u.name AS u_name, u.time_zone AS u_time_zone, u.admin AS u_admin, u.auditor AS u_auditor,
			u.disabled_at AS u_disabled_at, u.created_at AS u_created_at,
			COALESCE((SELECT sv.value FROM system_values sv WHERE sv.key = @key), '') AS f_enrolment,
			` + approverExists("s.user_id") + ` AS f_approver,
			EXISTS (SELECT 1 FROM user_mfa m WHERE m.user_id = s.user_id AND m.confirmed_at IS NOT NULL) AS f_enrolled,
			EXISTS (SELECT 1 FROM delegations d WHERE d.delegate_id = s.user_id AND d.ends_at > @now AND d.ended_at IS NULL) AS f_delegate,
			` + count + ` AS f_inbox
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = @id`
}

// sessionShape names one of sessionSQL's statements.
type sessionShape struct {
	dialect string
	inbox   bool
}

// sessionQueries are sessionSQL's statements compiled, each built once rather than on every
// signed-in request (a few kilobytes of text a request, built and then hashed to be looked up).
var sessionQueries = func() map[sessionShape]compiledQuery {
	m := map[sessionShape]compiledQuery{}
	for _, d := range []string{Postgres, SQLite} {
		for _, inbox := range []bool{false, true} {
			m[sessionShape{d, inbox}] = compileNamed(d, sessionSQL(d, inbox))
		}
	}
	return m
}()

// sessionArgs are sessionSQL's named values.
func sessionArgs(idHash, enrolmentKey string, now time.Time) map[string]any {
	return map[string]any{"id": idHash, "key": enrolmentKey, "now": now.UTC()}
}

// SessionTouchEvery is how often a session's last-seen time is written at most: reading it
// costs nothing extra (SessionWithUser), writing it on every request would.
const SessionTouchEvery = time.Minute

// TouchSession records activity when the stored last-seen time is SessionTouchEvery or more
// before now; callers skip it when the time they read is newer than that.
func (s *Store) TouchSession(ctx context.Context, idHash string, now time.Time) error {
	return s.conn(ctx).Model(&SessionRow{}).
		Where("id_hash = ? AND last_seen_at <= ?", idHash, now.UTC().Add(-SessionTouchEvery)).
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
