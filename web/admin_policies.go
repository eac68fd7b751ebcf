package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/pam"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

func (s *Server) listPolicies(c echo.Context) error {
	ctx := c.Request().Context()
	afterRaw := c.QueryParam("after")
	after, err := listCursor(c)
	if err != nil {
		return s.badCursor(c, err)
	}
	pols, err := s.policies.Policies(ctx, after, pageSize)
	if err != nil {
		return err
	}
	u, _ := CurrentUser(c)
	t := components.TableVM{TestID: "policies", Columns: []string{"Scope", "Kind", "Approval", "Max duration", "State"},
		Empty: "No policies yet. Create one for a task, a role or a role group so people can ask for it."}
	if u.Admin && len(pols) == 0 && after == nil {
		t.EmptyLabel, t.EmptyHref, err = s.firstPolicyStep(ctx)
		if err != nil {
			return err
		}
	}
	dead, err := s.admin.DeadEnds(ctx, pols)
	if err != nil {
		return err
	}
	for _, p := range pols {
		approval := "Automatic"
		if p.ApprovalType == pam.ApprovalManual {
			approval = "Manual, " + pam.Count(p.ApprovalsRequired, "approval", "approvals")
		}
		state := components.Cell{Badge: "active", Text: "Enabled"}
		if w, ok := dead[p.ID]; ok {
			state = components.Cell{Badge: "danger", Text: "Cannot be approved", Sub: w.Text}
		} else if !p.Enabled {
			state = components.Cell{Badge: "disabled", Text: "Disabled"}
		}
		t.Rows = append(t.Rows, []components.Cell{{Text: p.ScopeName, Href: "/admin/policies/" + p.ID}, {Text: p.ScopeType.Label()},
			{Text: approval}, {Text: pam.FormatDuration(p.MaxDuration)}, state})
	}
	last := ""
	if len(pols) > 0 {
		l := pols[len(pols)-1]
		last = pam.CursorAt(l.CreatedAt, l.ID).String()
	}
	first, next := pageLinks("/admin/policies", c.QueryParams(), afterRaw, last, len(pols) == pageSize)
	warnings, err := s.deadEndBanner(ctx)
	if err != nil {
		return err
	}
	vm := adminview.ListVM{Warnings: warnings,
		Meta: s.meta(c, "Policies"), Tab: "policies", ReadOnly: !u.Admin,
		Header: components.HeaderVM{Title: "Policies", Subtitle: "One policy per task, role or role group: who may ask, who approves, for how long.",
			ActionLabel: "New policy", ActionHref: "/admin/policies/new"},
		Table: t, FirstHref: first, NextHref: next,
	}
	if !u.Admin {
		vm.Header.ActionLabel, vm.Header.ActionHref = "", ""
	}
	return render(c, http.StatusOK, adminview.List(vm))
}

