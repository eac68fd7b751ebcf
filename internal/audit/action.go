package audit

import "strings"

// Action is what an event records, named <object>.<past participle> ("request.approved"). The
// only values are the ones declared below: Event takes an Action, so a producer cannot record
// a name that is not on the list, and the list is the one vocabulary search and the API offer.
type Action struct{ name string }

// String is the action's name as stored.
func (a Action) String() string { return a.name }

// known is every declared action in declaration order; newAction appends to it.
var known []Action

func newAction(name string) Action {
	a := Action{name}
	known = append(known, a)
	return a
}

// Requests and checks.
var (
	RequestCreated   = newAction("request.created")
	RequestReviewed  = newAction("request.reviewed") // an approval that did not yet decide it
	RequestApproved  = newAction("request.approved")
	RequestDenied    = newAction("request.denied")
	RequestWithdrawn = newAction("request.withdrawn")
	RequestRevoked   = newAction("request.revoked")
	RequestEnded     = newAction("request.ended") // its requester ended the grant early
	RequestCancelled = newAction("request.cancelled")
	RequestTimedOut  = newAction("request.timed_out")
	RequestExpired   = newAction("request.expired")
	RequestReminded  = newAction("request.reminded")  // the sweep reminded the approvers who had not acted
	RequestEscalated = newAction("request.escalated") // the sweep let the escalation group decide too
	// Emergency (break-glass) access: granted at once by the system, then reviewed by an
	// approver as confirmed or as misuse (which revokes the grant if still in force).
	RequestEmergencyGranted   = newAction("request.emergency_granted")
	RequestEmergencyConfirmed = newAction("request.emergency_confirmed")
	RequestMisuseReported     = newAction("request.misuse_reported")
	AccessChecked             = newAction("access.checked")
)

// Sign-in, first setup and two-step verification.
var (
	AuthSignedIn                = newAction("auth.signed_in")
	AuthSignedOut               = newAction("auth.signed_out")
	AuthSignInFailed            = newAction("auth.sign_in_failed")
	AuthSSORefused              = newAction("auth.sso_refused")
	AuthRateLimited             = newAction("auth.rate_limited")
	SetupLinkIssued             = newAction("setup.link_issued")
	SetupCompleted              = newAction("setup.completed")
	MFAEnrolled                 = newAction("mfa.enrolled")
	MFAEnrolFailed              = newAction("mfa.enrol_failed")
	MFAStepUpPassed             = newAction("mfa.step_up_passed")
	MFAStepUpFailed             = newAction("mfa.step_up_failed")
	MFARecoveryCodesRegenerated = newAction("mfa.recovery_codes_regenerated")
	MFADisabled                 = newAction("mfa.disabled")
	TokenCreated                = newAction("token.created")
	TokenRevoked                = newAction("token.revoked")
	CheckTokenCreated           = newAction("check_token.created")
	CheckTokenRevoked           = newAction("check_token.revoked")
	CheckTokenMoved             = newAction("check_token.moved")
	CheckTokenRefused           = newAction("check_token.refused") // a check without a live check token (401)
)

// Users.
var (
	UserCreated             = newAction("user.created")
	UserDisabled            = newAction("user.disabled")
	UserEnabled             = newAction("user.enabled")
	UserAdminGranted        = newAction("user.admin_granted")
	UserAdminRevoked        = newAction("user.admin_revoked")
	UserAuditorGranted      = newAction("user.auditor_granted")
	UserAuditorRevoked      = newAction("user.auditor_revoked")
	UserPasswordSet         = newAction("user.password_set")
	UserPasswordLinkCreated = newAction("user.password_link_created")
	UserTimeZoneChanged     = newAction("user.time_zone_changed")
	DelegationCreated       = newAction("delegation.created") // an approver named a delegate for a date range
	DelegationEnded         = newAction("delegation.ended")   // ended early by its approver or an admin
)

