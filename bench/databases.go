package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// dialectNames are the databases a run measures, as the table names them, in the order they run.
var dialectNames = map[string]string{store.Postgres: "PostgreSQL", store.SQLite: "SQLite"}

// databases reads ELEVATE_BENCH_DATABASES (comma-separated: postgres, sqlite; unset or "all"
// is both), in the order PostgreSQL, SQLite whatever order it names them in.
func databases() ([]string, error) {
	v := strings.TrimSpace(os.Getenv("ELEVATE_BENCH_DATABASES"))
	if v == "" || v == "all" {
		return []string{store.Postgres, store.SQLite}, nil
	}
	var out []string
	for _, w := range strings.Split(v, ",") {
		w = strings.TrimSpace(w)
		if _, ok := dialectNames[w]; !ok {
			return nil, fmt.Errorf("ELEVATE_BENCH_DATABASES: unknown database %q (known: postgres, sqlite)", w)
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(a, b) }) // postgres < sqlite
	return out, nil
}

// serveEnv is the environment of a measured `elevate serve` on dbURL. The per-token limit on
// checks is lifted: the benchmark measures what a process can do.
func serveEnv(dbURL string) map[string]string {
	env := map[string]string{"ELEVATE_DATABASE_URL": dbURL, "ELEVATE_LOG_LEVEL": "warn", "ELEVATE_CHECK_RATE": "1000000"}
	// ELEVATE_BENCH_DEBUG_ADDR gives the measured server a pprof listener, for profiling a row.
	if a := os.Getenv("ELEVATE_BENCH_DEBUG_ADDR"); a != "" {
		env["ELEVATE_DEBUG_ADDR"] = a
	}
	// ELEVATE_BENCH_MAX_CONNS sizes the measured servers' connection pools, for comparing sizes.
	if n := os.Getenv("ELEVATE_BENCH_MAX_CONNS"); n != "" {
		env["ELEVATE_DATABASE_MAX_CONNS"] = n
	}
	return env
}

// dbRun is one database's part of the run: its rows, the measurements whose errors fail the
// run, and its server's peak resident memory.
type dbRun struct {
	dialect  string
	rows     []row
	measured []*result
	steady   *result
	peakRSS  int64
}

// failure is why this database's part fails the run, or nil.
func (d *dbRun) failure() error {
	if d.steady != nil && d.steady.errors.Load() > 0 {
		return fmt.Errorf("the constant-rate run had %d errors; first: %v", d.steady.errors.Load(), d.steady.firstErr())
	}
	for _, r := range d.measured {
		if r.errors.Load() > 0 {
			return fmt.Errorf("a measurement had %d errors; first: %v", r.errors.Load(), r.firstErr())
		}
	}
	if d.peakRSS >= memoryLimit {
		return fmt.Errorf("server resident memory peaked at %d MB", d.peakRSS>>20)
	}
	return nil
}

