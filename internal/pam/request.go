package pam

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Status is where a request stands.
type Status string

// Request states. A grant is in force exactly while a request is approved and
// StartsAt <= now < EndsAt.
const (
	StatusPending   Status = "pending"
	StatusApproved  Status = "approved"
	StatusDenied    Status = "denied"
	StatusWithdrawn Status = "withdrawn"
	StatusTimedOut  Status = "timed_out"
	StatusExpired   Status = "expired"
	StatusRevoked   Status = "revoked"
	StatusCancelled Status = "cancelled"
	StatusEnded     Status = "ended" // the requester ended the grant early
)

// Statuses lists every state in display order.
var Statuses = []Status{StatusPending, StatusApproved, StatusDenied, StatusWithdrawn, StatusTimedOut, StatusExpired, StatusRevoked, StatusEnded, StatusCancelled}

// ParseStatus parses a state name.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", FieldError("status", "Unknown state %q.", s)
}

// Label is the state in words.
func (s Status) Label() string {
	switch s {
	case StatusTimedOut:
		return "Timed out"
	case StatusEnded:
		return "Ended early"
	case "":
		return ""
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// CancelReason says why a pending request was cancelled: nobody decided it, and what it
// depended on went away.
type CancelReason string

// Cancel reasons.
const (
	CancelGrantRevoked     CancelReason = "grant revoked"      // the grant it extends was revoked
	CancelGrantEnded       CancelReason = "grant ended"        // the grant it extends was ended early
	CancelPolicyDisabled   CancelReason = "policy disabled"    // its policy was disabled or deleted
	CancelNoLongerEligible CancelReason = "no longer eligible" // its requester left the eligible group
)

// CancelReasons lists every cancel reason.
var CancelReasons = []CancelReason{CancelGrantRevoked, CancelGrantEnded, CancelPolicyDisabled, CancelNoLongerEligible}

// Explain says in words what the reason means, to follow "cancelled because": "the grant it
// extends was revoked".
func (c CancelReason) Explain() string {
	switch c {
	case CancelGrantRevoked:
		return "the grant it extends was revoked"
	case CancelGrantEnded:
		return "the grant it extends was ended early"
	case CancelPolicyDisabled:
		return "its policy was disabled or deleted"
	case CancelNoLongerEligible:
		return "its requester is no longer eligible for it"
	}
	return string(c)
}

func (c CancelReason) known() bool {
	for _, k := range CancelReasons {
		if c == k {
			return true
		}
	}
	return false
}

// Decisions.
const (
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
)

// Review is one person's decision on a request: an approver's own, or a delegate's on behalf
// of an approver (OnBehalfOf, see Delegation).
type Review struct {
	ReviewerID     UserID
	ReviewerName   string
	OnBehalfOf     UserID // "" when the reviewer acted for themselves
	OnBehalfOfName string
	Decision       string
	Comment        string
	At             time.Time
	// StillApprover says whether the reviewer (or the approver a delegate acted for) was an
	// approver of the request when it was read: an enabled member of its approver group, or of
	// its escalation group once escalated. Read with the request, never stored.
	StillApprover bool
	// Lapsed marks a review whose reviewer is no longer an approver of the request (its
	// approver group changed, or they left it): their approval no longer counts toward the
	// quorum. It is worked out when the request is next reviewed, never stored.
	Lapsed bool
}

// Principal is the approver the review counts for: the one acted for, or the reviewer.
func (v Review) Principal() UserID {
	if v.OnBehalfOf != "" {
		return v.OnBehalfOf
	}
	return v.ReviewerID
}

// By names who decided, as people read it: "Dana" or "Dana on behalf of Olivia".
func (v Review) By() string {
	if v.OnBehalfOf != "" {
		return v.ReviewerName + " on behalf of " + v.OnBehalfOfName
	}
	return v.ReviewerName
}

// SystemID is the RevokedBy of a grant Elevate revoked by itself (its requester left the
// eligible group): no person did it.
const SystemID UserID = "system"

// Request is a user's ask for one policy's scope.
type Request struct {
	ID                string
	RequesterID       UserID
	RequesterName     string
	RequesterEmail    string
	PolicyID          string
	ScopeType         ScopeType
	ScopeID           string
	ScopeName         string
	ApprovalType      string
	ApproverGroupID   string // resolved at submission; "" = nobody can approve
	ApprovalsRequired int
	Duration          time.Duration
	Justification     string
	Ticket            string
	ScheduledStart    *time.Time
	Status            Status
	CreatedAt         time.Time
	PendingUntil      time.Time
	DecidedAt         *time.Time
	StartsAt          *time.Time
	EndsAt            *time.Time
	RevokedBy         UserID
	RevokeReason      string
	CancelReason      CancelReason
	ExtendsID         string
	// Emergency marks break-glass access: approved at once by the system, reviewed afterwards.
	Emergency bool
	// EmergencyReview is the after-the-fact review of an emergency request, nil until made.
	EmergencyReview *EmergencyReview
	// EscalationGroupID is the policy's escalation group, copied at submission ("" = none).
	EscalationGroupID string
	// RemindAt and EscalateAt are when the sweep reminds the approvers and escalates (nil =
	// never); RemindedAt and EscalatedAt when it did. Escalation members decide only once
	// EscalatedAt is set, with its audit event and mail.
	RemindAt, RemindedAt    *time.Time
	EscalateAt, EscalatedAt *time.Time
	Version                 int
	Reviews                 []Review
}

// Escalated reports whether the request was escalated to its escalation group.
func (r Request) Escalated() bool { return r.EscalatedAt != nil && r.EscalationGroupID != "" }

// PlanFollowUps sets when a new request under p reminds its approvers and escalates, from
// its creation time.
func (r *Request) PlanFollowUps(p Policy) {
	if d, ok := p.ReminderDelay(); ok {
		at := r.CreatedAt.Add(d)
		r.RemindAt = &at
	}
	if p.Escalates() {
		at := r.CreatedAt.Add(p.EscalateAfter)
		r.EscalationGroupID, r.EscalateAt = p.EscalationGroupID, &at
	}
}

// StatusAt is the request's state at now, computed from its times: a pending request past its
// deadline has timed out and an approved one past its end has expired, whether or not a
// sweeper has written that down yet.
func (r Request) StatusAt(now time.Time) Status {
	switch {
	case r.Status == StatusPending && !now.Before(r.PendingUntil):
		return StatusTimedOut
	case r.Status == StatusApproved && r.EndsAt != nil && !now.Before(*r.EndsAt):
		return StatusExpired
	}
	return r.Status
}

// InForce reports whether the grant allows its tasks at now.
func (r Request) InForce(now time.Time) bool {
	return r.Status == StatusApproved && r.StartsAt != nil && r.EndsAt != nil &&
		!now.Before(*r.StartsAt) && now.Before(*r.EndsAt)
}

// Approvals counts the approving reviews that count: those of reviewers still approvers (see
// Review.Lapsed).
func (r Request) Approvals() int {
	n := 0
	for _, v := range r.Reviews {
		if v.Decision == DecisionApprove && !v.Lapsed {
			n++
		}
	}
	return n
}

// ReviewedBy reports whether a user already acted on the request, for themselves or for an
// approver, or a delegate already acted for them: either way they do not review it again.
func (r Request) ReviewedBy(u UserID) bool {
	for _, v := range r.Reviews {
		if v.ReviewerID == u || v.OnBehalfOf == u {
			return true
		}
	}
	return false
}

func (r Request) notPending(now time.Time) error {
	switch st := r.StatusAt(now); st {
	case StatusPending:
		return nil
	case StatusTimedOut:
		return Errorf(ECONFLICT, "This request timed out before anyone decided it.")
	case StatusWithdrawn:
		return Errorf(ECONFLICT, "This request was withdrawn by its requester.")
	case StatusCancelled:
		return Errorf(ECONFLICT, "This request was cancelled (%s); nobody can decide it any more.", r.CancelReason)
	default:
		return Errorf(ECONFLICT, "This request was already decided: it is %s.", strings.ToLower(st.Label()))
	}
}

// Limits on what people type.
const (
	MaxJustification = 2000
	MaxTicket        = 100
	MaxComment       = 1000
	MaxScheduleAhead = 7 * 24 * time.Hour
)

// RevokeReason checks the reason given for revoking a grant, which its requester sees, and
// returns it trimmed.
func RevokeReason(reason string) (string, error) {
	return ActionReason(reason, "Say why you revoke it; the requester sees the reason.")
}

// RevokeAllReason checks the reason given for revoking several grants at once, which each
// requester sees, and returns it trimmed.
func RevokeAllReason(reason string) (string, error) {
	return ActionReason(reason, "Say why you revoke them; each requester sees the reason.")
}

// The reasons the system gives when it revokes the grant of a requester who is no longer
// eligible under its policy (kept with the grant and in its audit event).
const (
	RevokeLeftGroup  = "No longer eligible: the requester left the policy's eligible group."
	RevokeDisabled   = "No longer eligible: the requester's account was disabled."
	RevokeIneligible = "No longer eligible: the requester is disabled or outside the policy's eligible group."
)

// revokeToRequester words the system's revoke reasons for the requester to read.
var revokeToRequester = map[string]string{
	RevokeLeftGroup:  "No longer eligible: you left the policy's eligible group.",
	RevokeDisabled:   "No longer eligible: your account was disabled.",
	RevokeIneligible: "No longer eligible: you are disabled or outside the policy's eligible group.",
}

// RevokeReasonToRequester is a revoke reason as its requester reads it: the system's reasons say
// "you" where they say "the requester"; a reason a person typed is returned as it is.
func RevokeReasonToRequester(reason string) string {
	if to, ok := revokeToRequester[reason]; ok {
		return to
	}
	return reason
}

// ActionReason checks the reason given for a change that takes access away (revoking grants,
// disabling a user or removing their rights, deleting a policy, revoking a check token), which
// the change's audit event keeps, and returns it trimmed; ask is what to say when it is empty.
func ActionReason(reason, ask string) (string, error) {
	reason, err := checkText("reason", reason, MaxComment)
	if err == nil && reason == "" {
		err = FieldError("reason", "%s", ask)
	}
	return reason, err
}

func checkText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		return "", FieldError(field, "Use at most %d characters.", max)
	}
	if err := CheckChars(field, s, true); err != nil {
		return "", err
	}
	return s, nil
}

