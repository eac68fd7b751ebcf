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
	signedIn := append(pages[:len(pages):len(pages)], s.requireUser)

	e.GET("/login", s.showLogin, pages...)
	e.POST("/login", s.login, pages...)
	e.POST("/logout", s.logout, pages...)
	e.GET("/setup", s.showSetup, pages...)
	e.POST("/setup", s.setup, pages...)

	e.GET("/", s.showDashboard, signedIn...)

	auditors := append(signedIn[:len(signedIn):len(signedIn)], s.requireAuditor)
	e.GET("/audit", s.showAudit, auditors...)
	e.GET("/audit/export", s.exportAudit, auditors...)
	e.GET("/audit/:seq", s.showAuditEvent, auditors...)
}
