package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/static"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders runs before routing, so every answer carries the headers: pages, redirects,
// errors, static files and JSON alike.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	secure := s.cfg.Secure()
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		// Dynamic answers may hold personal data; the static handler relaxes this for assets.
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

const requestIDKey = "request_id"

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestID gives each request an id of our own (never the client's), shown on error pages
// and written in every log line about the request.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := newRequestID()
		c.Set(requestIDKey, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// RequestID returns the id of the current request.
func RequestID(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// observe logs one line per request and feeds the Prometheus metrics. It logs the path without
// its query string, so tokens in links never reach the log.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.metrics.observe(c.Request().Method, route, status, d)
		if route != "/healthz" && route != "/readyz" && route != "/metrics" && route != "/static/*" {
			s.log.Info("http", "request_id", RequestID(c), "method", c.Request().Method, "route", route,
				"path", c.Request().URL.Path, "status", status, "duration_ms", d.Milliseconds(), "ip", c.RealIP())
		}
		return nil
	}
}

// recoverPanic turns a panic into a logged 500 with the request id; the stack goes to the log only.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic", "request_id", RequestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// csrf requires a token on every unsafe method; a cross-site form post is refused with 403
// before any handler runs.
func (s *Server) csrf() echo.MiddlewareFunc {
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf,header:X-CSRF-Token",
		CookieName:     "elevate_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.cfg.Secure(),
		CookieSameSite: http.SameSiteLaxMode,
		CookieMaxAge:   int((12 * time.Hour) / time.Second),
		ErrorHandler: func(err error, c echo.Context) error {
			s.log.Warn("csrf refused", "request_id", RequestID(c), "path", c.Request().URL.Path, "reason", err.Error())
			return echo.NewHTTPError(http.StatusForbidden, "This form has expired or came from another site. Go back, reload the page and try again.")
		},
	})
}

// maxBody is the most a request body may hold. No route takes uploads, and the largest form
// (a request with a 2,000-character justification) stays far below it.
const maxBody = 64 << 10

const tooLargeMessage = "This request is larger than the 64 KiB Elevate accepts. Shorten what you sent and try again."

func bodyTooLarge() error {
	return echo.NewHTTPError(http.StatusRequestEntityTooLarge, tooLargeMessage)
}

func multipartRefused() error {
	return echo.NewHTTPError(http.StatusUnsupportedMediaType,
		"Elevate takes no file uploads or multipart forms. Send the form URL-encoded, or JSON to the API.")
}

// limitBody bounds every request body before anything reads it (the CSRF check parses the form,
// and Go would buffer a whole multipart body to do so): multipart is refused with 415, a declared
// length over maxBody with 413, and a body without a length is cut at maxBody. A URL-encoded form
// is parsed here so that one cut short answers 413 instead of reading as an empty form.
//
// The check API is the exception: a target system's every call must reach its audited handler,
// which reads at most maxBody and answers 413 or 400 itself, on the trail.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if c.Path() == checkPath {
			if r.Body != nil {
				r.Body = http.MaxBytesReader(c.Response().Writer, r.Body, maxBody)
			}
			return next(c)
		}
		ct, _, _ := strings.Cut(r.Header.Get(echo.HeaderContentType), ";")
		ct = strings.ToLower(strings.TrimSpace(ct))
		if strings.HasPrefix(ct, "multipart/") {
			return multipartRefused()
		}
		if r.ContentLength > maxBody {
			return bodyTooLarge()
		}
		if r.Body == nil {
			return next(c)
		}
		// The bare writer lets the server close the connection instead of draining the rest.
		r.Body = http.MaxBytesReader(c.Response().Writer, r.Body, maxBody)
		if ct == echo.MIMEApplicationForm {
			var tooLarge *http.MaxBytesError
			if err := r.ParseForm(); errors.As(err, &tooLarge) {
				return bodyTooLarge()
			}
		}
		return next(c)
	}
}

const (
	userKey  = "user"
	frameKey = "frame"
)

// ownNavCount are the GET routes that draw no navigation count from the session read: the inbox
// counts what waits with its own page, a card fragment and an export draw no navigation.
var ownNavCount = map[string]bool{"/approvals": true, "/approvals/:id/card": true, "/audit/export": true}

