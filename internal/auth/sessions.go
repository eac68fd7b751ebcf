package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "elevate_session"

const userIDKey = "user_id"

// sessionViewer is the key under which a loaded session carries its user and frame for the
// rest of the request.
type sessionViewer struct{}

// SessionStore is a gorilla/sessions Store that keeps sessions in Elevate's database. The cookie
// carries only a signed random id; the database holds the hash of that id, the user, and the
// times that bound the session. Deleting the row ends the session everywhere at once.
type SessionStore struct {
	db       *store.Store
	codec    securecookie.Codec
	idle     time.Duration
	lifetime time.Duration
	secure   bool
	now      func() time.Time
}

// NewSessionStore returns a store whose cookies are signed with a key derived from secret.
func NewSessionStore(db *store.Store, secret []byte, idle, lifetime time.Duration, secure bool, now func() time.Time) *SessionStore {
	codec := securecookie.New(DeriveKey(secret, "session-cookie"), nil)
	codec.MaxAge(int(lifetime / time.Second))
	codec.SetSerializer(securecookie.JSONEncoder{})
	return &SessionStore{db: db, codec: codec, idle: idle, lifetime: lifetime, secure: secure, now: now}
}

// DeriveKey derives a purpose-bound 32-byte key from the process secret.
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("elevate/" + purpose))
	return m.Sum(nil)
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *SessionStore) options() *sessions.Options {
	return &sessions.Options{
		Path: "/", MaxAge: int(s.lifetime / time.Second), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}
}

// Get returns the request's session, cached for the rest of the request by gorilla's registry.
func (s *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie. A missing, forged, expired or idle
// session yields a new empty one; only a database failure is an error.
func (s *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	sess.Options = s.options()
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	var id string
	if err := s.codec.Decode(name, c.Value, &id); err != nil {
		return sess, nil
	}
	now := s.now()
	row, user, frame, err := s.db.SessionWithUser(r.Context(), hashID(id), RequireMFAEnrolmentKey, now, countsInbox(r))
	if err != nil {
		if pam.ErrorCode(err) == pam.ENOTFOUND {
			return sess, nil
		}
		return sess, fmt.Errorf("load session: %w", err)
	}
	if !now.Before(row.ExpiresAt) || now.Sub(row.LastSeenAt) >= s.idle {
		if err := s.db.DeleteSession(r.Context(), row.IDHash); err != nil {
			return sess, fmt.Errorf("end expired session: %w", err)
		}
		return sess, nil
	}
	var data map[string]any
	_ = json.Unmarshal([]byte(row.Data), &data)
	for k, v := range data {
		sess.Values[k] = v
	}
	sess.Values[userIDKey] = string(row.UserID)
	// Read with the session in the same statement; never stored back (Save and Put keep
	// string keys only).
	sess.Values[sessionViewer{}] = Viewer{User: user, Frame: Frame{
		Read: true, EnrolmentRequired: frame.Enrolment == "true", Approver: frame.Approver, MFAEnrolled: frame.MFAEnrolled,
		Inbox: int(frame.Inbox), InboxRead: frame.InboxRead, Delegate: frame.Delegate,
	}}
	sess.ID = id
	sess.IsNew = false
	// The idle clock moves at most once a minute, so most requests write nothing.
	if now.Sub(row.LastSeenAt) >= store.SessionTouchEvery {
		if err := s.db.TouchSession(r.Context(), row.IDHash, now); err != nil {
			return sess, fmt.Errorf("touch session: %w", err)
		}
	}
	return sess, nil
}

// Save writes the session's values, or ends it when Options.MaxAge < 0. A session without a
// user is never stored: anonymous visitors have no server-side session.
func (s *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options != nil && sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.db.DeleteSession(r.Context(), hashID(sess.ID)); err != nil {
				return fmt.Errorf("delete session: %w", err)
			}
		}
		s.clearCookie(w, sess.Name())
		return nil
	}
	if sess.ID == "" {
		return nil // sessions begin only through Start
	}
	data := map[string]any{}
	for k, v := range sess.Values {
		if ks, ok := k.(string); ok && ks != userIDKey {
			data[ks] = v
		}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	return s.db.SaveSessionData(r.Context(), hashID(sess.ID), string(b))
}

// Value returns one value of the request's session, or nil.
func (s *SessionStore) Value(r *http.Request, key string) any {
	sess, err := s.Get(r, SessionCookie)
	if err != nil || sess.ID == "" {
		return nil
	}
	return sess.Values[key]
}