// groupOptions lists groups for a select (bounded), with a first option for "none".
func (s *Server) groupOptions(ctx context.Context, none string) ([]components.Option, error) {
	groups, err := s.directory.Groups(ctx, pam.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	opts := []components.Option{{Value: "", Label: none}}
	for _, g := range groups {
		opts = append(opts, components.Option{Value: g.ID, Label: g.Name + " (" + pam.Count(g.MemberCount, "member", "members") + ")"})
	}
	return opts, nil
}

// policyInput is the policy form as typed, so it can be shown again unchanged.
type policyInput struct {
	ScopeType, ScopeID, ApprovalType, ApproverGroupID, ApprovalsRequired   string
	DefaultDuration, MaxDuration, PendingTimeout, EligibleGroupID, Version string
	// RemindAfter is empty for half of the time to decide, or "off".
	RemindAfter, EscalationGroupID, EscalateAfter, EmergencyDuration string
	Justification, Ticket, MFA, Enabled, Emergency                   bool
	// ConfirmDeadEnd is the admin's "save it anyway" for a policy nobody can approve.
	ConfirmDeadEnd bool
}

// saveCheck refuses a policy nobody can approve until the admin has ticked the confirmation.
func (in policyInput) saveCheck() admin.SaveCheck {
	return admin.SaveCheck{RefuseDeadEnd: !in.ConfirmDeadEnd}
}

func policyInputOf(p pam.Policy) policyInput {
	return policyInput{
		ScopeType: string(p.ScopeType), ScopeID: p.ScopeID, ApprovalType: p.ApprovalType, ApproverGroupID: p.ApproverGroupID,
		ApprovalsRequired: strconv.Itoa(p.ApprovalsRequired), DefaultDuration: pam.InputDuration(p.DefaultDuration),
		MaxDuration: pam.InputDuration(p.MaxDuration), PendingTimeout: pam.InputDuration(p.PendingTimeout),
		EligibleGroupID: p.EligibleGroupID, Version: strconv.Itoa(p.Version),
		Justification: p.JustificationRequired, Ticket: p.TicketRequired, MFA: p.MFARequired, Enabled: p.Enabled,
		RemindAfter: remindInput(p.RemindAfter), EscalationGroupID: p.EscalationGroupID, EscalateAfter: pam.InputDuration(p.EscalateAfter),
		Emergency: p.EmergencyAllowed, EmergencyDuration: pam.InputDuration(p.EmergencyLength()),
	}
}

// remindInput writes a policy's reminder into its form field: empty for the default, "off".
func remindInput(d time.Duration) string {
	if d == pam.NoReminder {
		return "off"
	}
	return pam.InputDuration(d)
}

// reminderLine says when a policy reminds its approvers, in words.
func reminderLine(p pam.Policy) string {
	d, ok := p.ReminderDelay()
	switch {
	case !ok:
		return "no reminder"
	case p.RemindAfter == 0:
		return "reminds the approvers after " + pam.FormatDuration(d) + " (half the time to decide)"
	}
	return "reminds the approvers after " + pam.FormatDuration(d)
}

func policyInputFrom(c echo.Context) policyInput {
	return policyInput{
		ScopeType: c.FormValue("scope_type"), ScopeID: c.FormValue("scope_id"), ApprovalType: c.FormValue("approval_type"),
		ApproverGroupID: c.FormValue("approver_group_id"), ApprovalsRequired: c.FormValue("approvals_required"),
		DefaultDuration: c.FormValue("default_duration"), MaxDuration: c.FormValue("max_duration"),
		PendingTimeout: c.FormValue("pending_timeout"), EligibleGroupID: c.FormValue("eligible_group_id"), Version: c.FormValue("version"),
		RemindAfter: c.FormValue("remind_after"), EscalationGroupID: c.FormValue("escalation_group_id"), EscalateAfter: c.FormValue("escalate_after"),
		Justification: checked(c.FormValue("justification_required")), Ticket: checked(c.FormValue("ticket_required")),
		MFA: checked(c.FormValue("mfa_required")), Enabled: checked(c.FormValue("enabled")),
		ConfirmDeadEnd: checked(c.FormValue("confirm_dead_end")),
		Emergency:      checked(c.FormValue("emergency_allowed")), EmergencyDuration: c.FormValue("emergency_duration"),
	}
}

// parse turns the typed form into a policy, or the first field error.
func (in policyInput) parse() (pam.Policy, error) {
	st, scopeErr := pam.ParseScopeType(in.ScopeType)
	p := pam.Policy{ScopeType: st, ScopeID: in.ScopeID, ApprovalType: in.ApprovalType, ApproverGroupID: in.ApproverGroupID,
		EligibleGroupID: in.EligibleGroupID, JustificationRequired: in.Justification, TicketRequired: in.Ticket,
		MFARequired: in.MFA, Enabled: in.Enabled, EscalationGroupID: in.EscalationGroupID, EmergencyAllowed: in.Emergency}
	// Every field is read, so the form tells all its problems at once.
	var ps pam.Problems
	ps.Add(scopeErr)
	n, err := strconv.Atoi(strings.TrimSpace(in.ApprovalsRequired))
	if p.ApprovalsRequired = n; err != nil {
		ps.Add(pam.FieldError("approvals_required", "Enter a whole number from 1 to %d.", pam.MaxApprovals))
	}
	duration := func(field, typed string, optional bool) time.Duration {
		if optional && strings.TrimSpace(typed) == "" {
			return 0
		}
		d, err := pam.ParseDuration(field, typed)
		ps.Add(err)
		return d
	}
	p.DefaultDuration = duration("default_duration", in.DefaultDuration, false)
	p.MaxDuration = duration("max_duration", in.MaxDuration, false)
	p.PendingTimeout = duration("pending_timeout", in.PendingTimeout, false)
	switch r := strings.ToLower(strings.TrimSpace(in.RemindAfter)); r {
	case "":
	case "off", "none", "no":
		p.RemindAfter = pam.NoReminder
	default:
		p.RemindAfter = duration("remind_after", r, false)
	}
	p.EscalateAfter = duration("escalate_after", in.EscalateAfter, true)
	p.EmergencyDuration = duration("emergency_duration", in.EmergencyDuration, true)
	p.Version, _ = strconv.Atoi(in.Version)
	return p, ps.Err()
}

// withPolicyProblems adds to what reading a policy's form or body found wrong (found) the
// problems Validate finds in the values that could be read, so all are told at once.
func (s *Server) withPolicyProblems(ctx context.Context, p pam.Policy, found error) error {
	org, err := s.policies.OrgSettings(ctx)
	if err != nil {
		return err
	}
	var ps pam.Problems
	ps.Add(found)
	ps.Add(p.Validate(org.MaxDuration))
	return ps.Err()
}

func (s *Server) policyFields(ctx context.Context, in policyInput, editing bool) ([]components.FieldVM, error) {
	org, err := s.policies.OrgSettings(ctx)
	if err != nil {
		return nil, err
	}
	def := "Organisation default approver group"
	if org.DefaultApproverGroupID != "" {
		if g, err := s.directory.GroupByID(ctx, org.DefaultApproverGroupID); err == nil {
			def += " (" + g.Name + ")"
		}
	} else {
		def += " (none set)"
	}
	approvers, err := s.groupOptions(ctx, def)
	if err != nil {
		return nil, err
	}
	eligible, err := s.groupOptions(ctx, "Everyone")
	if err != nil {
		return nil, err
	}
	escalation, err := s.groupOptions(ctx, "No escalation")
	if err != nil {
		return nil, err
	}
	f := []components.FieldVM{
		{Name: "approval_type", Label: "Approval", Type: "select", Value: in.ApprovalType,
			Options: []components.Option{{Value: pam.ApprovalManual, Label: "Manual: approvers decide"}, {Value: pam.ApprovalAuto, Label: "Automatic: granted at once, still recorded"}}},
		{Name: "approver_group_id", Label: "Approver group", Type: "select", Value: in.ApproverGroupID, Options: approvers,
			Help: "Its enabled members decide. Nobody approves their own request."},
		{Name: "approvals_required", Label: "Approvals required", Type: "number", Value: in.ApprovalsRequired, Required: true,
			Help: fmt.Sprintf("From 1 to %d distinct approvers.", pam.MaxApprovals)},
		{Name: "default_duration", Label: "Default duration", Type: "text", Value: in.DefaultDuration, Required: true, Help: "Like 1h or 30m."},
		{Name: "max_duration", Label: "Maximum duration", Type: "text", Value: in.MaxDuration, Required: true,
			Help: "At most the organisation's ceiling of " + pam.FormatDuration(org.MaxDuration) + "."},
		{Name: "pending_timeout", Label: "Time to decide", Type: "text", Value: in.PendingTimeout, Required: true,
			Help: "A request nobody decides within this time times out. Like 24h."},
		{Name: "remind_after", Label: "Remind approvers after", Type: "text", Value: in.RemindAfter,
			Help: "Those who have not acted get one reminder this long after the request, before it times out. Empty: half of the time to decide. Write off for none."},
		{Name: "escalation_group_id", Label: "Escalation group", Type: "select", Value: in.EscalationGroupID, Options: escalation,
			Help: "If a request is still undecided after the time below, this group's enabled members may decide it too (the approvals needed stay the same) and are told by mail."},
		{Name: "escalate_after", Label: "Escalate after", Type: "text", Value: in.EscalateAfter,
			Help: "Like 4h; before the time to decide runs out. Leave empty when there is no escalation group."},
		{Name: "eligible_group_id", Label: "Who may ask", Type: "select", Value: in.EligibleGroupID, Options: eligible},
		{Name: "justification_required", Label: "Justification required", Type: "checkbox", Checked: in.Justification},
		{Name: "ticket_required", Label: "Ticket required", Type: "checkbox", Checked: in.Ticket},
		{Name: "mfa_required", Label: "MFA required when asking", Type: "checkbox", Checked: in.MFA,
			Help: "The requester confirms a one-time code when submitting."},
		{Name: "emergency_allowed", Label: "Allow emergency requests", Type: "checkbox", Checked: in.Emergency,
			Help: "Break-glass: granted at once without approval, to people enrolled in two-step verification; every approver and the security address are mailed, and an approver reviews it afterwards."},
		{Name: "emergency_duration", Label: "Emergency duration", Type: "text", Value: in.EmergencyDuration,
			Help: "How long an emergency grant lasts, at most the maximum duration. Like 1h (the default) or 30m."},
		{Name: "enabled", Label: "Enabled", Type: "checkbox", Checked: in.Enabled, Help: "A disabled policy accepts no new requests."},
	}
	if editing {
		f = append(f, components.FieldVM{Name: "version", Type: "hidden", Value: in.Version})
	} else {
		f = append(f, components.FieldVM{Name: "scope_type", Type: "hidden", Value: in.ScopeType},
			components.FieldVM{Name: "scope_id", Type: "hidden", Value: in.ScopeID})
	}
	return f, nil
}

func (s *Server) newPolicy(c echo.Context) error {
	ctx := c.Request().Context()
	st, err := pam.ParseScopeType(c.QueryParam("scope_type"))
	if err != nil || c.QueryParam("scope_id") == "" {
		return s.chooseScope(c)
	}
	name, err := s.catalog.ScopeName(ctx, st, c.QueryParam("scope_id"))
	if err != nil {
		return err
	}
	if p, err := s.policies.PolicyForScope(ctx, st, c.QueryParam("scope_id")); err == nil {
		s.setFlash(c, "info", name+" already has a policy; here it is.")
		return redirect(c, "/admin/policies/"+p.ID)
	}
	p := pam.NewPolicy(st, c.QueryParam("scope_id"))
	if p.ApproverGroupID, err = s.admin.SuggestApproverGroup(ctx); err != nil {
		return err
	}
	in := policyInputOf(p)
	return s.policyForm(c, http.StatusOK, in, name, "")
}

func (s *Server) policyForm(c echo.Context, status int, in policyInput, scopeName, errMsg string) error {
	fields, err := s.policyFields(c.Request().Context(), in, false)
	if err != nil {
		return err
	}
	st, _ := pam.ParseScopeType(in.ScopeType)
	return render(c, status, adminview.Form(adminview.FormVM{
		Meta: s.meta(c, "New policy"), Tab: "policies", Action: "/admin/policies", Submit: "Create policy", Error: errMsg, Fields: fields,
		Header: components.HeaderVM{Title: "New policy for " + scopeName, Subtitle: st.Label(), BackLabel: "Policies", BackHref: "/admin/policies"},
	}))
}

// chooseScope lets the admin find the task, role or role group a new policy is for.
func (s *Server) chooseScope(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParam("q")
	t := components.TableVM{TestID: "scopes", Columns: []string{"Name", "Kind", ""}, Empty: "Nothing matches. Search for a task, a role or a role group."}
	// first, for a role or role group that covers no tasks, says what it needs first ("Add
	// tasks first"): its policy would be refused, so the row leads to where it gets them.
	add := func(st pam.ScopeType, id, name, sub string, first string) error {
		_, err := s.policies.PolicyForScope(ctx, st, id)
		switch {
		case err == nil:
			t.Rows = append(t.Rows, []components.Cell{{Text: name, Sub: sub}, {Text: st.Label()}, {Text: "Has a policy"}})
		case pam.ErrorCode(err) == pam.ENOTFOUND && first != "":
			t.Rows = append(t.Rows, []components.Cell{{Text: name, Sub: sub}, {Text: st.Label()},
				{Text: first, Href: scopeHref(pam.Policy{ScopeType: st, ScopeID: id})}})
		case pam.ErrorCode(err) == pam.ENOTFOUND:
			t.Rows = append(t.Rows, []components.Cell{{Text: name, Sub: sub}, {Text: st.Label()},
				{Text: "Create policy", Href: "/admin/policies/new?scope_type=" + string(st) + "&scope_id=" + id}})
		default:
			return err
		}
		return nil
	}
	rgs, err := s.catalog.RoleGroups(ctx, pam.Page{Query: q, Limit: 10})
	if err != nil {
		return err
	}
	for _, r := range rgs {
		first := ""
		if r.RoleCount == 0 {
			first = "Add roles first"
		} else if tasks, err := s.catalog.ScopeTasks(ctx, pam.ScopeRoleGroup, r.ID, 1); err != nil {
			return err
		} else if len(tasks) == 0 {
			first = "Add tasks to its roles first" // roles without tasks cover as little as none
		}
		if err := add(pam.ScopeRoleGroup, r.ID, r.Name, count(r.RoleCount, "role"), first); err != nil {
			return err
		}
	}
	roles, err := s.catalog.Roles(ctx, pam.Page{Query: q, Limit: 10})
	if err != nil {
		return err
	}
	for _, r := range roles {
		first := ""
		if r.TaskCount == 0 {
			first = "Add tasks first"
		}
		if err := add(pam.ScopeRole, r.ID, r.Name, count(r.TaskCount, "task"), first); err != nil {
			return err
		}
	}
	tasks, err := s.catalog.Tasks(ctx, pam.Page{Query: q, Limit: 10})
	if err != nil {
		return err
	}
	for _, x := range tasks {
		if err := add(pam.ScopeTask, x.ID, x.Key, x.Name, ""); err != nil {
			return err
		}
	}
	if len(t.Rows) == 0 && q == "" {
		// Nothing exists to cover: the first step is a task.
		t.Empty = "There is nothing for a policy to cover yet. A policy covers a task, a role or a role group; start with a task."
		t.EmptyLabel, t.EmptyHref = "Create a task", "/admin/tasks/new"
	}
	return render(c, http.StatusOK, adminview.List(adminview.ListVM{
		Meta: s.meta(c, "New policy"), Tab: "policies",
		Header:       components.HeaderVM{Title: "New policy", Subtitle: "Choose what the policy covers. Each task, role and role group has at most one policy.", BackLabel: "Policies", BackHref: "/admin/policies"},
		SearchAction: "/admin/policies/new", Q: q, Placeholder: "Task key, role or role group name", Table: t,
	}))
}

func (s *Server) createPolicy(c echo.Context) error {
	ctx := c.Request().Context()
	in := policyInputFrom(c)
	st, err := pam.ParseScopeType(in.ScopeType)
	if err != nil {
		return err
	}
	name, err := s.catalog.ScopeName(ctx, st, in.ScopeID)
	if err != nil {
		return err
	}
	p, err := in.parse()
	if err == nil {
		p, err = s.admin.CreatePolicy(ctx, actor(c), p, in.saveCheck())
	} else {
		err = s.withPolicyProblems(ctx, p, err)
	}
	return s.posted(c, err, outcome{Next: "/admin/policies/" + p.ID, Done: "Policy for " + name + " created.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			fields, err := s.policyFields(ctx, in, false)
			if err != nil {
				return nil, err
			}
			form := adminview.FormVM{
				Meta: s.meta(c, "New policy"), Tab: "policies", Action: "/admin/policies", Submit: "Create policy", Fields: fields,
				Header: components.HeaderVM{Title: "New policy for " + name, Subtitle: st.Label(), BackLabel: "Policies", BackHref: "/admin/policies"},
			}
			if pe.Field == "scope_id" && st != pam.ScopeTask {
				// The scope is not a field of this form: a role (or role group) that covers no
				// tasks is told above it, with the page that gives it tasks.
				tasks, err := s.catalog.ScopeTasks(ctx, st, in.ScopeID, 1)
				if err != nil {
					return nil, err
				}
				if len(tasks) == 0 {
					fix := "Add tasks to " + name
					if st == pam.ScopeRoleGroup {
						fix = "Add roles with tasks to " + name
					}
					form.Warnings = []adminview.Warning{{Text: "Not saved. " + pe.Message, FixLabel: fix,
						FixHref: scopeHref(pam.Policy{ScopeType: st, ScopeID: in.ScopeID})}}
					return adminview.Form(form), nil
				}
			}
			if err := s.deadEndConfirm(ctx, pe, in, &form); err != nil {
				return nil, err
			}
			return adminview.Form(form), nil
		}})
}

