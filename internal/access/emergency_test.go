package access_test

import (
	"sync"
	"testing"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// emergencyWorld is newWorld with emergency access allowed on its policy.
func emergencyWorld(t *testing.T, dialect string, nApprovers int) *world {
	t.Helper()
	w := newWorld(t, dialect, nApprovers, 1)
	p, err := w.db.PolicyByID(w.ctx, w.policy.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.EmergencyAllowed = true
	if err := w.db.UpdatePolicy(w.ctx, p); err != nil {
		t.Fatal(err)
	}
	w.policy = p
	return w
}

// raceAll runs fn in n goroutines released at once and counts the successes and conflicts;
// any other outcome fails the test.
func raceAll(t *testing.T, n int, fn func(i int) error) (wins, conflicts int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case pam.ErrorCode(err) == pam.ECONFLICT:
				conflicts++
			default:
				t.Errorf("%d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return wins, conflicts
}

// Of many emergency requests by one person under one policy at the same moment, exactly one is
// granted; of many reviews of it at once, exactly one is recorded.
func TestConcurrentEmergenciesAndReviewsHaveOneOutcome(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := emergencyWorld(t, dialect, 8)
		var granted pam.Request
		var mu sync.Mutex
		wins, conflicts := raceAll(t, 8, func(int) error {
			r, err := w.acc.SubmitEmergency(w.ctx, as(w.requester), w.requester, w.policy.ID,
				pam.EmergencySubmission{Justification: "Outage", SteppedUp: true})
			if err == nil {
				mu.Lock()
				granted = r
				mu.Unlock()
			}
			return err
		})
		if wins != 1 || conflicts != 7 {
			t.Fatalf("%d granted and %d refused; want 1 and 7", wins, conflicts)
		}
		if n := w.count("request.emergency_granted"); n != 1 {
			t.Fatalf("%d grant events", n)
		}
		wins, conflicts = raceAll(t, len(w.approvers), func(i int) error {
			a := w.approvers[i]
			outcome, reason := pam.EmergencyConfirmed, ""
			if i%2 == 1 {
				outcome, reason = pam.EmergencyMisuse, "not needed"
			}
			_, err := w.acc.ReviewEmergency(w.ctx, as(a), a, granted.ID, outcome, reason)
			return err
		})
		if wins != 1 || conflicts != len(w.approvers)-1 {
			t.Fatalf("%d reviews recorded and %d refused", wins, conflicts)
		}
		if n := w.count("request.emergency_confirmed") + w.count("request.misuse_reported"); n != 1 {
			t.Fatalf("%d review events", n)
		}
		// Without a fresh step-up nothing is written.
		w.clock.Advance(2 * w.policy.EmergencyLength())
		if _, err := w.acc.SubmitEmergency(w.ctx, as(w.requester), w.requester, w.policy.ID,
			pam.EmergencySubmission{Justification: "Outage"}); pam.ErrorCode(err) != pam.EFORBIDDEN {
			t.Fatalf("without a step-up: %v", err)
		}
		if n := w.count("request.emergency_granted"); n != 1 {
			t.Fatalf("%d grant events after a refusal", n)
		}
	})
}
