package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

const setupTokenKey = "setup_token_sha256"

// Service holds the account use cases. Each one is a single transaction that writes its
// change and its audit event together.
type Service struct {
	db       *store.Store
	Sessions *SessionStore
	now      func() time.Time
}

// NewService wires the account use cases.
func NewService(db *store.Store, sessions *SessionStore, now func() time.Time) *Service {
	return &Service{db: db, Sessions: sessions, now: now}
}

// ErrBadCredentials is the one answer for an unknown email, a wrong password and a disabled
// account, so the sign-in page reveals nothing about which accounts exist.
var ErrBadCredentials = pam.Errorf(pam.EINVALID, "The email or password is not right. Check both and try again.")

func sha256Hex(s string) string { return HashToken(s) }

// HashToken is how every bearer secret (setup, set-password and API tokens) is stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a random URL-safe token and the hash under which it is stored.
func NewToken() (token, hash string) {
	token = randomToken()
	return token, HashToken(token)
}

// SetupState says what IssueSetupToken found.
type SetupState int

const (
	// SetupDone means a user exists: Elevate is set up and no link is needed.
	SetupDone SetupState = iota
	// SetupIssued means this call created the one live setup token.
	SetupIssued
	// SetupPending means a live setup token already existed, made by another process now or in
	// an earlier run; only ReissueSetupToken (`elevate setup-link`) replaces it.
	SetupPending
)

// errSetupDone rolls back a token inserted just as a setup elsewhere committed.
var errSetupDone = errors.New("setup already done")

// IssueSetupToken creates the one-time setup token when no user and no token exist yet. Of
// processes that start together on an empty database exactly one gets the token (SetupIssued);
// the others get "" and SetupPending. A stored token is never replaced here, so a link printed
// earlier keeps working. Only its hash is stored.
func (s *Service) IssueSetupToken(ctx context.Context) (string, SetupState, error) {
	n, err := s.db.CountUsers(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("issue setup token: %w", err)
	}
	if n > 0 {
		return "", SetupDone, nil
	}
	tok := randomToken()
	state := SetupPending
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		created, err := tx.InsertValue(ctx, setupTokenKey, sha256Hex(tok), s.now())
		if err != nil {
			return err
		}
		// Counted after the insert: a setup that committed while the insert waited for its row
		// is seen here, so no token outlives the setup it was meant for.
		n, err := tx.CountUsers(ctx)
		switch {
		case err != nil:
			return err
		case n > 0 && created:
			return errSetupDone
		case n > 0:
			state = SetupDone
		case created:
			state = SetupIssued
		}
		return nil
	})
	switch {
	case errors.Is(err, errSetupDone):
		return "", SetupDone, nil
	case err != nil:
		return "", 0, fmt.Errorf("issue setup token: %w", err)
	case state != SetupIssued:
		return "", state, nil
	}
	return tok, SetupIssued, nil
}

// ReissueSetupToken replaces any earlier setup token with a fresh one, which ends the earlier
// link, and records who asked in the same transaction. Once a user exists it changes nothing
// and returns ECONFLICT.
func (s *Service) ReissueSetupToken(ctx context.Context, actor audit.Actor) (string, error) {
	tok := randomToken()
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		earlier, err := tx.Value(ctx, setupTokenKey)
		if err != nil {
			return err
		}
		if err := tx.SetValue(ctx, setupTokenKey, sha256Hex(tok), s.now()); err != nil {
			return err
		}
		// Counted after the write, for the same reason as in IssueSetupToken.
		if n, err := tx.CountUsers(ctx); err != nil || n > 0 {
			if err == nil {
				err = pam.Errorf(pam.ECONFLICT, "Elevate is already set up: an account exists, so no setup link is needed. "+
					"An administrator adds people at /admin/users, or from the shell with `elevate user create --admin`.")
			}
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.SetupLinkIssued, "setup", "link",
			map[string]any{"replaced_earlier_link": earlier != ""}))
	})
	if err != nil {
		return "", fmt.Errorf("issue setup link: %w", err)
	}
	return tok, nil
}

// SetupTokenValid reports whether tok is the live setup token.
func (s *Service) SetupTokenValid(ctx context.Context, tok string) (bool, error) {
	if tok == "" {
		return false, nil
	}
	want, err := s.db.Value(ctx, setupTokenKey)
	if err != nil || want == "" {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(sha256Hex(tok))) == 1, nil
}

// SetupInput is what the first admin types on the setup page.
type SetupInput struct {
	Token, Email, Name, Password, PasswordConfirm string
}

// Setup creates the first admin. The token is consumed in the same transaction, so it works
// exactly once; a form error leaves it valid for the next try.
func (s *Service) Setup(ctx context.Context, in SetupInput, actor audit.Actor) (pam.User, error) {
	u, _, err := s.setup(ctx, nil, in, actor)
	return u, err
}

