package webhook

import "github.com/elevate-pam/elevate/internal/audit"

// EventType is one kind of event an endpoint can ask for; its Type is what a delivery names in
// its payload ("request.approved").
type EventType struct {
	Action audit.Action // the audit action that causes it
	Type   string       // the name in payloads and subscriptions
	Label  string       // how the endpoint form names it
	Title  string       // the headline of a chat message, after the requester's name
}

// Events maps audit actions to webhook event types: the one table to extend when a new action
// should reach webhooks (escalation, emergency access and review campaigns add theirs here).
// Actions not listed here reach no endpoint. A request change reaches endpoints through
// Service.RequestChanged (an access.Notifier); any other change builds an Event with
// EventOf(action) and calls Service.Enqueue in its transaction.
var Events = []EventType{
	{Action: audit.RequestCreated, Type: "request.created", Label: "Request created", Title: "asks for access"},
	{Action: audit.RequestApproved, Type: "request.approved", Label: "Request approved", Title: "was granted access"},
	{Action: audit.RequestDenied, Type: "request.denied", Label: "Request denied", Title: "was denied access"},
	{Action: audit.RequestWithdrawn, Type: "request.withdrawn", Label: "Request withdrawn", Title: "withdrew a request for access"},
	{Action: audit.RequestRevoked, Type: "request.revoked", Label: "Grant revoked", Title: "had access revoked"},
	{Action: audit.RequestEnded, Type: "request.ended", Label: "Grant ended early", Title: "ended their grant early"},
	{Action: audit.RequestExpired, Type: "request.expired", Label: "Grant expired", Title: "no longer has access: the grant expired"},
	{Action: audit.RequestTimedOut, Type: "request.timed_out", Label: "Request timed out", Title: "asked for access, but nobody decided in time"},
	{Action: audit.RequestCancelled, Type: "request.cancelled", Label: "Request cancelled", Title: "asked for access, but the request was cancelled"},
	{Action: audit.RequestEscalated, Type: "request.escalated", Label: "Request escalated", Title: "still waits for a decision; it was escalated"},
	{Action: audit.RequestEmergencyGranted, Type: "request.emergency_granted", Label: "Emergency access taken", Title: "took emergency access"},
	{Action: audit.ReviewCampaignStarted, Type: "review_campaign.started", Label: "Access review started", Title: "Access review started"},
	{Action: audit.ReviewCampaignClosed, Type: "review_campaign.closed", Label: "Access review closed", Title: "Access review closed"},
	// Each walk of the audit chain, with the head it reached: an endpoint that keeps them holds
	// checkpoints outside Elevate (see ChainWalked).
	{Action: audit.ChainVerified, Type: "audit.verified", Label: "Audit chain verified", Title: "Audit chain verified"},
}

// EventOf returns the event type an action causes, if any.
func EventOf(a audit.Action) (EventType, bool) {
	for _, e := range Events {
		if e.Action == a {
			return e, true
		}
	}
	return EventType{}, false
}

// eventByType returns the event type named t, if any.
func eventByType(t string) (EventType, bool) {
	for _, e := range Events {
		if e.Type == t {
			return e, true
		}
	}
	return EventType{}, false
}
