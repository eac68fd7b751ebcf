package web

import (
	"bytes"
	"net/http"
	"strings"
	"sync"

	"github.com/elevate-pam/elevate/internal/pam"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/views/layout"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// render draws a component into a buffer first, so a failed render never sends half a page.
// The buffers are reused: a page grew a fresh one from empty to tens of kilobytes each time.
func render(c echo.Context, status int, comp templ.Component) error {
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer putPageBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// pageBuffers holds render's buffers.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPage bounds the buffers kept: an unusually large page (a long export preview) is
// left to the collector rather than held for every later request.
const maxPooledPage = 256 << 10

func putPageBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledPage {
		return
	}
	b.Reset()
	pageBuffers.Put(b)
}

// meta builds the frame's view model for the current request: viewer, token, flash, navigation.
func (s *Server) meta(c echo.Context, title string) layout.Meta {
	m := layout.Meta{Title: title, RequestID: RequestID(c), CSRF: csrfToken(c)}
	m.Flash = s.takeFlash(c)
	if u, ok := CurrentUser(c); ok {
		m.User = &layout.User{Name: u.Name, Email: u.Email, TimeZone: u.TimeZone}
		m.Nav = s.nav(c)
	}
	m.MailQueued = s.cfg.SMTP == nil
	return m
}

// navSectionKey names the context value a handler sets when its page belongs to another
// section of the navigation than its path says (someone else's request, under Approvals).
const navSectionKey = "nav_section"

// nav is the sidebar for the viewer: only what they may open, with the current page marked.
func (s *Server) nav(c echo.Context) []layout.NavItem {
	path := c.Request().URL.Path
	if sec, ok := c.Get(navSectionKey).(string); ok {
		path = sec
	}
	u, _ := CurrentUser(c)
	items := []layout.NavItem{
		{Label: "Dashboard", Href: "/", TestID: "nav-dashboard"},
		{Label: "Request access", Href: "/requests/new", TestID: "nav-request"},
		{Label: "My requests", Href: "/requests", TestID: "nav-requests"},
		{Label: "Approvals", Href: "/approvals", TestID: "nav-approvals", Badge: s.inboxCount(c, u), CountID: layout.ApprovalsCountID},
		// Anyone may be named to review a group's members; the page says when nothing waits.
		{Label: "Access reviews", Href: "/reviews", TestID: "nav-reviews"},
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

// csrfToken is the request's CSRF token, for forms drawn outside a page's frame (an htmx card).
func csrfToken(c echo.Context) string {
	t, _ := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
	return t
}

func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

const inboxCountKey = "inbox_count"

// setInboxCount gives the navigation the count a handler read with its own page (the inbox).
func setInboxCount(c echo.Context, n int) { c.Set(inboxCountKey, n) }

// inboxCount is the number of requests waiting for the viewer, for the navigation badge: read
// by the page itself (setInboxCount), else with the session in the same statement (the frame of
// a GET page, see loadUser), else, for a page drawn after a POST, one indexed statement of its
// own. A failure only hides the badge; the page itself still renders.
func (s *Server) inboxCount(c echo.Context, u pam.User) int {
	if n, ok := c.Get(inboxCountKey).(int); ok {
		return n
	}
	if f, ok := currentFrame(c); ok && f.InboxRead {
		return f.Inbox
	}
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