// policyPage draws a policy's page; form carries the fields, error and warnings of a refused
// save (empty for a plain view).
func (s *Server) policyPage(c echo.Context, p pam.Policy, in policyInput, form adminview.FormVM, act ...actionInput) (templ.Component, error) {
	fields := form.Fields
	ctx := c.Request().Context()
	reach, err := s.admin.PolicyReach(ctx, p)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		if fields, err = s.policyFields(ctx, in, true); err != nil {
			return nil, err
		}
	}
	grants, err := s.admin.GrantsUnderPolicy(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	covers := adminview.SetSection{Title: "Covers " + pam.Count(len(reach.Tasks), "task", "tasks"), TestID: "covered-tasks", Empty: "No tasks: a grant under this policy allows nothing."}
	for _, t := range reach.Tasks {
		covers.Items = append(covers.Items, adminview.Item{Label: t.Key, Sub: t.Name, Href: "/admin/tasks/" + t.ID})
	}
	if reach.MoreTasks {
		covers.More = "Showing the first 100 tasks."
	}
	who := adminview.SetSection{Title: "Who may ask", TestID: "eligible"}
	if reach.EligibleGroup == nil {
		who.Items = []adminview.Item{{Label: "Everyone", Sub: "Every enabled user may ask."}}
	} else {
		g := reach.EligibleGroup
		who.Items = []adminview.Item{{Label: g.Name, Sub: pam.Count(int(g.MemberCount), "enabled member", "enabled members"), Href: "/admin/groups/" + g.ID}}
	}
	approve := adminview.SetSection{Title: "Who can approve", TestID: "approvers", Empty: "Nobody."}
	switch {
	case p.ApprovalType == pam.ApprovalAuto:
		approve.Empty = "Nobody needs to: requests are approved automatically and recorded."
	case reach.ApproverGroup != nil:
		src := "this policy's approver group"
		if reach.ApproverSource == "default" {
			src = "the organisation's default approver group"
		}
		approve.More = fmt.Sprintf("Members of %s, %s. %d of them must approve; nobody approves their own request.", reach.ApproverGroup.Name, src, p.ApprovalsRequired)
		for _, u := range reach.Approvers {
			approve.Items = append(approve.Items, adminview.Item{Label: u.Name, Sub: u.Email, Href: "/admin/users/" + string(u.ID)})
		}
		approve.Empty = "The approver group has no enabled members."
	}
	sections := []adminview.SetSection{covers, who, approve}
	if p.Escalates() {
		esc := adminview.SetSection{Title: "Escalation", TestID: "escalation", Empty: "The escalation group is gone; requests escalate to nobody.",
			More: "Undecided requests escalate after " + pam.FormatDuration(p.EscalateAfter) + "; " + reminderLine(p) + "."}
		if g := reach.EscalationGroup; g != nil {
			esc.Items = []adminview.Item{{Label: g.Name, Sub: pam.Count(g.MemberCount, "enabled member", "enabled members"), Href: "/admin/groups/" + g.ID}}
		}
		sections = append(sections, esc)
	}
	vm := adminview.DetailVM{Meta: s.meta(c, "Policy for "+p.ScopeName), Tab: "policies",
		Header: components.HeaderVM{Title: "Policy for " + p.ScopeName, Subtitle: p.ScopeType.Label() + " · " + policyLine(p),
			BackLabel: "Policies", BackHref: "/admin/policies", ActionLabel: "Open " + strings.ToLower(p.ScopeType.Label()), ActionHref: scopeHref(p)},
		Warnings: policyWarnings(c, p, reach),
		Form: adminview.FormVM{Meta: s.meta(c, ""), Action: "/admin/policies/" + p.ID, Submit: "Save policy", Fields: fields,
			Error: form.Error, Warnings: form.Warnings},
		Sections: sections,
		Actions:  policyActions(p, grants, append(act, actionInput{})[0]),
	}
	vm.Links = []adminview.Link{{Label: "Audit events of this policy", Href: auditURL("/audit", "target_type", "policy", "target_id", p.ID)}}
	if u, _ := CurrentUser(c); !u.Admin {
		// Auditors read the policy; they change nothing, and open none of the administration's
		// pages of its tasks, groups and people.
		vm.ReadOnly, vm.Form, vm.Actions = true, adminview.FormVM{}, nil
		for i := range vm.Sections {
			for j, it := range vm.Sections[i].Items {
				if strings.HasPrefix(it.Href, "/admin/") && !strings.HasPrefix(it.Href, "/admin/policies/") {
					vm.Sections[i].Items[j].Href = ""
				}
			}
		}
		vm.Header.ActionLabel, vm.Header.ActionHref = "", ""
		vm.Notes = append(vm.Notes, policySummary(p))
	}
	return adminview.Detail(vm), nil
}

