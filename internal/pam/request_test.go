package pam

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const (
	requester UserID = "requester"
	approverA UserID = "approver-a"
	approverB UserID = "approver-b"
	stranger  UserID = "stranger"
	adminUser UserID = "admin"
)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// requestIn builds a request of 2 required approvals in the named situation, observed at t0+1h.
func requestIn(state string) Request {
	r := Request{ID: "r1", RequesterID: requester, ApprovalsRequired: 2, Duration: time.Hour,
		Status: StatusPending, CreatedAt: t0, PendingUntil: t0.Add(24 * time.Hour)}
	switch state {
	case "pending":
	case "pending, reviewed by A":
		r.Reviews = []Review{{ReviewerID: approverA, Decision: DecisionApprove, At: t0}}
	case "pending, A's approval lapsed":
		// The approver group changed after A approved: A's approval no longer counts.
		r.Reviews = []Review{{ReviewerID: approverA, Decision: DecisionApprove, At: t0, Lapsed: true}}
	case "pending, reviewed by A, quorum lowered to 1":
		// The policy now needs one approval; the change alone decides nothing.
		r.Reviews = []Review{{ReviewerID: approverA, Decision: DecisionApprove, At: t0}}
		r.ApprovalsRequired = 1
	case "pending past its deadline":
		r.PendingUntil = t0.Add(30 * time.Minute)
	case "timed_out":
		r.Status, r.DecidedAt = StatusTimedOut, at(30*time.Minute)
	case "approved, in force":
		r.Status, r.DecidedAt, r.StartsAt, r.EndsAt = StatusApproved, at(0), at(30*time.Minute), at(90*time.Minute)
	case "approved, scheduled":
		r.Status, r.DecidedAt, r.StartsAt, r.EndsAt = StatusApproved, at(0), at(5*time.Hour), at(6*time.Hour)
	case "approved past its end":
		r.Status, r.DecidedAt, r.StartsAt, r.EndsAt = StatusApproved, at(0), at(0), at(30*time.Minute)
	case "expired":
		r.Status, r.DecidedAt, r.StartsAt, r.EndsAt = StatusExpired, at(0), at(0), at(30*time.Minute)
	case "denied":
		r.Status, r.DecidedAt = StatusDenied, at(0)
	case "withdrawn":
		r.Status, r.DecidedAt = StatusWithdrawn, at(0)
	case "revoked":
		r.Status, r.DecidedAt, r.StartsAt, r.EndsAt = StatusRevoked, at(0), at(0), at(20*time.Minute)
	case "cancelled":
		r.Status, r.DecidedAt, r.CancelReason = StatusCancelled, at(0), CancelGrantRevoked
	case "ended":
		r.Status, r.DecidedAt, r.StartsAt, r.EndsAt = StatusEnded, at(0), at(0), at(40*time.Minute)
	default:
		panic(state)
	}
	return r
}

// outcome is "ok <new state>" or "<code>: <part of the message>".
type want map[UserID]string

