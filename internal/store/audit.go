package store

import (
	"context"
	"fmt"
	"iter"

	"github.com/elevate-pam/elevate/internal/audit"
	"gorm.io/gorm/clause"
)

// AppendAudit chains ev after the current head and inserts it inside the caller's transaction,
// so the event commits with the change it records, or neither does. Writers take the head row's
// lock (SQLite's immediate transactions already serialise them), which keeps sequence numbers
// gapless and the chain in commit order.
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
		ev.Normalize()
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
			Updates(map[string]any{"seq": ev.Seq, "hash": ev.Hash})
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

// AuditFilter selects audit events; Before is a keyset cursor (events with a smaller Seq).
type AuditFilter struct {
	Action    string
	ActorID   string
	TargetID  string
	RequestID string
	Before    int64
	Limit     int
}

// AuditEvents returns events newest first, one keyset page at a time.
func (s *Store) AuditEvents(ctx context.Context, f AuditFilter) ([]audit.Event, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	q := s.conn(ctx).Model(&AuditRow{}).Order("seq DESC").Limit(f.Limit)
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if f.TargetID != "" {
		q = q.Where("target_id = ?", f.TargetID)
	}
	if f.RequestID != "" {
		q = q.Where("request_id = ?", f.RequestID)
	}
	if f.Before > 0 {
		q = q.Where("seq < ?", f.Before)
	}
	var rows []AuditRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]audit.Event, len(rows))
	for i, r := range rows {
		out[i] = auditToDomain(r)
	}
	return out, nil
}

// AllAuditEvents streams every event in sequence order, in batches, in constant memory.
func (s *Store) AllAuditEvents(ctx context.Context) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		var after int64
		for {
			var rows []AuditRow
			if err := s.conn(ctx).Where("seq > ?", after).Order("seq").Limit(1000).Find(&rows).Error; err != nil {
				yield(audit.Event{}, err)
				return
			}
			for _, r := range rows {
				if !yield(auditToDomain(r), nil) {
					return
				}
			}
			if len(rows) < 1000 {
				return
			}
			after = rows[len(rows)-1].Seq
		}
	}
}
