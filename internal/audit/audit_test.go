package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
)

// memChain is an in-memory Source: events as stored (in seq order) and the head row.
type memChain struct {
	events []audit.Event
	head   audit.Head
}

func newChain(n int) *memChain {
	c := &memChain{head: audit.Head{Hash: audit.Genesis}}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range n {
		ev := audit.System.Event(audit.SettingsUpdated, "thing", fmt.Sprint(i), map[string]any{"i": i})
		ev.At = t0.Add(time.Duration(i) * time.Second)
		ev.Normalize()
		ev.Chain(c.head.Seq, c.head.Hash)
		c.events = append(c.events, *ev)
		c.head = audit.Head{Seq: ev.Seq, Hash: ev.Hash}
	}
	return c
}

func (c *memChain) AuditHead(context.Context) (audit.Head, error) { return c.head, nil }

func (c *memChain) AuditChain(_ context.Context, after, upTo int64) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for _, e := range c.events {
			if e.Seq > after && e.Seq <= upTo && !yield(e, nil) {
				return
			}
		}
	}
}

func (c *memChain) FirstAuditSeqAfter(_ context.Context, seq int64) (int64, bool, error) {
	for _, e := range c.events {
		if e.Seq > seq {
			return e.Seq, true, nil
		}
	}
	return 0, false, nil
}

func badSeq(t *testing.T, err error) int64 {
	t.Helper()
	var ce *audit.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("want a chain error, got %v", err)
	}
	return ce.Seq
}

func TestVerifyDetectsEachKindOfTampering(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		tamper func(c *memChain)
		want   int64
	}{
		{"edit a field", func(c *memChain) { c.events[3].Action = "forged" }, 4},
		{"delete a row", func(c *memChain) { c.events = append(c.events[:5], c.events[6:]...) }, 6},
		{"swap two rows", func(c *memChain) {
			c.events[2], c.events[6] = c.events[6], c.events[2]
			c.events[2].Seq, c.events[6].Seq = 3, 7
		}, 3},
		{"insert a forged row at the end", func(c *memChain) {
			f := c.events[9]
			f.Action = "forged"
			f.Chain(10, c.events[9].Hash)
			c.events = append(c.events, f)
		}, 11},
		{"insert a forged row in place of one", func(c *memChain) {
			f := c.events[4]
			f.Details = `{"forged":true}`
			f.Hash = f.ComputeHash()
			c.events[4] = f
		}, 6},
		{"truncate the tail", func(c *memChain) { c.events = c.events[:7] }, 8},
		{"edit the head row", func(c *memChain) { c.head.Hash = c.events[0].Hash }, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newChain(10)
			if _, n, err := audit.Verify(ctx, c, nil); err != nil || n != 10 {
				t.Fatalf("untouched chain: %d %v", n, err)
			}
			tc.tamper(c)
			_, _, err := audit.Verify(ctx, c, nil)
			if got := badSeq(t, err); got != tc.want {
				t.Fatalf("first bad event %d, want %d (%v)", got, tc.want, err)
			}
		})
	}
}

// rewrite rebuilds the chain from its events so that every link and the head agree again.
func rewrite(c *memChain, edit func(*audit.Event)) {
	prev := audit.Head{Hash: audit.Genesis}
	for i := range c.events {
		edit(&c.events[i])
		c.events[i].Chain(prev.Seq, prev.Hash)
		prev = audit.Head{Seq: c.events[i].Seq, Hash: c.events[i].Hash}
	}
	c.head = prev
}

