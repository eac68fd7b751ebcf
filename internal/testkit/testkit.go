// Package testkit is the one harness for tests and tools that drive the real binary: it finds
// the module, builds `elevate` as shipped, starts, stops and kills `elevate serve` processes,
// loads an organisation with API tokens, talks to the JSON API and the pages, checks that a
// request was changed all or nothing, runs a private PostgreSQL server, and drives headless
// Chromium. The browser tests (test/e2e), the multi-process tests (test/scale), the command
// tests and the benchmark (bench) use it. Nothing in the product imports it.
package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ModuleRoot returns the directory of the module's go.mod, found by walking up from the
// working directory (a test runs in its package's directory, a tool usually at the root).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

// Build compiles the elevate binary from the module at root into dir, as shipped (no cgo).
func Build(root, dir string) (string, error) {
	bin := filepath.Join(dir, "elevate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds the real binary from the module root once per test process and returns its
// path; a failed build fails every test that asks for it.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			binErr = err
			return
		}
		dir, err := os.MkdirTemp("", "elevate-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath, binErr = Build(root, dir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Run runs the binary once with args and only PATH and env in its environment, and returns
// its exit code, standard output and standard error. A binary that cannot be started fails
// the test.
func Run(t testing.TB, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}