// actionInput is what was typed into a policy page's action that was refused, with the problem.
type actionInput struct {
	Reason, ReasonError, CheckError string
	// DeleteReason and DeleteReasonError belong to the delete's own reason field, RevokeTicked
	// to its box that revokes the grants with it.
	DeleteReason, DeleteReasonError string
	RevokeTicked                    bool
}

// policyActions are a policy page's destructive actions: revoking the grants still in force
// under a disabled policy (with the count and a reason), and deleting the policy, which asks to
// revoke those grants too while there are any. form carries a refused action's input and error.
func policyActions(p pam.Policy, grants int64, form actionInput) []adminview.ActionVM {
	var out []adminview.ActionVM
	count := pam.Count(int(grants), "grant", "grants")
	if grants > 0 && !p.Enabled {
		reason := components.FieldVM{Name: "reason", Label: "Reason", Type: "textarea", Rows: 2, Required: true, MaxLength: pam.MaxComment,
			Value: form.Reason, Error: form.ReasonError, Help: "Each requester is mailed the reason; their access ends at once."}
		out = append(out, adminview.ActionVM{Title: "Revoke the " + count + " still in force",
			Text: fmt.Sprintf("This policy is disabled, and its pending requests were cancelled, but %s under it %s still in force or scheduled. Revoke %s now?", count, isAre(grants), itThem(grants)),
			Href: "/admin/policies/" + p.ID + "/revoke-grants", Label: "Revoke " + count, Danger: true, TestID: "revoke-grants",
			Fields: []components.FieldVM{reason}})
	}
	del := adminview.ActionVM{Title: "Delete policy", Text: "Nobody can ask for this " + strings.ToLower(p.ScopeType.Label()) + " any more; its pending requests are cancelled. Past requests and the audit trail stay.",
		Href: "/admin/policies/" + p.ID + "/delete", Label: "Delete policy", Danger: true, TestID: "delete"}
	if grants > 0 {
		del.Text += fmt.Sprintf(" %s under it %s in force or scheduled: tick the box to revoke %s with the policy, or delete it once %s ended.",
			count, isAre(grants), itThem(grants), map[bool]string{true: "it has", false: "they have"}[grants == 1])
		del.Fields = []components.FieldVM{{Name: "revoke_grants", Label: "Also revoke the " + count + " in force or scheduled", Type: "checkbox",
			Checked: form.RevokeTicked, Error: form.CheckError, Help: "Each requester is told; their access ends at once."}}
	}
	del.Fields = append(del.Fields, components.FieldVM{Name: "reason", Key: "delete", Label: "Reason for deleting", Type: "textarea", Rows: 2,
		Required: true, MaxLength: pam.MaxComment, Value: form.DeleteReason, Error: form.DeleteReasonError, Help: "The audit trail keeps it."})
	return append(out, del)
}