// Put sets one value of the request's session and writes it inside tx, so the value commits
// with the change (and the audit event) it belongs to.
func (s *SessionStore) Put(ctx context.Context, tx *store.Store, r *http.Request, key string, v any) error {
	sess, err := s.Get(r, SessionCookie)
	if err != nil {
		return err
	}
	if sess.ID == "" {
		return fmt.Errorf("put session value: no session")
	}
	sess.Values[key] = v
	data := map[string]any{}
	for k, v := range sess.Values {
		if ks, ok := k.(string); ok && ks != userIDKey {
			data[ks] = v
		}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	return tx.SaveSessionData(ctx, hashID(sess.ID), string(b))
}

// Start begins a fresh session for user inside tx, ending any session the request carried,
// so an id known before sign-in is worthless after it. It returns the cookie for the caller to
// set once tx has committed, so a rolled-back sign-in never hands out a cookie.
func (s *SessionStore) Start(ctx context.Context, tx *store.Store, r *http.Request, user pam.UserID, ip string) (*http.Cookie, error) {
	if old, err := s.Get(r, SessionCookie); err == nil && old.ID != "" {
		if err := tx.DeleteSession(ctx, hashID(old.ID)); err != nil {
			return nil, fmt.Errorf("end previous session: %w", err)
		}
	}
	id := randomToken()
	now := s.now()
	if err := tx.CreateSession(ctx, store.Session{
		IDHash: hashID(id), UserID: user, Data: "{}", CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.lifetime), IP: ip, UserAgent: r.UserAgent(),
	}); err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	enc, err := s.codec.Encode(SessionCookie, id)
	if err != nil {
		return nil, fmt.Errorf("sign session cookie: %w", err)
	}
	return sessions.NewCookie(SessionCookie, enc, s.options()), nil
}

// End deletes the request's session (inside tx) and clears the cookie.
func (s *SessionStore) End(ctx context.Context, tx *store.Store, w http.ResponseWriter, r *http.Request) error {
	if sess, err := s.Get(r, SessionCookie); err == nil && sess.ID != "" {
		if err := tx.DeleteSession(ctx, hashID(sess.ID)); err != nil {
			return fmt.Errorf("end session: %w", err)
		}
	}
	s.clearCookie(w, SessionCookie)
	return nil
}

func (s *SessionStore) clearCookie(w http.ResponseWriter, name string) {
	o := s.options()
	o.MaxAge = -1
	http.SetCookie(w, sessions.NewCookie(name, "", o))
}

// Viewer is the user of a signed-in request with the frame their pages are drawn in.
type Viewer struct {
	User  pam.User
	Frame Frame
}

// Frame is what the rules every signed-in page passes through need besides the user: whether
// the user must enrol in two-step verification, and whether they have. It is read with the
// session (or the API token) in one statement and lives for one request only, so nothing
// needs telling when a setting, a membership or an enrolment changes.
type Frame struct {
	// Read is false when nothing was read (the caller asks the services instead).
	Read bool
	// EnrolmentRequired is the organisation's RequireMFAEnrolmentKey, as MFA.EnrolmentRequired.
	EnrolmentRequired bool
	// Approver is store.IsApprover for the user.
	Approver bool
	// MFAEnrolled is MFA.Enrolled for the user.
	MFAEnrolled bool
	// Inbox is how many requests wait for the user's decision (access.InboxCount), read only for
	// a request marked with CountInbox; InboxRead says it was.
	Inbox     int
	InboxRead bool
	// Delegate is store.Frame.Delegate: false when no request waits for the user on behalf of
	// someone else.
	Delegate bool
}

// countInbox marks a request whose session read also counts the viewer's inbox.
type countInbox struct{}

// CountInbox returns r marked so that its session is read together with the count of the
// viewer's inbox (Frame.Inbox), in the same statement: for pages that draw the navigation. Mark
// a request before its session is first read.
func CountInbox(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), countInbox{}, true))
}

func countsInbox(r *http.Request) bool {
	on, _ := r.Context().Value(countInbox{}).(bool)
	return on
}

// sessionViewerOf returns the user and frame loaded with the session, when they were.
func sessionViewerOf(sess *sessions.Session) (Viewer, bool) {
	v, ok := sess.Values[sessionViewer{}].(Viewer)
	return v, ok
}

// UserID returns the signed-in user of a loaded session, or "".
func UserID(sess *sessions.Session) pam.UserID {
	if sess == nil || sess.ID == "" {
		return ""
	}
	id, _ := sess.Values[userIDKey].(string)
	return pam.UserID(id)
}
