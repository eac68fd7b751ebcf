package auth

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: the common authenticator-app profile (RFC 6238 defaults).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// totpSkew is how many steps either side of now are accepted: a code typed just as it
	// rolled over still works, one from two steps ago does not.
	totpSkew = 1
	// RecoveryCodeCount is how many recovery codes a user gets at a time.
	RecoveryCodeCount = 10
)

// RequireMFAEnrolmentKey is the system value ("true" or "false") by which an administrator
// requires every approver and administrator to enrol in two-step verification.
const RequireMFAEnrolmentKey = "require_mfa_enrolment"

// stepUpKey is the session value holding the Unix time of the last successful step-up.
const stepUpKey = "step_up_at"

// ErrBadCode is the one answer for a wrong, expired or reused code.
var ErrBadCode = pam.FieldError("code", "That code is not right, or was already used. Wait for the next code in your app and try again.")

// ErrNotEnrolled means the user has no confirmed two-step verification.
var ErrNotEnrolled = pam.Errorf(pam.EFORBIDDEN, "Set up two-step verification on your profile first.")

// MFA holds the two-step verification use cases: TOTP enrolment, code checks, recovery codes
// and step-up. Secrets are encrypted at rest with a key derived from the process secret.
type MFA struct {
	db       *store.Store
	sessions *SessionStore
	aead     cipher.AEAD
	hashKey  []byte
	issuer   string
	now      func() time.Time
}

// NewMFA wires the two-step verification use cases. issuer is the name shown in the
// authenticator app.
func NewMFA(db *store.Store, sessions *SessionStore, secret []byte, issuer string, now func() time.Time) *MFA {
	block, err := aes.NewCipher(DeriveKey(secret, "totp"))
	if err != nil {
		panic(fmt.Sprintf("totp cipher: %v", err)) // a 32-byte key never fails
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("totp cipher: %v", err))
	}
	return &MFA{db: db, sessions: sessions, aead: aead, hashKey: DeriveKey(secret, "recovery-codes"), issuer: issuer, now: now}
}

// seal encrypts a secret; the user id is bound in as additional data, so a ciphertext copied
// to another user's row does not decrypt.
func (m *MFA) seal(user pam.UserID, secret string) string {
	nonce := make([]byte, m.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawStdEncoding.EncodeToString(m.aead.Seal(nonce, nonce, []byte(secret), []byte(user)))
}

func (m *MFA) open(user pam.UserID, enc string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil || len(b) < m.aead.NonceSize() {
		return "", errors.New("totp secret: malformed")
	}
	pt, err := m.aead.Open(nil, b[:m.aead.NonceSize()], b[m.aead.NonceSize():], []byte(user))
	if err != nil {
		return "", errors.New("totp secret: does not decrypt with this key")
	}
	return string(pt), nil
}

// Status is what the profile page shows about a user's two-step verification.
type Status struct {
	Enrolled       bool
	Pending        bool
	EnrolledAt     time.Time
	RecoveryUnused int64
}

// Status reports whether a user has two-step verification on, in one read.
func (m *MFA) Status(ctx context.Context, user pam.UserID) (Status, error) {
	rec, unused, err := m.db.MFAStatus(ctx, user)
	if pam.ErrorCode(err) == pam.ENOTFOUND {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("mfa status: %w", err)
	}
	if !rec.Confirmed() {
		return Status{Pending: true}, nil
	}
	return Status{Enrolled: true, EnrolledAt: *rec.ConfirmedAt, RecoveryUnused: unused}, nil
}

// Enrolled reports whether a user has confirmed two-step verification.
func (m *MFA) Enrolled(ctx context.Context, user pam.UserID) (bool, error) {
	st, err := m.Status(ctx, user)
	return st.Enrolled, err
}

// EnrolmentRequired reports whether the organisation requires approvers and administrators to
// enrol. A missing value means no.
func (m *MFA) EnrolmentRequired(ctx context.Context) (bool, error) {
	v, err := m.db.Value(ctx, RequireMFAEnrolmentKey)
	return v == "true", err
}

// Begin starts an enrolment: a fresh secret, stored encrypted and unconfirmed. Starting again
// replaces an unconfirmed secret; a confirmed enrolment must be turned off first.
func (m *MFA) Begin(ctx context.Context, u pam.User) error {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: m.issuer, AccountName: u.Email, Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return fmt.Errorf("begin mfa: %w", err)
	}
	if err := m.db.BeginMFA(ctx, u.ID, m.seal(u.ID, key.Secret()), m.now()); err != nil {
		return fmt.Errorf("begin mfa: %w", err)
	}
	return nil
}

// Setup is what the set-up page shows: the secret as text and as a QR code (a PNG data URI).
type Setup struct {
	Secret string
	QRCode string
}

