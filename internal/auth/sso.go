package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
	"github.com/gorilla/securecookie"
	"golang.org/x/oauth2"
)

// ssoCookie carries one sign-in attempt's state, nonce and PKCE verifier from the redirect to
// the callback; it is encrypted and signed, lives ten minutes and is sent only to /auth/sso.
const ssoCookie = "elevate_sso"

// SSOConfig is how Elevate is registered with the OpenID Provider.
type SSOConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is Elevate's callback, BaseURL + "/auth/sso/callback".
	RedirectURL string
	// AutoCreate creates unknown users at their first sign-in instead of refusing them.
	AutoCreate bool
	Secure     bool
	// GroupsClaim names the claim whose values map to groups the provider manages ("groups"
	// when empty); it is read from the ID token, else from userinfo.
	GroupsClaim string
}

// ProviderGroups is what the provider said about a person's groups at one sign-in.
type ProviderGroups struct {
	Issuer string
	Claim  string
	// Values are the claim's string values; none when the claim was absent, null or empty.
	Values []string
	// From is where the claim was read: "id_token", "userinfo", or "" when neither had it.
	From string
}

// GroupSync sets, inside the sign-in's transaction tx, the person's memberships of the groups
// the provider manages from what it said, and returns what goes on the sign-in's audit event
// (admin.Service is one).
type GroupSync interface {
	SyncProviderGroups(ctx context.Context, tx *store.Store, u pam.User, g ProviderGroups) (map[string]any, error)
}

// SSO signs people in through an OpenID Provider with the authorization code flow, PKCE
// (S256), state and nonce. The provider's metadata is fetched on first use and retried until
// it answers, so Elevate starts even while the provider is down.
type SSO struct {
	svc    *Service
	cfg    SSOConfig
	cookie *securecookie.SecureCookie
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider

	groups GroupSync
}

// SetGroupSync makes every SSO sign-in set the person's memberships of the groups the
// provider manages. Set it before serving.
func (s *SSO) SetGroupSync(g GroupSync) { s.groups = g }

func (s *SSO) groupsClaim() string {
	if s.cfg.GroupsClaim == "" {
		return "groups"
	}
	return s.cfg.GroupsClaim
}

// claimValues reads a groups claim: a JSON array of strings (other items are ignored) or a
// single string. Anything else, null included, carries no value.
func claimValues(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []any
	if json.Unmarshal(raw, &many) != nil {
		return nil
	}
	out := make([]string, 0, len(many))
	for _, v := range many {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// NewSSO returns single sign-on for cfg; secret keys the flow cookie.
func (s *Service) NewSSO(cfg SSOConfig, secret []byte) *SSO {
	sc := securecookie.New(DeriveKey(secret, "sso-cookie-mac"), DeriveKey(secret, "sso-cookie-enc"))
	sc.MaxAge(600)
	sc.SetSerializer(securecookie.JSONEncoder{})
	return &SSO{svc: s, cfg: cfg, cookie: sc, client: &http.Client{Timeout: 10 * time.Second}}
}

// ErrProviderUnavailable means the identity provider could not be reached or understood.
var ErrProviderUnavailable = errors.New("the identity provider is unavailable")

// Refusal is an SSO sign-in that was turned down; Message is for the person, Reason for the
// audit trail.
type Refusal struct {
	Reason  string
	Message string
}

func (r *Refusal) Error() string { return "sso refused: " + r.Reason }

const retryMessage = "Single sign-on did not complete. Start again from the sign-in page."

func (s *SSO) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.client)
}

func (s *SSO) discover(ctx context.Context) (*oidc.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provider != nil {
		return s.provider, nil
	}
	// The provider keeps the context for fetching keys later, so it must outlive this request.
	p, err := oidc.NewProvider(s.ctx(context.WithoutCancel(ctx)), s.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
	}
	s.provider = p
	return p, nil
}

func (s *SSO) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret, RedirectURL: s.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
	}
}

type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
}

func (s *SSO) cookieOf(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: ssoCookie, Value: value, Path: "/auth/sso", MaxAge: maxAge, HttpOnly: true,
		Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode}
}

