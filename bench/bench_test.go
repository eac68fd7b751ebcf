package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

func TestDatabasesDefaultToBothAndRefuseUnknownNames(t *testing.T) {
	for _, c := range []struct {
		env  string
		want string
	}{
		{"", "postgres,sqlite"},
		{"all", "postgres,sqlite"},
		{"sqlite", "sqlite"},
		{" sqlite , postgres,sqlite", "postgres,sqlite"},
		{"postgres", "postgres"},
	} {
		t.Setenv("ELEVATE_BENCH_DATABASES", c.env)
		got, err := databases()
		if err != nil || strings.Join(got, ",") != c.want {
			t.Errorf("ELEVATE_BENCH_DATABASES=%q: %v %v, want %s", c.env, got, err, c.want)
		}
	}
	t.Setenv("ELEVATE_BENCH_DATABASES", "postgres,mysql")
	if _, err := databases(); err == nil || !strings.Contains(err.Error(), "mysql") {
		t.Errorf("an unknown database: %v", err)
	}
}

// Every server gets as many submits as approvals from a 2-replica flow loop, and no flow
// submits and approves on the same one.
func TestReplicaFlowsSubmitOnOneServerAndApproveOnTheOther(t *testing.T) {
	bases := []string{"a", "b"}
	submits, approvals := map[string]int{}, map[string]int{}
	for k := int64(1); k <= 100; k++ {
		s, a := pair(k, bases)
		if s == a {
			t.Fatalf("flow %d submits and approves on %s", k, s)
		}
		submits[s]++
		approvals[a]++
	}
	for _, b := range bases {
		if submits[b] != 50 || approvals[b] != 50 {
			t.Errorf("server %s: %d submits, %d approvals; want 50 and 50", b, submits[b], approvals[b])
		}
	}
}

