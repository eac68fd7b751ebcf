package web

import (
	"github.com/a-h/templ"
	"net/http"
	"strings"

	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/components"
	tokenview "github.com/elevate-pam/elevate/views/tokens"
	"github.com/labstack/echo/v4"
)

func tokenFields(name string) []components.FieldVM {
	return []components.FieldVM{
		{Name: "name", Label: "Name", Type: "text", Value: name, Required: true, MaxLength: 100, Placeholder: "release pipeline",
			Help: "What uses it; shown in the audit trail of everything it does. It acts as you, with your rights."},
	}
}

func (s *Server) tokensPage(c echo.Context, vm tokenview.VM) (templ.Component, error) {
	u, _ := CurrentUser(c)
	toks, err := s.auth.APITokens(c.Request().Context(), u)
	if err != nil {
		return nil, err
	}
	loc, now := viewerZone(c), s.now()
	for _, t := range toks {
		r := tokenview.Row{ID: t.ID, Name: t.Name, Scope: t.Scope, Created: timeVM(t.CreatedAt, now, loc).Local, LastUsed: "never", Revoked: t.RevokedAt != nil}
		if t.LastUsedAt != nil {
			r.LastUsed = timeVM(*t.LastUsedAt, now, loc).Relative
		}
		vm.Rows = append(vm.Rows, r)
	}
	if u.Admin {
		vm.CheckTokensHref = "/admin/check-tokens"
	}
	vm.Meta = s.meta(c, "API tokens")
	return tokenview.Page(vm), nil
}

func (s *Server) showTokens(c echo.Context) error {
	return s.page(c, http.StatusOK)(s.tokensPage(c, tokenview.VM{Fields: tokenFields("")}))
}

// createToken mints an API token. Its route passes a step-up for people enrolled in two-step
// verification (and refuses people who must enrol and have not): a token outlives the session,
// so minting one must be as hard as what it can do.
func (s *Server) createToken(c echo.Context) error {
	u, _ := CurrentUser(c)
	name := c.FormValue("name")
	t, secret, err := s.auth.CreateAPIToken(c.Request().Context(), u, name, auth.ScopeAPI, actor(c))
	if err != nil {
		return s.posted(c, err, outcome{Again: func(pe *pam.Error) (templ.Component, error) {
			fields := tokenFields(name)
			msg := besideField(pe, fields)
			return s.tokensPage(c, tokenview.VM{Fields: fields, Error: msg})
		}})
	}
	// The secret is shown in this response only; a reload shows the list without it.
	return s.page(c, http.StatusOK)(s.tokensPage(c, tokenview.VM{Fields: tokenFields(""), Secret: secret, NewName: t.Name}))
}

func (s *Server) revokeToken(c echo.Context) error {
	u, _ := CurrentUser(c)
	err := s.auth.RevokeAPIToken(c.Request().Context(), u, c.Param("id"), actor(c))
	return s.posted(c, err, outcome{Next: "/profile/tokens", Done: "Token revoked. Calls with it are refused from now on."})
}

const (
	tokenKey      = "api_token"
	checkTokenKey = "check_token"
)

// bearer reads the token of an Authorization: Bearer header, or answers 401.
func bearer(c echo.Context) (string, error) {
	secret, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	if !ok {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="elevate"`)
		return "", echo.NewHTTPError(http.StatusUnauthorized, "Send a token as Authorization: Bearer <token>.")
	}
	return strings.TrimSpace(secret), nil
}

// tokenRefused turns an authentication failure into 401 (unknown token) or 403 (a token of the
// other kind).
func tokenRefused(c echo.Context, err error) error {
	if pam.ErrorCode(err) == pam.ENOTFOUND {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="elevate", error="invalid_token"`)
		return echo.NewHTTPError(http.StatusUnauthorized, pam.ErrorMessage(err))
	}
	return err
}

// apiAuth authenticates /api/v1 calls by a person's API token. Cookies are not accepted here, so
// the API needs no CSRF token and a browser session can never be ridden into it.
func (s *Server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		secret, err := bearer(c)
		if err != nil {
			return err
		}
		v, t, err := s.auth.AuthenticateToken(c.Request().Context(), secret)
		if err != nil {
			return tokenRefused(c, err)
		}
		setViewer(c, v) // the frame spares the enrolment and step-up rules their reads
		c.Set(tokenKey, t)
		return next(c)
	}
}

// APIToken returns the person's API token that authenticated the request.
func APIToken(c echo.Context) (pam.APIToken, bool) {
	t, ok := c.Get(tokenKey).(pam.APIToken)
	return t, ok
}

// CheckTokenOf returns the check token that authenticated a check.
func CheckTokenOf(c echo.Context) (pam.CheckToken, bool) {
	t, ok := c.Get(checkTokenKey).(pam.CheckToken)
	return t, ok
}

// requireScope refuses tokens whose scope does not cover the route.
func requireScope(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			t, ok := APIToken(c)
			if !ok || t.Scope != scope {
				return pam.Errorf(pam.EFORBIDDEN, "This token's scope does not allow this call.")
			}
			return next(c)
		}
	}
}
