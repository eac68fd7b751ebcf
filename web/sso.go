package web

import (
	"errors"
	"net/http"

	"github.com/elevate-pam/elevate/internal/auth"
	authview "github.com/elevate-pam/elevate/views/auth"
	"github.com/labstack/echo/v4"
)

// startSSO redirects to the identity provider. It is a GET link (the page's CSP allows forms
// to post only to this site); it changes no server state, only sets the flow cookie.
func (s *Server) startSSO(c echo.Context) error {
	if s.sso == nil {
		return echo.ErrNotFound
	}
	to, err := s.sso.Begin(c.Response(), c.Request(), safeNext(c.QueryParam("next")))
	if errors.Is(err, auth.ErrProviderUnavailable) {
		s.log.Warn("sso: provider unavailable", "request_id", RequestID(c), "error", err.Error())
		return s.renderSSORefused(c, http.StatusServiceUnavailable, "The identity provider cannot be reached right now. Try again in a few minutes.")
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, to)
}

// finishSSO is the provider's redirect back. By the protocol it is a GET; it may start a session
// only after the state, the PKCE verifier and the ID token's nonce all check out.
func (s *Server) finishSSO(c echo.Context) error {
	if s.sso == nil {
		return echo.ErrNotFound
	}
	att, err := s.CheckLimits(c, "sso", Limit{auth.SignInPerIP, c.RealIP()})
	if err != nil {
		return err
	}
	_, next, err := s.sso.Finish(c.Response(), c.Request(), actor(c))
	var refusal *auth.Refusal
	switch {
	case errors.As(err, &refusal):
		return s.renderSSORefused(c, http.StatusForbidden, refusal.Message)
	case errors.Is(err, auth.ErrProviderUnavailable):
		s.log.Warn("sso: provider unavailable", "request_id", RequestID(c), "error", err.Error())
		return s.renderSSORefused(c, http.StatusServiceUnavailable, "The identity provider cannot be reached right now. Try again in a few minutes.")
	case err != nil:
		return err
	}
	att.Forgive(c)
	// The target was checked when the flow began; it is checked again as it is used, so the
	// rule holds even for a flow begun before the rule tightened.
	return redirect(c, safeNext(next))
}

func (s *Server) renderSSORefused(c echo.Context, status int, msg string) error {
	return render(c, status, authview.SSORefused(authview.SSORefusedVM{Meta: s.meta(c, "Sign-in refused"), Message: msg}))
}
