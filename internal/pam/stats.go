package pam

import "time"

// DayStats is one UTC day of requests: how many were made, how many ended pending in each way
// that day, the minutes each person's decision took (minutes → how many), and how many
// requests each scope drew. A closed day's row is written once and never changes.
type DayStats struct {
	Day       string // 2006-01-02, UTC
	Created   int
	Approved  int
	Denied    int
	TimedOut  int
	Withdrawn int
	Cancelled int
	// DecisionMinutes counts manual decisions (approve or deny) by whole minutes from request.
	DecisionMinutes map[int]int
	// Scopes counts the requests made that day per scope name.
	Scopes map[string]int
}

// Stats is what the organisation dashboard shows: the closed days from the rollup, today live,
// and the counts of now.
type Stats struct {
	Days          []DayStats // oldest first; today last, counted live
	Pending       int
	OldestPending time.Time // zero when nothing is pending
	InForce       int
	// DeadEnds are enabled manual policies nobody can approve: too few enabled people in their
	// approver group (or the default one) for the approvals they need.
	DeadEnds []DeadEndPolicy
}

// DeadEndPolicy is a policy that cannot be approved, with its scope's name and the numbers that say why.
type DeadEndPolicy struct {
	PolicyID  string
	Scope     string
	Approvers int
	Needed    int
}
