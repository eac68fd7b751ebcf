package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

func policyDetails(p pam.Policy) map[string]any {
	return map[string]any{
		"scope_type": string(p.ScopeType), "scope_id": p.ScopeID, "approval_type": p.ApprovalType,
		"approver_group_id": p.ApproverGroupID, "approvals_required": p.ApprovalsRequired,
		"default_duration_min": int(p.DefaultDuration / time.Minute), "max_duration_min": int(p.MaxDuration / time.Minute),
		"justification_required": p.JustificationRequired, "ticket_required": p.TicketRequired,
		"eligible_group_id": p.EligibleGroupID, "mfa_required": p.MFARequired,
		"pending_timeout_min": int(p.PendingTimeout / time.Minute), "enabled": p.Enabled,
		"remind_after_min": remindMinutes(p.RemindAfter), "escalation_group_id": p.EscalationGroupID,
		"escalate_after_min": int(p.EscalateAfter / time.Minute),
		"emergency_allowed":  p.EmergencyAllowed, "emergency_duration_min": int(p.EmergencyLength() / time.Minute),
	}
}

// remindMinutes is a policy's reminder as the audit trail and the API give it: minutes, 0 for
// half of the time to decide, -1 for none.
func remindMinutes(d time.Duration) int {
	if d == pam.NoReminder {
		return -1
	}
	return int(d / time.Minute)
}

func (s *Service) checkGroups(ctx context.Context, tx *store.Store, p pam.Policy) error {
	for field, id := range map[string]string{"approver_group_id": p.ApproverGroupID, "eligible_group_id": p.EligibleGroupID,
		"escalation_group_id": p.EscalationGroupID} {
		if id == "" {
			continue
		}
		if _, err := tx.GroupByID(ctx, id); pam.ErrorCode(err) == pam.ENOTFOUND {
			return pam.FieldError(field, "That group does not exist. Choose one from the list.")
		} else if err != nil {
			return err
		}
	}
	return nil
}

// checkScopeCovers refuses a new policy for a role or role group that covers no task: a
// request under it would be approved and grant nothing. The tasks are the admin's own to add
// (unlike approvers, who may come from the identity provider later), so there is nothing to
// confirm: the role gets its tasks first. A role emptied later keeps its policy, whose page
// warns that a grant under it allows nothing.
func checkScopeCovers(ctx context.Context, tx *store.Store, p pam.Policy) error {
	if p.ScopeType == pam.ScopeTask {
		return nil
	}
	if _, err := tx.ScopeName(ctx, p.ScopeType, p.ScopeID); pam.ErrorCode(err) == pam.ENOTFOUND {
		return nil // the save says that it does not exist
	} else if err != nil {
		return err
	}
	tasks, err := tx.ScopeTasks(ctx, p.ScopeType, p.ScopeID, 1)
	if err != nil || len(tasks) > 0 {
		return err
	}
	kind := strings.ToLower(p.ScopeType.Label())
	fix := "Add tasks to the role first."
	if p.ScopeType == pam.ScopeRoleGroup {
		fix = "Add roles with tasks to the role group first."
	}
	return pam.FieldError("scope_id", "This %s covers no tasks yet, so a grant under it would allow nothing. %s", kind, fix)
}

// SaveCheck is what a policy save checks beyond the policy's own rules.
type SaveCheck struct {
	// RefuseDeadEnd refuses to save an enabled policy that nobody can approve, with an EINVALID
	// on the field "confirm_dead_end" that says why. The pages set it until the admin confirms;
	// the API and the demo save as before.
	RefuseDeadEnd bool
}

// deadEndDetails checks p against the approvers it would have now, inside the saving
// transaction, and returns what goes on the audit trail ("dead_end") when the save goes on.
func (s *Service) deadEndDetails(ctx context.Context, tx *store.Store, p pam.Policy, org pam.OrgSettings, checks []SaveCheck) (map[string]any, error) {
	facts, _, err := approvalFacts(ctx, tx, p, org)
	if err != nil {
		return nil, err
	}
	w, dead := pam.DeadEnd(p.ApprovalWarnings(facts))
	if !dead {
		ef, _, err := escalationFacts(ctx, tx, p)
		if err != nil {
			return nil, err
		}
		if w, dead = pam.DeadEnd(p.EscalationWarnings(ef)); !dead {
			return nil, nil
		}
	}
	for _, c := range checks {
		if c.RefuseDeadEnd && p.Enabled {
			return nil, pam.FieldError("confirm_dead_end", "%s Fix it first, or confirm that it should be saved anyway.", w.Text)
		}
	}
	return map[string]any{"dead_end": w.Text}, nil
}

