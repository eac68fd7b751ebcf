package pam

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseDuration: whatever a person types, ParseDuration either refuses it with a field
// error or returns a positive whole number of minutes of at most a year, which reads
// back the same when written into a form again.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90", "45m", "4h", "1h30m", "2d", "1d12h", " 2D ", "0", "-5", "1.5h", "30s", "365d",
		"365d8760h", "d", "1d-1h", "9223372036854775807", "1e3", "", "1h0m0s", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration("duration", s)
		if err != nil {
			if ErrorCode(err) != EINVALID || asField(err) != "duration" {
				t.Fatalf("%q: error %v is not a field error on duration", s, err)
			}
			return
		}
		if d <= 0 || d%time.Minute != 0 || d > 365*24*time.Hour {
			t.Fatalf("%q parsed to %v", s, d)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && d != time.Duration(n)*time.Minute {
			t.Fatalf("%q: a bare number is minutes, got %v", s, d)
		}
		again, err := ParseDuration("duration", InputDuration(d))
		if err != nil || again != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, InputDuration(d), again, err)
		}
	})
}

func asField(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Field
	}
	return ""
}

// FuzzParseScopeTypeAndTaskKey: only the three scope types are accepted, exactly as written;
// an accepted task key is trimmed, has one slash with a non-empty system and name, and no
// spaces; parsing is idempotent.
func FuzzParseScopeTypeAndTaskKey(f *testing.F) {
	for _, s := range []string{"task", "role", "role_group", "Role", " task", "exchange/New-JournalRule",
		"  exchange/Set-Mailbox ", "exchange/", "/x", "a/b/c", "a b/c", "sys/Op:Name", "", "ü/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if st, err := ParseScopeType(s); err == nil {
			if st != ScopeTask && st != ScopeRole && st != ScopeRoleGroup || string(st) != s {
				t.Fatalf("scope type %q accepted as %q", s, st)
			}
		} else if ErrorCode(err) != EINVALID {
			t.Fatalf("scope type %q: %v", s, err)
		}
		k, err := ParseTaskKey(s)
		if err != nil {
			if ErrorCode(err) != EINVALID || asField(err) != "key" {
				t.Fatalf("task key %q: %v", s, err)
			}
			return
		}
		system, name, ok := strings.Cut(k, "/")
		if k != strings.TrimSpace(s) || !ok || system == "" || name == "" || strings.Contains(name, "/") ||
			strings.ContainsAny(k, " \t\r\n") || len(k) > 190 {
			t.Fatalf("task key %q accepted as %q", s, k)
		}
		if again, err := ParseTaskKey(k); err != nil || again != k {
			t.Fatalf("task key %q does not parse again: %q %v", k, again, err)
		}
	})
}

func TestBadChar(t *testing.T) {
	for _, tc := range []struct {
		in        string
		multiline bool
		bad       bool
	}{
		{"plain text, ünïcode and emoji 🎉", false, false},
		{"two\nlines\twith a tab", true, false},
		{"two\nlines", false, true},
		{"nul\x00", true, true},
		{"escape \x1b[31m", true, true},
		{"del \x7f", true, true},
		{"c1 \u0085", true, true},
		{"invalid \xff", true, true},
		{"cut \xe2\x82", true, true},
	} {
		if _, bad := BadChar(tc.in, tc.multiline); bad != tc.bad {
			t.Errorf("BadChar(%q, %v) = %v", tc.in, tc.multiline, bad)
		}
	}
	if _, err := ValidateTitle("name", "Ops\x00"); ErrorCode(err) != EINVALID {
		t.Errorf("a NUL in a name: %v", err)
	}
	sub := Submission{Duration: MinDuration, Justification: "pasted \x1b[0m"}
	if err := sub.Validate(NewPolicy(ScopeTask, "t"), 24*time.Hour, time.Now()); ErrorCode(err) != EINVALID {
		t.Errorf("a control character in a justification: %v", err)
	}
}
