package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PolicyRow is a row of policies.
type PolicyRow struct {
	ID                    string
	ScopeType             string
	ScopeID               string
	ApprovalType          string
	ApproverGroupID       *string
	ApprovalsRequired     int
	DefaultDurationMin    int
	MaxDurationMin        int
	JustificationRequired bool
	TicketRequired        bool
	EligibleGroupID       *string
	MFARequired           bool `gorm:"column:mfa_required"`
	PendingTimeoutMin     int
	RemindAfterMin        int // 0 = half of the time to decide, -1 = no reminder
	EscalationGroupID     *string
	EscalateAfterMin      int
	EmergencyAllowed      bool
	EmergencyDurationMin  int
	Enabled               bool
	Version               int
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// remindMin stores a policy's RemindAfter in minutes, keeping NoReminder as -1.
func remindMin(d time.Duration) int {
	if d == pam.NoReminder {
		return -1
	}
	return int(d / time.Minute)
}

func remindAfter(min int) time.Duration {
	if min < 0 {
		return pam.NoReminder
	}
	return time.Duration(min) * time.Minute
}

// TableName fixes the table name.
func (PolicyRow) TableName() string { return "policies" }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func policyToRow(p pam.Policy) PolicyRow {
	return PolicyRow{
		ID: p.ID, ScopeType: string(p.ScopeType), ScopeID: p.ScopeID, ApprovalType: p.ApprovalType,
		ApproverGroupID: nullable(p.ApproverGroupID), ApprovalsRequired: p.ApprovalsRequired,
		DefaultDurationMin: int(p.DefaultDuration / time.Minute), MaxDurationMin: int(p.MaxDuration / time.Minute),
		JustificationRequired: p.JustificationRequired, TicketRequired: p.TicketRequired,
		EligibleGroupID: nullable(p.EligibleGroupID), MFARequired: p.MFARequired,
		PendingTimeoutMin: int(p.PendingTimeout / time.Minute), RemindAfterMin: remindMin(p.RemindAfter),
		EscalationGroupID: nullable(p.EscalationGroupID), EscalateAfterMin: int(p.EscalateAfter / time.Minute),
		EmergencyAllowed: p.EmergencyAllowed, EmergencyDurationMin: int(p.EmergencyLength() / time.Minute),
		Enabled: p.Enabled, Version: p.Version, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
}

func policyToDomain(r PolicyRow) pam.Policy {
	return pam.Policy{
		ID: r.ID, ScopeType: pam.ScopeType(r.ScopeType), ScopeID: r.ScopeID, ApprovalType: r.ApprovalType,
		ApproverGroupID: deref(r.ApproverGroupID), ApprovalsRequired: r.ApprovalsRequired,
		DefaultDuration: time.Duration(r.DefaultDurationMin) * time.Minute, MaxDuration: time.Duration(r.MaxDurationMin) * time.Minute,
		JustificationRequired: r.JustificationRequired, TicketRequired: r.TicketRequired,
		EligibleGroupID: deref(r.EligibleGroupID), MFARequired: r.MFARequired,
		PendingTimeout: time.Duration(r.PendingTimeoutMin) * time.Minute, RemindAfter: remindAfter(r.RemindAfterMin),
		EscalationGroupID: deref(r.EscalationGroupID), EscalateAfter: time.Duration(r.EscalateAfterMin) * time.Minute,
		EmergencyAllowed: r.EmergencyAllowed, EmergencyDuration: time.Duration(r.EmergencyDurationMin) * time.Minute,
		Enabled: r.Enabled, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func groupRefError(err error) error {
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return pam.FieldError("approver_group_id", "That group does not exist (any more). Choose another.")
	}
	return err
}

// CreatePolicy inserts a policy; a second policy for the same scope is a conflict.
func (s *Store) CreatePolicy(ctx context.Context, p pam.Policy) error {
	if _, err := s.scopeName(ctx, p.ScopeType, p.ScopeID); err != nil {
		if pam.ErrorCode(err) == pam.ENOTFOUND {
			return pam.FieldError("scope_id", "That %s does not exist.", strings.ToLower(p.ScopeType.Label()))
		}
		return err
	}
	p.Version = 1
	row := policyToRow(p)
	err := s.conn(ctx).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return pam.FieldError("scope_id", "This %s already has a policy; edit that one.", strings.ToLower(p.ScopeType.Label()))
	}
	return groupRefError(err)
}

// UpdatePolicy saves a policy if it is still at the version the editor saw, so two admins
// editing at once cannot silently overwrite each other.
func (s *Store) UpdatePolicy(ctx context.Context, p pam.Policy) error {
	row := policyToRow(p)
	res := s.conn(ctx).Model(&PolicyRow{}).Where("id = ? AND version = ?", p.ID, versionArg(p.Version)).Updates(map[string]any{
		"approval_type": row.ApprovalType, "approver_group_id": row.ApproverGroupID, "approvals_required": row.ApprovalsRequired,
		"default_duration_min": row.DefaultDurationMin, "max_duration_min": row.MaxDurationMin,
		"justification_required": row.JustificationRequired, "ticket_required": row.TicketRequired,
		"eligible_group_id": row.EligibleGroupID, "mfa_required": row.MFARequired, "pending_timeout_min": row.PendingTimeoutMin,
		"remind_after_min": row.RemindAfterMin, "escalation_group_id": row.EscalationGroupID, "escalate_after_min": row.EscalateAfterMin,
		"emergency_allowed": row.EmergencyAllowed, "emergency_duration_min": row.EmergencyDurationMin,
		"enabled": row.Enabled, "version": gorm.Expr("version + 1"), "updated_at": row.UpdatedAt,
	})
	if res.Error != nil {
		return groupRefError(res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.PolicyByID(ctx, p.ID); err != nil {
			return err
		}
		return pam.Errorf(pam.ECONFLICT, "Someone else changed this policy while you were editing it. Reload the page to see their change.")
	}
	return nil
}

// DeletePolicy removes a policy.
func (s *Store) DeletePolicy(ctx context.Context, id string) error {
	res := s.conn(ctx).Where("id = ?", id).Delete(&PolicyRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "Policy not found.")
	}
	return nil
}

// PolicyByID returns one policy with its scope name.
func (s *Store) PolicyByID(ctx context.Context, id string) (pam.Policy, error) {
	var r PolicyRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return pam.Policy{}, translate(err, "Policy")
	}
	p := policyToDomain(r)
	var err error
	p.ScopeName, err = s.scopeName(ctx, p.ScopeType, p.ScopeID)
	return p, err
}

// PolicyForScope returns the policy of a scope, or ENOTFOUND.
func (s *Store) PolicyForScope(ctx context.Context, scope pam.ScopeType, id string) (pam.Policy, error) {
	var r PolicyRow
	if err := s.conn(ctx).Where("scope_type = ? AND scope_id = ?", string(scope), id).Take(&r).Error; err != nil {
		return pam.Policy{}, translate(err, "Policy")
	}
	return policyToDomain(r), nil
}

// Policies lists policies in creation order, one keyset page at a time, with scope names.
func (s *Store) Policies(ctx context.Context, after *pam.Cursor, limit int) ([]pam.Policy, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	q := s.conn(ctx).Model(&PolicyRow{}).Order("created_at, id").Limit(limit)
	if after != nil {
		q = q.Where("(created_at, id) > (?, ?)", after.At.UTC(), after.ID)
	}
	var rows []PolicyRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Policy, len(rows))
	for i, r := range rows {
		out[i] = policyToDomain(r)
		out[i].ScopeName, _ = s.scopeName(ctx, out[i].ScopeType, out[i].ScopeID)
	}
	return out, nil
}

