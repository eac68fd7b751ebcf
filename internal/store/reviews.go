package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ---- group owners

// GroupOwnerRow is a row of group_owners.
type GroupOwnerRow struct {
	GroupID string `gorm:"primaryKey"`
	UserID  string `gorm:"primaryKey"`
	AddedAt time.Time
}

// TableName fixes the table name.
func (GroupOwnerRow) TableName() string { return "group_owners" }

// AddOwner names a user an owner of a group; naming one twice is a conflict.
func (s *Store) AddOwner(ctx context.Context, groupID string, userID pam.UserID, now time.Time) error {
	res := s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&GroupOwnerRow{GroupID: groupID, UserID: string(userID), AddedAt: now.UTC()})
	if res.Error != nil {
		if errors.Is(res.Error, gorm.ErrForeignKeyViolated) {
			return pam.Errorf(pam.ENOTFOUND, "That user or group does not exist.")
		}
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ECONFLICT, "That user is already an owner.")
	}
	return nil
}

// RemoveOwner takes a user off a group's owners.
func (s *Store) RemoveOwner(ctx context.Context, groupID string, userID pam.UserID) error {
	res := s.conn(ctx).Where("group_id = ? AND user_id = ?", groupID, string(userID)).Delete(&GroupOwnerRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "That user is not an owner.")
	}
	return nil
}

// GroupOwners lists a group's owners (disabled ones too) by email (bounded).
func (s *Store) GroupOwners(ctx context.Context, groupID string) ([]pam.User, error) {
	var rows []UserRow
	err := s.conn(ctx).Model(&UserRow{}).Joins("JOIN group_owners o ON o.user_id = users.id AND o.group_id = ?", groupID).
		Order("users.email").Limit(200).Find(&rows).Error
	return mapRows(rows, userToDomain), err
}

// ---- campaigns

// CampaignRow is a row of review_campaigns.
type CampaignRow struct {
	ID              string
	Name            string
	Scope           string
	Reviewers       string
	DefaultDecision string
	Deadline        time.Time
	Status          string
	StartedBy       string
	StartedByName   string
	StartedAt       time.Time
	ClosedAt        *time.Time
	ClosedByName    string
}

// TableName fixes the table name.
func (CampaignRow) TableName() string { return "review_campaigns" }

// ReviewItemRow is a row of review_items.
type ReviewItemRow struct {
	ID              string
	CampaignID      string
	GroupID         string
	GroupName       string
	UserID          string
	UserEmail       string
	UserName        string
	ProviderManaged bool
	Decision        string
	Comment         string
	DecidedBy       string
	DeciderName     string
	DecidedAt       *time.Time
	Outcome         string
	AppliedAt       *time.Time
}

// TableName fixes the table name.
func (ReviewItemRow) TableName() string { return "review_items" }

// ReviewerRow is a row of review_reviewers.
type ReviewerRow struct {
	CampaignID string `gorm:"primaryKey"`
	GroupID    string `gorm:"primaryKey"`
	ReviewerID string `gorm:"primaryKey"`
}

// TableName fixes the table name.
func (ReviewerRow) TableName() string { return "review_reviewers" }

func campaignToDomain(r CampaignRow) pam.Campaign {
	return pam.Campaign{ID: r.ID, Name: r.Name, Scope: pam.ReviewScope(r.Scope), Reviewers: pam.ReviewerRule(r.Reviewers),
		Default: pam.ReviewDecision(r.DefaultDecision), Deadline: r.Deadline.UTC(), Status: pam.CampaignStatus(r.Status),
		StartedBy: pam.UserID(r.StartedBy), StartedByName: r.StartedByName, StartedAt: r.StartedAt.UTC(), ClosedAt: r.ClosedAt,
		ClosedByName: r.ClosedByName}
}

func itemToDomain(r ReviewItemRow) pam.ReviewItem {
	return pam.ReviewItem{ID: r.ID, CampaignID: r.CampaignID, GroupID: r.GroupID, GroupName: r.GroupName, UserID: pam.UserID(r.UserID),
		UserEmail: r.UserEmail, UserName: r.UserName, ProviderManaged: r.ProviderManaged, Decision: pam.ReviewDecision(r.Decision),
		Comment: r.Comment, DecidedBy: pam.UserID(r.DecidedBy), DeciderName: r.DeciderName, DecidedAt: r.DecidedAt,
		Outcome: pam.ReviewOutcome(r.Outcome), AppliedAt: r.AppliedAt}
}

