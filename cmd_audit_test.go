package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

var headLine = regexp.MustCompile(`audit chain ok: (\d+) events, head (\d+) ([0-9a-f]{64})`)

func TestAuditVerifyAndCheckpointCommands(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		url := testenv.DatabaseURL(t, dialect)
		env := map[string]string{"ELEVATE_DATABASE_URL": url}
		// Each walk is recorded in the trail (audit.verified), so the next walk counts it.
		if code, out, stderr := runCmd(t, env, "", "audit", "verify"); code != 0 || !strings.Contains(out, "0 events") {
			t.Fatalf("empty chain: %d %s %s", code, out, stderr)
		}
		for i := range 4 {
			if code, _, stderr := runCmd(t, env, "a long enough password\n", "user", "create", "--email", fmt.Sprintf("u%d@example.com", i), "--name", "U"); code != 0 {
				t.Fatal(stderr)
			}
		}
		code, out, stderr := runCmd(t, env, "", "audit", "verify")
		m := headLine.FindStringSubmatch(out)
		if code != 0 || m == nil || m[1] != "5" || m[2] != "5" {
			t.Fatalf("verify: %d %q %s", code, out, stderr)
		}
		checkpoint := m[2] + ":" + m[3]
		if !strings.Contains(out, "checkpoint for a later verify: "+checkpoint) {
			t.Fatalf("no checkpoint line: %q", out)
		}
		runCmd(t, env, "a long enough password\n", "user", "create", "--email", "later@example.com", "--name", "L")
		if code, out, stderr := runCmd(t, env, "", "audit", "verify", "--checkpoint", checkpoint); code != 0 || !strings.Contains(out, "7 events") || !strings.Contains(out, "checkpoint 5 found") {
			t.Fatalf("verify with checkpoint: %d %s %s", code, out, stderr)
		}
		wrong := "5:" + strings.Repeat("0", 64)
		if code, _, stderr := runCmd(t, env, "", "audit", "verify", "--checkpoint", wrong); code != 1 || !strings.Contains(stderr, "checkpoint 5 not in this chain: event 5") {
			t.Fatalf("wrong checkpoint: %d %s", code, stderr)
		}
		if code, _, stderr := runCmd(t, env, "", "audit", "verify", "--checkpoint", "99:"+m[3]); code != 1 || !strings.Contains(stderr, "event 10") {
			t.Fatalf("checkpoint beyond the chain: %d %s", code, stderr)
		}
		for _, bad := range [][]string{{"verify", "--checkpoint", "nonsense"}, {"verify", "extra"}, {"frobnicate"}, {}} {
			if code, _, _ := runCmd(t, env, "", append([]string{"audit"}, bad...)...); code != 2 {
				t.Fatalf("audit %v: exit %d, want 2", bad, code)
			}
		}

		// Edit event 2 behind the database's back.
		db, err := store.Open(url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		testenv.Tamper(t, db, dialect, "UPDATE audit_events SET actor_name = 'root' WHERE seq = 2")
		code, out, stderr = runCmd(t, env, "", "audit", "verify")
		if code != 1 || !strings.Contains(stderr, "broken at event 2") || strings.Contains(out, "ok") {
			t.Fatalf("verify after an edit: %d %q %q", code, out, stderr)
		}
		// Every walk is in the trail, by the command line: a wrong checkpoint leaves the chain
		// recorded as holding (it held without it), a broken chain as a failure naming its first
		// bad event.
		var walks []string
		for ev, err := range db.AllAuditEvents(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Action == audit.ChainVerified.String() {
				if ev.ActorName != "cli" {
					t.Errorf("walk %d by %q", ev.Seq, ev.ActorName)
				}
				walks = append(walks, ev.Outcome+":"+ev.TargetID)
			}
		}
		if want := []string{"success:0", "success:5", "success:7", "success:8", "success:9", "failure:2"}; !slices.Equal(walks, want) {
			t.Fatalf("recorded walks %v, want %v", walks, want)
		}
	})
}

