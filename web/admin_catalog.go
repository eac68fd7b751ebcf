package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/pam"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

// ---- tasks

func taskFields(key, name, desc string) []components.FieldVM {
	return []components.FieldVM{
		{Name: "key", Label: "Key", Type: "text", Value: key, Required: true, MaxLength: 192, Placeholder: "exchange/New-JournalRule",
			Help: "The system, a slash and the operation, exactly as target systems name it in checks."},
		{Name: "name", Label: "Name", Type: "text", Value: name, MaxLength: 100, Help: "Optional; defaults to the part after the slash."},
		{Name: "description", Label: "Description", Type: "textarea", Value: desc, MaxLength: 2000, Help: "What the task does and why it is privileged."},
	}
}

func (s *Server) listTasks(c echo.Context) error {
	q, after := c.QueryParam("q"), c.QueryParam("after")
	tasks, err := s.catalog.Tasks(c.Request().Context(), pam.Page{After: after, Query: q, Limit: pageSize})
	if err != nil {
		return err
	}
	t := components.TableVM{TestID: "tasks", Columns: []string{"Task", "System", "Name"},
		Empty: "No tasks yet. Add the privileged operations of your systems, like exchange/New-JournalRule."}
	for _, x := range tasks {
		t.Rows = append(t.Rows, []components.Cell{{Text: x.Key, Href: "/admin/tasks/" + x.ID, Sub: x.Description}, {Text: x.System()}, {Text: x.Name}})
	}
	last := ""
	if len(tasks) > 0 {
		last = strings.ToLower(tasks[len(tasks)-1].Key)
	}
	first, next := pageLinks("/admin/tasks", c.QueryParams(), after, last, len(tasks) == pageSize)
	return render(c, http.StatusOK, adminview.List(adminview.ListVM{
		Meta: s.meta(c, "Tasks"), Tab: "tasks",
		Header:       components.HeaderVM{Title: "Tasks", Subtitle: "Privileged operations in target systems. Roles bundle tasks; policies say how each can be reached.", ActionLabel: "New task", ActionHref: "/admin/tasks/new"},
		SearchAction: "/admin/tasks", Q: q, Placeholder: "Key or name", Table: t, FirstHref: first, NextHref: next,
	}))
}

func (s *Server) newTask(c echo.Context) error {
	return render(c, http.StatusOK, adminview.Form(adminview.FormVM{
		Meta: s.meta(c, "New task"), Tab: "tasks", Action: "/admin/tasks", Submit: "Create task",
		Header: components.HeaderVM{Title: "New task", BackLabel: "Tasks", BackHref: "/admin/tasks"}, Fields: taskFields("", "", ""),
	}))
}

func (s *Server) createTask(c echo.Context) error {
	key, name, desc := c.FormValue("key"), c.FormValue("name"), c.FormValue("description")
	t, err := s.admin.CreateTask(c.Request().Context(), actor(c), key, name, desc)
	return s.posted(c, err, outcome{Next: "/admin/tasks/" + t.ID, Done: "Task " + t.Key + " created.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			fields := taskFields(key, name, desc)
			return adminview.Form(adminview.FormVM{
				Meta: s.meta(c, "New task"), Tab: "tasks", Action: "/admin/tasks", Submit: "Create task", Error: besideField(pe, fields),
				Header: components.HeaderVM{Title: "New task", BackLabel: "Tasks", BackHref: "/admin/tasks"}, Fields: fields,
			}), nil
		}})
}

// policySummary says in a few words how a scope can be reached, and links to its policy.
func (s *Server) policyHeader(c echo.Context, h *components.HeaderVM, scope pam.ScopeType, id string) (adminview.SetSection, error) {
	sec := adminview.SetSection{Title: "Policy", TestID: "policy", Empty: "No policy yet: nobody can ask for this " + strings.ToLower(scope.Label()) + " on its own."}
	p, err := s.policies.PolicyForScope(c.Request().Context(), scope, id)
	switch pam.ErrorCode(err) {
	case pam.ENOTFOUND:
		h.ActionLabel, h.ActionHref = "Create policy", "/admin/policies/new?scope_type="+string(scope)+"&scope_id="+id
		return sec, nil
	case pam.EINTERNAL:
		if err != nil {
			return sec, err
		}
	}
	h.ActionLabel, h.ActionHref = "Open policy", "/admin/policies/"+p.ID
	sec.Items = []adminview.Item{{Label: policyLine(p), Href: "/admin/policies/" + p.ID}}
	return sec, nil
}