// CreateCampaign inserts a campaign.
func (s *Store) CreateCampaign(ctx context.Context, c pam.Campaign) error {
	return s.conn(ctx).Create(&CampaignRow{ID: c.ID, Name: c.Name, Scope: string(c.Scope), Reviewers: string(c.Reviewers),
		DefaultDecision: string(c.Default), Deadline: c.Deadline.UTC(), Status: string(c.Status), StartedBy: string(c.StartedBy),
		StartedByName: c.StartedByName, StartedAt: c.StartedAt.UTC()}).Error
}

// CampaignByID returns a campaign with its counts of items, decided items and removals.
func (s *Store) CampaignByID(ctx context.Context, id string) (pam.Campaign, error) {
	return s.campaign(ctx, id, "")
}

// LockCampaign reads a campaign and, on PostgreSQL, locks its row until the transaction ends:
// "UPDATE" for the closer, "SHARE" for a decision (many decide at once; a close waits for them,
// and they wait for a close). SQLite's writers take turns anyway.
func (s *Store) LockCampaign(ctx context.Context, id, strength string) (pam.Campaign, error) {
	return s.campaign(ctx, id, strength)
}

func (s *Store) campaign(ctx context.Context, id, lock string) (pam.Campaign, error) {
	q := s.conn(ctx).Where("id = ?", id)
	if lock != "" && s.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: lock})
	}
	var r CampaignRow
	if err := q.Take(&r).Error; err != nil {
		return pam.Campaign{}, translate(err, "Campaign")
	}
	c := campaignToDomain(r)
	if lock != "" {
		return c, nil
	}
	counts, err := s.campaignCounts(ctx, []string{id})
	if err != nil {
		return c, err
	}
	withCounts(&c, counts[id])
	return c, nil
}

type campaignCount struct {
	CampaignID             string
	Items, Decided, Remove int
}

func withCounts(c *pam.Campaign, n campaignCount) {
	c.Items, c.Decided, c.Removed = n.Items, n.Decided, n.Remove
}