func TestAuditExportCommand(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		url := testenv.DatabaseURL(t, dialect)
		env := map[string]string{"ELEVATE_DATABASE_URL": url}
		if code, _, stderr := runCmd(t, env, "", "migrate"); code != 0 {
			t.Fatal(stderr)
		}
		db, err := store.Open(url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetSealWait(10 * time.Second) // the export below reads right after the appends
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		tricky := "line one\n{\"outcome\":\"failure\"}\t=cmd|' /C calc'!A0"
		for i := range 5 {
			ev := audit.Actor{Type: audit.ActorUser, ID: "u1", Name: "-ana@example.com"}.
				Event(audit.RequestCreated, "request", fmt.Sprint(i), map[string]any{"justification": tricky})
			ev.At = t0.Add(time.Duration(i) * time.Hour)
			if err := db.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}

		code, out, stderr := runCmd(t, env, "", "audit", "export", "--format", "jsonl", "--since", "2026-03-02T10:00:00Z", "--until", "2026-03-02T13:00")
		if code != 0 {
			t.Fatalf("export: %d %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("want events 2..4, got %d lines:\n%s", len(lines), out)
		}
		for i, l := range lines {
			var rec struct {
				Seq     int64  `json:"seq"`
				Details string `json:"details"`
				Hash    string `json:"hash"`
			}
			if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Seq != int64(i+2) {
				t.Fatalf("line %d: %q %v", i, l, err)
			}
			var d map[string]string
			if err := json.Unmarshal([]byte(rec.Details), &d); err != nil || d["justification"] != tricky {
				t.Fatalf("details not literal: %q", rec.Details)
			}
		}

		code, out, stderr = runCmd(t, env, "", "audit", "export", "--format", "csv")
		if code != 0 {
			t.Fatalf("csv export: %d %s", code, stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(rows) != 6 || rows[0][0] != "seq" {
			t.Fatalf("csv: %v %v", rows, err)
		}
		if rows[1][4] != "'-ana@example.com" {
			t.Fatalf("a cell starting with '-' was not made inert: %q", rows[1][4])
		}
		for _, bad := range [][]string{{"export"}, {"export", "--format", "xml"}, {"export", "--format", "csv", "--since", "soon"}} {
			if code, _, _ := runCmd(t, env, "", append([]string{"audit"}, bad...)...); code != 2 {
				t.Fatalf("audit %v: exit %d, want 2", bad, code)
			}
		}
	})
}

func TestAuditorFlagFromTheShell(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := map[string]string{"ELEVATE_DATABASE_URL": testenv.DatabaseURL(t, dialect)}
		code, out, stderr := runCmd(t, env, "a long enough password\n", "user", "create", "--email", "otto@example.com", "--name", "Otto", "--auditor")
		if code != 0 || !strings.Contains(out, "otto@example.com is an auditor") {
			t.Fatalf("create auditor: %d %s %s", code, out, stderr)
		}
		if _, out, _ := runCmd(t, env, "", "user", "list"); !strings.Contains(out, "auditor") {
			t.Fatalf("list: %s", out)
		}
		if code, _, stderr := runCmd(t, env, "", "user", "auditor", "--email", "otto@example.com"); code != 1 || !strings.Contains(stderr, "already an auditor") {
			t.Fatalf("grant twice: %d %s", code, stderr)
		}
		if code, out, _ := runCmd(t, env, "", "user", "auditor", "--email", "OTTO@example.com", "--off"); code != 0 || !strings.Contains(out, "no longer") {
			t.Fatalf("revoke: %d %s", code, out)
		}
		if _, out, _ := runCmd(t, env, "", "user", "list"); strings.Contains(out, "auditor") {
			t.Fatalf("list after revoke: %s", out)
		}
		if code, _, stderr := runCmd(t, env, "", "user", "auditor", "--email", "nobody@example.com"); code != 1 || !strings.Contains(stderr, "not found") {
			t.Fatalf("unknown user: %d %s", code, stderr)
		}
		if code, _, _ := runCmd(t, env, "", "user", "auditor"); code != 2 {
			t.Fatalf("missing --email: %d", code)
		}
		// Each change is on the trail: created, granted, revoked.
		code, out, _ = runCmd(t, env, "", "audit", "export", "--format", "jsonl")
		if code != 0 || !strings.Contains(out, `"action":"user.auditor_granted"`) || !strings.Contains(out, `"action":"user.auditor_revoked"`) {
			t.Fatalf("events: %s", out)
		}
		if code, out, _ := runCmd(t, env, "", "audit", "verify"); code != 0 || !strings.Contains(out, "3 events") {
			t.Fatalf("verify: %s", out)
		}
	})
}

// audit verify checks every sealed event and says how many stored events still wait for their
// seal (a server sweeps them within a second; none runs here).
func TestAuditVerifyCountsEventsWaitingToBeSealed(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		url := testenv.DatabaseURL(t, dialect)
		env := map[string]string{"ELEVATE_DATABASE_URL": url}
		if code, _, stderr := runCmd(t, env, "a long enough password\n", "user", "create", "--email", "a@example.com", "--name", "A"); code != 0 {
			t.Fatal(stderr)
		}
		db, err := store.Open(url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// Stored as a change stores it, with no sealer running to seal it.
		if err := db.ExecRaw(context.Background(), `INSERT INTO audit_events (at, actor_type, action, outcome, details)
			VALUES (?, 'system', 'settings.updated', 'success', '{}')`, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runCmd(t, env, "", "audit", "verify")
		if code != 0 || !strings.Contains(out, "audit chain ok: 1 events") || !strings.Contains(out, "1 stored events wait to be sealed") {
			t.Fatalf("verify: %d %q %s", code, out, stderr)
		}
	})
}