// CreatePolicy adds the one policy of a scope.
func (s *Service) CreatePolicy(ctx context.Context, a audit.Actor, p pam.Policy, checks ...SaveCheck) (pam.Policy, error) {
	p.ID = uuid.NewString()
	now := s.now()
	p.CreatedAt, p.UpdatedAt = now, now
	err := s.tx(ctx, func(tx *store.Store) error {
		org, err := tx.LockOrgSettings(ctx)
		if err != nil {
			return err
		}
		if err := p.Validate(org.MaxDuration); err != nil {
			return err
		}
		if err := s.checkGroups(ctx, tx, p); err != nil {
			return err
		}
		if err := checkScopeCovers(ctx, tx, p); err != nil {
			return err
		}
		dead, err := s.deadEndDetails(ctx, tx, p, org, checks)
		if err != nil {
			return err
		}
		if err := tx.CreatePolicy(ctx, p); err != nil {
			return err
		}
		name, _ := tx.ScopeName(ctx, p.ScopeType, p.ScopeID)
		details := map[string]any{"scope": name, "after": policyDetails(p)}
		for k, v := range dead {
			details[k] = v
		}
		return s.record(ctx, tx, a, audit.PolicyCreated, "policy", p.ID, details)
	})
	return p, err
}

// UpdatePolicy saves a policy edited from version p.Version.
func (s *Service) UpdatePolicy(ctx context.Context, a audit.Actor, p pam.Policy, checks ...SaveCheck) error {
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.PolicyByID(ctx, p.ID)
		if err != nil {
			return err
		}
		p.ScopeType, p.ScopeID = before.ScopeType, before.ScopeID
		org, err := tx.LockOrgSettings(ctx)
		if err != nil {
			return err
		}
		if err := p.Validate(org.MaxDuration); err != nil {
			return err
		}
		if err := s.checkGroups(ctx, tx, p); err != nil {
			return err
		}
		dead, err := s.deadEndDetails(ctx, tx, p, org, checks)
		if err != nil {
			return err
		}
		p.UpdatedAt = s.now()
		if err := tx.UpdatePolicy(ctx, p); err != nil {
			return err
		}
		// The edit reaches the requests under the policy in this transaction (RequestRules).
		reached, err := s.reach(func(r RequestRules) (map[string]any, error) {
			return r.PolicyEdited(ctx, tx, a, before, p, org.DefaultApproverGroupID)
		})
		if err != nil {
			return err
		}
		details := map[string]any{"scope": before.ScopeName, "before": policyDetails(before), "after": policyDetails(p)}
		for k, v := range dead {
			details[k] = v
		}
		return s.record(ctx, tx, a, audit.PolicyUpdated, "policy", p.ID, merge(details, reached))
	})
}

// DeletePolicy removes a policy; its scope can no longer be requested. Its pending requests are
// cancelled ("policy disabled"). While grants under it are in force or scheduled it is refused
// (ECONFLICT, naming how many); DeletePolicyRevoking can revoke them with it.
func (s *Service) DeletePolicy(ctx context.Context, a audit.Actor, id string) error {
	return s.DeletePolicyRevoking(ctx, a, id, false, "")
}

// DeletePolicyRevoking is DeletePolicy that, when revokeGrants is set, first revokes the grants
// under the policy in force or scheduled (by the actor, each with its chain, audit event and
// mail), all in one transaction. A reason, when given (the pages ask for one), goes into the
// policy's audit event.
func (s *Service) DeletePolicyRevoking(ctx context.Context, a audit.Actor, id string, revokeGrants bool, reason string) error {
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.PolicyByID(ctx, id)
		if err != nil {
			return err
		}
		// The row goes first: a submission under the policy still open holds it until its end,
		// so what it made is committed, and found below, before the delete goes on.
		if err := tx.DeletePolicy(ctx, id); err != nil {
			return err
		}
		ended, err := s.reach(func(r RequestRules) (map[string]any, error) { return r.PolicyRemoved(ctx, tx, a, before, revokeGrants) })
		if err != nil {
			return err
		}
		// Counted after the pending requests were cancelled, so one approved meanwhile counts too;
		// a refusal rolls everything back.
		if s.rules != nil && !revokeGrants {
			n, err := s.rules.GrantsUnderPolicy(ctx, tx, id)
			if err != nil {
				return err
			}
			if n > 0 {
				return &pam.Error{Code: pam.ECONFLICT, Field: "revoke_grants", Message: fmt.Sprintf(
					"%s under this policy %s in force or scheduled. Revoke them with the policy, or delete it once they have ended.",
					pam.Count(int(n), "grant", "grants"), map[bool]string{true: "is", false: "are"}[n == 1])}
			}
		}
		details := map[string]any{"scope": before.ScopeName, "before": policyDetails(before)}
		if reason != "" {
			details["reason"] = reason
		}
		return s.record(ctx, tx, a, audit.PolicyDeleted, "policy", id, merge(details, ended))
	})
}

