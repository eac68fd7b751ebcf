package access_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

type world struct {
	t         *testing.T
	ctx       context.Context
	db        *store.Store
	clock     *testenv.Clock
	adm       *admin.Service
	acc       *access.Service
	requester pam.User
	approvers []pam.User
	group     pam.Group
	task      pam.Task
	other     pam.Task
	role      pam.Role
	policy    pam.Policy
}

// newWorld builds: a role holding one task, a policy on the role needing `approvals`
// approvals from a group of `nApprovers`, and a requester.
func newWorld(t *testing.T, dialect string, nApprovers, approvals int) *world {
	t.Helper()
	w := &world{t: t, ctx: context.Background(), db: testenv.Store(t, dialect), clock: testenv.NewClock()}
	w.adm = admin.New(w.db, w.clock.Now)
	w.acc = access.New(w.db, w.clock.Now, nil)
	w.requester = w.user("req@example.com")
	var err error
	if w.group, err = w.adm.CreateGroup(w.ctx, audit.System, "Approvers", ""); err != nil {
		t.Fatal(err)
	}
	for i := range nApprovers {
		u := w.user(fmt.Sprintf("approver%02d@example.com", i))
		w.approvers = append(w.approvers, u)
		if err := w.adm.AddMember(w.ctx, audit.System, w.group.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	w.task, _ = w.adm.CreateTask(w.ctx, audit.System, "exchange/Set-Mailbox", "", "")
	w.other, _ = w.adm.CreateTask(w.ctx, audit.System, "exchange/Search-Mailbox", "", "")
	w.role, _ = w.adm.CreateRole(w.ctx, audit.System, "Mailbox admin", "")
	if err := w.adm.AddRoleTask(w.ctx, audit.System, w.role.ID, w.task.Key); err != nil {
		t.Fatal(err)
	}
	p := pam.NewPolicy(pam.ScopeRole, w.role.ID)
	p.ApproverGroupID, p.ApprovalsRequired = w.group.ID, approvals
	if w.policy, err = w.adm.CreatePolicy(w.ctx, audit.System, p); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) user(email string) pam.User {
	w.t.Helper()
	u, _, err := w.adm.CreateUser(w.ctx, audit.System, email, "User "+email, false, false)
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

func as(u pam.User) audit.Actor {
	return audit.Actor{Type: audit.ActorUser, ID: string(u.ID), Name: u.Email}
}

func (w *world) submit() pam.Request {
	w.t.Helper()
	r, err := w.acc.Submit(w.ctx, as(w.requester), w.requester, w.policy.ID, pam.Submission{Duration: time.Hour, Justification: "INC-1 mailbox full"})
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *world) check(task string) access.Decision {
	w.t.Helper()
	d, err := w.acc.Check(w.ctx, audit.Actor{Type: audit.ActorToken, Name: "runspace"}, w.requester.Email, task)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

func (w *world) count(action string) int {
	w.t.Helper()
	evs, err := w.db.AuditEvents(w.ctx, store.AuditFilter{Action: action, Limit: 500})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(evs)
}

func TestLifecycleAndCheck(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 3, 2)
		r := w.submit()
		if d := w.check(w.task.Key); d.Allowed || d.Reason != access.ReasonNoGrant {
			t.Fatalf("pending: %+v", d)
		}
		w.clock.Advance(2 * time.Hour) // a slow first approver
		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, ""); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("second review by the same approver: %v", err)
		}
		if _, err := w.acc.Review(w.ctx, as(w.requester), w.requester, r.ID, pam.DecisionApprove, ""); pam.ErrorCode(err) != pam.EFORBIDDEN {
			t.Fatalf("self review: %v", err)
		}
		w.clock.Advance(time.Hour)
		approvedAt := w.clock.Now()
		r, err := w.acc.Review(w.ctx, as(w.approvers[1]), w.approvers[1], r.ID, pam.DecisionApprove, "ok")
		if err != nil || r.Status != pam.StatusApproved {
			t.Fatalf("second approval: %v %s", err, r.Status)
		}
		// The clock started at approval, not at the request.
		if !r.StartsAt.Equal(approvedAt) || !r.EndsAt.Equal(approvedAt.Add(time.Hour)) {
			t.Fatalf("grant %v–%v, approved at %v", r.StartsAt, r.EndsAt, approvedAt)
		}
		d := w.check(w.task.Key)
		if !d.Allowed || d.RequestID != r.ID || d.ExpiresAt == nil || !d.ExpiresAt.Equal(*r.EndsAt) {
			t.Fatalf("in force: %+v", d)
		}
		if d := w.check(w.other.Key); d.Allowed {
			t.Fatalf("a task outside the scope was allowed: %+v", d)
		}
		if d := w.check("exchange/Nope"); d.Allowed || d.Reason != access.ReasonUnknownTask {
			t.Fatalf("unknown task: %+v", d)
		}
		if d, _ := w.acc.Check(w.ctx, audit.System, "ghost@example.com", w.task.Key); d.Allowed || d.Reason != access.ReasonUnknownUser {
			t.Fatalf("unknown user: %+v", d)
		}
		// Expiry boundary with no sweeper: allowed a moment before the end, denied at the end.
		w.clock.Advance(time.Hour - time.Millisecond)
		if d := w.check(w.task.Key); !d.Allowed {
			t.Fatalf("a moment before the end: %+v", d)
		}
		w.clock.Advance(time.Millisecond)
		if d := w.check(w.task.Key); d.Allowed {
			t.Fatalf("at the end: %+v", d)
		}
		if n := w.count("access.checked"); n != 7 {
			t.Fatalf("%d check events, want 7", n)
		}
		if n, err := w.acc.Sweep(w.ctx); err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		got, _ := w.db.RequestByID(w.ctx, r.ID)
		if got.Status != pam.StatusExpired || w.count("request.expired") != 1 {
			t.Fatalf("after sweep: %s", got.Status)
		}
	})
}

