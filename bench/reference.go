package main

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// reference returns a bare Echo router that answers GET /ping with a constant and has none of
// Elevate's middleware: what Echo alone costs on a machine, the yardstick `make bench`
// measures the check API against. It lives here, not in web, because the portal never serves it.
func reference() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/ping", func(c echo.Context) error { return c.String(http.StatusOK, "pong") })
	return e
}
