package access

import (
	"context"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// ViewTasks is how many covered tasks a View lists; MoreTasks says when there are more.
const ViewTasks = 12

// View is a request as one viewer sees it: the request with its people's names, the tasks its
// grant covers and what the viewer may do with it now. Pages only format it.
type View struct {
	pam.Request
	// Tasks are the first ViewTasks tasks the scope covers, by key.
	Tasks     []pam.Task
	MoreTasks bool
	// RevokedByName names who revoked the grant ("" when nobody did, or they are gone).
	RevokedByName string
	// What the viewer may do now. Each use case checks again when it is asked.
	CanReview, CanRevoke, CanWithdraw, CanExtend, CanEnd bool
	// Approver: the viewer sees it as one who decides it (an approver, an escalation member, a
	// delegate of one) or decided it, rather than only as an administrator or auditor.
	Approver bool
	// Deciders names, for a pending request, the first ShownDeciders people who may still decide
	// it (by name); MoreDeciders counts the others.
	Deciders     []string
	MoreDeciders int
	// EscalationGroupName names the group the request escalates (or escalated) to; "" = none.
	EscalationGroupName string
	// CanReviewEmergency: the viewer may make the after-the-fact review of this emergency
	// request (an enabled approver of it, not its requester, and nobody reviewed it yet).
	CanReviewEmergency bool
	// OnBehalfOf names the approver the viewer would decide for, by delegation, when CanReview
	// comes from a delegation alone.
	OnBehalfOf string
	// History is, for a viewer other than the requester, the requester's other requests for the
	// same scope (at most HistoryShown): those still open first, then the newest.
	History []pam.Request
	// RuleChanges are the changes of who decides under its policy made while it was pending
	// (at most RuleChangesShown), oldest first; a pending request's reviews carry Lapsed.
	RuleChanges []pam.RuleChange
	// Extensions are, for a grant in force or scheduled, the requests for more time on it that
	// are approved (lined up behind it) or still pending, the approved first (at most
	// ExtensionsShown).
	Extensions []pam.Request
}

// ExtensionsShown bounds View.Extensions.
const ExtensionsShown = 5

// RuleChangesShown bounds View.RuleChanges.
const RuleChangesShown = 10

// NavCountCap is where the navigation's count of waiting requests stops counting.
const NavCountCap = store.NavCountCap

// InboxCountCap is where the inbox page's counts stop counting (store.InboxCountCap).
const InboxCountCap = store.InboxCountCap

// ShownDeciders bounds View.Deciders.
const ShownDeciders = 10

// HistoryShown bounds View.History.
const HistoryShown = 5

// Waiting is a request in someone's inbox as its table shows it.
type Waiting = store.Waiting

// Decided is a request someone reviewed, with their own decision on it.
type Decided = store.Decided

// Approvals is the approver's inbox: one page of requests waiting for the viewer, oldest
// first, how many wait in all, and the requests the viewer decided last. A request's card (its
// tasks and actions) is RequestView's.
type Approvals struct {
	// Waiting carry their requester's name and their approvals so far; the viewer may review
	// each of them (that is what waiting for them means).
	Waiting []store.Waiting
	// Total counts every request waiting for the viewer, this page's included; Matched counts
	// those the filter keeps.
	Total, Matched int
	// Next is the cursor of the following page of waiting requests; nil on the last page.
	Next    *pam.Cursor
	Decided []store.Decided
	// Emergencies are the emergency requests waiting for the viewer's after-the-fact review,
	// newest first (at most EmergencyReviewsShown).
	Emergencies []pam.Request
}

// EmergencyReviewsShown bounds Approvals.Emergencies, as the navigation bounds its count.
const EmergencyReviewsShown = NavCountCap

// Dashboard is what a requester sees first: grants in force or scheduled, and requests still
// waiting for a decision.
type Dashboard struct {
	Grants  []pam.Request
	Pending []pam.Request
}

// Offer is a policy as the request form shows it: what a grant covers and who would decide.
type Offer struct {
	Policy    pam.Policy
	Tasks     []pam.Task
	MoreTasks bool
	// Longest is the longest the viewer may ask for: the policy's maximum, or the
	// organisation's ceiling when that is lower (Submission.Validate refuses more), and
	// Emergency how long an emergency grant under it lasts.
	Longest, Emergency time.Duration
	// Approvers names the first enabled approvers other than the viewer; MoreApprovers says
	// there are more. Both are empty for automatic policies.
	Approvers     []string
	MoreApprovers bool
	// Held is the viewer's own grant of this scope that is in force or scheduled (the one that
	// ends last), and Pending their request for it still waiting; nil when there is none. The
	// form warns before a second ask and offers more time instead.
	Held, Pending *pam.Request
}

// offerTasks and offerApprovers bound what the request form lists.
const (
	offerTasks     = 30
	offerApprovers = 10
)

// viewer is the signed-in person with the approver groups they are an enabled member of,
// read once per page so that deciding what they may do costs no query per request.
type viewer struct {
	u      pam.User
	groups map[string]bool
	// delegated are the approver groups of the principals who delegated to the viewer, in
	// force now, with those principals (store.DelegatedGroups).
	delegated map[string][]store.DelegatedGroup
}

func (s *Service) viewerOf(ctx context.Context, db *store.Store, u pam.User) (viewer, error) {
	v := viewer{u: u, groups: map[string]bool{}, delegated: map[string][]store.DelegatedGroup{}}
	if !u.Active() {
		return v, nil
	}
	ids, err := db.ActiveGroupIDs(ctx, u.ID)
	if err != nil {
		return v, err
	}
	for _, id := range ids {
		v.groups[id] = true
	}
	dgs, err := db.DelegatedGroups(ctx, u.ID, s.now())
	if err != nil {
		return v, err
	}
	for _, d := range dgs {
		v.delegated[d.GroupID] = append(v.delegated[d.GroupID], d)
	}
	return v, nil
}

// delegatedFor is the approver of r the viewer may act for by delegation, not yet counted on
// it and not its requester; ok is false when there is none. A viewer who approves r
// themselves acts for themselves only (and so counts once).
func (v viewer) delegatedFor(r pam.Request) (store.DelegatedGroup, bool) {
	if !v.u.Active() || r.ApproverGroupID == "" || v.approves(r) {
		return store.DelegatedGroup{}, false
	}
	for _, d := range v.delegated[r.ApproverGroupID] {
		if d.PrincipalID != r.RequesterID && !r.ReviewedBy(d.PrincipalID) {
			return d, true
		}
	}
	return store.DelegatedGroup{}, false
}

// delegates reports whether the viewer holds a delegation in force from an approver of r who
// is not its requester, counted on it or not.
func (v viewer) delegates(r pam.Request) bool {
	for _, d := range v.delegated[r.ApproverGroupID] {
		if d.PrincipalID != r.RequesterID {
			return v.u.Active() && r.ApproverGroupID != ""
		}
	}
	return false
}

// acted reports whether the viewer reviewed r for someone, by delegation: they keep seeing what
// they decided after the delegation ends. (An approver who leaves the approver group does not.)
func (v viewer) acted(r pam.Request) bool {
	for _, x := range r.Reviews {
		if x.ReviewerID == v.u.ID && x.OnBehalfOf != "" {
			return true
		}
	}
	return false
}

// approves reports whether the viewer may decide r: an enabled member of its approver group,
// or of its escalation group once it was escalated.
func (v viewer) approves(r pam.Request) bool {
	return v.u.Active() && ((r.ApproverGroupID != "" && v.groups[r.ApproverGroupID]) || (r.Escalated() && v.groups[r.EscalationGroupID]))
}

// canView is canView without a query: requester, admin, auditor, approver, a delegate in
// range of one of its approvers, or someone who reviewed it.
func (v viewer) canView(r pam.Request) bool {
	return v.u.ID == r.RequesterID || v.u.Admin || v.u.Auditor || v.approves(r) || v.delegates(r) || v.acted(r)
}

// view fills in what the viewer may do; tasks and names are the caller's.
func (s *Service) view(v viewer, r pam.Request) View {
	now := s.now()
	out := View{Request: r, Approver: v.approves(r) || v.delegates(r) || v.acted(r) || r.ReviewedBy(v.u.ID)}
	switch r.StatusAt(now) {
	case pam.StatusPending:
		if v.u.ID == r.RequesterID {
			out.CanWithdraw = true
		} else {
			out.CanReview = !r.ReviewedBy(v.u.ID) && v.approves(r)
			if d, ok := v.delegatedFor(r); ok && !r.ReviewedBy(v.u.ID) {
				out.CanReview, out.OnBehalfOf = true, d.PrincipalName
			}
		}
	case pam.StatusApproved:
		out.CanRevoke = v.u.Active() && (v.u.Admin || v.approves(r))
		out.CanExtend = v.u.ID == r.RequesterID && r.InForce(now)
		out.CanEnd = v.u.ID == r.RequesterID
	}
	out.CanReviewEmergency = r.Emergency && r.EmergencyReview == nil && v.u.ID != r.RequesterID && v.approves(r)
	return out
}

// scopeTasks reads the covered tasks of each distinct scope once.
type scopeTasks map[string][]pam.Task

func (c scopeTasks) fill(ctx context.Context, db *store.Store, v *View) error {
	key := string(v.ScopeType) + ":" + v.ScopeID
	tasks, ok := c[key]
	if !ok {
		var err error
		if tasks, err = db.ScopeTasks(ctx, v.ScopeType, v.ScopeID, ViewTasks+1); err != nil {
			return err
		}
		c[key] = tasks
	}
	v.Tasks, v.MoreTasks = tasks, len(tasks) > ViewTasks
	if v.MoreTasks {
		v.Tasks = tasks[:ViewTasks]
	}
	return nil
}

// RequestView returns a request the viewer may see, with what they may do with it, or
// ENOTFOUND.
func (s *Service) RequestView(ctx context.Context, u pam.User, id string) (View, error) {
	r, err := s.db.RequestByID(ctx, id)
	if err != nil {
		return View{}, err
	}
	v, err := s.viewerOf(ctx, s.db, u)
	if err != nil {
		return View{}, err
	}
	if !v.canView(r) {
		return View{}, pam.Errorf(pam.ENOTFOUND, "Request not found.")
	}
	out := s.view(v, r)
	if err := (scopeTasks{}).fill(ctx, s.db, &out); err != nil {
		return View{}, fmt.Errorf("request %s: %w", id, err)
	}
	if u.ID != r.RequesterID {
		if out.History, err = s.db.RequesterHistory(ctx, r, s.now(), HistoryShown); err != nil {
			return View{}, fmt.Errorf("request %s: history: %w", id, err)
		}
	}
	if r.StatusAt(s.now()) == pam.StatusPending && r.ApprovalType == pam.ApprovalManual {
		names, total, err := s.db.Deciders(ctx, r, ShownDeciders)
		if err != nil {
			return View{}, fmt.Errorf("request %s: deciders: %w", id, err)
		}
		out.Deciders, out.MoreDeciders = names, total-len(names)
	}
	if r.StatusAt(s.now()) == pam.StatusApproved {
		exts, err := s.db.Extensions(ctx, r, ExtensionsShown)
		if err != nil {
			return View{}, fmt.Errorf("request %s: extensions: %w", id, err)
		}
		for _, e := range exts {
			if st := e.StatusAt(s.now()); st == pam.StatusApproved || st == pam.StatusPending {
				out.Extensions = append(out.Extensions, e)
			}
		}
		// More time is asked for one request at a time (see noOpenExtension).
		out.CanExtend = out.CanExtend && len(out.Extensions) == 0
	}
	if r.EscalationGroupID != "" {
		out.EscalationGroupName = s.db.GroupName(ctx, r.EscalationGroupID)
	}
	if err := s.ruleChanges(ctx, &out); err != nil {
		return View{}, fmt.Errorf("request %s: %w", id, err)
	}
	if r.RevokedBy == pam.SystemID {
		out.RevokedByName = "Elevate (system)"
	} else if r.RevokedBy != "" {
		if by, err := s.db.UserByID(ctx, r.RevokedBy); err == nil {
			out.RevokedByName = by.Name
		} else if pam.ErrorCode(err) != pam.ENOTFOUND {
			return View{}, err
		}
	}
	return out, nil
}

// ruleChanges adds to a request's view the changes of its policy's rules made while it was
// pending, and, while it still is (or when it ended undecided after such a change), marks the
// approvals that no longer count (markLapsed), so the page counts as the next review would.
func (s *Service) ruleChanges(ctx context.Context, v *View) error {
	now := s.now()
	until := now
	if v.DecidedAt != nil {
		until = *v.DecidedAt
	} else if v.PendingUntil.Before(until) {
		until = v.PendingUntil
	}
	var err error
	if v.RuleChanges, err = s.db.RuleChanges(ctx, v.PolicyID, v.CreatedAt, until, RuleChangesShown); err != nil {
		return err
	}
	// A request still pending, or one that ended without a decision, counts its approvals by
	// the rules as they are; a decided one keeps the count that decided it.
	switch v.StatusAt(now) {
	case pam.StatusPending:
		markLapsed(&v.Request)
	case pam.StatusCancelled, pam.StatusTimedOut, pam.StatusWithdrawn:
		if len(v.RuleChanges) > 0 {
			markLapsed(&v.Request)
		}
	}
	return nil
}

// BulkMost is how many requests one bulk decision may name (SPEC: at most 50).
const BulkMost = 50

// Reviewable returns, in the order of ids, the requests the viewer may see among them, with what
// they may do with each (CanReview false: decided, or not theirs to decide), reading them and the
// viewer's groups in a fixed number of statements. Ids the viewer may not see are left out.
func (s *Service) Reviewable(ctx context.Context, u pam.User, ids []string) ([]View, error) {
	if len(ids) > BulkMost {
		return nil, pam.Errorf(pam.EINVALID, "Choose at most %d requests at a time.", BulkMost)
	}
	rs, err := s.db.RequestsByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("requests to review: %w", err)
	}
	v, err := s.viewerOf(ctx, s.db, u)
	if err != nil {
		return nil, err
	}
	by := make(map[string]pam.Request, len(rs))
	for _, r := range rs {
		by[r.ID] = r
	}
	var out []View
	for _, id := range ids {
		if r, ok := by[id]; ok && v.canView(r) {
			out = append(out, s.view(v, r))
		}
	}
	return out, nil
}

