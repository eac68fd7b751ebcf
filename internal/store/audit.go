package store

import (
	"context"
	"fmt"
	"iter"
	"math"

	"github.com/elevate-pam/elevate/internal/audit"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AppendAudit chains ev after the current head and inserts it inside the caller's transaction,
// so the event commits with the change it records, or neither does. Writers take the head row's
// lock (SQLite's immediate transactions already serialise them), which keeps sequence numbers
// gapless and the chain in commit order across goroutines and processes.
//
// An event without a time gets the current time. A time earlier than the head event's is raised
// to it, so times never decrease along the chain and a time range is a sequence range.
func (s *Store) AppendAudit(ctx context.Context, ev *audit.Event) error {
	return s.Tx(ctx, func(tx *Store) error {
		var head AuditHeadRow
		q := tx.db.Where("id = 1")
		if tx.dialect == Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Take(&head).Error; err != nil {
			return fmt.Errorf("audit: read head: %w", err)
		}
		if ev.At.IsZero() {
			ev.At = tx.now()
		}
		ev.Normalize()
		if head.At != nil && ev.At.Before(*head.At) {
			ev.At = head.At.UTC()
		}
		ev.Chain(head.Seq, head.Hash)
		row := AuditRow{
			Seq: ev.Seq, At: ev.At, ActorType: ev.ActorType, ActorID: ev.ActorID, ActorName: ev.ActorName,
			Action: ev.Action, TargetType: ev.TargetType, TargetID: ev.TargetID, RequestID: ev.RequestID,
			Outcome: ev.Outcome, Details: ev.Details, IP: ev.IP, UserAgent: ev.UserAgent,
			PrevHash: ev.PrevHash, Hash: ev.Hash,
		}
		if err := tx.db.Create(&row).Error; err != nil {
			return fmt.Errorf("audit: insert event %d: %w", ev.Seq, err)
		}
		res := tx.db.Model(&AuditHeadRow{}).Where("id = 1 AND seq = ?", head.Seq).
			Updates(map[string]any{"seq": ev.Seq, "hash": ev.Hash, "at": ev.At})
		if res.Error != nil {
			return fmt.Errorf("audit: move head: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("audit: head moved concurrently at %d", head.Seq)
		}
		return nil
	})
}

func auditToDomain(r AuditRow) audit.Event {
	return audit.Event{
		Seq: r.Seq, At: r.At.UTC(), ActorType: r.ActorType, ActorID: r.ActorID, ActorName: r.ActorName,
		Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID, RequestID: r.RequestID,
		Outcome: r.Outcome, Details: r.Details, IP: r.IP, UserAgent: r.UserAgent,
		PrevHash: r.PrevHash, Hash: r.Hash,
	}
}

// AuditHead returns the chain's current head.
func (s *Store) AuditHead(ctx context.Context) (audit.Head, error) {
	var h AuditHeadRow
	if err := s.conn(ctx).Where("id = 1").Take(&h).Error; err != nil {
		return audit.Head{}, err
	}
	return audit.Head{Seq: h.Seq, Hash: h.Hash}, nil
}

// AuditFilter selects audit events; see audit.Filter.
type AuditFilter = audit.Filter

// AuditEvent returns the event with sequence number seq.
func (s *Store) AuditEvent(ctx context.Context, seq int64) (audit.Event, error) {
	var r AuditRow
	if err := s.conn(ctx).Where("seq = ?", seq).Take(&r).Error; err != nil {
		return audit.Event{}, translate(err, "Audit event")
	}
	return auditToDomain(r), nil
}

// auditQuery applies f's equality filters (an action expanded to its old names too) and its time
// range, translated into a sequence range (times never decrease along the chain). empty is true
// when the range holds no event at all.
func (s *Store) auditQuery(ctx context.Context, f audit.Filter) (q *gorm.DB, empty bool, err error) {
	q = s.conn(ctx).Model(&AuditRow{})
	for _, c := range [...]struct{ col, v string }{
		{"actor_id", f.ActorID}, {"actor_name", f.ActorName}, {"target_type", f.TargetType},
		{"target_id", f.TargetID}, {"request_id", f.RequestID}, {"outcome", f.Outcome},
	} {
		if c.v != "" {
			q = q.Where(c.col+" = ?", c.v)
		}
	}
	// A renamed action's events stay under their old name (the chain forbids rewriting them).
	if names := audit.ExpandAction(f.Action); len(names) == 1 {
		q = q.Where("action = ?", names[0])
	} else if len(names) > 1 {
		q = q.Where("action IN ?", names)
	}
	if !f.Since.IsZero() {
		var seqs []int64
		err := s.conn(ctx).Model(&AuditRow{}).Where("at >= ?", f.Since.UTC()).Order("at, seq").Limit(1).Pluck("seq", &seqs).Error
		if err != nil || len(seqs) == 0 {
			return nil, true, err
		}
		q = q.Where("seq >= ?", seqs[0])
	}
	if !f.Until.IsZero() {
		var seqs []int64
		err := s.conn(ctx).Model(&AuditRow{}).Where("at < ?", f.Until.UTC()).Order("at DESC, seq DESC").Limit(1).Pluck("seq", &seqs).Error
		if err != nil || len(seqs) == 0 {
			return nil, true, err
		}
		q = q.Where("seq <= ?", seqs[0])
	}
	return q, false, nil
}

// AuditEvents returns the events matching f, newest first, one keyset page at a time.
func (s *Store) AuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	p, err := s.AuditPage(ctx, f)
	return p.Events, err
}

const auditBatch = 1000

// ExportAuditEvents streams every event matching f in sequence order (f.After, f.Before and
// f.Limit are ignored), reading keyset batches so memory stays constant however many match.
func (s *Store) ExportAuditEvents(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		q, empty, err := s.auditQuery(ctx, f)
		if err != nil {
			yield(audit.Event{}, err)
			return
		}
		if empty {
			return
		}
		batches(q, 0, math.MaxInt64, yield)
	}
}