// ---- org settings

// OrgSettingsRow is the single row of org_settings.
type OrgSettingsRow struct {
	ID                     int
	Enforcement            bool
	DefaultApproverGroupID *string
	ExemptGroupID          *string
	MaxDurationMin         int
	SecurityEmail          string
	UpdatedAt              time.Time
}

// TableName fixes the table name.
func (OrgSettingsRow) TableName() string { return "org_settings" }

// OrgSettings returns the organisation settings.
func (s *Store) OrgSettings(ctx context.Context) (pam.OrgSettings, error) {
	var r OrgSettingsRow
	if err := s.conn(ctx).Where("id = 1").Take(&r).Error; err != nil {
		return pam.OrgSettings{}, err
	}
	return pam.OrgSettings{
		Enforcement: r.Enforcement, DefaultApproverGroupID: deref(r.DefaultApproverGroupID),
		ExemptGroupID: deref(r.ExemptGroupID), MaxDuration: time.Duration(r.MaxDurationMin) * time.Minute,
		SecurityEmail: r.SecurityEmail, UpdatedAt: r.UpdatedAt,
	}, nil
}

// LockOrgSettings reads the settings and, on PostgreSQL, locks the row until the transaction ends.
func (s *Store) LockOrgSettings(ctx context.Context) (pam.OrgSettings, error) {
	if s.dialect == Postgres && s.inTx {
		var r OrgSettingsRow
		if err := s.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = 1").Take(&r).Error; err != nil {
			return pam.OrgSettings{}, err
		}
	}
	return s.OrgSettings(ctx)
}

