package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/a-h/templ"

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
		} else if t.ID == vm.Revoking {
			r.Reason, r.ReasonError = vm.Reason, vm.ReasonError
		}
		vm.Rows = append(vm.Rows, r)
	}
	vm.Meta = s.meta(c, "Check tokens")
	if err := s.checkLines(c, &vm); err != nil {
		return nil, err
	}
	return adminview.CheckTokens(vm), nil
}

// checkLines fills in the ready-to-paste curl and elevate check lines: this server's base URL,
// the viewer's email and a real task, and the new token when there is one (else the variable
// the system keeps it in).
func (s *Server) checkLines(c echo.Context, vm *adminview.CheckTokensVM) error {
	u, _ := CurrentUser(c)
	task := "exchange/Set-Mailbox"
	tasks, err := s.catalog.Tasks(c.Request().Context(), pam.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(tasks) > 0 {
		task = tasks[0].Key
	}
	base := strings.TrimRight(s.cfg.BaseURL.String(), "/")
	auth, tokenVar := `"Authorization: Bearer $ELEVATE_CHECK_TOKEN"`, ""
	if vm.Secret != "" {
		auth, tokenVar = shellQuote("Authorization: Bearer "+vm.Secret), "ELEVATE_CHECK_TOKEN="+shellQuote(vm.Secret)+" "
	}
	body, _ := json.Marshal(map[string]string{"user": u.Email, "task": task})
	vm.CurlLine = fmt.Sprintf("curl -sS -X POST %s \\\n  -H %s \\\n  -H 'Content-Type: application/json' \\\n  -d %s",
		shellQuote(base+checkPath), auth, shellQuote(string(body)))
	vm.CommandLine = fmt.Sprintf("ELEVATE_URL=%s %s\\\n  elevate check --user %s --task %s", shellQuote(base), tokenVar, shellQuote(u.Email), shellQuote(task))
	vm.Example = fmt.Sprintf("They ask whether %s may run %s now; put the person and task the system is about to run.", u.Email, task)
	return nil
}

// shellQuote quotes s for a POSIX shell unless it is made only of characters that need none.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
	// The secret and its lines are in this response only; a reload shows the list.
	return s.page(c, http.StatusOK)(s.checkTokensPage(c, adminview.CheckTokensVM{
		Fields: checkTokenFields(""), Secret: secret, NewName: t.Name}))
}

func (s *Server) revokeCheckToken(c echo.Context) error {
	id, reason := c.Param("id"), c.FormValue("reason")
	t, err := s.auth.RevokeCheckToken(c.Request().Context(), id, actor(c), reason)
	o := outcome{Next: "/admin/check-tokens", Done: fmt.Sprintf("Check token %s revoked. Its system's next check is refused.", t.Name)}
	if onField(err, "reason") {
		o.Again = func(pe *pam.Error) (templ.Component, error) {
			return s.checkTokensPage(c, adminview.CheckTokensVM{Fields: checkTokenFields(""), Revoking: id, Reason: reason, ReasonError: pe.Message})
		}
	}
	return s.posted(c, err, o)
}
