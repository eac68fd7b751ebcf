package web

import (
	"errors"
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // zone names work on hosts without a zone database

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
		Meta: s.meta(c, "Profile"), TimeZone: u.TimeZone, MFAOn: st.Enrolled, MFAPending: st.Pending,
		RecoveryUnused: st.RecoveryUnused, RecoveryTotal: auth.RecoveryCodeCount, MFARequired: must,
	}
	if st.Enrolled {
		vm.MFASince = st.EnrolledAt.In(userZone(u)).Format("2 January 2006")
	}
	return vm, nil
}

func userZone(u pam.User) *time.Location {
	if loc, err := time.LoadLocation(u.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

func (s *Server) showProfile(c echo.Context) error {
	u, _ := CurrentUser(c)
	vm, err := s.profileVM(c, u)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, profile.Page(vm))
}

func (s *Server) setTimeZone(c echo.Context) error {
	u, _ := CurrentUser(c)
	zone := strings.TrimSpace(c.FormValue("time_zone"))
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil || zone == "Local" {
		vm, verr := s.profileVM(c, u)
		if verr != nil {
			return verr
		}
		vm.TimeZone, vm.TimeZoneError = zone, "Enter a zone name such as Europe/Paris or UTC."
		return render(c, http.StatusUnprocessableEntity, profile.Page(vm))
	}
	if c.FormValue("auto") == "1" {
		// Sent by the page's script from the browser's zone: only a zone never chosen is set.
		if u.TimeZone != "UTC" && u.TimeZone != "" {
			return c.NoContent(http.StatusNoContent)
		}
		if err := s.auth.SetTimeZone(c.Request().Context(), u, loc.String(), actor(c)); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
	if err := s.auth.SetTimeZone(c.Request().Context(), u, loc.String(), actor(c)); err != nil {
		return err
	}
	s.setFlash(c, "success", "Time zone saved: "+loc.String()+".")
	return redirect(c, "/profile")
}

func (s *Server) startMFA(c echo.Context) error {
	u, _ := CurrentUser(c)
	if err := s.mfa.Begin(c.Request().Context(), u); err != nil {
		if pam.ErrorCode(err) == pam.ECONFLICT {
			s.setFlash(c, "info", pam.ErrorMessage(err))
			return redirect(c, "/profile")
		}
		return err
	}
	return redirect(c, "/profile/mfa")
}

func (s *Server) showMFASetup(c echo.Context) error {
	return s.renderMFASetup(c, http.StatusOK, "")
}

func (s *Server) renderMFASetup(c echo.Context, status int, msg string) error {
	u, _ := CurrentUser(c)
	st, err := s.mfa.PendingSetup(c.Request().Context(), u)
	switch pam.ErrorCode(err) {
	case pam.ENOTFOUND, pam.ECONFLICT:
		return redirect(c, "/profile#mfa")
	}
	if err != nil {
		return err
	}
	return render(c, status, profile.Setup(profile.SetupVM{
		Meta: s.meta(c, "Set up two-step verification"), QRCode: st.QRCode, Secret: st.Secret, Error: msg,
	}))
}

func (s *Server) confirmMFA(c echo.Context) error {
	u, _ := CurrentUser(c)
	att, err := s.CheckLimits(c, "mfa_enrol", s.codeLimits(c, u)...)
	if err != nil {
		return err
	}
	codes, err := s.mfa.Confirm(c.Request().Context(), u, c.FormValue("code"), actor(c))
	if errors.Is(err, auth.ErrBadCode) {
		return s.renderMFASetup(c, http.StatusUnprocessableEntity, "That code is not right. Check the time on your phone and enter the code the app shows now.")
	}
	if pam.ErrorCode(err) == pam.ENOTFOUND || pam.ErrorCode(err) == pam.ECONFLICT {
		return redirect(c, "/profile#mfa")
	}
	if err != nil {
		return err
	}
	att.Forgive(c)
	return render(c, http.StatusOK, profile.RecoveryCodes(profile.CodesVM{
		Meta: s.meta(c, "Recovery codes"), Codes: codes,
		Intro: "Two-step verification is on. If you lose your phone, a recovery code lets you confirm sensitive actions instead.",
	}))
}

func (s *Server) regenerateRecoveryCodes(c echo.Context) error {
	u, _ := CurrentUser(c)
	codes, err := s.mfa.RegenerateRecoveryCodes(c.Request().Context(), u, actor(c))
	if err != nil {
		return err
	}
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
	var pe *pam.Error
	if errors.As(err, &pe) && pe.Field == "reason" {
		vm, verr := s.profileVM(c, u)
		if verr != nil {
			return verr
		}
		vm.DisableReason, vm.DisableError = reason, pe.Message
		return render(c, http.StatusUnprocessableEntity, profile.Page(vm))
	}
	if err != nil {
		return err
	}
	s.setFlash(c, "success", "Two-step verification is off.")
	return redirect(c, "/profile")
}