// SaveOrgSettings writes the organisation settings.
func (s *Store) SaveOrgSettings(ctx context.Context, o pam.OrgSettings, now time.Time) error {
	err := s.conn(ctx).Model(&OrgSettingsRow{}).Where("id = 1").Updates(map[string]any{
		"enforcement": o.Enforcement, "default_approver_group_id": nullable(o.DefaultApproverGroupID),
		"exempt_group_id": nullable(o.ExemptGroupID), "max_duration_min": int(o.MaxDuration / time.Minute),
		"security_email": o.SecurityEmail, "updated_at": now.UTC(),
	}).Error
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return pam.FieldError("default_approver_group_id", "That group does not exist (any more). Choose another.")
	}
	return err
}

// PoliciesAboveMax counts policies whose maximum exceeds d (they are capped at d).
func (s *Store) PoliciesAboveMax(ctx context.Context, d time.Duration) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&PolicyRow{}).Where("max_duration_min > ?", int(d/time.Minute)).Count(&n).Error
	return n, err
}

// GroupMemberOverlap reports whether some enabled user is in both groups.
func (s *Store) GroupMemberOverlap(ctx context.Context, a, b string) (bool, error) {
	var n int64
	err := s.conn(ctx).Table("group_members x").
		Joins("JOIN group_members y ON y.user_id = x.user_id AND y.group_id = ?", b).
		Joins("JOIN users u ON u.id = x.user_id AND u.disabled_at IS NULL").
		Where("x.group_id = ?", a).Limit(1).Count(&n).Error
	return n > 0, err
}

// CountActiveUsers counts enabled users.
func (s *Store) CountActiveUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&UserRow{}).Where("disabled_at IS NULL").Count(&n).Error
	return n, err
}

// withApprovers is the FROM clause of policies p joined to ac, whose ac.n counts the enabled
// members of p's approver group (its own, else the SQL expression defaultGroup), or is NULL
// when that group has none. Each approver group is counted once: a count per policy read every
// member of a big group once for each of its policies. A policy is a dead end, nobody can
// approve it, when it is enabled and manual and this count is below p.approvals_required
// (deadEnd): the dashboard's count, the setup checklist and the overview all read it so.
func withApprovers(defaultGroup string) string {
	return `policies p LEFT JOIN (
			SELECT gm.group_id, COUNT(*) AS n FROM group_members gm
			JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL
			WHERE gm.group_id IN (SELECT approver_group_id FROM policies WHERE approver_group_id IS NOT NULL UNION SELECT ` + defaultGroup + `)
			GROUP BY gm.group_id
		) ac ON ac.group_id = COALESCE(p.approver_group_id, ` + defaultGroup + `)`
}

// policyApprovers is the count of a policy's approvers in a statement over withApprovers.
const policyApprovers = `COALESCE(ac.n, 0)`

// deadEnd is the SQL condition true for a policy p nobody can approve (see withApprovers).
const deadEnd = `p.enabled AND p.approval_type = 'manual' AND ` + policyApprovers + ` < p.approvals_required`

var deadEndsSQL = `SELECT COUNT(*) FROM ` + withApprovers("@group") + ` WHERE ` + deadEnd

// CountDeadEndPolicies counts enabled manual policies whose approver group (their own, else
// defaultGroup) has fewer enabled members than the approvals they need: nobody can approve them.
func (s *Store) CountDeadEndPolicies(ctx context.Context, defaultGroup string) (int, error) {
	var n int64
	err := s.conn(ctx).Raw(deadEndsSQL, sql.Named("group", defaultGroup)).Find(&n).Error
	return int(n), err
}
