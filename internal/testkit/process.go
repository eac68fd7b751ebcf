package testkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/demo"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// Org is the demo organisation loaded into one database, with an API token for each person
// and a check token.
type Org struct {
	DB     *store.Store
	Users  map[string]pam.User // by email
	Tokens map[string]string   // api tokens by email
	Check  string              // a check token (an administrator's)
	// Journaling is a manual policy (one approval, approvers olivia and omar) everyone may use.
	Journaling pam.Policy
	// JournalTask is a task the journaling policy covers.
	JournalTask string
	// Password is every demo person's password.
	Password string
}

// Requesters and Approvers of the journaling policy in the demo organisation.
var (
	Requesters = []string{"rhea@demo.example", "raj@demo.example", "rosa@demo.example", "ravi@demo.example"}
	Approvers  = []string{"olivia@demo.example", "omar@demo.example"}
	AdminEmail = "admin@demo.example"
)

// Seed migrates an empty database, loads the demo organisation and makes the tokens. The
// returned Org keeps the database open; close Org.DB when done.
func Seed(ctx context.Context, url string) (*Org, error) {
	db, err := store.Open(url)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	now := func() time.Time { return time.Now().UTC() }
	accounts := auth.NewService(db, nil, now)
	res, err := demo.Load(ctx, db, now)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load demo: %w", err)
	}
	o := &Org{DB: db, Users: map[string]pam.User{}, Tokens: map[string]string{}, JournalTask: "exchange/New-JournalRule", Password: res.Password}
	for _, email := range append(append([]string{AdminEmail}, Requesters...), Approvers...) {
		u, _, err := db.UserByEmail(ctx, email)
		if err != nil {
			db.Close()
			return nil, err
		}
		o.Users[email] = u
		if _, o.Tokens[email], err = accounts.CreateAPIToken(ctx, u, "testkit", auth.ScopeAPI, audit.System); err != nil {
			db.Close()
			return nil, err
		}
	}
	if _, o.Check, err = accounts.CreateCheckToken(ctx, "testkit-check", audit.System); err != nil {
		db.Close()
		return nil, err
	}
	pols, err := db.Policies(ctx, nil, 100)
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, p := range pols {
		if p.ScopeName == "Journaling" {
			o.Journaling = p
		}
	}
	if o.Journaling.ID == "" {
		db.Close()
		return nil, fmt.Errorf("the demo organisation has no Journaling policy")
	}
	return o, nil
}

// Actor is the audit actor of a person acting through the use cases directly.
func (o *Org) Actor(email string) audit.Actor {
	u := o.Users[email]
	return audit.Actor{Type: audit.ActorUser, ID: string(u.ID), Name: u.Email}
}

// Process is a running `elevate serve`.
type Process struct {
	Base string // http://127.0.0.1:port

	cmd    *exec.Cmd
	mu     sync.Mutex
	logs   strings.Builder
	stdout capped
	setup  string
	seen   chan struct{} // closed when the setup link was printed
	demoPW string
	demo   chan struct{} // closed when the demo sign-ins were printed
	done   chan struct{}
	err    error
}

// logCap bounds what a process's logs and output keep, so a long run cannot fill the memory.
const logCap = 4 << 20

// setupLink finds the one-time setup link a first run prints on stderr, outside the logger.
var setupLink = regexp.MustCompile(`https?://\S+/setup\?token=[^\s"]+`)

// demoSignIns finds the demo's shared password in the sign-ins `serve --demo` prints on stderr,
// outside the logger.
var demoSignIns = regexp.MustCompile(`^Demo organisation loaded\. .*\(password (demo-\S+)\):$`)

// FreeAddr returns a loopback address with a port nobody listens on at the moment.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start runs `bin serve args...` with only PATH, HOME, ELEVATE_ADDR (chosen here) and env in
// its environment (env may override HOME), and waits until it answers /healthz, at most 20
// seconds.
func Start(bin string, env map[string]string, args ...string) (*Process, error) {
	return StartIn("", bin, env, args...)
}

