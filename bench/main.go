// Command bench is `make bench`: it measures Elevate on this machine against references
// measured in the same run, prints one table of ratios with p50/p95/p99, and writes it to
// bench/results-<time>.txt so runs can be compared. It only targets loopback, and every
// load is bounded in time and in concurrency.
//
// It measures every row on PostgreSQL and then on SQLite (ELEVATE_BENCH_DATABASES picks), each
// loaded with the same data and served by its own `elevate serve`. PostgreSQL is
// ELEVATE_BENCH_POSTGRES_URL, else ELEVATE_TEST_POSTGRES_URL, else
// postgres://postgres@127.0.0.1:5432/test, in a schema of its own dropped at the end; SQLite is
// a new file in a temporary directory.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// settings, from the environment so a quick run is possible; the defaults are the report's.
var (
	measureFor  = envDuration("BENCH_DURATION", 5*time.Second) // each closed-loop measurement
	steadyFor   = envDuration("BENCH_STEADY", 60*time.Second)  // the constant-rate run, as long as the target asks
	connections = envInt("BENCH_CONNECTIONS", 64)
	auditEvents = envInt("BENCH_AUDIT_EVENTS", 1_000_000)
	requestRows = envInt("BENCH_REQUESTS", 100_000)
	waiting     = envInt("BENCH_WAITING", 1_000)
)

const memoryLimit = 150 << 20

// groups are the measurements ELEVATE_BENCH_ROWS may name (comma-separated; unset or "all"
// runs every one). A group brings its reference along; steady brings the check API it runs at
// half of.
var groups = []string{"start", "check", "inbox", "page", "audit-search", "export", "approval", "flows", "steady"}

// everyRow reports whether ELEVATE_BENCH_ROWS leaves the whole bench to run.
func everyRow() bool {
	v := strings.TrimSpace(os.Getenv("ELEVATE_BENCH_ROWS"))
	return v == "" || v == "all"
}

// selected reports whether ELEVATE_BENCH_ROWS asks for group g.
func selected(g string) bool {
	if everyRow() {
		return true
	}
	for _, w := range strings.Split(os.Getenv("ELEVATE_BENCH_ROWS"), ",") {
		if strings.TrimSpace(w) == g {
			return true
		}
	}
	return false
}

// checkRows refuses a group name that is not in groups.
func checkRows() error {
	if everyRow() {
		return nil
	}
	for _, w := range strings.Split(os.Getenv("ELEVATE_BENCH_ROWS"), ",") {
		if !slices.Contains(groups, strings.TrimSpace(w)) {
			return fmt.Errorf("ELEVATE_BENCH_ROWS: unknown group %q (known: %s)", w, strings.Join(groups, ", "))
		}
	}
	return nil
}

