package web

import (
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/pam"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

const pageSize = 50

func (s *Server) listUsers(c echo.Context) error {
	return s.page(c, http.StatusOK)(s.usersPage(c, refusedEnd{}))
}

// usersPage is the users list with the delegations under it; refused, when set, is the end of
// a delegation that came back for its reason.
func (s *Server) usersPage(c echo.Context, refused refusedEnd) (templ.Component, error) {
	q, after := c.QueryParam("q"), c.QueryParam("after")
	users, err := s.directory.SearchUsers(c.Request().Context(), q, after, pageSize)
	if err != nil {
		return nil, err
	}
	t := components.TableVM{TestID: "users", Columns: []string{"Name", "Email", "Roles", "Status"},
		Empty: "No users match. Clear the search or add a user."}
	for _, u := range users {
		var roles []string
		if u.Admin {
			roles = append(roles, "administrator")
		}
		if u.Auditor {
			roles = append(roles, "auditor")
		}
		status := components.Cell{Badge: "active", Text: "Active"}
		if !u.Active() {
			status = components.Cell{Badge: "disabled", Text: "Disabled"}
		}
		t.Rows = append(t.Rows, []components.Cell{
			{Text: u.Name, Href: "/admin/users/" + string(u.ID)}, {Text: u.Email}, {Text: strings.Join(roles, ", ")}, status,
		})
	}
	last := ""
	if len(users) > 0 {
		last = users[len(users)-1].Email
	}
	first, next := pageLinks("/admin/users", c.QueryParams(), after, last, len(users) == pageSize)
	viewer, _ := CurrentUser(c)
	delegations, err := s.delegationsVM(c, viewer, refused)
	if err != nil {
		return nil, err
	}
	return adminview.List(adminview.ListVM{
		Delegations: delegations,
		Meta:        s.meta(c, "Users"), Tab: "users",
		Header:       components.HeaderVM{Title: "Users", Subtitle: "People and service accounts who can sign in, ask for access or approve it.", ActionLabel: "Add user", ActionHref: "/admin/users/new"},
		SearchAction: "/admin/users", Q: q, Placeholder: "Name or email", Table: t, FirstHref: first, NextHref: next,
	}), nil
}

func userFields(email, name string, isAdmin, auditor bool) []components.FieldVM {
	return []components.FieldVM{
		{Name: "email", Label: "Email", Type: "email", Value: email, Required: true, MaxLength: 254, Autofocus: true},
		{Name: "name", Label: "Full name", Type: "text", Value: name, Required: true, MaxLength: 100},
		{Name: "admin", Label: "Administrator", Type: "checkbox", Checked: isAdmin, Help: "Can change policies, groups, users and settings."},
		{Name: "auditor", Label: "Auditor", Type: "checkbox", Checked: auditor, Help: "Can read the audit trail, requests and policies, and change nothing."},
	}
}

func (s *Server) newUser(c echo.Context) error {
	return render(c, http.StatusOK, adminview.Form(adminview.FormVM{
		Meta: s.meta(c, "Add user"), Tab: "users", Action: "/admin/users", Submit: "Add user",
		Header: components.HeaderVM{Title: "Add user", BackLabel: "Users", BackHref: "/admin/users"},
		Note:   newUserNote,
		Fields: userFields("", "", false, false),
	}))
}

// newUserNote heads the form for a new user, also when it comes back with a problem.
const newUserNote = "The new user gets a one-time link to choose a password. You will see the link on the next page."

func (s *Server) createUser(c echo.Context) error {
	email, name := c.FormValue("email"), c.FormValue("name")
	isAdmin, auditor := checked(c.FormValue("admin")), checked(c.FormValue("auditor"))
	u, tok, err := s.admin.CreateUser(c.Request().Context(), actor(c), email, name, isAdmin, auditor)
	if err != nil {
		// Success shows the one-time link instead of redirecting: it is never shown again.
		return s.posted(c, err, outcome{Again: func(pe *pam.Error) (templ.Component, error) {
			fields := userFields(email, name, isAdmin, auditor)
			return adminview.Form(adminview.FormVM{
				Meta: s.meta(c, "Add user"), Tab: "users", Action: "/admin/users", Submit: "Add user", Error: besideField(pe, fields),
				Header: components.HeaderVM{Title: "Add user", BackLabel: "Users", BackHref: "/admin/users"}, Note: newUserNote, Fields: fields,
			}), nil
		}})
	}
	return s.showPasswordLink(c, u, tok, "User "+u.Email+" added")
}

func (s *Server) showPasswordLink(c echo.Context, u pam.User, tok, title string) error {
	const terms = " It works once and expires in 7 days. It is not shown again; you can make a new one from the user's page."
	help := "Send this link to " + u.Email + "."
	if s.admin.MailsPasswordLinks() && u.Active() {
		help = "Elevate is mailing this link to " + u.Email + " (see Outbox); you may also hand it over yourself."
		if s.cfg.SMTP == nil {
			// The mail is queued, but nothing sends it until a mail server is set up.
			help = "No mail server is set up, so the mail with this link to " + u.Email + " waits in the Outbox: hand the link over yourself."
		}
	}
	help += terms
	return render(c, http.StatusOK, adminview.Secret(adminview.SecretVM{
		Meta: s.meta(c, title), Tab: "users",
		Header: components.HeaderVM{Title: title, BackLabel: "Users", BackHref: "/admin/users"},
		Label:  "One-time link for " + u.Name + " to choose a password",
		Value:  s.cfg.BaseURL.String() + "/set-password?token=" + tok,
		Help:   help,
		Next:   "/admin/users/" + string(u.ID), NextLb: "Go to " + u.Name,
	}))
}

func (s *Server) showUser(c echo.Context) error {
	page, err := s.userPage(c, pam.UserID(c.Param("id")), refusedChange{})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, page)
}

