package web

import (
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/labstack/echo/v4"
)

// routes is the one route table. Every state change is a POST behind the CSRF check.
func (s *Server) routes() {
	e := s.e
	e.Pre(s.securityHeaders)
	e.Pre(headAsGet)
	e.Use(s.requestID)
	e.Use(s.observe)
	e.Use(s.recoverPanic)
	// Before any route middleware: the CSRF check reads the form.
	e.Use(limitBody)
	e.Use(refuseUnstorable)

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

	e.GET("/set-password", s.showSetPassword, pages...)
	e.POST("/set-password", s.setPassword, pages...)

	e.GET("/", s.showDashboard, signedIn...)

	// Requests and approvals. Decisions pass through a step-up for users with two-step
	// verification (see RequireStepUpWhenEnrolled).
	decide := append(signedIn[:len(signedIn):len(signedIn)], s.RequireStepUpWhenEnrolled)
	e.GET("/requests", s.listRequests, signedIn...)
	e.GET("/requests/new", s.showNewRequest, signedIn...)
	e.POST("/requests", s.submitRequest, signedIn...)
	// Emergency access asks for its own fresh code (see submitEmergency); its review is a decision.
	e.POST("/requests/emergency", s.submitEmergency, signedIn...)
	e.GET("/requests/:id", s.showRequest, signedIn...)
	e.POST("/requests/:id/review", s.reviewRequest, decide...)
	e.POST("/requests/:id/withdraw", s.withdrawRequest, signedIn...)
	// Ending one's own access only takes rights away: no step-up.
	e.POST("/requests/:id/end", s.endRequest, signedIn...)
	e.POST("/requests/:id/revoke", s.revokeRequest, decide...)
	e.POST("/requests/:id/emergency-review", s.reviewEmergency, decide...)
	e.GET("/approvals", s.showApprovals, signedIn...)
	e.GET("/approvals/:id/card", s.showApprovalCard, signedIn...)
	// Bulk: a confirmation page that changes nothing, then the decisions, behind the same
	// step-up as a single one.
	e.POST("/approvals/bulk", s.confirmBulk, signedIn...)
	e.POST("/approvals/bulk/decide", s.decideBulk, decide...)
	// Access reviews: a reviewer's decisions take access away, behind the same step-up.
	e.GET("/reviews", s.showMyReviews, signedIn...)
	e.GET("/reviews/:id", s.showReview, signedIn...)
	e.POST("/reviews/:id/items/:item", s.decideReviewItem, decide...)
	e.POST("/reviews/:id/bulk", s.decideReviewBulk, decide...)

	// Administration: every route here is for admins only (TestAdminRoutesNeedAdmin walks them).
	adm := append(signedIn[:len(signedIn):len(signedIn)], s.requireAdmin, s.RequireStepUpWhenEnrolled)
	e.GET("/admin", func(c echo.Context) error { return redirect(c, "/admin/policies") }, adm...)
	e.GET("/admin/users", s.listUsers, adm...)
	e.GET("/admin/users/new", s.newUser, adm...)
	e.POST("/admin/users", s.createUser, adm...)
	e.GET("/admin/users/:id", s.showUser, adm...)
	e.POST("/admin/users/:id/change", s.changeUser, adm...)
	e.POST("/admin/users/:id/password-link", s.newPasswordLink, adm...)
	e.POST("/admin/delegations/:id/end", s.endAnyDelegation, adm...)
	e.GET("/admin/groups", s.listGroups, adm...)
	e.GET("/admin/groups/new", s.newNamed(groupSet), adm...)
	e.POST("/admin/groups", s.createNamed(groupSet), adm...)
	e.GET("/admin/groups/:id", s.showGroup, adm...)
	e.POST("/admin/groups/:id", s.updateGroup, adm...)
	e.POST("/admin/groups/:id/delete", s.deleteGroup, adm...)
	e.POST("/admin/groups/:id/members", s.addMember, adm...)
	// Removing a member asks first: a page that changes nothing says what it ends and asks why.
	e.GET("/admin/groups/:id/members/:uid/remove", s.confirmRemoveMember, adm...)
	e.POST("/admin/groups/:id/members/:uid/remove", s.removeMember, adm...)
	e.POST("/admin/groups/:id/idp", s.mapGroupToIdP, adm...)
	e.POST("/admin/groups/:id/idp/remove", s.unmapGroupFromIdP, adm...)
	e.POST("/admin/groups/:id/owners", s.addOwner, adm...)
	e.POST("/admin/groups/:id/owners/:uid/remove", s.removeOwner, adm...)
	e.GET("/admin/tasks", s.listTasks, adm...)
	e.GET("/admin/tasks/new", s.newTask, adm...)
	e.POST("/admin/tasks", s.createTask, adm...)
	e.GET("/admin/tasks/:id", s.showTask, adm...)
	e.POST("/admin/tasks/:id", s.updateTask, adm...)
	e.GET("/admin/roles", s.listSets(roleSet), adm...)
	e.GET("/admin/roles/new", s.newNamed(roleSet.namedSet), adm...)
	e.POST("/admin/roles", s.createNamed(roleSet.namedSet), adm...)
	e.GET("/admin/roles/:id", s.showSet(roleSet), adm...)
	e.POST("/admin/roles/:id", s.updateSet(roleSet), adm...)
	e.POST("/admin/roles/:id/tasks", s.addToSet(roleSet), adm...)
	e.POST("/admin/roles/:id/tasks/:item/remove", s.removeFromSet(roleSet), adm...)
	e.GET("/admin/role-groups", s.listSets(roleGroupSet), adm...)
	e.GET("/admin/role-groups/new", s.newNamed(roleGroupSet.namedSet), adm...)
	e.POST("/admin/role-groups", s.createNamed(roleGroupSet.namedSet), adm...)
	e.GET("/admin/role-groups/:id", s.showSet(roleGroupSet), adm...)
	e.POST("/admin/role-groups/:id", s.updateSet(roleGroupSet), adm...)
	e.POST("/admin/role-groups/:id/roles", s.addToSet(roleGroupSet), adm...)
	e.POST("/admin/role-groups/:id/roles/:item/remove", s.removeFromSet(roleGroupSet), adm...)
	// Auditors may read policies (and change nothing).
	readPolicies := append(signedIn[:len(signedIn):len(signedIn)], requireAdminOrAuditor)
	e.GET("/admin/policies", s.listPolicies, readPolicies...)
	e.GET("/admin/policies/new", s.newPolicy, adm...)
	e.POST("/admin/policies", s.createPolicy, adm...)
	e.GET("/admin/policies/:id", s.showPolicy, readPolicies...)
	e.POST("/admin/policies/:id", s.updatePolicy, adm...)
	e.POST("/admin/policies/:id/delete", s.deletePolicy, adm...)
	e.POST("/admin/policies/:id/revoke-grants", s.revokePolicyGrants, adm...)
	// Auditors may read access reviews and their reports (and change nothing).
	e.GET("/admin/reviews", s.listCampaigns, readPolicies...)
	e.GET("/admin/reviews/new", s.newCampaign, adm...)
	e.POST("/admin/reviews", s.startCampaign, adm...)
	e.GET("/admin/reviews/:id", s.showCampaign, readPolicies...)
	e.POST("/admin/reviews/:id/close", s.closeCampaign, adm...)
	e.GET("/admin/reviews/:id/export", s.exportCampaign, readPolicies...)
	e.GET("/admin/settings", s.showSettings, adm...)
	e.POST("/admin/settings", s.saveSettings, adm...)
	e.GET("/admin/check-tokens", s.showCheckTokens, adm...)
	e.POST("/admin/check-tokens", s.createCheckToken, adm...)
	e.POST("/admin/check-tokens/:id/revoke", s.revokeCheckToken, adm...)
	e.GET("/admin/outbox", s.showOutbox, adm...)
	e.GET("/admin/outbox/:id", s.showMail, adm...)
	e.POST("/admin/outbox/:id/retry", s.retryMail, adm...)
	e.GET("/admin/webhooks", s.showWebhooks, adm...)
	e.GET("/admin/webhooks/new", s.newWebhook, adm...)
	e.POST("/admin/webhooks", s.createWebhook, adm...)
	e.GET("/admin/webhooks/deliveries/:id", s.showDelivery, adm...)
	e.POST("/admin/webhooks/deliveries/:id/resend", s.resendDelivery, adm...)
	e.GET("/admin/webhooks/:id", s.showWebhook, adm...)
	e.POST("/admin/webhooks/:id", s.updateWebhook, adm...)
	e.POST("/admin/webhooks/:id/enable", s.setWebhookEnabled(true), adm...)
	e.POST("/admin/webhooks/:id/disable", s.setWebhookEnabled(false), adm...)
	e.POST("/admin/webhooks/:id/rotate-secret", s.rotateWebhookSecret, adm...)
	e.POST("/admin/webhooks/:id/delete", s.deleteWebhook, adm...)

	e.GET("/profile/tokens", s.showTokens, signedIn...)
	// A token outlives its session: minting one needs what the riskiest call it can make needs.
	e.POST("/profile/tokens", s.createToken, decide...)
	e.POST("/profile/tokens/:id/revoke", s.revokeToken, signedIn...)

	// JSON API: bearer tokens only. Admin routes are walked by TestAdminRoutesNeedAdmin.
	api := []echo.MiddlewareFunc{s.apiAuth}
	apiAll := append(api[:len(api):len(api)], requireScope(auth.ScopeAPI), s.apiEnrolment)
	apiRead := append(apiAll[:len(apiAll):len(apiAll)], requireAdminOrAuditor)
	// What needs a step-up on the pages needs a current code in X-Elevate-OTP here.
	apiDecide := append(apiAll[:len(apiAll):len(apiAll)], s.apiStepUp)
	apiAdmin := append(apiAll[:len(apiAll):len(apiAll)], s.requireAdmin, s.apiStepUp)
	// The API's contract is public: no token.
	e.GET(openAPIPath, s.showOpenAPI)
	// The check authenticates its token itself, with its decision in one statement.
	e.POST(checkPath, s.check, s.failClosed)
	e.GET("/api/v1/requests", s.apiListRequests, apiAll...)
	e.POST("/api/v1/requests", s.apiSubmitRequest, apiAll...)
	e.POST("/api/v1/requests/emergency", s.apiSubmitEmergency, apiAll...)
	e.GET("/api/v1/requests/:id", s.apiGetRequest, apiAll...)
	e.POST("/api/v1/requests/:id/withdraw", s.apiAct("withdraw"), apiAll...)
	e.POST("/api/v1/requests/:id/end", s.apiAct("end"), apiAll...)
	for _, act := range []string{"approve", "deny", "revoke"} {
		e.POST("/api/v1/requests/:id/"+act, s.apiAct(act), apiDecide...)
	}
	e.POST("/api/v1/requests/:id/confirm", s.apiReviewEmergency("confirmed"), apiDecide...)
	e.POST("/api/v1/requests/:id/misuse", s.apiReviewEmergency("misuse"), apiDecide...)
	e.GET("/api/v1/audit", s.apiAudit, apiRead...)
	e.GET("/api/v1/policies", s.apiListPolicies, apiRead...)
	e.GET("/api/v1/policies/:id", s.apiGetPolicy, apiRead...)
	e.POST("/api/v1/policies", s.apiCreatePolicy, apiAdmin...)
	e.PUT("/api/v1/policies/:id", s.apiUpdatePolicy, apiAdmin...)
	e.DELETE("/api/v1/policies/:id", s.apiDeletePolicy, apiAdmin...)
	e.POST("/api/v1/policies/:id/revoke-grants", s.apiRevokePolicyGrants, apiAdmin...)
	auditors := append(signedIn[:len(signedIn):len(signedIn)], s.requireAuditor)
	e.GET("/audit", s.showAudit, auditors...)
	e.GET("/audit/export", s.exportAudit, auditors...)
	e.POST("/audit/verify", s.verifyChain, auditors...)
	e.GET("/audit/:seq", s.showAuditEvent, auditors...)
	e.GET("/overview", s.showOverview, auditors...)
	e.GET("/profile", s.showProfile, signedIn...)
	e.POST("/profile/timezone", s.setTimeZone, signedIn...)
	e.POST("/profile/delegation", s.createDelegation, signedIn...)
	e.POST("/profile/delegation/:id/end", s.endMyDelegation, signedIn...)
	e.POST("/profile/mfa/start", s.startMFA, signedIn...)
	e.GET("/profile/mfa", s.showMFASetup, signedIn...)
	e.POST("/profile/mfa/confirm", s.confirmMFA, signedIn...)
	e.POST("/profile/mfa/recovery", s.regenerateRecoveryCodes, stepUp...)
	e.POST("/profile/mfa/disable", s.disableMFA, stepUp...)
}

// Routes lists every registered route (method and path), for tests that check rules on all.
func (s *Server) Routes() []*echo.Route { return s.e.Routes() }
