package audit_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
)

func fuzzEvent(actorName, action, details, ua string, nanos int64) *audit.Event {
	ev := audit.Actor{Type: audit.ActorUser, ID: "u-1", Name: actorName, IP: "192.0.2.1"}.Event(audit.RequestApproved, "request", "r-1", nil)
	ev.Action, ev.Details, ev.UserAgent = action, details, ua
	ev.At = time.Unix(0, nanos).UTC()
	ev.Normalize()
	return ev
}

// FuzzCanonical: the hashed encoding holds every field exactly (it decodes back to the
// event's values, so two events that differ in any field hash differently), what a chain
// was built from verifies, and any one changed field is caught.
func FuzzCanonical(f *testing.F) {
	f.Add("ada@example.com", "request.approved", `{"a":1}`, "Mozilla/5.0", int64(1767225600000000000))
	f.Add("", "", "", "", int64(0))
	f.Add("=cmd|' /C calc'!A0", "a\"b", "{}", "\xff\xfe", int64(-1))
	f.Add("\u2028", "x\r\ny", `"not an object"`, "\x00", int64(1<<62))
	f.Fuzz(func(t *testing.T, actorName, action, details, ua string, nanos int64) {
		ev := fuzzEvent(actorName, action, details, ua, nanos)
		ev.Chain(41, strings.Repeat("a", 64))
		var got []any
		if err := json.Unmarshal(ev.Canonical(), &got); err != nil {
			t.Fatalf("canonical encoding is not JSON: %v", err)
		}
		want := []any{float64(ev.Seq), ev.At.Format(audit.TimeLayout), ev.ActorType, ev.ActorID, ev.ActorName, ev.Action,
			ev.TargetType, ev.TargetID, ev.RequestID, ev.Outcome, ev.Details, ev.IP, ev.UserAgent, ev.PrevHash}
		if len(got) != len(want) {
			t.Fatalf("canonical encoding has %d fields", len(got))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("field %d: encoded %q, event holds %q", i, got[i], want[i])
			}
		}
		v := audit.Verifier{}
		first := fuzzEvent("x", "y", "{}", "", 0)
		first.Chain(0, "")
		if err := v.Next(*first); err != nil {
			t.Fatal(err)
		}
		ev.Chain(first.Seq, first.Hash)
		edited := *ev
		edited.ActorName += "!"
		if edited.ComputeHash() == ev.Hash {
			t.Fatal("an edited actor keeps the hash")
		}
		if err := (&audit.Verifier{}).Next(edited); err == nil {
			t.Fatal("an edited event verifies")
		}
		if err := v.Next(*ev); err != nil {
			t.Fatalf("a freshly chained event fails to verify: %v", err)
		}
	})
}

// FuzzCSVExport: a CSV export reads back as one header and one row per event, each cell the
// stored value, with a leading apostrophe exactly where a spreadsheet would otherwise see a
// formula. (Go's CSV reader turns \r\n inside a quoted cell into \n; other readers keep it.)
func FuzzCSVExport(f *testing.F) {
	f.Add("ada@example.com", "request.approved", `{"a":1}`, "Mozilla/5.0", int64(1767225600000000000))
	f.Add("=1+2", "+x", "-1", "@SUM(A1)", int64(0))
	f.Add("\tx", "\rx", "a,b\"c", "line\nbreak", int64(-1))
	f.Add("", "", "", "\xff", int64(99))
	f.Fuzz(func(t *testing.T, actorName, action, details, ua string, nanos int64) {
		evs := []*audit.Event{fuzzEvent(actorName, action, details, ua, nanos), fuzzEvent(ua, details, action, actorName, nanos+1)}
		var buf bytes.Buffer
		x, err := audit.NewExporter(&buf, audit.FormatCSV)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			ev.Chain(0, "")
			if err := x.Write(*ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := x.Close(); err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(&buf)
		r.FieldsPerRecord = len(audit.ExportColumns)
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("export does not read back: %v\n%q", err, buf.String())
		}
		if len(recs) != 1+len(evs) || strings.Join(recs[0], ",") != strings.Join(audit.ExportColumns, ",") {
			t.Fatalf("%d records, header %v", len(recs), recs[0])
		}
		for i, ev := range evs {
			stored := []string{ev.ActorName, ev.Action, ev.Details, ev.UserAgent}
			cells := []string{recs[i+1][4], recs[i+1][5], recs[i+1][10], recs[i+1][12]}
			for j, s := range stored {
				cell := cells[j]
				if audit.InertCell(s) != s {
					if !strings.HasPrefix(cell, "'") {
						t.Fatalf("cell %q could run as a formula", cell)
					}
					cell = cell[1:]
				}
				if cell != strings.ReplaceAll(s, "\r\n", "\n") {
					t.Fatalf("cell %q, stored %q", cell, s)
				}
			}
		}
	})
}