// StartIn is Start in the working directory dir ("" for the caller's), where relative paths
// such as the default database file `elevate.db` land.
func StartIn(dir, bin string, env map[string]string, args ...string) (*Process, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "ELEVATE_ADDR=" + addr}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &Process{Base: "http://" + addr, cmd: cmd, seen: make(chan struct{}), demo: make(chan struct{}), done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = &p.stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			if p.logs.Len() < logCap {
				p.logs.WriteString(line + "\n")
			}
			if u := setupLink.FindString(line); u != "" && p.setup == "" {
				p.setup = u
				close(p.seen)
			}
			if m := demoSignIns.FindStringSubmatch(line); m != nil && p.demoPW == "" {
				p.demoPW = m[1]
				close(p.demo)
			}
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-logged
		p.err = cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("elevate exited at start: %v\n%s", p.err, p.Logs())
		default:
		}
		if time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("elevate did not start: %v\n%s", err, p.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Serve builds the binary (once per test process), starts `elevate serve args...` with env
// and a HOME of the test's own, and kills it when the test ends. A process that does not
// start fails the test.
func Serve(t testing.TB, env map[string]string, args ...string) *Process {
	t.Helper()
	all := map[string]string{"HOME": t.TempDir()}
	for k, v := range env {
		all[k] = v
	}
	p, err := Start(Binary(t), all, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Logs returns what the process logged so far.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Stdout returns what the process printed on standard output so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// SetupURL returns the one-time setup link the process printed on a first run, or "" when
// it printed none (the database had an administrator, or another process printed it).
func (p *Process) SetupURL() string {
	select {
	case <-p.seen:
	case <-p.done:
	case <-time.After(2 * time.Second): // the link is printed before the process listens
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.setup
}

// DemoPassword returns the password of every demo sign-in that `serve --demo` printed on
// stderr, or "" when it printed none (the database was not empty).
func (p *Process) DemoPassword() string {
	select {
	case <-p.demo:
	case <-p.done:
	case <-time.After(2 * time.Second): // the sign-ins are printed before the process listens
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.demoPW
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits for the graceful shutdown (SIGKILL after 15 seconds); it
// returns the exit error, nil after a clean stop.
func (p *Process) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(15 * time.Second):
		p.Kill()
		return fmt.Errorf("elevate did not stop within 15 s of SIGTERM")
	}
}

// RSS returns the process's resident memory and its peak so far, in bytes, from /proc.
func (p *Process) RSS() (now, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, e := fmt.Sscanf(line, "VmRSS: %d kB", &kb); e == nil {
			now = kb << 10
		}
		if _, e := fmt.Sscanf(line, "VmHWM: %d kB", &kb); e == nil {
			peak = kb << 10
		}
	}
	return now, peak, nil
}

// Client is a JSON API client with keep-alive connections, bounded by a timeout per call.
var Client = &http.Client{
	Timeout: 15 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	},
}

// Call sends one JSON API request with a bearer token and decodes the JSON answer into a map.
// Transport failures return status 0 and the error.
func Call(ctx context.Context, method, url, token string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out := map[string]any{}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("answer is not JSON: %.200s", b)
		}
	}
	return resp.StatusCode, out, nil
}

// Submit asks for the journaling policy through the API as email; it returns the request id.
func (o *Org) Submit(ctx context.Context, base, email string) (string, int, error) {
	st, out, err := Call(ctx, "POST", base+"/api/v1/requests", o.Tokens[email],
		map[string]any{"policy_id": o.Journaling.ID, "duration_min": 60, "justification": "Fix a journal rule."})
	if err != nil || st != http.StatusCreated {
		return "", st, fmt.Errorf("submit as %s: %d %v %v", email, st, out, err)
	}
	id, _ := out["id"].(string)
	return id, st, nil
}

// Act approves, denies, withdraws or revokes a request through the API as email, and returns
// the status code.
func (o *Org) Act(ctx context.Context, base, email, id, action string) (int, map[string]any, error) {
	return Call(ctx, "POST", base+"/api/v1/requests/"+id+"/"+action, o.Tokens[email], map[string]string{"comment": "testkit", "reason": "testkit"})
}

// CheckAccess asks the check API whether user may run task now.
func (o *Org) CheckAccess(ctx context.Context, base, user, task string) (int, map[string]any, error) {
	return Call(ctx, "POST", base+"/api/v1/check", o.Check, map[string]string{"user": user, "task": task})
}

// Session is a signed-in browser without JavaScript: a cookie jar and the CSRF token of the
// last page it loaded. Its calls may run at once (as `make bench` sends them); Location is then
// the last answer's, to be read once they have ended.
type Session struct {
	Base string
	// Location is where the last answer redirected to, if it did.
	Location string
	http     *http.Client
	mu       sync.Mutex // guards Location and csrf while calls run
	csrf     string
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// SignIn signs email in with the demo password through the sign-in page.
func (o *Org) SignIn(ctx context.Context, base, email string) (*Session, error) {
	jar, _ := cookiejar.New(nil)
	s := &Session{Base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: Client.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if st, body, err := s.Get(ctx, "/login"); err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("sign-in page: %d %v %.200s", st, err, body)
	}
	st, body, err := s.Post(ctx, "/login", url.Values{"email": {email}, "password": {o.Password}})
	if err != nil || st != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in %s: %d %v %.300s", email, st, err, body)
	}
	return s, nil
}

// Get loads a page and returns its status and body.
func (s *Session) Get(ctx context.Context, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Base+path, nil)
	if err != nil {
		return 0, "", err
	}
	return s.do(req)
}

// Post sends a form with the session's CSRF token.
func (s *Session) Post(ctx context.Context, path string, form url.Values) (int, string, error) {
	s.mu.Lock()
	form.Set("_csrf", s.csrf)
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

func (s *Session) do(req *http.Request) (int, string, error) {
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Location = resp.Header.Get("Location")
	if m := csrfField.FindSubmatch(b); m != nil {
		s.csrf = html.UnescapeString(string(m[1]))
	}
	return resp.StatusCode, string(b), err
}

// Stream loads path and counts the lines of the answer without keeping it.
func (s *Session) Stream(ctx context.Context, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Base+path, nil)
	if err != nil {
		return 0, err
	}
	c := *s.http
	c.Timeout = 10 * time.Minute
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	n := 0
	buf := make([]byte, 64<<10)
	for {
		k, err := resp.Body.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// capped collects a child's output safely while tests read it, up to logCap bytes.
type capped struct {
	mu sync.Mutex
	b  strings.Builder
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.b.Len() < logCap {
		c.b.Write(p)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}
