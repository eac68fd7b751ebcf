package testkit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestModuleRootHoldsGoMod(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "main.go")); err != nil {
		t.Fatalf("module root %s has no main.go: %v", root, err)
	}
}

func TestSetupLinkIsFoundOnItsLineOnly(t *testing.T) {
	for line, want := range map[string]string{
		"First run: open this link once to create the first administrator: http://127.0.0.1:8080/setup?token=abc-123": "http://127.0.0.1:8080/setup?token=abc-123",
		`{"level":"WARN","msg":"first run: no administrator yet"}`:                                                    "",
		`{"level":"INFO","msg":"listening","addr":"http://127.0.0.1:8080"}`:                                           "",
	} {
		if got := setupLink.FindString(line); got != want {
			t.Errorf("%q: found %q, want %q", line, got, want)
		}
	}
}

func TestDemoPasswordIsFoundOnTheSignInLineOnly(t *testing.T) {
	for line, want := range map[string]string{
		"Demo organisation loaded. Sign in at http://127.0.0.1:8080/login with any of these (password demo-ab_c-12):": "demo-ab_c-12",
		`{"level":"INFO","msg":"Demo organisation loaded. (password demo-x):"}`:                                       "",
		"  rhea@demo.example      Rhea Requester   requester (helpdesk)":                                              "",
	} {
		got := ""
		if m := demoSignIns.FindStringSubmatch(line); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%q: found %q, want %q", line, got, want)
		}
	}
}

// One session's pages may load at once (the benchmark's closed loops share one); run with -race,
// this fails if a call writes the session's state unguarded.
func TestSessionCallsMayRunAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.Path)
		fmt.Fprintf(w, `<input name="_csrf" value="token-%s">`, r.URL.Path)
	}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	s := &Session{Base: srv.URL, http: &http.Client{Jar: jar}}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if st, _, err := s.Get(context.Background(), fmt.Sprintf("/p%d", i)); err != nil || st != http.StatusOK {
					t.Errorf("get: %d %v", st, err)
				}
			}
		}()
	}
	wg.Wait()
	if s.Location == "" || s.csrf != "token-"+s.Location {
		t.Errorf("after the calls: location %q, token %q", s.Location, s.csrf)
	}
}
