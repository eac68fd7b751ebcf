package admin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// ReviewMailer queues a reviewer's invitation to a campaign inside the transaction that starts
// it, and the reminder of a reviewer who still has memberships to decide when its deadline nears.
type ReviewMailer interface {
	ReviewRequested(ctx context.Context, tx *store.Store, inv ReviewInvite) error
	ReviewReminded(ctx context.Context, tx *store.Store, inv ReviewInvite) error
}

// ReminderLead is how long before a campaign's deadline its reviewers who still have memberships
// to decide are reminded, once; a campaign that ran for less than that sends no reminder.
const ReminderLead = 24 * time.Hour

// ReviewInvite is a campaign as one of its reviewers hears of it.
type ReviewInvite struct {
	Campaign pam.Campaign
	Reviewer pam.User
	Items    int // memberships this reviewer may decide
}

// ProviderManaged reports, inside a transaction, whether the identity provider manages a
// group's members. Closing a campaign never removes a member of such a group: the item is
// listed as "remove in the identity provider" instead.
type ProviderManaged func(ctx context.Context, tx *store.Store, groupID string) (bool, error)

// SetReviewMailer makes a new campaign mail its reviewers.
func (s *Service) SetReviewMailer(m ReviewMailer) { s.reviewMailer = m }

// CampaignNotifier hears, inside the transaction, that a campaign started or closed (action
// names which); the webhook service is one.
type CampaignNotifier interface {
	CampaignChanged(ctx context.Context, tx *store.Store, action audit.Action, actor audit.Actor, c pam.Campaign) error
}

// SetCampaignNotifier makes starting and closing a campaign tell n, in their transactions.
func (s *Service) SetCampaignNotifier(n CampaignNotifier) { s.campaignNotifier = n }

// notifyCampaign tells the campaign notifier, when there is one, of a change of c.
func (s *Service) notifyCampaign(ctx context.Context, tx *store.Store, action audit.Action, a audit.Actor, c pam.Campaign) error {
	if s.campaignNotifier == nil {
		return nil
	}
	return s.campaignNotifier.CampaignChanged(ctx, tx, action, a, c)
}

// SetProviderManaged names the groups the identity provider manages; without it none is.
func (s *Service) SetProviderManaged(f ProviderManaged) { s.providerManaged = f }

// ---- group owners

// AddOwner names a user an owner of a group: a reviewer of its members in access reviews.
func (s *Service) AddOwner(ctx context.Context, a audit.Actor, groupID string, userID pam.UserID) error {
	return s.tx(ctx, func(tx *store.Store) error {
		g, u, err := groupAndUser(ctx, tx, groupID, userID)
		if err != nil {
			return err
		}
		if !u.Active() {
			return pam.Errorf(pam.ECONFLICT, "%s is disabled and cannot own a group.", u.Email)
		}
		if err := tx.AddOwner(ctx, groupID, u.ID, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.GroupOwnerAdded, "group", groupID, membershipDetails(g, u))
	})
}

// RemoveOwner takes a user off a group's owners.
func (s *Service) RemoveOwner(ctx context.Context, a audit.Actor, groupID string, userID pam.UserID) error {
	return s.tx(ctx, func(tx *store.Store) error {
		g, u, err := groupAndUser(ctx, tx, groupID, userID)
		if err != nil {
			return err
		}
		if err := tx.RemoveOwner(ctx, groupID, u.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.GroupOwnerRemoved, "group", groupID, membershipDetails(g, u))
	})
}

// ---- campaigns

// snapshotBatch is how many memberships a start reads and writes at a time.
const snapshotBatch = 500

