package store

import (
	"context"
	"errors"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
)

// DelegationRow is a row of delegations.
type DelegationRow struct {
	ID          string
	PrincipalID string
	DelegateID  string
	StartsAt    time.Time
	EndsAt      time.Time
	CreatedAt   time.Time
	CreatedBy   string
	EndedAt     *time.Time
	EndedBy     string
}

// TableName fixes the table name.
func (DelegationRow) TableName() string { return "delegations" }

// delegationPeopleRow is a delegation with the names and emails of its two people.
type delegationPeopleRow struct {
	DelegationRow
	PrincipalName  string
	PrincipalEmail string
	DelegateName   string
	DelegateEmail  string
}

func (r delegationPeopleRow) toDomain() pam.Delegation {
	return pam.Delegation{
		ID: r.ID, PrincipalID: pam.UserID(r.PrincipalID), PrincipalName: r.PrincipalName, PrincipalEmail: r.PrincipalEmail,
		DelegateID: pam.UserID(r.DelegateID), DelegateName: r.DelegateName, DelegateEmail: r.DelegateEmail,
		StartsAt: r.StartsAt.UTC(), EndsAt: r.EndsAt.UTC(), CreatedAt: r.CreatedAt.UTC(), EndedAt: utcPtr(r.EndedAt),
		EndedBy: pam.UserID(r.EndedBy),
	}
}

func (s *Store) delegationsQuery(ctx context.Context) *gorm.DB {
	return s.conn(ctx).Table("delegations d").
		Select(`d.*, p.name AS principal_name, p.email AS principal_email, g.name AS delegate_name, g.email AS delegate_email`).
		Joins("JOIN users p ON p.id = d.principal_id").Joins("JOIN users g ON g.id = d.delegate_id")
}

// CreateDelegation stores a new delegation, by the user createdBy. A principal's lapsed
// delegation is closed at its own end first; another one still in force or scheduled makes it
// ECONFLICT, settled by the unique index on open delegations, so two at once cannot both win.
func (s *Store) CreateDelegation(ctx context.Context, d pam.Delegation, createdBy pam.UserID, now time.Time) error {
	if err := s.conn(ctx).Exec(`UPDATE delegations SET ended_at = ends_at
		WHERE principal_id = ? AND ended_at IS NULL AND ends_at <= ?`, string(d.PrincipalID), now.UTC()).Error; err != nil {
		return err
	}
	err := s.conn(ctx).Create(&DelegationRow{ID: d.ID, PrincipalID: string(d.PrincipalID), DelegateID: string(d.DelegateID),
		StartsAt: d.StartsAt.UTC(), EndsAt: d.EndsAt.UTC(), CreatedAt: d.CreatedAt.UTC(), CreatedBy: string(createdBy)}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return pam.FieldError("delegate", "You already have a delegation in force or scheduled; end it before naming another.")
	}
	return err
}

// EndDelegation ends an open delegation at now, by the user by; a conditional update, so of two
// at once one ends it and the other gets ECONFLICT. ENOTFOUND when there is no such delegation.
func (s *Store) EndDelegation(ctx context.Context, id string, by pam.UserID, now time.Time) (pam.Delegation, error) {
	res := s.conn(ctx).Model(&DelegationRow{}).Where("id = ? AND ended_at IS NULL AND ends_at > ?", id, now.UTC()).
		Updates(map[string]any{"ended_at": now.UTC(), "ended_by": string(by)})
	if res.Error != nil {
		return pam.Delegation{}, res.Error
	}
	d, err := s.DelegationByID(ctx, id)
	if err != nil {
		return d, err
	}
	if res.RowsAffected == 0 {
		return d, pam.Errorf(pam.ECONFLICT, "This delegation has already ended.")
	}
	return d, nil
}

// DelegationByID returns one delegation with its people, or ENOTFOUND.
func (s *Store) DelegationByID(ctx context.Context, id string) (pam.Delegation, error) {
	var r delegationPeopleRow
	res := s.delegationsQuery(ctx).Where("d.id = ?", id).Limit(1).Find(&r)
	if res.Error != nil {
		return pam.Delegation{}, res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Delegation{}, pam.Errorf(pam.ENOTFOUND, "Delegation not found.")
	}
	return r.toDomain(), nil
}