func envDuration(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func postgresURL() string {
	for _, k := range []string{"ELEVATE_BENCH_POSTGRES_URL", "ELEVATE_TEST_POSTGRES_URL"} {
		if u := os.Getenv(k); u != "" {
			return u
		}
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context) error {
	if err := checkRows(); err != nil {
		return err
	}
	dialects, err := databases()
	if err != nil {
		return err
	}
	started := time.Now()
	tmp, err := os.MkdirTemp("", "elevate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	say("building elevate")
	root, err := testkit.ModuleRoot()
	if err != nil {
		return err
	}
	bin, err := testkit.Build(root, tmp)
	if err != nil {
		return err
	}
	ref := httptestServer(reference())
	defer ref.Close()

	// Each database gets a run of its own, one after the other, on the same data; each run
	// measures its references again, so every ratio compares figures taken minutes apart.
	var runs []*dbRun
	for _, dialect := range dialects {
		d := &dbRun{dialect: dialect}
		runs = append(runs, d)
		say("%s: the run begins", dialectNames[dialect])
		if err := d.measure(ctx, bin, tmp, ref); err != nil {
			return fmt.Errorf("%s: %w", dialectNames[dialect], err)
		}
	}

	report := render(runs, started)
	fmt.Print(report)
	// A run of some rows only is for a quick look: its table goes to the temporary directory.
	dir := filepath.Join(root, "bench")
	if !everyRow() || len(dialects) < len(dialectNames) {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	file := filepath.Join(dir, "results-"+started.UTC().Format("20060102-150405")+".txt")
	if err := os.WriteFile(file, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Println("written to", file)
	for _, d := range runs {
		if err := d.failure(); err != nil {
			return fmt.Errorf("%s: %w", dialectNames[d.dialect], err)
		}
	}
	return nil
}

// measure runs every selected row on a fresh database of d's dialect, loaded with the same
// data, through its own `elevate serve`.
func (d *dbRun) measure(ctx context.Context, bin, tmp string, ref *refServer) error {
	rows := []row{}
	var measured []*result
	defer func() { d.rows, d.measured = rows, measured }()
	add := func(r row) {
		rows = append(rows, r)
		say("%-44s %10.0f/s  p50 %-9s p95 %-9s p99 %-9s %s", r.name, r.rate, ms(r.p50), ms(r.p95), ms(r.p99), r.note)
	}

	// 0. Cold start, before anything else runs on this database.
	if selected("start") {
		say("measuring: %d cold starts on an empty %s database", coldStarts, dialectNames[d.dialect])
		starts, err := coldStartTimes(ctx, bin, d.dialect, tmp, coldStarts)
		if err != nil {
			return err
		}
		add(startRow(starts))
	}

	dbURL, drop, err := emptyDatabase(ctx, d.dialect, tmp)
	if err != nil {
		return err
	}
	defer drop()

	// The audit history comes first, so the demo organisation's events follow it on the chain.
	var history time.Time
	if selected("audit-search") || selected("export") {
		say("loading %d audit events (the newest %d of them checks)", auditEvents, auditEvents/5)
		if history, err = loadAudit(ctx, dbURL); err != nil {
			return err
		}
	}

	say("loading the demo organisation")
	o, err := testkit.Seed(ctx, dbURL)
	if err != nil {
		return err
	}
	defer o.DB.Close()
	grantee, err := grant(ctx, o)
	if err != nil {
		return err
	}
	// Only what the chosen rows read is loaded: the audit events take most of the set-up. The
	// workflows read the reviews that come with the requests.
	if selected("inbox") || selected("flows") {
		say("loading %d requests (%d waiting for the approver)", requestRows, waiting)
		if err := loadRequests(ctx, o); err != nil {
			return err
		}
	}
	// PostgreSQL's autovacuum gathers statistics on a server in use; the product never runs
	// ANALYZE on SQLite, so its measured database has none either. (With them, SQLite plans
	// some bound values by their value and compiles such statements twice a call.)
	if d.dialect == store.Postgres {
		if err := o.DB.ExecRaw(ctx, "ANALYZE"); err != nil {
			return err
		}
	}

	say("starting elevate serve")
	// The per-token limit on checks is lifted: the benchmark measures what a process can do.
	p, err := testkit.Start(bin, serveEnv(dbURL))
	if err != nil {
		return err
	}
	defer p.Stop()
	defer func() {
		// Calls cut off at the end of a warm-up are cancelled on purpose; show the rest.
		var bad []string
		for _, l := range strings.Split(p.Logs(), "\n") {
			if strings.Contains(l, `"level":"ERROR"`) && !strings.Contains(l, "context canceled") {
				bad = append(bad, l)
			}
		}
		if len(bad) > 0 {
			say("the server logged %d errors; the first ones:", len(bad))
			for _, l := range bad[:min(len(bad), 5)] {
				fmt.Fprintln(os.Stderr, l)
			}
		}
	}()
	mem := watchMemory(p)
	defer mem.stop()
	// The server's own statement and round-trip counters, and the CPU time of server, database
	// and client, read around each measurement.
	pg := dbCPU(d.dialect)
	server := func() tally { return scrapeCounts(ctx, p.Base).plus(pg) }

	// 1. The check API against a bare Echo handler.
	var checkRes *result
	if selected("check") || selected("steady") || selected("flows") {
		say("measuring: bare Echo, then the check API (%d connections, %v each)", connections, measureFor)
		echoRes := closedLoop(ctx, connections, measureFor, nil, func(ctx context.Context) error {
			st, out, err := o.CheckAccess(ctx, ref.URL, grantee, o.JournalTask)
			if err == nil && (st != http.StatusOK || out["allowed"] != true) {
				err = fmt.Errorf("the reference answered %d %v", st, out)
			}
			return err
		})
		add(echoRes.row("bare Echo POST /api/v1/check (reference)", "", 0))
		checkRes = closedLoop(ctx, connections, measureFor, server, func(ctx context.Context) error {
			st, out, err := o.CheckAccess(ctx, p.Base, grantee, o.JournalTask)
			if err != nil {
				return err
			}
			if st != http.StatusOK || out["allowed"] != true {
				return fmt.Errorf("check answered %d %v", st, out)
			}
			return nil
		})
		cr := checkRes.row("check API POST /api/v1/check", "bare Echo", echoRes.rate())
		add(target(cr, "ratio", cr.ratio >= 0.10, "≥ 0.10"))
		measured = append(measured, echoRes, checkRes)
	}

	// 2. Signed-in pages: a light one and the inbox with 100k requests, 1,000 of them waiting
	// for the viewer, against a trivial page.
	var trivialRate float64
	if selected("inbox") || selected("page") {
		approver, err := o.SignIn(ctx, p.Base, testkit.Approvers[0])
		if err != nil {
			return err
		}
		signedIn := func(path string) func(context.Context) error {
			return func(ctx context.Context) error {
				st, _, err := approver.Get(ctx, path)
				if err == nil && st != http.StatusOK {
					err = fmt.Errorf("%s answered %d", path, st)
				}
				return err
			}
		}
		if err := signedIn("/approvals")(ctx); err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		trivial := closedLoop(ctx, connections, measureFor, server, func(ctx context.Context) error {
			return get(ctx, nil, p.Base+"/login")
		})
		add(trivial.row("trivial page GET /login (reference)", "", 0))
		trivialRate = trivial.rate()
		measured = append(measured, trivial)
		if selected("page") {
			pg := closedLoop(ctx, connections, measureFor, server, signedIn("/profile"))
			add(pg.row("signed-in page GET /profile", "trivial page", trivial.rate()))
			measured = append(measured, pg)
			// The overview of the whole organisation, as an administrator reads it.
			admin, err := o.SignIn(ctx, p.Base, testkit.AdminEmail)
			if err != nil {
				return err
			}
			ov := closedLoop(ctx, connections, measureFor, server, func(ctx context.Context) error {
				st, _, err := admin.Get(ctx, "/overview")
				if err == nil && st != http.StatusOK {
					err = fmt.Errorf("/overview answered %d", st)
				}
				return err
			})
			add(ov.row(fmt.Sprintf("overview /overview (%dk requests)", requestRows/1000), "trivial page", trivial.rate()))
			measured = append(measured, ov)
		}
		if selected("inbox") {
			inbox := closedLoop(ctx, connections, measureFor, server, signedIn("/approvals"))
			ir := inbox.row(fmt.Sprintf("inbox /approvals (%dk requests, %d waiting)", requestRows/1000, waiting), "trivial page", trivial.rate())
			add(target(ir, "ratio", ir.ratio >= 0.10, "≥ 0.10"))
			measured = append(measured, inbox)
		}
	}

	// 3. Audit search over 1M events, the newest fifth of them checks, against a key lookup.
	auditor, err := o.SignIn(ctx, p.Base, testkit.AdminEmail)
	if err != nil {
		return err
	}
	if selected("audit-search") {
		page := func(path string) func(context.Context) error {
			return func(ctx context.Context) error {
				st, _, err := auditor.Get(ctx, path)
				if err == nil && st != http.StatusOK {
					err = fmt.Errorf("%s answered %d", path, st)
				}
				return err
			}
		}
		pk := closedLoop(ctx, connections, measureFor, server, page(fmt.Sprintf("/audit/%d", auditEvents/2)))
		// The reference of the searches, itself held to a ratio of the trivial page when that ran.
		ref := ""
		if trivialRate > 0 {
			ref = "trivial page"
		}
		kr := pk.row("audit event by key /audit/{seq} (reference)", ref, trivialRate)
		if trivialRate > 0 {
			kr = target(kr, "ratio", kr.ratio >= 0.25, "≥ 0.25")
		}
		add(kr)
		measured = append(measured, pk)
		// Each filter matches events that are all older than the checks. The time ranges are
		// an hour and a day of history from its middle.
		k := auditEvents / 2
		from := history.Add(time.Duration(k) * time.Second)
		span := func(d time.Duration) string {
			return "since=" + url.QueryEscape(from.Format(time.RFC3339)) + "&until=" + url.QueryEscape(from.Add(d).Format(time.RFC3339))
		}
		// The time ranges are no target of the issue: they walk the chain sealed within the
		// longest seal lag of their range, which the demo's requests, back-dated by two days,
		// set for the whole chain.
		lag, err := o.DB.AuditSealLag(ctx)
		if err != nil {
			return err
		}
		searches := []struct {
			name, query string
			timed       bool
		}{
			{"actor", "actor=person0042@bench.example", false},
			{"action", "action=" + benchActions()[7].String(), false},
			{"target", fmt.Sprintf("target_type=request&target_id=r-%d", k/7), false},
			{"request id", fmt.Sprintf("request_id=req-%d", k/7), false},
			{"time (an hour)", span(time.Hour), true},
			{"action in a day", "action=" + benchActions()[7].String() + "&" + span(24*time.Hour), true},
		}
		for _, s := range searches {
			r := closedLoop(ctx, connections, measureFor, server, page("/audit?"+s.query))
			add(r.row(fmt.Sprintf("audit search by %s (%dk events)", s.name, auditEvents/1000), "key lookup", pk.rate()))
			measured = append(measured, r)
		}
		// The same first pages one at a time: with nothing queued before it, a call's p95 is
		// the search's own latency, which is what the 20 ms target is about.
		say("measuring: the same pages on 1 connection (%v each)", soloFor)
		pk1 := closedLoop(ctx, 1, soloFor, server, page(fmt.Sprintf("/audit/%d", auditEvents/2)))
		add(pk1.row("audit event by key, 1 connection (reference)", "", 0))
		measured = append(measured, pk1)
		for _, s := range searches {
			r := closedLoop(ctx, 1, soloFor, server, page("/audit?"+s.query))
			sr := r.row(fmt.Sprintf("audit search by %s, 1 connection", s.name), "key lookup", pk1.rate())
			if s.timed {
				sr.note = fmt.Sprintf("the chain's seal lag: %s", lag.Round(time.Second))
				add(sr)
			} else {
				add(target(sr, "p95", r.quantile(0.95) <= searchP95, "≤ 20 ms"))
			}
			measured = append(measured, r)
		}
	}

	// Export everything, streamed; the server's memory is watched throughout.
	if selected("export") {
		t0 := time.Now()
		n, err := auditor.Stream(ctx, "/audit/export?format=jsonl")
		if err != nil {
			return err
		}
		exp := time.Since(t0)
		_, peak, _ := p.RSS()
		if n < auditEvents {
			return fmt.Errorf("the export had %d lines, fewer than the %d events loaded", n, auditEvents)
		}
		// The name counts the loaded events only: the lines also hold this run's own events,
		// which differ between databases, and a row's name must not.
		add(row{name: fmt.Sprintf("audit export, all events (%dk loaded; jsonl)", auditEvents/1000), rate: float64(n) / exp.Seconds(), unit: "lines",
			ratio: -1, statements: -1, roundTrips: -1, note: fmt.Sprintf("%d lines in %.1f s; server peak RSS so far %d MB", n, exp.Seconds(), peak>>20)})
	}

	// The cost audit adds to one approval: the use case with its event, against the same
	// locked update and review without it, in this process on the same database (so its
	// statements are this process's store's).
	if selected("approval") {
		say("measuring: the cost of the audit event in an approval (16 at once, %v each)", measureFor)
		if err := loadSupply(ctx, o, approvalSupply); err != nil {
			return err
		}
		bare := approvals(ctx, o, "bare", false)
		add(bare.row("approval without its audit event (reference)", "", 0))
		audited := approvals(ctx, o, "audited", true)
		add(audited.row("approval with its audit event", "no event", bare.rate()))
		measured = append(measured, bare, audited)
	}

	// 4. Submit + approve workflows through the API.
	if selected("flows") {
		flows := closedLoop(ctx, 16, measureFor, server, func(ctx context.Context) error {
			return flow(ctx, o, p.Base, p.Base)
		})
		add(target(flows.row("submit + approve workflows (16 at once)", "check API", checkRes.rate()),
			"rate", flows.rate() >= flowsTarget, "≥ 500 flows/s"))
		rows[len(rows)-1].unit = "flows"
		measured = append(measured, flows)

		// The same 16 workers against two processes on one PostgreSQL: the calls alternate,
		// half submitting on the first and approving on the second, half the other way.
		name := "submit + approve, 2 replicas on one database"
		if d.dialect != store.Postgres {
			rows = append(rows, row{name: name, ratio: -1, note: "PostgreSQL only: replicas share a PostgreSQL server, not a SQLite file"})
		} else {
			say("starting a second elevate serve on the same schema")
			env := serveEnv(dbURL)
			delete(env, "ELEVATE_DEBUG_ADDR") // the first server holds the profiling address
			p2, err := testkit.Start(bin, env)
			if err != nil {
				return err
			}
			bases := []string{p.Base, p2.Base}
			var next atomic.Int64
			both := func() tally { return scrapeCounts(ctx, p.Base).add(scrapeCounts(ctx, p2.Base)).plus(pg) }
			replicas := closedLoop(ctx, 16, measureFor, both, func(ctx context.Context) error {
				submit, approve := pair(next.Add(1), bases)
				return flow(ctx, o, submit, approve)
			})
			if err := p2.Stop(); err != nil {
				say("the second server did not stop cleanly: %v", err)
			}
			add(replicas.row(name, "one process", flows.rate()))
			rows[len(rows)-1].unit = "flows"
			measured = append(measured, replicas)
		}
	}

	// 5. Mail.
	if everyRow() {
		rows = append(rows, row{name: "mail delivery vs raw SMTP", ratio: -1, note: "BenchmarkDeliver1000, which make bench runs after this table"})
	}

	// 6. The check API at half its measured capacity, at a constant rate.
	var steady *result
	if selected("steady") {
		rate := checkRes.rate() / 2
		say("measuring: check API at a constant %.0f/s for %v", rate, steadyFor)
		steady = constantRate(ctx, rate, steadyFor, server, func(ctx context.Context) error {
			st, out, err := o.CheckAccess(ctx, p.Base, grantee, o.JournalTask)
			if err == nil && (st != http.StatusOK || out["allowed"] != true) {
				err = fmt.Errorf("check answered %d %v", st, out)
			}
			return err
		})
		r := steady.row(fmt.Sprintf("check API, constant half capacity for %v", steadyFor), "check capacity", checkRes.rate())
		r.note = fmt.Sprintf("%.0f/s: %d calls, %d errors, max %s", rate, steady.count(), steady.errors.Load(), ms(steady.max()))
		add(target(r, "p99", r.p99 <= 25*time.Millisecond && steady.errors.Load() == 0, "≤ 25 ms with no errors"))
	}

	mem.stop()
	_, hwm, _ := p.RSS()
	d.peakRSS = max(mem.peak.Load(), hwm)
	verdict := "under the 150 MB limit"
	if d.peakRSS >= memoryLimit {
		verdict = "OVER the 150 MB limit"
	}
	rows = append(rows, row{name: "server resident memory, peak of the run", ratio: -1,
		note: fmt.Sprintf("%d MB (%s)", d.peakRSS>>20, verdict)})
	d.steady = steady
	return nil
}

// tally is what the counters read at one moment: the server's statements and round trips, and
// the CPU time the server, the database and this client had used so far (< 0: not known).
type tally struct {
	statements, roundTrips uint64
	server, client         time.Duration
	db                     procTimes // nil: not known
}

// procTimes is the CPU time each of a set of processes had used, by process.
type procTimes map[proc]time.Duration

// proc names one process: its id with its start time, so an id the system gave again to a new
// process names another one.
type proc struct {
	pid   int
	start int64 // in clock ticks after boot
}

// since is the CPU time the processes used after before was read: each one's growth, one started
// since counted whole. A process that ended in between is left out (its time cannot be read),
// so the figure errs low, never below zero; -1 when either reading is missing.
func (p procTimes) since(before procTimes) time.Duration {
	if p == nil || before == nil {
		return -1
	}
	var d time.Duration
	for k, t := range p {
		d += t - before[k]
	}
	return d
}

// cpuTimes is the CPU time the server, the database and the client used (< 0: not known).
type cpuTimes struct{ server, db, client time.Duration }

// add sums two servers' tallies; plus then reads the database's and the client's CPU once.
func (t tally) add(u tally) tally {
	t.statements += u.statements
	t.roundTrips += u.roundTrips
	if t.server < 0 || u.server < 0 {
		t.server = -1
	} else {
		t.server += u.server
	}
	return t
}

// plus completes a server's tally with the database's CPU (from db; nil when the database's
// work is the server's own, as SQLite's is) and this client's.
func (t tally) plus(db func() procTimes) tally {
	t.client = ownCPU()
	if db != nil {
		t.db = db()
	}
	return t
}

// spent is b - a, or -1 when either is unknown.
func spent(a, b time.Duration) time.Duration {
	if a < 0 || b < 0 {
		return -1
	}
	return b - a
}

// scrapeCounts reads the server's elevate_db_statements_total, elevate_db_round_trips_total and
// process_cpu_seconds_total from /metrics; zero counts and an unknown CPU time when it cannot.
func scrapeCounts(ctx context.Context, base string) tally {
	t := tally{server: -1}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return t
	}
	resp, err := testkit.Client.Do(req)
	if err != nil {
		return t
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		name, v, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			continue
		}
		switch name {
		case "elevate_db_statements_total":
			t.statements = uint64(f)
		case "elevate_db_round_trips_total":
			t.roundTrips = uint64(f)
		case "process_cpu_seconds_total":
			t.server = time.Duration(f * float64(time.Second))
		}
	}
	return t
}

// ownCPU is the CPU time this process has used, user and system.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dbCPU reads the database's CPU time, when it runs in processes of its own: nil for SQLite.
func dbCPU(dialect string) func() procTimes {
	if dialect != store.Postgres {
		return nil
	}
	return postgresCPU
}

// postgresCPU is the CPU time used by each process of this machine named postgres (the
// server's backends and helpers), from /proc in clock ticks of 10 ms; nil when there is none
// to read (not Linux, or PostgreSQL on another machine).
func postgresCPU() procTimes {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out procTimes
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open || string(b[open+1:end]) != "postgres" {
			continue
		}
		// After the name: state, ppid, … with utime and stime the 12th and 13th, and the start
		// time the 20th.
		f := strings.Fields(string(b[end+1:]))
		if len(f) < 20 {
			continue
		}
		pid, err0 := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		start, err3 := strconv.ParseInt(f[19], 10, 64)
		if err0 == nil && err1 == nil && err2 == nil && err3 == nil {
			if out == nil {
				out = procTimes{}
			}
			out[proc{pid, start}] = time.Duration(u+s) * 10 * time.Millisecond
		}
	}
	return out
}

// cpuMs shows a CPU time per call in milliseconds.
func cpuMs(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

// grant gives one person a grant in force, so checks for them are allowed.
func grant(ctx context.Context, o *testkit.Org) (string, error) {
	acc := access.New(o.DB, func() time.Time { return time.Now().UTC() }, nil)
	who := testkit.Requesters[3]
	r, err := acc.Submit(ctx, o.Actor(who), o.Users[who], o.Journaling.ID, pam.Submission{Duration: 4 * time.Hour, Justification: "Benchmark."})
	if err != nil {
		return "", err
	}
	_, err = acc.Review(ctx, o.Actor(testkit.Approvers[1]), o.Users[testkit.Approvers[1]], r.ID, pam.DecisionApprove, "")
	return who, err
}

// loadRequests copies one real request into many in single statements: most of them
// decided long ago, some waiting for the approvers.
func loadRequests(ctx context.Context, o *testkit.Org) error {
	acc := access.New(o.DB, func() time.Time { return time.Now().UTC() }, nil)
	who := testkit.Requesters[0]
	tpl, err := acc.Submit(ctx, o.Actor(who), o.Users[who], o.Journaling.ID, pam.Submission{Duration: time.Hour, Justification: "Template."})
	if err != nil {
		return err
	}
	other := string(o.Users[testkit.Requesters[1]].ID)
	sq := newSeries(o.DB.Dialect())
	const cols = `id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
		approvals_required, duration_min, justification, ticket, status, created_at, pending_until, decided_at, starts_at, ends_at, version`
	// The times are seconds from now, as SQL expressions of g; decided "" is never decided.
	insert := func(n int, status, created, pendingUntil, decided string) error {
		decidedAt, endsAt := sq.null, sq.null
		if decided != "" {
			decidedAt, endsAt = sq.at(decided), sq.at(decided+" + 3600")
		}
		return o.DB.ExecRaw(ctx, sq.with+`INSERT INTO requests (`+cols+`)
			SELECT `+sq.id+`, CASE WHEN g % 2 = 0 THEN t.requester_id ELSE @other END, t.policy_id, t.scope_type,
				t.scope_id, t.scope_name, t.approval_type, t.approver_group_id, t.approvals_required, t.duration_min,
				'Loaded for the benchmark, number ' || g, t.ticket, @status, `+sq.at(created)+`, `+sq.at(pendingUntil)+`, `+decidedAt+`, `+decidedAt+`,
				`+endsAt+`, 2
			FROM requests t, `+sq.from+` WHERE t.id = @tpl`, sql.Named("other", other), sql.Named("status", status), sql.Named("n", n), sql.Named("tpl", tpl.ID))
	}
	if err := insert(requestRows-waiting-1, "expired", "-60 * g - 86400", "-60 * g", "-60 * g - 82800"); err != nil {
		return fmt.Errorf("load decided requests: %w", err)
	}
	if err := insert(waiting-1, "pending", "-g", "86400", ""); err != nil {
		return fmt.Errorf("load waiting requests: %w", err)
	}
	// Each decided request was approved, so it carries its approval, as in a real organisation:
	// statements that read a request's reviews then meet a table of the organisation's size, not
	// an empty one. The two approvers share them (the first one's requester's, the viewer of the
	// inbox, the other's), so the viewer has a history of their own among other reviewers'.
	err = o.DB.ExecRaw(ctx, `INSERT INTO reviews (request_id, reviewer_id, principal_id, decision, comment, at)
		SELECT r.id, v.id, v.id, 'approve', '', r.decided_at FROM requests r
			JOIN users v ON v.id = CASE WHEN r.requester_id = @first THEN @viewer ELSE @other END
		WHERE r.status = 'expired' AND r.justification LIKE 'Loaded for the benchmark%'`,
		sql.Named("first", string(o.Users[who].ID)), sql.Named("viewer", string(o.Users[testkit.Approvers[0]].ID)),
		sql.Named("other", string(o.Users[testkit.Approvers[1]].ID)))
	if err != nil {
		return fmt.Errorf("load reviews: %w", err)
	}
	return nil
}

// series is how one dialect writes the pieces of a bulk load: the numbers g from 1 to @n, a
// new id, a time some seconds from now, and a time that is not set.
type series struct {
	with, from, id, null string
	at                   func(seconds string) string
}

func newSeries(dialect string) series {
	if dialect == store.SQLite {
		return series{
			with: "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < @n) ",
			from: "s",
			id:   "lower(hex(randomblob(16)))",
			null: "NULL",
			// The text the driver writes for a UTC time, which the store compares as text.
			at: func(seconds string) string {
				return "strftime('%Y-%m-%d %H:%M:%S', 'now', (" + seconds + ") || ' seconds') || '.000000+00:00'"
			},
		}
	}
	return series{
		from: "generate_series(1, @n) g",
		id:   "gen_random_uuid()::text",
		null: "NULL::timestamptz",
		at:   func(seconds string) string { return "now() + (" + seconds + ") * interval '1 second'" },
	}
}

// approvalSupply is how many pending requests each approval measurement may use up.
var approvalSupply = envInt("BENCH_APPROVALS", 20_000)

// loadSupply makes two sets of pending requests with known ids (bench-bare-N and
// bench-audited-N) by copying a real one.
func loadSupply(ctx context.Context, o *testkit.Org, n int) error {
	acc := access.New(o.DB, func() time.Time { return time.Now().UTC() }, nil)
	who := testkit.Requesters[2]
	tpl, err := acc.Submit(ctx, o.Actor(who), o.Users[who], o.Journaling.ID, pam.Submission{Duration: time.Hour, Justification: "Template."})
	if err != nil {
		return err
	}
	sq := newSeries(o.DB.Dialect())
	for _, set := range []string{"bare", "audited"} {
		err := o.DB.ExecRaw(ctx, sq.with+`INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type,
				approver_group_id, approvals_required, duration_min, justification, ticket, status, created_at, pending_until, version)
			SELECT 'bench-`+set+`-' || g, t.requester_id, t.policy_id, t.scope_type, t.scope_id, t.scope_name, t.approval_type,
				t.approver_group_id, t.approvals_required, t.duration_min, t.justification, t.ticket, 'pending', `+sq.at("0")+`,
				`+sq.at("86400")+`, 1
			FROM requests t, `+sq.from+` WHERE t.id = @tpl`, sql.Named("n", n), sql.Named("tpl", tpl.ID))
		if err != nil {
			return fmt.Errorf("load pending requests: %w", err)
		}
	}
	if o.DB.Dialect() != store.Postgres {
		return nil // as above: no statistics on SQLite
	}
	return o.DB.ExecRaw(ctx, "ANALYZE requests")
}

// approvals approves the requests of one set for measureFor, 16 at once: with the use case
// (lock, review, state, audit event in one transaction), or with the same statements but no
// event.
func approvals(ctx context.Context, o *testkit.Org, set string, audited bool) *result {
	approver := o.Users[testkit.Approvers[0]]
	acc := access.New(o.DB, func() time.Time { return time.Now().UTC() }, nil)
	var next atomic.Int64
	// The use case runs in this process: its CPU is the server's, and there is no client apart.
	counts := func() tally {
		c := o.DB.Counts()
		t := tally{statements: c.Statements, roundTrips: c.RoundTrips, server: ownCPU(), client: -1}
		if read := dbCPU(o.DB.Dialect()); read != nil {
			t.db = read()
		}
		return t
	}
	return closedLoop(ctx, 16, measureFor, counts, func(ctx context.Context) error {
		k := next.Add(1)
		if k > int64(approvalSupply) {
			return errSpent
		}
		id := fmt.Sprintf("bench-%s-%d", set, k)
		if audited {
			_, err := acc.Review(ctx, o.Actor(testkit.Approvers[0]), approver, id, pam.DecisionApprove, "")
			return err
		}
		return o.DB.Tx(ctx, func(tx *store.Store) error {
			r, err := tx.LockRequest(ctx, id)
			if err != nil {
				return err
			}
			if err := r.Review(approver.ID, true, pam.DecisionApprove, "", time.Now().UTC()); err != nil {
				return err
			}
			if err := tx.AddReview(ctx, r.ID, r.Reviews[len(r.Reviews)-1]); err != nil {
				return err
			}
			return tx.SaveTransition(ctx, r)
		})
	})
}

// errSpent ends a closed loop whose supply of work ran out.
var errSpent = errors.New("supply spent")

// benchActions are the 20 actions the older loaded events spread over: ones never renamed, so
// a search for one of them is a search for one stored name. Checks come apart, newest.
func benchActions() []audit.Action {
	var out []audit.Action
	for _, a := range audit.Actions() {
		if len(a.Aliases()) == 0 && a != audit.AccessChecked && len(out) < 20 {
			out = append(out, a)
		}
	}
	return out
}

// loadAudit appends auditEvents chained events a second apart, ending now, in large batches:
// four fifths from 1,000 actors over 20 actions about requests (7 events each), then a fifth of
// checks by one token, so every search for the older events has to find them past every newer
// check. Each batch is sealed at the time of its last event, as a chain written over those days
// would be, so searches by time meet the sealing times they would meet there. It returns the
// time of the first event.
func loadAudit(ctx context.Context, dbURL string) (time.Time, error) {
	db, err := store.Open(dbURL)
	if err != nil {
		return time.Time{}, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return time.Time{}, err
	}
	var sealing atomic.Int64
	db.SetClock(func() time.Time { return time.Unix(0, sealing.Load()) })
	actions := benchActions()
	checks := auditEvents - auditEvents/5
	checker := audit.Actor{Type: audit.ActorToken, ID: "bench-check-token", Name: "bench-ci"}
	// SQLite gets smaller batches: its driver binds a statement's arguments in time that grows
	// with their square, and refuses more than 32,766 of them.
	batch := 1000
	if db.Dialect() == store.SQLite {
		batch = 200
	}
	at := time.Now().UTC().Add(-time.Duration(auditEvents) * time.Second)
	for done := 0; done < auditEvents; done += batch {
		n := min(batch, auditEvents-done)
		evs := make([]*audit.Event, n)
		for i := range evs {
			k := done + i
			if k >= checks {
				evs[i] = checker.Event(audit.AccessChecked, "task", "exchange/New-JournalRule",
					map[string]any{"allowed": true, "reason": "grant", "token": "bench-ci", "user": "person0042@bench.example", "task": "exchange/New-JournalRule"})
				evs[i].RequestID = "bench-grant"
			} else {
				a := audit.Actor{Type: audit.ActorUser, ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", k%1000), Name: fmt.Sprintf("person%04d@bench.example", k%1000)}
				evs[i] = a.Event(actions[k%20], "request", fmt.Sprintf("r-%d", k/7), map[string]any{"n": k, "note": "loaded for the benchmark"})
				evs[i].RequestID = fmt.Sprintf("req-%d", k/7)
			}
			evs[i].At = at.Add(time.Duration(k) * time.Second)
			evs[i].IP = "127.0.0.1"
		}
		sealing.Store(evs[n-1].At.UnixNano())
		if err := db.AppendAuditBatch(ctx, evs); err != nil {
			return time.Time{}, err
		}
		if done%200_000 == 0 && done > 0 {
			say("  %d events", done)
		}
	}
	return at, nil
}

// memory samples the server's resident memory every 100 ms.
type memory struct {
	peak atomic.Int64
	done chan struct{}
	once sync.Once
}

func watchMemory(p *testkit.Process) *memory {
	m := &memory{done: make(chan struct{})}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if now, _, err := p.RSS(); err == nil && now > m.peak.Load() {
				m.peak.Store(now)
			}
			select {
			case <-m.done:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memory) stop() { m.once.Do(func() { close(m.done) }) }

type refServer struct {
	URL string
	srv *http.Server
}

func httptestServer(h http.Handler) *refServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go s.Serve(l)
	return &refServer{URL: "http://" + l.Addr().String(), srv: s}
}

func (r *refServer) Close() { r.srv.Close() }

// get fetches url and drains the answer; anything but 200 is an error.
func get(ctx context.Context, c *http.Client, url string) error {
	if c == nil {
		c = testkit.Client
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return nil
}

// result collects the latencies and errors of one measurement.
type result struct {
	mu      sync.Mutex
	lat     []time.Duration
	errors  atomic.Int64
	first   error
	elapsed time.Duration
	// statements and roundTrips the database served during the measurement (-1: not read).
	statements, roundTrips int64
	// cpu is the CPU time the server, the database and the client used during it.
	cpu cpuTimes
}

// counted reads counts (when there is a reader) around measure and keeps the differences.
func (r *result) counted(counts func() tally, measure func()) {
	r.statements, r.roundTrips = -1, -1
	r.cpu = cpuTimes{server: -1, db: -1, client: -1}
	if counts == nil {
		measure()
		return
	}
	a := counts()
	measure()
	b := counts()
	if a.statements > 0 || b.statements > 0 {
		r.statements, r.roundTrips = int64(b.statements-a.statements), int64(b.roundTrips-a.roundTrips)
	}
	r.cpu = cpuTimes{server: spent(a.server, b.server), db: b.db.since(a.db), client: spent(a.client, b.client)}
}

func (r *result) record(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors.Add(1)
		if r.first == nil {
			r.first = err
		}
		return
	}
	r.lat = append(r.lat, d)
}

func (r *result) firstErr() error { r.mu.Lock(); defer r.mu.Unlock(); return r.first }
func (r *result) count() int      { r.mu.Lock(); defer r.mu.Unlock(); return len(r.lat) }
func (r *result) rate() float64   { return float64(r.count()) / r.elapsed.Seconds() }

func (r *result) quantile(q float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lat) == 0 {
		return 0
	}
	slices.Sort(r.lat)
	return r.lat[min(len(r.lat)-1, int(q*float64(len(r.lat))))]
}

func (r *result) max() time.Duration { return r.quantile(1) }

func (r *result) row(name, refName string, ref float64) row {
	out := row{name: name, rate: r.rate(), p50: r.quantile(0.50), p95: r.quantile(0.95), p99: r.quantile(0.99), ratio: -1, ref: refName,
		statements: -1, roundTrips: -1, server: -1, db: -1, client: -1}
	// Per call, failed calls included: they were sent too.
	calls := float64(r.count()) + float64(r.errors.Load())
	if calls > 0 && r.statements >= 0 {
		out.statements, out.roundTrips = float64(r.statements)/calls, float64(r.roundTrips)/calls
	}
	perCall := func(d time.Duration) time.Duration {
		if d < 0 || calls == 0 {
			return -1
		}
		return time.Duration(float64(d) / calls)
	}
	out.server, out.db, out.client = perCall(r.cpu.server), perCall(r.cpu.db), perCall(r.cpu.client)
	if ref > 0 {
		out.ratio = out.rate / ref
	}
	if e := r.errors.Load(); e > 0 {
		out.note = fmt.Sprintf("%d errors", e)
	}
	return out
}

// closedLoop runs fn from workers goroutines, each starting a call when its last one ended,
// for d (after a short warm-up that is not counted). counts, when set, reads the database's
// statement and round-trip counters before and after.
func closedLoop(ctx context.Context, workers int, d time.Duration, counts func() tally, fn func(context.Context) error) *result {
	// The warm-up lets its last calls finish rather than cancel them: a call cut off mid-way
	// would be counted against the next measurement.
	warmEnd := time.Now().Add(min(d/5, 2*time.Second))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(warmEnd) && ctx.Err() == nil {
				if errors.Is(fn(ctx), errSpent) {
					return
				}
			}
		}()
	}
	wg.Wait()
	r := &result{}
	r.counted(counts, func() {
		end := time.Now().Add(d)
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) && ctx.Err() == nil {
					t0 := time.Now()
					err := fn(ctx)
					if errors.Is(err, errSpent) {
						return
					}
					r.record(time.Since(t0), err)
				}
			}()
		}
		wg.Wait()
		r.elapsed = time.Since(start)
	})
	return r
}