// Review records an approver's decision. canReview says whether the reviewer is, right now,
// an enabled member of the request's approver group (or of its escalation group, once the
// request was escalated). The required number of distinct approvals approves the request; any
// one deny denies it. Approvals count by the rules as they are now: ApproverGroupID and
// ApprovalsRequired follow the policy, and earlier reviews whose reviewer is no longer an
// approver carry Lapsed, so a changed policy takes effect at this review and never decides a
// request by itself.
func (r *Request) Review(by UserID, canReview bool, decision, comment string, now time.Time) error {
	return r.ReviewFor(by, "", canReview, decision, comment, now)
}

// ReviewFor is Review by a delegate acting for the approver onBehalfOf ("" for themselves);
// canReview then says whether by is, right now, an enabled delegate in range of onBehalfOf,
// an enabled approver of the request. Neither may be the requester, and once either acted on
// the request neither acts again: the quorum counts each person once.
func (r *Request) ReviewFor(by, onBehalfOf UserID, canReview bool, decision, comment string, now time.Time) error {
	if err := r.notPending(now); err != nil {
		return err
	}
	if by == r.RequesterID {
		return Errorf(EFORBIDDEN, "You cannot review your own request.")
	}
	if onBehalfOf == r.RequesterID || !canReview {
		return Errorf(EFORBIDDEN, "You are not an approver for this request.")
	}
	if r.ReviewedBy(by) {
		return Errorf(ECONFLICT, "You already reviewed this request.")
	}
	if onBehalfOf != "" && r.ReviewedBy(onBehalfOf) {
		return Errorf(ECONFLICT, "The approver you act for has already been counted on this request.")
	}
	comment, err := checkText("comment", comment, MaxComment)
	if err != nil {
		return err
	}
	switch decision {
	case DecisionApprove:
	case DecisionDeny:
		if comment == "" {
			return FieldError("comment", "Say why you deny it; the requester sees your comment.")
		}
	default:
		return FieldError("decision", "Choose approve or deny.")
	}
	r.Reviews = append(r.Reviews, Review{ReviewerID: by, OnBehalfOf: onBehalfOf, Decision: decision, Comment: comment, At: now})
	switch {
	case decision == DecisionDeny:
		r.Status, r.DecidedAt = StatusDenied, &now
	case r.Approvals() >= r.ApprovalsRequired:
		r.approve(now)
	}
	return nil
}

