package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/a-h/templ"
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
	t := components.TableVM{TestID: "groups", Columns: []string{"Group", "Enabled members"}, Numeric: []bool{false, true},
		Empty: "No groups yet. Groups name who may ask (eligible groups) and who may approve (approver groups)."}
	for _, g := range groups {
		t.Rows = append(t.Rows, []components.Cell{{Text: g.Name, Href: "/admin/groups/" + g.ID, Sub: g.Description}, {Text: fmt.Sprint(g.MemberCount), Numeric: true}})
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

// groupPage draws a group with its edit form, members and the member search.
func (s *Server) groupPage(c echo.Context, g pam.Group, form adminview.FormVM) (templ.Component, error) {
	ctx := c.Request().Context()
	members, err := s.directory.GroupMembers(ctx, g.ID, pam.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	base := "/admin/groups/" + g.ID
	sec := adminview.SetSection{Title: fmt.Sprintf("Members (%d enabled)", g.MemberCount), TestID: "members",
		Empty: "No members yet. Find users below to add them.", AddAction: base + "/members", AddName: "user_id",
		SearchHref: base, SearchQ: c.QueryParam("q"), SearchHint: "Find a user by name or email"}
	in := map[pam.UserID]bool{}
	for _, m := range members {
		in[m.ID] = true
		it := adminview.Item{Label: m.Name, Sub: m.Email, Href: "/admin/users/" + string(m.ID), RemoveAction: base + "/members/" + string(m.ID) + "/remove"}
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
	page, err := s.groupPage(c, g, s.groupForm(c, g, g.Name, g.Description))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, page)
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
			return s.groupPage(c, g, form)
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

func (s *Server) removeMember(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.RemoveMember(c.Request().Context(), actor(c), id, pam.UserID(c.Param("uid")))
	return s.posted(c, err, outcome{Next: "/admin/groups/" + id, Done: "Member removed."})
}

func lowerName(s string) string { return strings.ToLower(s) }
