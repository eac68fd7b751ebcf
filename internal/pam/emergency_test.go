package pam

import (
	"strings"
	"testing"
	"time"
)

func TestEmergencyGrantAndReview(t *testing.T) {
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	grant := func() Request {
		r := Request{ID: "r", RequesterID: "eve", Status: StatusPending, CreatedAt: now, PendingUntil: now}
		if err := r.GrantEmergency(30*time.Minute, now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	fieldOf := func(err error) string {
		if e, ok := err.(*Error); ok {
			return e.Field
		}
		return ""
	}
	r := grant()
	if !r.Emergency || !r.InForce(now) || r.EndsAt.Sub(*r.StartsAt) != 30*time.Minute || *r.DecidedAt != now {
		t.Fatalf("granted: %+v", r)
	}
	if err := r.GrantEmergency(time.Hour, now); ErrorCode(err) != ECONFLICT {
		t.Fatalf("granted twice: %v", err)
	}
	for _, c := range []struct {
		name            string
		by              UserID
		can             bool
		outcome, reason string
		at              time.Time
		code            string
		field           string
		revoke          bool
	}{
		{"the requester", "eve", true, EmergencyConfirmed, "", now, EFORBIDDEN, "", false},
		{"not an approver", "olga", false, EmergencyConfirmed, "", now, EFORBIDDEN, "", false},
		{"misuse needs a reason", "olivia", true, EmergencyMisuse, " ", now, EINVALID, "reason", false},
		{"an unknown outcome", "olivia", true, "maybe", "", now, EINVALID, "outcome", false},
		{"confirm", "olivia", true, EmergencyConfirmed, "", now, "", "", false},
		{"misuse in force revokes", "olivia", true, EmergencyMisuse, "no incident", now, "", "", true},
		{"misuse after the end revokes nothing", "olivia", true, EmergencyMisuse, "no incident", now.Add(time.Hour), "", "", false},
	} {
		r := grant()
		revoke, err := r.ReviewEmergency(c.by, c.can, c.outcome, c.reason, c.at)
		if c.code != "" {
			if ErrorCode(err) != c.code || c.field != "" && fieldOf(err) != c.field || r.EmergencyReview != nil {
				t.Errorf("%s: %v (field %q), review %+v", c.name, err, fieldOf(err), r.EmergencyReview)
			}
			continue
		}
		if err != nil || revoke != c.revoke || r.EmergencyReview == nil || r.EmergencyReview.Outcome != c.outcome {
			t.Errorf("%s: revoke %v, %v, %+v", c.name, revoke, err, r.EmergencyReview)
			continue
		}
		if _, err := r.ReviewEmergency("oscar", true, EmergencyConfirmed, "", c.at); ErrorCode(err) != ECONFLICT {
			t.Errorf("%s: a second review: %v", c.name, err)
		}
	}
	plain := Request{RequesterID: "eve", Status: StatusApproved}
	if _, err := plain.ReviewEmergency("olivia", true, EmergencyConfirmed, "", now); ErrorCode(err) != ECONFLICT {
		t.Fatalf("reviewing a request that is no emergency: %v", err)
	}
	if got := MisuseReason(strings.Repeat("x", MaxComment)); len([]rune(got)) > MaxComment {
		t.Fatalf("misuse reason is %d characters", len([]rune(got)))
	}
}
