package web

import (
	"errors"
	"net/http"

	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/labstack/echo/v4"
)

// otpHeader carries a current two-step code with an API call that needs a step-up.
const otpHeader = "X-Elevate-OTP"

// API error codes beyond the ones every error maps to (see apiCode).
const (
	codeStepUpRequired    = "step_up_required"
	codeEnrolmentRequired = "enrolment_required"
)

// apiRefusal is an API answer with its own code, for refusals no domain error expresses.
type apiRefusal struct {
	status int
	code   string
	msg    string
	field  string // the input at fault, if one is
}

func (e *apiRefusal) Error() string { return e.msg }

var (
	errEnrolmentRequired = &apiRefusal{status: http.StatusForbidden, code: codeEnrolmentRequired,
		msg: "Your organisation requires two-step verification for your account. Set it up on your profile page; until then API tokens cannot act for you."}
	errEnrolFirst = &apiRefusal{status: http.StatusForbidden, code: codeEnrolmentRequired,
		msg: "This call needs a two-step code, and your account has no two-step verification. Set it up on your profile page first."}
	errOTPMissing = &apiRefusal{status: http.StatusUnauthorized, code: codeStepUpRequired,
		msg: "This call needs a step-up: send a current code from your authenticator app in the X-Elevate-OTP header."}
	errOTPWrong = &apiRefusal{status: http.StatusUnauthorized, code: codeStepUpRequired,
		msg: "The code in X-Elevate-OTP is wrong or was already used; each code works once. Send the next code from your authenticator app. Recovery codes are not accepted here."}
)

// apiEnrolment refuses every API call of a token whose owner the organisation requires to use
// two-step verification and who has not set it up: on the pages that person can reach nothing
// but their profile, so their tokens reach nothing either.
func (s *Server) apiEnrolment(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, _ := CurrentUser(c)
		must, err := s.mustEnrol(c, u)
		if err != nil {
			return err
		}
		if must {
			enrolled, err := s.enrolled(c, u)
			if err != nil {
				return err
			}
			if !enrolled {
				return errEnrolmentRequired
			}
		}
		return next(c)
	}
}

// apiStepUp guards what needs a step-up on the pages (decisions, revoke, admin writes): a token
// whose owner is enrolled must send a current code with the call. Owners who are not enrolled
// (and need not be) pass, as they do on the pages.
func (s *Server) apiStepUp(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.apiStepUpFor(c, false); err != nil {
			return err
		}
		return next(c)
	}
}

// apiStepUpFor checks the call's step-up code. With always set (a policy that needs a code at
// request time), an owner without two-step verification is refused instead of passed.
func (s *Server) apiStepUpFor(c echo.Context, always bool) error {
	u, _ := CurrentUser(c)
	ctx := c.Request().Context()
	enrolled, err := s.enrolled(c, u)
	if err != nil {
		return err
	}
	if !enrolled {
		if always {
			return errEnrolFirst
		}
		return nil
	}
	code := c.Request().Header.Get(otpHeader)
	if code == "" {
		return errOTPMissing
	}
	att, err := s.CheckLimits(c, "step_up", s.codeLimits(c, u)...)
	if err != nil {
		return err
	}
	err = s.mfa.StepUpCode(ctx, u.ID, code, tokenActor(c))
	switch {
	case errors.Is(err, auth.ErrBadCode):
		return errOTPWrong
	case errors.Is(err, auth.ErrNotEnrolled):
		return errEnrolFirst
	case err != nil:
		return err
	}
	att.Forgive(c)
	return nil
}
