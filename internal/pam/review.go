package pam

import (
	"strings"
	"time"
)

// An access review campaign asks accountable people whether each member of some groups should
// stay: who may still ask (eligible groups) and who may still approve (approver groups). Its
// items are a snapshot of the memberships taken when it starts; each is kept or removed.

// ReviewScope says which groups a campaign covers.
type ReviewScope string

// Campaign scopes.
const (
	ReviewAllGroups    ReviewScope = "all"      // every group
	ReviewPolicyGroups ReviewScope = "policies" // the eligible and approver groups of chosen policies
)

// ReviewerRule says who reviews a group's members.
type ReviewerRule string

// Reviewer rules. A group without an enabled owner falls back to the administrators.
const (
	ReviewByOwners ReviewerRule = "owners"
	ReviewByAdmins ReviewerRule = "admins"
)

// ReviewDecision is a reviewer's answer for one membership, or a campaign's default for an
// item nobody answered.
type ReviewDecision string

// Review decisions.
const (
	ReviewKeep   ReviewDecision = "keep"
	ReviewRemove ReviewDecision = "remove"
)

// CampaignStatus is where a campaign stands. Closing means its removals are being applied:
// nobody decides any more, and whichever process sweeps next finishes the work.
type CampaignStatus string

// Campaign states.
const (
	CampaignOpen    CampaignStatus = "open"
	CampaignClosing CampaignStatus = "closing"
	CampaignClosed  CampaignStatus = "closed"
)

// ReviewOutcome is what closing a campaign did to one item ("" until then).
type ReviewOutcome string

// Review outcomes.
const (
	OutcomeKept        ReviewOutcome = "kept"
	OutcomeRemoved     ReviewOutcome = "removed"
	OutcomeNotMember   ReviewOutcome = "not_member"    // already gone when the removal came
	OutcomeRemoveInIdP ReviewOutcome = "remove_in_idp" // the identity provider manages the group
)

// Bounds of a campaign.
const (
	MaxCampaignPolicies = 50
	MaxReviewDeadline   = 90 * 24 * time.Hour
	MinReviewDeadline   = time.Hour
	MaxBulkReview       = 50
)

// Campaign is one access review campaign.
type Campaign struct {
	ID            string
	Name          string
	Scope         ReviewScope
	Reviewers     ReviewerRule
	Default       ReviewDecision
	Deadline      time.Time
	Status        CampaignStatus
	StartedBy     UserID
	StartedByName string
	StartedAt     time.Time
	ClosedAt      *time.Time
	ClosedByName  string
	// Counts, filled by lists and pages.
	Items, Decided, Removed int
}

// Open reports whether reviewers may still decide.
func (c Campaign) Open() bool { return c.Status == CampaignOpen }

// Due reports whether the campaign should be closed by the sweep at now: its deadline passed,
// or an earlier close stopped half-way.
func (c Campaign) Due(now time.Time) bool {
	return c.Status == CampaignClosing || (c.Status == CampaignOpen && !now.Before(c.Deadline))
}

// CampaignInput is an administrator's new campaign as typed, parsed by NewCampaign.
type CampaignInput struct {
	Name      string
	Scope     string
	PolicyIDs []string
	Reviewers string
	Default   string
	Deadline  time.Time
}