func TestTransitions(t *testing.T) {
	now := t0.Add(time.Hour)
	actors := []UserID{requester, approverA, approverB, stranger, adminUser, SystemID}
	// Who may review (approver group members) and who may revoke (approvers and admins).
	canReview := map[UserID]bool{approverA: true, approverB: true, requester: true}
	canRevoke := map[UserID]bool{approverA: true, approverB: true, adminUser: true}

	const (
		notYours   = "forbidden: You cannot review your own request"
		notApprove = "forbidden: You are not an approver"
		onlyReq    = "forbidden: Only the requester can withdraw"
		noRevoke   = "forbidden: Only an administrator or an approver"
		stillPend  = "conflict: still pending"
		timedOut   = "conflict: timed out"
		twice      = "conflict: You already reviewed"
		onlyOwn    = "forbidden: Only the requester can end"
		notGrant   = "conflict: Only an approved grant can be ended"
	)
	decided := func(word string) string { return "conflict: already decided: it is " + word }

	table := map[string]map[string]want{
		"pending": {
			"end":      {requester: notGrant + "; this request is pending", approverA: onlyOwn, adminUser: onlyOwn},
			"approve":  {requester: notYours, approverA: "ok pending", approverB: "ok pending", stranger: notApprove, adminUser: notApprove},
			"deny":     {requester: notYours, approverA: "ok denied", approverB: "ok denied", stranger: notApprove, adminUser: notApprove},
			"withdraw": {requester: "ok withdrawn", approverA: onlyReq, approverB: onlyReq, stranger: onlyReq, adminUser: onlyReq},
			"revoke":   {requester: noRevoke, approverA: stillPend, approverB: stillPend, stranger: noRevoke, adminUser: stillPend},
		},
		"pending, reviewed by A": {
			"end":      {requester: notGrant + "; this request is pending"},
			"approve":  {requester: notYours, approverA: twice, approverB: "ok approved", stranger: notApprove, adminUser: notApprove},
			"deny":     {requester: notYours, approverA: twice, approverB: "ok denied", stranger: notApprove, adminUser: notApprove},
			"withdraw": {requester: "ok withdrawn", approverA: onlyReq, approverB: onlyReq, stranger: onlyReq, adminUser: onlyReq},
			"revoke":   {requester: noRevoke, approverA: stillPend, approverB: stillPend, stranger: noRevoke, adminUser: stillPend},
		},
		"pending, A's approval lapsed": {
			"end":      {requester: notGrant + "; this request is pending"},
			"approve":  {requester: notYours, approverA: twice, approverB: "ok pending", stranger: notApprove, adminUser: notApprove},
			"deny":     {approverA: twice, approverB: "ok denied", stranger: notApprove},
			"withdraw": {requester: "ok withdrawn", approverA: onlyReq},
			"revoke":   {approverB: stillPend, adminUser: stillPend, stranger: noRevoke},
		},
		"pending, reviewed by A, quorum lowered to 1": {
			"end":      {requester: notGrant + "; this request is pending"},
			"approve":  {requester: notYours, approverA: twice, approverB: "ok approved", stranger: notApprove},
			"deny":     {approverA: twice, approverB: "ok denied"},
			"withdraw": {requester: "ok withdrawn"},
			"revoke":   {approverB: stillPend, adminUser: stillPend},
		},
		"pending past its deadline": {
			"end":      {requester: notGrant + "; this request is timed out", adminUser: onlyOwn},
			"approve":  {requester: timedOut, approverA: timedOut, approverB: timedOut, stranger: timedOut, adminUser: timedOut},
			"deny":     {requester: timedOut, approverA: timedOut, approverB: timedOut, stranger: timedOut, adminUser: timedOut},
			"withdraw": {requester: timedOut, approverA: onlyReq, approverB: onlyReq, stranger: onlyReq, adminUser: onlyReq},
			"revoke":   {requester: noRevoke, approverA: "conflict: Only approved grants", approverB: "conflict: Only approved grants", stranger: noRevoke, adminUser: "conflict: Only approved grants"},
		},
		"approved, in force": {
			"end":      {requester: "ok ended", approverA: onlyOwn, approverB: onlyOwn, stranger: onlyOwn, adminUser: onlyOwn},
			"approve":  {requester: decided("approved"), approverA: decided("approved"), approverB: decided("approved"), stranger: decided("approved"), adminUser: decided("approved")},
			"deny":     {requester: decided("approved"), approverA: decided("approved"), approverB: decided("approved"), stranger: decided("approved"), adminUser: decided("approved")},
			"withdraw": {requester: decided("approved"), approverA: onlyReq, approverB: onlyReq, stranger: onlyReq, adminUser: onlyReq},
			"revoke":   {requester: noRevoke, approverA: "ok revoked", approverB: "ok revoked", stranger: noRevoke, adminUser: "ok revoked"},
		},
		"approved, scheduled": {
			"end":      {requester: "ok ended", approverA: onlyOwn, adminUser: onlyOwn},
			"approve":  {requester: decided("approved"), approverA: decided("approved"), approverB: decided("approved"), stranger: decided("approved"), adminUser: decided("approved")},
			"deny":     {approverA: decided("approved")},
			"withdraw": {requester: decided("approved"), approverA: onlyReq, approverB: onlyReq, stranger: onlyReq, adminUser: onlyReq},
			"revoke":   {requester: noRevoke, approverA: "ok revoked", approverB: "ok revoked", stranger: noRevoke, adminUser: "ok revoked"},
		},
		"approved past its end": {
			"end":      {requester: "conflict: already run out", adminUser: onlyOwn},
			"approve":  {approverB: decided("expired")},
			"deny":     {approverA: decided("expired")},
			"withdraw": {requester: decided("expired")},
			"revoke":   {requester: noRevoke, approverA: "conflict: already expired", adminUser: "conflict: already expired", stranger: noRevoke},
		},
		"expired": {
			"end":      {requester: "conflict: already run out"},
			"approve":  {approverB: decided("expired")},
			"deny":     {approverA: decided("expired")},
			"withdraw": {requester: decided("expired")},
			"revoke":   {adminUser: "conflict: already expired"},
		},
		"timed_out": {
			"end":      {requester: notGrant},
			"approve":  {approverB: timedOut},
			"deny":     {approverA: timedOut},
			"withdraw": {requester: timedOut},
			"revoke":   {adminUser: "conflict: Only approved grants"},
		},
		"denied": {
			"end":      {requester: notGrant + "; this request is denied"},
			"approve":  {approverB: decided("denied"), requester: decided("denied")},
			"deny":     {approverA: decided("denied")},
			"withdraw": {requester: decided("denied")},
			"revoke":   {adminUser: "conflict: Only approved grants", approverA: "conflict: Only approved grants"},
		},
		"withdrawn": {
			"end":      {requester: notGrant},
			"approve":  {approverA: "conflict: withdrawn by its requester", requester: "conflict: withdrawn by its requester"},
			"deny":     {approverB: "conflict: withdrawn by its requester"},
			"withdraw": {requester: "conflict: withdrawn by its requester"},
			"revoke":   {adminUser: "conflict: Only approved grants"},
		},
		"revoked": {
			"end":      {requester: "conflict: already revoked", adminUser: onlyOwn},
			"approve":  {approverB: decided("revoked")},
			"deny":     {approverA: decided("revoked")},
			"withdraw": {requester: decided("revoked")},
			"revoke":   {adminUser: "conflict: already revoked", approverA: "conflict: already revoked", stranger: noRevoke},
		},
		"ended": {
			"approve":  {approverB: decided("ended early")},
			"deny":     {approverA: decided("ended early")},
			"withdraw": {requester: decided("ended early")},
			"revoke":   {adminUser: "conflict: Only approved grants", approverA: "conflict: Only approved grants"},
			"end":      {requester: "conflict: already ended this access", approverA: onlyOwn},
		},
		"cancelled": {
			"end":      {requester: notGrant},
			"approve":  {approverA: "conflict: cancelled (grant revoked)", requester: "conflict: cancelled (grant revoked)"},
			"deny":     {approverB: "conflict: cancelled (grant revoked)"},
			"withdraw": {requester: "conflict: cancelled (grant revoked)", approverA: onlyReq},
			"revoke":   {adminUser: "conflict: Only approved grants", approverA: "conflict: Only approved grants", stranger: noRevoke},
		},
	}
	// A cancel is the system's doing (a policy disabled or deleted, a requester no longer
	// eligible): it ends a pending request and nothing else.
	cancelled := map[string]string{
		"pending": "ok cancelled", "pending, reviewed by A": "ok cancelled", "pending, A's approval lapsed": "ok cancelled",
		"pending, reviewed by A, quorum lowered to 1": "ok cancelled", "pending past its deadline": timedOut,
		"approved, in force": decided("approved"), "approved, scheduled": decided("approved"), "approved past its end": decided("expired"),
		"expired": decided("expired"), "timed_out": timedOut, "denied": decided("denied"), "withdrawn": "conflict: withdrawn by its requester",
		"revoked": decided("revoked"), "ended": decided("ended early"), "cancelled": "conflict: cancelled (grant revoked)",
	}
	for state, w := range cancelled {
		table[state]["cancel: policy disabled"] = want{SystemID: w}
		table[state]["cancel: no longer eligible"] = want{SystemID: w}
	}
	// Every state has an expectation for every action.
	allActions := []string{"approve", "deny", "withdraw", "revoke", "end", "cancel: policy disabled", "cancel: no longer eligible"}
	for state, actions := range table {
		for _, a := range allActions {
			if len(actions[a]) == 0 {
				t.Errorf("state %q has no expectation for %q", state, a)
			}
		}
	}
	for state, actions := range table {
		for action, byActor := range actions {
			for _, who := range actors {
				expect, ok := byActor[who]
				if !ok {
					continue
				}
				r := requestIn(state)
				var err error
				switch action {
				case "approve":
					err = r.Review(who, canReview[who], DecisionApprove, "", now)
				case "deny":
					err = r.Review(who, canReview[who], DecisionDeny, "not now", now)
				case "withdraw":
					err = r.Withdraw(who, now)
				case "revoke":
					err = r.Revoke(who, canRevoke[who], "incident closed", now)
				case "end":
					err = r.End(who, now)
				case "cancel: policy disabled":
					err = r.Cancel(CancelPolicyDisabled, now)
				case "cancel: no longer eligible":
					err = r.Cancel(CancelNoLongerEligible, now)
				}
				got := "ok " + string(r.StatusAt(now))
				if err != nil {
					got = ErrorCode(err) + ": " + err.Error()
				}
				if strings.HasPrefix(expect, "ok ") && got != expect || !strings.HasPrefix(expect, "ok ") && !strings.HasPrefix(got, expect[:strings.Index(expect, ":")+1]) ||
					!strings.HasPrefix(expect, "ok ") && !strings.Contains(got, expect[strings.Index(expect, ":")+2:]) {
					t.Errorf("%s / %s by %s: got %q, want %q", state, action, who, got, expect)
				}
			}
		}
	}
}

