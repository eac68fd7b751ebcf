package pam

import (
	"strings"
	"time"
)

// Cursor is a keyset position in a list ordered by time, then id: the last item a page showed.
// Its text form, "RFC3339Nano|id", is what list pages and the API hand out as "after".
type Cursor struct {
	At time.Time
	ID string
}

// CursorAt is the cursor just past an item with this time and id.
func CursorAt(at time.Time, id string) *Cursor { return &Cursor{At: at.UTC(), ID: id} }

// String is the cursor's text form, the one ParseCursor reads.
func (c Cursor) String() string { return c.At.UTC().Format(time.RFC3339Nano) + "|" + c.ID }

// ErrBadCursor is the one answer to a cursor no list gave out: EINVALID on the "after" field.
var ErrBadCursor = &Error{Code: EINVALID, Field: "after", Message: "That page link is out of date or was changed; start again from the first page."}

// maxCursorID bounds the id part; every id Elevate hands out is a UUID.
const maxCursorID = 64

// ParseCursor reads a cursor's text form. An empty string is no cursor (nil, nil); anything
// else that is not a cursor is ErrBadCursor.
func ParseCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	at, id, ok := strings.Cut(s, "|")
	if !ok || id == "" || len(id) > maxCursorID {
		return nil, ErrBadCursor
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil, ErrBadCursor
	}
	return &Cursor{At: t.UTC(), ID: id}, nil
}

// Page bounds a list keyed by a name (tasks, roles, groups, users): After is the sort key of the
// last item already shown, Query an optional case-insensitive search.
type Page struct {
	After string
	Limit int
	Query string
}

// RequestFilter selects requests for a newest-first list.
type RequestFilter struct {
	RequesterID UserID
	Status      Status
	// Before is the last request already shown: the list continues with older ones.
	Before *Cursor
	Limit  int
}

// MailFilter selects outbox messages for a newest-first list.
type MailFilter struct {
	State     string
	RequestID string
	// Before is the last message already shown: the list continues with older ones.
	Before *Cursor
	Limit  int
}

// InboxSort orders an approver's inbox.
type InboxSort string

// The inbox's orders: oldest request first (the default), or the one that times out first.
const (
	InboxByAge      InboxSort = "age"
	InboxByTimeLeft InboxSort = "left"
)

// ParseInboxSort reads an inbox order; "" is InboxByAge.
func ParseInboxSort(s string) (InboxSort, error) {
	switch InboxSort(s) {
	case "", InboxByAge:
		return InboxByAge, nil
	case InboxByTimeLeft:
		return InboxByTimeLeft, nil
	}
	return "", FieldError("sort", "Sort by age or by time left.")
}

// InboxFilter selects and orders the requests waiting for one approver. Zero fields select
// everything; After is the last request already shown, keyed by the order's time (created_at
// by age, pending_until by time left).
type InboxFilter struct {
	RequesterID UserID
	PolicyID    string
	ScopeType   ScopeType
	ScopeID     string
	// TimesOutBy keeps the requests that time out at or before it (zero: no bound).
	TimesOutBy time.Time
	Sort       InboxSort
	After      *Cursor
	Limit      int
	// Decided and Emergencies ask the same read for up to that many of the viewer's most
	// recent reviews and of the emergency requests waiting for their after-the-fact review.
	Decided, Emergencies int
	// NoDelegations tells the read that the viewer decides for nobody by delegation (read with
	// their session), so it leaves the reads of delegated requests out.
	NoDelegations bool
}

// Narrowed reports whether the filter leaves out some waiting requests.
func (f InboxFilter) Narrowed() bool {
	return f.RequesterID != "" || f.PolicyID != "" || f.ScopeID != "" || !f.TimesOutBy.IsZero()
}
