package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/elevate-pam/elevate/internal/pam"
	errview "github.com/elevate-pam/elevate/views/errors"
	"github.com/labstack/echo/v4"
)

// handleError is Echo's one error handler: domain and HTTP errors become status pages inside
// the layout (or JSON under /api); anything else is logged with the request id and shown as
// "Something went wrong", never with its text.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment; if it keeps happening, give an administrator the request id below."
	var he *echo.HTTPError
	var pe *pam.Error
	var ar *apiRefusal
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &ar):
		status, msg = ar.status, ar.msg
	case errors.As(err, &tooLarge):
		// A body cut at maxBody (see limitBody) while a handler read it.
		status, msg = http.StatusRequestEntityTooLarge, tooLargeMessage
	case errors.As(err, &pe):
		status, msg = statusOf(pe.Code), pe.Message
		if status == http.StatusInternalServerError {
			msg = "Something went wrong on our side."
		}
	case errors.As(err, &he):
		status = he.Code
		if m, ok := he.Message.(string); ok && status < 500 {
			msg = m
		}
		switch status {
		case http.StatusNotFound:
			msg = "There is no page at this address, or you may not see it."
		case http.StatusMethodNotAllowed:
			msg = "This address does not accept that kind of request."
		}
	}
	if status >= 500 {
		s.log.Error("request failed", "request_id", RequestID(c), "method", c.Request().Method,
			"path", c.Request().URL.Path, "status", status, "error", err.Error())
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		body := map[string]any{"error": msg, "request_id": RequestID(c)}
		if pe != nil && pe.Code == pam.EINVALID {
			// The API answers bad input with 400 and names the field.
			status = http.StatusBadRequest
		}
		if pe != nil && (pe.Code == pam.EINVALID || pe.Code == pam.ECONFLICT) && pe.Field != "" {
			// A conflict names the input that would settle it (revoke_grants on a delete).
			body["field"] = pe.Field
		}
		if pe != nil && pe.Code == pam.EINVALID && len(pe.Also) > 0 {
			// Input with several problems names them all, each with its field.
			type problem struct {
				Field string `json:"field,omitempty"`
				Error string `json:"error"`
			}
			var all []problem
			for _, one := range pe.All() {
				all = append(all, problem{Field: one.Field, Error: one.Message})
			}
			body["problems"] = all
		}
		body["code"] = apiCode(status)
		if ar != nil {
			body["code"] = ar.code
			if ar.field != "" {
				body["field"] = ar.field
			}
		}
		_ = c.JSON(status, body)
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if _, ok := CurrentUser(c); !ok {
		// Unknown paths skip the route middleware; show signed-in users their usual frame.
		if v, ok, err := s.auth.Authenticate(c.Request()); err == nil && ok {
			setViewer(c, v)
		}
	}
	vm := errview.VM{Meta: s.meta(c, heading(status)), Status: status, Heading: heading(status), Message: msg}
	if rerr := render(c, status, errview.Page(vm)); rerr != nil {
		s.log.Error("render error page", "request_id", RequestID(c), "error", rerr.Error())
		_ = c.String(status, http.StatusText(status))
	}
}

// apiCode is the machine-readable code of an API error with this status.
func apiCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "unauthenticated"
	case status == http.StatusForbidden:
		return "forbidden"
	case status == http.StatusNotFound:
		return "not_found"
	case status == http.StatusConflict:
		return "conflict"
	case status == http.StatusTooManyRequests:
		return "rate_limited"
	case status >= 500:
		return "unavailable"
	}
	return "invalid"
}

func statusOf(code string) int {
	switch code {
	case pam.EINVALID:
		return http.StatusUnprocessableEntity
	case pam.EFORBIDDEN:
		return http.StatusForbidden
	case pam.ENOTFOUND:
		return http.StatusNotFound
	case pam.ECONFLICT:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func heading(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		// The same words for both: to the person reading, either is input that cannot be used.
		return "Cannot use what was sent"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusConflict:
		return "Already changed"
	case http.StatusRequestEntityTooLarge:
		return "Too large"
	case http.StatusUnsupportedMediaType:
		return "Not accepted"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusServiceUnavailable:
		return "Temporarily unavailable"
	}
	if status >= 500 {
		return "Something went wrong"
	}
	return http.StatusText(status)
}