// GrantsUnderPolicy counts the grants under a policy in force or scheduled now (0 when nothing
// carries policy changes to requests, see SetRequestRules).
func (s *Service) GrantsUnderPolicy(ctx context.Context, id string) (int64, error) {
	if s.rules == nil {
		return 0, nil
	}
	return s.rules.GrantsUnderPolicy(ctx, nil, id)
}

// Reach is who a policy lets ask and who can approve, for the policy page.
type Reach struct {
	Tasks          []pam.Task
	MoreTasks      bool
	EligibleGroup  *pam.Group // nil = everyone
	ApproverGroup  *pam.Group // the effective group, nil = none
	ApproverSource string     // "policy", "default" or ""
	Approvers      []pam.User // enabled members, first page
	// EscalationGroup is the group requests escalate to (nil = none).
	EscalationGroup *pam.Group
	Warnings        []pam.Warning
}

// escalationFacts reads the escalation group of p with its count of enabled members.
func escalationFacts(ctx context.Context, db *store.Store, p pam.Policy) (pam.EscalationFacts, *pam.Group, error) {
	var f pam.EscalationFacts
	if !p.Escalates() {
		return f, nil, nil
	}
	g, err := db.GroupByID(ctx, p.EscalationGroupID)
	if pam.ErrorCode(err) == pam.ENOTFOUND {
		return f, nil, nil // a vanished group reaches nobody
	}
	if err != nil {
		return f, nil, err
	}
	f.GroupName, f.Members = g.Name, g.MemberCount
	return f, &g, nil
}

// approvalFacts reads who could approve under p: its approver group (or the organisation's
// default) with its enabled members, and whether an eligible requester is among them.
func approvalFacts(ctx context.Context, db *store.Store, p pam.Policy, org pam.OrgSettings) (pam.ApprovalFacts, *pam.Group, error) {
	var f pam.ApprovalFacts
	approverID := p.ApproverGroupID
	if approverID == "" {
		approverID = org.DefaultApproverGroupID
	}
	if approverID == "" {
		return f, nil, nil
	}
	g, err := db.GroupByID(ctx, approverID)
	if pam.ErrorCode(err) == pam.ENOTFOUND {
		return f, nil, nil // fails closed: a vanished group approves nothing
	}
	if err != nil {
		return f, nil, err
	}
	f.ApproverGroupSet, f.GroupName, f.Approvers = true, g.Name, g.MemberCount
	if p.EligibleGroupID == "" {
		f.EligibleApprover = g.MemberCount > 0
	} else if f.EligibleApprover, err = db.GroupMemberOverlap(ctx, approverID, p.EligibleGroupID); err != nil {
		return f, nil, err
	}
	return f, &g, nil
}

