package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
		changed  bool
	}{
		{"clean", "exchange/New-JournalRule", 64, "exchange/New-JournalRule", false},
		{"nul", "a\x00b", 64, "a\uFFFDb", true},
		{"control", "a\tb\nc\x7f", 64, "a\uFFFDb\uFFFDc\uFFFD", true},
		{"invalid utf-8", "a\xffb", 64, "a\uFFFDb", true},
		{"exactly max", strings.Repeat("x", 10), 10, strings.Repeat("x", 10), false},
		{"long", strings.Repeat("x", 11), 10, "xxxxxxx…", true},
		{"long multibyte cut at a boundary", strings.Repeat("é", 10), 10, "ééé…", true},
		{"a real U+FFFD is text", "caf\uFFFD", 64, "caf\uFFFD", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := Fit(tc.in, tc.max)
			if got != tc.want || changed != tc.changed {
				t.Fatalf("Fit(%q, %d) = %q, %v; want %q, %v", tc.in, tc.max, got, changed, tc.want, tc.changed)
			}
			if again, changed := Fit(got, tc.max); again != got || changed {
				t.Fatalf("Fit is not idempotent: %q → %q", got, again)
			}
			if len(got) > tc.max || !utf8.ValidString(got) {
				t.Fatalf("Fit(%q) = %q: %d bytes (max %d), valid UTF-8 %v", tc.in, got, len(got), tc.max, utf8.ValidString(got))
			}
		})
	}
}

// An event carrying hostile values is stored fitted, hashes what is stored, and says in its
// details how long each original was and what its SHA-256 was.
func TestNormalizeFitsAndRecordsOriginals(t *testing.T) {
	long := strings.Repeat("a", 10_000)
	ev := Actor{Type: ActorToken, ID: "t1", Name: "ci", IP: "127.0.0.1", UserAgent: long}.
		Event(AccessChecked, "task", "bad\x00task", map[string]any{"user": "x\x00y", "n": 12345678901234567})
	ev.Normalize()
	if ev.TargetID != "bad\uFFFDtask" || len(ev.UserAgent) > MaxUserAgent || !strings.HasSuffix(ev.UserAgent, "…") {
		t.Fatalf("not fitted: target %q, user agent %d bytes", ev.TargetID, len(ev.UserAgent))
	}
	var d struct {
		User   string                    `json:"user"`
		N      json.Number               `json:"n"`
		Fitted map[string]map[string]any `json:"fitted"`
	}
	dec := json.NewDecoder(strings.NewReader(ev.Details))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("details %s: %v", ev.Details, err)
	}
	if d.N.String() != "12345678901234567" || d.User != "x\x00y" {
		t.Fatalf("other details changed: %s", ev.Details)
	}
	if d.Fitted["user_agent"]["length"] != json.Number("10000") || d.Fitted["target_id"]["sha256"] == nil || len(d.Fitted) != 2 {
		t.Fatalf("fitted = %v", d.Fitted)
	}
	before := ev.Details
	ev.Normalize() // a retried batch normalises again: nothing may change
	if ev.Details != before {
		t.Fatalf("normalising twice changed the details:\n%s\n%s", before, ev.Details)
	}
	ev.Chain(0, Genesis)
	if ev.ComputeHash() != ev.Hash {
		t.Fatal("hash does not cover the stored values")
	}
}
