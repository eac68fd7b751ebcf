package scale

import (
	"context"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/mail/mailtest"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// seedOrg loads the demo organisation with API tokens into a fresh database.
func seedOrg(t *testing.T, url string) *testkit.Org {
	t.Helper()
	o, err := testkit.Seed(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.DB.Close() })
	return o
}

// startFleet starts one `elevate serve` on url and stops it (SIGKILL) when the test ends.
func startFleet(t *testing.T, url string, extra ...string) *testkit.Process {
	t.Helper()
	// The per-token check limit is not what these tests are about; keep it out of their way.
	env := map[string]string{"ELEVATE_DATABASE_URL": url, "ELEVATE_SWEEP_INTERVAL": "200ms", "ELEVATE_LOG_LEVEL": "warn",
		"ELEVATE_CHECK_RATE": "100000"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return testkit.Serve(t, env)
}

// verifyChain runs `elevate audit verify` on url and fails the test unless the chain is whole.
func verifyChain(t *testing.T, url string) {
	t.Helper()
	code, out, stderr := testkit.Run(t, map[string]string{"ELEVATE_DATABASE_URL": url}, "audit", "verify")
	if code != 0 || !strings.Contains(out, "audit chain ok") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, stderr)
	}
}

// pastRequests makes n requests through the use cases with a clock set back: the first half
// still pending past their timeout, the second half approved grants whose end has passed.
// Both are due for the sweeper.
func pastRequests(t *testing.T, o *testkit.Org, n int) []string {
	t.Helper()
	ctx := context.Background()
	back := func() time.Time { return time.Now().UTC().Add(-26 * time.Hour) }
	acc := access.New(o.DB, back, nil)
	var ids []string
	for i := range n {
		who := testkit.Requesters[i%len(testkit.Requesters)]
		r, err := acc.Submit(ctx, o.Actor(who), o.Users[who], o.Journaling.ID, pam.Submission{Duration: time.Hour, Justification: "An old ask."})
		if err != nil {
			t.Fatal(err)
		}
		if i >= n/2 {
			if _, err := acc.Review(ctx, o.Actor(testkit.Approvers[0]), o.Users[testkit.Approvers[0]], r.ID, pam.DecisionApprove, ""); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// TestTwoReplicasOnOnePostgres runs two processes on one database. Through both at once,
// requesters ask and withdraw, two approvers race to decide every request (one approves through
// one process while the other approves or denies through the other), and both processes sweep
// the same overdue requests. Every request ends in exactly one state with exactly its events,
// the chain verifies, a revoke through one process is seen by a check on the other at once, and
// the mail workers of both processes deliver every queued message exactly once.
func TestTwoReplicasOnOnePostgres(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t, store.Postgres)
	o := seedOrg(t, url)
	overdue := pastRequests(t, o, 20)
	smtp := mailtest.Start(t, mailtest.Options{})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, smtp.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startFleet(t, url, "ELEVATE_SMTP_URL", smtp.URL(), "SSL_CERT_FILE", caFile)
	b := startFleet(t, url, "ELEVATE_SMTP_URL", smtp.URL(), "SSL_CERT_FILE", caFile)
	procs := []*testkit.Process{a, b}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const n = 45
	start := time.Now()
	ids := make([]string, n)
	wins := make([]int, n) // decisive answers (200) per request
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			who := testkit.Requesters[i%3] // the fourth asks once, below, for the revoke
			id, _, err := o.Submit(ctx, procs[i%2].Base, who)
			if err != nil {
				errs <- err
				return
			}
			ids[i] = id
			// Three parties act at once through different processes; exactly one may decide.
			acts := []struct{ email, action string }{{testkit.Approvers[0], "approve"}, {testkit.Approvers[1], "approve"}}
			switch i % 3 {
			case 1:
				acts[1].action = "deny"
			case 2:
				acts = append(acts, struct{ email, action string }{who, "withdraw"})
			}
			var inner sync.WaitGroup
			for j, act := range acts {
				inner.Add(1)
				go func() {
					defer inner.Done()
					st, out, err := o.Act(ctx, procs[(i+j)%2].Base, act.email, id, act.action)
					switch {
					case err != nil:
						errs <- err
					case st == http.StatusOK:
						mu.Lock()
						wins[i]++
						mu.Unlock()
					case st != http.StatusConflict:
						errs <- fmt.Errorf("%s %s by %s: %d %v", act.action, id, act.email, st, out)
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	for i, id := range ids {
		st, err := testkit.Whole(ctx, o.DB, id)
		if err != nil {
			t.Error(err)
			continue
		}
		if wins[i] != 1 || st == pam.StatusPending {
			t.Errorf("request %s: %d decisive answers, ends %s; want exactly one decision", id, wins[i], st)
		}
	}

	t.Logf("%d requests decided through two processes in %v", n, time.Since(start))
	// Both processes sweep every 200 ms; each overdue request is written down exactly once.
	deadline := time.Now().Add(15 * time.Second)
	for _, id := range overdue {
		for {
			st, err := testkit.Whole(ctx, o.DB, id)
			if err != nil {
				t.Fatal(err)
			}
			if st == pam.StatusTimedOut || st == pam.StatusExpired {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("request %s still %s after the sweepers ran", id, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A revoke through one process is seen by a check through the other at once.
	grantee := testkit.Requesters[3]
	id, _, err := o.Submit(ctx, a.Base, grantee)
	if err != nil {
		t.Fatal(err)
	}
	if st, out, err := o.Act(ctx, a.Base, testkit.Approvers[0], id, "approve"); err != nil || st != http.StatusOK {
		t.Fatalf("approve: %d %v %v", st, out, err)
	}
	if st, out, err := o.CheckAccess(ctx, b.Base, grantee, o.JournalTask); err != nil || st != http.StatusOK || out["allowed"] != true {
		t.Fatalf("check on the other process after approval: %d %v %v", st, out, err)
	}
	if st, out, err := o.Act(ctx, b.Base, testkit.AdminEmail, id, "revoke"); err != nil || st != http.StatusOK {
		t.Fatalf("revoke: %d %v %v", st, out, err)
	}
	if st, out, err := o.CheckAccess(ctx, a.Base, grantee, o.JournalTask); err != nil || st != http.StatusOK || out["allowed"] != false {
		t.Fatalf("check on the other process right after the revoke: %d %v %v", st, out, err)
	}
	if _, err := testkit.Whole(ctx, o.DB, id); err != nil {
		t.Fatal(err)
	}

	// Both mail workers drain one outbox: each message reaches the SMTP server once.
	var counts map[string]int64
	deadline = time.Now().Add(20 * time.Second)
	for {
		counts, err = o.DB.MailCounts(ctx)
		if err == nil && counts[pam.MailQueued] == 0 && counts[pam.MailRetrying] == 0 && counts[pam.MailSent] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not delivered: %v %v; %d arrived\n%s", counts, err, len(smtp.Messages()), a.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if counts[pam.MailFailed] != 0 {
		t.Fatalf("outbox: %v", counts)
	}
	time.Sleep(300 * time.Millisecond) // a second delivery, if any, would arrive now
	msgs := smtp.Messages()
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.MessageID]++
		if seen[m.MessageID] > 1 {
			t.Errorf("message %s (%s) delivered twice", m.MessageID, m.Subject)
		}
	}
	if int64(len(msgs)) != counts[pam.MailSent] {
		t.Fatalf("%d messages arrived, the outbox sent %d", len(msgs), counts[pam.MailSent])
	}
	t.Logf("%d messages delivered once each by two workers", len(msgs))
	for _, p := range procs {
		if err := p.Stop(); err != nil {
			t.Fatalf("stop: %v\n%s", err, p.Logs())
		}
	}
	verifyChain(t, url)
}

// TestCrashDuringApprovalsIsAllOrNothing kills a process with SIGKILL in the middle of a burst
// of approvals, on each database, and starts it again: every request is either approved with
// its review and its event, or still pending with neither; acknowledged approvals survived;
// the chain verifies and the restarted process decides the rest.
func TestCrashDuringApprovalsIsAllOrNothing(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		url := testenv.DatabaseURL(t, dialect)
		o := seedOrg(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		acc := access.New(o.DB, func() time.Time { return time.Now().UTC() }, nil)
		const n = 120
		ids := make([]string, n)
		for i := range ids {
			who := testkit.Requesters[i%len(testkit.Requesters)]
			r, err := acc.Submit(ctx, o.Actor(who), o.Users[who], o.Journaling.ID, pam.Submission{Duration: time.Hour, Justification: "Burst."})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = r.ID
		}
		p := startFleet(t, url)

		var acked sync.Map // ids whose approval answered 200
		var done sync.WaitGroup
		next := make(chan string)
		for range 12 {
			done.Add(1)
			go func() {
				defer done.Done()
				for id := range next {
					if st, _, err := o.Act(ctx, p.Base, testkit.Approvers[0], id, "approve"); err == nil && st == http.StatusOK {
						acked.Store(id, true)
					}
				}
			}()
		}
		killed := make(chan struct{})
		go func() {
			defer close(killed)
			for {
				c := 0
				acked.Range(func(any, any) bool { c++; return true })
				if c >= n/4 {
					p.Kill()
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		for _, id := range ids {
			select {
			case next <- id:
			case <-killed:
			}
		}
		close(next)
		done.Wait()
		<-killed

		approved := 0
		for _, id := range ids {
			st, err := testkit.Whole(ctx, o.DB, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := acked.Load(id); ok && st != pam.StatusApproved {
				t.Fatalf("request %s: approval was acknowledged, but after the crash it is %s", id, st)
			}
			if st == pam.StatusApproved {
				approved++
			} else if st != pam.StatusPending {
				t.Fatalf("request %s is %s", id, st)
			}
		}
		if approved == 0 || approved == n {
			t.Fatalf("%d of %d approved: the kill did not land in the middle of the burst", approved, n)
		}
		t.Logf("killed after %d of %d approvals", approved, n)

		q := startFleet(t, url)
		for _, id := range ids {
			if st, _ := testkit.Whole(ctx, o.DB, id); st == pam.StatusPending {
				if st, out, err := o.Act(ctx, q.Base, testkit.Approvers[1], id, "approve"); err != nil || st != http.StatusOK {
					t.Fatalf("approve %s after the restart: %d %v %v", id, st, out, err)
				}
			}
			if st, err := testkit.Whole(ctx, o.DB, id); err != nil || st != pam.StatusApproved {
				t.Fatalf("after the restart: %s %v", st, err)
			}
		}
		if err := q.Stop(); err != nil {
			t.Fatal(err)
		}
		verifyChain(t, url)
	})
}

// readyz returns the status of /readyz (0 when the process does not answer).
func readyz(p *testkit.Process) int {
	resp, err := testkit.Client.Get(p.Base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond every 50 ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgresRestartUnderLoad restarts a private PostgreSQL server while two processes take
// approvals, new requests and checks. /readyz reports the outage, every check during it fails
// closed (503, allowed false), both processes recover by themselves, and afterwards every
// request is whole: its state and its events agree, and what was acknowledged was kept.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	pg, err := testkit.NewCluster()
	if err != nil {
		t.Fatalf("a private PostgreSQL server is required for this test: %v", err)
	}
	t.Cleanup(pg.Remove)
	o := seedOrg(t, pg.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	acc := access.New(o.DB, func() time.Time { return time.Now().UTC() }, nil)
	grantee := testkit.Requesters[3]
	g, err := acc.Submit(ctx, o.Actor(grantee), o.Users[grantee], o.Journaling.ID, pam.Submission{Duration: time.Hour, Justification: "In force."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Review(ctx, o.Actor(testkit.Approvers[0]), o.Users[testkit.Approvers[0]], g.ID, pam.DecisionApprove, ""); err != nil {
		t.Fatal(err)
	}
	var pending []string
	for i := range 400 {
		who := testkit.Requesters[i%3]
		r, err := acc.Submit(ctx, o.Actor(who), o.Users[who], o.Journaling.ID, pam.Submission{Duration: time.Hour, Justification: "Waiting."})
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, r.ID)
	}
	procs := []*testkit.Process{startFleet(t, pg.URL), startFleet(t, pg.URL)}

	type answer struct {
		status  int
		allowed any
		err     error
	}
	var (
		mu       sync.Mutex
		checks   []answer
		approved []string // acknowledged approvals
		created  []string // acknowledged submissions
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	work := make(chan string, len(pending))
	for _, id := range pending {
		work <- id
	}
	close(work)
	for w := range 4 { // approvers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				select {
				case <-stop:
					return
				default:
				}
				if st, _, err := o.Act(ctx, procs[w%2].Base, testkit.Approvers[w%2], id, "approve"); err == nil && st == http.StatusOK {
					mu.Lock()
					approved = append(approved, id)
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	for w := range 2 { // requesters
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if id, _, err := o.Submit(ctx, procs[(w+i)%2].Base, testkit.Requesters[w]); err == nil {
					mu.Lock()
					created = append(created, id)
					mu.Unlock()
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	for w := range 4 { // target systems
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				st, out, err := o.CheckAccess(ctx, procs[(w+i)%2].Base, grantee, o.JournalTask)
				mu.Lock()
				checks = append(checks, answer{st, out["allowed"], err})
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}

	time.Sleep(400 * time.Millisecond)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		waitFor(t, 10*time.Second, "/readyz reports the outage", func() bool { return readyz(p) == http.StatusServiceUnavailable })
		st, out, err := o.CheckAccess(ctx, p.Base, grantee, o.JournalTask)
		if err != nil || st != http.StatusServiceUnavailable || out["allowed"] != false {
			t.Fatalf("check during the outage: %d %v %v", st, out, err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		waitFor(t, 15*time.Second, "/readyz after PostgreSQL is back", func() bool { return readyz(p) == http.StatusOK })
		waitFor(t, 15*time.Second, "a check allowed after PostgreSQL is back", func() bool {
			st, out, err := o.CheckAccess(ctx, p.Base, grantee, o.JournalTask)
			return err == nil && st == http.StatusOK && out["allowed"] == true
		})
	}
	time.Sleep(300 * time.Millisecond) // load keeps running on the recovered processes
	close(stop)
	wg.Wait()
	for _, p := range procs {
		for range 5 {
			st, out, err := o.CheckAccess(ctx, p.Base, grantee, o.JournalTask)
			if err != nil || st != http.StatusOK || out["allowed"] != true {
				t.Fatalf("check after recovery: %d %v %v\n%s", st, out, err, p.Logs())
			}
		}
	}

	outage := 0
	for _, a := range checks {
		switch {
		case a.err != nil:
			t.Fatalf("a check got no answer: %v", a.err)
		case a.status == http.StatusOK && a.allowed == true:
		case a.status == http.StatusServiceUnavailable && a.allowed == false:
			outage++
		default:
			t.Fatalf("a check answered %d allowed=%v", a.status, a.allowed)
		}
	}
	if outage == 0 || outage == len(checks) {
		t.Fatalf("%d of %d checks failed closed; the outage did not land in the run", outage, len(checks))
	}
	t.Logf("%d checks, %d failed closed; %d approvals and %d new requests acknowledged", len(checks), outage, len(approved), len(created))

	for _, id := range approved {
		if st, err := testkit.Whole(ctx, o.DB, id); err != nil || st != pam.StatusApproved {
			t.Fatalf("acknowledged approval of %s: now %s, %v", id, st, err)
		}
	}
	for _, id := range created {
		if _, err := testkit.Whole(ctx, o.DB, id); err != nil {
			t.Fatalf("acknowledged request: %v", err)
		}
	}
	for _, id := range pending {
		if _, err := testkit.Whole(ctx, o.DB, id); err != nil {
			t.Fatal(err)
		}
	}
	verifyChain(t, pg.URL)
}

// TestSQLiteManyParallelSessions drives the real server on SQLite with many people at once:
// signed-in sessions asking and deciding through the pages, API callers, and target systems
// checking. Writers queue; nobody ever sees "database is locked" or a server error.
func TestSQLiteManyParallelSessions(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t, store.SQLite)
	o := seedOrg(t, url)
	p := startFleet(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var (
		mu   sync.Mutex
		ids  []string
		errs []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	look := func(what string, st int, body string, err error) bool {
		switch {
		case err != nil:
			fail("%s: %v", what, err)
		case st >= 500 || strings.Contains(strings.ToLower(body), "locked"):
			fail("%s: %d %.300s", what, st, body)
		default:
			return true
		}
		return false
	}
	var wg sync.WaitGroup
	requestsRE := regexp.MustCompile(`^/requests/([0-9a-f-]{36})$`)
	for w := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch w % 4 {
			case 0: // a requester on the pages
				who := testkit.Requesters[w/4%3]
				s, err := o.SignIn(ctx, p.Base, who)
				if err != nil {
					fail("%v", err)
					return
				}
				for range 6 {
					if st, body, err := s.Get(ctx, "/requests/new?policy="+o.Journaling.ID); !look("new request page", st, body, err) {
						return
					}
					st, body, err := s.Post(ctx, "/requests", neturl.Values{"policy_id": {o.Journaling.ID}, "duration": {"1h"}, "justification": {"Page ask."}})
					if !look("submit", st, body, err) {
						return
					}
					m := requestsRE.FindStringSubmatch(s.Location)
					if st != http.StatusSeeOther || m == nil {
						fail("submit: %d to %q", st, s.Location)
						return
					}
					mu.Lock()
					ids = append(ids, m[1])
					mu.Unlock()
					if st, body, err := s.Get(ctx, "/requests"); !look("my requests", st, body, err) {
						return
					}
				}
			case 1: // an approver on the pages, deciding whatever waits
				who := testkit.Approvers[w/4%2]
				s, err := o.SignIn(ctx, p.Base, who)
				if err != nil {
					fail("%v", err)
					return
				}
				for range 12 {
					mu.Lock()
					var id string
					if len(ids) > 0 {
						id = ids[len(ids)-1]
					}
					mu.Unlock()
					if st, body, err := s.Get(ctx, "/approvals"); !look("inbox", st, body, err) {
						return
					}
					if id != "" {
						st, body, err := s.Post(ctx, "/requests/"+id+"/review", neturl.Values{"decision": {"approve"}})
						if !look("review", st, body, err) {
							return
						}
					}
				}
			case 2: // an API caller asking and withdrawing
				who := testkit.Requesters[3]
				for range 8 {
					id, st, err := o.Submit(ctx, p.Base, who)
					if err != nil {
						fail("api submit: %d %v", st, err)
						return
					}
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
					if st, out, err := o.Act(ctx, p.Base, who, id, "withdraw"); err != nil || (st != http.StatusOK && st != http.StatusConflict) {
						fail("api withdraw: %d %v %v", st, out, err)
						return
					}
				}
			case 3: // a target system checking
				for range 25 {
					st, out, err := o.CheckAccess(ctx, p.Base, testkit.Requesters[0], o.JournalTask)
					if err != nil || st != http.StatusOK {
						fail("check: %d %v %v", st, out, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	if strings.Contains(p.Logs(), "locked") {
		t.Errorf("the server logged a locked database:\n%s", p.Logs())
	}
	if len(ids) < 50 {
		t.Fatalf("only %d requests made", len(ids))
	}
	for _, id := range ids {
		if _, err := testkit.Whole(ctx, o.DB, id); err != nil {
			t.Error(err)
		}
	}
	verifyChain(t, url)
}
