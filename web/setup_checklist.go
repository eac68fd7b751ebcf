package web

import (
	"context"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/dashboard"
)

// adminPanel is the admin me's part of the dashboard: the first-hour checklist until every
// step is done (each step linking to the page that does it), and the count of policies nobody
// can approve. One statement reads both. The steps about approvers count only someone other
// than me: a portal where the administrator setting it up approves alone has no second pair of
// eyes.
func (s *Server) adminPanel(ctx context.Context, me pam.UserID) (dashboard.AdminVM, error) {
	f, err := s.admin.SetupProgress(ctx, me)
	if err != nil {
		return dashboard.AdminVM{}, err
	}
	vm := dashboard.AdminVM{DeadEnds: f.DeadEnds}
	groupHref := "/admin/groups/new"
	if f.Groups {
		groupHref = "/admin/groups"
	}
	policyHref := "/admin/policies/new"
	if f.DeadEnds > 0 {
		policyHref = "/admin/policies"
	}
	policyHelp := "It says who may ask for a task, role or role group, and which group approves; someone other than you must be among its approvers."
	if f.LoneApproverGroup != "" && !f.ApprovablePolicy {
		// Said the way the policy page warns of a lone approver who may ask.
		policyHref = "/admin/groups/" + f.LoneApproverGroup
		policyHelp = "You are the only approver of your policy: a request of yours can never be approved, because nobody approves their own request, and everyone else's would be decided by you alone. Add someone else to its approver group."
	}
	steps := []dashboard.Step{
		{Key: "approver_group", Label: "Create an approver group with members", Href: groupHref, Done: f.GroupWithMembers,
			Help: "Its members decide requests. Nobody approves their own request, so add people besides you."},
		{Key: "task", Label: "Add a task", Href: "/admin/tasks/new", Done: f.Task,
			Help: "One privileged operation in a target system, keyed like exchange/New-JournalRule."},
		{Key: "policy", Label: "Create a policy that someone else can approve", Href: policyHref, Done: f.ApprovablePolicy,
			Help: policyHelp},
		{Key: "second_user", Label: "Add a second user", Href: "/admin/users/new", Done: f.SecondUser,
			Help: "Someone to ask or to approve: a request needs a requester and a different approver."},
		{Key: "check_token", Label: "Create a check token for a target system", Href: "/admin/check-tokens", Done: f.CheckToken,
			Help: "The target system uses it to ask Elevate before it runs a task."},
		{Key: "first_check", Label: "Run a first check", Href: "/admin/check-tokens", Done: f.Checked,
			Help: "Paste the curl or elevate check line from the check-token page on the target system."},
	}
	for _, st := range steps {
		if !st.Done {
			vm.Steps = steps
			break
		}
	}
	return vm, nil
}
