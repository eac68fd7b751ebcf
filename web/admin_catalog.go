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
		how = fmt.Sprintf("%d approval(s) needed", p.ApprovalsRequired)
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

// ---- roles

func (s *Server) listRoles(c echo.Context) error {
	q, after := c.QueryParam("q"), c.QueryParam("after")
	roles, err := s.catalog.Roles(c.Request().Context(), pam.Page{After: after, Query: q, Limit: pageSize})
	if err != nil {
		return err
	}
	t := components.TableVM{TestID: "roles", Columns: []string{"Role", "Tasks"}, Numeric: []bool{false, true},
		Empty: "No roles yet. A role bundles tasks that are usually needed together."}
	for _, r := range roles {
		t.Rows = append(t.Rows, []components.Cell{{Text: r.Name, Href: "/admin/roles/" + r.ID, Sub: r.Description}, {Text: fmt.Sprint(r.TaskCount), Numeric: true}})
	}
	last := ""
	if len(roles) > 0 {
		last = strings.ToLower(roles[len(roles)-1].Name)
	}
	first, next := pageLinks("/admin/roles", c.QueryParams(), after, last, len(roles) == pageSize)
	return render(c, http.StatusOK, adminview.List(adminview.ListVM{
		Meta: s.meta(c, "Roles"), Tab: "roles",
		Header:       components.HeaderVM{Title: "Roles", Subtitle: "Named sets of tasks.", ActionLabel: "New role", ActionHref: "/admin/roles/new"},
		SearchAction: "/admin/roles", Q: q, Placeholder: "Role name", Table: t, FirstHref: first, NextHref: next,
	}))
}

