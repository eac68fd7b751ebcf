package main

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// setupLinks returns the setup URLs in a command's stderr. It fails the test when a URL sits in
// a log record: the link is printed outside the logger, never through it.
func setupLinks(t *testing.T, stderr string) []string {
	t.Helper()
	var links []string
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, "/setup?token=") {
			continue
		}
		if json.Valid([]byte(line)) {
			t.Fatalf("a setup link went through the logger: %s", line)
		}
		f := strings.Fields(line)
		links = append(links, f[len(f)-1])
	}
	return links
}

// setupService opens the database at dbURL for checks the way a web process would see it.
func setupService(t *testing.T, dbURL string) (*auth.Service, *store.Store) {
	t.Helper()
	db, err := store.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetSealWait(10 * time.Second) // the test reads the trail right after each change
	return auth.NewService(db, nil, time.Now), db
}

// linkWorks reports whether the setup page would accept link.
func linkWorks(t *testing.T, svc *auth.Service, link string) bool {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("setup link %q: %v", link, err)
	}
	ok, err := svc.SetupTokenValid(context.Background(), u.Query().Get("token"))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// notifyWriter collects output and closes seen once the output contains want.
type notifyWriter struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// serveTogether starts n `elevate serve` at the same moment on one database, with
// ELEVATE_BASE_URL https://elevate.example.com, waits until each listens, stops them all and
// returns what each wrote on stderr.
func serveTogether(t *testing.T, dbURL string, n int) []string {
	t.Helper()
	return serveWith(t, map[string]string{"ELEVATE_DATABASE_URL": dbURL, "ELEVATE_ADDR": "127.0.0.1:0",
		"ELEVATE_BASE_URL": "https://elevate.example.com"}, n)
}

// serveBare is one `elevate serve` on dbURL on a free loopback port without ELEVATE_BASE_URL;
// it returns what the process wrote on stderr.
func serveBare(t *testing.T, dbURL string) string {
	t.Helper()
	return serveWith(t, map[string]string{"ELEVATE_DATABASE_URL": dbURL, "ELEVATE_ADDR": "127.0.0.1:0"}, 1)[0]
}

// serveWith starts n `elevate serve` with env at the same moment, waits until each listens,
// stops them all and returns what each wrote on stderr.
func serveWith(t *testing.T, env map[string]string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	start := make(chan struct{})
	outs := make([]*notifyWriter, n)
	done := make([]chan int, n)
	for i := range n {
		outs[i] = &notifyWriter{want: "elevate listening", seen: make(chan struct{})}
		done[i] = make(chan int, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			done[i] <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, outs[i])
		}()
	}
	close(start)
	for i, w := range outs {
		select {
		case <-w.seen:
		case code := <-done[i]:
			t.Fatalf("serve %d ended with %d before listening:\n%s", i, code, w.String())
		}
	}
	cancel()
	wg.Wait()
	res := make([]string, n)
	for i, w := range outs {
		if code := <-done[i]; code != 0 {
			t.Fatalf("serve %d exit %d:\n%s", i, code, w.String())
		}
		res[i] = w.String()
	}
	return res
}

// Two processes started at the same moment on an empty database: one prints the link, and it
// works; the other prints none and says in its log how to get a fresh one. So does a restart.
func TestServeTogetherPrintsOneWorkingSetupLink(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		dbURL := testenv.DatabaseURL(t, dialect)
		outs := serveTogether(t, dbURL, 2)
		var links []string
		told := 0
		for _, out := range outs {
			l := setupLinks(t, out)
			links = append(links, l...)
			if len(l) == 0 && strings.Contains(out, "elevate setup-link") {
				told++
			}
		}
		if len(links) != 1 || told != 1 {
			t.Fatalf("%d links printed and %d processes pointed to setup-link, want 1 and 1:\n%s", len(links), told, strings.Join(outs, "\n---\n"))
		}
		if !strings.HasPrefix(links[0], "https://elevate.example.com/setup?token=") {
			t.Fatalf("link %q", links[0])
		}
		svc, _ := setupService(t, dbURL)
		if !linkWorks(t, svc, links[0]) {
			t.Fatalf("the printed link does not work: %s", links[0])
		}

		// A restart prints no link either, and the one printed earlier still works.
		out := serveTogether(t, dbURL, 1)[0]
		if l := setupLinks(t, out); len(l) != 0 || !strings.Contains(out, "elevate setup-link") {
			t.Fatalf("restart: links %v\n%s", l, out)
		}
		if !linkWorks(t, svc, links[0]) {
			t.Fatal("a restart ended the printed link")
		}
	})
}

