package audit

import (
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"strconv"
	"strings"
)

// ChainError says where a chain stops being trustworthy: Seq is the first bad sequence number.
// Checkpoint is true when only the checkpoint given to the walk failed (it differs from the
// chain's event, or lies beyond its end): the chain may hold on its own.
type ChainError struct {
	Seq        int64
	Reason     string
	Checkpoint bool
}

func (e *ChainError) Error() string { return fmt.Sprintf("event %d: %s", e.Seq, e.Reason) }

// ParseCheckpoint reads a head an auditor wrote down, in the form SEQ:HASH.
func ParseCheckpoint(s string) (Head, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	hash = strings.ToLower(hash)
	if !ok || err != nil || seq < 1 || len(hash) != 64 {
		return Head{}, fmt.Errorf("checkpoint %q: want SEQ:HASH, a sequence number and a 64-character hex SHA-256", s)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Head{}, fmt.Errorf("checkpoint %q: the hash is not hexadecimal", s)
	}
	return Head{Seq: seq, Hash: hash}, nil
}

// String renders a head as SEQ:HASH, the form ParseCheckpoint reads.
func (h Head) String() string { return fmt.Sprintf("%d:%s", h.Seq, h.Hash) }

// Source is what a verification reads. The store implements it; the walk stays here so its rules
// are tested without a database.
type Source interface {
	// AuditHead returns the head row: the last event the sealers committed.
	AuditHead(ctx context.Context) (Head, error)
	// AuditChain streams the events with after < seq <= upTo in sequence order, in constant memory.
	AuditChain(ctx context.Context, after, upTo int64) iter.Seq2[Event, error]
	// FirstAuditSeqAfter returns the smallest stored sequence number above seq, if any.
	FirstAuditSeqAfter(ctx context.Context, seq int64) (int64, bool, error)
}

// Verify walks the whole chain up to the head the writers last committed and returns that head
// and the number of events. Any edited, removed, reordered or inserted event, a chain that ends
// before its head, and (with a checkpoint) a chain that no longer holds a head saved earlier give
// a *ChainError naming the first bad sequence number. Writers may keep appending meanwhile.
func Verify(ctx context.Context, src Source, checkpoint *Head) (Head, int64, error) {
	head, err := src.AuditHead(ctx)
	if err != nil {
		return Head{}, 0, fmt.Errorf("read the audit head: %w", err)
	}
	var v Verifier
	v.Checkpoint = checkpoint
	for ev, err := range src.AuditChain(ctx, 0, head.Seq) {
		if err != nil {
			return Head{}, 0, fmt.Errorf("read audit events: %w", err)
		}
		if err := v.Next(ev); err != nil {
			return Head{}, 0, err
		}
	}
	if err := v.End(head); err != nil {
		return Head{}, 0, err
	}
	// An event beyond the head is forged unless a writer committed it (and moved the head past
	// it) after the head was read. Read the extra event first and the head second: a committed
	// event's head move is visible no later than the event itself.
	extra, ok, err := src.FirstAuditSeqAfter(ctx, head.Seq)
	if err != nil {
		return Head{}, 0, fmt.Errorf("read audit events: %w", err)
	}
	if ok {
		now, err := src.AuditHead(ctx)
		if err != nil {
			return Head{}, 0, fmt.Errorf("read the audit head: %w", err)
		}
		if extra > now.Seq {
			return Head{}, 0, &ChainError{Seq: extra, Reason: fmt.Sprintf("stored after the head (event %d) without moving it (inserted)", now.Seq)}
		}
	}
	return v.Head(), v.Count, nil
}