// loadUser puts the signed-in user (if any) on the context, with the frame of their pages when
// it was read with the session. A disabled user's sessions end here. A GET page's session is
// read with the navigation's inbox count in the same statement; other requests (a POST mostly
// redirects) skip it.
func (s *Server) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet && !ownNavCount[c.Path()] {
			c.SetRequest(auth.CountInbox(c.Request()))
		}
		v, ok, err := s.auth.Authenticate(c.Request())
		if err != nil {
			return fmt.Errorf("authenticate: %w", err)
		}
		if ok {
			setViewer(c, v)
		}
		return next(c)
	}
}

func setViewer(c echo.Context, v auth.Viewer) {
	c.Set(userKey, v.User)
	if v.Frame.Read {
		c.Set(frameKey, v.Frame)
	}
}

// CurrentUser returns the signed-in user of the request.
func CurrentUser(c echo.Context) (pam.User, bool) {
	u, ok := c.Get(userKey).(pam.User)
	return u, ok
}

// currentFrame returns what was read with the request's session or API token for its frame;
// false for pages without a session, which ask the services instead (see mustEnrol).
func currentFrame(c echo.Context) (auth.Frame, bool) {
	f, ok := c.Get(frameKey).(auth.Frame)
	return f, ok
}

// requireUser sends anonymous visitors to sign in and then back where they were going.
func (s *Server) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := CurrentUser(c); ok {
			return next(c)
		}
		r := c.Request()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.setFlash(c, "info", "Your session has ended. Sign in again to continue.")
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		target := "/login"
		if r.URL.RequestURI() != "/" {
			target += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		return c.Redirect(http.StatusSeeOther, target)
	}
}

// requireAdmin refuses everyone but admins.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u, ok := CurrentUser(c); ok && u.Admin {
			return next(c)
		}
		return pam.Errorf(pam.EFORBIDDEN, "This page is for administrators.")
	}
}

// safeNext returns a next or back target when it is a path on this site (see localTarget),
// and "/" for anything else.
func safeNext(next string) string {
	if !localTarget(next) {
		return "/"
	}
	return next
}

// localTarget reports whether a redirect target stays on this site. Browsers drop tabs and
// newlines from a URL, trim spaces and controls from its ends and read a backslash as "/", so
// "/<tab>/evil.example" is followed as "//evil.example", another host. A target passes only when
// both its raw and its percent-decoded form start with exactly one "/", parse with no scheme,
// host or user info, are valid UTF-8 and hold no control, space, format character or backslash;
// so "/%2F/evil.example" and "/%5Cevil.example" are refused too. The check is strict on purpose:
// a target that fails only means landing on the dashboard.
func localTarget(target string) bool {
	decoded, err := url.PathUnescape(target)
	return err == nil && localForm(target) && localForm(decoded)
}

func localForm(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

// actor describes the request's user and client for the audit trail.
func actor(c echo.Context) audit.Actor {
	a := audit.Actor{Type: audit.ActorAnonymous, IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
	if u, ok := CurrentUser(c); ok {
		a.Type, a.ID, a.Name = audit.ActorUser, string(u.ID), u.Email
	}
	return a
}

// serveStatic serves embedded assets. A request carrying the current fingerprint may be cached
// for a year; directories are never listed.
func serveStatic(c echo.Context) error {
	name := strings.TrimPrefix(c.Param("*"), "/")
	fi, err := fs.Stat(static.FS, name)
	if err != nil || fi.IsDir() || strings.HasSuffix(name, ".go") {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	if v := c.QueryParam("v"); v != "" && v == static.Fingerprint(name) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeFileFS(c.Response(), c.Request(), static.FS, name)
	return nil
}

// headAsGet answers HEAD like the GET it stands for, without the body, so link checkers and mail
// scanners get the same status and redirects a browser would. GET never changes state, so
// neither does HEAD.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method == http.MethodHead {
			// Echo routes on the request it was handed, so the method is changed in place.
			r.Method = http.MethodGet
			c.Response().Writer = bodyless{c.Response().Writer}
		}
		return next(c)
	}
}

// bodyless drops what is written, keeping headers and status.
type bodyless struct{ http.ResponseWriter }

func (b bodyless) Write(p []byte) (int, error) { return len(p), nil }