func TestStartRowPrintsTheMedianAndTheBestAndJudgesTheMedian(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, x := range n {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	r := startRow(ms(900, 300, 2000, 700, 1500))
	if r.p50 != 900*time.Millisecond || !strings.Contains(r.note, "best 300.00ms") || !strings.Contains(r.note, ": met") {
		t.Errorf("row: p50 %v, note %q", r.p50, r.note)
	}
	r = startRow(ms(300, 1200, 1100, 200, 1300))
	if r.p50 != 1100*time.Millisecond || !strings.Contains(r.note, ": missed") {
		t.Errorf("row: p50 %v, note %q", r.p50, r.note)
	}
}

// The loaders write the same data on both databases, through SQL each of them reads back:
// decided requests in the past, waiting ones in the inbox, the approval supply pending, and a
// chain of audit events that verifies.
func TestLoadersFillBothDatabases(t *testing.T) {
	requestRows, waiting, auditEvents = 60, 11, 450 // more than one batch on SQLite
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		url := testenv.DatabaseURL(t, dialect)
		history, err := loadAudit(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		o, err := testkit.Seed(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer o.DB.Close()
		approver := o.Users[testkit.Approvers[0]].ID
		before, err := o.DB.InboxCount(ctx, approver, time.Now().UTC())
		if err != nil {
			t.Fatal(err)
		}
		if err := loadRequests(ctx, o); err != nil {
			t.Fatal(err)
		}
		if err := loadSupply(ctx, o, 5); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		// The waiting ones (their template included), the supply's two sets and their template.
		if n, err := o.DB.InboxCount(ctx, approver, now); err != nil || n != before+int64(waiting+2*5+1) {
			t.Errorf("inbox count %d %v, want %d", n, err, before+int64(waiting+2*5+1))
		}
		for _, who := range []string{testkit.Requesters[0], testkit.Requesters[1]} {
			rs, err := o.DB.Requests(ctx, pam.RequestFilter{RequesterID: o.Users[who].ID, Status: pam.StatusExpired, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) < (requestRows-waiting-1)/2 {
				t.Fatalf("%s has %d expired requests", who, len(rs))
			}
			for _, r := range rs {
				if r.EndsAt == nil || !r.EndsAt.Before(now.Add(-21*time.Hour)) || !r.CreatedAt.Before(now.Add(-24*time.Hour)) {
					t.Fatalf("a decided request is not in the past: created %v, ends %v", r.CreatedAt, r.EndsAt)
				}
			}
			// A decided request carries the approval it was granted by, made when it was decided:
			// the first requester's by the inbox's viewer, the other's by the second approver.
			approver := testkit.Approvers[1]
			if who == testkit.Requesters[0] {
				approver = testkit.Approvers[0]
			}
			r, err := o.DB.RequestByID(ctx, rs[0].ID)
			if err != nil || len(r.Reviews) != 1 || r.Reviews[0].Decision != pam.DecisionApprove ||
				r.Reviews[0].ReviewerID != o.Users[approver].ID || !r.Reviews[0].At.Equal(*r.DecidedAt) {
				t.Fatalf("%s's decided request's reviews: %+v %v", who, r.Reviews, err)
			}
		}
		for _, id := range []string{"bench-bare-5", "bench-audited-1"} {
			r, err := o.DB.RequestByID(ctx, id)
			if err != nil || r.Status != pam.StatusPending || !r.PendingUntil.After(now.Add(23*time.Hour)) {
				t.Errorf("%s: %+v %v", id, r, err)
			}
		}
		// The history is sealed as it was written, a batch at a time, before the organisation.
		first, err := o.DB.AuditEvent(ctx, 1)
		if err != nil || !first.At.Equal(history.Truncate(time.Microsecond)) || first.SealedAt.Before(first.At) || first.SealedAt.Sub(first.At) > 1000*time.Second {
			t.Errorf("the first event is of %v, sealed at %v (%v); want of %v, sealed within its batch", first.At, first.SealedAt, err, history)
		}
		head, n, err := o.DB.VerifyAudit(ctx, nil)
		if err != nil || n < int64(auditEvents) {
			t.Errorf("audit chain: head %+v, %d events, %v", head, n, err)
		}
	})
}

// counted finds a line's statements and round trips per call, after its reference, then the
// CPU milliseconds per call of the server, the database (its own processes on PostgreSQL only)
// and the client.
var (
	counted   = regexp.MustCompile(`  [a-zA-Z ]+ +\d+\.\d +\d+\.\d +\d+\.\d\d +(\d+\.\d\d|-) +\d+\.\d\d`)
	countedPG = regexp.MustCompile(`  [a-zA-Z ]+ +\d+\.\d +\d+\.\d +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d`)
)

// A short run of every group on both databases prints each row for each database, PostgreSQL
// then SQLite, each with its own memory verdict: the cold starts, the one-connection searches
// with their verdicts, and the 2-replica flows (PostgreSQL only).
func TestShortRunMeasuresEveryRowOnBothDatabases(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("ELEVATE_BENCH_ROWS", strings.Join(groups, ","))
	t.Setenv("ELEVATE_BENCH_DATABASES", "postgres,sqlite")
	t.Setenv("ELEVATE_BENCH_POSTGRES_URL", testenv.PostgresURL())
	measureFor, steadyFor, soloFor, connections = 300*time.Millisecond, 300*time.Millisecond, 200*time.Millisecond, 4
	auditEvents, requestRows, waiting, approvalSupply, coldStarts = 400, 50, 10, 200, 2
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(os.TempDir(), "results-*.txt"))
	if len(files) != 1 {
		t.Fatalf("results files: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	table := string(b)
	t.Log("\n" + table)
	lines := strings.Split(table, "\n")
	for _, name := range []string{
		"cold start to ready, empty database",
		"check API POST /api/v1/check",
		"audit search by actor (0k events)",
		"audit event by key, 1 connection (reference)",
		"audit search by actor, 1 connection",
		"audit search by request id, 1 connection",
		"audit export, all events (0k loaded; jsonl)",
		"submit + approve workflows (16 at once)",
		"check API, constant half capacity for 300ms",
		"server resident memory, peak of the run",
	} {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, name+" ") })
		if i < 0 || i+1 >= len(lines) {
			t.Fatalf("no row %q", name)
		}
		pg, lite := lines[i], lines[i+1]
		if !strings.Contains(pg, " PostgreSQL ") || !strings.HasPrefix(strings.TrimSpace(lite), "SQLite ") {
			t.Errorf("row %q is not on PostgreSQL then SQLite:\n%s\n%s", name, pg, lite)
		}
		if !strings.HasPrefix(name, "server resident memory") && !strings.HasPrefix(name, "cold start") && !strings.HasPrefix(name, "audit export") && (!countedPG.MatchString(pg) || !counted.MatchString(lite)) {
			t.Errorf("row %q has no statement counts:\n%s\n%s", name, pg, lite)
		}
		verdict := map[bool]string{true: "target p95 ≤ 20 ms: "}[strings.HasPrefix(name, "audit search by") && strings.HasSuffix(name, ", 1 connection")]
		if strings.HasPrefix(name, "cold start") {
			verdict = "target median ≤ 1 s: "
		}
		if verdict != "" && (!strings.Contains(pg, verdict) || !strings.Contains(lite, verdict)) {
			t.Errorf("row %q has no verdict %q:\n%s\n%s", name, verdict, pg, lite)
		}
	}
	replicas := lines[slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "submit + approve, 2 replicas") })]
	if !strings.Contains(replicas, "flows/s") || !strings.Contains(replicas, "one process") {
		t.Errorf("the replicas row has no PostgreSQL figures: %s", replicas)
	}
	if next := lines[slices.Index(lines, replicas)+1]; !strings.Contains(next, "PostgreSQL only") {
		t.Errorf("the replicas row's SQLite line does not say why it is empty: %s", next)
	}
	if n := strings.Count(table, "(under the 150 MB limit)"); n != 2 {
		t.Errorf("%d memory verdicts, want one per database", n)
	}
}

