package store

import (
	"context"
	"fmt"

	"github.com/elevate-pam/elevate/internal/audit"
	"gorm.io/gorm/clause"
)

// AppendAuditBatch chains evs, in order, after the current head and inserts them in one
// transaction (the caller's, when called inside Tx) under one hold of the head's lock. It
// keeps every promise of AppendAudit, and costs one lock and one commit for the whole batch:
// for writers that can wait a moment for a shared commit, and for bulk loads.
func (s *Store) AppendAuditBatch(ctx context.Context, evs []*audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *Store) error {
		var head AuditHeadRow
		q := tx.db.Where("id = 1")
		if tx.dialect == Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Take(&head).Error; err != nil {
			return fmt.Errorf("audit: read head: %w", err)
		}
		seq, hash, at := head.Seq, head.Hash, head.At
		rows := make([]AuditRow, 0, len(evs))
		for _, ev := range evs {
			if ev.At.IsZero() {
				ev.At = tx.now()
			}
			ev.Normalize()
			if at != nil && ev.At.Before(*at) {
				ev.At = at.UTC()
			}
			ev.Chain(seq, hash)
			seq, hash = ev.Seq, ev.Hash
			t := ev.At
			at = &t
			rows = append(rows, AuditRow{
				Seq: ev.Seq, At: ev.At, ActorType: ev.ActorType, ActorID: ev.ActorID, ActorName: ev.ActorName,
				Action: ev.Action, TargetType: ev.TargetType, TargetID: ev.TargetID, RequestID: ev.RequestID,
				Outcome: ev.Outcome, Details: ev.Details, IP: ev.IP, UserAgent: ev.UserAgent,
				PrevHash: ev.PrevHash, Hash: ev.Hash,
			})
		}
		// 15 columns a row: 2,000 rows stay under PostgreSQL's 65,535 parameters a statement.
		if err := tx.db.CreateInBatches(rows, 2000).Error; err != nil {
			return fmt.Errorf("audit: insert events %d..%d: %w", rows[0].Seq, seq, err)
		}
		res := tx.db.Model(&AuditHeadRow{}).Where("id = 1 AND seq = ?", head.Seq).
			Updates(map[string]any{"seq": seq, "hash": hash, "at": *at})
		if res.Error != nil {
			return fmt.Errorf("audit: move head: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("audit: head moved concurrently at %d", head.Seq)
		}
		return nil
	})
}