// The catalogue, policies and organisation settings.
var (
	GroupCreated                = newAction("group.created")
	GroupUpdated                = newAction("group.updated")
	GroupDeleted                = newAction("group.deleted")
	GroupMemberAdded            = newAction("group.member_added")
	GroupMemberRemoved          = newAction("group.member_removed")
	GroupOwnerAdded             = newAction("group.owner_added")
	GroupOwnerRemoved           = newAction("group.owner_removed")
	GroupIdPMapped              = newAction("group.idp_mapped")   // the identity provider now sets its members
	GroupIdPUnmapped            = newAction("group.idp_unmapped") // its members are edited by hand again
	TaskCreated                 = newAction("task.created")
	TaskUpdated                 = newAction("task.updated")
	RoleCreated                 = newAction("role.created")
	RoleUpdated                 = newAction("role.updated")
	RoleTaskAdded               = newAction("role.task_added")
	RoleTaskRemoved             = newAction("role.task_removed")
	RoleGroupCreated            = newAction("role_group.created")
	RoleGroupUpdated            = newAction("role_group.updated")
	RoleGroupRoleAdded          = newAction("role_group.role_added")
	RoleGroupRoleRemoved        = newAction("role_group.role_removed")
	PolicyCreated               = newAction("policy.created")
	PolicyUpdated               = newAction("policy.updated")
	PolicyDeleted               = newAction("policy.deleted")
	SettingsUpdated             = newAction("settings.updated")
	SettingsEnforcementEnabled  = newAction("settings.enforcement_enabled")
	SettingsEnforcementDisabled = newAction("settings.enforcement_disabled")
)

// Access reviews.
var (
	ReviewCampaignStarted  = newAction("review_campaign.started")
	ReviewCampaignClosed   = newAction("review_campaign.closed")
	ReviewCampaignReminded = newAction("review_campaign.reminded")
	ReviewItemDecided      = newAction("review_item.decided")
	ReviewItemApplied      = newAction("review_item.applied") // closing removed the membership, or found it gone, or left it to the identity provider
)

// Mail delivery.
var (
	MailSent           = newAction("mail.sent")
	MailFailed         = newAction("mail.failed")
	MailRetryScheduled = newAction("mail.retry_scheduled")
	MailRetryRequested = newAction("mail.retry_requested")
)

// Outbound webhooks: endpoints and their deliveries.
var (
	WebhookCreated                = newAction("webhook.created")
	WebhookUpdated                = newAction("webhook.updated")
	WebhookDisabled               = newAction("webhook.disabled")
	WebhookEnabled                = newAction("webhook.enabled")
	WebhookSecretRotated          = newAction("webhook.secret_rotated")
	WebhookDeleted                = newAction("webhook.deleted")
	WebhookDeliverySent           = newAction("webhook_delivery.sent")
	WebhookDeliveryFailed         = newAction("webhook_delivery.failed")
	WebhookDeliveryRetryScheduled = newAction("webhook_delivery.retry_scheduled")
	WebhookDeliveryRetryRequested = newAction("webhook_delivery.retry_requested")
)

// The chain itself: a walk of every sealed event (scheduled, or `elevate audit verify`), with
// outcome failure when it found the chain broken.
var ChainVerified = newAction("audit.verified")

// ChainTarget is the target type of a ChainVerified event; its id is the event the walk
// reached, or the first bad one.
const ChainTarget = "audit_chain"

// aliases are the names an action was stored under before it was renamed. Stored events are
// never rewritten (that would break the chain), so a search for an action also finds them.
var aliases = map[Action][]string{
	RequestReviewed:             {"request.approval_added"},
	MFAStepUpPassed:             {"mfa.step_up"},
	UserDisabled:                {"user.disable"},
	UserEnabled:                 {"user.enable"},
	UserAdminGranted:            {"user.make_admin"},
	UserAdminRevoked:            {"user.remove_admin"},
	UserAuditorGranted:          {"user.make_auditor"},
	UserAuditorRevoked:          {"user.remove_auditor"},
	SettingsEnforcementEnabled:  {"settings.enforcement_on"},
	SettingsEnforcementDisabled: {"settings.enforcement_off"},
}

// Actions lists every action in declaration order.
func Actions() []Action { return append([]Action(nil), known...) }

// Aliases returns the names a was stored under before it was renamed, oldest first.
func (a Action) Aliases() []string { return append([]string(nil), aliases[a]...) }

// ParseAction returns the action stored as name, under its current name or an old one.
func ParseAction(name string) (Action, bool) {
	for _, a := range known {
		if a.name == name {
			return a, true
		}
		for _, old := range aliases[a] {
			if old == name {
				return a, true
			}
		}
	}
	return Action{}, false
}

// ExpandAction returns every stored name a search for name must match: an action's current
// name and its old ones (whichever of them is asked for); for a prefix ending in "."
// ("request."), those of every known action under it. Any other name matches only itself, so
// events of retired actions stay searchable. Empty input gives nil (no filter).
func ExpandAction(name string) []string {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	if a, ok := ParseAction(name); ok {
		return append([]string{a.name}, aliases[a]...)
	}
	if strings.HasSuffix(name, ".") {
		var out []string
		for _, a := range known {
			if strings.HasPrefix(a.name, name) {
				out = append(out, a.name)
			}
			for _, old := range aliases[a] {
				if strings.HasPrefix(old, name) {
					out = append(out, old)
				}
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return []string{name}
}