func (s *Store) campaignCounts(ctx context.Context, ids []string) (map[string]campaignCount, error) {
	out := map[string]campaignCount{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []campaignCount
	err := s.conn(ctx).Table("review_items").Select(`campaign_id, COUNT(*) AS items,
		SUM(CASE WHEN decision <> '' THEN 1 ELSE 0 END) AS decided,
		SUM(CASE WHEN outcome = 'removed' THEN 1 ELSE 0 END) AS remove`).
		Where("campaign_id IN ?", ids).Group("campaign_id").Find(&rows).Error
	for _, r := range rows {
		out[r.CampaignID] = r
	}
	return out, err
}

// Campaigns lists campaigns, newest first, one keyset page at a time, with their counts.
func (s *Store) Campaigns(ctx context.Context, after *pam.Cursor, limit int) ([]pam.Campaign, error) {
	q := s.conn(ctx).Model(&CampaignRow{}).Order("started_at DESC, id DESC").Limit(limit)
	if after != nil {
		q = q.Where("(started_at, id) < (?, ?)", after.At, after.ID)
	}
	var rows []CampaignRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	counts, err := s.campaignCounts(ctx, ids(rows, func(r CampaignRow) string { return r.ID }))
	out := mapRows(rows, campaignToDomain)
	for i := range out {
		withCounts(&out[i], counts[out[i].ID])
	}
	return out, err
}

// ReviewerCampaigns lists the open campaigns a user reviews in, newest first (bounded).
func (s *Store) ReviewerCampaigns(ctx context.Context, reviewer pam.UserID) ([]pam.Campaign, error) {
	var rows []CampaignRow
	err := s.conn(ctx).Model(&CampaignRow{}).
		Where("status = ? AND id IN (SELECT campaign_id FROM review_reviewers WHERE reviewer_id = ?)", string(pam.CampaignOpen), string(reviewer)).
		Order("started_at DESC, id DESC").Limit(50).Find(&rows).Error
	return mapRows(rows, campaignToDomain), err
}

// DueCampaigns lists the ids of campaigns the sweep should close at now: past their deadline,
// or left closing by a close that stopped half-way (bounded).
func (s *Store) DueCampaigns(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var out []string
	err := s.conn(ctx).Model(&CampaignRow{}).
		Where("status = ? OR (status = ? AND deadline <= ?)", string(pam.CampaignClosing), string(pam.CampaignOpen), now.UTC()).
		Order("deadline, id").Limit(limit).Pluck("id", &out).Error
	return out, err
}

// SetCampaignStatus moves a campaign from one state to another; it reports whether it did (a
// concurrent closer may have moved it first).
func (s *Store) SetCampaignStatus(ctx context.Context, id string, from, to pam.CampaignStatus, now time.Time, by string) (bool, error) {
	set := map[string]any{"status": string(to)}
	if to == pam.CampaignClosed {
		set["closed_at"], set["closed_by_name"] = now.UTC(), by
	}
	res := s.conn(ctx).Model(&CampaignRow{}).Where("id = ? AND status = ?", id, string(from)).Updates(set)
	return res.RowsAffected == 1, res.Error
}

// ---- snapshot

// Membership is one (group, member) pair a campaign snapshots.
type Membership struct {
	GroupID, GroupName       string
	UserID, UserEmail, UName string
}

// ActiveMemberships lists the enabled members of the given groups (all groups when all is
// true), in (group, user) order, one keyset page at a time: after is the last pair seen.
func (s *Store) ActiveMemberships(ctx context.Context, all bool, groupIDs []string, after Membership, limit int) ([]Membership, error) {
	q := s.conn(ctx).Table("group_members gm").
		Select("gm.group_id, g.name AS group_name, gm.user_id, u.email AS user_email, u.name AS u_name").
		Joins("JOIN groups g ON g.id = gm.group_id").
		Joins("JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL").
		Order("gm.group_id, gm.user_id").Limit(limit)
	if !all {
		q = q.Where("gm.group_id IN ?", groupIDs)
	}
	if after.GroupID != "" {
		q = q.Where("(gm.group_id, gm.user_id) > (?, ?)", after.GroupID, after.UserID)
	}
	var out []Membership
	err := q.Find(&out).Error
	return out, err
}

// PolicyGroupIDs returns the eligible and approver groups of the given policies; a policy with
// no approver group of its own names the organisation's default approver group.
func (s *Store) PolicyGroupIDs(ctx context.Context, policyIDs []string) ([]string, error) {
	var rows []PolicyRow
	if err := s.conn(ctx).Where("id IN ?", policyIDs).Find(&rows).Error; err != nil {
		return nil, err
	}
	distinct := map[string]bool{}
	for _, id := range policyIDs {
		distinct[id] = true
	}
	if len(rows) != len(distinct) {
		return nil, pam.FieldError("policies", "A chosen policy no longer exists.")
	}
	seen := map[string]bool{}
	var out []string
	add := func(id *string) {
		if id != nil && *id != "" && !seen[*id] {
			seen[*id] = true
			out = append(out, *id)
		}
	}
	var st OrgSettingsRow
	if err := s.conn(ctx).Where("id = 1").Take(&st).Error; err != nil {
		return nil, err
	}
	for _, p := range rows {
		add(p.EligibleGroupID)
		if p.ApproverGroupID != nil {
			add(p.ApproverGroupID)
		} else {
			add(st.DefaultApproverGroupID)
		}
	}
	return out, nil
}

// ActiveOwners returns the enabled owners of each of the given groups.
func (s *Store) ActiveOwners(ctx context.Context, groupIDs []string) (map[string][]pam.UserID, error) {
	out := map[string][]pam.UserID{}
	var rows []GroupOwnerRow
	q := s.conn(ctx).Table("group_owners o").Select("o.group_id, o.user_id").
		Joins("JOIN users u ON u.id = o.user_id AND u.disabled_at IS NULL").Order("o.group_id, o.user_id")
	if groupIDs != nil {
		q = q.Where("o.group_id IN ?", groupIDs)
	}
	err := q.Find(&rows).Error
	for _, r := range rows {
		out[r.GroupID] = append(out[r.GroupID], pam.UserID(r.UserID))
	}
	return out, err
}

// AddReviewItems inserts a batch of a campaign's items.
func (s *Store) AddReviewItems(ctx context.Context, items []pam.ReviewItem) error {
	if len(items) == 0 {
		return nil
	}
	rows := make([]ReviewItemRow, len(items))
	for i, it := range items {
		if it.ID == "" {
			it.ID = uuid.NewString()
		}
		rows[i] = ReviewItemRow{ID: it.ID, CampaignID: it.CampaignID, GroupID: it.GroupID, GroupName: it.GroupName, UserID: string(it.UserID),
			UserEmail: it.UserEmail, UserName: it.UserName, ProviderManaged: it.ProviderManaged}
	}
	return s.conn(ctx).CreateInBatches(rows, 200).Error
}

// AddReviewers names who may decide the items of one group of a campaign.
func (s *Store) AddReviewers(ctx context.Context, campaignID, groupID string, reviewers []pam.UserID) error {
	if len(reviewers) == 0 {
		return nil
	}
	rows := make([]ReviewerRow, len(reviewers))
	for i, r := range reviewers {
		rows[i] = ReviewerRow{CampaignID: campaignID, GroupID: groupID, ReviewerID: string(r)}
	}
	return s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 200).Error
}