// PolicyReach works out what a policy covers, who is eligible and who can approve.
func (s *Service) PolicyReach(ctx context.Context, p pam.Policy) (Reach, error) {
	var r Reach
	tasks, err := s.db.ScopeTasks(ctx, p.ScopeType, p.ScopeID, 101)
	if err != nil {
		return r, err
	}
	if len(tasks) > 100 {
		tasks, r.MoreTasks = tasks[:100], true
	}
	r.Tasks = tasks
	if p.EligibleGroupID != "" {
		g, err := s.db.GroupByID(ctx, p.EligibleGroupID)
		if err != nil {
			return r, err
		}
		r.EligibleGroup = &g
	}
	org, err := s.db.OrgSettings(ctx)
	if err != nil {
		return r, err
	}
	facts, g, err := approvalFacts(ctx, s.db, p, org)
	if err != nil {
		return r, err
	}
	if g != nil {
		r.ApproverGroup, r.ApproverSource = g, "policy"
		if p.ApproverGroupID == "" {
			r.ApproverSource = "default"
		}
		members, err := s.db.GroupMembers(ctx, g.ID, pam.Page{Limit: 50})
		if err != nil {
			return r, err
		}
		for _, m := range members {
			if m.Active() {
				r.Approvers = append(r.Approvers, m)
			}
		}
	}
	r.Warnings = p.ApprovalWarnings(facts)
	ef, eg, err := escalationFacts(ctx, s.db, p)
	if err != nil {
		return r, err
	}
	r.EscalationGroup = eg
	r.Warnings = append(r.Warnings, p.EscalationWarnings(ef)...)
	if p.MaxDuration > org.MaxDuration {
		r.Warnings = append(r.Warnings, pam.Warning{Fix: pam.FixMaxDuration,
			Text: "The maximum duration is above the organisation's ceiling of " + pam.FormatDuration(org.MaxDuration) + "; requests are capped there."})
	}
	if len(tasks) == 0 && p.ScopeType != pam.ScopeTask {
		r.Warnings = append(r.Warnings, pam.Warning{Fix: pam.FixTasks,
			Text: "This " + strings.ToLower(p.ScopeType.Label()) + " covers no tasks yet, so a grant under it allows nothing."})
	}
	return r, nil
}

// DeadEnds returns, for each enabled policy of ps that nobody can approve, why not (keyed by
// policy id). It reads each approver group once, for a page of the policy list.
func (s *Service) DeadEnds(ctx context.Context, ps []pam.Policy) (map[string]pam.Warning, error) {
	out := map[string]pam.Warning{}
	org, err := s.db.OrgSettings(ctx)
	if err != nil {
		return nil, err
	}
	groups := map[string]*pam.Group{}
	for _, p := range ps {
		if !p.Enabled || p.ApprovalType == pam.ApprovalAuto {
			continue
		}
		id := p.ApproverGroupID
		if id == "" {
			id = org.DefaultApproverGroupID
		}
		f := pam.ApprovalFacts{}
		if id != "" {
			g, seen := groups[id]
			if !seen {
				gg, err := s.db.GroupByID(ctx, id)
				if err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
					return nil, err
				}
				if err == nil {
					g = &gg
				}
				groups[id] = g
			}
			if g != nil {
				f.ApproverGroupSet, f.GroupName, f.Approvers = true, g.Name, g.MemberCount
			}
		}
		// The overlap rule never makes a dead end, so it is not read here.
		if w, dead := pam.DeadEnd(p.ApprovalWarnings(f)); dead {
			out[p.ID] = w
		}
	}
	return out, nil
}

// CountDeadEnds counts enabled policies that nobody can approve, in one statement.
func (s *Service) CountDeadEnds(ctx context.Context) (int, error) {
	org, err := s.db.OrgSettings(ctx)
	if err != nil {
		return 0, err
	}
	return s.db.CountDeadEndPolicies(ctx, org.DefaultApproverGroupID)
}

// SuggestApproverGroup picks the approver group a new policy starts with: none when the
// organisation's default group has enabled members (the policy then uses it), else the only
// group, else the group with the most enabled members, preferring one named for approvers.
func (s *Service) SuggestApproverGroup(ctx context.Context) (string, error) {
	org, err := s.db.OrgSettings(ctx)
	if err != nil {
		return "", err
	}
	if org.DefaultApproverGroupID != "" {
		g, err := s.db.GroupByID(ctx, org.DefaultApproverGroupID)
		if err == nil && g.MemberCount > 0 {
			return "", nil
		}
		if err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
			return "", err
		}
	}
	groups, err := s.db.Groups(ctx, pam.Page{Limit: 200})
	if err != nil {
		return "", err
	}
	if len(groups) == 1 {
		return groups[0].ID, nil
	}
	best, bestScore := "", 0
	for _, g := range groups {
		if g.MemberCount == 0 {
			continue
		}
		score := g.MemberCount * 2
		if strings.Contains(strings.ToLower(g.Name), "approv") {
			score += 1 << 20
		}
		if score > bestScore {
			best, bestScore = g.ID, score
		}
	}
	return best, nil
}

// SettingsInput is the settings form.
type SettingsInput struct {
	Enforcement            bool
	DefaultApproverGroupID string
	ExemptGroupID          string
	MaxDuration            time.Duration
	RequireMFA             bool   // administrators and approvers must enrol in two-step verification
	Reason                 string // required when enforcement is turned off
	Confirmed              bool   // the admin ticked the confirmation when turning it off
	// SecurityEmail is the organisation's security address ("" for none): it is mailed about
	// every emergency access.
	SecurityEmail string
}

