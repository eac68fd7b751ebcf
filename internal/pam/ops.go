package pam

import "time"

// Operations is what an operator watches of the organisation's work, read at one moment:
// what waits for a decision, what is in force, and what waits to be delivered or sealed.
type Operations struct {
	// RequestsPending are pending requests whose time to be decided has not run out.
	RequestsPending int64
	// GrantsInForce are approved requests with starts_at <= now < ends_at.
	GrantsInForce int64
	Mail          Queue
	Webhooks      Queue
	// AuditWaiting is how many stored audit events wait to be sealed, the oldest stored at
	// AuditOldest (zero when none waits).
	AuditWaiting int64
	AuditOldest  time.Time
}

// Queue is a delivery queue's waiting messages: how many wait for their first attempt and for
// a retry, and when the oldest of them was queued (zero when none waits).
type Queue struct {
	Queued   int64
	Retrying int64
	Oldest   time.Time
}
