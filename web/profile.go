package web

import (
	"errors"
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // zone names work on hosts without a zone database

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/profile"
	"github.com/labstack/echo/v4"
)

func (s *Server) profileVM(c echo.Context, u pam.User) (profile.PageVM, error) {
	st, err := s.mfa.Status(c.Request().Context(), u.ID)
	if err != nil {
		return profile.PageVM{}, err
	}
	must, err := s.mustEnrol(c, u)
	if err != nil {
		return profile.PageVM{}, err
	}
	vm := profile.PageVM{
		Meta: s.meta(c, "Profile"), TimeZone: u.TimeZone, TimeZones: zoneOptions(u.TimeZone), MFAOn: st.Enrolled, MFAPending: st.Pending,
		RecoveryUnused: st.RecoveryUnused, RecoveryTotal: auth.RecoveryCodeCount, MFARequired: must,
	}
	if st.Enrolled {
		vm.MFASince = st.EnrolledAt.In(pam.ZoneOrUTC(u.TimeZone)).Format("2 January 2006")
	}
	if err := s.myDelegation(c, u, &vm); err != nil {
		return profile.PageVM{}, err
	}
	return vm, nil
}

// profilePage draws the profile, with changes (the input and errors of a form) applied.
func (s *Server) profilePage(c echo.Context, u pam.User, change func(*profile.PageVM)) (templ.Component, error) {
	vm, err := s.profileVM(c, u)
	if err != nil {
		return nil, err
	}
	if change != nil {
		change(&vm)
	}
	return profile.Page(vm), nil
}

func (s *Server) showProfile(c echo.Context) error {
	u, _ := CurrentUser(c)
	return s.page(c, http.StatusOK)(s.profilePage(c, u, nil))
}

// parseZone reads a time zone name such as Europe/Paris or UTC. "Local" is refused: it would
// mean the server's zone, not the user's.
func parseZone(name string) (*time.Location, error) {
	loc, err := pam.Zone(name)
	if name == "" || err != nil || name == "Local" {
		return nil, pam.FieldError("time_zone", "Enter a zone name such as Europe/Paris or UTC.")
	}
	return loc, nil
}

func (s *Server) setTimeZone(c echo.Context) error {
	u, _ := CurrentUser(c)
	zone := strings.TrimSpace(c.FormValue("time_zone"))
	loc, err := parseZone(zone)
	if err == nil && c.FormValue("auto") == "1" {
		// Sent by the page's script from the browser's zone: only a zone never chosen is set.
		if u.TimeZone != "UTC" && u.TimeZone != "" {
			return c.NoContent(http.StatusNoContent)
		}
		if err := s.auth.SetTimeZone(c.Request().Context(), u, loc.String(), actor(c)); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
	if err == nil {
		err = s.auth.SetTimeZone(c.Request().Context(), u, loc.String(), actor(c))
	}
	done := ""
	if loc != nil {
		done = "Time zone saved: " + loc.String() + "."
	}
	return s.posted(c, err, outcome{Next: "/profile", Done: done,
		Again: func(pe *pam.Error) (templ.Component, error) {
			return s.profilePage(c, u, func(vm *profile.PageVM) {
				vm.TimeZone, vm.TimeZones, vm.TimeZoneError = zone, zoneOptions(zone), pe.Message
			})
		}})
}

func (s *Server) startMFA(c echo.Context) error {
	u, _ := CurrentUser(c)
	err := s.mfa.Begin(c.Request().Context(), u)
	return s.posted(c, err, outcome{Next: "/profile/mfa", Back: "/profile"})
}

func (s *Server) showMFASetup(c echo.Context) error {
	u, _ := CurrentUser(c)
	page, err := s.mfaSetupPage(c, u, "")
	switch pam.ErrorCode(err) {
	case pam.ENOTFOUND, pam.ECONFLICT:
		// Nothing to set up: never started, or already on.
		return redirect(c, "/profile#mfa")
	}
	return s.page(c, http.StatusOK)(page, err)
}

// mfaSetupPage draws the pending enrolment's secret and QR code, with a problem beside the code.
func (s *Server) mfaSetupPage(c echo.Context, u pam.User, msg string) (templ.Component, error) {
	st, err := s.mfa.PendingSetup(c.Request().Context(), u)
	if err != nil {
		return nil, err
	}
	return profile.Setup(profile.SetupVM{
		Meta: s.meta(c, "Set up two-step verification"), QRCode: st.QRCode, Secret: st.Secret, Error: msg,
	}), nil
}

func (s *Server) confirmMFA(c echo.Context) error {
	u, _ := CurrentUser(c)
	att, err := s.CheckLimits(c, "mfa_enrol", s.codeLimits(c, u)...)
	if err != nil {
		return err
	}
	codes, err := s.mfa.Confirm(c.Request().Context(), u, c.FormValue("code"), actor(c))
	if err != nil {
		// A wrong code shows the set-up page again; "already on" goes back to the profile.
		o := outcome{Back: "/profile#mfa"}
		if errors.Is(err, auth.ErrBadCode) {
			o.Again = func(*pam.Error) (templ.Component, error) {
				return s.mfaSetupPage(c, u, "That code is not right. Check the time on your phone and enter the code the app shows now.")
			}
		}
		return s.posted(c, err, o)
	}
	att.Forgive(c)
	// The codes are shown in this response only.
	return render(c, http.StatusOK, profile.RecoveryCodes(profile.CodesVM{
		Meta: s.meta(c, "Recovery codes"), Codes: codes,
		Intro: "Two-step verification is on. If you lose your phone, a recovery code lets you confirm sensitive actions instead.",
	}))
}

func (s *Server) regenerateRecoveryCodes(c echo.Context) error {
	u, _ := CurrentUser(c)
	codes, err := s.mfa.RegenerateRecoveryCodes(c.Request().Context(), u, actor(c))
	if err != nil {
		return s.posted(c, err, outcome{Back: "/profile#mfa"})
	}
	// The codes are shown in this response only.
	return render(c, http.StatusOK, profile.RecoveryCodes(profile.CodesVM{
		Meta: s.meta(c, "Recovery codes"), Codes: codes,
		Intro: "These new codes replace all of your earlier recovery codes, which no longer work.",
	}))
}

func (s *Server) disableMFA(c echo.Context) error {
	u, _ := CurrentUser(c)
	must, err := s.mustEnrol(c, u)
	if err != nil {
		return err
	}
	reason := c.FormValue("reason")
	err = s.mfa.Disable(c.Request().Context(), u, must, reason, actor(c))
	return s.posted(c, err, outcome{Next: "/profile", Done: "Two-step verification is off.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			return s.profilePage(c, u, func(vm *profile.PageVM) { vm.DisableReason, vm.DisableError = reason, pe.Message })
		}})
}
