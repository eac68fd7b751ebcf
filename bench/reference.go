package main

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// reference returns a bare Echo router with none of Elevate's middleware: what Echo alone
// costs on a machine, the yardstick `make bench` measures the check API against. Its one route
// decodes the check API's request and answers a constant of the same shape (400 for a body that
// is not that request). It lives here, not in web, because the portal never serves it.
func reference() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/api/v1/check", func(c echo.Context) error {
		var in struct {
			User string `json:"user"`
			Task string `json:"task"`
		}
		if err := c.Bind(&in); err != nil || in.User == "" || in.Task == "" {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": "user and task are required"})
		}
		return c.JSON(http.StatusOK, referenceAnswer)
	})
	return e
}

// referenceAnswer is the reference's constant answer, shaped like an allowed check.
var referenceAnswer = struct {
	Allowed   bool   `json:"allowed"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
	ExpiresAt string `json:"expires_at"`
}{true, "grant", "00000000-0000-0000-0000-000000000000", "2026-01-01T00:00:00Z"}