// Approvals returns one page of the viewer's inbox (what the filter keeps, in its order, after
// its cursor, at most its limit) with the count of all of it, and the last requests they
// decided: two statements whatever the size of the inbox.
func (s *Service) Approvals(ctx context.Context, u pam.User, f pam.InboxFilter) (Approvals, error) {
	var out Approvals
	f.Decided, f.Emergencies = decidedShown, EmergencyReviewsShown
	page, err := s.db.InboxPage(ctx, u.ID, s.now(), f)
	if err != nil {
		return out, fmt.Errorf("inbox: %w", err)
	}
	out.Waiting, out.Total, out.Matched = page.Waiting, int(page.Total), int(page.Matched)
	if page.More {
		l := page.Waiting[len(page.Waiting)-1]
		at := l.CreatedAt
		if f.Sort == pam.InboxByTimeLeft {
			at = l.PendingUntil
		}
		out.Next = pam.CursorAt(at, l.ID)
	}
	out.Decided, out.Emergencies = page.Decided, page.Emergencies
	return out, nil
}

// decidedShown is how many of the requests they decided the inbox shows a viewer.
const decidedShown = 20

// InboxCount counts the requests waiting for the viewer's decision.
func (s *Service) InboxCount(ctx context.Context, u pam.User) (int, error) {
	n, err := s.db.InboxCount(ctx, u.ID, s.now())
	return int(n), err
}