func policyLine(p pam.Policy) string {
	how := "Approved automatically"
	if p.ApprovalType == pam.ApprovalManual {
		how = pam.Count(p.ApprovalsRequired, "approval", "approvals") + " needed"
	}
	line := how + ", up to " + pam.FormatDuration(p.MaxDuration)
	if !p.Enabled {
		line += " (disabled)"
	}
	return line
}

func (s *Server) taskPage(c echo.Context, t pam.Task, form adminview.FormVM) (templ.Component, error) {
	ctx := c.Request().Context()
	roles, err := s.catalog.TaskRoles(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	rgs, err := s.catalog.TaskRoleGroups(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	h := components.HeaderVM{Title: t.Key, Subtitle: t.Description, BackLabel: "Tasks", BackHref: "/admin/tasks"}
	pol, err := s.policyHeader(c, &h, pam.ScopeTask, t.ID)
	if err != nil {
		return nil, err
	}
	inRoles := adminview.SetSection{Title: "Reachable through roles", TestID: "task-roles", Empty: "No role contains this task."}
	for _, r := range roles {
		inRoles.Items = append(inRoles.Items, adminview.Item{Label: r.Name, Href: "/admin/roles/" + r.ID})
	}
	inRGs := adminview.SetSection{Title: "Reachable through role groups", TestID: "task-role-groups", Empty: "No role group reaches this task."}
	for _, r := range rgs {
		inRGs.Items = append(inRGs.Items, adminview.Item{Label: r.Name, Href: "/admin/role-groups/" + r.ID})
	}
	return adminview.Detail(adminview.DetailVM{Meta: s.meta(c, t.Key), Tab: "tasks", Header: h, Form: form,
		Sections: []adminview.SetSection{pol, inRoles, inRGs}}), nil
}

func (s *Server) showTask(c echo.Context) error {
	t, err := s.catalog.TaskByID(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	page, err := s.taskPage(c, t, adminview.FormVM{Meta: s.meta(c, t.Key), Action: "/admin/tasks/" + t.ID, Submit: "Save task",
		Fields: taskFields(t.Key, t.Name, t.Description)})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, page)
}

func (s *Server) updateTask(c echo.Context) error {
	ctx := c.Request().Context()
	t, err := s.catalog.TaskByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	key, name, desc := c.FormValue("key"), c.FormValue("name"), c.FormValue("description")
	err = s.admin.UpdateTask(ctx, actor(c), t.ID, key, name, desc)
	return s.posted(c, err, outcome{Next: "/admin/tasks/" + t.ID, Done: "Task saved.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			form := adminview.FormVM{Meta: s.meta(c, t.Key), Action: "/admin/tasks/" + t.ID, Submit: "Save task", Fields: taskFields(key, name, desc)}
			form.Error = besideField(pe, form.Fields)
			return s.taskPage(c, t, form)
		}})
}

// ---- roles and role groups

// memberSet describes the pages of a named set with members, a role (a set of tasks) or a role
// group (a set of roles), so that one set of handlers lists, shows and saves both and changes
// their members.
type memberSet struct {
	namedSet
	scope      pam.ScopeType
	items      string // the members, plural, in words and in paths: "tasks"
	addName    string // the form field that names a member to add
	testID     string // the members section
	searchHint string
	emptyList  string
	byID       func(ctx context.Context, s *Server, id string) (setVM, error)
	page       func(ctx context.Context, s *Server, p pam.Page) ([]setVM, error)
	members    func(ctx context.Context, s *Server, id string, limit int) ([]member, error)
	find       func(ctx context.Context, s *Server, q string) ([]member, error)
	update     func(s *Server, c echo.Context, id, name, desc string) error
	add        func(s *Server, c echo.Context, id, value string) error
	remove     func(s *Server, c echo.Context, id, item string) error
	// related is the page's last section: what holds a role, what a role group covers.
	related func(ctx context.Context, s *Server, id string) (adminview.SetSection, error)
}

// setVM is a role or a role group as its pages show it.
type setVM struct {
	ID, Name, Description string
	Count                 int // its members
}

// member is a member of a set (item) or a candidate for one (cand), with its id.
type member struct {
	id   string
	item adminview.Item
	cand adminview.Candidate
}

var (
	roleSet = memberSet{
		namedSet: namedSet{tab: "roles", what: "role", list: "/admin/roles", listLabel: "Roles", submit: "Create role",
			next: "Add its tasks below.", create: func(s *Server, c echo.Context, name, desc string) (string, error) {
				r, err := s.admin.CreateRole(c.Request().Context(), actor(c), name, desc)
				return r.ID, err
			}},
		scope: pam.ScopeRole, items: "tasks", addName: "task", testID: "role-tasks", searchHint: "Find a task by key or name",
		emptyList: "No roles yet. A role bundles tasks that are usually needed together.",
		byID: func(ctx context.Context, s *Server, id string) (setVM, error) {
			r, err := s.catalog.RoleByID(ctx, id)
			return roleVM(r), err
		},
		page: func(ctx context.Context, s *Server, p pam.Page) ([]setVM, error) {
			rs, err := s.catalog.Roles(ctx, p)
			return mapVMs(rs, roleVM), err
		},
		members: func(ctx context.Context, s *Server, id string, limit int) ([]member, error) {
			ts, err := s.catalog.RoleTasks(ctx, id, pam.Page{Limit: limit})
			return mapVMs(ts, func(t pam.Task) member {
				return member{id: t.ID, item: adminview.Item{Label: t.Key, Sub: t.Name, Href: "/admin/tasks/" + t.ID}}
			}), err
		},
		find: func(ctx context.Context, s *Server, q string) ([]member, error) {
			ts, err := s.catalog.Tasks(ctx, pam.Page{Query: q, Limit: 20})
			return mapVMs(ts, func(t pam.Task) member {
				return member{id: t.ID, cand: adminview.Candidate{Label: t.Key, Sub: t.Name, Value: t.Key}}
			}), err
		},
		update: func(s *Server, c echo.Context, id, name, desc string) error {
			return s.admin.UpdateRole(c.Request().Context(), actor(c), id, name, desc)
		},
		add: func(s *Server, c echo.Context, id, key string) error {
			return s.admin.AddRoleTask(c.Request().Context(), actor(c), id, key)
		},
		remove: func(s *Server, c echo.Context, id, taskID string) error {
			return s.admin.RemoveRoleTask(c.Request().Context(), actor(c), id, taskID)
		},
		related: func(ctx context.Context, s *Server, id string) (adminview.SetSection, error) {
			sec := adminview.SetSection{Title: "In role groups", TestID: "role-role-groups", Empty: "No role group contains this role."}
			rgs, err := s.catalog.RoleRoleGroups(ctx, id)
			for _, g := range rgs {
				sec.Items = append(sec.Items, adminview.Item{Label: g.Name, Href: "/admin/role-groups/" + g.ID})
			}
			return sec, err
		},
	}
	roleGroupSet = memberSet{
		namedSet: namedSet{tab: "role-groups", what: "role group", list: "/admin/role-groups", listLabel: "Role groups", submit: "Create role group",
			next: "Add its roles below.", create: func(s *Server, c echo.Context, name, desc string) (string, error) {
				r, err := s.admin.CreateRoleGroup(c.Request().Context(), actor(c), name, desc)
				return r.ID, err
			}},
		scope: pam.ScopeRoleGroup, items: "roles", addName: "role_id", testID: "rg-roles", searchHint: "Find a role by name",
		emptyList: "No role groups yet. A role group bundles roles, for example everything an on-call engineer may need.",
		byID: func(ctx context.Context, s *Server, id string) (setVM, error) {
			r, err := s.catalog.RoleGroupByID(ctx, id)
			return roleGroupVM(r), err
		},
		page: func(ctx context.Context, s *Server, p pam.Page) ([]setVM, error) {
			rs, err := s.catalog.RoleGroups(ctx, p)
			return mapVMs(rs, roleGroupVM), err
		},
		members: func(ctx context.Context, s *Server, id string, limit int) ([]member, error) {
			rs, err := s.catalog.RoleGroupRoles(ctx, id, pam.Page{Limit: limit})
			return mapVMs(rs, func(r pam.Role) member {
				return member{id: r.ID, item: adminview.Item{Label: r.Name, Href: "/admin/roles/" + r.ID}}
			}), err
		},
		find: func(ctx context.Context, s *Server, q string) ([]member, error) {
			rs, err := s.catalog.Roles(ctx, pam.Page{Query: q, Limit: 20})
			return mapVMs(rs, func(r pam.Role) member {
				return member{id: r.ID, cand: adminview.Candidate{Label: r.Name, Sub: count(r.TaskCount, "task"), Value: r.ID}}
			}), err
		},
		update: func(s *Server, c echo.Context, id, name, desc string) error {
			return s.admin.UpdateRoleGroup(c.Request().Context(), actor(c), id, name, desc)
		},
		add: func(s *Server, c echo.Context, id, roleID string) error {
			return s.admin.AddRoleGroupRole(c.Request().Context(), actor(c), id, roleID)
		},
		remove: func(s *Server, c echo.Context, id, roleID string) error {
			return s.admin.RemoveRoleGroupRole(c.Request().Context(), actor(c), id, roleID)
		},
		related: func(ctx context.Context, s *Server, id string) (adminview.SetSection, error) {
			sec := adminview.SetSection{Title: "Tasks covered", TestID: "rg-tasks", Empty: "Its roles cover no tasks yet."}
			tasks, err := s.catalog.ScopeTasks(ctx, pam.ScopeRoleGroup, id, 101)
			for i, t := range tasks {
				if i == 100 {
					sec.More = "Showing the first 100 tasks."
					break
				}
				sec.Items = append(sec.Items, adminview.Item{Label: t.Key, Href: "/admin/tasks/" + t.ID})
			}
			return sec, err
		},
	}
)

func roleVM(r pam.Role) setVM {
	return setVM{ID: r.ID, Name: r.Name, Description: r.Description, Count: r.TaskCount}
}

func roleGroupVM(r pam.RoleGroup) setVM {
	return setVM{ID: r.ID, Name: r.Name, Description: r.Description, Count: r.RoleCount}
}

func mapVMs[T, V any](xs []T, f func(T) V) []V {
	out := make([]V, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// capital returns s with its first letter in upper case.
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// listSets lists roles or role groups by name, with their member counts.
func (s *Server) listSets(set memberSet) echo.HandlerFunc {
	return func(c echo.Context) error {
		q, after := c.QueryParam("q"), c.QueryParam("after")
		sets, err := set.page(c.Request().Context(), s, pam.Page{After: after, Query: q, Limit: pageSize})
		if err != nil {
			return err
		}
		t := components.TableVM{TestID: set.tab, Columns: []string{capital(set.what), capital(set.items)}, Numeric: []bool{false, true},
			Empty: set.emptyList}
		for _, r := range sets {
			t.Rows = append(t.Rows, []components.Cell{{Text: r.Name, Href: set.list + "/" + r.ID, Sub: r.Description}, {Text: fmt.Sprint(r.Count), Numeric: true}})
		}
		last := ""
		if len(sets) > 0 {
			last = strings.ToLower(sets[len(sets)-1].Name)
		}
		first, next := pageLinks(set.list, c.QueryParams(), after, last, len(sets) == pageSize)
		return render(c, http.StatusOK, adminview.List(adminview.ListVM{
			Meta: s.meta(c, set.listLabel), Tab: set.tab,
			Header: components.HeaderVM{Title: set.listLabel, Subtitle: "Named sets of " + set.items + ".",
				ActionLabel: "New " + set.what, ActionHref: set.list + "/new"},
			SearchAction: set.list, Q: q, Placeholder: capital(set.what) + " name", Table: t, FirstHref: first, NextHref: next,
		}))
	}
}

// setForm is the edit form of a role or role group holding the given input.
func (s *Server) setForm(c echo.Context, set memberSet, r setVM, name, desc string) adminview.FormVM {
	return adminview.FormVM{Meta: s.meta(c, r.Name), Action: set.list + "/" + r.ID, Submit: "Save " + set.what,
		Fields: titleFields(name, desc, "the "+set.what)}
}

// setPage draws a role or role group with its edit form, its members, the search for more, its
// policy and what is related to it.
func (s *Server) setPage(c echo.Context, set memberSet, r setVM, form adminview.FormVM) (templ.Component, error) {
	ctx := c.Request().Context()
	members, err := set.members(ctx, s, r.ID, 200)
	if err != nil {
		return nil, err
	}
	base := set.list + "/" + r.ID
	sec := adminview.SetSection{Title: fmt.Sprintf("%s (%d)", capital(set.items), r.Count), TestID: set.testID,
		Empty:     "No " + set.items + " yet. Find " + set.items + " below to add them.",
		AddAction: base + "/" + set.items, AddName: set.addName, SearchHref: base, SearchQ: c.QueryParam("q"), SearchHint: set.searchHint}
	in := map[string]bool{}
	for _, m := range members {
		in[m.id] = true
		m.item.RemoveAction = base + "/" + set.items + "/" + m.id + "/remove"
		sec.Items = append(sec.Items, m.item)
	}
	if len(members) == 200 {
		sec.More = "Showing the first 200 " + set.items + "."
	}
	if q := c.QueryParam("q"); q != "" {
		sec.Searched = true
		found, err := set.find(ctx, s, q)
		if err != nil {
			return nil, err
		}
		for _, m := range found {
			if !in[m.id] {
				sec.Candidates = append(sec.Candidates, m.cand)
			}
		}
	}
	related, err := set.related(ctx, s, r.ID)
	if err != nil {
		return nil, err
	}
	h := components.HeaderVM{Title: r.Name, Subtitle: r.Description, BackLabel: set.listLabel, BackHref: set.list}
	pol, err := s.policyHeader(c, &h, set.scope, r.ID)
	if err != nil {
		return nil, err
	}
	return adminview.Detail(adminview.DetailVM{Meta: s.meta(c, r.Name), Tab: set.tab, Header: h, Form: form,
		Sections: []adminview.SetSection{sec, pol, related}}), nil
}

// showSet shows a role or role group.
func (s *Server) showSet(set memberSet) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := set.byID(c.Request().Context(), s, c.Param("id"))
		if err != nil {
			return err
		}
		return s.page(c, http.StatusOK)(s.setPage(c, set, r, s.setForm(c, set, r, r.Name, r.Description)))
	}
}

// updateSet renames or re-describes a role or role group, or shows its page again with the
// input kept.
func (s *Server) updateSet(set memberSet) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := set.byID(c.Request().Context(), s, c.Param("id"))
		if err != nil {
			return err
		}
		name, desc := c.FormValue("name"), c.FormValue("description")
		err = set.update(s, c, r.ID, name, desc)
		return s.posted(c, err, outcome{Next: set.list + "/" + r.ID, Done: capital(set.what) + " saved.",
			Again: func(pe *pam.Error) (templ.Component, error) {
				form := s.setForm(c, set, r, name, desc)
				form.Error = besideField(pe, form.Fields)
				return s.setPage(c, set, r, form)
			}})
	}
}

// addToSet puts a member into a role or role group.
func (s *Server) addToSet(set memberSet) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		err := set.add(s, c, id, c.FormValue(set.addName))
		return s.posted(c, err, outcome{Next: set.list + "/" + id, Done: capital(strings.TrimSuffix(set.items, "s")) + " added."})
	}
}

// removeFromSet takes a member out of a role or role group.
func (s *Server) removeFromSet(set memberSet) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		err := set.remove(s, c, id, c.Param("item"))
		return s.posted(c, err, outcome{Next: set.list + "/" + id, Done: capital(strings.TrimSuffix(set.items, "s")) + " removed."})
	}
}
