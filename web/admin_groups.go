package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/pam"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

func titleFields(name, desc, what string) []components.FieldVM {
	return []components.FieldVM{
		{Name: "name", Label: "Name", Type: "text", Value: name, Required: true, MaxLength: 100},
		{Name: "description", Label: "Description", Type: "textarea", Value: desc, MaxLength: 2000, Help: "What " + what + " is for; shown to requesters and approvers."},
	}
}

func (s *Server) listGroups(c echo.Context) error {
	q, after := c.QueryParam("q"), c.QueryParam("after")
	groups, err := s.directory.Groups(c.Request().Context(), pam.Page{After: after, Query: q, Limit: pageSize})
	if err != nil {
		return err
	}
	t := components.TableVM{TestID: "groups", Columns: []string{"Group", "Members from", "Enabled members"}, Numeric: []bool{false, false, true},
		Empty: "No groups yet. Groups name who may ask (eligible groups) and who may approve (approver groups)."}
	for _, g := range groups {
		from := components.Cell{Text: "Added by hand"}
		if g.Managed() {
			from = components.Cell{Badge: "info", Text: "Managed by the identity provider", Sub: s.groupsClaim() + " contains " + g.IdPValue}
		}
		t.Rows = append(t.Rows, []components.Cell{{Text: g.Name, Href: "/admin/groups/" + g.ID, Sub: g.Description}, from, {Text: fmt.Sprint(g.MemberCount), Numeric: true}})
	}
	last := ""
	if len(groups) > 0 {
		last = lowerName(groups[len(groups)-1].Name)
	}
	first, next := pageLinks("/admin/groups", c.QueryParams(), after, last, len(groups) == pageSize)
	return render(c, http.StatusOK, adminview.List(adminview.ListVM{
		Meta: s.meta(c, "Groups"), Tab: "groups",
		Header:       components.HeaderVM{Title: "Groups", Subtitle: "Sets of users: approvers, eligible requesters and exempt service accounts.", ActionLabel: "New group", ActionHref: "/admin/groups/new"},
		SearchAction: "/admin/groups", Q: q, Placeholder: "Group name", Table: t, FirstHref: first, NextHref: next,
	}))
}

// namedSet describes the "new" page of a named set (group, role, role group).
type namedSet struct {
	tab, what, list, listLabel, submit, next string
	create                                   func(s *Server, c echo.Context, name, desc string) (id string, err error)
}

var (
	groupSet = namedSet{tab: "groups", what: "group", list: "/admin/groups", listLabel: "Groups", submit: "Create group",
		next: "Add its members below.", create: func(s *Server, c echo.Context, name, desc string) (string, error) {
			g, err := s.admin.CreateGroup(c.Request().Context(), actor(c), name, desc)
			return g.ID, err
		}}
)

func (s *Server) namedForm(c echo.Context, set namedSet, msg string, fields []components.FieldVM) templ.Component {
	title := "New " + set.what
	return adminview.Form(adminview.FormVM{
		Meta: s.meta(c, title), Tab: set.tab, Action: set.list, Submit: set.submit, Error: msg, Fields: fields,
		Header: components.HeaderVM{Title: title, BackLabel: set.listLabel, BackHref: set.list},
	})
}

// newNamed shows the form for a new group, role or role group.
func (s *Server) newNamed(set namedSet) echo.HandlerFunc {
	return func(c echo.Context) error {
		return render(c, http.StatusOK, s.namedForm(c, set, "", titleFields("", "", "the "+set.what)))
	}
}

// createNamed creates a group, role or role group, or shows the form again with the input kept.
func (s *Server) createNamed(set namedSet) echo.HandlerFunc {
	return func(c echo.Context) error {
		name, desc := c.FormValue("name"), c.FormValue("description")
		id, err := set.create(s, c, name, desc)
		return s.posted(c, err, outcome{Next: set.list + "/" + id,
			Done: strings.ToUpper(set.what[:1]) + set.what[1:] + " " + strings.TrimSpace(name) + " created. " + set.next,
			Again: func(pe *pam.Error) (templ.Component, error) {
				fields := titleFields(name, desc, "the "+set.what)
				return s.namedForm(c, set, besideField(pe, fields), fields), nil
			}})
	}
}

// groupsClaim is the claim whose values map groups to the identity provider.
func (s *Server) groupsClaim() string {
	if s.cfg.OIDCGroupsClaim == "" {
		return "groups"
	}
	return s.cfg.OIDCGroupsClaim
}

