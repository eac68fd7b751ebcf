package access_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Statements a request's life may cost, mail included, with each audit event counted as the one
// statement it will be once events are inserted without the chain's head (see auditCost):
// submit reads the policy with what it needs, then its audience (approvers, requester, tasks),
// and inserts the request, its event and all its mail; an approval locks the request, reads its
// reviews with the approver's membership, inserts the review, saves the request, inserts the
// event, reads the audience and inserts all its mail.
const (
	submitBudget  = 5
	approveBudget = 7
)

// auditCost is how many statements appending one audit event takes today.
func auditCost(t *testing.T, db *store.Store) uint64 {
	t.Helper()
	before := db.Counts()
	if err := db.Tx(context.Background(), func(tx *store.Store) error {
		return tx.AppendAudit(context.Background(), audit.System.Event(audit.SettingsUpdated, "x", "1", nil))
	}); err != nil {
		t.Fatal(err)
	}
	return db.Counts().Statements - before.Statements
}

// spent runs fn and returns the statements it sent, each of its events counted as one.
func spent(t *testing.T, w *world, events int, fn func()) uint64 {
	t.Helper()
	per := auditCost(t, w.db)
	before := w.db.Counts()
	fn()
	return w.db.Counts().Statements - before.Statements - uint64(events)*(per-1)
}

func TestSubmitAndApproveStayWithinTheirStatementBudget(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 3, 1)
		cfg := config.Config{}
		w.acc = access.New(w.db, w.clock.Now, mail.NewOutbox(w.db, cfg, w.clock.Now))
		queued := func() int64 {
			n, err := w.db.MailCounts(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n[pam.MailQueued]
		}

		var r pam.Request
		n := spent(t, w, 1, func() {
			var err error
			r, err = w.acc.Submit(w.ctx, as(w.requester), w.requester, w.policy.ID, pam.Submission{Duration: time.Hour, Justification: "INC-1"})
			if err != nil {
				t.Fatal(err)
			}
		})
		if n > submitBudget {
			t.Errorf("submit took %d statements, budget %d", n, submitBudget)
		}
		if q := queued(); q != 3 {
			t.Fatalf("submit queued %d messages, want one to each of 3 approvers", q)
		}

		n = spent(t, w, 1, func() {
			if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, "ok"); err != nil {
				t.Fatal(err)
			}
		})
		if n > approveBudget {
			t.Errorf("approve took %d statements, budget %d", n, approveBudget)
		}
		// The requester hears of the approval, the two approvers who were asked that it no
		// longer needs them.
		if q := queued(); q != 6 {
			t.Fatalf("%d messages queued after the approval, want 3 more", q)
		}
		got, err := w.db.RequestByID(w.ctx, r.ID)
		if err != nil || got.Status != pam.StatusApproved || len(got.Reviews) != 1 || got.Reviews[0].ReviewerName != w.approvers[0].Name {
			t.Fatalf("approved request: %+v %v", got, err)
		}
	})
}

// A manual request needs as many enabled approvers besides its requester as it needs approvals,
// counted from the approvers its mail goes to.
func TestSubmitCountsEnabledApproversBesidesTheRequester(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 3, 3)
		if err := w.adm.AddMember(w.ctx, audit.System, w.group.ID, w.requester.ID); err != nil {
			t.Fatal(err)
		}
		w.submit() // three others may approve
		if err := w.db.ExecRaw(w.ctx, "UPDATE users SET disabled_at = ? WHERE id = ?", w.clock.Now().UTC(), string(w.approvers[0].ID)); err != nil {
			t.Fatal(err)
		}
		_, err := w.acc.Submit(w.ctx, as(w.requester), w.requester, w.policy.ID, pam.Submission{Duration: time.Hour, Justification: "INC-2"})
		if pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("two enabled approvers besides the requester for three approvals: %v", err)
		}
		if n := w.count(audit.RequestCreated.String()); n != 1 {
			t.Fatalf("%d requests recorded, want the first only", n)
		}
	})
}

// A policy that asks for two-step verification at request time refuses, inside the
// submission's transaction, a submission whose caller did not check a fresh code; one with
// mistakes is refused for them before.
func TestSubmitUnderAStepUpPolicyNeedsTheCode(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 1, 1)
		p := pam.NewPolicy(pam.ScopeTask, w.other.ID)
		p.ApproverGroupID, p.MFARequired = w.group.ID, true
		p, err := w.adm.CreatePolicy(w.ctx, audit.System, p)
		if err != nil {
			t.Fatal(err)
		}
		// A submission with mistakes is told of them first, not asked for a code it would waste.
		bad := pam.Submission{Duration: time.Minute}
		if _, err := w.acc.Submit(w.ctx, as(w.requester), w.requester, p.ID, bad); errors.Is(err, access.ErrStepUp) || pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("with mistakes and without the code: %v", err)
		}
		sub := pam.Submission{Duration: time.Hour, Justification: "INC-3"}
		if _, err := w.acc.Submit(w.ctx, as(w.requester), w.requester, p.ID, sub); !errors.Is(err, access.ErrStepUp) || pam.ErrorCode(err) != pam.EFORBIDDEN {
			t.Fatalf("without the code: %v", err)
		}
		if n := w.count(audit.RequestCreated.String()); n != 0 {
			t.Fatalf("%d requests recorded without the code", n)
		}
		sub.SteppedUp = true
		if r, err := w.acc.Submit(w.ctx, as(w.requester), w.requester, p.ID, sub); err != nil || r.Status != pam.StatusPending {
			t.Fatalf("with the code: %+v %v", r, err)
		}
	})
}

// With two approvals needed, 32 approvers at once make exactly two reviews and one approval: each
// reviewer sees the reviews committed while it waited for the request's lock (the reviews are
// read after the lock; read with it, PostgreSQL would show a waiter the reviews as they were
// when it started waiting, and a third approval would be counted as the second).
func TestConcurrentApprovalsCountTheReviewsCommittedMeanwhile(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 32, 2)
		r := w.submit()
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		start := make(chan struct{})
		for _, a := range w.approvers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := w.acc.Review(w.ctx, as(a), a, r.ID, pam.DecisionApprove, "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case pam.ErrorCode(err) == pam.ECONFLICT:
					conflicts++
				default:
					t.Errorf("review: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 2 || conflicts != 30 {
			t.Fatalf("%d reviews went through and %d were refused; want 2 and 30", wins, conflicts)
		}
		got, err := w.db.RequestByID(w.ctx, r.ID)
		if err != nil || got.Status != pam.StatusApproved || len(got.Reviews) != 2 {
			t.Fatalf("request after the race: %s with %d reviews (%v)", got.Status, len(got.Reviews), err)
		}
		if n := w.count("request.approved"); n != 1 {
			t.Fatalf("%d approval events", n)
		}
	})
}
