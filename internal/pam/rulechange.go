package pam

import (
	"fmt"
	"time"
)

// Rules a policy edit can change for the requests still pending under it.
const (
	RuleApproverGroup     = "approver_group"     // who approves: the policy's group, or the organisation's default
	RuleApprovalsRequired = "approvals_required" // how many approvals decide
	RuleEscalationGroup   = "escalation_group"   // who also decides once a request escalated
	RuleEscalateAfter     = "escalate_after"     // how long a request waits before it escalates
	RuleReminder          = "reminder"           // how long a request waits before its approvers are reminded
)

// RuleChange is one change of who decides the requests pending under a policy, or of when they
// remind and escalate, as the request page tells it: what changed, from what to what (names as
// they read then), when and by whom. A change never decides a request; it applies at the next
// review (see Request.Review), or at the sweep's next pass.
type RuleChange struct {
	PolicyID  string
	Rule      string // one of the Rule constants
	From, To  string
	ActorName string
	At        time.Time
}

// Text says the change in words: "Approver group changed from Ops to Security by Ada
// Admin; approvals by people no longer approvers do not count."
func (c RuleChange) Text() string {
	by := c.ActorName
	if by == "" {
		by = "an administrator"
	}
	from, to := c.From, c.To
	if from == "" {
		from = "none"
	}
	if to == "" {
		to = "none"
	}
	switch c.Rule {
	case RuleApproverGroup:
		return fmt.Sprintf("Approver group changed from %s to %s by %s; approvals by people no longer approvers do not count.", from, to, by)
	case RuleApprovalsRequired:
		return fmt.Sprintf("Approvals required changed from %s to %s by %s; it applies at the next review.", from, to, by)
	case RuleEscalationGroup:
		return fmt.Sprintf("Escalation group changed from %s to %s by %s; it applies to this request from now on.", from, to, by)
	case RuleEscalateAfter:
		return fmt.Sprintf("Escalate after changed from %s to %s by %s; unless escalated already, this request escalates that long after it was asked.", from, to, by)
	case RuleReminder:
		if c.To == "" {
			return fmt.Sprintf("Reminder changed from %s to none by %s; unless they were reminded already, its approvers are not reminded.", from, by)
		}
		return fmt.Sprintf("Reminder changed from %s to %s by %s; unless they were reminded already, its approvers are reminded that long after it was asked.", from, to, by)
	}
	return fmt.Sprintf("Policy changed by %s.", by)
}