func TestCheckpointCatchesAConsistentRewrite(t *testing.T) {
	ctx := context.Background()
	c := newChain(10)
	cp, err := audit.ParseCheckpoint(audit.Head{Seq: c.events[5].Seq, Hash: c.events[5].Hash}.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.Verify(ctx, c, &cp); err != nil {
		t.Fatalf("untouched chain with its checkpoint: %v", err)
	}
	rewrite(c, func(e *audit.Event) {
		if e.Seq == 3 {
			e.ActorName = "someone else"
		}
	})
	if _, _, err := audit.Verify(ctx, c, nil); err != nil {
		t.Fatalf("a consistent rewrite should pass without a checkpoint: %v", err)
	}
	if _, _, err := audit.Verify(ctx, c, &cp); badSeq(t, err) != 6 {
		t.Fatalf("rewrite with checkpoint: %v", err)
	}
	// A chain cut (and re-headed) before the checkpoint fails too.
	short := newChain(10)
	short.events = short.events[:4]
	short.head = audit.Head{Seq: 4, Hash: short.events[3].Hash}
	if _, _, err := audit.Verify(ctx, short, &cp); badSeq(t, err) != 5 {
		t.Fatalf("cut chain with checkpoint: %v", err)
	}
	// A wrong hash at the checkpoint's sequence fails even on an untouched chain.
	wrong := cp
	wrong.Hash = strings.Repeat("ab", 32)
	if _, _, err := audit.Verify(ctx, newChain(10), &wrong); badSeq(t, err) != 6 {
		t.Fatalf("wrong checkpoint: %v", err)
	}
}

func TestEmptyChainVerifies(t *testing.T) {
	h, n, err := audit.Verify(context.Background(), newChain(0), nil)
	if err != nil || n != 0 || h.Seq != 0 {
		t.Fatalf("empty chain: %+v %d %v", h, n, err)
	}
}

func TestParseCheckpoint(t *testing.T) {
	hash := strings.Repeat("0a", 32)
	if h, err := audit.ParseCheckpoint(" 12:" + strings.ToUpper(hash)); err != nil || h.Seq != 12 || h.Hash != hash {
		t.Fatalf("good checkpoint: %+v %v", h, err)
	}
	for _, bad := range []string{"", "12", "12:abc", "x:" + hash, "0:" + hash, "-3:" + hash, "12:" + strings.Repeat("zz", 32)} {
		if _, err := audit.ParseCheckpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestInertCell(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx",
		"plain": "plain", "": "", "{\"a\":1}": "{\"a\":1}", "a=b": "a=b",
	} {
		if got := audit.InertCell(in); got != want {
			t.Errorf("InertCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExportKeepsValuesLiteral(t *testing.T) {
	tricky := "line one\nline two {\"outcome\":\"forged\"}, \"quoted\""
	ev := audit.System.Event(audit.RequestCreated, "request", "r1", map[string]any{"justification": tricky})
	ev.ActorName = "=HYPERLINK(\"http://evil.example\")"
	ev.At = time.Date(2026, 3, 2, 9, 0, 0, 123456000, time.UTC)
	ev.Normalize()
	ev.Chain(0, "")

	var jb bytes.Buffer
	x, _ := audit.NewExporter(&jb, audit.FormatJSONL)
	if err := x.Write(*ev); err != nil {
		t.Fatal(err)
	}
	x.Close()
	if strings.Count(jb.String(), "\n") != 1 {
		t.Fatalf("one event must be one line: %q", jb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(jb.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["details"] != ev.Details || got["outcome"] != "success" || got["actor_name"] != ev.ActorName || got["time"] != "2026-03-02T09:00:00.123456Z" {
		t.Fatalf("jsonl: %v", got)
	}
	var details map[string]string
	if err := json.Unmarshal([]byte(got["details"].(string)), &details); err != nil || details["justification"] != tricky {
		t.Fatalf("details do not round-trip: %v %v", details, err)
	}

	var cb bytes.Buffer
	x, _ = audit.NewExporter(&cb, audit.FormatCSV)
	_ = x.Write(*ev)
	x.Close()
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v %v", rows, err)
	}
	row := map[string]string{}
	for i, col := range rows[0] {
		row[col] = rows[1][i]
	}
	if row["details"] != ev.Details || row["actor_name"] != "'"+ev.ActorName || row["hash"] != ev.Hash {
		t.Fatalf("csv row: %v", row)
	}
	if _, err := audit.NewExporter(&cb, "xml"); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestParseTime(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	for in, want := range map[string]time.Time{
		"2026-03-02":                time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC),
		"2026-03-02T10:30":          time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
		"2026-03-02T10:30:00Z":      time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC),
		"2026-03-02T10:30:00+02:00": time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC),
		"":                          {},
	} {
		got, err := audit.ParseTime(in, paris)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := audit.ParseTime("yesterday", paris); err == nil {
		t.Error("nonsense accepted")
	}
}