// ReviewerLoad is how many items one reviewer may decide in a campaign (their own left out).
type ReviewerLoad struct {
	ReviewerID string
	N          int
}

// ReviewerLoads counts, for each reviewer of a campaign, the items they may decide; with
// undecided, only those nobody has decided yet.
func (s *Store) ReviewerLoads(ctx context.Context, campaignID string, undecided bool) ([]ReviewerLoad, error) {
	var out []ReviewerLoad
	q := s.conn(ctx).Table("review_reviewers r").Select("r.reviewer_id, COUNT(*) AS n").
		Joins("JOIN review_items i ON i.campaign_id = r.campaign_id AND i.group_id = r.group_id AND i.user_id <> r.reviewer_id").
		Where("r.campaign_id = ?", campaignID)
	if undecided {
		q = q.Where("i.decision = ''")
	}
	err := q.Group("r.reviewer_id").Order("r.reviewer_id").Find(&out).Error
	return out, err
}

// CampaignsToRemind lists the ids of open campaigns whose reviewers were not reminded yet, whose
// deadline is after now and at most lead away, and which started at least lead before now (a
// short campaign's invitation is its only mail), the nearest deadline first, at most limit.
func (s *Store) CampaignsToRemind(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]string, error) {
	now = now.UTC()
	var out []string
	err := s.conn(ctx).Model(&CampaignRow{}).
		Where("status = ? AND reminded_at IS NULL AND deadline > ? AND deadline <= ? AND started_at <= ?",
			string(pam.CampaignOpen), now, now.Add(lead), now.Add(-lead)).
		Order("deadline, id").Limit(limit).Pluck("id", &out).Error
	return out, err
}

// MarkCampaignReminded records that an open campaign's reviewers are being reminded; it reports
// whether it did, so of several processes sweeping at once exactly one reminds them.
func (s *Store) MarkCampaignReminded(ctx context.Context, id string, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&CampaignRow{}).Where("id = ? AND status = ? AND reminded_at IS NULL", id, string(pam.CampaignOpen)).
		Update("reminded_at", now.UTC())
	return res.RowsAffected == 1, res.Error
}

// ---- items

// ItemFilter selects a page of a campaign's items: all of them (the report), or those one
// reviewer may decide (their own membership left out).
type ItemFilter struct {
	CampaignID string
	Reviewer   pam.UserID
	After      *pam.ItemCursor
	Limit      int
}

// ReviewItems lists one keyset page of a campaign's items.
func (s *Store) ReviewItems(ctx context.Context, f ItemFilter) ([]pam.ReviewItem, error) {
	q := s.conn(ctx).Table("review_items i").Select("i.*").Where("i.campaign_id = ?", f.CampaignID).
		Order("i.group_name, i.user_email, i.id").Limit(f.Limit)
	if f.Reviewer != "" {
		q = q.Where("i.user_id <> ? AND EXISTS (SELECT 1 FROM review_reviewers r WHERE r.campaign_id = i.campaign_id AND r.group_id = i.group_id AND r.reviewer_id = ?)",
			string(f.Reviewer), string(f.Reviewer))
	}
	if a := f.After; a != nil {
		q = q.Where("(i.group_name, i.user_email, i.id) > (?, ?, ?)", a.Group, a.Email, a.ID)
	}
	var rows []ReviewItemRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	return mapRows(rows, itemToDomain), nil
}