// SetupSignedIn is Setup from the setup page: the new admin's session starts in the same
// transaction (audited as a sign-in by "setup"), so they land signed in.
func (s *Service) SetupSignedIn(w http.ResponseWriter, r *http.Request, in SetupInput, actor audit.Actor) (pam.User, error) {
	u, cookie, err := s.setup(r.Context(), r, in, actor)
	if err != nil {
		return pam.User{}, err
	}
	http.SetCookie(w, cookie)
	return u, nil
}

// setup creates the first admin and, given the page's request r, starts their session.
func (s *Service) setup(ctx context.Context, r *http.Request, in SetupInput, actor audit.Actor) (pam.User, *http.Cookie, error) {
	ok, err := s.SetupTokenValid(ctx, in.Token)
	if err != nil {
		return pam.User{}, nil, fmt.Errorf("setup: %w", err)
	}
	if !ok {
		return pam.User{}, nil, pam.Errorf(pam.ENOTFOUND, "This setup link is no longer valid.")
	}
	u, hash, err := s.newUser(in.Email, in.Name, in.Password, in.PasswordConfirm, true)
	if err != nil {
		return pam.User{}, nil, err
	}
	var cookie *http.Cookie
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		took, err := tx.TakeValue(ctx, setupTokenKey, sha256Hex(in.Token))
		if err != nil {
			return err
		}
		if !took {
			return pam.Errorf(pam.ENOTFOUND, "This setup link is no longer valid.")
		}
		if n, err := tx.CountUsers(ctx); err != nil || n > 0 {
			if err == nil {
				err = pam.Errorf(pam.ENOTFOUND, "Elevate is already set up.")
			}
			return err
		}
		if err := tx.CreateUser(ctx, u, hash); err != nil {
			return err
		}
		actor.Type, actor.ID, actor.Name = audit.ActorUser, string(u.ID), u.Email
		if err := tx.AppendAudit(ctx, actor.Event(audit.SetupCompleted, "user", string(u.ID),
			map[string]any{"email": u.Email, "name": u.Name, "admin": true})); err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		if cookie, err = s.Sessions.Start(ctx, tx, r, u.ID, actor.IP); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.AuthSignedIn, "user", string(u.ID), map[string]any{"method": "setup"}))
	})
	if err != nil {
		return pam.User{}, nil, fmt.Errorf("setup: %w", err)
	}
	return u, cookie, nil
}

func (s *Service) newUser(email, name, pw, confirm string, admin bool) (pam.User, string, error) {
	var ps pam.Problems
	email, err := pam.NormalizeEmail(email)
	ps.Add(err)
	name, err = pam.ValidateName(name)
	ps.Add(err)
	ps.Add(pam.ValidatePassword(pw, confirm))
	if err := ps.Err(); err != nil {
		return pam.User{}, "", err
	}
	hash, err := HashPassword(pw)
	if err != nil {
		return pam.User{}, "", err
	}
	return pam.User{
		ID: pam.UserID(uuid.NewString()), Email: email, Name: name, Admin: admin,
		TimeZone: "UTC", CreatedAt: s.now(),
	}, hash, nil
}

// SignIn checks an email and password and starts a new session. Every outcome is audited;
// all failures give ErrBadCredentials.
func (s *Service) SignIn(w http.ResponseWriter, r *http.Request, email, password string, actor audit.Actor) (pam.User, error) {
	ctx := r.Context()
	norm, _ := pam.NormalizeEmail(email)
	u, hash, err := s.db.UserByEmail(ctx, norm)
	if err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
		return pam.User{}, fmt.Errorf("sign in: %w", err)
	}
	reason := ""
	switch {
	case err != nil:
		_, _ = CheckPassword(dummyHash, password)
		reason = "unknown_user"
	case hash == "":
		_, _ = CheckPassword(dummyHash, password)
		reason = "no_password"
	default:
		if ok, _ := CheckPassword(hash, password); !ok {
			reason = "wrong_password"
		} else if !u.Active() {
			reason = "disabled"
		}
	}
	if reason != "" {
		if err := s.RecordSignInFailure(ctx, string(u.ID), email, reason, actor); err != nil {
			return pam.User{}, err
		}
		return pam.User{}, ErrBadCredentials
	}
	var cookie *http.Cookie
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		if cookie, err = s.Sessions.Start(ctx, tx, r, u.ID, actor.IP); err != nil {
			return err
		}
		actor.Type, actor.ID, actor.Name = audit.ActorUser, string(u.ID), u.Email
		return tx.AppendAudit(ctx, actor.Event(audit.AuthSignedIn, "user", string(u.ID), map[string]any{"method": "password"}))
	})
	if err != nil {
		return pam.User{}, fmt.Errorf("sign in: %w", err)
	}
	http.SetCookie(w, cookie)
	return u, nil
}