// approve starts the grant's clock at approval, or at the scheduled start if that is later,
// so a slow approver does not eat the requester's window.
func (r *Request) approve(now time.Time) {
	start := now
	if r.ScheduledStart != nil && r.ScheduledStart.After(now) {
		start = *r.ScheduledStart
	}
	end := start.Add(r.Duration)
	r.Status, r.DecidedAt, r.StartsAt, r.EndsAt = StatusApproved, &now, &start, &end
}

// ContinueAfter moves an approved extension to start where the grant it extends ends, so the
// two neither overlap nor leave a gap. If that grant has already ended, the extension keeps
// its own start.
func (r *Request) ContinueAfter(prevEnd time.Time, now time.Time) {
	if r.Status != StatusApproved || r.StartsAt == nil {
		return
	}
	start := *r.StartsAt
	if prevEnd.After(start) {
		start = prevEnd
	}
	end := start.Add(r.Duration)
	r.StartsAt, r.EndsAt = &start, &end
}

// AutoApprove approves a request under an automatic policy at submission, by the system.
func (r *Request) AutoApprove(now time.Time) error {
	if err := r.notPending(now); err != nil {
		return err
	}
	r.approve(now)
	return nil
}

// Withdraw lets the requester take back a pending request.
func (r *Request) Withdraw(by UserID, now time.Time) error {
	if by != r.RequesterID {
		return Errorf(EFORBIDDEN, "Only the requester can withdraw a request.")
	}
	if err := r.notPending(now); err != nil {
		return err
	}
	r.Status, r.DecidedAt = StatusWithdrawn, &now
	return nil
}

