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
	}
}

func (s *Service) checkGroups(ctx context.Context, tx *store.Store, p pam.Policy) error {
	for field, id := range map[string]string{"approver_group_id": p.ApproverGroupID, "eligible_group_id": p.EligibleGroupID} {
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

// CreatePolicy adds the one policy of a scope.
func (s *Service) CreatePolicy(ctx context.Context, a audit.Actor, p pam.Policy) (pam.Policy, error) {
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
		if err := tx.CreatePolicy(ctx, p); err != nil {
			return err
		}
		name, _ := tx.ScopeName(ctx, p.ScopeType, p.ScopeID)
		return record(ctx, tx, a, audit.PolicyCreated, "policy", p.ID, map[string]any{"scope": name, "after": policyDetails(p)})
	})
	return p, err
}

// UpdatePolicy saves a policy edited from version p.Version.
func (s *Service) UpdatePolicy(ctx context.Context, a audit.Actor, p pam.Policy) error {
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
		p.UpdatedAt = s.now()
		if err := tx.UpdatePolicy(ctx, p); err != nil {
			return err
		}
		return record(ctx, tx, a, audit.PolicyUpdated, "policy", p.ID, map[string]any{
			"scope": before.ScopeName, "before": policyDetails(before), "after": policyDetails(p)})
	})
}

// DeletePolicy removes a policy; its scope can no longer be requested.
func (s *Service) DeletePolicy(ctx context.Context, a audit.Actor, id string) error {
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.PolicyByID(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.DeletePolicy(ctx, id); err != nil {
			return err
		}
		return record(ctx, tx, a, audit.PolicyDeleted, "policy", id, map[string]any{"scope": before.ScopeName, "before": policyDetails(before)})
	})
}

// Reach is who a policy lets ask and who can approve, for the policy page.
type Reach struct {
	Tasks          []pam.Task
	MoreTasks      bool
	EligibleGroup  *pam.Group // nil = everyone
	ApproverGroup  *pam.Group // the effective group, nil = none
	ApproverSource string     // "policy", "default" or ""
	Approvers      []pam.User // enabled members, first page
	Warnings       []string
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
	approverID := p.ApproverGroupID
	r.ApproverSource = "policy"
	if approverID == "" {
		approverID, r.ApproverSource = org.DefaultApproverGroupID, "default"
	}
	facts := pam.ApprovalFacts{}
	if approverID != "" {
		g, err := s.db.GroupByID(ctx, approverID)
		if err != nil {
			return r, err
		}
		r.ApproverGroup = &g
		facts.ApproverGroupSet = true
		facts.Approvers = g.MemberCount
		members, err := s.db.GroupMembers(ctx, g.ID, pam.Page{Limit: 50})
		if err != nil {
			return r, err
		}
		for _, m := range members {
			if m.Active() {
				r.Approvers = append(r.Approvers, m)
			}
		}
		if p.EligibleGroupID == "" {
			facts.EligibleApprover = g.MemberCount > 0
		} else if facts.EligibleApprover, err = s.db.GroupMemberOverlap(ctx, approverID, p.EligibleGroupID); err != nil {
			return r, err
		}
	} else {
		r.ApproverSource = ""
	}
	r.Warnings = p.ApprovalWarnings(facts)
	if p.MaxDuration > org.MaxDuration {
		r.Warnings = append(r.Warnings, "The maximum duration is above the organisation's ceiling of "+pam.FormatDuration(org.MaxDuration)+"; requests are capped there.")
	}
	if len(tasks) == 0 && p.ScopeType != pam.ScopeTask {
		r.Warnings = append(r.Warnings, "This "+strings.ToLower(p.ScopeType.Label())+" covers no tasks yet, so a grant under it allows nothing.")
	}
	return r, nil
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
}

// UpdateSettings saves the organisation settings. Turning enforcement off needs a reason and
// an explicit confirmation, both kept on the audit trail.
func (s *Service) UpdateSettings(ctx context.Context, a audit.Actor, in SettingsInput) error {
	if in.MaxDuration < pam.MinDuration || in.MaxDuration > pam.MaxOrgDuration {
		return pam.FieldError("max_duration", "Choose between %s and %s.", pam.FormatDuration(pam.MinDuration), pam.FormatDuration(pam.MaxOrgDuration))
	}
	in.Reason = strings.TrimSpace(in.Reason)
	if len(in.Reason) > 1000 {
		return pam.FieldError("reason", "Use at most 1000 characters.")
	}
	if err := pam.CheckChars("reason", in.Reason, true); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.LockOrgSettings(ctx)
		if err != nil {
			return err
		}
		if before.Enforcement && !in.Enforcement {
			if !in.Confirmed {
				return pam.FieldError("confirm", "Tick the box to confirm that every check will be allowed while enforcement is off.")
			}
			if in.Reason == "" {
				return pam.FieldError("reason", "Say why enforcement is being turned off; it is kept on the audit trail.")
			}
		}
		for field, id := range map[string]string{"default_approver_group_id": in.DefaultApproverGroupID, "exempt_group_id": in.ExemptGroupID} {
			if id == "" {
				continue
			}
			if _, err := tx.GroupByID(ctx, id); pam.ErrorCode(err) == pam.ENOTFOUND {
				return pam.FieldError(field, "That group does not exist. Choose one from the list.")
			} else if err != nil {
				return err
			}
		}
		after := pam.OrgSettings{Enforcement: in.Enforcement, DefaultApproverGroupID: in.DefaultApproverGroupID,
			ExemptGroupID: in.ExemptGroupID, MaxDuration: in.MaxDuration}
		if err := tx.SaveOrgSettings(ctx, after, s.now()); err != nil {
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
		details := map[string]any{"before": bd, "after": ad}
		if in.Reason != "" {
			details["reason"] = in.Reason
		}
		action := audit.SettingsUpdated
		if before.Enforcement != after.Enforcement {
			action = map[bool]audit.Action{true: audit.SettingsEnforcementEnabled, false: audit.SettingsEnforcementDisabled}[after.Enforcement]
		}
		return record(ctx, tx, a, action, "settings", "org", details)
	})
}

func settingsDetails(o pam.OrgSettings) map[string]any {
	return map[string]any{"enforcement": o.Enforcement, "default_approver_group_id": o.DefaultApproverGroupID,
		"exempt_group_id": o.ExemptGroupID, "max_duration_min": int(o.MaxDuration / time.Minute)}
}
