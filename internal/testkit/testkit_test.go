package testkit

import (
	"os"
	"path/filepath"
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