// TestCancel: only a pending request is cancelled, for a known reason, and the reason stays.
func TestCancel(t *testing.T) {
	now := t0.Add(time.Hour)
	cases := []struct {
		state  string
		reason CancelReason
		want   string // "ok cancelled" or "<code>: <part of the message>"
	}{
		{"pending", CancelGrantRevoked, "ok cancelled"},
		{"pending, reviewed by A", CancelGrantEnded, "ok cancelled"},
		{"pending", CancelPolicyDisabled, "ok cancelled"},
		{"pending", CancelNoLongerEligible, "ok cancelled"},
		{"pending", "", "invalid: Unknown cancel reason"},
		{"pending", "because", "invalid: Unknown cancel reason"},
		{"pending past its deadline", CancelGrantRevoked, "conflict: timed out"},
		{"timed_out", CancelGrantRevoked, "conflict: timed out"},
		{"approved, in force", CancelGrantRevoked, "conflict: already decided: it is approved"},
		{"approved, scheduled", CancelGrantRevoked, "conflict: already decided: it is approved"},
		{"expired", CancelGrantRevoked, "conflict: already decided: it is expired"},
		{"denied", CancelGrantRevoked, "conflict: already decided: it is denied"},
		{"withdrawn", CancelGrantRevoked, "conflict: withdrawn by its requester"},
		{"revoked", CancelGrantRevoked, "conflict: already decided: it is revoked"},
		{"cancelled", CancelPolicyDisabled, "conflict: cancelled (grant revoked)"},
	}
	for _, tc := range cases {
		r := requestIn(tc.state)
		before := r
		err := r.Cancel(tc.reason, now)
		got := "ok " + string(r.StatusAt(now))
		if err != nil {
			got = ErrorCode(err) + ": " + err.Error()
		}
		if !strings.HasPrefix(tc.want, "ok ") {
			code, msg, _ := strings.Cut(tc.want, ": ")
			if !strings.HasPrefix(got, code+":") || !strings.Contains(got, msg) {
				t.Errorf("%s / cancel %q: got %q, want %q", tc.state, tc.reason, got, tc.want)
			}
			if r.Status != before.Status || r.CancelReason != before.CancelReason {
				t.Errorf("%s / cancel %q: a refused cancel changed the request to %s (%s)", tc.state, tc.reason, r.Status, r.CancelReason)
			}
			continue
		}
		if got != tc.want || r.CancelReason != tc.reason || r.DecidedAt == nil || !r.DecidedAt.Equal(now) {
			t.Errorf("%s / cancel %q: got %q, reason %q, decided %v", tc.state, tc.reason, got, r.CancelReason, r.DecidedAt)
		}
		if r.InForce(now) || r.StartsAt != nil {
			t.Errorf("%s / cancel: a cancelled request holds a grant", tc.state)
		}
	}
	for _, c := range CancelReasons {
		if c.Explain() == string(c) || c.Explain() == "" {
			t.Errorf("reason %q is not explained", c)
		}
	}
	if got := StatusCancelled.Label(); got != "Cancelled" {
		t.Errorf("label %q", got)
	}
	if st, err := ParseStatus("cancelled"); err != nil || st != StatusCancelled {
		t.Errorf("parse cancelled: %v %v", st, err)
	}
}

