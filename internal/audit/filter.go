package audit

import (
	"fmt"
	"strings"
	"time"
)

// Filter selects events. Empty fields match everything; every field is backed by an index.
// Action matches every name ExpandAction gives for it: an action's old names too.
// Since and Until bound the time (Since inclusive, Until exclusive); because event times never
// decrease along the chain, a time range is a sequence range.
type Filter struct {
	ActorID    string
	ActorName  string
	Action     string
	TargetType string
	TargetID   string
	RequestID  string
	Outcome    string
	Since      time.Time
	Until      time.Time
	// Before and After are keyset cursors: only events with Seq < Before, or Seq > After.
	Before int64
	After  int64
	Limit  int
}

// Page is one keyset page of events, newest first, and whether more lie on either side.
type Page struct {
	Events   []Event
	HasNewer bool
	HasOlder bool
}

// timeLayouts are the forms a person may type a time in, most precise first.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// ParseTime reads a time as RFC 3339 (with its own offset) or as a local date or date and
// time ("2006-01-02", "2006-01-02T15:04") in loc. Empty input gives the zero time.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time; use 2026-03-02, 2026-03-02T15:04 or RFC 3339", s)
}