func itThem(n int64) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func isAre(n int64) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// policySummary lists a policy's settings in one sentence, for readers who cannot edit it.
func policySummary(p pam.Policy) string {
	parts := []string{approvalLine(p), "by default " + pam.FormatDuration(p.DefaultDuration) + ", at most " + pam.FormatDuration(p.MaxDuration),
		"times out after " + pam.FormatDuration(p.PendingTimeout)}
	if p.ApprovalType == pam.ApprovalManual {
		parts = append(parts, reminderLine(p))
	}
	if p.Escalates() {
		parts = append(parts, "escalates after "+pam.FormatDuration(p.EscalateAfter))
	}
	if p.JustificationRequired {
		parts = append(parts, "justification required")
	}
	if p.TicketRequired {
		parts = append(parts, "ticket required")
	}
	if p.MFARequired {
		parts = append(parts, "two-step code required when asking")
	}
	if !p.Enabled {
		parts = append(parts, "disabled")
	}
	return "Settings: " + strings.Join(parts, "; ") + "."
}

func (s *Server) showPolicy(c echo.Context) error {
	p, err := s.policies.PolicyByID(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	page, err := s.policyPage(c, p, policyInputOf(p), adminview.FormVM{})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, page)
}

func (s *Server) updatePolicy(c echo.Context) error {
	ctx := c.Request().Context()
	cur, err := s.policies.PolicyByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	in := policyInputFrom(c)
	in.ScopeType, in.ScopeID = string(cur.ScopeType), cur.ScopeID
	p, err := in.parse()
	if err == nil {
		p.ID = cur.ID
		err = s.admin.UpdatePolicy(ctx, actor(c), p, in.saveCheck())
	} else {
		err = s.withPolicyProblems(ctx, p, err)
	}
	return s.posted(c, err, outcome{Next: "/admin/policies/" + cur.ID, Done: "Policy saved.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			fields, err := s.policyFields(ctx, in, true)
			if err != nil {
				return nil, err
			}
			form := adminview.FormVM{Fields: fields}
			if err := s.deadEndConfirm(ctx, pe, in, &form); err != nil {
				return nil, err
			}
			return s.policyPage(c, cur, in, form)
		}})
}

