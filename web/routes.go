package web

import "github.com/labstack/echo/v4"

// routes is the one route table. Every state change is a POST behind the CSRF check.
func (s *Server) routes() {
	e := s.e
	e.Pre(s.securityHeaders)
	e.Use(s.requestID)
	e.Use(s.observe)
	e.Use(s.recoverPanic)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler())
	e.GET("/static/*", serveStatic)

	// Groups with middleware would catch every unknown path, so chains are listed per route.
	pages := []echo.MiddlewareFunc{s.csrf(), s.loadUser}
	signedIn := append(pages[:len(pages):len(pages)], s.requireUser, s.requireEnrolment)
	// stepUp guards sensitive actions with a recent two-step code (see RequireStepUp).
	stepUp := append(signedIn[:len(signedIn):len(signedIn)], s.RequireStepUp)

	e.GET("/login", s.showLogin, pages...)
	e.POST("/login", s.login, pages...)
	e.POST("/logout", s.logout, pages...)
	e.GET("/auth/sso", s.startSSO, pages...)
	e.GET("/auth/sso/callback", s.finishSSO, pages...)
	e.GET("/setup", s.showSetup, pages...)
	e.POST("/setup", s.setup, pages...)

	e.GET("/", s.showDashboard, signedIn...)

	e.GET("/profile", s.showProfile, signedIn...)
	e.POST("/profile/timezone", s.setTimeZone, signedIn...)
	e.POST("/profile/mfa/start", s.startMFA, signedIn...)
	e.GET("/profile/mfa", s.showMFASetup, signedIn...)
	e.POST("/profile/mfa/confirm", s.confirmMFA, signedIn...)
	e.POST("/profile/mfa/recovery", s.regenerateRecoveryCodes, stepUp...)
	e.POST("/profile/mfa/disable", s.disableMFA, stepUp...)
}
