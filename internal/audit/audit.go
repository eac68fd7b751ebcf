// Package audit defines Elevate's append-only, hash-chained audit events: their canonical
// encoding, their hashes and the walk that verifies a chain. Storage lives in internal/store.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Actor types.
const (
	ActorUser      = "user"
	ActorToken     = "token"
	ActorSystem    = "system"
	ActorAnonymous = "anonymous"
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Genesis is the previous hash of the first event.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Event is one audit record. Seq, PrevHash and Hash are assigned when it is appended.
type Event struct {
	Seq        int64
	At         time.Time
	ActorType  string
	ActorID    string
	ActorName  string
	Action     string
	TargetType string
	TargetID   string
	RequestID  string
	Outcome    string
	Details    string // a JSON object, stored and hashed exactly as written
	IP         string
	UserAgent  string
	PrevHash   string
	Hash       string
}

// Normalize fills defaults and rounds the time to what every database stores (microseconds, UTC),
// so the hash computed before the insert matches the row read back later.
func (e *Event) Normalize() {
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if e.Details == "" {
		e.Details = "{}"
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeSuccess
	}
	if e.ActorType == "" {
		e.ActorType = ActorSystem
	}
}

// DetailsJSON encodes a details map; keys are sorted by encoding/json, so it is stable.
func DetailsJSON(m map[string]any) string {
	if len(m) == 0 {
		return "{}"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprintf(`{"encoding_error":%q}`, err.Error())
	}
	return string(b)
}

// Canonical is the byte string an event's hash covers: every field but Hash, in fixed order.
func (e Event) Canonical() []byte {
	b, _ := json.Marshal([]any{
		e.Seq,
		e.At.UTC().Format("2006-01-02T15:04:05.000000Z"),
		e.ActorType, e.ActorID, e.ActorName,
		e.Action, e.TargetType, e.TargetID, e.RequestID, e.Outcome,
		e.Details, e.IP, e.UserAgent,
		e.PrevHash,
	})
	return b
}

// ComputeHash returns the hex SHA-256 of the event's canonical encoding.
func (e Event) ComputeHash() string {
	sum := sha256.Sum256(e.Canonical())
	return hex.EncodeToString(sum[:])
}

// Chain sets Seq, PrevHash and Hash so that e follows the event (prevSeq, prevHash).
func (e *Event) Chain(prevSeq int64, prevHash string) {
	if prevHash == "" {
		prevHash = Genesis
	}
	e.Seq = prevSeq + 1
	e.PrevHash = prevHash
	e.Hash = e.ComputeHash()
}

// Head is the last event of a chain.
type Head struct {
	Seq  int64
	Hash string
}

// Verifier walks a chain in sequence order and reports the first event that breaks it.
type Verifier struct {
	prev  Head
	Count int64
}

// Next checks one event against the chain so far.
func (v *Verifier) Next(e Event) error {
	prevHash := v.prev.Hash
	if prevHash == "" {
		prevHash = Genesis
	}
	switch {
	case e.Seq != v.prev.Seq+1:
		return fmt.Errorf("event %d: expected sequence %d (an event is missing or out of order)", e.Seq, v.prev.Seq+1)
	case e.PrevHash != prevHash:
		return fmt.Errorf("event %d: does not link to event %d", e.Seq, v.prev.Seq)
	case e.ComputeHash() != e.Hash:
		return fmt.Errorf("event %d: content does not match its hash (edited)", e.Seq)
	}
	v.prev = Head{Seq: e.Seq, Hash: e.Hash}
	v.Count++
	return nil
}

// Head returns the last verified event.
func (v *Verifier) Head() Head { return v.prev }

// Actor is who causes an event and from where; handlers build it from the request.
type Actor struct {
	Type      string
	ID        string
	Name      string
	IP        string
	UserAgent string
}

// System is the actor for work Elevate does by itself (sweepers, auto-approval).
var System = Actor{Type: ActorSystem, Name: "system"}

// Event starts an event caused by this actor.
func (a Actor) Event(action, targetType, targetID string, details map[string]any) *Event {
	return &Event{
		ActorType: a.Type, ActorID: a.ID, ActorName: a.Name, IP: a.IP, UserAgent: a.UserAgent,
		Action: action, TargetType: targetType, TargetID: targetID, Outcome: OutcomeSuccess,
		Details: DetailsJSON(details),
	}
}