// The check reference reads the check API's request and answers a constant of the same shape;
// a body that is not that request is a 400, so the reference cannot skip the decoding.
func TestReferenceDecodesTheCheckRequest(t *testing.T) {
	srv := httptest.NewServer(reference())
	defer srv.Close()
	ctx := context.Background()
	st, out, err := testkit.Call(ctx, "POST", srv.URL+"/api/v1/check", "elc_x", map[string]string{"user": "u@example.com", "task": "exchange/New-JournalRule"})
	if err != nil || st != 200 || out["allowed"] != true || out["reason"] != "grant" || out["request_id"] == "" || out["expires_at"] == "" {
		t.Errorf("a check: %d %v %v", st, out, err)
	}
	for _, body := range []any{map[string]string{"user": "u@example.com"}, []int{1}} {
		if st, _, _ := testkit.Call(ctx, "POST", srv.URL+"/api/v1/check", "elc_x", body); st != 400 {
			t.Errorf("%v: %d, want 400", body, st)
		}
	}
}

// A process that ended between two readings and whose id went to a new process is not taken
// for the old one: the new one's time counts whole, the old one's growth is unknown and left out.
func TestAReusedProcessIDCountsTheNewProcessWhole(t *testing.T) {
	before := procTimes{{pid: 7, start: 100}: 5 * time.Second, {pid: 8, start: 100}: time.Second}
	after := procTimes{{pid: 7, start: 900}: 2 * time.Second, {pid: 8, start: 100}: 3 * time.Second}
	if got := after.since(before); got != 4*time.Second {
		t.Fatalf("since = %v, want 4s (2s of the new process 7, 2s more of process 8)", got)
	}
	if got := procTimes(nil).since(before); got != -1 {
		t.Fatalf("since without a reading = %v, want -1", got)
	}
}