// TestEndWithBase: what happens to an extension when the grant it extends is revoked or ended.
func TestEndWithBase(t *testing.T) {
	now := t0.Add(time.Hour)
	base := requestIn("approved, in force")
	base.ID = "base"
	if err := base.Revoke(approverA, true, "incident closed", now); err != nil {
		t.Fatal(err)
	}
	ended := requestIn("approved, in force")
	ended.ID = "base"
	if err := ended.End(requester, now); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		state   string
		base    func() Request
		want    string // "ok <state>", "unchanged <state>" or "<code>: <part of the message>"
		extends string
	}{
		// An approved extension lined up behind the grant, not started yet: revoked with it.
		{"approved, scheduled", func() Request { return base }, "ok revoked", "base"},
		// An extension already in force (the base ran out before the revoke of a later link).
		{"approved, in force", func() Request { return base }, "ok revoked", "base"},
		{"pending", func() Request { return base }, "ok cancelled", "base"},
		{"pending, reviewed by A", func() Request { return base }, "ok cancelled", "base"},
		// Already over in one way or another: left as it is.
		{"pending past its deadline", func() Request { return base }, "unchanged timed_out", "base"},
		{"approved past its end", func() Request { return base }, "unchanged expired", "base"},
		{"expired", func() Request { return base }, "unchanged expired", "base"},
		{"denied", func() Request { return base }, "unchanged denied", "base"},
		{"withdrawn", func() Request { return base }, "unchanged withdrawn", "base"},
		{"revoked", func() Request { return base }, "unchanged revoked", "base"},
		{"cancelled", func() Request { return base }, "unchanged cancelled", "base"},
		// Only a revoked base takes its extensions down, and only its own.
		{"approved, scheduled", func() Request { b := requestIn("approved, in force"); b.ID = "base"; return b }, "conflict: not revoked", "base"},
		{"pending", func() Request { b := requestIn("expired"); b.ID = "base"; return b }, "conflict: not revoked", "base"},
		{"approved, scheduled", func() Request { return base }, "invalid: does not extend", "other"},
		{"pending", func() Request { return base }, "invalid: does not extend", ""},
		// A base its requester ended early takes its extensions down the same way.
		{"approved, scheduled", func() Request { return ended }, "ok ended", "base"},
		{"approved, in force", func() Request { return ended }, "ok ended", "base"},
		{"pending", func() Request { return ended }, "ok cancelled", "base"},
		{"pending, reviewed by A", func() Request { return ended }, "ok cancelled", "base"},
		{"expired", func() Request { return ended }, "unchanged expired", "base"},
		{"denied", func() Request { return ended }, "unchanged denied", "base"},
		{"ended", func() Request { return ended }, "unchanged ended", "base"},
	}
	for _, tc := range cases {
		r := requestIn(tc.state)
		r.ExtendsID = tc.extends
		before := r
		changed, err := r.EndWithBase(tc.base(), now)
		var got string
		switch {
		case err != nil:
			got = ErrorCode(err) + ": " + err.Error()
		case changed:
			got = "ok " + string(r.StatusAt(now))
		default:
			got = "unchanged " + string(r.StatusAt(now))
		}
		name := tc.state + " extending " + tc.extends
		if strings.HasPrefix(tc.want, "ok ") || strings.HasPrefix(tc.want, "unchanged ") {
			if got != tc.want {
				t.Errorf("%s: got %q, want %q", name, got, tc.want)
			}
		} else if code, msg, _ := strings.Cut(tc.want, ": "); !strings.HasPrefix(got, code+":") || !strings.Contains(got, msg) {
			t.Errorf("%s: got %q, want %q", name, got, tc.want)
		}
		if !changed && (r.Status != before.Status || r.EndsAt != before.EndsAt) {
			t.Errorf("%s: unchanged, yet it is now %s until %v", name, r.Status, r.EndsAt)
		}
		if !changed {
			continue
		}
		switch r.Status {
		case StatusRevoked:
			if r.RevokedBy != approverA || r.RevokeReason != "incident closed" || !r.EndsAt.Equal(now) || r.StartsAt.After(now) || r.InForce(now) {
				t.Errorf("%s: revoked by %q for %q, %v–%v", name, r.RevokedBy, r.RevokeReason, r.StartsAt, r.EndsAt)
			}
		case StatusCancelled:
			reason := CancelGrantRevoked
			if tc.base().Status == StatusEnded {
				reason = CancelGrantEnded
			}
			if r.CancelReason != reason || r.DecidedAt == nil || !r.DecidedAt.Equal(now) {
				t.Errorf("%s: cancelled for %q at %v, want %q", name, r.CancelReason, r.DecidedAt, reason)
			}
		case StatusEnded:
			if r.RevokedBy != "" || r.RevokeReason != "" || !r.EndsAt.Equal(now) || r.StartsAt.After(now) || r.InForce(now) {
				t.Errorf("%s: ended with %q/%q, %v–%v", name, r.RevokedBy, r.RevokeReason, r.StartsAt, r.EndsAt)
			}
		}
	}
}