func (s *Server) deletePolicy(c echo.Context) error {
	ctx := c.Request().Context()
	cur, err := s.policies.PolicyByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	typed := c.FormValue("reason")
	reason, err := pam.ActionReason(typed, "Say why you delete this policy; the audit trail keeps it.")
	if err == nil {
		err = s.admin.DeletePolicyRevoking(ctx, actor(c), cur.ID, checked(c.FormValue("revoke_grants")), reason)
	}
	return s.posted(c, err, outcome{Next: "/admin/policies", Done: "Policy deleted.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			in := actionInput{DeleteReason: typed, RevokeTicked: checked(c.FormValue("revoke_grants"))}
			if pe.Field == "reason" {
				in.DeleteReasonError = pe.Message
			} else {
				in.CheckError = pe.Message
			}
			return s.policyPage(c, cur, policyInputOf(cur), adminview.FormVM{}, in)
		}})
}

// revokePolicyGrants revokes every grant still in force or scheduled under a policy, by the
// administrator, with the reason they give (the offer a disabled policy's page makes).
func (s *Server) revokePolicyGrants(c echo.Context) error {
	ctx := c.Request().Context()
	cur, err := s.policies.PolicyByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	u, _ := CurrentUser(c)
	reason := c.FormValue("reason")
	n, err := s.access.RevokeUnderPolicy(ctx, actor(c), u, cur.ID, reason)
	return s.posted(c, err, outcome{Next: "/admin/policies/" + cur.ID, Done: "Revoked " + pam.Count(n, "grant", "grants") + ".",
		Again: func(pe *pam.Error) (templ.Component, error) {
			return s.policyPage(c, cur, policyInputOf(cur), adminview.FormVM{}, actionInput{Reason: reason, ReasonError: pe.Message})
		}})
}