// Begin starts a sign-in: it remembers a fresh state, nonce and PKCE verifier in the flow
// cookie and returns the provider's authorization URL to redirect to. next is where to go
// after signing in; the caller has checked that it stays on this site.
func (s *SSO) Begin(w http.ResponseWriter, r *http.Request, next string) (string, error) {
	p, err := s.discover(r.Context())
	if err != nil {
		return "", err
	}
	f := flow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Next: next}
	v, err := s.cookie.Encode(ssoCookie, f)
	if err != nil {
		return "", fmt.Errorf("sso cookie: %w", err)
	}
	http.SetCookie(w, s.cookieOf(v, 600))
	return s.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), nil
}

type idClaims struct {
	Email         string `json:"email"`
	EmailVerified any    `json:"email_verified"`
	Name          string `json:"name"`
}

// verified reads email_verified, which some providers send as a string.
func verified(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true"
	}
	return false
}

// Finish completes a sign-in at the callback: it checks the flow cookie's state, exchanges the
// code with the PKCE verifier, verifies the ID token (signature, issuer, audience, expiry) and
// its nonce, requires a verified email, matches or creates the user, and starts a session in
// the transaction that records the sign-in. Every refusal is audited and returned as *Refusal.
func (s *SSO) Finish(w http.ResponseWriter, r *http.Request, actor audit.Actor) (pam.User, string, error) {
	ctx := r.Context()
	refuse := func(reason, email, msg string) (pam.User, string, error) {
		ev := actor.Event(audit.AuthSSORefused, "", "", map[string]any{"reason": reason, "email": truncateRunes(email, 254)})
		ev.Outcome = audit.OutcomeFailure
		if err := s.svc.db.Tx(ctx, func(tx *store.Store) error { return tx.AppendAudit(ctx, ev) }); err != nil {
			return pam.User{}, "", fmt.Errorf("sso: %w", err)
		}
		if msg == "" {
			msg = retryMessage
		}
		return pam.User{}, "", &Refusal{Reason: reason, Message: msg}
	}

	var f flow
	ck, err := r.Cookie(ssoCookie)
	if err != nil || s.cookie.Decode(ssoCookie, ck.Value, &f) != nil || f.State == "" {
		return refuse("no_flow", "", "This sign-in took too long or was started elsewhere. Start again from the sign-in page.")
	}
	http.SetCookie(w, s.cookieOf("", -1)) // one use only
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return refuse("provider_error:"+truncateRunes(e, 64), "", "")
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return refuse("state_mismatch", "", "")
	}
	if q.Get("code") == "" {
		return refuse("no_code", "", "")
	}
	p, err := s.discover(ctx)
	if err != nil {
		return pam.User{}, "", err
	}
	octx := s.ctx(ctx)
	tok, err := s.oauth(p).Exchange(octx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return refuse("code_exchange_failed", "", "")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return refuse("no_id_token", "", "")
	}
	idt, err := p.VerifierContext(octx, &oidc.Config{ClientID: s.cfg.ClientID, Now: s.svc.now}).Verify(octx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return refuse("id_token_expired", "", "")
		}
		return refuse("id_token_invalid", "", "")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return refuse("nonce_mismatch", "", "")
	}
	var cl idClaims
	var all map[string]json.RawMessage
	if err := idt.Claims(&cl); err != nil || idt.Claims(&all) != nil {
		return refuse("id_token_invalid", "", "")
	}
	// Some providers put the email or the groups only in the userinfo answer, which must be
	// about the same subject. It is asked once, when either is missing.
	var ui *oidc.UserInfo
	userInfo := func() (string, bool) {
		if ui != nil {
			return "", true
		}
		got, err := p.UserInfo(octx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return "userinfo_failed", false
		}
		if got.Subject != idt.Subject {
			return "userinfo_subject_mismatch", false
		}
		ui = got
		return "", true
	}
	if cl.Email == "" && p.UserInfoEndpoint() != "" {
		if reason, ok := userInfo(); !ok {
			return refuse(reason, "", "")
		}
		var extra idClaims
		_ = ui.Claims(&extra)
		cl.Email, cl.EmailVerified, cl.Name = ui.Email, ui.EmailVerified, extra.Name
	}
	groups := ProviderGroups{Issuer: s.cfg.Issuer, Claim: s.groupsClaim()}
	if s.groups != nil {
		if raw, ok := all[groups.Claim]; ok {
			groups.Values, groups.From = claimValues(raw), "id_token"
		} else if p.UserInfoEndpoint() != "" {
			// Asked only when some group is managed: a provider whose userinfo fails then
			// refuses the sign-in rather than take memberships away by mistake.
			managed, err := s.svc.db.HasIdPGroups(ctx)
			if err != nil {
				return pam.User{}, "", fmt.Errorf("sso: %w", err)
			}
			if managed {
				if reason, ok := userInfo(); !ok {
					return refuse(reason, cl.Email, "")
				}
				var uiAll map[string]json.RawMessage
				_ = ui.Claims(&uiAll)
				if raw, ok := uiAll[groups.Claim]; ok {
					groups.Values, groups.From = claimValues(raw), "userinfo"
				}
			}
		}
	}
	if cl.Email == "" {
		return refuse("no_email", "", "Your identity provider did not share your email address, so Elevate cannot tell who you are. Ask an administrator.")
	}
	if !verified(cl.EmailVerified) {
		return refuse("email_unverified", cl.Email, "Your identity provider has not verified the email address "+cl.Email+", so Elevate cannot match it to an account. Verify it there, then try again.")
	}
	email, err := pam.NormalizeEmail(cl.Email)
	if err != nil {
		return refuse("bad_email", cl.Email, "Your identity provider sent an email address Elevate cannot use. Ask an administrator.")
	}

	var u pam.User
	var refusal *Refusal
	var cookie *http.Cookie
	err = s.svc.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		u, _, err = tx.UserByEmail(ctx, email)
		switch {
		case pam.ErrorCode(err) == pam.ENOTFOUND && s.cfg.AutoCreate:
			name, nerr := pam.ValidateName(cl.Name)
			if nerr != nil {
				name = strings.SplitN(email, "@", 2)[0]
			}
			u = pam.User{ID: pam.UserID(uuid.NewString()), Email: email, Name: name, TimeZone: "UTC", CreatedAt: s.svc.now()}
			if err := tx.CreateUser(ctx, u, ""); err != nil {
				return err
			}
			sys := actor
			sys.Type, sys.ID, sys.Name = audit.ActorSystem, "", "sso"
			if err := tx.AppendAudit(ctx, sys.Event(audit.UserCreated, "user", string(u.ID),
				map[string]any{"email": u.Email, "name": u.Name, "admin": false, "source": "sso"})); err != nil {
				return err
			}
		case pam.ErrorCode(err) == pam.ENOTFOUND:
			refusal = &Refusal{Reason: "unknown_user", Message: "There is no Elevate account for " + email + ". Ask an administrator to add you."}
			return nil
		case err != nil:
			return err
		case !u.Active():
			refusal = &Refusal{Reason: "disabled", Message: "The Elevate account " + email + " is disabled. Ask an administrator if you need it again."}
			return nil
		}
		details := map[string]any{"method": "sso", "issuer": s.cfg.Issuer}
		if s.groups != nil {
			// The memberships follow the provider before the session starts, in its transaction.
			synced, err := s.groups.SyncProviderGroups(ctx, tx, u, groups)
			if err != nil {
				return err
			}
			for k, v := range synced {
				details[k] = v
			}
		}
		if cookie, err = s.svc.Sessions.Start(ctx, tx, r, u.ID, actor.IP); err != nil {
			return err
		}
		a := actor
		a.Type, a.ID, a.Name = audit.ActorUser, string(u.ID), u.Email
		return tx.AppendAudit(ctx, a.Event(audit.AuthSignedIn, "user", string(u.ID), details))
	})
	if err != nil {
		return pam.User{}, "", fmt.Errorf("sso sign in: %w", err)
	}
	if refusal != nil {
		return refuse(refusal.Reason, email, refusal.Message)
	}
	http.SetCookie(w, cookie) // only after the session and its audit event committed
	return u, f.Next, nil
}