// UpdateSettings saves the organisation settings. Turning enforcement off needs a reason and
// an explicit confirmation, both kept on the audit trail.
func (s *Service) UpdateSettings(ctx context.Context, a audit.Actor, in SettingsInput) error {
	// Every field is checked, so the form tells all its problems at once.
	var ps pam.Problems
	if in.MaxDuration < pam.MinDuration || in.MaxDuration > pam.MaxOrgDuration {
		ps.Add(pam.FieldError("max_duration", "Choose between %s and %s.", pam.FormatDuration(pam.MinDuration), pam.FormatDuration(pam.MaxOrgDuration)))
	}
	in.Reason = strings.TrimSpace(in.Reason)
	if len(in.Reason) > 1000 {
		ps.Add(pam.FieldError("reason", "Use at most 1000 characters."))
	} else {
		ps.Add(pam.CheckChars("reason", in.Reason, true))
	}
	if strings.TrimSpace(in.SecurityEmail) != "" {
		email, err := pam.NormalizeEmail(in.SecurityEmail)
		if err != nil {
			ps.Add(pam.FieldError("security_email", "Give one email address, like security@example.com."))
		}
		in.SecurityEmail = email
	} else {
		in.SecurityEmail = ""
	}
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.LockOrgSettings(ctx)
		if err != nil {
			return err
		}
		if before.Enforcement && !in.Enforcement {
			if !in.Confirmed {
				ps.Add(pam.FieldError("confirm", "Tick the box to confirm that every check will be allowed while enforcement is off."))
			}
			if in.Reason == "" {
				ps.Add(pam.FieldError("reason", "Say why enforcement is being turned off; it is kept on the audit trail."))
			}
		}
		for _, g := range [][2]string{{"default_approver_group_id", in.DefaultApproverGroupID}, {"exempt_group_id", in.ExemptGroupID}} {
			if g[1] == "" {
				continue
			}
			if _, err := tx.GroupByID(ctx, g[1]); pam.ErrorCode(err) == pam.ENOTFOUND {
				ps.Add(pam.FieldError(g[0], "That group does not exist. Choose one from the list."))
			} else {
				ps.Add(err)
			}
		}
		if err := ps.Err(); err != nil {
			return err
		}
		after := pam.OrgSettings{Enforcement: in.Enforcement, DefaultApproverGroupID: in.DefaultApproverGroupID,
			ExemptGroupID: in.ExemptGroupID, MaxDuration: in.MaxDuration, SecurityEmail: in.SecurityEmail}
		if err := tx.SaveOrgSettings(ctx, after, s.now()); err != nil {
			return err
		}
		// A new default approver group reaches the requests pending under the policies it decides.
		reached, err := s.reach(func(r RequestRules) (map[string]any, error) {
			return r.DefaultApproversChanged(ctx, tx, a, before.DefaultApproverGroupID, after.DefaultApproverGroupID)
		})
		if err != nil {
			return err
		}
		mfaBefore, err := tx.Value(ctx, auth.RequireMFAEnrolmentKey)
		if err != nil {
			return err
		}
		if err := tx.SetValue(ctx, auth.RequireMFAEnrolmentKey, fmt.Sprint(in.RequireMFA), s.now()); err != nil {
			return err
		}
		bd, ad := settingsDetails(before), settingsDetails(after)
		bd["require_mfa"], ad["require_mfa"] = mfaBefore == "true", in.RequireMFA
		details := merge(map[string]any{"before": bd, "after": ad}, reached)
		if in.Reason != "" {
			details["reason"] = in.Reason
		}
		action := audit.SettingsUpdated
		if before.Enforcement != after.Enforcement {
			action = map[bool]audit.Action{true: audit.SettingsEnforcementEnabled, false: audit.SettingsEnforcementDisabled}[after.Enforcement]
		}
		return s.record(ctx, tx, a, action, "settings", "org", details)
	})
}

func settingsDetails(o pam.OrgSettings) map[string]any {
	return map[string]any{"enforcement": o.Enforcement, "default_approver_group_id": o.DefaultApproverGroupID,
		"exempt_group_id": o.ExemptGroupID, "max_duration_min": int(o.MaxDuration / time.Minute), "security_email": o.SecurityEmail}
}