func (s *Server) rolePage(c echo.Context, r pam.Role, form adminview.FormVM) (templ.Component, error) {
	ctx := c.Request().Context()
	tasks, err := s.catalog.RoleTasks(ctx, r.ID, pam.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	base := "/admin/roles/" + r.ID
	sec := adminview.SetSection{Title: fmt.Sprintf("Tasks (%d)", r.TaskCount), TestID: "role-tasks", Empty: "No tasks yet. Find tasks below to add them.",
		AddAction: base + "/tasks", AddName: "task", SearchHref: base, SearchQ: c.QueryParam("q"), SearchHint: "Find a task by key or name"}
	in := map[string]bool{}
	for _, t := range tasks {
		in[t.ID] = true
		sec.Items = append(sec.Items, adminview.Item{Label: t.Key, Sub: t.Name, Href: "/admin/tasks/" + t.ID, RemoveAction: base + "/tasks/" + t.ID + "/remove"})
	}
	if len(tasks) == 200 {
		sec.More = "Showing the first 200 tasks."
	}
	if q := c.QueryParam("q"); q != "" {
		sec.Searched = true
		found, err := s.catalog.Tasks(ctx, pam.Page{Query: q, Limit: 20})
		if err != nil {
			return nil, err
		}
		for _, t := range found {
			if !in[t.ID] {
				sec.Candidates = append(sec.Candidates, adminview.Candidate{Label: t.Key, Sub: t.Name, Value: t.Key})
			}
		}
	}
	rgs, err := s.catalog.RoleRoleGroups(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	inRGs := adminview.SetSection{Title: "In role groups", TestID: "role-role-groups", Empty: "No role group contains this role."}
	for _, g := range rgs {
		inRGs.Items = append(inRGs.Items, adminview.Item{Label: g.Name, Href: "/admin/role-groups/" + g.ID})
	}
	h := components.HeaderVM{Title: r.Name, Subtitle: r.Description, BackLabel: "Roles", BackHref: "/admin/roles"}
	pol, err := s.policyHeader(c, &h, pam.ScopeRole, r.ID)
	if err != nil {
		return nil, err
	}
	return adminview.Detail(adminview.DetailVM{Meta: s.meta(c, r.Name), Tab: "roles", Header: h, Form: form,
		Sections: []adminview.SetSection{sec, pol, inRGs}}), nil
}

func (s *Server) showRole(c echo.Context) error {
	r, err := s.catalog.RoleByID(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	page, err := s.rolePage(c, r, adminview.FormVM{Meta: s.meta(c, r.Name), Action: "/admin/roles/" + r.ID, Submit: "Save role",
		Fields: titleFields(r.Name, r.Description, "the role")})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, page)
}

func (s *Server) updateRole(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.catalog.RoleByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	name, desc := c.FormValue("name"), c.FormValue("description")
	err = s.admin.UpdateRole(ctx, actor(c), r.ID, name, desc)
	return s.posted(c, err, outcome{Next: "/admin/roles/" + r.ID, Done: "Role saved.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			form := adminview.FormVM{Meta: s.meta(c, r.Name), Action: "/admin/roles/" + r.ID, Submit: "Save role", Fields: titleFields(name, desc, "the role")}
			form.Error = besideField(pe, form.Fields)
			return s.rolePage(c, r, form)
		}})
}

func (s *Server) addRoleTask(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.AddRoleTask(c.Request().Context(), actor(c), id, c.FormValue("task"))
	return s.posted(c, err, outcome{Next: "/admin/roles/" + id, Done: "Task added."})
}

func (s *Server) removeRoleTask(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.RemoveRoleTask(c.Request().Context(), actor(c), id, c.Param("tid"))
	return s.posted(c, err, outcome{Next: "/admin/roles/" + id, Done: "Task removed."})
}

// ---- role groups

func (s *Server) listRoleGroups(c echo.Context) error {
	q, after := c.QueryParam("q"), c.QueryParam("after")
	rgs, err := s.catalog.RoleGroups(c.Request().Context(), pam.Page{After: after, Query: q, Limit: pageSize})
	if err != nil {
		return err
	}
	t := components.TableVM{TestID: "role-groups", Columns: []string{"Role group", "Roles"}, Numeric: []bool{false, true},
		Empty: "No role groups yet. A role group bundles roles, for example everything an on-call engineer may need."}
	for _, r := range rgs {
		t.Rows = append(t.Rows, []components.Cell{{Text: r.Name, Href: "/admin/role-groups/" + r.ID, Sub: r.Description}, {Text: fmt.Sprint(r.RoleCount), Numeric: true}})
	}
	last := ""
	if len(rgs) > 0 {
		last = strings.ToLower(rgs[len(rgs)-1].Name)
	}
	first, next := pageLinks("/admin/role-groups", c.QueryParams(), after, last, len(rgs) == pageSize)
	return render(c, http.StatusOK, adminview.List(adminview.ListVM{
		Meta: s.meta(c, "Role groups"), Tab: "role-groups",
		Header:       components.HeaderVM{Title: "Role groups", Subtitle: "Named sets of roles.", ActionLabel: "New role group", ActionHref: "/admin/role-groups/new"},
		SearchAction: "/admin/role-groups", Q: q, Placeholder: "Role group name", Table: t, FirstHref: first, NextHref: next,
	}))
}

func (s *Server) roleGroupPage(c echo.Context, r pam.RoleGroup, form adminview.FormVM) (templ.Component, error) {
	ctx := c.Request().Context()
	roles, err := s.catalog.RoleGroupRoles(ctx, r.ID, pam.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	base := "/admin/role-groups/" + r.ID
	sec := adminview.SetSection{Title: fmt.Sprintf("Roles (%d)", r.RoleCount), TestID: "rg-roles", Empty: "No roles yet. Find roles below to add them.",
		AddAction: base + "/roles", AddName: "role_id", SearchHref: base, SearchQ: c.QueryParam("q"), SearchHint: "Find a role by name"}
	in := map[string]bool{}
	for _, x := range roles {
		in[x.ID] = true
		sec.Items = append(sec.Items, adminview.Item{Label: x.Name, Href: "/admin/roles/" + x.ID, RemoveAction: base + "/roles/" + x.ID + "/remove"})
	}
	if q := c.QueryParam("q"); q != "" {
		sec.Searched = true
		found, err := s.catalog.Roles(ctx, pam.Page{Query: q, Limit: 20})
		if err != nil {
			return nil, err
		}
		for _, x := range found {
			if !in[x.ID] {
				sec.Candidates = append(sec.Candidates, adminview.Candidate{Label: x.Name, Sub: fmt.Sprintf("%d tasks", x.TaskCount), Value: x.ID})
			}
		}
	}
	tasks, err := s.catalog.ScopeTasks(ctx, pam.ScopeRoleGroup, r.ID, 101)
	if err != nil {
		return nil, err
	}
	covered := adminview.SetSection{Title: "Tasks covered", TestID: "rg-tasks", Empty: "Its roles cover no tasks yet."}
	for i, t := range tasks {
		if i == 100 {
			covered.More = "Showing the first 100 tasks."
			break
		}
		covered.Items = append(covered.Items, adminview.Item{Label: t.Key, Href: "/admin/tasks/" + t.ID})
	}
	h := components.HeaderVM{Title: r.Name, Subtitle: r.Description, BackLabel: "Role groups", BackHref: "/admin/role-groups"}
	pol, err := s.policyHeader(c, &h, pam.ScopeRoleGroup, r.ID)
	if err != nil {
		return nil, err
	}
	return adminview.Detail(adminview.DetailVM{Meta: s.meta(c, r.Name), Tab: "role-groups", Header: h, Form: form,
		Sections: []adminview.SetSection{sec, pol, covered}}), nil
}

func (s *Server) showRoleGroup(c echo.Context) error {
	r, err := s.catalog.RoleGroupByID(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	page, err := s.roleGroupPage(c, r, adminview.FormVM{Meta: s.meta(c, r.Name), Action: "/admin/role-groups/" + r.ID, Submit: "Save role group",
		Fields: titleFields(r.Name, r.Description, "the role group")})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, page)
}

func (s *Server) updateRoleGroup(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.catalog.RoleGroupByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	name, desc := c.FormValue("name"), c.FormValue("description")
	err = s.admin.UpdateRoleGroup(ctx, actor(c), r.ID, name, desc)
	return s.posted(c, err, outcome{Next: "/admin/role-groups/" + r.ID, Done: "Role group saved.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			form := adminview.FormVM{Meta: s.meta(c, r.Name), Action: "/admin/role-groups/" + r.ID, Submit: "Save role group", Fields: titleFields(name, desc, "the role group")}
			form.Error = besideField(pe, form.Fields)
			return s.roleGroupPage(c, r, form)
		}})
}

func (s *Server) addRoleGroupRole(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.AddRoleGroupRole(c.Request().Context(), actor(c), id, c.FormValue("role_id"))
	return s.posted(c, err, outcome{Next: "/admin/role-groups/" + id, Done: "Role added."})
}

func (s *Server) removeRoleGroupRole(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.RemoveRoleGroupRole(c.Request().Context(), actor(c), id, c.Param("rid"))
	return s.posted(c, err, outcome{Next: "/admin/role-groups/" + id, Done: "Role removed."})
}
