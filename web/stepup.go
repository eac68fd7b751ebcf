package web

import (
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	authview "github.com/elevate-pam/elevate/views/auth"
	"github.com/labstack/echo/v4"
)

// stepUpField is the form field that carries a step-up code along with the original input.
const stepUpField = "stepup_code"

// RequireStepUp guards a sensitive POST: it lets the request through only when the session
// passed a step-up within the configured window (ELEVATE_STEP_UP_WINDOW), or the request
// carries a good code. Otherwise it answers with a page that asks for a code and posts the
// original form, every field as it was, back to the same address. Attach it after the
// signed-in chain: e.POST("/x", h, append(signedIn, s.RequireStepUp)...).
//
// A user without two-step verification never passes: they are told to set it up, and nothing
// is changed. Other methods than POST pass untouched.
func (s *Server) RequireStepUp(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ok, err := s.StepUp(c)
		if err != nil || !ok {
			return err
		}
		return next(c)
	}
}

// RequireStepUpWhenEnrolled guards approvals, revocations and admin changes: users with
// two-step verification must have confirmed a code within the window; users without it pass,
// unless the organisation requires enrolment, in which case requireEnrolment has already sent
// administrators and approvers to set it up. So the organisation chooses, with one setting,
// between "step-up for those who enrolled" and "step-up for every approver and administrator".
func (s *Server) RequireStepUpWhenEnrolled(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodPost {
			if u, ok := CurrentUser(c); ok {
				enrolled, err := s.enrolled(c, u)
				if err != nil {
					return err
				}
				if !enrolled {
					must, err := s.mustEnrol(c, u)
					if err != nil {
						return err
					}
					if !must {
						return next(c)
					}
				}
			}
		}
		return s.RequireStepUp(next)(c)
	}
}

// StepUp is RequireStepUp for handlers that decide for themselves whether an action needs a
// step-up (a request under a policy with "MFA required"): when it returns false, the answer
// has been written and the handler must return the error (nil when a page was rendered).
func (s *Server) StepUp(c echo.Context) (bool, error) {
	return s.stepUp(c, false)
}

// FreshStepUp is StepUp that takes no earlier step-up of the session: the person types a code
// for this very action (emergency access).
func (s *Server) FreshStepUp(c echo.Context) (bool, error) {
	return s.stepUp(c, true)
}

func (s *Server) stepUp(c echo.Context, fresh bool) (bool, error) {
	if c.Request().Method != http.MethodPost {
		return true, nil
	}
	u, ok := CurrentUser(c)
	if !ok {
		return false, pam.Errorf(pam.EFORBIDDEN, "Sign in first.")
	}
	if !fresh && s.steppedUp(c) {
		return true, nil
	}
	enrolled, err := s.enrolled(c, u)
	if err != nil {
		return false, err
	}
	if !enrolled {
		return false, render(c, http.StatusForbidden, authview.EnrolFirst(authview.EnrolFirstVM{Meta: s.meta(c, "Two-step verification needed")}))
	}
	code := c.FormValue(stepUpField)
	if code == "" {
		return false, s.renderStepUp(c, http.StatusOK, "")
	}
	att, err := s.CheckLimits(c, "step_up", s.codeLimits(c, u)...)
	if err != nil {
		return false, err
	}
	err = s.mfa.StepUp(c.Response(), c.Request(), u.ID, code, actor(c))
	if errors.Is(err, auth.ErrBadCode) {
		return false, s.renderStepUp(c, http.StatusUnprocessableEntity, pam.ErrorMessage(err))
	}
	if err != nil {
		return false, err
	}
	att.Forgive(c)
	return true, nil
}

// steppedUp reports whether the session passed a step-up within the window.
func (s *Server) steppedUp(c echo.Context) bool {
	at := s.mfa.SteppedUpAt(c.Request())
	if at.IsZero() {
		return false
	}
	age := s.now().Sub(at)
	return age >= -time.Minute && age < s.cfg.StepUpWindow
}

func (s *Server) codeLimits(c echo.Context, u pam.User) []Limit {
	return []Limit{{auth.CodePerAccount, string(u.ID)}, {auth.CodePerIP, c.RealIP()}}
}

// renderStepUp draws the code page carrying every original field except the token and the code.
func (s *Server) renderStepUp(c echo.Context, status int, msg string) error {
	params, err := c.FormParams()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(params))
	for k := range params {
		if k != "_csrf" && k != stepUpField {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var fields []authview.Hidden
	for _, k := range names {
		for _, v := range params[k] {
			fields = append(fields, authview.Hidden{Name: k, Value: v})
		}
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		// An inline htmx action gets the whole page in place of its target.
		c.Response().Header().Set("HX-Retarget", "body")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
	}
	return render(c, status, authview.StepUp(authview.StepUpVM{
		Meta: s.meta(c, "Confirm it is you"), Action: c.Request().URL.RequestURI(), Fields: fields, Error: msg,
	}))
}

// mustEnrol reports whether the organisation requires this user to have two-step verification:
// the setting is on and the user is an administrator or an approver. A page has both facts in
// its frame; an API call asks for them.
func (s *Server) mustEnrol(c echo.Context, u pam.User) (bool, error) {
	if f, ok := currentFrame(c); ok {
		return f.EnrolmentRequired && (u.Admin || f.Approver), nil
	}
	ctx := c.Request().Context()
	on, err := s.mfaRequired(ctx)
	if err != nil || !on {
		return false, err
	}
	if u.Admin {
		return true, nil
	}
	return s.isApprover(ctx, u.ID)
}

// requireEnrolment sends users whom the organisation requires to use two-step verification
// to set it up before anything else; only the profile pages stay open to them.
func (s *Server) requireEnrolment(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, ok := CurrentUser(c)
		if !ok || isProfilePath(c.Path()) {
			return next(c)
		}
		must, err := s.mustEnrol(c, u)
		if err != nil {
			return err
		}
		if !must {
			return next(c)
		}
		enrolled, err := s.enrolled(c, u)
		if err != nil {
			return err
		}
		if enrolled {
			return next(c)
		}
		s.setFlash(c, "info", "Your organisation requires two-step verification for approvers and administrators. Set it up to continue.")
		return redirect(c, "/profile#mfa")
	}
}

// enrolled reports whether the user has confirmed two-step verification, from the frame when
// the request has one. A page that changes the enrolment redirects, so the next request reads
// the new state.
func (s *Server) enrolled(c echo.Context, u pam.User) (bool, error) {
	if f, ok := currentFrame(c); ok {
		return f.MFAEnrolled, nil
	}
	return s.mfa.Enrolled(c.Request().Context(), u.ID)
}

func isProfilePath(route string) bool {
	return route == "/profile" || len(route) > len("/profile/") && route[:len("/profile/")] == "/profile/"
}