func TestRevokeIsSeenByTheNextCheck(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		r := w.submit()
		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatal(err)
		}
		if !w.check(w.task.Key).Allowed {
			t.Fatal("not allowed after approval")
		}
		if _, err := w.acc.Revoke(w.ctx, as(w.requester), w.requester, r.ID, "mine"); pam.ErrorCode(err) != pam.EFORBIDDEN {
			t.Fatalf("requester revoking: %v", err)
		}
		if _, err := w.acc.Revoke(w.ctx, as(w.approvers[1]), w.approvers[1], r.ID, "done early"); err != nil {
			t.Fatal(err)
		}
		if d := w.check(w.task.Key); d.Allowed {
			t.Fatalf("allowed after revoke: %+v", d)
		}
	})
}

func TestExemptAndEnforcementOff(t *testing.T) {
	w := newWorld(t, "sqlite", 1, 1)
	svc, _ := w.adm.CreateGroup(w.ctx, audit.System, "Service accounts", "")
	robot := w.user("robot@example.com")
	_ = w.adm.AddMember(w.ctx, audit.System, svc.ID, robot.ID)
	if err := w.adm.UpdateSettings(w.ctx, audit.System, admin.SettingsInput{Enforcement: true, ExemptGroupID: svc.ID, MaxDuration: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if d, _ := w.acc.Check(w.ctx, audit.System, "robot@example.com", w.task.Key); !d.Allowed || d.Reason != access.ReasonExempt {
		t.Fatalf("exempt: %+v", d)
	}
	if err := w.adm.UpdateSettings(w.ctx, audit.System, admin.SettingsInput{Enforcement: false, Confirmed: true, Reason: "test", MaxDuration: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if d := w.check(w.task.Key); !d.Allowed || d.Reason != access.ReasonNotEnforced {
		t.Fatalf("enforcement off: %+v", d)
	}
}

func TestCheckFailsClosedWhenTheDatabaseIsGone(t *testing.T) {
	w := newWorld(t, "postgres", 1, 1)
	w.db.Close()
	d, err := w.acc.Check(w.ctx, audit.System, w.requester.Email, w.task.Key)
	if err == nil || d.Allowed {
		t.Fatalf("with the database closed: %+v %v", d, err)
	}
}

// TestConcurrentReviewsHaveOneOutcome: 32 approvers approve and deny one request at once.
func TestConcurrentReviewsHaveOneOutcome(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 32, 1)
		r := w.submit()
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		start := make(chan struct{})
		for i, a := range w.approvers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				decision, comment := pam.DecisionApprove, ""
				if i%2 == 1 {
					decision, comment = pam.DecisionDeny, "no"
				}
				_, err := w.acc.Review(w.ctx, as(a), a, r.ID, decision, comment)
				mu.Lock()
				defer mu.Unlock()
				switch pam.ErrorCode(err) {
				case pam.EINTERNAL:
					if err == nil {
						wins++
						return
					}
					t.Errorf("review: %v", err)
				case pam.ECONFLICT:
					conflicts++
				default:
					t.Errorf("review: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || conflicts != 31 {
			t.Fatalf("%d decided and %d were told it was already decided; want 1 and 31", wins, conflicts)
		}
		got, _ := w.db.RequestByID(w.ctx, r.ID)
		if len(got.Reviews) != 1 {
			t.Fatalf("%d reviews stored", len(got.Reviews))
		}
		if n := w.count("request.approved") + w.count("request.denied"); n != 1 {
			t.Fatalf("%d decision events", n)
		}
	})
}

func TestConcurrentSweepersRecordOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		for range 5 {
			w.submit()
		}
		w.clock.Advance(25 * time.Hour)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.acc.Sweep(w.ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := w.count("request.timed_out"); n != 5 {
			t.Fatalf("%d timed-out events for 5 requests", n)
		}
	})
}