// PendingSetup returns the unconfirmed secret of a user for the set-up page, or ENOTFOUND.
func (m *MFA) PendingSetup(ctx context.Context, u pam.User) (Setup, error) {
	rec, err := m.db.MFAByUser(ctx, u.ID)
	if err != nil {
		return Setup{}, err
	}
	if rec.Confirmed() {
		return Setup{}, pam.Errorf(pam.ECONFLICT, "Two-step verification is already on.")
	}
	secret, err := m.open(u.ID, rec.SecretEnc)
	if err != nil {
		return Setup{}, err
	}
	key, err := otp.NewKeyFromURL(m.keyURL(u.Email, secret))
	if err != nil {
		return Setup{}, fmt.Errorf("totp key: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return Setup{}, fmt.Errorf("qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Setup{}, fmt.Errorf("qr code: %w", err)
	}
	return Setup{Secret: groupSecret(secret), QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// keyURL is the otpauth:// URL authenticator apps read from the QR code.
func (m *MFA) keyURL(account, secret string) string {
	label := url.PathEscape(m.issuer) + ":" + url.PathEscape(account)
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", m.issuer)
	q.Set("period", fmt.Sprint(totpPeriod))
	q.Set("digits", totpDigits.String())
	q.Set("algorithm", otp.AlgorithmSHA1.String())
	return "otpauth://totp/" + label + "?" + q.Encode()
}

func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Confirm completes an enrolment with the first code from the app and returns the recovery
// codes, which are shown once and stored only as keyed hashes.
func (m *MFA) Confirm(ctx context.Context, u pam.User, code string, actor audit.Actor) ([]string, error) {
	var codes []string
	err := m.db.Tx(ctx, func(tx *store.Store) error {
		rec, err := tx.MFAByUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if rec.Confirmed() {
			return pam.Errorf(pam.ECONFLICT, "Two-step verification is already on.")
		}
		ok, err := m.checkTOTP(ctx, tx, u.ID, rec, code)
		if err != nil {
			return err
		}
		if !ok {
			return ErrBadCode
		}
		if err := tx.ConfirmMFA(ctx, u.ID, m.now()); err != nil {
			return err
		}
		if codes, err = m.newRecoveryCodes(ctx, tx, u.ID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.MFAEnrolled, "user", string(u.ID), map[string]any{"method": "totp"}))
	})
	if err != nil {
		if errors.Is(err, ErrBadCode) {
			m.auditFailure(ctx, actor, audit.MFAEnrolFailed, u.ID, "wrong_code")
		}
		return nil, err
	}
	return codes, nil
}

func (m *MFA) auditFailure(ctx context.Context, actor audit.Actor, action audit.Action, user pam.UserID, reason string) {
	ev := actor.Event(action, "user", string(user), map[string]any{"reason": reason})
	ev.Outcome = audit.OutcomeFailure
	_ = m.db.Tx(ctx, func(tx *store.Store) error { return tx.AppendAudit(ctx, ev) })
}

// checkTOTP accepts code if it matches a time step within the skew of now that is later than
// the last step used, and records that step so the same code cannot be used again.
func (m *MFA) checkTOTP(ctx context.Context, tx *store.Store, user pam.UserID, rec store.MFA, code string) (bool, error) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != totpDigits.Length() {
		return false, nil
	}
	secret, err := m.open(user, rec.SecretEnc)
	if err != nil {
		return false, err
	}
	now := m.now().Unix() / totpPeriod
	matched := int64(-1)
	for step := now - totpSkew; step <= now+totpSkew; step++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return false, fmt.Errorf("totp: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = step
		}
	}
	if matched < 0 || matched <= rec.LastStep {
		return false, nil
	}
	return tx.UseMFAStep(ctx, user, matched, m.now())
}

var recoveryEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

func (m *MFA) hashRecovery(user pam.UserID, code string) string {
	code = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	h := hmac.New(sha256.New, m.hashKey)
	h.Write([]byte(string(user) + ":" + code))
	return hex.EncodeToString(h.Sum(nil))
}

func (m *MFA) newRecoveryCodes(ctx context.Context, tx *store.Store, user pam.UserID) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([]string, RecoveryCodeCount)
	for i := range codes {
		b := make([]byte, 7)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		s := recoveryEncoding.EncodeToString(b)[:10]
		codes[i] = s[:5] + "-" + s[5:]
		hashes[i] = m.hashRecovery(user, codes[i])
	}
	if err := tx.ReplaceRecoveryCodes(ctx, user, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// looksLikeRecoveryCode tells a recovery code ("abcde-fghij") from a six-digit TOTP code.
func looksLikeRecoveryCode(code string) bool {
	return len(strings.NewReplacer("-", "", " ", "").Replace(code)) == 10
}

// Verify checks a TOTP code or an unused recovery code of an enrolled user inside tx and spends
// it. It reports ErrNotEnrolled, ErrBadCode, or which kind of code was used.
func (m *MFA) Verify(ctx context.Context, tx *store.Store, user pam.UserID, code string) (string, error) {
	rec, err := tx.MFAByUser(ctx, user)
	if pam.ErrorCode(err) == pam.ENOTFOUND || (err == nil && !rec.Confirmed()) {
		return "", ErrNotEnrolled
	}
	if err != nil {
		return "", err
	}
	if looksLikeRecoveryCode(code) {
		ok, err := tx.UseRecoveryCode(ctx, user, m.hashRecovery(user, code), m.now())
		if err != nil {
			return "", err
		}
		if !ok {
			return "", ErrBadCode
		}
		return "recovery_code", nil
	}
	ok, err := m.checkTOTP(ctx, tx, user, rec, code)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrBadCode
	}
	return "totp", nil
}