// emptyDatabase makes an empty database of dialect and returns its URL and how to remove it: a
// schema of its own on the PostgreSQL server, or a new file in dir.
func emptyDatabase(ctx context.Context, dialect, dir string) (string, func(), error) {
	if dialect == store.SQLite {
		f, err := os.CreateTemp(dir, "bench-*.db")
		if err != nil {
			return "", nil, err
		}
		f.Close()
		os.Remove(f.Name())
		return "sqlite:" + f.Name(), func() {
			for _, s := range []string{"", "-wal", "-shm"} {
				os.Remove(f.Name() + s)
			}
		}, nil
	}
	adminDB, err := store.Open(postgresURL())
	if err != nil {
		return "", nil, err
	}
	if err := adminDB.Ping(ctx); err != nil {
		adminDB.Close()
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", postgresURL(), err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "bench_" + hex.EncodeToString(b)
	if err := adminDB.ExecRaw(ctx, "CREATE SCHEMA "+schema); err != nil {
		adminDB.Close()
		return "", nil, err
	}
	drop := func() {
		// ELEVATE_BENCH_KEEP=1 leaves the loaded schema behind, for EXPLAIN on realistic data;
		// drop it by hand afterwards.
		if os.Getenv("ELEVATE_BENCH_KEEP") == "1" {
			fmt.Fprintf(os.Stderr, "kept schema %s (ELEVATE_BENCH_KEEP)\n", schema)
		} else {
			_ = adminDB.ExecRaw(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		}
		adminDB.Close()
	}
	u, _ := url.Parse(postgresURL())
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// coldStarts is how many times the cold-start row starts a server; it prints the best and the
// median.
var coldStarts = envInt("BENCH_STARTS", 5)

// coldStartTarget is the target for the median cold start on an empty database.
const coldStartTarget = time.Second

// coldStartTimes starts `elevate serve` n times, each on a new empty database of dialect, and
// returns how long each took from the process's start to its first 200 from /readyz.
func coldStartTimes(ctx context.Context, bin, dialect, dir string, n int) ([]time.Duration, error) {
	var out []time.Duration
	for range n {
		dbURL, drop, err := emptyDatabase(ctx, dialect, dir)
		if err != nil {
			return nil, err
		}
		d, err := coldStart(ctx, bin, dbURL, dir)
		drop()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// readyClient polls /readyz during a cold start: a refused connection answers at once, and a
// call that hangs is cut short.
var readyClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// coldStart runs `elevate serve` on dbURL and returns the time from starting the process to
// its first 200 from /readyz, polled every millisecond; then it stops the process with SIGTERM
// (SIGKILL after 15 seconds). A process that exits, or is not ready within 30 seconds, is an
// error that carries its output.
func coldStart(ctx context.Context, bin, dbURL, home string) (time.Duration, error) {
	addr, err := testkit.FreeAddr()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "ELEVATE_ADDR=" + addr}
	for k, v := range serveEnv(dbURL) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &capped{}
	cmd.Stdout, cmd.Stderr = out, out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	deadline := started.Add(30 * time.Second)
	for {
		if ready(ctx, "http://"+addr+"/readyz") {
			took := time.Since(started)
			stop()
			return took, nil
		}
		select {
		case err := <-done:
			return 0, fmt.Errorf("elevate serve exited before it was ready: %v\n%s", err, out)
		case <-ctx.Done():
			stop()
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return 0, fmt.Errorf("elevate serve was not ready within 30 s\n%s", out)
		}
	}
}

// ready reports whether url answers 200.
func ready(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := readyClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// startRow is the cold-start row: the median in the p50 column, the best in the notes, and the
// verdict on the median.
func startRow(starts []time.Duration) row {
	s := slices.Clone(starts)
	slices.Sort(s)
	median := s[len(s)/2]
	r := row{name: "cold start to ready, empty database", p50: median, ratio: -1, statements: -1, roundTrips: -1,
		note: fmt.Sprintf("median of %d starts; best %s", len(s), ms(s[0]))}
	return target(r, "median", median <= coldStartTarget, "≤ 1 s")
}

// flowsTarget is the target for submit + approve through one process.
const flowsTarget = 500

// searchP95 is the target for the p95 of an audit search's first page.
const searchP95 = 20 * time.Millisecond

// soloFor is how long each one-connection search row runs.
var soloFor = envDuration("BENCH_SOLO", 3*time.Second)

// target adds to r's notes whether an absolute target was met; a target never fails the run.
func target(r row, what string, met bool, goal string) row {
	verdict := "missed"
	if met {
		verdict = "met"
	}
	t := fmt.Sprintf("target %s %s: %s", what, goal, verdict)
	if r.note == "" {
		r.note = t
	} else {
		r.note += "; " + t
	}
	return r
}

// flow submits a request as the first requester through submitBase and approves it as the
// first approver through approveBase.
func flow(ctx context.Context, o *testkit.Org, submitBase, approveBase string) error {
	id, _, err := o.Submit(ctx, submitBase, testkit.Requesters[0])
	if err != nil {
		return err
	}
	st, out, err := o.Act(ctx, approveBase, testkit.Approvers[0], id, "approve")
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("approve answered %d %v", st, out)
	}
	return err
}

// pair picks the servers of the k-th flow: it submits on one and approves on the next, so
// consecutive flows go opposite ways and every server takes an equal share of both.
func pair(k int64, bases []string) (submit, approve string) {
	i := int(k % int64(len(bases)))
	return bases[i], bases[(i+1)%len(bases)]
}

// capped keeps the first 64 KiB of a child's output, for an error message.
type capped struct {
	b []byte
}

func (c *capped) Write(p []byte) (int, error) {
	if n := 64<<10 - len(c.b); n > 0 {
		c.b = append(c.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) String() string { return string(c.b) }
