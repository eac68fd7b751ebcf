package web

import (
	"net/http"
	"strings"

	"github.com/elevate-pam/elevate/views/dashboard"
	"github.com/labstack/echo/v4"
)

func (s *Server) showDashboard(c echo.Context) error {
	u, _ := CurrentUser(c)
	first := u.Name
	if f := strings.Fields(u.Name); len(f) > 0 {
		first = f[0]
	}
	var roles []string
	if u.Admin {
		roles = append(roles, "an administrator")
	}
	if u.Auditor {
		roles = append(roles, "an auditor")
	}
	line := ""
	if len(roles) > 0 {
		line = "You are " + strings.Join(roles, " and ") + "."
	}
	return render(c, http.StatusOK, dashboard.Page(dashboard.VM{Meta: s.meta(c, "Dashboard"), FirstName: first, RoleLine: line}))
}