func TestExtensionContinuesWithoutGapOrOverlap(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 2, 1)
		r := w.submit()
		r, _ = w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, "")
		w.clock.Advance(40 * time.Minute)
		ext, err := w.acc.Extend(w.ctx, as(w.requester), w.requester, r.ID, pam.Submission{Duration: 2 * time.Hour, Justification: "still fixing"})
		if err != nil {
			t.Fatal(err)
		}
		ext, err = w.acc.Review(w.ctx, as(w.approvers[1]), w.approvers[1], ext.ID, pam.DecisionApprove, "")
		if err != nil {
			t.Fatal(err)
		}
		if !ext.StartsAt.Equal(*r.EndsAt) || !ext.EndsAt.Equal(r.EndsAt.Add(2*time.Hour)) {
			t.Fatalf("extension %v–%v after grant ending %v", ext.StartsAt, ext.EndsAt, r.EndsAt)
		}
		w.clock.Advance(20 * time.Minute) // exactly the end of the first grant
		if d := w.check(w.task.Key); !d.Allowed || d.RequestID != ext.ID {
			t.Fatalf("at the hand-over: %+v", d)
		}
	})
}

func TestNobodyCanApproveIsRefusedAtSubmit(t *testing.T) {
	w := newWorld(t, "sqlite", 1, 1)
	if err := w.adm.AddMember(w.ctx, audit.System, w.group.ID, w.requester.ID); err != nil {
		t.Fatal(err)
	}
	// Remove the only other approver: the requester alone cannot approve their own request.
	if err := w.adm.RemoveMember(w.ctx, audit.System, w.group.ID, w.approvers[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err := w.acc.Submit(w.ctx, as(w.requester), w.requester, w.policy.ID, pam.Submission{Duration: time.Hour, Justification: "x"})
	if pam.ErrorCode(err) != pam.EINVALID {
		t.Fatalf("submit with no possible approver: %v", err)
	}
}

// TestChecksShareCommitsAndEachIsRecorded: 200 checks at once are all answered and all
// recorded once each, in a whole chain.
func TestChecksShareCommitsAndEachIsRecorded(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 1, 1)
		before, err := w.db.AuditHead(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		const n = 200
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				task := w.task.Key
				if i%2 == 1 {
					task = "no/such-task"
				}
				d, err := w.acc.Check(w.ctx, audit.Actor{Type: audit.ActorToken, Name: fmt.Sprint("t", i)}, w.requester.Email, task)
				if err != nil || d.Allowed {
					errs <- fmt.Errorf("check %d: %+v %v", i, d, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		head, count, err := w.db.VerifyAudit(w.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if head.Seq != before.Seq+n || count != head.Seq {
			t.Fatalf("head %d after %d checks from %d", head.Seq, n, before.Seq)
		}
		seen := map[string]bool{}
		for ev, err := range w.db.AuditChain(w.ctx, before.Seq, head.Seq) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Action != "access.checked" || seen[ev.ActorName] {
				t.Fatalf("event %d: %s by %s (twice: %v)", ev.Seq, ev.Action, ev.ActorName, seen[ev.ActorName])
			}
			seen[ev.ActorName] = true
			// Each names the checked person, so "last check seen" is one index read.
			if ev.SubjectID != string(w.requester.ID) {
				t.Fatalf("event %d names subject %q, want %q", ev.Seq, ev.SubjectID, w.requester.ID)
			}
		}
		// A check about nobody names nobody.
		if _, err := w.acc.Check(w.ctx, audit.Actor{Type: audit.ActorToken, Name: "t-unknown"}, "nobody@example.com", w.task.Key); err != nil {
			t.Fatal(err)
		}
		last, err := w.db.AuditHead(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := w.db.AuditEvent(w.ctx, last.Seq); err != nil || ev.SubjectID != "" {
			t.Fatalf("a check of an unknown user names %q (%v)", ev.SubjectID, err)
		}
	})
}

// TestChecksInAFailedBatchAreAllDenied: when the batch's commit fails, every check waiting on
// it answers with an error and allowed false, and nothing of the batch is recorded.
func TestChecksInAFailedBatchAreAllDenied(t *testing.T) {
	w := newWorld(t, "postgres", 1, 1)
	r := w.submit()
	if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, ""); err != nil {
		t.Fatal(err)
	}
	if d := w.check(w.task.Key); !d.Allowed {
		t.Fatalf("before the failure: %+v", d)
	}
	before, _ := w.db.AuditHead(w.ctx)
	// Every insert into the events now fails: the decision reads work, the commit does not.
	if err := w.db.ExecRaw(w.ctx, `CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused for the test'; END $$`); err != nil {
		t.Fatal(err)
	}
	if err := w.db.ExecRaw(w.ctx, `CREATE TRIGGER refuse_events BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_events()`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var denied sync.Map
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := w.acc.Check(w.ctx, audit.System, w.requester.Email, w.task.Key)
			if err != nil && !d.Allowed {
				denied.Store(i, true)
			}
		}()
	}
	wg.Wait()
	n := 0
	denied.Range(func(any, any) bool { n++; return true })
	if n != 50 {
		t.Fatalf("%d of 50 checks failed closed; the grant is in force, so the others were allowed without a record", n)
	}
	if after, _ := w.db.AuditHead(w.ctx); after != before {
		t.Fatalf("head moved from %v to %v", before, after)
	}
}

// TestOnePoisonedCheckFailsAlone: the database refuses one caller's event (a trigger stands in
// for any value it cannot store); that caller is denied, and every other check that shared its
// batch is still answered and recorded, because a failed batch is retried event by event.
func TestOnePoisonedCheckFailsAlone(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, 1, 1)
		r := w.submit()
		if _, err := w.acc.Review(w.ctx, as(w.approvers[0]), w.approvers[0], r.ID, pam.DecisionApprove, ""); err != nil {
			t.Fatal(err)
		}
		trigger := []string{`CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_events WHEN NEW.actor_name = 'poison'
			BEGIN SELECT RAISE(ABORT, 'refused for the test'); END`}
		if dialect == store.Postgres {
			trigger = []string{`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF NEW.actor_name = 'poison' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$`,
				`CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_poison()`}
		}
		for _, q := range trigger {
			if err := w.db.ExecRaw(w.ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := w.db.AuditHead(w.ctx)
		const n = 60
		var wg sync.WaitGroup
		results := make([]error, n)
		for i := range n {
			wg.Go(func() {
				name := fmt.Sprint("t", i)
				if i%10 == 0 {
					name = "poison"
				}
				d, err := w.acc.Check(w.ctx, audit.Actor{Type: audit.ActorToken, Name: name}, w.requester.Email, w.task.Key)
				if err == nil && !d.Allowed {
					err = fmt.Errorf("denied: %+v", d)
				}
				results[i] = err
			})
		}
		wg.Wait()
		for i, err := range results {
			if poisoned := i%10 == 0; poisoned != (err != nil) {
				t.Errorf("check %d (poisoned %v): %v", i, poisoned, err)
			}
		}
		head, _, err := w.db.VerifyAudit(w.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if head.Seq != before.Seq+n-n/10 {
			t.Fatalf("%d events recorded; want %d", head.Seq-before.Seq, n-n/10)
		}
	})
}
