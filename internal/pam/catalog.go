package pam

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Task is one privileged operation in a target system, keyed "system/Name".
type Task struct {
	ID          string
	Key         string
	Name        string
	Description string
	CreatedAt   time.Time
}

// System is the part of the key before the slash ("exchange" in "exchange/Set-Mailbox").
func (t Task) System() string {
	s, _, _ := strings.Cut(t.Key, "/")
	return s
}

// MaxTaskKey is the longest task key in bytes: a system of up to 63 characters, a slash and an
// operation name of up to 127 (see taskKeyRE).
const MaxTaskKey = 191

var taskKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}/[A-Za-z0-9][A-Za-z0-9_.:-]{0,126}$`)

// ParseTaskKey checks a task key: a system, a slash and an operation name, without spaces.
func ParseTaskKey(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", FieldError("key", "Enter a key like exchange/New-JournalRule.")
	}
	if !taskKeyRE.MatchString(s) {
		return "", FieldError("key", "Use the form system/Name with letters, digits, dots, dashes or underscores and no spaces, like exchange/New-JournalRule.")
	}
	return s, nil
}

// Role is a named set of tasks.
type Role struct {
	ID          string
	Name        string
	Description string
	TaskCount   int
}

// RoleGroup is a named set of roles.
type RoleGroup struct {
	ID          string
	Name        string
	Description string
	RoleCount   int
}

// Group is a named set of users: approvers, eligible requesters or exempt accounts.
type Group struct {
	ID          string
	Name        string
	Description string
	MemberCount int
	// IdPValue, when set, is the identity provider's claim value whose holders are the group's
	// members: they are set at each SSO sign-in and not edited by hand.
	IdPValue string
}

// Managed reports whether the identity provider sets the group's members.
func (g Group) Managed() bool { return g.IdPValue != "" }

// ValidateIdPValue checks a claim value an administrator maps a group to: one line of at most
// 200 characters, compared exactly (case included) with the values the provider sends.
func ValidateIdPValue(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", FieldError("idp_value", "Enter the value the identity provider sends for this group, for example exchange-admins.")
	}
	if utf8.RuneCountInString(s) > 200 || strings.ContainsAny(s, "\r\n\t") {
		return "", FieldError("idp_value", "Use at most 200 characters on one line.")
	}
	if err := CheckChars("idp_value", s, false); err != nil {
		return "", err
	}
	return s, nil
}

// MaxNameLen is the longest name, in characters, of a person, task, role, role group or group.
const MaxNameLen = 100

// ValidateTitle checks a name of a task, role, role group or group.
func ValidateTitle(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", FieldError(field, "Enter a name.")
	}
	if utf8.RuneCountInString(s) > MaxNameLen || strings.ContainsAny(s, "\r\n\t") {
		return "", FieldError(field, "Use at most %d characters on one line.", MaxNameLen)
	}
	if err := CheckChars(field, s, false); err != nil {
		return "", err
	}
	return s, nil
}

// ValidateDescription checks a free-text description.
func ValidateDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 2000 {
		return "", FieldError("description", "Use at most 2000 characters.")
	}
	if err := CheckChars("description", s, true); err != nil {
		return "", err
	}
	return s, nil
}

// ScopeType says what a policy or request covers.
type ScopeType string

// Scope types.
const (
	ScopeTask      ScopeType = "task"
	ScopeRole      ScopeType = "role"
	ScopeRoleGroup ScopeType = "role_group"
)

// ParseScopeType parses a scope type.
func ParseScopeType(s string) (ScopeType, error) {
	switch ScopeType(s) {
	case ScopeTask, ScopeRole, ScopeRoleGroup:
		return ScopeType(s), nil
	}
	return "", FieldError("scope_type", "Choose a task, a role or a role group.")
}

// Label is the scope type in words.
func (s ScopeType) Label() string {
	switch s {
	case ScopeRole:
		return "Role"
	case ScopeRoleGroup:
		return "Role group"
	}
	return "Task"
}

// Approval types.
const (
	ApprovalManual = "manual"
	ApprovalAuto   = "auto"
)

// Policy is the rules for reaching one scope.
type Policy struct {
	ID                    string
	ScopeType             ScopeType
	ScopeID               string
	ScopeName             string // filled by queries for display
	ApprovalType          string
	ApproverGroupID       string // "" = the org's default approver group
	ApprovalsRequired     int
	DefaultDuration       time.Duration
	MaxDuration           time.Duration
	JustificationRequired bool
	TicketRequired        bool
	EligibleGroupID       string // "" = everyone
	MFARequired           bool
	PendingTimeout        time.Duration
	// RemindAfter is how long after submission the approvers who have not acted get one
	// reminder: 0 means half of PendingTimeout, NoReminder means none (see ReminderDelay).
	RemindAfter time.Duration
	// EscalationGroupID names the group whose enabled members may also decide a request once
	// EscalateAfter has passed since submission; "" = no escalation (EscalateAfter is then 0).
	EscalationGroupID string
	EscalateAfter     time.Duration
	// EmergencyAllowed lets its eligible people take emergency (break-glass) access, granted at
	// once for EmergencyDuration and reviewed afterwards.
	EmergencyAllowed  bool
	EmergencyDuration time.Duration
	Enabled           bool
	Version           int
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// NoReminder, as a policy's RemindAfter, turns reminders off.
const NoReminder time.Duration = -1

// ReminderDelay is how long after submission a request under p reminds its approvers, and
// false when p sends no reminder (turned off, or automatic: nobody is asked).
func (p Policy) ReminderDelay() (time.Duration, bool) {
	switch {
	case p.ApprovalType == ApprovalAuto || p.RemindAfter == NoReminder:
		return 0, false
	case p.RemindAfter > 0:
		return p.RemindAfter, true
	}
	return (p.PendingTimeout / 2).Truncate(time.Minute), true
}

// Escalates reports whether requests under p escalate: a manual policy with an escalation group.
func (p Policy) Escalates() bool {
	return p.ApprovalType == ApprovalManual && p.EscalationGroupID != "" && p.EscalateAfter > 0
}

// Bounds on policy values.
const (
	MinDuration           = 5 * time.Minute
	MaxOrgDuration        = 30 * 24 * time.Hour
	DefaultOrgMax         = 24 * time.Hour
	DefaultPendingTimeout = 24 * time.Hour
	MaxPendingTimeout     = 14 * 24 * time.Hour
	MaxApprovals          = 5
	// DefaultEmergencyDuration is how long an emergency grant lasts unless its policy says less.
	DefaultEmergencyDuration = time.Hour
)

// NewPolicy returns a policy for a scope with sensible defaults: manual, one approval,
// one hour by default, four hours at most, justification required, 24 h to decide.
func NewPolicy(scope ScopeType, scopeID string) Policy {
	return Policy{
		ScopeType: scope, ScopeID: scopeID, ApprovalType: ApprovalManual, ApprovalsRequired: 1,
		DefaultDuration: time.Hour, MaxDuration: 4 * time.Hour, JustificationRequired: true,
		PendingTimeout: DefaultPendingTimeout, EmergencyDuration: DefaultEmergencyDuration, Enabled: true,
	}
}

// Validate checks the policy's values against each other and the org-wide ceiling, and tells
// every field's problem at once (Problems). A value compared with another that is itself wrong
// is checked only against its own bounds, so one mistake is not told twice.
func (p Policy) Validate(orgMax time.Duration) error {
	var ps Problems
	if _, err := ParseScopeType(string(p.ScopeType)); err != nil {
		ps.Add(err)
	}
	if p.ScopeID == "" {
		ps.Add(FieldError("scope_id", "Choose what this policy covers."))
	}
	if p.ApprovalType != ApprovalManual && p.ApprovalType != ApprovalAuto {
		ps.Add(FieldError("approval_type", "Choose manual or automatic approval."))
	}
	if p.ApprovalsRequired < 1 || p.ApprovalsRequired > MaxApprovals {
		ps.Add(FieldError("approvals_required", "Require between 1 and %d approvals.", MaxApprovals))
	}
	maxOK := p.MaxDuration >= MinDuration && p.MaxDuration <= orgMax
	if !maxOK {
		ps.Add(FieldError("max_duration", "Choose a maximum between %s and the organisation's ceiling of %s.", FormatDuration(MinDuration), FormatDuration(orgMax)))
	}
	// The maximum and the time to decide are named with their value only when it is right.
	theMax := "the maximum"
	if maxOK {
		theMax += " (" + FormatDuration(p.MaxDuration) + ")"
	}
	if p.DefaultDuration < MinDuration || maxOK && p.DefaultDuration > p.MaxDuration {
		ps.Add(FieldError("default_duration", "Choose a default between %s and %s.", FormatDuration(MinDuration), theMax))
	}
	pendingOK := p.PendingTimeout >= 15*time.Minute && p.PendingTimeout <= MaxPendingTimeout
	if !pendingOK {
		ps.Add(FieldError("pending_timeout", "Choose between 15 minutes and %s.", FormatDuration(MaxPendingTimeout)))
	}
	toDecide := "the time to decide"
	if pendingOK {
		toDecide += " (" + FormatDuration(p.PendingTimeout) + ")"
	}
	if p.RemindAfter != NoReminder && p.RemindAfter != 0 && (p.RemindAfter < MinDuration || pendingOK && p.RemindAfter >= p.PendingTimeout) {
		ps.Add(FieldError("remind_after", "Choose a reminder between %s and less than %s, leave it empty for half of that time, or write off.",
			FormatDuration(MinDuration), toDecide))
	}
	switch {
	case p.EscalationGroupID == "" && p.EscalateAfter != 0:
		ps.Add(FieldError("escalation_group_id", "Choose the group to escalate to, or leave \"escalate after\" empty."))
	case p.EscalationGroupID != "" && p.EscalateAfter == 0:
		ps.Add(FieldError("escalate_after", "Say after how long requests escalate, like 4h; it must be before they time out."))
	case p.EscalationGroupID != "" && (p.EscalateAfter < MinDuration || pendingOK && p.EscalateAfter >= p.PendingTimeout):
		ps.Add(FieldError("escalate_after", "Escalate between %s and before %s runs out.", FormatDuration(MinDuration), toDecide))
	case p.EscalationGroupID != "" && p.EscalationGroupID == p.ApproverGroupID:
		ps.Add(FieldError("escalation_group_id", "Choose a group other than the approver group; its members can already decide."))
	}
	if p.EmergencyDuration != 0 && (p.EmergencyDuration < MinDuration || maxOK && p.EmergencyDuration > p.MaxDuration) {
		ps.Add(FieldError("emergency_duration", "Choose an emergency duration between %s and %s.", FormatDuration(MinDuration), theMax))
	}
	return ps.Err()
}

// EmergencyLength is how long an emergency grant under the policy lasts: its emergency
// duration, or the default (one hour) when unset, never more than its maximum.
func (p Policy) EmergencyLength() time.Duration {
	d := p.EmergencyDuration
	if d <= 0 {
		d = DefaultEmergencyDuration
	}
	return min(d, p.MaxDuration)
}

// Longest is the longest grant the policy allows under the organisation's ceiling orgMax:
// the lower of its maximum and the ceiling. A policy saved under a higher ceiling keeps its
// maximum when the ceiling is lowered, so the request form and Submission.Validate both ask here.
func (p Policy) Longest(orgMax time.Duration) time.Duration {
	return min(p.MaxDuration, orgMax)
}

// OrgSettings are the organisation-wide rules.
type OrgSettings struct {
	Enforcement            bool
	DefaultApproverGroupID string
	ExemptGroupID          string
	MaxDuration            time.Duration
	// SecurityEmail is the organisation's security address: it hears of every emergency access.
	SecurityEmail string
	UpdatedAt     time.Time
}

// DefaultOrgSettings is what a new installation starts with.
func DefaultOrgSettings() OrgSettings {
	return OrgSettings{Enforcement: true, MaxDuration: DefaultOrgMax}
}

// durationParts is a duration in days, hours and minutes, in that order, each optional.
var durationParts = regexp.MustCompile(`^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?$`)

// maxTyped is the longest duration a person may type anywhere.
const maxTyped = 365 * 24 * time.Hour

// ParseDuration reads a duration typed by a person, in whole numbers: minutes alone ("90"),
// or days, hours and minutes in that order, each optional ("2d", "4h", "45m", "1h30m",
// "2d4h"); letter case and surrounding space do not matter; at most a year. Nothing else is
// read (no fractions, seconds, signs or spaces inside), so static/js/request.js can read
// durations exactly as it does.
func ParseDuration(field, s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return 0, FieldError(field, "Enter a duration, like 30m, 4h or 1h30m.")
	}
	if strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || time.Duration(n) > maxTyped/time.Minute {
			return 0, FieldError(field, "Enter a positive number of minutes, at most a year.")
		}
		return time.Duration(n) * time.Minute, nil
	}
	parts := durationParts.FindStringSubmatch(s)
	if parts == nil {
		return 0, FieldError(field, "Write a duration in whole numbers, like 30m, 4h, 1h30m or 2d.")
	}
	tooLong := FieldError(field, "Enter at most a year (365d).")
	var total time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if parts[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(parts[i+1], 10, 64)
		if err != nil || time.Duration(n) > maxTyped/unit {
			return 0, tooLong
		}
		total += time.Duration(n) * unit
	}
	if total <= 0 {
		return 0, FieldError(field, "Enter a duration longer than zero.")
	}
	if total > maxTyped {
		// Each part is bounded alone, so "365d8760h" would otherwise pass as two years.
		return 0, tooLong
	}
	return total, nil
}

// DurationWellFormed reports whether s is written as ParseDuration reads a duration, whatever
// its size: a form that knows its own bounds (a policy's range) tells those instead of
// ParseDuration's "at most a year" when a well-written value is zero or too long.
func DurationWellFormed(s string) bool {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return false
	}
	return strings.Trim(s, "0123456789") == "" || durationParts.MatchString(s)
}

// FormatDuration writes a duration the way people say it: "45 min", "4 h", "1 h 30 min", "2 d";
// under half a minute is "under 1 min".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0 min"
	}
	if d < 30*time.Second {
		return "under 1 min"
	}
	d = d.Round(time.Minute)
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h := int(d / time.Hour)
	m := int((d - time.Duration(h)*time.Hour) / time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d d", days))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%d h", h))
	}
	if m > 0 {
		parts = append(parts, fmt.Sprintf("%d min", m))
	}
	return strings.Join(parts, " ")
}

// InputDuration writes a duration back into a form field in a form ParseDuration reads.
func InputDuration(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	if h == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// ApprovalFacts are what the database knows about who could approve under a policy.
type ApprovalFacts struct {
	ApproverGroupSet bool   // the policy or the org names an approver group
	GroupName        string // that group's name, for the wording
	Approvers        int    // enabled members of that group
	// EligibleApprover is true when some enabled eligible requester is also an approver; such a
	// requester cannot count their own approval.
	EligibleApprover bool
}

// Fix says what an administrator changes to clear a warning; the pages turn it into a link.
type Fix string

// What clears a warning.
const (
	FixApproverGroup Fix = "approver_group" // choose an approver group (or set the organisation's default)
	FixApprovers     Fix = "approvers"      // add enabled members to the approver group, or ask for fewer approvals
	FixTasks         Fix = "tasks"          // add tasks to the role or role group
	FixMaxDuration   Fix = "max_duration"   // lower the policy's maximum duration
	FixEscalation    Fix = "escalation"     // add enabled members to the escalation group, or choose another
)

// Warning is one problem with a policy, in words a person reads, and what fixes it.
type Warning struct {
	Text string
	Fix  Fix
	// DeadEnd is true when no request under the policy can ever be approved.
	DeadEnd bool
}

// DeadEnd returns the first warning that makes every request under a policy wait for ever.
func DeadEnd(ws []Warning) (Warning, bool) {
	for _, w := range ws {
		if w.DeadEnd {
			return w, true
		}
	}
	return Warning{}, false
}

// Count writes n with its noun, singular for one: Count(1, "member", "members") is "1 member".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// EscalationFacts are what the database knows about the escalation group of a policy.
type EscalationFacts struct {
	GroupName string
	Members   int // enabled members
}

// EscalationWarnings explains why escalating a request under p would reach nobody who could
// decide it; empty means fine (or no escalation). A group with no enabled members is a dead
// end of the escalation, saved only once confirmed, as a policy nobody can approve.
func (p Policy) EscalationWarnings(f EscalationFacts) []Warning {
	if !p.Escalates() {
		return nil
	}
	group := "the escalation group"
	if f.GroupName != "" {
		group += " " + f.GroupName
	}
	switch {
	case f.Members == 0:
		return []Warning{{DeadEnd: true, Fix: FixEscalation,
			Text: "Escalation reaches no one: " + group + " has no enabled members."}}
	case f.Members < p.ApprovalsRequired:
		return []Warning{{Fix: FixEscalation,
			Text: fmt.Sprintf("Escalation alone cannot make the quorum: %s has %s and %s.", group,
				Count(f.Members, "enabled member", "enabled members"), Count(p.ApprovalsRequired, "approval is", "approvals are")+" needed")}}
	}
	return nil
}

// ApprovalWarnings explains why a request under p might never be approved; empty means fine.
// An automatic policy leaves nobody waiting.
func (p Policy) ApprovalWarnings(f ApprovalFacts) []Warning {
	if p.ApprovalType == ApprovalAuto {
		return nil
	}
	group := "the approver group"
	if f.GroupName != "" {
		group += " " + f.GroupName
	}
	needed := Count(p.ApprovalsRequired, "approval is", "approvals are") + " needed"
	switch {
	case !f.ApproverGroupSet:
		return []Warning{{DeadEnd: true, Fix: FixApproverGroup,
			Text: "No one can approve this: it names no approver group and the organisation has no default approver group."}}
	case f.Approvers == 0:
		return []Warning{{DeadEnd: true, Fix: FixApprovers,
			Text: "No one can approve this: " + group + " has no enabled members."}}
	case f.Approvers < p.ApprovalsRequired:
		return []Warning{{DeadEnd: true, Fix: FixApprovers,
			Text: fmt.Sprintf("No one can approve this: %s has %s and %s.", group, Count(f.Approvers, "member", "members"), needed)}}
	case f.EligibleApprover && f.Approvers == 1:
		// "At most 0 approvals" reads as a riddle: say it plainly.
		return []Warning{{Fix: FixApprovers,
			Text: "A request from the only member of " + group + " can never be approved, because nobody approves their own request."}}
	case f.EligibleApprover && f.Approvers-1 < p.ApprovalsRequired:
		return []Warning{{Fix: FixApprovers,
			Text: fmt.Sprintf("A request from an approver can collect at most %s, because nobody approves their own request; %s.",
				Count(f.Approvers-1, "approval", "approvals"), needed)}}
	}
	return nil
}