// StartCampaign starts an access review: in one transaction it snapshots the memberships of the
// chosen groups as items, names each group's reviewers (its enabled owners, or the enabled
// administrators; a group without an owner falls back to them, and so does a group whose only
// owner is one of its members), records review_campaign.started and mails each reviewer.
func (s *Service) StartCampaign(ctx context.Context, a audit.Actor, in pam.CampaignInput) (pam.Campaign, error) {
	now := s.now()
	c, err := pam.NewCampaign(in, now)
	if err != nil {
		return pam.Campaign{}, err
	}
	c.ID, c.StartedBy, c.StartedByName = uuid.NewString(), pam.UserID(a.ID), a.Name
	err = s.tx(ctx, func(tx *store.Store) error {
		var groupIDs []string
		if c.Scope == pam.ReviewPolicyGroups {
			if groupIDs, err = tx.PolicyGroupIDs(ctx, in.PolicyIDs); err != nil {
				return err
			}
			if len(groupIDs) == 0 {
				return pam.FieldError("policies", "The chosen policies name no group: everyone may ask under them and the default approver group is not set.")
			}
		}
		if err := tx.CreateCampaign(ctx, c); err != nil {
			return err
		}
		members := map[string]map[pam.UserID]bool{}
		managed := map[string]bool{} // per group, asked once
		var after store.Membership
		for {
			ms, err := tx.ActiveMemberships(ctx, c.Scope == pam.ReviewAllGroups, groupIDs, after, snapshotBatch)
			if err != nil {
				return err
			}
			items := make([]pam.ReviewItem, 0, len(ms))
			for _, m := range ms {
				if members[m.GroupID] == nil {
					members[m.GroupID] = map[pam.UserID]bool{}
					if s.providerManaged != nil {
						if managed[m.GroupID], err = s.providerManaged(ctx, tx, m.GroupID); err != nil {
							return err
						}
					}
				}
				members[m.GroupID][pam.UserID(m.UserID)] = true
				items = append(items, pam.ReviewItem{ID: uuid.NewString(), CampaignID: c.ID, GroupID: m.GroupID, GroupName: m.GroupName,
					UserID: pam.UserID(m.UserID), UserEmail: m.UserEmail, UserName: m.UName, ProviderManaged: managed[m.GroupID]})
			}
			if err := tx.AddReviewItems(ctx, items); err != nil {
				return err
			}
			c.Items += len(ms)
			if len(ms) < snapshotBatch {
				break
			}
			after = ms[len(ms)-1]
		}
		if c.Items == 0 {
			return pam.FieldError("scope", "The chosen groups have no enabled members: there is nothing to review.")
		}
		if err := s.assignReviewers(ctx, tx, c, members); err != nil {
			return err
		}
		if err := s.record(ctx, tx, a, audit.ReviewCampaignStarted, "review_campaign", c.ID, map[string]any{
			"name": c.Name, "scope": string(c.Scope), "policies": in.PolicyIDs, "reviewers": string(c.Reviewers),
			"default": string(c.Default), "deadline": c.Deadline.Format(time.RFC3339), "items": c.Items, "groups": len(members)}); err != nil {
			return err
		}
		if err := s.notifyCampaign(ctx, tx, audit.ReviewCampaignStarted, a, c); err != nil {
			return err
		}
		return s.inviteReviewers(ctx, tx, c)
	})
	if err != nil {
		return pam.Campaign{}, fmt.Errorf("start campaign %s: %w", c.Name, err)
	}
	return c, nil
}

