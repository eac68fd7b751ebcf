package web

import (
	"fmt"
	"github.com/a-h/templ"
	"net/http"

	"github.com/elevate-pam/elevate/internal/pam"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

func checkTokenFields(name string) []components.FieldVM {
	return []components.FieldVM{
		{Name: "name", Label: "Target system", Type: "text", Value: name, Required: true, MaxLength: 100, Placeholder: "exchange-runspace-prod",
			Help: "The system that will ask; its checks are recorded under this name."},
	}
}

func (s *Server) checkTokensPage(c echo.Context, vm adminview.CheckTokensVM) (templ.Component, error) {
	toks, err := s.auth.CheckTokens(c.Request().Context())
	if err != nil {
		return nil, err
	}
	loc, now := viewerZone(c), s.now()
	for _, t := range toks {
		r := adminview.CheckTokenRow{ID: t.ID, Name: t.Name, CreatedBy: t.CreatedBy, Created: timeVM(t.CreatedAt, now, loc),
			LastUsed: components.TimeVM{Relative: "never"}}
		if t.LastUsedAt != nil {
			r.LastUsed = timeVM(*t.LastUsedAt, now, loc)
		}
		if t.RevokedAt != nil {
			r.Revoked = fmt.Sprintf("Revoked by %s %s", t.RevokedBy, timeVM(*t.RevokedAt, now, loc).Relative)
		}
		vm.Rows = append(vm.Rows, r)
	}
	vm.Meta = s.meta(c, "Check tokens")
	return adminview.CheckTokens(vm), nil
}

func (s *Server) showCheckTokens(c echo.Context) error {
	return s.page(c, http.StatusOK)(s.checkTokensPage(c, adminview.CheckTokensVM{Fields: checkTokenFields("")}))
}

func (s *Server) createCheckToken(c echo.Context) error {
	name := c.FormValue("name")
	t, secret, err := s.auth.CreateCheckToken(c.Request().Context(), name, actor(c))
	if err != nil {
		// Success shows the secret instead of redirecting: it is never shown again.
		return s.posted(c, err, outcome{Again: func(pe *pam.Error) (templ.Component, error) {
			fields := checkTokenFields(name)
			msg := besideField(pe, fields)
			return s.checkTokensPage(c, adminview.CheckTokensVM{Fields: fields, Error: msg})
		}})
	}
	base := s.cfg.BaseURL.String()
	// The secret and its example lines are in this response only; a reload shows the list.
	return s.page(c, http.StatusOK)(s.checkTokensPage(c, adminview.CheckTokensVM{
		Fields: checkTokenFields(""), Secret: secret, NewName: t.Name,
		CurlLine:    fmt.Sprintf("curl -sS -X POST %s/api/v1/check \\\n  -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n  -d '{\"user\":\"ana@example.com\",\"task\":\"exchange/Set-Mailbox\"}'", base, secret),
		CommandLine: fmt.Sprintf("ELEVATE_URL=%s ELEVATE_CHECK_TOKEN=%s \\\n  elevate check --user ana@example.com --task exchange/Set-Mailbox", base, secret),
	}))
}

func (s *Server) revokeCheckToken(c echo.Context) error {
	t, err := s.auth.RevokeCheckToken(c.Request().Context(), c.Param("id"), actor(c))
	return s.posted(c, err, outcome{Next: "/admin/check-tokens", Done: fmt.Sprintf("Check token %s revoked. Its system's next check is refused.", t.Name)})
}