func TestDenyNeedsACommentAndApprovalNeedsDistinctApprovers(t *testing.T) {
	r := requestIn("pending")
	if err := r.Review(approverA, true, DecisionDeny, "  ", t0); ErrorCode(err) != EINVALID {
		t.Fatalf("deny without comment: %v", err)
	}
	if err := r.Review(approverA, true, DecisionApprove, "", t0); err != nil {
		t.Fatal(err)
	}
	if err := r.Review(approverA, true, DecisionApprove, "", t0); ErrorCode(err) != ECONFLICT {
		t.Fatalf("same approver twice: %v", err)
	}
	if r.Status != StatusPending || r.Approvals() != 1 {
		t.Fatalf("one approval of two: %s %d", r.Status, r.Approvals())
	}
}

func TestGrantClockStartsAtApprovalOrSchedule(t *testing.T) {
	r := requestIn("pending")
	r.ApprovalsRequired = 1
	slow := t0.Add(3 * time.Hour)
	if err := r.Review(approverA, true, DecisionApprove, "", slow); err != nil {
		t.Fatal(err)
	}
	if !r.StartsAt.Equal(slow) || !r.EndsAt.Equal(slow.Add(time.Hour)) {
		t.Fatalf("grant %v–%v, want it to start at approval", r.StartsAt, r.EndsAt)
	}
	s := requestIn("pending")
	s.ApprovalsRequired = 1
	s.ScheduledStart = at(8 * time.Hour)
	_ = s.Review(approverA, true, DecisionApprove, "", t0.Add(time.Hour))
	if !s.StartsAt.Equal(*at(8 * time.Hour)) || s.InForce(t0.Add(2*time.Hour)) || !s.InForce(t0.Add(8*time.Hour)) {
		t.Fatalf("scheduled grant %v–%v", s.StartsAt, s.EndsAt)
	}
	// The end is exclusive: in force a moment before, not at the end.
	if !s.InForce(s.EndsAt.Add(-time.Nanosecond)) || s.InForce(*s.EndsAt) {
		t.Fatal("end boundary wrong")
	}
}