// assignReviewers names who decides each group's items.
func (s *Service) assignReviewers(ctx context.Context, tx *store.Store, c pam.Campaign, members map[string]map[pam.UserID]bool) error {
	admins, err := tx.ActiveAdminIDs(ctx)
	if err != nil {
		return err
	}
	groups := make([]string, 0, len(members))
	for g := range members {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	owners := map[string][]pam.UserID{}
	if c.Reviewers == pam.ReviewByOwners {
		if owners, err = tx.ActiveOwners(ctx, groups); err != nil {
			return err
		}
	}
	for _, g := range groups {
		rs := owners[g]
		// Nobody reviews their own membership: a sole owner who is also a member would leave
		// that membership to the default, so the administrators review it as well.
		if len(rs) == 0 || (len(rs) == 1 && members[g][rs[0]]) {
			rs = append(rs, admins...)
		}
		if err := tx.AddReviewers(ctx, c.ID, g, rs); err != nil {
			return err
		}
	}
	return nil
}

// inviteReviewers mails each reviewer who has something to decide.
func (s *Service) inviteReviewers(ctx context.Context, tx *store.Store, c pam.Campaign) error {
	if s.reviewMailer == nil {
		return nil
	}
	return eachReviewer(ctx, tx, c, false, func(inv ReviewInvite) error { return s.reviewMailer.ReviewRequested(ctx, tx, inv) })
}

// eachReviewer calls fn for each active reviewer of c with items they may decide (with
// undecided, items nobody decided yet), with how many.
func eachReviewer(ctx context.Context, tx *store.Store, c pam.Campaign, undecided bool, fn func(ReviewInvite) error) error {
	loads, err := tx.ReviewerLoads(ctx, c.ID, undecided)
	if err != nil {
		return err
	}
	for _, l := range loads {
		u, err := tx.UserByID(ctx, pam.UserID(l.ReviewerID))
		if err != nil {
			return err
		}
		if !u.Active() || l.N == 0 {
			continue
		}
		if err := fn(ReviewInvite{Campaign: c, Reviewer: u, Items: l.N}); err != nil {
			return err
		}
	}
	return nil
}

// Decision is one reviewer's answer for one item.
type Decision struct {
	ItemID   string
	Decision pam.ReviewDecision
	Comment  string
}

// DecideItem records a reviewer's decision on one item of an open campaign, with its audit
// event, in one transaction. Only a reviewer of the item's group may decide it (others get
// ENOTFOUND), never on their own membership (EFORBIDDEN); a campaign that is closing or
// closed refuses (ECONFLICT).
func (s *Service) DecideItem(ctx context.Context, a audit.Actor, campaignID string, d Decision) (pam.ReviewItem, error) {
	var out pam.ReviewItem
	err := s.tx(ctx, func(tx *store.Store) error {
		var err error
		out, err = s.decide(ctx, tx, a, campaignID, d)
		return err
	})
	return out, err
}

// DecideItems records the same decision on up to pam.MaxBulkReview items, each in its own
// transaction with its own event. It stops at the first refusal and returns what was decided.
func (s *Service) DecideItems(ctx context.Context, a audit.Actor, campaignID string, itemIDs []string, decision pam.ReviewDecision, comment string) ([]pam.ReviewItem, error) {
	if len(itemIDs) == 0 {
		return nil, pam.FieldError("items", "Tick the memberships to decide.")
	}
	if len(itemIDs) > pam.MaxBulkReview {
		return nil, pam.FieldError("items", "Decide at most %d memberships at once.", pam.MaxBulkReview)
	}
	var done []pam.ReviewItem
	for _, id := range itemIDs {
		it, err := s.DecideItem(ctx, a, campaignID, Decision{ItemID: id, Decision: decision, Comment: comment})
		if err != nil {
			return done, err
		}
		done = append(done, it)
	}
	return done, nil
}

func (s *Service) decide(ctx context.Context, tx *store.Store, a audit.Actor, campaignID string, d Decision) (pam.ReviewItem, error) {
	c, err := tx.LockCampaign(ctx, campaignID, "SHARE")
	if err != nil {
		return pam.ReviewItem{}, err
	}
	it, err := tx.ReviewItem(ctx, c.ID, d.ItemID, true)
	if err != nil {
		return pam.ReviewItem{}, err
	}
	by := pam.UserID(a.ID)
	ok, err := tx.IsReviewer(ctx, c.ID, it.GroupID, by)
	if err != nil {
		return pam.ReviewItem{}, err
	}
	if !ok {
		return pam.ReviewItem{}, pam.Errorf(pam.ENOTFOUND, "Review item not found.")
	}
	before := it.Decision
	if err := it.Decide(c, by, d.Decision, d.Comment, s.now()); err != nil {
		return pam.ReviewItem{}, err
	}
	it.DeciderName = a.Name
	if u, err := tx.UserByID(ctx, by); err == nil {
		it.DeciderName = u.Name
	}
	if err := tx.SaveReviewDecision(ctx, it); err != nil {
		return pam.ReviewItem{}, err
	}
	return it, s.record(ctx, tx, a, audit.ReviewItemDecided, "review_campaign", c.ID, map[string]any{
		"campaign": c.Name, "item_id": it.ID, "group": it.GroupName, "group_id": it.GroupID, "user": it.UserEmail,
		"user_id": string(it.UserID), "decision": string(it.Decision), "before": string(before), "comment": it.Comment})
}

// closeBatch is how many removals closing looks up at a time.
const closeBatch = 100

// CloseCampaign closes a campaign (an administrator's choice, or the sweep's at the deadline)
// and applies its removals: each decided "remove" item, and each undecided one when the
// default is remove, is taken out of its group through the group page's own use case, one
// transaction per item with its review_item.applied event. A provider-managed group's item is
// only marked "remove in the identity provider". The rest are marked kept, and
// review_campaign.closed is recorded once. Closing a closed campaign changes nothing, and two
// processes closing at once apply each removal once: an item's outcome is written under its
// row lock, only while it has none.
func (s *Service) CloseCampaign(ctx context.Context, a audit.Actor, id string) (pam.Campaign, error) {
	c, _, err := s.CloseCampaignEnding(ctx, a, id)
	return c, err
}

// CloseCampaignEnding is CloseCampaign that also reports what the removals it applied ended
// with them (grants revoked, pending requests cancelled); a removal another closer applied
// meanwhile is not counted.
func (s *Service) CloseCampaignEnding(ctx context.Context, a audit.Actor, id string) (pam.Campaign, Ended, error) {
	var ended Ended
	c, err := s.closeCampaign(ctx, a, id, &ended)
	return c, ended, err
}

// Closing is what closing a campaign would change now: the memberships it would remove (decided
// "remove", or unreviewed under a remove default, still members, in groups edited by hand)
// and what their removal would end.
type Closing struct {
	Memberships int64
	Ended
}

// WhatClosingRemoves counts, before the change, what closing campaign id would remove now (see
// Closing); a closed campaign removes nothing more.
func (s *Service) WhatClosingRemoves(ctx context.Context, id string) (Closing, error) {
	c, err := s.db.CampaignByID(ctx, id)
	if err != nil || c.Status == pam.CampaignClosed {
		return Closing{}, err
	}
	m, pending, grants, err := s.db.CountClosingRemovals(ctx, id, c.Default, s.now())
	return Closing{Memberships: m, Ended: Ended{Cancelled: pending, Revoked: grants}}, err
}

func (s *Service) closeCampaign(ctx context.Context, a audit.Actor, id string, ended *Ended) (pam.Campaign, error) {
	var c pam.Campaign
	err := s.tx(ctx, func(tx *store.Store) error {
		var err error
		if c, err = tx.LockCampaign(ctx, id, "UPDATE"); err != nil {
			return err
		}
		if c.Status == pam.CampaignOpen {
			if _, err := tx.SetCampaignStatus(ctx, id, pam.CampaignOpen, pam.CampaignClosing, s.now(), ""); err != nil {
				return err
			}
			c.Status = pam.CampaignClosing
		}
		return nil
	})
	if err != nil || c.Status == pam.CampaignClosed {
		return c, err
	}
	after := ""
	for {
		ids, err := s.db.ItemsToRemove(ctx, id, c.Default, after, closeBatch)
		if err != nil {
			return c, err
		}
		for _, itemID := range ids {
			var e Ended
			if err := s.tx(ctx, func(tx *store.Store) (err error) { e, err = s.applyRemoval(ctx, tx, a, c, itemID); return err }); err != nil {
				return c, fmt.Errorf("close campaign %s: item %s: %w", id, itemID, err)
			}
			ended.Cancelled += e.Cancelled
			ended.Revoked += e.Revoked
		}
		if len(ids) < closeBatch {
			break
		}
		after = ids[len(ids)-1]
	}
	err = s.tx(ctx, func(tx *store.Store) error {
		cur, err := tx.LockCampaign(ctx, id, "UPDATE")
		if err != nil || cur.Status == pam.CampaignClosed {
			return err
		}
		now := s.now()
		kept, err := tx.KeepRest(ctx, id, now)
		if err != nil {
			return err
		}
		if _, err := tx.SetCampaignStatus(ctx, id, pam.CampaignClosing, pam.CampaignClosed, now, a.Name); err != nil {
			return err
		}
		done, err := tx.CampaignByID(ctx, id)
		if err != nil {
			return err
		}
		c = done
		if err := s.record(ctx, tx, a, audit.ReviewCampaignClosed, "review_campaign", id, map[string]any{
			"name": c.Name, "items": c.Items, "decided": c.Decided, "removed": c.Removed, "kept": kept,
			"deadline_passed": !now.Before(c.Deadline)}); err != nil {
			return err
		}
		return s.notifyCampaign(ctx, tx, audit.ReviewCampaignClosed, a, c)
	})
	if err != nil {
		return c, err
	}
	return s.db.CampaignByID(ctx, id)
}

// applyRemoval settles one item that closing removes, inside tx, and reports what its removal
// ended (nothing when another closer settled it, or nobody was removed).
func (s *Service) applyRemoval(ctx context.Context, tx *store.Store, a audit.Actor, c pam.Campaign, itemID string) (Ended, error) {
	it, err := tx.ReviewItem(ctx, c.ID, itemID, true)
	if err != nil || it.Outcome != "" {
		return Ended{}, err // another closer settled it
	}
	var ended Ended
	outcome := pam.OutcomeRemoved
	managed := it.ProviderManaged
	if !managed && s.providerManaged != nil {
		// A group the provider came to manage after the campaign started is left to it too.
		if managed, err = s.providerManaged(ctx, tx, it.GroupID); err != nil {
			return Ended{}, err
		}
	}
	switch member, err := tx.IsMember(ctx, it.GroupID, it.UserID); {
	case err != nil:
		return Ended{}, err
	case managed:
		outcome = pam.OutcomeRemoveInIdP
	case !member:
		outcome = pam.OutcomeNotMember
	default:
		if ended, err = s.removeMember(ctx, tx, a, it.GroupID, it.UserID, nil); err != nil {
			return Ended{}, err
		}
	}
	if ok, err := tx.SetItemOutcome(ctx, it.ID, outcome, s.now()); err != nil || !ok {
		if err == nil {
			err = pam.Errorf(pam.ECONFLICT, "The item was settled meanwhile.")
		}
		return Ended{}, err
	}
	return ended, s.record(ctx, tx, a, audit.ReviewItemApplied, "review_campaign", c.ID, map[string]any{
		"campaign": c.Name, "item_id": it.ID, "group": it.GroupName, "group_id": it.GroupID, "user": it.UserEmail,
		"user_id": string(it.UserID), "decision": string(it.Effective(c.Default)), "reviewed": it.Decision != "", "outcome": string(outcome)})
}

// RemindDueCampaigns reminds, as the system, the reviewers of each open campaign whose deadline
// is less than ReminderLead away (see store.CampaignsToRemind): each active reviewer with
// memberships nobody decided yet gets one mail with how many wait, in one transaction per
// campaign with its review_campaign.reminded event. The sweep calls it; a campaign is reminded
// once whatever the number of processes. It returns how many campaigns it reminded.
func (s *Service) RemindDueCampaigns(ctx context.Context) (int, error) {
	now := s.now()
	ids, err := s.db.CampaignsToRemind(ctx, now, ReminderLead, 20)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		var done bool
		err := s.tx(ctx, func(tx *store.Store) error {
			ok, err := tx.MarkCampaignReminded(ctx, id, now)
			if err != nil || !ok {
				return err
			}
			c, err := tx.CampaignByID(ctx, id)
			if err != nil {
				return err
			}
			reminded, items := 0, 0
			err = eachReviewer(ctx, tx, c, true, func(inv ReviewInvite) error {
				reminded, items = reminded+1, items+inv.Items
				if s.reviewMailer == nil {
					return nil
				}
				return s.reviewMailer.ReviewReminded(ctx, tx, inv)
			})
			if err != nil {
				return err
			}
			done = true
			return s.record(ctx, tx, audit.System, audit.ReviewCampaignReminded, "review_campaign", id, map[string]any{
				"campaign": c.Name, "reviewers": reminded, "undecided": items})
		})
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// CloseDueCampaigns closes, as the system, every campaign whose deadline passed (and finishes any
// close that stopped half-way); the sweep calls it. It returns how many it closed.
func (s *Service) CloseDueCampaigns(ctx context.Context) (int, error) {
	ids, err := s.db.DueCampaigns(ctx, s.now(), 20)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, err := s.CloseCampaign(ctx, audit.System, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Campaign returns one campaign with its counts.
func (s *Service) Campaign(ctx context.Context, id string) (pam.Campaign, error) {
	return s.db.CampaignByID(ctx, id)
}