// constantRate starts calls at a fixed rate for d, whether earlier ones have ended or not (at
// most 1,000 in flight; a call that cannot start counts as an error), so a slow server shows
// up as latency rather than as a lower rate.
func constantRate(ctx context.Context, perSecond float64, d time.Duration, counts func() tally, fn func(context.Context) error) *result {
	r := &result{}
	r.counted(counts, func() { r.constantRate(ctx, perSecond, d, fn) })
	return r
}

func (r *result) constantRate(ctx context.Context, perSecond float64, d time.Duration, fn func(context.Context) error) {
	interval := time.Duration(float64(time.Second) / perSecond)
	slots := make(chan struct{}, 1000)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= d || ctx.Err() != nil {
			break
		}
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		select {
		case slots <- struct{}{}:
		default:
			r.record(0, fmt.Errorf("more than 1,000 calls in flight"))
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			t0 := time.Now()
			err := fn(ctx)
			r.record(time.Since(t0), err)
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
}

// row is one line of the report. ratio < 0 means "no ratio".
type row struct {
	name          string
	rate          float64
	unit          string
	p50, p95, p99 time.Duration
	ratio         float64
	ref           string
	note          string
	// statements and roundTrips per call, as the database's counters saw them (< 0: not read).
	statements, roundTrips float64
	// server, db and client are the CPU time each used per call (< 0: not read).
	server, db, client time.Duration
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

// render prints one table: each measurement on one line per database, PostgreSQL first, so a
// row's SQLite figures sit right under its PostgreSQL ones.
func render(runs []*dbRun, started time.Time) string {
	var b strings.Builder
	host, _ := os.Hostname()
	var names []string
	for _, d := range runs {
		names = append(names, dialectNames[d.dialect])
	}
	fmt.Fprintf(&b, "Elevate benchmark, %s on %s (%d CPUs, %s/%s, %s); client, server and database share the machine.\n",
		started.UTC().Format(time.RFC3339), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(&b, "Databases: %s, one after the other, each loaded with the same data and served by its own `elevate serve`;\n", strings.Join(names, ", "))
	fmt.Fprintf(&b, "each database's run measures its own references, and ratios are to the reference named, from the same database's run.\n")
	fmt.Fprintf(&b, "Closed loops: %d connections for %v each after a warm-up (the \"1 connection\" rows: one for %v); server log level warn,\n",
		connections, measureFor, soloFor)
	fmt.Fprintf(&b, "per-token check limit lifted. Statements and round trips (a transaction's BEGIN and COMMIT included) are per call, from the\n")
	fmt.Fprintf(&b, "server's own counters on /metrics (both servers' for the replicas row, this process's for the approval rows), background jobs included.\n")
	fmt.Fprintf(&b, "CPU columns: milliseconds of CPU per call used by the server (the process's own counter), by PostgreSQL (every local\n")
	fmt.Fprintf(&b, "postgres process, read from /proc) and by this client; SQLite's work is the server's. Rates swing with the machine's load,\n")
	fmt.Fprintf(&b, "CPU per call much less: a step too small to move the rate shows there.\n\n")
	fmt.Fprintf(&b, "%-46s %-10s %14s %10s %10s %10s %8s  %-15s %6s %6s %6s %6s %6s  %s\n", "measurement", "database", "rate", "p50", "p95", "p99", "ratio", "reference", "stmts", "trips",
		"srv ms", "db ms", "cl ms", "notes")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 181))
	for _, name := range rowNames(runs) {
		first := true
		for _, d := range runs {
			for _, r := range d.rows {
				if r.name != name {
					continue
				}
				label := ""
				if first {
					label, first = name, false
				}
				b.WriteString(r.line(label, dialectNames[d.dialect]))
			}
		}
	}
	return b.String()
}

// rowNames lists every run's row names once, in the order the rows were measured.
func rowNames(runs []*dbRun) []string {
	var out []string
	for _, d := range runs {
		for _, r := range d.rows {
			if !slices.Contains(out, r.name) {
				out = append(out, r.name)
			}
		}
	}
	return out
}

// line is r as one line of the table, labelled name (empty under the row's first line).
func (r row) line(name, database string) string {
	rate, ratio, stmts, trips, server, db, client := "-", "-", "-", "-", "-", "-", "-"
	if r.statements >= 0 && r.rate > 0 {
		stmts, trips = fmt.Sprintf("%.1f", r.statements), fmt.Sprintf("%.1f", r.roundTrips)
		server, db, client = cpuMs(r.server), cpuMs(r.db), cpuMs(r.client)
	}
	if r.rate > 0 {
		unit := r.unit
		if unit == "" {
			unit = "req"
		}
		rate = fmt.Sprintf("%.0f %s/s", r.rate, unit)
	}
	if r.ratio >= 0 {
		ratio = fmt.Sprintf("%.3f", r.ratio)
	}
	return strings.TrimRight(fmt.Sprintf("%-46s %-10s %14s %10s %10s %10s %8s  %-15s %6s %6s %6s %6s %6s  %s", name, database, rate, ms(r.p50), ms(r.p95), ms(r.p99), ratio, r.ref, stmts, trips,
		server, db, client, r.note), " ") + "\n"
}