// Revoke ends an approved grant (in force or scheduled) at once. canRevoke says whether the
// actor is an admin or an approver of the request.
func (r *Request) Revoke(by UserID, canRevoke bool, reason string, now time.Time) error {
	if !canRevoke {
		return Errorf(EFORBIDDEN, "Only an administrator or an approver of this request can revoke it.")
	}
	switch st := r.StatusAt(now); st {
	case StatusApproved:
	case StatusPending:
		return Errorf(ECONFLICT, "This request is still pending; deny it instead of revoking it.")
	case StatusRevoked:
		return Errorf(ECONFLICT, "This grant was already revoked.")
	case StatusExpired:
		return Errorf(ECONFLICT, "This grant has already expired.")
	default:
		return Errorf(ECONFLICT, "Only approved grants can be revoked; this request is %s.", strings.ToLower(st.Label()))
	}
	reason, err := RevokeReason(reason)
	if err != nil {
		return err
	}
	r.RevokedBy, r.RevokeReason = by, reason
	r.stop(StatusRevoked, now)
	return nil
}

// End lets the requester give up an approved grant (in force or scheduled) before its end: it
// stops at once, so the very next check is denied. Only the requester may end it; approvers and
// administrators revoke instead.
func (r *Request) End(by UserID, now time.Time) error {
	if by != r.RequesterID {
		return Errorf(EFORBIDDEN, "Only the requester can end their own access; approvers and administrators revoke it instead.")
	}
	switch st := r.StatusAt(now); st {
	case StatusApproved:
	case StatusEnded:
		return Errorf(ECONFLICT, "You already ended this access.")
	case StatusRevoked:
		return Errorf(ECONFLICT, "This grant was already revoked.")
	case StatusExpired:
		return Errorf(ECONFLICT, "This grant has already run out.")
	default:
		return Errorf(ECONFLICT, "Only an approved grant can be ended; this request is %s.", strings.ToLower(st.Label()))
	}
	r.stop(StatusEnded, now)
	return nil
}

// stop moves an approved request to a final state and cuts its window at now: a grant in force
// ends now, and a scheduled one never starts.
func (r *Request) stop(st Status, now time.Time) {
	r.Status = st
	if r.EndsAt != nil && r.EndsAt.After(now) {
		end := now
		r.EndsAt = &end
		if r.StartsAt != nil && r.StartsAt.After(now) {
			r.StartsAt = &end
		}
	}
}