// ---- settings

func (s *Server) settingsFields(ctx context.Context, in admin.SettingsInput, maxRaw string) ([]components.FieldVM, error) {
	groups, err := s.groupOptions(ctx, "None")
	if err != nil {
		return nil, err
	}
	if maxRaw == "" {
		maxRaw = pam.InputDuration(in.MaxDuration)
	}
	return []components.FieldVM{
		{Name: "enforcement", Label: "Enforce privileged access", Type: "checkbox", Checked: in.Enforcement,
			Help: "When on, checks allow a task only during an approved grant. When off, every check is allowed (and recorded)."},
		{Name: "default_approver_group_id", Label: "Default approver group", Type: "select", Value: in.DefaultApproverGroupID, Options: groups,
			Help: "Decides requests under policies that name no approver group."},
		{Name: "exempt_group_id", Label: "Exempt group", Type: "select", Value: in.ExemptGroupID, Options: groups,
			Help: "Service accounts whose checks always pass; each such check is recorded as exempt."},
		{Name: "require_mfa", Label: "Require two-step verification for administrators and approvers", Type: "checkbox", Checked: in.RequireMFA,
			Help: "They are sent to set it up before anything else. Either way, whoever has it set up confirms a code before approving, revoking or changing settings."},
		{Name: "max_duration", Label: "Longest grant in the organisation", Type: "text", Value: maxRaw, Required: true,
			Help: "No policy may allow longer. Like 24h or 2d."},
		{Name: "security_email", Label: "Security address", Type: "email", Value: in.SecurityEmail, MaxLength: 254,
			Help: "Your security team's mailbox, like security@example.com. It is mailed at once about every emergency access. Leave empty for none."},
		{Name: "confirm", Label: "I understand that turning enforcement off allows every privileged task without approval", Type: "checkbox", Checked: in.Confirmed,
			Help: "Needed only when turning enforcement off."},
		{Name: "reason", Label: "Reason for turning enforcement off", Type: "textarea", Value: in.Reason, MaxLength: 1000,
			Help: "Needed only when turning enforcement off; kept on the audit trail."},
	}, nil
}

func (s *Server) showSettings(c echo.Context) error {
	ctx := c.Request().Context()
	org, err := s.policies.OrgSettings(ctx)
	if err != nil {
		return err
	}
	mfa, err := s.mfaRequired(ctx)
	if err != nil {
		return err
	}
	in := admin.SettingsInput{Enforcement: org.Enforcement, DefaultApproverGroupID: org.DefaultApproverGroupID, ExemptGroupID: org.ExemptGroupID,
		MaxDuration: org.MaxDuration, RequireMFA: mfa, SecurityEmail: org.SecurityEmail}
	fields, err := s.settingsFields(ctx, in, "")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, s.settingsPage(c, org, fields, ""))
}

func (s *Server) settingsPage(c echo.Context, org pam.OrgSettings, fields []components.FieldVM, msg string) templ.Component {
	sub := "Enforcement is on: privileged tasks need an approved grant."
	if !org.Enforcement {
		sub = "Enforcement is OFF: every check is allowed."
	}
	return adminview.Form(adminview.FormVM{
		Meta: s.meta(c, "Settings"), Tab: "settings", Action: "/admin/settings", Submit: "Save settings", Error: msg, Fields: fields,
		Header: components.HeaderVM{Title: "Organisation settings", Subtitle: sub},
	})
}

func (s *Server) saveSettings(c echo.Context) error {
	ctx := c.Request().Context()
	org, err := s.policies.OrgSettings(ctx)
	if err != nil {
		return err
	}
	maxRaw := c.FormValue("max_duration")
	in := admin.SettingsInput{Enforcement: checked(c.FormValue("enforcement")), DefaultApproverGroupID: c.FormValue("default_approver_group_id"),
		ExemptGroupID: c.FormValue("exempt_group_id"), Reason: c.FormValue("reason"), Confirmed: checked(c.FormValue("confirm")),
		RequireMFA: checked(c.FormValue("require_mfa")), SecurityEmail: c.FormValue("security_email")}
	// A maximum that cannot be read stays zero, which the service always refuses: the rest of
	// the form is still checked, and the reading's problem is told rather than the range's.
	var ps pam.Problems
	in.MaxDuration, err = pam.ParseDuration("max_duration", maxRaw)
	ps.Add(err)
	ps.Add(s.admin.UpdateSettings(ctx, actor(c), in))
	err = ps.Err()
	return s.posted(c, err, outcome{Next: "/admin/settings", Done: "Settings saved.",
		Again: func(pe *pam.Error) (templ.Component, error) {
			fields, err := s.settingsFields(ctx, in, maxRaw)
			if err != nil {
				return nil, err
			}
			msg := besideField(pe, fields)
			return s.settingsPage(c, org, fields, msg), nil
		}})
}

