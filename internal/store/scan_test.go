package store_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// gormScan is a gorm chain ending in Scan (database/sql's rows.Scan and row.Scan are fine).
var gormScan = regexp.MustCompile(`\)\s*\.Scan\(&|\bq\.Scan\(&`)

// TestNoGormScan keeps gorm's Scan out of the store: it records and renders every statement
// with its arguments, whatever the log level (see Store.conn). Migrations run once and may use
// it.
func TestNoGormScan(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "migrations") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if gormScan.MatchString(line) {
				t.Errorf("%s:%d ends a gorm chain in Scan; use Find: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
