package web

import (
	"net/http"
	"strings"

	"github.com/elevate-pam/elevate/web/openapi"
	"github.com/labstack/echo/v4"
)

// openAPIPath is where the JSON API's contract is served, with no token: it is public.
const openAPIPath = "/api/v1/openapi.json"

// showOpenAPI serves the OpenAPI document. It is the same for everyone and changes only with the
// binary, so caches may keep it an hour and revalidate it by its ETag.
func (s *Server) showOpenAPI(c echo.Context) error {
	h := c.Response().Header()
	h.Set("ETag", openapi.ETag)
	h.Set("Cache-Control", "public, max-age=3600")
	if etagMatches(c.Request().Header.Get("If-None-Match"), openapi.ETag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openapi.JSON)
}

// etagMatches reports whether an If-None-Match header names etag (or is "*").
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
