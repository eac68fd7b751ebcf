package pam

import (
	"strings"
	"time"
)

// Outcomes of the after-the-fact review of an emergency request.
const (
	EmergencyConfirmed = "confirmed"
	EmergencyMisuse    = "misuse"
)

// EmergencyReview is the one after-the-fact review of an emergency request: an approver of it
// (never its requester) confirms it or marks it as misuse, with a reason.
type EmergencyReview struct {
	ReviewerID   UserID
	ReviewerName string
	Outcome      string
	Reason       string
	At           time.Time
}

// EmergencySubmission is what a person sends to take emergency access.
type EmergencySubmission struct {
	Justification string
	Ticket        string
	// SteppedUp is true when the person just confirmed a fresh two-step verification code;
	// an emergency request is refused without one.
	SteppedUp bool
}

// Validate checks an emergency submission: a justification is always needed.
func (s *EmergencySubmission) Validate(p Policy) error {
	var ps Problems
	var err error
	if s.Justification, err = checkText("justification", s.Justification, MaxJustification); err != nil {
		ps.Add(err)
	} else if s.Justification == "" {
		ps.Add(FieldError("justification", "Say why you need emergency access; every approver and the security team read it."))
	}
	if s.Ticket, err = checkText("ticket", s.Ticket, MaxTicket); err != nil {
		ps.Add(err)
	} else if p.TicketRequired && s.Ticket == "" {
		ps.Add(FieldError("ticket", "This policy asks for a ticket reference."))
	}
	return ps.Err()
}

// GrantEmergency approves a new emergency request at once, by the system, for d from now.
// It asks for nothing but a new request: nobody is asked to decide it.
func (r *Request) GrantEmergency(d time.Duration, now time.Time) error {
	if r.Status != StatusPending || r.DecidedAt != nil {
		return Errorf(ECONFLICT, "Only a new request can be granted as emergency access.")
	}
	r.Emergency, r.Duration, r.ScheduledStart = true, d, nil
	r.approve(now)
	return nil
}

// ReviewEmergency records the after-the-fact review of an emergency request. canReview says
// whether the reviewer is, right now, an enabled member of its approver group. A misuse needs a
// reason; it reports whether the grant should be revoked (it is still approved at now).
func (r *Request) ReviewEmergency(by UserID, canReview bool, outcome, reason string, now time.Time) (bool, error) {
	if !r.Emergency {
		return false, Errorf(ECONFLICT, "This is not an emergency request; it has no after-the-fact review.")
	}
	if by == r.RequesterID {
		return false, Errorf(EFORBIDDEN, "You cannot review your own emergency access.")
	}
	if !canReview {
		return false, Errorf(EFORBIDDEN, "Only an approver of this request can review its emergency access.")
	}
	if r.EmergencyReview != nil {
		return false, Errorf(ECONFLICT, "This emergency access was already reviewed: %s.", r.EmergencyReview.Outcome)
	}
	reason, err := checkText("reason", reason, MaxComment)
	if err != nil {
		return false, err
	}
	switch outcome {
	case EmergencyConfirmed:
	case EmergencyMisuse:
		if reason == "" {
			return false, FieldError("reason", "Say what was wrong; the requester and the audit trail keep your reason.")
		}
	default:
		return false, FieldError("outcome", "Choose confirm or misuse.")
	}
	r.EmergencyReview = &EmergencyReview{ReviewerID: by, Outcome: outcome, Reason: reason, At: now}
	return outcome == EmergencyMisuse && r.StatusAt(now) == StatusApproved, nil
}

// MisuseReason is the revoke reason a misuse review gives the grant it revokes.
// It stays within MaxComment, the revoke's own limit.
func MisuseReason(reason string) string {
	const prefix = "Emergency access marked as misuse: "
	if rs := []rune(reason); len(rs) > MaxComment-len(prefix) {
		reason = string(rs[:MaxComment-len(prefix)])
	}
	return strings.TrimSpace(prefix + reason)
}
