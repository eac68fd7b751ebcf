package web

import (
	"bytes"
	"github.com/elevate-pam/elevate/internal/pam"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/views/layout"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// render draws a component into a buffer first, so a failed render never sends half a page.
func render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// meta builds the frame's view model for the current request: viewer, token, flash, navigation.
func (s *Server) meta(c echo.Context, title string) layout.Meta {
	m := layout.Meta{Title: title, RequestID: RequestID(c)}
	m.CSRF, _ = c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
	m.Flash = s.takeFlash(c)
	if u, ok := CurrentUser(c); ok {
		m.User = &layout.User{Name: u.Name, Email: u.Email, TimeZone: u.TimeZone}
		m.Nav = s.nav(c)
	}
	return m
}

// nav is the sidebar for the viewer: only what they may open, with the current page marked.
func (s *Server) nav(c echo.Context) []layout.NavItem {
	path := c.Request().URL.Path
	u, _ := CurrentUser(c)
	items := []layout.NavItem{
		{Label: "Dashboard", Href: "/", TestID: "nav-dashboard"},
		{Label: "Request access", Href: "/requests/new", TestID: "nav-request"},
		{Label: "My requests", Href: "/requests", TestID: "nav-requests"},
		{Label: "Approvals", Href: "/approvals", TestID: "nav-approvals", Badge: s.inboxCount(c, u)},
	}
	if u.Admin || u.Auditor {
		items = append(items, layout.NavItem{Label: "Overview", Href: "/overview", TestID: "nav-overview"},
			layout.NavItem{Label: "Audit", Href: "/audit", TestID: "nav-audit"})
	}
	if u.Auditor && !u.Admin {
		items = append(items, layout.NavItem{Label: "Policies", Href: "/admin/policies", TestID: "nav-policies"})
	}
	if u.Admin {
		items = append(items, layout.NavItem{Label: "Admin", Href: "/admin", TestID: "nav-admin"})
	}
	for i := range items {
		h := items[i].Href
		items[i].Active = path == h || (h != "/" && h != "/requests" && strings.HasPrefix(path, h)) ||
			(h == "/requests" && strings.HasPrefix(path, "/requests/") && path != "/requests/new")
	}
	return items
}

func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

// inboxCount is the number of requests waiting for the viewer, for the navigation badge: one
// indexed statement, once per page (the inbox and the dashboard read it from the navigation).
// A failure only hides the badge; the page itself still renders.
func (s *Server) inboxCount(c echo.Context, u pam.User) int {
	if s.access == nil {
		return 0
	}
	n, err := s.access.InboxCount(c.Request().Context(), u)
	if err != nil {
		s.log.Warn("inbox count failed", "request_id", RequestID(c), "error", err.Error())
		return 0
	}
	return n
}
