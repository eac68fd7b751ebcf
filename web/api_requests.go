package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/labstack/echo/v4"
)

// checkPath is the decision point's route.
const checkPath = "/api/v1/check"

type checkIn struct {
	User string `json:"user"`
	Task string `json:"task"`
}

type checkOut struct {
	Allowed   bool   `json:"allowed"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

// tokenActor is the audit actor of an API call: the token, named (a person's API token acts on
// behalf of its owner; a check token for its system).
func tokenActor(c echo.Context) audit.Actor {
	a := actor(c)
	if t, ok := APIToken(c); ok {
		a.Type, a.ID, a.Name = audit.ActorToken, t.ID, t.Name
	} else if t, ok := CheckTokenOf(c); ok {
		a.Type, a.ID, a.Name = audit.ActorToken, t.ID, t.Name
	}
	return a
}

// check is the decision point target systems call just before they run a task, counted on
// /metrics by its answer (elevate_checks_total).
func (s *Server) check(c echo.Context) error {
	err := s.decideCheck(c)
	s.metrics.checked(checkResult(c, err))
	return err
}

// checkResult names a check's answer for elevate_checks_total: from the error the handler
// returned (not yet written), else from the status it wrote and, for a 200, the decision.
func checkResult(c echo.Context, err error) string {
	status := c.Response().Status
	if err != nil {
		status = http.StatusInternalServerError
		var he *echo.HTTPError
		if errors.As(err, &he) {
			status = he.Code
		} else if code := pam.ErrorCode(err); code != "" {
			status = statusOf(code)
		}
	}
	switch status {
	case http.StatusOK:
		if allowed, _ := c.Get(checkAllowedKey).(bool); allowed {
			return checkAllowed
		}
		return checkDenied
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return checkInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		return checkRefused
	case http.StatusTooManyRequests:
		return checkRateLimited
	}
	return checkError
}

// checkAllowedKey holds, for a check answered 200, whether it allowed.
const checkAllowedKey = "check_allowed"

// decideCheck answers a check. It fails closed: bad input is denied with a reason, and a
// database failure answers 503 with allowed false. The token is read with the decision, in one
// statement; a call without a live check token answers 401 (403 for a person's API token) and
// decides nothing.
func (s *Server) decideCheck(c echo.Context) error {
	ctx := c.Request().Context()
	secret, err := bearer(c)
	if err != nil {
		return s.checkRefused(c, err, "no bearer token")
	}
	hash, ok := auth.CheckTokenHash(secret)
	if !ok {
		return s.checkRefused(c, tokenRefused(c, access.ErrUnknownCheckToken), "not a check token")
	}
	var in checkIn
	bad := bindJSON(c, &in)
	call := access.CheckCall{TokenHash: hash, Actor: actor(c), Bad: bad, User: in.User, Task: in.Task,
		Admit: func(t pam.CheckToken) error {
			c.Set(checkTokenKey, t)
			return s.admitCheck(t)
		}}
	_, d, err := s.access.CheckByToken(ctx, call)
	var limited *checkLimited
	switch {
	case errors.Is(err, access.ErrUnknownCheckToken):
		return s.checkRefused(c, tokenRefused(c, s.auth.RefuseCheckToken(ctx, secret)), "unknown or revoked")
	case errors.As(err, &limited):
		return limited.answer(c, s)
	case bad != nil && err == bad && pam.ErrorCode(err) != pam.EINVALID:
		return err // too large: 413, on the trail
	case pam.ErrorCode(err) == pam.EINVALID:
		return c.JSON(http.StatusBadRequest, checkRefusal(c, err))
	case err != nil:
		s.log.Error("check failed; denied", "request_id", RequestID(c), "error", err.Error())
		return c.JSON(http.StatusServiceUnavailable, checkOut{Allowed: false, Reason: "unavailable"})
	}
	out := checkOut{Allowed: d.Allowed, Reason: d.Reason, RequestID: d.RequestID}
	c.Set(checkAllowedKey, d.Allowed)
	if d.ExpiresAt != nil {
		out.ExpiresAt = d.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return c.JSON(http.StatusOK, out)
}

// checkRefused records a call of the check API refused with 401 (no live check token) on the
// audit trail, once per client address in each window of auth.CheckRefusedPerIP, and returns
// the refusal. Other refusals (403 for a person's API token) are returned unrecorded. A failure
// to record is logged; the answer stays the refusal.
func (s *Server) checkRefused(c echo.Context, refusal error, reason string) error {
	var he *echo.HTTPError
	if !errors.As(refusal, &he) || he.Code != http.StatusUnauthorized {
		return refusal
	}
	ev := actor(c).Event(audit.CheckTokenRefused, "", "", map[string]any{"reason": reason, "path": checkPath})
	ev.Outcome = audit.OutcomeFailure
	if _, err := s.limiter.AuditOnce(c.Request().Context(), auth.CheckRefusedPerIP, c.RealIP(), ev); err != nil {
		s.log.Error("refused check not recorded", "request_id", RequestID(c), "error", err.Error())
	}
	return refusal
}

// checkRefusal is the body of a check refused for bad input: still a denial a target system
// can read, with what was wrong.
func checkRefusal(c echo.Context, err error) map[string]any {
	body := map[string]any{"allowed": false, "reason": access.ReasonBadRequest, "error": pam.ErrorMessage(err), "code": "invalid", "request_id": RequestID(c)}
	var pe *pam.Error
	if errors.As(err, &pe) && pe.Field != "" {
		body["field"] = pe.Field
	}
	return body
}

// failClosed wraps the check route: a failure that is not the caller's fault (the database
// gone while the token is looked up, say) answers 503 with allowed false like a failed
// decision, so a target system reads nothing but a denial from any error.
func (s *Server) failClosed(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code < http.StatusInternalServerError {
			return err
		}
		if code := pam.ErrorCode(err); code != pam.EINTERNAL {
			return err
		}
		s.log.Error("check failed before a decision; denied", "request_id", RequestID(c), "error", err.Error())
		return c.JSON(http.StatusServiceUnavailable, checkOut{Allowed: false, Reason: "unavailable"})
	}
}

type reviewJSON struct {
	Reviewer string `json:"reviewer"`
	// OnBehalfOf names the approver a delegate acted for; absent when the reviewer acted for
	// themselves.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Decision   string `json:"decision"`
	Comment    string `json:"comment"`
	At         string `json:"at"`
}

type requestJSON struct {
	ID                string       `json:"id"`
	Requester         string       `json:"requester"`
	PolicyID          string       `json:"policy_id"`
	ScopeType         string       `json:"scope_type"`
	ScopeID           string       `json:"scope_id"`
	Scope             string       `json:"scope"`
	Status            string       `json:"status"`
	InForce           bool         `json:"in_force"`
	DurationMin       int          `json:"duration_min"`
	Justification     string       `json:"justification"`
	Ticket            string       `json:"ticket"`
	ApprovalsRequired int          `json:"approvals_required"`
	Approvals         int          `json:"approvals"`
	CreatedAt         string       `json:"created_at"`
	PendingUntil      string       `json:"pending_until"`
	ScheduledStart    string       `json:"scheduled_start,omitempty"`
	StartsAt          string       `json:"starts_at,omitempty"`
	EndsAt            string       `json:"ends_at,omitempty"`
	RevokeReason      string       `json:"revoke_reason,omitempty"`
	CancelReason      string       `json:"cancel_reason,omitempty"`
	Extends           string       `json:"extends,omitempty"`
	Reviews           []reviewJSON `json:"reviews"`
	// RemindAt and EscalateAt are when the approvers are reminded and the request escalates;
	// RemindedAt and EscalatedAt when that happened.
	RemindAt          string `json:"remind_at,omitempty"`
	RemindedAt        string `json:"reminded_at,omitempty"`
	EscalationGroupID string `json:"escalation_group_id,omitempty"`
	EscalationGroup   string `json:"escalation_group,omitempty"`
	EscalateAt        string `json:"escalate_at,omitempty"`
	EscalatedAt       string `json:"escalated_at,omitempty"`
	// Approvers names, on a single pending request, the first people who may still approve it
	// (access.ShownDeciders); ApproversMore counts the others.
	Approvers     []string `json:"approvers,omitempty"`
	ApproversMore int      `json:"approvers_more,omitempty"`
	// Emergency marks break-glass access; EmergencyReview is its after-the-fact review, once made.
	Emergency       bool                 `json:"emergency"`
	EmergencyReview *emergencyReviewJSON `json:"emergency_review,omitempty"`
}

type emergencyReviewJSON struct {
	Reviewer string `json:"reviewer"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	At       string `json:"at"`
}

