package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Export formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// TimeLayout is how event times are written in exports and in the hashed encoding.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// ExportColumns are the fields of an exported event, in order: enough to recompute every hash.
var ExportColumns = []string{"seq", "time", "actor_type", "actor_id", "actor_name", "action", "target_type",
	"target_id", "request_id", "outcome", "details", "ip", "user_agent", "prev_hash", "hash"}

// Exporter writes events one at a time, so an export of any size runs in constant memory.
type Exporter interface {
	// Write adds one event.
	Write(Event) error
	// Close flushes what is buffered; it does not close the underlying writer.
	Close() error
}

// ContentType returns the media type of an export format.
func ContentType(format string) string {
	if format == FormatCSV {
		return "text/csv; charset=utf-8"
	}
	return "application/x-ndjson"
}

// NewExporter returns a writer of the format (FormatCSV or FormatJSONL) onto w.
func NewExporter(w io.Writer, format string) (Exporter, error) {
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(ExportColumns); err != nil {
			return nil, err
		}
		return &csvExporter{w: cw}, nil
	case FormatJSONL:
		return &jsonlExporter{w: bufio.NewWriterSize(w, 32<<10)}, nil
	}
	return nil, fmt.Errorf("unknown export format %q: use csv or jsonl", format)
}

func (e Event) fields() []string {
	return []string{strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(TimeLayout), e.ActorType, e.ActorID,
		e.ActorName, e.Action, e.TargetType, e.TargetID, e.RequestID, e.Outcome, e.Details, e.IP,
		e.UserAgent, e.PrevHash, e.Hash}
}

type csvExporter struct{ w *csv.Writer }

func (x *csvExporter) Write(e Event) error {
	f := e.fields()
	for i := range f {
		f[i] = InertCell(f[i])
	}
	return x.w.Write(f)
}

func (x *csvExporter) Close() error {
	x.w.Flush()
	return x.w.Error()
}

// InertCell keeps a spreadsheet from reading a CSV cell as a formula: a cell that begins with
// '=', '+', '-', '@', a tab or a carriage return gets a leading apostrophe, which spreadsheets
// show as text. Such a cell is therefore one character longer than the stored value; a reader
// recomputing hashes from a CSV export drops that apostrophe (JSON Lines exports are verbatim).
func InertCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

type jsonlExporter struct{ w *bufio.Writer }

// jsonlEvent names the exported fields; details stay the exact JSON text that was hashed.
type jsonlEvent struct {
	Seq        int64  `json:"seq"`
	Time       string `json:"time"`
	ActorType  string `json:"actor_type"`
	ActorID    string `json:"actor_id"`
	ActorName  string `json:"actor_name"`
	Action     string `json:"action"`
	TargetType string `json:"target_type"`
	TargetID   string `json:"target_id"`
	RequestID  string `json:"request_id"`
	Outcome    string `json:"outcome"`
	Details    string `json:"details"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
	PrevHash   string `json:"prev_hash"`
	Hash       string `json:"hash"`
}

func (x *jsonlExporter) Write(e Event) error {
	b, err := json.Marshal(jsonlEvent{e.Seq, e.At.UTC().Format(TimeLayout), e.ActorType, e.ActorID, e.ActorName,
		e.Action, e.TargetType, e.TargetID, e.RequestID, e.Outcome, e.Details, e.IP, e.UserAgent, e.PrevHash, e.Hash})
	if err != nil {
		return err
	}
	if _, err := x.w.Write(b); err != nil {
		return err
	}
	return x.w.WriteByte('\n')
}

func (x *jsonlExporter) Close() error { return x.w.Flush() }