// OpenDelegations lists delegations in force or scheduled at now, soonest end first, after the
// cursor (keyset on ends_at, id) and at most limit of them; with principal set, only theirs
// (of which there is at most one).
func (s *Store) OpenDelegations(ctx context.Context, principal pam.UserID, now time.Time, after *pam.Cursor, limit int) ([]pam.Delegation, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	q := s.delegationsQuery(ctx).Where("d.ended_at IS NULL AND d.ends_at > ?", now.UTC()).Order("d.ends_at, d.id").Limit(limit)
	if principal != "" {
		q = q.Where("d.principal_id = ?", string(principal))
	}
	if after != nil {
		t := after.At.UTC()
		q = q.Where("(d.ends_at, d.id) > (?, ?)", t, after.ID)
	}
	var rows []delegationPeopleRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Delegation, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// DelegationsOf lists the delegations in force or scheduled at now that user gave (at most one)
// or received, soonest end first, at most limit, in one statement (delegations_principal_idx
// and delegations_delegate_idx).
func (s *Store) DelegationsOf(ctx context.Context, user pam.UserID, now time.Time, limit int) ([]pam.Delegation, error) {
	var rows []delegationPeopleRow
	err := s.delegationsQuery(ctx).Where("(d.principal_id = ? OR d.delegate_id = ?) AND d.ended_at IS NULL AND d.ends_at > ?",
		string(user), string(user), now.UTC()).Order("d.ends_at, d.id").Limit(limit).Find(&rows).Error
	out := make([]pam.Delegation, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, err
}

// delegatedApprovers is an SQL SELECT of the principals for whom the user whose id is the SQL
// expression viewer is a delegate in range of an enabled approver of a request: the enabled
// members of the group whose id is the SQL expression group, other than the requester (the SQL
// expression requester), whose delegation to the enabled viewer is in force at @now. It is the
// one place that says who decides by delegation; it reads delegations_delegate_idx. A
// delegation never passes on: only the principal's own membership counts, never whatever was
// delegated to the principal.
func delegatedApprovers(viewer, group, requester string) string {
	return `SELECT d.principal_id FROM delegations d
		JOIN users du ON du.id = d.delegate_id AND du.disabled_at IS NULL
		JOIN users dp ON dp.id = d.principal_id AND dp.disabled_at IS NULL
		JOIN group_members dg ON dg.user_id = d.principal_id AND dg.group_id = ` + group + `
		WHERE d.delegate_id = ` + viewer + ` AND d.ends_at > @now AND d.starts_at <= @now AND d.ended_at IS NULL
		AND d.principal_id <> ` + requester
}

// delegatedPrincipals is an SQL SELECT of the enabled members of the group whose id is the SQL
// expression group other than the requester (the SQL expression requester): the approvers whose
// delegates hear of a request (Audience). The delegation's own range is the caller's condition.
func delegatedPrincipals(group, requester string) string {
	return `SELECT pm.user_id FROM group_members pm JOIN users pmu ON pmu.id = pm.user_id AND pmu.disabled_at IS NULL
		WHERE pm.group_id = ` + group + ` AND pm.user_id <> ` + requester
}

// DelegatedFor lists the approvers of request r (id and name, by name) for whom viewer may
// decide it at now by delegation (delegatedApprovers), with whether each was already counted
// on it (they or someone for them reviewed it). Bounded.
func (s *Store) DelegatedFor(ctx context.Context, r pam.Request, viewer pam.UserID, now time.Time) ([]DelegatedApprover, error) {
	var rows []DelegatedApprover
	if r.ApproverGroupID == "" || viewer == "" {
		return nil, nil
	}
	err := s.conn(ctx).Raw(`SELECT u.id, u.name, EXISTS (SELECT 1 FROM reviews v WHERE v.request_id = @id
			AND (v.principal_id = u.id OR v.reviewer_id = u.id)) AS counted
		FROM users u WHERE u.id IN (`+delegatedApprovers("@viewer", "@group", "@requester")+`)
		ORDER BY u.name, u.id LIMIT 20`, map[string]any{"id": r.ID, "viewer": string(viewer), "group": r.ApproverGroupID,
		"requester": string(r.RequesterID), "now": now.UTC()}).Find(&rows).Error
	return rows, err
}

// DelegatedApprover is an approver a delegate may act for (DelegatedFor).
type DelegatedApprover struct {
	ID      pam.UserID
	Name    string
	Counted bool
}

// DelegatedGroup is one approver group a delegate may decide in for a principal, at some time.
type DelegatedGroup struct {
	GroupID       string
	PrincipalID   pam.UserID
	PrincipalName string
}

// DelegatedGroups lists, for a page that decides what viewer may do with many requests at
// once, the approver groups of the enabled principals whose delegation to the enabled viewer is
// in force at now (the same rule as delegatedApprovers, before a request's requester is known).
// Bounded.
func (s *Store) DelegatedGroups(ctx context.Context, viewer pam.UserID, now time.Time) ([]DelegatedGroup, error) {
	var rows []DelegatedGroup
	err := s.conn(ctx).Raw(`SELECT dg.group_id, d.principal_id, dp.name AS principal_name FROM delegations d
		JOIN users du ON du.id = d.delegate_id AND du.disabled_at IS NULL
		JOIN users dp ON dp.id = d.principal_id AND dp.disabled_at IS NULL
		JOIN group_members dg ON dg.user_id = d.principal_id
		WHERE d.delegate_id = @viewer AND d.ends_at > @now AND d.starts_at <= @now AND d.ended_at IS NULL
		ORDER BY dp.name, d.principal_id, dg.group_id LIMIT 500`, map[string]any{"viewer": string(viewer), "now": now.UTC()}).Find(&rows).Error
	return rows, err
}