// StepUp checks a code and, on success, records the step-up time in the request's session, in
// the same transaction as its audit event. Failures are audited too.
func (m *MFA) StepUp(w http.ResponseWriter, r *http.Request, user pam.UserID, code string, actor audit.Actor) error {
	ctx := r.Context()
	err := m.db.Tx(ctx, func(tx *store.Store) error {
		kind, err := m.Verify(ctx, tx, user, code)
		if err != nil {
			return err
		}
		if err := m.sessions.Put(ctx, tx, r, stepUpKey, m.now().Unix()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.MFAStepUpPassed, "user", string(user), map[string]any{"method": kind}))
	})
	if errors.Is(err, ErrBadCode) {
		m.auditFailure(ctx, actor, audit.MFAStepUpFailed, user, "wrong_code")
	}
	return err
}

// SteppedUpAt returns when the request's session last passed a step-up (zero if never).
func (m *MFA) SteppedUpAt(r *http.Request) time.Time {
	v := m.sessions.Value(r, stepUpKey)
	var sec int64
	switch x := v.(type) {
	case float64:
		sec = int64(x)
	case int64:
		sec = x
	default:
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// RegenerateRecoveryCodes replaces a user's recovery codes and returns the new ones.
func (m *MFA) RegenerateRecoveryCodes(ctx context.Context, u pam.User, actor audit.Actor) ([]string, error) {
	var codes []string
	err := m.db.Tx(ctx, func(tx *store.Store) error {
		rec, err := tx.MFAByUser(ctx, u.ID)
		if err != nil || !rec.Confirmed() {
			return ErrNotEnrolled
		}
		if codes, err = m.newRecoveryCodes(ctx, tx, u.ID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.MFARecoveryCodesRegenerated, "user", string(u.ID), nil))
	})
	if err != nil {
		return nil, fmt.Errorf("regenerate recovery codes: %w", err)
	}
	return codes, nil
}

// Disable turns a user's two-step verification off, unless the organisation requires it of them
// (required is decided by the caller, who knows the user's roles). The reason is recorded.
func (m *MFA) Disable(ctx context.Context, u pam.User, required bool, reason string, actor audit.Actor) error {
	if required {
		return pam.Errorf(pam.EFORBIDDEN, "Your organisation requires two-step verification for approvers and administrators, so it cannot be turned off.")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return pam.FieldError("reason", "Say why you turn it off, for example \"new phone\".")
	}
	if err := pam.CheckChars("reason", reason, true); err != nil {
		return err
	}
	err := m.db.Tx(ctx, func(tx *store.Store) error {
		if _, err := tx.MFAByUser(ctx, u.ID); err != nil {
			return ErrNotEnrolled
		}
		if err := tx.DeleteMFA(ctx, u.ID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, actor.Event(audit.MFADisabled, "user", string(u.ID), map[string]any{"reason": truncateRunes(reason, 500)}))
	})
	if err != nil {
		return fmt.Errorf("turn off mfa: %w", err)
	}
	return nil
}

// StepUpCode checks a current TOTP code sent with an API call that needs a step-up, and spends
// it (a code works once), in the same transaction as its audit event. Recovery codes are not
// accepted here: they are for getting back into the pages, not for automation. It reports
// ErrNotEnrolled or ErrBadCode; failures are audited too.
func (m *MFA) StepUpCode(ctx context.Context, user pam.UserID, code string, actor audit.Actor) error {
	err := m.db.Tx(ctx, func(tx *store.Store) error {
		rec, err := tx.MFAByUser(ctx, user)
		if pam.ErrorCode(err) == pam.ENOTFOUND || (err == nil && !rec.Confirmed()) {
			return ErrNotEnrolled
		}
		if err != nil {
			return err
		}
		if looksLikeRecoveryCode(code) {
			return ErrBadCode
		}
		ok, err := m.checkTOTP(ctx, tx, user, rec, code)
		if err != nil {
			return err
		}
		if !ok {
			return ErrBadCode
		}
		return tx.AppendAudit(ctx, actor.Event(audit.MFAStepUpPassed, "user", string(user), map[string]any{"method": "totp", "via": "api"}))
	})
	if errors.Is(err, ErrBadCode) {
		m.auditFailure(ctx, actor, audit.MFAStepUpFailed, user, "wrong_code")
	}
	return err
}
