// Package demo loads a small demo organisation so a new user can click through Elevate at once:
// people, groups, Exchange-like tasks, roles, a role group and policies of each kind.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// Login is one demo sign-in.
type Login struct {
	Email, Name, Role string
}

// Result is what Load created: the sign-ins and their shared password.
type Result struct {
	Password string
	Logins   []Login
}

var actor = audit.Actor{Type: audit.ActorSystem, Name: "demo"}

// history is how long before now the oldest demo request was made. The organisation is set up a
// minute before it, so its audit trail reads in order of time; its events are sealed now, so
// history is also the longest seal lag the demo leaves (store.AuditSealLag), which widens every
// later search of the trail by time: keep it short.
const history = 50 * time.Hour

// Load fills an empty database. It refuses a database that already has users. Its changes are
// made as of the past by an administration of their own, with no request rules: no request
// exists while they are made.
func Load(ctx context.Context, db *store.Store, now func() time.Time) (Result, error) {
	setUp := now().Add(-history - time.Minute)
	adm := admin.New(db, func() time.Time { return setUp })
	n, err := db.CountUsers(ctx)
	if err != nil {
		return Result{}, err
	}
	if n > 0 {
		return Result{}, pam.Errorf(pam.ECONFLICT, "The database already has %d user(s); demo data goes only into an empty database.", n)
	}
	tok, _ := auth.NewToken()
	res := Result{Password: "demo-" + tok[:12]}
	people := []struct {
		email, name, role string
		admin, auditor    bool
	}{
		{"admin@demo.example", "Ada Admin", "administrator", true, false},
		{"olivia@demo.example", "Olivia Approver", "approver", false, false},
		{"omar@demo.example", "Omar Approver", "approver", false, false},
		{"audrey@demo.example", "Audrey Auditor", "auditor", false, true},
		{"rhea@demo.example", "Rhea Requester", "requester (helpdesk)", false, false},
		{"raj@demo.example", "Raj Requester", "requester (helpdesk)", false, false},
		{"rosa@demo.example", "Rosa Requester", "requester (compliance)", false, false},
		{"ravi@demo.example", "Ravi Requester", "requester", false, false},
	}
	users := map[string]pam.User{}
	for _, p := range people {
		u, err := adm.CreateUserWithPassword(ctx, actor, p.email, p.name, res.Password, p.admin)
		if err != nil {
			return res, fmt.Errorf("demo user %s: %w", p.email, err)
		}
		if p.auditor {
			if u, err = adm.ChangeUser(ctx, actor, u.ID, admin.MakeAuditor); err != nil {
				return res, err
			}
		}
		users[p.email] = u
		res.Logins = append(res.Logins, Login{Email: p.email, Name: p.name, Role: p.role})
	}
	groups := map[string]pam.Group{}
	for _, g := range []struct {
		name, desc string
		members    []string
	}{
		{"Exchange approvers", "Decide requests for Exchange administration.", []string{"olivia@demo.example", "omar@demo.example"}},
		{"Helpdesk", "First-line support; may ask for mailbox administration.", []string{"rhea@demo.example", "raj@demo.example"}},
		{"Compliance", "Legal and compliance staff; may search mailboxes.", []string{"rosa@demo.example"}},
		{"Service accounts", "Automation whose checks are always allowed (and recorded).", nil},
	} {
		grp, err := adm.CreateGroup(ctx, actor, g.name, g.desc)
		if err != nil {
			return res, err
		}
		for _, m := range g.members {
			if err := adm.AddMember(ctx, actor, grp.ID, users[m].ID); err != nil {
				return res, err
			}
		}
		groups[g.name] = grp
	}
	tasks := map[string]pam.Task{}
	for _, t := range [][2]string{
		{"exchange/New-JournalRule", "Create a journal rule that copies mail to an archive."},
		{"exchange/Set-JournalRule", "Change a journal rule."},
		{"exchange/Remove-JournalRule", "Delete a journal rule."},
		{"exchange/Set-Mailbox", "Change mailbox settings such as quotas and forwarding."},
		{"exchange/Add-MailboxPermission", "Grant someone access to another person's mailbox."},
		{"exchange/Remove-MailboxPermission", "Take away access to a mailbox."},
		{"exchange/Search-Mailbox", "Search the contents of mailboxes."},
		{"exchange/New-MailboxExportRequest", "Export a mailbox to a file."},
		{"exchange/New-TransportRule", "Create a mail flow rule."},
		{"exchange/Set-TransportRule", "Change a mail flow rule."},
		{"exchange/Set-OrganizationConfig", "Change organisation-wide Exchange settings."},
		{"exchange/New-ManagementRoleAssignment", "Assign an Exchange management role."},
	} {
		task, err := adm.CreateTask(ctx, actor, t[0], "", t[1])
		if err != nil {
			return res, err
		}
		tasks[t[0]] = task
	}
	roles := map[string]pam.Role{}
	for _, r := range []struct {
		name, desc string
		tasks      []string
	}{
		{"Journaling", "Manage journal rules.", []string{"exchange/New-JournalRule", "exchange/Set-JournalRule", "exchange/Remove-JournalRule"}},
		{"Mailbox admin", "Manage mailboxes and their permissions.", []string{"exchange/Set-Mailbox", "exchange/Add-MailboxPermission", "exchange/Remove-MailboxPermission"}},
		{"Mail flow", "Manage transport rules.", []string{"exchange/New-TransportRule", "exchange/Set-TransportRule"}},
	} {
		role, err := adm.CreateRole(ctx, actor, r.name, r.desc)
		if err != nil {
			return res, err
		}
		for _, k := range r.tasks {
			if err := adm.AddRoleTask(ctx, actor, role.ID, k); err != nil {
				return res, err
			}
		}
		roles[r.name] = role
	}
	rg, err := adm.CreateRoleGroup(ctx, actor, "Exchange organisation admin", "Everything needed for a change window on Exchange.")
	if err != nil {
		return res, err
	}
	for _, r := range []string{"Journaling", "Mailbox admin", "Mail flow"} {
		if err := adm.AddRoleGroupRole(ctx, actor, rg.ID, roles[r].ID); err != nil {
			return res, err
		}
	}
	if err := adm.UpdateSettings(ctx, actor, admin.SettingsInput{Enforcement: true, DefaultApproverGroupID: groups["Exchange approvers"].ID,
		ExemptGroupID: groups["Service accounts"].ID, MaxDuration: pam.DefaultOrgMax, SecurityEmail: "security@demo.example"}); err != nil {
		return res, err
	}
	policies := []pam.Policy{}
	mailbox := pam.NewPolicy(pam.ScopeRole, roles["Mailbox admin"].ID)
	mailbox.EligibleGroupID = groups["Helpdesk"].ID
	mailbox.TicketRequired = true
	// The helpdesk may take it at once in an emergency, reviewed afterwards by an approver.
	mailbox.EmergencyAllowed, mailbox.EmergencyDuration = true, time.Hour
	policies = append(policies, mailbox)
	journaling := pam.NewPolicy(pam.ScopeRole, roles["Journaling"].ID)
	journaling.ApproverGroupID = groups["Exchange approvers"].ID
	policies = append(policies, journaling)
	orgAdmin := pam.NewPolicy(pam.ScopeRoleGroup, rg.ID)
	orgAdmin.ApprovalsRequired = 2
	orgAdmin.MaxDuration = 8 * time.Hour
	orgAdmin.DefaultDuration = 2 * time.Hour
	policies = append(policies, orgAdmin)
	search := pam.NewPolicy(pam.ScopeTask, tasks["exchange/Search-Mailbox"].ID)
	search.ApprovalType = pam.ApprovalAuto
	search.EligibleGroupID = groups["Compliance"].ID
	search.DefaultDuration, search.MaxDuration = 30*time.Minute, 2*time.Hour
	policies = append(policies, search)
	export := pam.NewPolicy(pam.ScopeTask, tasks["exchange/New-MailboxExportRequest"].ID)
	export.ApprovalsRequired = 2
	export.EligibleGroupID = groups["Compliance"].ID
	export.TicketRequired = true
	policies = append(policies, export)
	created := map[string]pam.Policy{}
	for _, p := range policies {
		saved, err := adm.CreatePolicy(ctx, actor, p)
		if err != nil {
			return res, fmt.Errorf("demo policy: %w", err)
		}
		created[string(p.ScopeType)+":"+p.ScopeID] = saved
	}
	if err := demoRequests(ctx, db, users, map[string]pam.Policy{
		"mailbox":    created["role:"+roles["Mailbox admin"].ID],
		"journaling": created["role:"+roles["Journaling"].ID],
		"search":     created["task:"+tasks["exchange/Search-Mailbox"].ID],
		"org":        created["role_group:"+rg.ID],
	}, now); err != nil {
		return res, fmt.Errorf("demo requests: %w", err)
	}
	return res, nil
}

