package admin

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// ItemContext is an item with what its membership lets the member do, as a reviewer needs it.
type ItemContext struct {
	pam.ReviewItem
	// Policies are the policies the group makes the member eligible for or an approver of.
	Policies []pam.GroupPolicy
	// LastRequest is the member's newest request, when they ever asked.
	LastRequest *pam.LastRequest
	// LastCheck is the newest check seen about the member, with its outcome, when any.
	LastCheck        *time.Time
	LastCheckOutcome string
}

// ReviewPage is one page of the items a reviewer decides in a campaign.
type ReviewPage struct {
	Campaign pam.Campaign
	Items    []ItemContext
	// Next is the cursor of the following page, nil on the last one.
	Next *pam.ItemCursor
}

// ReviewerPage returns a page of the items viewer may decide in a campaign (their own
// memberships left out), each with its context: one query for the group's policies per page,
// and one indexed read each for the member's last request and last check. Someone who reviews
// nothing in the campaign gets ENOTFOUND.
func (s *Service) ReviewerPage(ctx context.Context, viewer pam.UserID, campaignID string, after *pam.ItemCursor, limit int) (ReviewPage, error) {
	c, err := s.db.CampaignByID(ctx, campaignID)
	if err != nil {
		return ReviewPage{}, err
	}
	ok, err := s.db.IsCampaignReviewer(ctx, campaignID, viewer)
	if err != nil {
		return ReviewPage{}, err
	}
	if !ok {
		return ReviewPage{}, pam.Errorf(pam.ENOTFOUND, "Campaign not found.")
	}
	items, err := s.db.ReviewItems(ctx, store.ItemFilter{CampaignID: campaignID, Reviewer: viewer, After: after, Limit: limit + 1})
	if err != nil {
		return ReviewPage{}, err
	}
	p := ReviewPage{Campaign: c}
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		p.Next = &pam.ItemCursor{Group: last.GroupName, Email: last.UserEmail, ID: last.ID}
	}
	groups := map[string]bool{}
	var gids []string
	for _, it := range items {
		if !groups[it.GroupID] {
			groups[it.GroupID] = true
			gids = append(gids, it.GroupID)
		}
	}
	pols, err := s.db.GroupPolicies(ctx, gids)
	if err != nil {
		return ReviewPage{}, err
	}
	byGroup := map[string][]pam.GroupPolicy{}
	for _, gp := range pols {
		byGroup[gp.GroupID] = append(byGroup[gp.GroupID], gp)
	}
	for _, it := range items {
		ic, err := s.itemContext(ctx, it, byGroup[it.GroupID])
		if err != nil {
			return ReviewPage{}, err
		}
		p.Items = append(p.Items, ic)
	}
	return p, nil
}

func (s *Service) itemContext(ctx context.Context, it pam.ReviewItem, pols []pam.GroupPolicy) (ItemContext, error) {
	ic := ItemContext{ReviewItem: it, Policies: pols}
	lr, found, err := s.db.LastRequestOf(ctx, it.UserID)
	if err != nil {
		return ic, err
	}
	if found {
		ic.LastRequest = &lr
	}
	at, outcome, found, err := s.db.LastCheckOf(ctx, it.UserID)
	if err != nil {
		return ic, err
	}
	if found {
		ic.LastCheck, ic.LastCheckOutcome = &at, outcome
	}
	return ic, nil
}

// ReviewerItem returns one item with its context for a reviewer who may decide it (after an
// inline decision, to draw its row again).
func (s *Service) ReviewerItem(ctx context.Context, viewer pam.UserID, campaignID, itemID string) (ItemContext, error) {
	it, err := s.db.ReviewItem(ctx, campaignID, itemID, false)
	if err != nil {
		return ItemContext{}, err
	}
	ok, err := s.db.IsReviewer(ctx, campaignID, it.GroupID, viewer)
	if err != nil {
		return ItemContext{}, err
	}
	if !ok || it.UserID == viewer {
		return ItemContext{}, pam.Errorf(pam.ENOTFOUND, "Review item not found.")
	}
	pols, err := s.db.GroupPolicies(ctx, []string{it.GroupID})
	if err != nil {
		return ItemContext{}, err
	}
	return s.itemContext(ctx, it, pols)
}

// ReviewerCampaigns lists the open campaigns a user reviews in.
func (s *Service) ReviewerCampaigns(ctx context.Context, viewer pam.UserID) ([]pam.Campaign, error) {
	return s.db.ReviewerCampaigns(ctx, viewer)
}

// Campaigns lists campaigns, newest first, one keyset page at a time.
func (s *Service) Campaigns(ctx context.Context, after *pam.Cursor, limit int) ([]pam.Campaign, error) {
	return s.db.Campaigns(ctx, after, limit)
}

// CampaignItems lists one keyset page of a campaign's items, for its report.
func (s *Service) CampaignItems(ctx context.Context, campaignID string, after *pam.ItemCursor, limit int) ([]pam.ReviewItem, error) {
	return s.db.ReviewItems(ctx, store.ItemFilter{CampaignID: campaignID, After: after, Limit: limit})
}

// GroupOwners lists a group's owners.
func (s *Service) GroupOwners(ctx context.Context, groupID string) ([]pam.User, error) {
	return s.db.GroupOwners(ctx, groupID)
}