// refusedChange is a change of a user refused for its reason: its form shows the reason as
// typed and the problem.
type refusedChange struct {
	change          admin.UserChange
	reason, problem string
}

// reasonField is the reason a change that takes access away asks for, with what was typed
// into it when that change was refused.
func (r refusedChange) reasonField(change admin.UserChange, label, help string) []components.FieldVM {
	f := components.FieldVM{Name: "reason", Key: string(change), Label: label, Type: "textarea", Rows: 2, Required: true,
		MaxLength: pam.MaxComment, Help: help}
	if r.change == change {
		f.Value, f.Error = r.reason, r.problem
	}
	return []components.FieldVM{f}
}

// userPage is a user's page; refused, when set, is a change that came back for its reason.
func (s *Server) userPage(c echo.Context, id pam.UserID, refused refusedChange) (templ.Component, error) {
	ctx := c.Request().Context()
	u, err := s.directory.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	groups, err := s.directory.UserGroups(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	me, _ := CurrentUser(c)
	vm := adminview.DetailVM{Meta: s.meta(c, u.Name), Tab: "users",
		Header: components.HeaderVM{Title: u.Name, Subtitle: u.Email, BackLabel: "Users", BackHref: "/admin/users"}}
	status := "Active"
	if !u.Active() {
		status = "Disabled since " + u.DisabledAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	// What the person may do beyond asking comes from their groups (listed beside this), not
	// from a role of their own.
	roles := "none beyond what their groups give"
	if u.Admin && u.Auditor {
		roles = "Administrator and auditor"
	} else if u.Admin {
		roles = "Administrator"
	} else if u.Auditor {
		roles = "Auditor (read-only)"
	}
	vm.Notes = []string{"Status: " + status + ". Rights: " + roles + ". Time zone: " + u.TimeZone + "."}
	vm.Links = []adminview.Link{
		{Label: "Audit events by " + u.Name, Href: auditURL("/audit", "actor_id", string(u.ID))},
		{Label: "Audit events about " + u.Name, Href: auditURL("/audit", "target_type", "user", "target_id", string(u.ID))},
	}
	sec := adminview.SetSection{Title: "Groups", TestID: "user-groups", Empty: "Not in any group."}
	for _, g := range groups {
		sec.Items = append(sec.Items, adminview.Item{Label: g.Name, Href: "/admin/groups/" + g.ID})
	}
	vm.Sections = append(vm.Sections, sec)
	base := "/admin/users/" + string(u.ID)
	self := me.ID == u.ID
	add := func(a adminview.ActionVM) { vm.Actions = append(vm.Actions, a) }
	add(adminview.ActionVM{Title: "Password link", Text: "Make a new one-time link for this user to choose a password. Any older link stops working.",
		Href: base + "/password-link", Label: "New password link", TestID: "password-link"})
	if u.Admin && !self {
		add(adminview.ActionVM{Title: "Administrator", Text: "Remove administrator rights.", Href: base + "/change?to=remove_admin", Label: "Remove administrator", Danger: true, TestID: "remove-admin",
			Fields: refused.reasonField(admin.RemoveAdmin, "Reason for removing", "The audit trail keeps it.")})
	} else if !u.Admin {
		add(adminview.ActionVM{Title: "Administrator", Text: "Let this user change policies, groups, users and settings.", Href: base + "/change?to=make_admin", Label: "Make administrator", TestID: "make-admin"})
	}
	if u.Auditor {
		add(adminview.ActionVM{Title: "Auditor", Text: "Remove read access to the audit trail.", Href: base + "/change?to=remove_auditor", Label: "Remove auditor", TestID: "remove-auditor",
			Fields: refused.reasonField(admin.RemoveAuditor, "Reason for removing", "The audit trail keeps it.")})
	} else {
		add(adminview.ActionVM{Title: "Auditor", Text: "Give read-only access to the audit trail, requests and policies.", Href: base + "/change?to=make_auditor", Label: "Make auditor", TestID: "make-auditor"})
	}
	if !u.Active() {
		add(adminview.ActionVM{Title: "Enable", Text: "Let this user sign in again.", Href: base + "/change?to=enable", Label: "Enable user", TestID: "enable"})
	} else if !self {
		add(adminview.ActionVM{Title: "Disable", Text: "End this user's sessions at once and stop them signing in, asking or approving.", Href: base + "/change?to=disable", Label: "Disable user", Danger: true, TestID: "disable",
			Fields: refused.reasonField(admin.Disable, "Reason for disabling", "Their grants and pending requests end with it; the audit trail keeps the reason.")})
	}
	return adminview.Detail(vm), nil
}

var changeWords = map[admin.UserChange]string{
	admin.Disable: "disabled", admin.Enable: "enabled", admin.MakeAdmin: "is now an administrator",
	admin.RemoveAdmin: "is no longer an administrator", admin.MakeAuditor: "is now an auditor", admin.RemoveAuditor: "is no longer an auditor",
}

func (s *Server) changeUser(c echo.Context) error {
	change := admin.UserChange(c.QueryParam("to"))
	if _, ok := changeWords[change]; !ok {
		return pam.Errorf(pam.EINVALID, "Unknown change.")
	}
	id := pam.UserID(c.Param("id"))
	reason := c.FormValue("reason")
	u, err := s.admin.ChangeUserBecause(c.Request().Context(), actor(c), id, change, reason)
	o := outcome{Next: "/admin/users/" + string(id), Done: u.Email + " " + changeWords[change] + "."}
	if onField(err, "reason") {
		o.Again = func(pe *pam.Error) (templ.Component, error) {
			return s.userPage(c, id, refusedChange{change: change, reason: reason, problem: pe.Message})
		}
	}
	return s.posted(c, err, o)
}

func (s *Server) newPasswordLink(c echo.Context) error {
	ctx := c.Request().Context()
	id := pam.UserID(c.Param("id"))
	tok, err := s.admin.NewPasswordLink(ctx, actor(c), id)
	if err != nil {
		return err
	}
	u, err := s.directory.UserByID(ctx, id)
	if err != nil {
		return err
	}
	return s.showPasswordLink(c, u, tok, "New password link for "+u.Email)
}