// ReviewItem reads one item of a campaign; lock ("UPDATE") locks its row on PostgreSQL.
func (s *Store) ReviewItem(ctx context.Context, campaignID, id string, lock bool) (pam.ReviewItem, error) {
	q := s.conn(ctx).Where("id = ? AND campaign_id = ?", id, campaignID)
	if lock && s.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var r ReviewItemRow
	if err := q.Take(&r).Error; err != nil {
		return pam.ReviewItem{}, translate(err, "Review item")
	}
	return itemToDomain(r), nil
}

// IsReviewer reports whether a user may decide the items of a group in a campaign.
func (s *Store) IsReviewer(ctx context.Context, campaignID, groupID string, userID pam.UserID) (bool, error) {
	var n int64
	err := s.conn(ctx).Model(&ReviewerRow{}).Where("campaign_id = ? AND group_id = ? AND reviewer_id = ?", campaignID, groupID, string(userID)).Count(&n).Error
	return n > 0, err
}

// IsCampaignReviewer reports whether a user reviews anything in a campaign.
func (s *Store) IsCampaignReviewer(ctx context.Context, campaignID string, userID pam.UserID) (bool, error) {
	var n int64
	err := s.conn(ctx).Model(&ReviewerRow{}).Where("campaign_id = ? AND reviewer_id = ?", campaignID, string(userID)).Limit(1).Count(&n).Error
	return n > 0, err
}

// SaveReviewDecision writes an item's decision while it has no outcome yet.
func (s *Store) SaveReviewDecision(ctx context.Context, it pam.ReviewItem) error {
	res := s.conn(ctx).Model(&ReviewItemRow{}).Where("id = ? AND outcome = ''", it.ID).Updates(map[string]any{
		"decision": string(it.Decision), "comment": it.Comment, "decided_by": string(it.DecidedBy),
		"decider_name": it.DeciderName, "decided_at": it.DecidedAt.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ECONFLICT, "This membership was already settled.")
	}
	return nil
}

// ItemsToRemove lists the ids of a campaign's items that closing must still remove: decided
// "remove", or undecided when the default is remove (bounded, by id after after).
func (s *Store) ItemsToRemove(ctx context.Context, campaignID string, def pam.ReviewDecision, after string, limit int) ([]string, error) {
	q := s.conn(ctx).Model(&ReviewItemRow{}).Where("campaign_id = ? AND outcome = '' AND id > ?", campaignID, after)
	if def == pam.ReviewRemove {
		q = q.Where("decision <> ?", string(pam.ReviewKeep))
	} else {
		q = q.Where("decision = ?", string(pam.ReviewRemove))
	}
	var out []string
	err := q.Order("id").Limit(limit).Pluck("id", &out).Error
	return out, err
}

// CountClosingRemovals counts what closing a campaign would remove at now, by the rule
// ItemsToRemove and the close apply: memberships still held, in groups edited by hand, whose
// item is decided "remove" (or undecided under a remove default); and, among their members'
// requests under the policies those groups make them eligible for, the pending ones and the
// grants in force or scheduled that leaving would end.
func (s *Store) CountClosingRemovals(ctx context.Context, campaignID string, def pam.ReviewDecision, now time.Time) (memberships, pending, grants int64, err error) {
	decided := "i.decision = @remove"
	if def == pam.ReviewRemove {
		decided = "i.decision <> @keep"
	}
	gone := `SELECT i.group_id, i.user_id FROM review_items i JOIN groups g ON g.id = i.group_id
		WHERE i.campaign_id = @campaign AND i.outcome = '' AND ` + decided + ` AND i.provider_managed = @no AND g.idp_value = ''
			AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = i.group_id AND gm.user_id = i.user_id)`
	ended := `SELECT COUNT(*) FROM requests r WHERE %s AND EXISTS (SELECT 1 FROM gone JOIN policies p
		ON p.eligible_group_id = gone.group_id WHERE p.id = r.policy_id AND gone.user_id = r.requester_id)`
	var out struct{ Memberships, Pending, Grants int64 }
	err = s.conn(ctx).Raw(`WITH gone AS (`+gone+`) SELECT (SELECT COUNT(*) FROM gone) AS memberships, (`+
		fmt.Sprintf(ended, "r.status = 'pending' AND r.pending_until > @now")+`) AS pending, (`+
		fmt.Sprintf(ended, "r.status = 'approved' AND r.ends_at > @now")+`) AS grants`,
		map[string]any{"campaign": campaignID, "remove": string(pam.ReviewRemove), "keep": string(pam.ReviewKeep), "no": false, "now": now.UTC()}).
		Find(&out).Error
	return out.Memberships, out.Pending, out.Grants, err
}

