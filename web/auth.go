package web

import (
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	authview "github.com/elevate-pam/elevate/views/auth"
	"github.com/labstack/echo/v4"
)

func (s *Server) loginVM(c echo.Context, title string) authview.LoginVM {
	return authview.LoginVM{Meta: s.meta(c, title), SSO: s.sso != nil, PasswordLogin: s.cfg.PasswordLogin}
}

func (s *Server) showLogin(c echo.Context) error {
	if _, ok := CurrentUser(c); ok {
		return redirect(c, safeNext(c.QueryParam("next")))
	}
	vm := s.loginVM(c, "Sign in")
	vm.Next = safeNext(c.QueryParam("next"))
	vm.Email = s.takeLoginEmail(c)
	return render(c, http.StatusOK, authview.Login(vm))
}

// errPasswordLoginOff answers a password sign-in while only SSO is allowed.
var errPasswordLoginOff = pam.Errorf(pam.EINVALID, "Sign-in with a password is turned off. Use Sign in with SSO.")

func (s *Server) login(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	next := safeNext(c.FormValue("next"))
	// Both limits count every attempt, so rotating addresses does not reset the account's
	// limit and rotating accounts does not reset the address's.
	att, err := s.CheckLimits(c, "sign_in",
		Limit{auth.SignInPerAccount, strings.ToLower(email)}, Limit{auth.SignInPerIP, c.RealIP()})
	if err != nil {
		return err
	}
	// A refused sign-in shows the form again: 401 for wrong credentials (auth.ErrBadCredentials),
	// 403 when passwords are turned off for this account.
	status := http.StatusUnauthorized
	if !s.cfg.PasswordLogin && (s.cfg.BreakGlassEmail == "" || strings.ToLower(email) != s.cfg.BreakGlassEmail) {
		if err := s.auth.RecordSignInFailure(c.Request().Context(), "", email, "password_login_off", actor(c)); err != nil {
			return err
		}
		err, status = errPasswordLoginOff, http.StatusForbidden
	} else {
		_, err = s.auth.SignIn(c.Response(), c.Request(), email, c.FormValue("password"), actor(c))
	}
	if err == nil {
		att.Forgive(c)
	}
	return s.posted(c, err, outcome{Next: next, Status: status,
		Again: func(pe *pam.Error) (templ.Component, error) {
			vm := s.loginVM(c, "Sign in")
			vm.Email, vm.Next, vm.Error = email, next, pe.Message
			return authview.Login(vm), nil
		}})
}

func (s *Server) logout(c echo.Context) error {
	if _, ok := CurrentUser(c); !ok {
		return redirect(c, "/login")
	}
	if err := s.auth.SignOut(c.Response(), c.Request(), actor(c)); err != nil {
		return err
	}
	s.setFlash(c, "info", "You are signed out.")
	return redirect(c, "/login")
}

func (s *Server) showSetup(c echo.Context) error {
	tok := c.QueryParam("token")
	ok, err := s.auth.SetupTokenValid(c.Request().Context(), tok)
	if err != nil {
		return err
	}
	if !ok {
		return echo.ErrNotFound
	}
	return render(c, http.StatusOK, authview.Setup(authview.SetupVM{Meta: s.meta(c, "Set up Elevate"), Token: tok}))
}

func (s *Server) setup(c echo.Context) error {
	in := auth.SetupInput{
		Token: c.FormValue("token"), Email: c.FormValue("email"), Name: c.FormValue("name"),
		Password: c.FormValue("password"), PasswordConfirm: c.FormValue("password_confirm"),
	}
	u, err := s.auth.SetupSignedIn(c.Response(), c.Request(), in, actor(c))
	return s.posted(c, err, outcome{Next: "/", Done: "Administrator " + u.Email + " created, and you are signed in. The checklist below leads through the first steps.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			errs := byField(pe, "")
			return authview.Setup(authview.SetupVM{Meta: s.meta(c, "Set up Elevate"), Token: in.Token, Email: in.Email, Name: in.Name,
				Errors: errs, Error: errs[""]}), nil
		}})
}

func (s *Server) showSetPassword(c echo.Context) error {
	tok := c.QueryParam("token")
	u, err := s.auth.PasswordLinkUser(c.Request().Context(), tok)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, authview.SetPassword(authview.SetPasswordVM{Meta: s.meta(c, "Choose your password"), Token: tok, Email: u.Email, Name: u.Name}))
}

func (s *Server) setPassword(c echo.Context) error {
	ctx := c.Request().Context()
	tok := c.FormValue("token")
	u, err := s.auth.SetPasswordWithLink(ctx, tok, c.FormValue("password"), c.FormValue("password_confirm"), actor(c))
	if err == nil {
		s.setLoginEmail(c, u.Email)
	}
	return s.posted(c, err, outcome{Next: "/login", Done: "Password set for " + u.Email + ". Sign in with it now.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			lu, err := s.auth.PasswordLinkUser(ctx, tok)
			if err != nil {
				return nil, err
			}
			return authview.SetPassword(authview.SetPasswordVM{Meta: s.meta(c, "Choose your password"),
				Token: tok, Email: lu.Email, Name: lu.Name, Errors: byField(pe, "password")}), nil
		}})
}

const loginEmailCookie = "elevate_login_email"

// setLoginEmail fills in the sign-in form's email once, after a password was set through a
// link, in a signed short-lived cookie (not the URL, which logs and history keep).
func (s *Server) setLoginEmail(c echo.Context, email string) {
	v, err := s.flash.Encode(loginEmailCookie, email)
	if err != nil {
		return
	}
	c.SetCookie(&http.Cookie{Name: loginEmailCookie, Value: v, Path: "/login", MaxAge: 600, HttpOnly: true,
		Secure: s.cfg.Secure(), SameSite: http.SameSiteLaxMode})
}

// takeLoginEmail reads and clears the email left by setLoginEmail; "" when none.
func (s *Server) takeLoginEmail(c echo.Context) string {
	ck, err := c.Cookie(loginEmailCookie)
	if err != nil {
		return ""
	}
	c.SetCookie(&http.Cookie{Name: loginEmailCookie, Path: "/login", MaxAge: -1, HttpOnly: true, Secure: s.cfg.Secure(), SameSite: http.SameSiteLaxMode})
	var email string
	if err := s.flash.Decode(loginEmailCookie, ck.Value, &email); err != nil {
		return ""
	}
	return email
}