func ts(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func toRequestJSON(r pam.Request, now time.Time) requestJSON {
	j := requestJSON{ID: r.ID, Requester: r.RequesterEmail, PolicyID: r.PolicyID, ScopeType: string(r.ScopeType), ScopeID: r.ScopeID,
		Scope: r.ScopeName, Status: string(r.StatusAt(now)), InForce: r.InForce(now), DurationMin: int(r.Duration / time.Minute),
		Justification: r.Justification, Ticket: r.Ticket, ApprovalsRequired: r.ApprovalsRequired, Approvals: r.Approvals(),
		CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339), PendingUntil: r.PendingUntil.UTC().Format(time.RFC3339),
		ScheduledStart: ts(r.ScheduledStart), StartsAt: ts(r.StartsAt), EndsAt: ts(r.EndsAt), RevokeReason: r.RevokeReason,
		CancelReason: string(r.CancelReason), Extends: r.ExtendsID, Reviews: []reviewJSON{},
		RemindAt: ts(r.RemindAt), RemindedAt: ts(r.RemindedAt), EscalationGroupID: r.EscalationGroupID,
		EscalateAt: ts(r.EscalateAt), EscalatedAt: ts(r.EscalatedAt), Emergency: r.Emergency}
	if er := r.EmergencyReview; er != nil {
		j.EmergencyReview = &emergencyReviewJSON{Reviewer: er.ReviewerName, Outcome: er.Outcome, Reason: er.Reason, At: er.At.UTC().Format(time.RFC3339)}
	}
	for _, v := range r.Reviews {
		j.Reviews = append(j.Reviews, reviewJSON{Reviewer: v.ReviewerName, OnBehalfOf: v.OnBehalfOfName, Decision: v.Decision, Comment: v.Comment, At: v.At.UTC().Format(time.RFC3339)})
	}
	return j
}