// ---- policies nobody can approve

// deadEndConfirm draws the policy form again after a refused save: for a policy nobody can
// approve, it adds the "save it anyway" box under the problem and a warning at the top of the
// form with the link that fixes it. Other problems go beside their field as usual.
func (s *Server) deadEndConfirm(ctx context.Context, pe *pam.Error, in policyInput, form *adminview.FormVM) error {
	if pe.Field != "confirm_dead_end" {
		form.Error = besideField(pe, form.Fields)
		return nil
	}
	label, href, err := s.approverFix(ctx, in.ApproverGroupID)
	if err != nil {
		return err
	}
	if strings.HasPrefix(pe.Message, "Escalation") && in.EscalationGroupID != "" {
		label, href = "Add members to the escalation group", "/admin/groups/"+in.EscalationGroupID
	}
	form.Warnings = []adminview.Warning{{Text: "Not saved. " + pe.Message, FixLabel: label, FixHref: href}}
	form.Fields = append(form.Fields, components.FieldVM{Name: "confirm_dead_end", Type: "checkbox", Error: pe.Message,
		Label: "Save it anyway: I know no one can approve requests under this policy yet",
		Help:  "Requests under it would wait until they time out. You can fix the approvers later."})
	return nil
}

// approverFix names the page that gives a policy approvers: its approver group (or the
// organisation's default), or the list of groups when it has none.
func (s *Server) approverFix(ctx context.Context, groupID string) (label, href string, err error) {
	if groupID == "" {
		org, err := s.policies.OrgSettings(ctx)
		if err != nil {
			return "", "", err
		}
		groupID = org.DefaultApproverGroupID
	}
	if groupID == "" {
		return "Create an approver group", "/admin/groups", nil
	}
	g, err := s.directory.GroupByID(ctx, groupID)
	if pam.ErrorCode(err) == pam.ENOTFOUND {
		return "Choose another approver group", "/admin/groups", nil
	}
	if err != nil {
		return "", "", err
	}
	return "Add members to " + g.Name, "/admin/groups/" + g.ID, nil
}

// policyWarnings turns a policy's problems into warnings, each with the link that fixes it
// for an administrator.
func policyWarnings(c echo.Context, p pam.Policy, r admin.Reach) []adminview.Warning {
	u, _ := CurrentUser(c)
	var out []adminview.Warning
	for _, w := range r.Warnings {
		vw := adminview.Warning{Text: w.Text}
		if u.Admin {
			switch w.Fix {
			case pam.FixApproverGroup:
				vw.FixLabel, vw.FixHref = "Choose an approver group", "#f-approver_group_id"
			case pam.FixApprovers:
				if r.ApproverGroup != nil {
					vw.FixLabel, vw.FixHref = "Add members to "+r.ApproverGroup.Name, "/admin/groups/"+r.ApproverGroup.ID
				}
			case pam.FixTasks:
				vw.FixLabel, vw.FixHref = "Add tasks", scopeHref(p)
			case pam.FixMaxDuration:
				vw.FixLabel, vw.FixHref = "Lower the maximum duration", "#f-max_duration"
			case pam.FixEscalation:
				if r.EscalationGroup != nil {
					vw.FixLabel, vw.FixHref = "Add members to "+r.EscalationGroup.Name, "/admin/groups/"+r.EscalationGroup.ID
				}
			}
		}
		out = append(out, vw)
	}
	return out
}

// scopeHref is the admin page of a policy's task, role or role group.
func scopeHref(p pam.Policy) string {
	return map[pam.ScopeType]string{pam.ScopeTask: "/admin/tasks/", pam.ScopeRole: "/admin/roles/", pam.ScopeRoleGroup: "/admin/role-groups/"}[p.ScopeType] + p.ScopeID
}

// deadEndBanner says how many enabled policies nobody can approve, for the policy list.
func (s *Server) deadEndBanner(ctx context.Context) ([]adminview.Warning, error) {
	n, err := s.admin.CountDeadEnds(ctx)
	if err != nil || n == 0 {
		return nil, err
	}
	return []adminview.Warning{{Text: pam.Count(n, "enabled policy", "enabled policies") + " cannot be approved by anyone; requests under them wait until they time out. Each is marked below with the reason."}}, nil
}

// firstPolicyStep is what an admin with no policies does first: create a task when there is
// none (a policy needs something to cover), else create the policy.
func (s *Server) firstPolicyStep(ctx context.Context) (label, href string, err error) {
	tasks, err := s.catalog.Tasks(ctx, pam.Page{Limit: 1})
	if err != nil {
		return "", "", err
	}
	if len(tasks) == 0 {
		return "Create a task", "/admin/tasks/new", nil
	}
	return "New policy", "/admin/policies/new", nil
}