// Cancel ends a pending request that nobody decided, because what it depended on went away
// (see CancelReason). It is the system's doing, not a person's decision, so it asks for no actor.
func (r *Request) Cancel(reason CancelReason, now time.Time) error {
	if !reason.known() {
		return Errorf(EINVALID, "Unknown cancel reason %q.", string(reason))
	}
	if err := r.notPending(now); err != nil {
		return err
	}
	r.Status, r.CancelReason, r.DecidedAt = StatusCancelled, reason, &now
	return nil
}

// EndWithBase applies to an extension what was done to the grant it extends, so the chain
// never outlives its base: when the base was revoked, an approved extension is revoked too,
// by the same person for the same reason and at once, and a pending one is cancelled ("grant
// revoked"); when its requester ended the base early, an approved extension is ended too and a
// pending one cancelled ("grant ended"). It reports whether r changed; an extension that was
// decided otherwise, timed out or has already run out is left as it is.
func (r *Request) EndWithBase(base Request, now time.Time) (bool, error) {
	if r.ExtendsID == "" || r.ExtendsID != base.ID {
		return false, Errorf(EINVALID, "This request does not extend that grant.")
	}
	if !base.Status.Stopped() {
		return false, Errorf(ECONFLICT, "The grant this extends is %s, not revoked or ended; its extensions stay as they are.", strings.ToLower(base.Status.Label()))
	}
	switch r.StatusAt(now) {
	case StatusApproved:
		if base.Status == StatusEnded {
			r.stop(StatusEnded, now)
			return true, nil
		}
		return true, r.Revoke(base.RevokedBy, true, base.RevokeReason, now)
	case StatusPending:
		if base.Status == StatusEnded {
			return true, r.Cancel(CancelGrantEnded, now)
		}
		return true, r.Cancel(CancelGrantRevoked, now)
	}
	return false, nil
}

// Stopped reports whether a grant in this state was cut short by someone, revoked or ended
// early, so that nothing extending it may hold any more.
func (s Status) Stopped() bool { return s == StatusRevoked || s == StatusEnded }

// Sweep writes down a state the times already imply: timed out or expired. It reports
// whether anything changed.
func (r *Request) Sweep(now time.Time) bool {
	st := r.StatusAt(now)
	if st == r.Status {
		return false
	}
	r.Status = st
	if st == StatusTimedOut {
		r.DecidedAt = &now
	}
	return true
}

// Submission is what a requester typed.
type Submission struct {
	Duration       time.Duration
	Justification  string
	Ticket         string
	ScheduledStart *time.Time
	// SteppedUp is set by a caller that checked a fresh two-step verification code for this
	// submission; a policy with MFARequired refuses a submission without it.
	SteppedUp bool
}

// Validate checks a submission against its policy and the org ceiling, and tells every field's
// problem at once (Problems).
func (s *Submission) Validate(p Policy, orgMax time.Duration, now time.Time) error {
	var ps Problems
	max := p.Longest(orgMax)
	if s.Duration < MinDuration || s.Duration > max {
		ps.Add(FieldError("duration", "Choose a duration between %s and %s.", FormatDuration(MinDuration), FormatDuration(max)))
	}
	var err error
	if s.Justification, err = checkText("justification", s.Justification, MaxJustification); err != nil {
		ps.Add(err)
	} else if p.JustificationRequired && s.Justification == "" {
		ps.Add(FieldError("justification", "Say why you need this access; approvers read it."))
	}
	switch s.Ticket, err = checkText("ticket", s.Ticket, MaxTicket); {
	case err != nil:
		ps.Add(err)
	case strings.ContainsAny(s.Ticket, "\r\n"):
		ps.Add(FieldError("ticket", "Give the ticket on one line."))
	case p.TicketRequired && s.Ticket == "":
		ps.Add(FieldError("ticket", "This policy needs a ticket number, like CHG-1234."))
	}
	switch {
	case s.ScheduledStart == nil:
	case s.ScheduledStart.Before(now.Add(-time.Minute)):
		ps.Add(FieldError("scheduled_start", "Choose a start in the future, or leave it empty to start on approval."))
	case s.ScheduledStart.After(now.Add(MaxScheduleAhead)):
		ps.Add(FieldError("scheduled_start", "Choose a start at most 7 days ahead."))
	}
	return ps.Err()
}