// TestEndStopsTheGrantNow: a grant its requester ends is over at once, and a scheduled one
// never starts.
func TestEndStopsTheGrantNow(t *testing.T) {
	now := t0.Add(time.Hour)
	for _, state := range []string{"approved, in force", "approved, scheduled"} {
		r := requestIn(state)
		if err := r.End(requester, now); err != nil {
			t.Fatalf("%s: %v", state, err)
		}
		if r.Status != StatusEnded || r.InForce(now) || r.InForce(t0.Add(5*time.Hour+time.Minute)) || !r.EndsAt.Equal(now) || r.StartsAt.After(now) {
			t.Fatalf("%s: ended as %s, %v–%v", state, r.Status, r.StartsAt, r.EndsAt)
		}
		if r.StatusAt(t0.Add(48*time.Hour)) != StatusEnded {
			t.Fatalf("%s: later it reads %s", state, r.StatusAt(t0.Add(48*time.Hour)))
		}
	}
}

func TestRevokeEndsTheGrantNow(t *testing.T) {
	r := requestIn("approved, in force")
	now := t0.Add(time.Hour)
	if err := r.Revoke(adminUser, true, "", now); ErrorCode(err) != EINVALID {
		t.Fatalf("revoke without reason: %v", err)
	}
	if err := r.Revoke(adminUser, true, "done", now); err != nil {
		t.Fatal(err)
	}
	if r.InForce(now) || !r.EndsAt.Equal(now) {
		t.Fatalf("revoked grant still in force until %v", r.EndsAt)
	}
}