// demoRequests leaves a few requests in each state, so the inbox, the lists and the timelines
// have something to show on the first run. Past ones are made with a clock set back.
func demoRequests(ctx context.Context, db *store.Store, users map[string]pam.User, pols map[string]pam.Policy, now func() time.Time) error {
	at := now()
	clock := func() time.Time { return at }
	acc := access.New(db, clock, nil)
	as := func(email string) (pam.User, audit.Actor) {
		u := users[email]
		return u, audit.Actor{Type: audit.ActorUser, ID: string(u.ID), Name: u.Email}
	}
	submit := func(email, pol string, d time.Duration, why, ticket string) (pam.Request, error) {
		u, a := as(email)
		return acc.Submit(ctx, a, u, pols[pol].ID, pam.Submission{Duration: d, Justification: why, Ticket: ticket})
	}
	review := func(email, id, decision, comment string) error {
		u, a := as(email)
		_, err := acc.Review(ctx, a, u, id, decision, comment)
		return err
	}
	// Two days ago: one request nobody decided (timed out), one grant that ran its course.
	at = now().Add(-history)
	if _, err := submit("raj@demo.example", "journaling", time.Hour, "Archive rule for the legal hold on the sales team.", ""); err != nil {
		return err
	}
	old, err := submit("rhea@demo.example", "mailbox", 2*time.Hour, "Mailbox over quota for the finance director; raise the limit.", "INC-4102")
	if err != nil {
		return err
	}
	at = at.Add(20 * time.Minute)
	if err := review("olivia@demo.example", old.ID, pam.DecisionApprove, "Go ahead."); err != nil {
		return err
	}
	// Yesterday: a denied and a withdrawn request.
	at = now().Add(-26 * time.Hour)
	denied, err := submit("ravi@demo.example", "journaling", 4*time.Hour, "Want to look at how journaling works.", "")
	if err != nil {
		return err
	}
	at = at.Add(time.Hour)
	if err := review("omar@demo.example", denied.ID, pam.DecisionDeny, "Not without a ticket or a task that needs it."); err != nil {
		return err
	}
	withdrawn, err := submit("raj@demo.example", "mailbox", time.Hour, "Reset delegate access for a shared mailbox.", "INC-4177")
	if err != nil {
		return err
	}
	if _, err := acc.Withdraw(ctx, audit.Actor{Type: audit.ActorUser, ID: string(users["raj@demo.example"].ID)}, users["raj@demo.example"], withdrawn.ID); err != nil {
		return err
	}
	// Today: a grant in force, one revoked, an automatic one, and two waiting for approvers.
	at = now().Add(-40 * time.Minute)
	inForce, err := submit("raj@demo.example", "mailbox", 2*time.Hour, "Grant a manager access to a leaver's mailbox (HR ticket).", "HR-88")
	if err != nil {
		return err
	}
	at = at.Add(5 * time.Minute)
	if err := review("omar@demo.example", inForce.ID, pam.DecisionApprove, ""); err != nil {
		return err
	}
	revoked, err := submit("rhea@demo.example", "journaling", time.Hour, "Fix the journal rule that drops mail to the archive.", "")
	if err != nil {
		return err
	}
	if err := review("olivia@demo.example", revoked.ID, pam.DecisionApprove, ""); err != nil {
		return err
	}
	at = at.Add(15 * time.Minute)
	if _, err := acc.Revoke(ctx, audit.Actor{Type: audit.ActorUser, ID: string(users["olivia@demo.example"].ID)}, users["olivia@demo.example"], revoked.ID, "Fixed by the vendor; access no longer needed."); err != nil {
		return err
	}
	at = now().Add(-10 * time.Minute)
	if _, err := submit("rosa@demo.example", "search", 30*time.Minute, "Litigation hold search, case 2026-117.", ""); err != nil {
		return err
	}
	at = now().Add(-5 * time.Minute)
	if _, err := submit("rhea@demo.example", "mailbox", time.Hour, "Forwarding rule for the CEO's assistant while on leave.", "INC-4230"); err != nil {
		return err
	}
	if _, err := submit("ravi@demo.example", "org", 2*time.Hour, "Quarterly Exchange change window: transport rules and journaling.", "CHG-311"); err != nil {
		return err
	}
	at = now()
	_, err = acc.Sweep(ctx)
	return err
}