// groupPage draws a group with its edit form, members and the member search. A group the
// identity provider manages shows its members read-only, each with when the provider last
// confirmed them; idp is the claim value field as last typed (nil: the group's own value).
func (s *Server) groupPage(c echo.Context, g pam.Group, form adminview.FormVM, idp *components.FieldVM) (templ.Component, error) {
	ctx := c.Request().Context()
	members, err := s.directory.GroupMembers(ctx, g.ID, pam.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	base := "/admin/groups/" + g.ID
	sec := adminview.SetSection{Title: fmt.Sprintf("Members (%d enabled)", g.MemberCount), TestID: "members",
		Empty: "No members yet. Find users below to add them.", AddAction: base + "/members", AddName: "user_id",
		SearchHref: base, SearchQ: c.QueryParam("q"), SearchHint: "Find a user by name or email"}
	var confirmed map[pam.UserID]time.Time
	if g.Managed() {
		sec.AddAction = ""
		sec.Empty = "No members yet. People whose sign-in carries " + s.groupsClaim() + " = " + g.IdPValue + " become members at their next SSO sign-in."
		ids := make([]pam.UserID, len(members))
		for i, m := range members {
			ids[i] = m.ID
		}
		if confirmed, err = s.directory.IdPConfirmations(ctx, g.ID, ids); err != nil {
			return nil, err
		}
	}
	in := map[pam.UserID]bool{}
	now := s.now()
	for _, m := range members {
		in[m.ID] = true
		it := adminview.Item{Label: m.Name, Sub: m.Email, Href: "/admin/users/" + string(m.ID), ConfirmHref: base + "/members/" + string(m.ID) + "/remove"}
		if g.Managed() {
			it.ConfirmHref = ""
			if at, ok := confirmed[m.ID]; ok {
				it.Sub += " · confirmed " + relative(at, now) + ", lapses " + relative(at.Add(s.cfg.OIDCGroupMaxAge), now) + " without a sign-in"
			}
		}
		if !m.Active() {
			it.Badge, it.BadgeText = "disabled", "Disabled"
		}
		sec.Items = append(sec.Items, it)
	}
	if len(members) == 200 {
		sec.More = "Showing the first 200 members."
	}
	var found []pam.User
	if q := c.QueryParam("q"); q != "" {
		sec.Searched = true
		if found, err = s.directory.SearchUsers(ctx, q, "", 20); err != nil {
			return nil, err
		}
		for _, u := range found {
			if !in[u.ID] && u.Active() {
				sec.Candidates = append(sec.Candidates, adminview.Candidate{Label: u.Name, Sub: u.Email, Value: string(u.ID)})
			}
		}
	}
	owners, err := s.admin.GroupOwners(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	own := adminview.SetSection{Title: "Owners", TestID: "owners",
		Empty:     "No owner yet. Owners review this group's members in access reviews; without one, administrators do.",
		AddAction: base + "/owners", AddName: "user_id", SearchHref: base, SearchQ: c.QueryParam("q"), SearchHint: "Find a user by name or email",
		Searched: sec.Searched}
	owning := map[pam.UserID]bool{}
	for _, o := range owners {
		owning[o.ID] = true
		it := adminview.Item{Label: o.Name, Sub: o.Email, Href: "/admin/users/" + string(o.ID), RemoveAction: base + "/owners/" + string(o.ID) + "/remove"}
		if !o.Active() {
			it.Badge, it.BadgeText = "disabled", "Disabled"
		}
		own.Items = append(own.Items, it)
	}
	for _, u := range found {
		if !owning[u.ID] && u.Active() {
			own.Candidates = append(own.Candidates, adminview.Candidate{Label: u.Name, Sub: u.Email, Value: string(u.ID)})
		}
	}
	uses, err := s.directory.GroupUsage(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	vm := adminview.DetailVM{Meta: s.meta(c, g.Name), Tab: "groups",
		Header: components.HeaderVM{Title: g.Name, Subtitle: g.Description, BackLabel: "Groups", BackHref: "/admin/groups"},
		Form:   form, Sections: []adminview.SetSection{sec, own}}
	usedBy := adminview.SetSection{Title: "Used by", TestID: "used-by", Empty: "Nothing uses this group yet."}
	for _, u := range uses {
		usedBy.Items = append(usedBy.Items, adminview.Item{Label: u})
	}
	vm.Sections = append(vm.Sections, usedBy)
	if g.Managed() {
		vm.Banner = adminview.Banner{TestID: "idp-managed", Title: "Managed by the identity provider.",
			Text: fmt.Sprintf("Members are the people whose SSO sign-in carries %s = %s: each sign-in adds or removes them, and a membership no sign-in confirmed for %s ends. Change members in the identity provider.",
				s.groupsClaim(), g.IdPValue, maxAgeWords(s.cfg.OIDCGroupMaxAge))}
	}
	if s.sso != nil || g.Managed() {
		vm.Actions = append(vm.Actions, s.idpAction(g, idp))
	}
	if g.Managed() {
		vm.Actions = append(vm.Actions, adminview.ActionVM{Title: "Stop managing from the identity provider",
			Text: "Members are then added and removed by hand here again. The present members stay.",
			Href: base + "/idp/remove", Label: "Stop managing from the identity provider", TestID: "idp-unmap"})
	}
	if len(uses) == 0 {
		vm.Actions = append(vm.Actions, adminview.ActionVM{Title: "Delete group", Text: "The group and its member list are removed. Its users stay.",
			Href: base + "/delete", Label: "Delete group", Danger: true, TestID: "delete"})
	}
	return adminview.Detail(vm), nil
}

func (s *Server) groupForm(c echo.Context, g pam.Group, name, desc string) adminview.FormVM {
	return adminview.FormVM{Meta: s.meta(c, g.Name), Action: "/admin/groups/" + g.ID, Submit: "Save group", Fields: titleFields(name, desc, "the group")}
}

func (s *Server) showGroup(c echo.Context) error {
	g, err := s.directory.GroupByID(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	page, err := s.groupPage(c, g, s.groupForm(c, g, g.Name, g.Description), nil)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, page)
}

// idpAction is the card that maps a group to a claim value; field is the value as last typed.
func (s *Server) idpAction(g pam.Group, field *components.FieldVM) adminview.ActionVM {
	f := components.FieldVM{Name: "idp_value", Label: "Value of the " + s.groupsClaim() + " claim", Type: "text", Value: g.IdPValue,
		Required: true, MaxLength: 200, Placeholder: "exchange-admins",
		Help: "Compared exactly, case included. People whose sign-in carries it become members; people whose sign-in lacks it stop being members."}
	if field != nil {
		f = *field
	}
	a := adminview.ActionVM{Title: "Members from the identity provider", Href: "/admin/groups/" + g.ID + "/idp",
		Label: "Manage from the identity provider", TestID: "idp-map", Fields: []components.FieldVM{f},
		Text: fmt.Sprintf("Let each SSO sign-in set this group's members from the %s claim. The present members stay until their next sign-in, or for %s without one.",
			s.groupsClaim(), maxAgeWords(s.cfg.OIDCGroupMaxAge))}
	if g.Managed() {
		a.Title, a.Label = "Claim value", "Save claim value"
		a.Text = "The value of the " + s.groupsClaim() + " claim whose holders are this group's members."
	}
	return a
}

// maxAgeWords says a duration as a person would: "7 days", "36 h", "90 min".
func maxAgeWords(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

// mapGroupToIdP makes the identity provider manage a group's members (or changes its value).
func (s *Server) mapGroupToIdP(c echo.Context) error {
	ctx := c.Request().Context()
	g, err := s.directory.GroupByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	base := "/admin/groups/" + g.ID
	if s.sso == nil {
		s.setFlash(c, "error", "Single sign-on is not configured (ELEVATE_OIDC_ISSUER), so no identity provider can manage this group.")
		return redirect(c, base)
	}
	value := c.FormValue("idp_value")
	err = s.admin.MapGroupToIdP(ctx, actor(c), g.ID, value)
	return s.posted(c, err, outcome{Next: base,
		Done: "The identity provider now manages " + g.Name + ": members follow " + s.groupsClaim() + " = " + strings.TrimSpace(value) + " at each SSO sign-in.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			f := s.idpAction(g, nil).Fields[0]
			f.Value = value
			if pe.Field == "idp_value" {
				f.Error = pe.Message
			}
			form := s.groupForm(c, g, g.Name, g.Description)
			if pe.Field != "idp_value" {
				form.Error = pe.Message
			}
			return s.groupPage(c, g, form, &f)
		}})
}

// unmapGroupFromIdP returns a group's members to hand editing.
func (s *Server) unmapGroupFromIdP(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.UnmapGroupFromIdP(c.Request().Context(), actor(c), id)
	return s.posted(c, err, outcome{Next: "/admin/groups/" + id, Done: "Members of this group are edited by hand again."})
}

func (s *Server) updateGroup(c echo.Context) error {
	ctx := c.Request().Context()
	g, err := s.directory.GroupByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	name, desc := c.FormValue("name"), c.FormValue("description")
	err = s.admin.UpdateGroup(ctx, actor(c), g.ID, name, desc)
	return s.posted(c, err, outcome{Next: "/admin/groups/" + g.ID, Done: "Group saved.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			form := s.groupForm(c, g, name, desc)
			form.Error = besideField(pe, form.Fields)
			return s.groupPage(c, g, form, nil)
		}})
}

func (s *Server) deleteGroup(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.DeleteGroup(c.Request().Context(), actor(c), id)
	return s.posted(c, err, outcome{Next: "/admin/groups", Done: "Group deleted.", Back: "/admin/groups/" + id})
}

func (s *Server) addMember(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.AddMember(c.Request().Context(), actor(c), id, pam.UserID(c.FormValue("user_id")))
	return s.posted(c, err, outcome{Next: "/admin/groups/" + id, Done: "Member added."})
}

// removalPage is the confirmation a member's removal asks for: what it takes away, counted
// now (grants revoked, pending requests cancelled, the groups' uses), and a reason for the
// audit trail. reason and its error come back from a removal refused for its reason.
func (s *Server) removalPage(c echo.Context, reason, reasonErr string) (templ.Component, error) {
	ctx := c.Request().Context()
	g, err := s.directory.GroupByID(ctx, c.Param("id"))
	if err != nil {
		return nil, err
	}
	u, err := s.directory.UserByID(ctx, pam.UserID(c.Param("uid")))
	if err != nil {
		return nil, err
	}
	if g.Managed() {
		return nil, pam.Errorf(pam.ECONFLICT, "The identity provider manages the members of %s: change them there.", g.Name)
	}
	loss, err := s.admin.MemberLoss(ctx, g.ID, u.ID)
	if err != nil {
		return nil, err
	}
	uses, err := s.directory.GroupUsage(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	base := "/admin/groups/" + g.ID
	vm := adminview.FormVM{Meta: s.meta(c, "Remove "+u.Name), Tab: "groups", Action: base + "/members/" + string(u.ID) + "/remove",
		Header: components.HeaderVM{Title: "Remove " + u.Name + " from " + g.Name, Subtitle: u.Email, BackLabel: g.Name, BackHref: base},
		Submit: "Remove member", Danger: true, Fields: []components.FieldVM{{Name: "reason", Label: "Reason for removing", Type: "textarea", Rows: 2,
			Required: true, MaxLength: pam.MaxComment, Value: reason, Error: reasonErr, Help: "The audit trail keeps it."}}}
	if ends := endedParts(loss, inForceNouns, "revoked at once"); len(ends) > 0 {
		vm.Warnings = []adminview.Warning{{Text: fmt.Sprintf("Removing %s ends what this group makes them eligible for: %s.",
			u.Name, strings.Join(ends, " and "))}}
	} else {
		vm.Note = u.Name + " has no grant in force and no pending request that this group makes them eligible for."
	}
	if len(uses) > 0 {
		vm.Note = strings.TrimSpace(vm.Note + " This group is used by " + strings.Join(uses, ", ") + ".")
		if slices.ContainsFunc(uses, func(u string) bool { return strings.Contains(u, "approver group") }) {
			vm.Note += " " + u.Name + " also stops deciding the requests it approves."
		}
	}
	return adminview.Form(vm), nil
}

// confirmRemoveMember shows what removing a member takes away and asks why; it changes nothing.
func (s *Server) confirmRemoveMember(c echo.Context) error {
	return s.page(c, http.StatusOK)(s.removalPage(c, "", ""))
}

// removeMember removes a member with the reason the confirmation asked for, then says what
// that ended; without a reason the confirmation comes back with the error beside its field.
func (s *Server) removeMember(c echo.Context) error {
	id := c.Param("id")
	reason := c.FormValue("reason")
	ended, err := s.admin.RemoveMemberBecause(c.Request().Context(), actor(c), id, pam.UserID(c.Param("uid")), reason)
	done := "Member removed."
	if parts := endedParts(ended, grantNouns, "revoked"); len(parts) > 0 {
		done = "Member removed: " + strings.Join(parts, ", ") + "."
	}
	o := outcome{Next: "/admin/groups/" + id, Done: done}
	if onField(err, "reason") {
		o.Again = func(pe *pam.Error) (templ.Component, error) { return s.removalPage(c, reason, pe.Message) }
	}
	return s.posted(c, err, o)
}

func lowerName(s string) string { return strings.ToLower(s) }

// grantNouns and inForceNouns name the grants endedParts counts: as they were, or as the
// confirmation before a change counts them, the ones it would end now.
var (
	grantNouns   = [2]string{"grant", "grants"}
	inForceNouns = [2]string{"grant in force or scheduled", "grants in force or scheduled"}
)

// endedParts words what the end of memberships takes away, or took, leaving out what it takes
// none of: "1 grant revoked" (with the grants' words and the verb given), "2 pending requests
// cancelled". The group removal's confirmation and outcome and the access review's closing
// all say it so.
func endedParts(e admin.Ended, grant [2]string, verb string) []string {
	var parts []string
	if e.Revoked > 0 {
		parts = append(parts, pam.Count(int(e.Revoked), grant[0], grant[1])+" "+verb)
	}
	if e.Cancelled > 0 {
		parts = append(parts, pam.Count(int(e.Cancelled), "pending request", "pending requests")+" cancelled")
	}
	return parts
}
