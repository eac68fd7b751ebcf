package pam

import (
	"testing"
	"time"
)

// A delegate's review counts for the approver it acts for: neither acts again on the request,
// nobody acts for its requester, and the quorum counts each person once.
func TestReviewOnBehalf(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	pending := func() Request {
		return Request{ID: "r", RequesterID: "rhea", Status: StatusPending, ApprovalsRequired: 2, PendingUntil: now.Add(time.Hour), Duration: time.Hour}
	}
	for _, c := range []struct {
		name  string
		first [2]UserID // reviewer, on behalf of, already on the request
		by    UserID
		for_  UserID
		can   bool
		code  string
	}{
		{"delegate acts for an approver", [2]UserID{}, "dana", "olivia", true, ""},
		{"not in range", [2]UserID{}, "dana", "olivia", false, EFORBIDDEN},
		{"for the requester", [2]UserID{}, "dana", "rhea", true, EFORBIDDEN},
		{"the requester as delegate", [2]UserID{}, "rhea", "olivia", true, EFORBIDDEN},
		{"approver after their delegate", [2]UserID{"dana", "olivia"}, "olivia", "", true, ECONFLICT},
		{"delegate after the approver", [2]UserID{"olivia", ""}, "dana", "olivia", true, ECONFLICT},
		{"delegate who approved for themselves", [2]UserID{"dana", ""}, "dana", "olivia", true, ECONFLICT},
		{"approver-delegate after acting for another", [2]UserID{"dana", "olivia"}, "dana", "", true, ECONFLICT},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pending()
			if c.first[0] != "" {
				if err := r.ReviewFor(c.first[0], c.first[1], true, DecisionApprove, "", now); err != nil {
					t.Fatal(err)
				}
			}
			err := r.ReviewFor(c.by, c.for_, c.can, DecisionApprove, "", now)
			if (err == nil) != (c.code == "") || err != nil && ErrorCode(err) != c.code {
				t.Fatalf("got %v, want %q", err, c.code)
			}
			if err == nil && r.Reviews[len(r.Reviews)-1].Principal() != c.for_ {
				t.Fatalf("principal %q", r.Reviews[len(r.Reviews)-1].Principal())
			}
		})
	}
}

func TestDelegationValidate(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	dana := User{ID: "dana"}
	off := now
	for _, c := range []struct {
		name       string
		to         User
		start, end time.Time
		field      string
	}{
		{"fine", dana, now, now.Add(24 * time.Hour), ""},
		{"self", User{ID: "olivia"}, now, now.Add(time.Hour), "delegate"},
		{"disabled", User{ID: "dana", DisabledAt: &off}, now, now.Add(time.Hour), "delegate"},
		{"backwards", dana, now.Add(time.Hour), now, "ends_at"},
		{"past", dana, now.Add(-2 * time.Hour), now.Add(-time.Hour), "ends_at"},
		{"too long", dana, now, now.Add(MaxDelegation + time.Minute), "ends_at"},
	} {
		d := Delegation{PrincipalID: "olivia", DelegateID: c.to.ID, StartsAt: c.start, EndsAt: c.end}
		err := d.Validate(c.to, now)
		var field string
		if e, ok := err.(*Error); ok {
			field = e.Field
		}
		if field != c.field {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