func (s *Server) apiListRequests(c echo.Context) error {
	u, _ := CurrentUser(c)
	f := pam.RequestFilter{Limit: 100}
	var err error
	if f.Before, err = listCursor(c); err != nil {
		return err
	}
	if st := c.QueryParam("status"); st != "" {
		status, err := pam.ParseStatus(st)
		if err != nil {
			return err
		}
		f.Status = status
	}
	rs, err := s.access.MyRequests(c.Request().Context(), u, f)
	if err != nil {
		return err
	}
	now := s.now()
	out := struct {
		Requests []requestJSON `json:"requests"`
		Next     string        `json:"next,omitempty"`
	}{Requests: []requestJSON{}}
	for _, r := range rs {
		out.Requests = append(out.Requests, toRequestJSON(r, now))
	}
	if len(rs) == f.Limit {
		l := rs[len(rs)-1]
		out.Next = pam.CursorAt(l.CreatedAt, l.ID).String()
	}
	return c.JSON(http.StatusOK, out)
}

type submitJSON struct {
	PolicyID       string `json:"policy_id"`
	DurationMin    int    `json:"duration_min"`
	Justification  string `json:"justification"`
	Ticket         string `json:"ticket"`
	ScheduledStart string `json:"scheduled_start"`
	Extends        string `json:"extends"`
}

func (s *Server) apiSubmitRequest(c echo.Context) error {
	u, _ := CurrentUser(c)
	var in submitJSON
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.DurationMin <= 0 || in.DurationMin > 366*24*60 {
		return pam.FieldError("duration_min", "Give duration_min as a positive number of minutes.")
	}
	sub := pam.Submission{Duration: time.Duration(in.DurationMin) * time.Minute, Justification: in.Justification, Ticket: in.Ticket}
	if in.ScheduledStart != "" {
		t, err := time.Parse(time.RFC3339, in.ScheduledStart)
		if err != nil {
			return pam.FieldError("scheduled_start", "Give scheduled_start in RFC 3339, like 2026-03-02T14:30:00Z.")
		}
		sub.ScheduledStart = &t
	}
	ctx := c.Request().Context()
	submit := func() (pam.Request, error) {
		if in.Extends != "" {
			// An extension is made under its grant's policy, whatever policy_id says.
			return s.access.Extend(ctx, tokenActor(c), u, in.Extends, sub)
		}
		return s.access.Submit(ctx, tokenActor(c), u, in.PolicyID, sub)
	}
	r, err := submit()
	if errors.Is(err, access.ErrStepUp) {
		// As on the request page: this policy wants a fresh code from everyone who asks.
		if err := s.apiStepUpFor(c, true); err != nil {
			return err
		}
		sub.SteppedUp = true
		r, err = submit()
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/v1/requests/"+r.ID)
	return c.JSON(http.StatusCreated, toRequestJSON(r, s.now()))
}

func (s *Server) apiGetRequest(c echo.Context) error {
	u, _ := CurrentUser(c)
	v, err := s.access.RequestView(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	j := toRequestJSON(v.Request, s.now())
	j.Approvers, j.ApproversMore, j.EscalationGroup = v.Deciders, v.MoreDeciders, v.EscalationGroupName
	return c.JSON(http.StatusOK, j)
}

type actionJSON struct {
	Comment string `json:"comment"`
	Reason  string `json:"reason"`
}

// bindAction reads an action's optional body (none at all is an empty one).
func bindAction(c echo.Context) (actionJSON, error) {
	var in actionJSON
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &in); err != nil {
			return in, err
		}
	}
	return in, nil
}

// reason is the reason given for a revoke or a misuse report: reason, or failing that comment.
func (in actionJSON) reason() string {
	if in.Reason != "" {
		return in.Reason
	}
	return in.Comment
}

// apiAct approves, denies, withdraws, revokes or ends (the requester's own grant, early). A request decided by someone else at the same
// moment answers 409.
func (s *Server) apiAct(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, _ := CurrentUser(c)
		in, err := bindAction(c)
		if err != nil {
			return err
		}
		ctx, id, a := c.Request().Context(), c.Param("id"), tokenActor(c)
		var r pam.Request
		switch action {
		case "approve":
			r, err = s.access.Review(ctx, a, u, id, pam.DecisionApprove, in.Comment)
		case "deny":
			r, err = s.access.Review(ctx, a, u, id, pam.DecisionDeny, in.Comment)
		case "withdraw":
			r, err = s.access.Withdraw(ctx, a, u, id)
		case "end":
			r, err = s.access.End(ctx, a, u, id)
		case "revoke":
			r, err = s.access.Revoke(ctx, a, u, id, in.reason())
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toRequestJSON(r, s.now()))
	}
}
