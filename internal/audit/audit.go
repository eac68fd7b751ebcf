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

// Event is one audit record. It is stored first (ID) and sealed later: the sealer gives it Seq,
// PrevHash, Hash and SealedAt, once (see ../../README.md, Audit trail).
type Event struct {
	// ID addresses a stored event before it is sealed; it is not part of the hash.
	ID         int64
	Seq        int64
	At         time.Time
	ActorType  string
	ActorID    string
	ActorName  string
	Action     string // an Action's name, or the older name of one (see Action.Aliases)
	TargetType string
	TargetID   string
	RequestID  string
	Outcome    string
	Details    string // a JSON object, stored and hashed exactly as written
	IP         string
	UserAgent  string
	// SubjectID names the person a check was about (the checked user's id), when known.
	SubjectID string
	PrevHash  string
	Hash      string
	// SealedAt is when the sealer chained the event; zero while it waits. Not hashed.
	SealedAt time.Time
}

// Sealed reports whether the event has its place in the chain.
func (e Event) Sealed() bool { return e.Seq > 0 }

// Normalize fills defaults, fits every field to its column (see Fit) and rounds the time to
// what every database stores (microseconds, UTC), so the hash computed before the insert
// matches the row read back later. What is stored is then exactly what is hashed, and no
// client's input (a NUL byte, invalid UTF-8, a 10 KB user agent) can make the insert fail.
func (e *Event) Normalize() {
	e.fitFields()
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

// Canonical is the byte string an event's hash covers: every field but ID, Hash and SealedAt, in
// fixed order. SubjectID comes last and only when set, so events stored before it existed keep
// their hashes.
func (e Event) Canonical() []byte {
	fields := []any{
		e.Seq,
		e.At.UTC().Format(TimeLayout),
		e.ActorType, e.ActorID, e.ActorName,
		e.Action, e.TargetType, e.TargetID, e.RequestID, e.Outcome,
		e.Details, e.IP, e.UserAgent,
		e.PrevHash,
	}
	if e.SubjectID != "" {
		fields = append(fields, e.SubjectID)
	}
	b, _ := json.Marshal(fields)
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

// Status is what a glance at the chain shows without walking it: its head, when the head was
// sealed, and how many stored events wait to be sealed (counted up to StatusWaitingCap; more
// reads as StatusWaitingCap+1).
type Status struct {
	Head     Head
	SealedAt time.Time
	Waiting  int64
	// Verified is the newest sealed ChainVerified event, nil before the first.
	Verified *Verified
	// TurnAt is when the scheduled walk last took its turn, or when its schedule started; zero
	// before the first look.
	TurnAt time.Time
}

// Verified is one recorded walk of the chain (a ChainVerified event).
type Verified struct {
	// Seq is the event that recorded the walk, At when it was recorded and Actor who ran it (a
	// person's name, else the actor's).
	Seq   int64
	At    time.Time
	Actor string
	// ByType is the actor's type (ActorSystem for the schedule and the shell).
	ByType string
	// Through is the head the walk reached and Events how many events it checked; BrokenAt is
	// the first bad event (0: the chain held) and Reason why it is bad.
	Through, Events, BrokenAt int64
	Reason                    string
}

// StatusWaitingCap bounds the count of waiting events a Status reads, so the glance stays cheap
// even while sealing is stuck.
const StatusWaitingCap = 1000

// Verifier walks a chain in sequence order and reports the first event that breaks it.
type Verifier struct {
	// Checkpoint, when set, is a head saved earlier that the chain must still contain.
	Checkpoint *Head
	prev       Head
	Count      int64
}

// Next checks one event against the chain so far; a failure is a *ChainError.
func (v *Verifier) Next(e Event) error {
	prevHash := v.prev.Hash
	if prevHash == "" {
		prevHash = Genesis
	}
	want := v.prev.Seq + 1
	switch {
	case e.Seq > want:
		return &ChainError{Seq: want, Reason: fmt.Sprintf("missing (the next stored event is %d; removed)", e.Seq)}
	case e.Seq != want:
		return &ChainError{Seq: want, Reason: fmt.Sprintf("out of order (found event %d in its place)", e.Seq)}
	case e.PrevHash != prevHash:
		return &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("does not link to event %d (inserted, reordered or edited)", v.prev.Seq)}
	case e.ComputeHash() != e.Hash:
		return &ChainError{Seq: e.Seq, Reason: "content does not match its hash (edited)"}
	case v.Checkpoint != nil && e.Seq == v.Checkpoint.Seq && e.Hash != v.Checkpoint.Hash:
		return &ChainError{Seq: e.Seq, Reason: "differs from the checkpoint (the chain was rewritten)", Checkpoint: true}
	}
	v.prev = Head{Seq: e.Seq, Hash: e.Hash}
	v.Count++
	return nil
}

// End checks that the walk stopped exactly at head and passed the checkpoint, if any.
func (v *Verifier) End(head Head) error {
	if head.Seq == 0 {
		head.Hash = "" // an empty chain's head row holds Genesis; the walk's is empty
	}
	if v.prev != head {
		if v.prev.Seq < head.Seq {
			return &ChainError{Seq: v.prev.Seq + 1, Reason: fmt.Sprintf("missing (the chain ends at event %d but its head says %d; removed from the end)", v.prev.Seq, head.Seq)}
		}
		return &ChainError{Seq: head.Seq, Reason: "does not match the head (edited)"}
	}
	if v.Checkpoint != nil && v.Checkpoint.Seq > v.prev.Seq {
		return &ChainError{Seq: v.prev.Seq + 1, Reason: fmt.Sprintf("missing (the chain ends at event %d, before the checkpoint %d; the chain was cut or rewritten)", v.prev.Seq, v.Checkpoint.Seq), Checkpoint: true}
	}
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

// CLI is who the shell commands (`elevate user …`, `elevate audit verify`, …) act as.
var CLI = Actor{Type: ActorSystem, Name: "cli"}

// Event starts an event caused by this actor. The action is one of the declared Actions.
func (a Actor) Event(action Action, targetType, targetID string, details map[string]any) *Event {
	return &Event{
		ActorType: a.Type, ActorID: a.ID, ActorName: a.Name, IP: a.IP, UserAgent: a.UserAgent,
		Action: action.name, TargetType: targetType, TargetID: targetID, Outcome: OutcomeSuccess,
		Details: DetailsJSON(details),
	}
}
