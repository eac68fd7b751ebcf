package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// elevateBinary builds the real binary once per test run, with CGO disabled as shipped.
func elevateBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "elevate-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "elevate")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is a running `elevate serve`.
type process struct {
	cmd      *exec.Cmd
	base     string
	setupURL string
	logs     *strings.Builder
	stdout   *lockedBuffer
	mu       sync.Mutex
	done     chan error
}

// startElevate runs the binary with env and waits until it answers /healthz.
func startElevate(t *testing.T, env map[string]string, args ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(elevateBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "ELEVATE_ADDR=" + addr}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, _ := cmd.StderrPipe()
	out := &lockedBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, base: "http://" + addr, logs: &strings.Builder{}, stdout: out, done: make(chan error, 1)}
	setup := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if u, ok := strings.CutPrefix(line, setupLinkLine); ok {
				setup <- u
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("elevate did not start: %v\n%s", err, p.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case p.setupURL = <-setup:
	case <-time.After(200 * time.Millisecond):
	}
	return p
}

// Logs returns what the process logged so far.
func (p *process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Stdout returns what the process printed on standard output so far.
func (p *process) Stdout() string { return p.stdout.String() }

// lockedBuffer collects a child's output safely while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stop sends SIGTERM and returns the exit error after the graceful shutdown.
func (p *process) stop(t *testing.T) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("elevate did not stop within 15 s of SIGTERM")
		return nil
	}
}

// browser starts headless Chromium from Debian with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := "/usr/bin/chromium"
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("Chromium is required for browser tests (make test installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	// The first call starts the browser and must not carry a timeout; later calls may.
	if err := chromedp.Do(bctx); err != nil {
		cancelB()
		cancelA()
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	return ctx
}

// screenshot saves a full-page PNG under test-artifacts/ for people to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := "test-artifacts"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// text reads the visible text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// do runs browser steps and fails the test, with the server's log, on the first error.
func do(t *testing.T, ctx context.Context, p *process, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v\nserver log:\n%s", err, p.Logs())
	}
}

// setupAndSignIn creates the first admin through the setup page and signs in as them.
func setupAndSignIn(t *testing.T, ctx context.Context, p *process, shot string) {
	t.Helper()
	if p.setupURL == "" {
		t.Fatalf("no setup URL in the log:\n%s", p.Logs())
	}
	do(t, ctx, p,
		chromedp.Navigate(p.setupURL),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="setup-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Ada Lindqvist"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), e2ePassword),
		chromedp.SendKeys(chromedp.CSS(`#f-password_confirm`), e2ePassword),
	)
	screenshot(t, ctx, shot)
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="create-admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
	)
	if flash := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(flash, "ada@example.com") {
		t.Errorf("flash after setup: %q", flash)
	}
	do(t, ctx, p,
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), e2ePassword),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="greeting"]`)),
	)
}

const e2ePassword = "a passphrase for the first admin"

func TestBrowserFirstRunSignInAndOut(t *testing.T) {
	p := startElevate(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "e2e.db")})
	ctx := browser(t)
	setupAndSignIn(t, ctx, p, "setup")
	if g := text(t, ctx, `[data-testid="greeting"]`); !strings.Contains(g, "Ada") {
		t.Fatalf("greeting %q", g)
	}
	screenshot(t, ctx, "dashboard")

	// The admin finds the setup and the sign-in on the audit trail, and opens one event.
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="nav-audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)),
	)
	if rows := text(t, ctx, `[data-testid="audit-table"] tbody`); !strings.Contains(rows, "setup.completed") || !strings.Contains(rows, "auth.signed_in") {
		t.Fatalf("audit rows: %q", rows)
	}
	screenshot(t, ctx, "audit")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="event-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="event-details"]`)),
	)
	screenshot(t, ctx, "audit-event")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="user-menu"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
	)
	if h := text(t, ctx, `h1`); h != "Sign in" {
		t.Fatalf("after sign-out the page says %q", h)
	}
	if f := text(t, ctx, `[data-testid="flash"]`); !strings.Contains(f, "signed out") {
		t.Fatalf("after sign-out the flash says %q", f)
	}
	screenshot(t, ctx, "signed-out")

	// The setup link is spent.
	resp, err := http.Get(p.setupURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("setup link after use: %d", resp.StatusCode)
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, p.Logs())
	}
	if strings.Contains(p.Logs(), e2ePassword) {
		t.Fatal("the password appeared in the log")
	}
}

func TestBrowserMobileLayout(t *testing.T) {
	p := startElevate(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db")})
	ctx := browser(t)
	do(t, ctx, p, chromedp.EmulateViewport(375, 740))
	// The browser's time zone is kept on the user the first time they sign in.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	setupAndSignIn(t, ctx, p, "setup-375")
	zone := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && zone != "Europe/Paris"; time.Sleep(200 * time.Millisecond) {
		do(t, ctx, p, chromedp.Navigate(p.base+"/profile"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="field-time_zone"]`)))
		zone, _ = chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`[data-testid="field-time_zone"]`)))
	}
	if zone != "Europe/Paris" {
		t.Fatalf("the browser's zone was not kept: %q", zone)
	}
	do(t, ctx, p, chromedp.Navigate(p.base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="greeting"]`)))
	sidebar, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector('nav[aria-label="Main"]')).display !== 'none'`))
	if err != nil {
		t.Fatal(err)
	}
	if sidebar {
		t.Fatal("the sidebar shows at 375 px; it should collapse into the menu")
	}
	screenshot(t, ctx, "dashboard-375")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`summary[aria-label="Menu"]`)),
		chromedp.WaitVisible(chromedp.CSS(`header [data-testid="nav-dashboard"]`)),
	)
	screenshot(t, ctx, "menu-375")

	// The audit page fits the phone: the table scrolls inside its card, the page does not.
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`header [data-testid="nav-audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)),
	)
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if wide {
		t.Fatal("the audit page is wider than a 375 px screen")
	}
	screenshot(t, ctx, "audit-375")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="event-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="event-details"]`)),
	)
	if wide, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
		t.Fatalf("the audit event page is wider than a 375 px screen (%v)", err)
	}
	screenshot(t, ctx, "audit-event-375")
	do(t, ctx, p,
		chromedp.Navigate(p.base+"/audit?outcome=success"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-filter-form"]`)),
	)
	screenshot(t, ctx, "audit-filtered-375")
}
