package web

import (
	"net/http"
	"strings"

	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/views/components"
	tokenview "github.com/elevate-pam/elevate/views/tokens"
	"github.com/labstack/echo/v4"
)

func tokenFields(name, scope string) []components.FieldVM {
	if scope == "" {
		scope = auth.ScopeCheck
	}
	return []components.FieldVM{
		{Name: "name", Label: "Name", Type: "text", Value: name, Required: true, MaxLength: 100, Placeholder: "exchange-runspace-prod",
			Help: "Which system uses it; shown in the audit trail of every check."},
		{Name: "scope", Label: "Scope", Type: "select", Value: scope, Options: []components.Option{
			{Value: auth.ScopeCheck, Label: "check: may only ask whether a task is allowed"},
			{Value: auth.ScopeAPI, Label: "api: acts as you on the whole JSON API"}}},
	}
}

func (s *Server) tokensPage(c echo.Context, status int, vm tokenview.VM) error {
	u, _ := CurrentUser(c)
	toks, err := s.auth.APITokens(c.Request().Context(), u)
	if err != nil {
		return err
	}
	loc, now := viewerZone(c), s.now()
	for _, t := range toks {
		r := tokenview.Row{ID: t.ID, Name: t.Name, Scope: t.Scope, Created: timeVM(t.CreatedAt, now, loc).Local, LastUsed: "never", Revoked: t.RevokedAt != nil}
		if t.LastUsedAt != nil {
			r.LastUsed = timeVM(*t.LastUsedAt, now, loc).Relative
		}
		vm.Rows = append(vm.Rows, r)
	}
	vm.Meta = s.meta(c, "API tokens")
	return render(c, status, tokenview.Page(vm))
}

func (s *Server) showTokens(c echo.Context) error {
	return s.tokensPage(c, http.StatusOK, tokenview.VM{Fields: tokenFields("", "")})
}

func (s *Server) createToken(c echo.Context) error {
	u, _ := CurrentUser(c)
	name, scope := c.FormValue("name"), c.FormValue("scope")
	t, secret, err := s.auth.CreateAPIToken(c.Request().Context(), u, name, scope, actor(c))
	if err != nil {
		fields := tokenFields(name, scope)
		msg, ok := formError(err, fields)
		if !ok {
			return err
		}
		return s.tokensPage(c, http.StatusUnprocessableEntity, tokenview.VM{Fields: fields, Error: msg})
	}
	// The secret is shown in this response only; a reload shows the list without it.
	return s.tokensPage(c, http.StatusOK, tokenview.VM{Fields: tokenFields("", ""), Secret: secret, NewName: t.Name})
}

func (s *Server) revokeToken(c echo.Context) error {
	u, _ := CurrentUser(c)
	err := s.auth.RevokeAPIToken(c.Request().Context(), u, c.Param("id"), actor(c))
	if pam.ErrorCode(err) == pam.ECONFLICT {
		s.setFlash(c, "info", pam.ErrorMessage(err))
		return redirect(c, "/profile/tokens")
	}
	if err != nil {
		return err
	}
	s.setFlash(c, "success", "Token revoked. Calls with it are refused from now on.")
	return redirect(c, "/profile/tokens")
}

const tokenKey = "api_token"

// apiAuth authenticates /api/v1 calls by bearer token. Cookies are not accepted here, so the
// API needs no CSRF token and a browser session can never be ridden into it.
func (s *Server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="elevate"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "Send an API token as Authorization: Bearer <token>.")
		}
		u, t, err := s.auth.AuthenticateToken(c.Request().Context(), strings.TrimSpace(secret))
		if pam.ErrorCode(err) == pam.ENOTFOUND {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="elevate", error="invalid_token"`)
			return echo.NewHTTPError(http.StatusUnauthorized, pam.ErrorMessage(err))
		}
		if err != nil {
			return err
		}
		c.Set(userKey, u)
		c.Set(tokenKey, t)
		return next(c)
	}
}

// APIToken returns the token that authenticated the request.
func APIToken(c echo.Context) (store.APIToken, bool) {
	t, ok := c.Get(tokenKey).(store.APIToken)
	return t, ok
}

// requireScope refuses tokens whose scope does not cover the route.
func requireScope(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			t, ok := APIToken(c)
			if !ok || (t.Scope != scope && t.Scope != auth.ScopeAPI) {
				return pam.Errorf(pam.EFORBIDDEN, "This token's scope does not allow this call.")
			}
			return next(c)
		}
	}
}