// SetItemOutcome writes what closing did to an item, once: it reports false when the item
// already had an outcome.
func (s *Store) SetItemOutcome(ctx context.Context, id string, o pam.ReviewOutcome, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&ReviewItemRow{}).Where("id = ? AND outcome = ''", id).
		Updates(map[string]any{"outcome": string(o), "applied_at": now.UTC()})
	return res.RowsAffected == 1, res.Error
}

// KeepRest marks every item of a campaign still without an outcome as kept, and returns how many.
func (s *Store) KeepRest(ctx context.Context, campaignID string, now time.Time) (int64, error) {
	res := s.conn(ctx).Model(&ReviewItemRow{}).Where("campaign_id = ? AND outcome = ''", campaignID).
		Updates(map[string]any{"outcome": string(pam.OutcomeKept), "applied_at": now.UTC()})
	return res.RowsAffected, res.Error
}

// ---- what a membership lets its member do

// GroupPolicies lists, for each of the given groups, the policies it makes its members
// eligible for or approvers of (at most 200 in all). Policies without an approver group of their
// own count for the organisation's default approver group.
func (s *Store) GroupPolicies(ctx context.Context, groupIDs []string) ([]pam.GroupPolicy, error) {
	if len(groupIDs) == 0 {
		return nil, nil
	}
	var st OrgSettingsRow
	if err := s.conn(ctx).Where("id = 1").Take(&st).Error; err != nil {
		return nil, err
	}
	def := deref(st.DefaultApproverGroupID)
	q := s.conn(ctx).Where("approver_group_id IN ? OR eligible_group_id IN ?", groupIDs, groupIDs)
	in := map[string]bool{}
	for _, id := range groupIDs {
		in[id] = true
	}
	if def != "" && in[def] {
		q = q.Or("approver_group_id IS NULL")
	}
	var rows []PolicyRow
	if err := q.Order("created_at, id").Limit(200).Find(&rows).Error; err != nil {
		return nil, err
	}
	var out []pam.GroupPolicy
	for _, p := range rows {
		name, err := s.scopeName(ctx, pam.ScopeType(p.ScopeType), p.ScopeID)
		if err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
			return nil, err
		}
		if e := deref(p.EligibleGroupID); in[e] {
			out = append(out, pam.GroupPolicy{GroupID: e, PolicyID: p.ID, ScopeName: name, Role: "eligible"})
		}
		a := deref(p.ApproverGroupID)
		if a == "" {
			a = def
		}
		if in[a] {
			out = append(out, pam.GroupPolicy{GroupID: a, PolicyID: p.ID, ScopeName: name, Role: "approver"})
		}
	}
	return out, nil
}

// LastRequestOf returns a user's newest request (one read of requests_requester_idx); found
// is false when they never asked.
func (s *Store) LastRequestOf(ctx context.Context, userID pam.UserID) (pam.LastRequest, bool, error) {
	var rows []pam.LastRequest
	err := s.conn(ctx).Table("requests").Select("id, scope_name, status, created_at").Where("requester_id = ?", string(userID)).
		Order("created_at DESC, id DESC").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return pam.LastRequest{}, false, err
	}
	return rows[0], true, nil
}

// LastCheckOf returns the time and outcome of the newest sealed check about a user (one read of
// audit_events_subject_seq_idx); found is false when none was seen.
func (s *Store) LastCheckOf(ctx context.Context, userID pam.UserID) (at time.Time, outcome string, found bool, err error) {
	var rows []struct {
		At      time.Time
		Outcome string
	}
	err = s.conn(ctx).Table("audit_events").Select("at, outcome").Where("subject_id = ? AND seq IS NOT NULL", string(userID)).
		Order("seq DESC").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return time.Time{}, "", false, err
	}
	return rows[0].At.UTC(), rows[0].Outcome, true, nil
}

// ActiveAdminIDs lists the enabled administrators (bounded), without locking them.
func (s *Store) ActiveAdminIDs(ctx context.Context) ([]pam.UserID, error) {
	var out []string
	err := s.conn(ctx).Model(&UserRow{}).Where("admin AND disabled_at IS NULL").Order("id").Limit(500).Pluck("id", &out).Error
	return mapRows(out, func(id string) pam.UserID { return pam.UserID(id) }), err
}