// NewCampaign checks an administrator's input at now and returns the campaign to start. It
// tells every field's problem at once (Problems).
func NewCampaign(in CampaignInput, now time.Time) (Campaign, error) {
	var ps Problems
	name, err := ValidateTitle("name", in.Name)
	ps.Add(err)
	c := Campaign{Name: name, Status: CampaignOpen, StartedAt: now}
	switch ReviewScope(in.Scope) {
	case ReviewAllGroups:
		c.Scope = ReviewAllGroups
	case ReviewPolicyGroups:
		c.Scope = ReviewPolicyGroups
		if len(in.PolicyIDs) == 0 {
			ps.Add(FieldError("policies", "Choose at least one policy, or review all groups."))
		}
		if len(in.PolicyIDs) > MaxCampaignPolicies {
			ps.Add(FieldError("policies", "Choose at most %d policies.", MaxCampaignPolicies))
		}
	default:
		ps.Add(FieldError("scope", "Choose which groups to review."))
	}
	switch ReviewerRule(in.Reviewers) {
	case ReviewByOwners, ReviewByAdmins:
		c.Reviewers = ReviewerRule(in.Reviewers)
	default:
		ps.Add(FieldError("reviewers", "Choose who reviews."))
	}
	d, err := ParseReviewDecision(in.Default)
	if err != nil {
		ps.Add(FieldError("default", "Choose what happens to a membership nobody reviewed."))
	}
	c.Default = d
	switch {
	case in.Deadline.IsZero():
		ps.Add(FieldError("deadline", "Give a deadline."))
	case in.Deadline.Before(now.Add(MinReviewDeadline)) || in.Deadline.After(now.Add(MaxReviewDeadline)):
		ps.Add(FieldError("deadline", "Choose a deadline between 1 hour and 90 days from now."))
	}
	c.Deadline = in.Deadline.UTC()
	if err := ps.Err(); err != nil {
		return Campaign{}, err
	}
	return c, nil
}

// ParseReviewDecision reads "keep" or "remove".
func ParseReviewDecision(s string) (ReviewDecision, error) {
	switch ReviewDecision(strings.TrimSpace(s)) {
	case ReviewKeep:
		return ReviewKeep, nil
	case ReviewRemove:
		return ReviewRemove, nil
	}
	return "", FieldError("decision", "Choose keep or remove.")
}

// ReviewItem is one membership under review.
type ReviewItem struct {
	ID         string
	CampaignID string
	GroupID    string
	GroupName  string
	UserID     UserID
	UserEmail  string
	UserName   string
	// ProviderManaged marks a group the identity provider manages: a removal is listed, not applied.
	ProviderManaged bool
	Decision        ReviewDecision
	Comment         string
	DecidedBy       UserID
	DeciderName     string
	DecidedAt       *time.Time
	Outcome         ReviewOutcome
	AppliedAt       *time.Time
}

// Decide records a reviewer's decision on an item of an open campaign. Nobody reviews their
// own membership; a decision may be changed until the campaign closes.
func (it *ReviewItem) Decide(c Campaign, by UserID, d ReviewDecision, comment string, now time.Time) error {
	if !c.Open() {
		return Errorf(ECONFLICT, "The campaign %s is closed; decisions can no longer change.", c.Name)
	}
	if by == it.UserID {
		return Errorf(EFORBIDDEN, "You cannot review your own membership of %s.", it.GroupName)
	}
	if d != ReviewKeep && d != ReviewRemove {
		return FieldError("decision", "Choose keep or remove.")
	}
	comment, err := checkText("comment", comment, MaxComment)
	if err != nil {
		return err
	}
	it.Decision, it.Comment, it.DecidedBy, it.DecidedAt = d, comment, by, &now
	return nil
}

// Effective is what closing does with the item: its decision, or the campaign's default.
func (it ReviewItem) Effective(def ReviewDecision) ReviewDecision {
	if it.Decision != "" {
		return it.Decision
	}
	return def
}

// ItemCursor is the position after the last item of a page: items go by group name, member
// email and id.
type ItemCursor struct {
	Group, Email, ID string
}

// GroupPolicy is a policy a group matters to: its members may ask under it (eligible) or
// approve it (approver).
type GroupPolicy struct {
	GroupID   string
	PolicyID  string
	ScopeName string
	Role      string // "eligible" or "approver"
}

// LastRequest is a person's newest request, as a reviewer sees it.
type LastRequest struct {
	ID        string
	ScopeName string
	Status    string
	CreatedAt time.Time
}