// SignOut ends the request's session and records it.
func (s *Service) SignOut(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	ctx := r.Context()
	return s.db.Tx(ctx, func(tx *store.Store) error {
		if err := s.Sessions.End(ctx, tx, w, r); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.AuthSignedOut, "user", actor.ID, nil))
	})
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// Authenticate returns the signed-in user of a request with the frame of their pages. ok is
// false for anonymous visitors, for sessions that ended, and for disabled users, whose sessions
// are all deleted here.
func (s *Service) Authenticate(r *http.Request) (Viewer, bool, error) {
	sess, err := s.Sessions.Get(r, SessionCookie)
	if err != nil {
		return Viewer{}, false, err
	}
	id := UserID(sess)
	if id == "" {
		return Viewer{}, false, nil
	}
	// The session was read together with its user and frame; only a session without them (none
	// today) costs a second read, and its frame is left for the caller to ask for.
	v, loaded := sessionViewerOf(sess)
	if !loaded {
		v.User, err = s.db.UserByID(r.Context(), id)
		if pam.ErrorCode(err) == pam.ENOTFOUND {
			return Viewer{}, false, s.db.DeleteUserSessions(r.Context(), id)
		}
		if err != nil {
			return Viewer{}, false, err
		}
	}
	if !v.User.Active() {
		return Viewer{}, false, s.db.DeleteUserSessions(r.Context(), id)
	}
	return v, true, nil
}

// PasswordLinkUser returns the user a live set-password link belongs to.
func (s *Service) PasswordLinkUser(ctx context.Context, token string) (pam.User, error) {
	if token == "" {
		return pam.User{}, pam.Errorf(pam.ENOTFOUND, "This link is not valid.")
	}
	id, err := s.db.PasswordTokenUser(ctx, HashToken(token), s.now())
	if err != nil {
		return pam.User{}, pam.Errorf(pam.ENOTFOUND, "This link is not valid or has expired. Ask an administrator for a new one.")
	}
	u, err := s.db.UserByID(ctx, id)
	if err != nil || !u.Active() {
		return pam.User{}, pam.Errorf(pam.ENOTFOUND, "This link is not valid or has expired. Ask an administrator for a new one.")
	}
	return u, nil
}

// SetPasswordWithLink sets a password through a one-time link; the link is spent in the same
// transaction, and a form error leaves it valid.
func (s *Service) SetPasswordWithLink(ctx context.Context, token, pw, confirm string, actor audit.Actor) (pam.User, error) {
	u, err := s.PasswordLinkUser(ctx, token)
	if err != nil {
		return pam.User{}, err
	}
	if err := pam.ValidatePassword(pw, confirm); err != nil {
		return pam.User{}, err
	}
	hash, err := HashPassword(pw)
	if err != nil {
		return pam.User{}, err
	}
	err = s.db.Tx(ctx, func(tx *store.Store) error {
		id, err := tx.TakePasswordToken(ctx, HashToken(token), s.now())
		if err != nil || id != u.ID {
			return pam.Errorf(pam.ENOTFOUND, "This link is not valid or has expired. Ask an administrator for a new one.")
		}
		if err := tx.SetPassword(ctx, u.ID, hash, s.now()); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		actor.Type, actor.ID, actor.Name = audit.ActorUser, string(u.ID), u.Email
		return tx.AppendAudit(ctx, actor.Event(audit.UserPasswordSet, "user", string(u.ID), map[string]any{"via": "link"}))
	})
	if err != nil {
		return pam.User{}, err
	}
	return u, nil
}

// NewMFA returns the two-step verification use cases on the service's database and sessions.
func (s *Service) NewMFA(secret []byte, issuer string) *MFA {
	return NewMFA(s.db, s.Sessions, secret, issuer, s.now)
}

// NewLimiter returns a rate limiter on the service's database and clock.
func (s *Service) NewLimiter() *Limiter { return NewLimiter(s.db, s.now) }

// SetTimeZone changes the zone a user sees times in; zone must be a valid zone name.
func (s *Service) SetTimeZone(ctx context.Context, u pam.User, zone string, actor audit.Actor) error {
	err := s.db.Tx(ctx, func(tx *store.Store) error {
		if err := tx.SetUserTimeZone(ctx, u.ID, zone, s.now()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.UserTimeZoneChanged, "user", string(u.ID),
			map[string]any{"from": u.TimeZone, "to": zone}))
	})
	if err != nil {
		return fmt.Errorf("set time zone: %w", err)
	}
	return nil
}

// RecordSignInFailure audits a refused sign-in (userID may be empty when no account matched).
func (s *Service) RecordSignInFailure(ctx context.Context, userID, email, reason string, actor audit.Actor) error {
	ev := actor.Event(audit.AuthSignInFailed, "user", userID, map[string]any{"email": truncateRunes(email, 254), "reason": reason})
	ev.Outcome = audit.OutcomeFailure
	if err := s.db.Tx(ctx, func(tx *store.Store) error { return tx.AppendAudit(ctx, ev) }); err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	return nil
}