// MyRequests lists the viewer's own requests, newest first, one keyset page at a time.
func (s *Service) MyRequests(ctx context.Context, u pam.User, f pam.RequestFilter) ([]pam.Request, error) {
	f.RequesterID = u.ID
	return s.db.Requests(ctx, f)
}

// Dashboard returns the viewer's grants in force or scheduled and their requests still
// pending (each list bounded).
func (s *Service) Dashboard(ctx context.Context, u pam.User) (Dashboard, error) {
	var out Dashboard
	now := s.now()
	approved, err := s.db.Requests(ctx, pam.RequestFilter{RequesterID: u.ID, Status: pam.StatusApproved, Limit: 20})
	if err != nil {
		return out, err
	}
	for _, r := range approved {
		if r.InForce(now) || (r.StartsAt != nil && r.StartsAt.After(now)) {
			out.Grants = append(out.Grants, r)
		}
	}
	pending, err := s.db.Requests(ctx, pam.RequestFilter{RequesterID: u.ID, Status: pam.StatusPending, Limit: 20})
	if err != nil {
		return out, err
	}
	for _, r := range pending {
		if r.StatusAt(now) == pam.StatusPending {
			out.Pending = append(out.Pending, r)
		}
	}
	return out, nil
}

// Offer returns a policy the viewer may ask under, with what it covers and who would decide:
// its approver group or, when it names none, the organisation's default. ENOTFOUND when the
// viewer may not ask under it.
func (s *Service) Offer(ctx context.Context, u pam.User, policyID string) (Offer, error) {
	ask, err := s.eligiblePolicy(ctx, s.db, u, policyID)
	if err != nil {
		return Offer{}, err
	}
	p := ask.Policy
	out := Offer{Policy: p, Longest: p.Longest(ask.MaxDuration), Emergency: emergencyLength(ask)}
	tasks, err := s.db.ScopeTasks(ctx, p.ScopeType, p.ScopeID, offerTasks+1)
	if err != nil {
		return Offer{}, err
	}
	out.Tasks, out.MoreTasks = tasks, len(tasks) > offerTasks
	if out.MoreTasks {
		out.Tasks = tasks[:offerTasks]
	}
	open, err := s.db.OpenForScope(ctx, u.ID, p.ScopeType, p.ScopeID, s.now(), 4)
	if err != nil {
		return Offer{}, err
	}
	for i := range open {
		r := open[i]
		switch {
		case r.Status == pam.StatusApproved && out.Held == nil:
			out.Held = &r
		case r.Status == pam.StatusPending && out.Pending == nil:
			out.Pending = &r
		}
	}
	if p.ApprovalType != pam.ApprovalManual {
		return out, nil
	}
	group := approverGroup(ask)
	if group == "" {
		return out, nil
	}
	members, err := s.db.GroupMembers(ctx, group, pam.Page{Limit: offerApprovers + 1})
	if err != nil {
		return Offer{}, err
	}
	for i, m := range members {
		if i == offerApprovers {
			out.MoreApprovers = true
			break
		}
		if m.Active() && m.ID != u.ID {
			out.Approvers = append(out.Approvers, m.Name)
		}
	}
	return out, nil
}