func TestSubmissionValidation(t *testing.T) {
	p := NewPolicy(ScopeRole, "r")
	p.TicketRequired = true
	cases := []struct {
		field string
		s     Submission
	}{
		{"duration", Submission{Duration: 0, Justification: "x", Ticket: "T-1"}},
		{"duration", Submission{Duration: -time.Hour, Justification: "x", Ticket: "T-1"}},
		{"duration", Submission{Duration: 5 * time.Hour, Justification: "x", Ticket: "T-1"}},
		{"justification", Submission{Duration: time.Hour, Ticket: "T-1"}},
		{"justification", Submission{Duration: time.Hour, Justification: strings.Repeat("x", 2001), Ticket: "T-1"}},
		{"ticket", Submission{Duration: time.Hour, Justification: "x"}},
		{"ticket", Submission{Duration: time.Hour, Justification: "x", Ticket: "T-1\nT-2"}},
		{"scheduled_start", Submission{Duration: time.Hour, Justification: "x", Ticket: "T-1", ScheduledStart: at(8 * 24 * time.Hour)}},
		{"scheduled_start", Submission{Duration: time.Hour, Justification: "x", Ticket: "T-1", ScheduledStart: at(-time.Hour)}},
	}
	for _, tc := range cases {
		err := tc.s.Validate(p, DefaultOrgMax, t0)
		if e, ok := err.(*Error); !ok || e.Field != tc.field {
			t.Errorf("%+v: got %v, want an error on %s", tc.s, err, tc.field)
		}
	}
	// The org ceiling caps a policy's maximum.
	if err := (&Submission{Duration: 3 * time.Hour, Justification: "x", Ticket: "T"}).Validate(p, 2*time.Hour, t0); err == nil {
		t.Fatal("org ceiling ignored")
	}
}

// TestParseDuration: whole numbers of days, hours and minutes in that order, or minutes alone;
// nothing of Go's duration syntax beyond that (fractions, seconds, signs), which
// static/js/request.js does not read either.
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90": 90 * time.Minute, "45m": 45 * time.Minute, "4h": 4 * time.Hour, "1h30m": 90 * time.Minute,
		"2d": 48 * time.Hour, "1d2h": 26 * time.Hour, "2d4h": 52 * time.Hour, "1d0h30m": 24*time.Hour + 30*time.Minute, " 2D ": 48 * time.Hour,
		"1H30M": 90 * time.Minute, "0090": 90 * time.Minute, "90m": 90 * time.Minute, "365d": 365 * 24 * time.Hour, "525600": 365 * 24 * time.Hour} {
		if got, err := ParseDuration("d", in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "0m", "0d0h", "-5", "+90", "abc", "1.5s", "99999999999999999999", "9223372036854775807h", "366d",
		"525601", "365d1m", "365d8760h", "30s", "1.5h", "4.5m", "1.5d", ".5h", "1h30m0s", "5400s", "+4h", "1d+1h", "-0d4h", "2d0",
		"30m1h", "2d 4h", "1h 30m", "h", "d", "1e3", "٣", "4 h", "4hours", "1w"} {
		if _, err := ParseDuration("d", in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestRevokeReason(t *testing.T) {
	for _, c := range []struct {
		in, want string
		field    string
	}{
		{"  Retired task.  ", "Retired task.", ""},
		{"", "", "reason"},
		{" \t ", "", "reason"},
		{strings.Repeat("x", MaxComment+1), "", "reason"},
		{"bad\x00byte", "", "reason"},
	} {
		got, err := RevokeReason(c.in)
		var pe *Error
		switch {
		case c.field == "" && (err != nil || got != c.want):
			t.Errorf("%q: got %q, %v", c.in, got, err)
		case c.field != "" && (!errors.As(err, &pe) || pe.Field != c.field):
			t.Errorf("%q: want a %s error, got %v", c.in, c.field, err)
		}
	}
}

// A duration reads as people say it, and a few seconds left are not written as nothing.
func TestFormatDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 min"}, {-time.Minute, "0 min"}, {20 * time.Second, "under 1 min"}, {40 * time.Second, "1 min"},
		{90 * time.Minute, "1 h 30 min"}, {49 * time.Hour, "2 d 1 h"},
	} {
		if got := FormatDuration(c.d); got != c.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