func TestSetupLinkCommand(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		dbURL := testenv.DatabaseURL(t, dialect)
		env := map[string]string{"ELEVATE_DATABASE_URL": dbURL, "ELEVATE_BASE_URL": "https://elevate.example.com/"}
		if code, _, stderr := runCmd(t, env, "", "setup-link", "extra"); code != 2 || !strings.Contains(stderr, "no arguments") {
			t.Fatalf("setup-link extra: %d %s", code, stderr)
		}

		// On an empty database (migrated by the command itself) it prints a working link.
		code, stdout, stderr := runCmd(t, env, "", "setup-link")
		links := setupLinks(t, stderr)
		if code != 0 || len(links) != 1 || stdout != "" {
			t.Fatalf("setup-link: %d %q %s", code, stdout, stderr)
		}
		first := links[0]
		if !strings.HasPrefix(first, "https://elevate.example.com/setup?token=") {
			t.Fatalf("link %q", first)
		}
		svc, db := setupService(t, dbURL)
		if !linkWorks(t, svc, first) {
			t.Fatal("the printed link does not work")
		}

		// Again: a fresh link, and the earlier one stops working.
		code, _, stderr = runCmd(t, env, "", "setup-link")
		links = setupLinks(t, stderr)
		if code != 0 || len(links) != 1 || links[0] == first {
			t.Fatalf("second setup-link: %d %s", code, stderr)
		}
		fresh := links[0]
		if linkWorks(t, svc, first) || !linkWorks(t, svc, fresh) {
			t.Fatal("the earlier link still works, or the fresh one does not")
		}
		evs, err := db.AuditEvents(ctx, store.AuditFilter{Action: "setup.link_issued", Limit: 10})
		if err != nil || len(evs) != 2 {
			t.Fatalf("setup.link_issued events: %d %v", len(evs), err)
		}
		for _, ev := range evs {
			if ev.ActorType != audit.ActorSystem || ev.ActorName != "cli" ||
				strings.Contains(ev.Details, tokenOf(t, first)) || strings.Contains(ev.Details, tokenOf(t, fresh)) {
				t.Fatalf("event %+v", ev)
			}
		}
		if !strings.Contains(evs[0].Details, `"replaced_earlier_link":true`) || !strings.Contains(evs[1].Details, `"replaced_earlier_link":false`) {
			t.Fatalf("details: %s, %s", evs[0].Details, evs[1].Details)
		}

		// The fresh link creates the first admin; from then on the command refuses and changes nothing.
		if _, err := svc.Setup(ctx, auth.SetupInput{Token: tokenOf(t, fresh), Email: "ada@example.com", Name: "Ada",
			Password: "a long enough password", PasswordConfirm: "a long enough password"}, audit.Actor{}); err != nil {
			t.Fatalf("setup with the fresh link: %v", err)
		}
		head, err := db.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		code, _, stderr = runCmd(t, env, "", "setup-link")
		if code != 1 || !strings.Contains(stderr, "already set up") || len(setupLinks(t, stderr)) != 0 {
			t.Fatalf("setup-link after setup: %d %s", code, stderr)
		}
		if v, _ := db.Value(ctx, "setup_token_sha256"); v != "" {
			t.Fatal("a refused setup-link stored a token")
		}
		if h, _ := db.AuditHead(ctx); h != head {
			t.Fatalf("a refused setup-link wrote to the audit trail: head %v, was %v", h, head)
		}
		if code, out, stderr := runCmd(t, env, "", "audit", "verify"); code != 0 {
			t.Fatalf("audit verify: %d %s %s", code, out, stderr)
		}
	})
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// A command run from a shell that sets no ELEVATE_BASE_URL links where the server answers: the
// server records its base URL when it starts, and the command takes it, so the setup link it
// prints (and the mail and webhook payloads other commands queue) do not point at this shell's
// loopback default. A base URL set in the shell itself still wins.
func TestShellCommandsLinkToTheServersAddress(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		dbURL := testenv.DatabaseURL(t, dialect)
		shell := map[string]string{"ELEVATE_DATABASE_URL": dbURL}
		link := func(env map[string]string) string {
			t.Helper()
			code, _, stderr := runCmd(t, env, "", "setup-link")
			links := setupLinks(t, stderr)
			if code != 0 || len(links) != 1 {
				t.Fatalf("setup-link: %d %s", code, stderr)
			}
			return links[0]
		}
		if l := link(shell); !strings.HasPrefix(l, "http://127.0.0.1:8080/setup?token=") {
			t.Fatalf("before any server started, link %q, want the default address", l)
		}
		serveTogether(t, dbURL, 1) // started with ELEVATE_BASE_URL=https://elevate.example.com
		if l := link(shell); !strings.HasPrefix(l, "https://elevate.example.com/setup?token=") {
			t.Fatalf("after the server started, link %q, want the server's address", l)
		}
		own := map[string]string{"ELEVATE_DATABASE_URL": dbURL, "ELEVATE_BASE_URL": "https://other.example.org"}
		if l := link(own); !strings.HasPrefix(l, "https://other.example.org/setup?token=") {
			t.Fatalf("with the shell's own base URL, link %q", l)
		}
		// A server started without a base URL of its own (here on port 0) leaves none behind.
		if out := serveBare(t, dbURL); !strings.Contains(out, "elevate listening") {
			t.Fatalf("serve without a base URL:\n%s", out)
		}
		if l := link(shell); !strings.HasPrefix(l, "http://127.0.0.1:8080/setup?token=") {
			t.Fatalf("after a server without a base URL, link %q, want the default address", l)
		}
	})
}