// batches yields q's events with after < seq <= upTo in sequence order, auditBatch at a time.
func batches(q *gorm.DB, after, upTo int64, yield func(audit.Event, error) bool) {
	for {
		var rows []AuditRow
		err := q.Session(&gorm.Session{}).Where("seq > ? AND seq <= ?", after, upTo).Order("seq").Limit(auditBatch).Find(&rows).Error
		if err != nil {
			yield(audit.Event{}, err)
			return
		}
		for _, r := range rows {
			if !yield(auditToDomain(r), nil) {
				return
			}
		}
		if len(rows) < auditBatch {
			return
		}
		after = rows[len(rows)-1].Seq
	}
}

// AuditChain streams the stored events with after < seq <= upTo in sequence order, in batches.
func (s *Store) AuditChain(ctx context.Context, after, upTo int64) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		batches(s.conn(ctx).Model(&AuditRow{}), after, upTo, yield)
	}
}

// AllAuditEvents streams every stored event in sequence order, in constant memory.
func (s *Store) AllAuditEvents(ctx context.Context) iter.Seq2[audit.Event, error] {
	return s.AuditChain(ctx, 0, math.MaxInt64)
}

// FirstAuditSeqAfter returns the smallest stored sequence number above seq, if there is one.
func (s *Store) FirstAuditSeqAfter(ctx context.Context, seq int64) (int64, bool, error) {
	var seqs []int64
	err := s.conn(ctx).Model(&AuditRow{}).Where("seq > ?", seq).Order("seq").Limit(1).Pluck("seq", &seqs).Error
	if err != nil || len(seqs) == 0 {
		return 0, false, err
	}
	return seqs[0], true, nil
}

// VerifyAudit walks the chain (see audit.Verify).
func (s *Store) VerifyAudit(ctx context.Context, checkpoint *audit.Head) (audit.Head, int64, error) {
	return audit.Verify(ctx, s, checkpoint)
}

var _ audit.Source = (*Store)(nil)
