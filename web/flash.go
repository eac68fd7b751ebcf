package web

import (
	"net/http"

	"github.com/elevate-pam/elevate/views/layout"
	"github.com/labstack/echo/v4"
)

const flashCookie = "elevate_flash"

// setFlash leaves a one-time message for the next page, in a signed short-lived cookie.
func (s *Server) setFlash(c echo.Context, kind, text string) {
	v, err := s.flash.Encode(flashCookie, layout.Flash{Kind: kind, Text: text})
	if err != nil {
		return
	}
	c.SetCookie(&http.Cookie{Name: flashCookie, Value: v, Path: "/", MaxAge: 300, HttpOnly: true,
		Secure: s.cfg.Secure(), SameSite: http.SameSiteLaxMode})
}

// takeFlash reads and clears the pending message, if any.
func (s *Server) takeFlash(c echo.Context) *layout.Flash {
	ck, err := c.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	c.SetCookie(&http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.Secure(), SameSite: http.SameSiteLaxMode})
	var f layout.Flash
	if err := s.flash.Decode(flashCookie, ck.Value, &f); err != nil {
		return nil
	}
	return &f
}
