package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"gorm.io/gorm"
)

// AppendAudit stores ev inside the caller's transaction, so the event commits with the change
// it records, or neither does. It takes no lock: the sealer gives the event its place in the
// chain moments after the commit (see sealer).
//
// An event without a time gets the current time.
func (s *Store) AppendAudit(ctx context.Context, ev *audit.Event) error {
	return s.AppendAudits(ctx, []*audit.Event{ev})
}

// AppendAudits stores evs, in order, inside the caller's transaction, as AppendAudit does for
// one. They are written when the transaction's work is done, just before it commits, in one
// statement with the mail it queued (flush), so an event costs its change no round trip of
// its own (a transaction that queues flushEarly rows writes them then); an error writing them
// fails the transaction.
func (s *Store) AppendAudits(ctx context.Context, evs []*audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *Store) error {
		for _, ev := range evs {
			if ev.At.IsZero() {
				ev.At = tx.now()
			}
			ev.Normalize()
		}
		tx.events.queued = append(tx.events.queued, evs...)
		return tx.flushIfFull()
	})
}

// Bound parameters one statement of flush takes at most: PostgreSQL allows 65,535. On SQLite,
// whose driver binds a statement's parameters in time that grows with the square of their
// number, a statement takes at most sqliteInsertRows rows (flushRows).
const maxFlushParams = 30000

// flushEarly is how many rows a transaction queues before it writes them at once: a change of
// hundreds of requests (a policy's open requests ended together) keeps no more mail in memory.
const flushEarly = 500

// flushRows is how many rows of columns bound parameters each one statement of flush writes.
func (s *Store) flushRows(columns int) int {
	if s.dialect == SQLite {
		return sqliteInsertRows
	}
	return maxFlushParams / columns
}

// flushIfFull writes what the transaction queued at once when it reached flushEarly rows.
func (s *Store) flushIfFull() error {
	if len(s.events.queued)+len(s.events.mails) < flushEarly {
		return nil
	}
	return s.flush()
}

// flush writes the audit events and the mail the transaction queued (AppendAudits,
// EnqueueMails): on PostgreSQL in one statement, the mail's INSERT in a WITH clause of the
// events' (cut in parts only past maxFlushParams); on SQLite, which has no INSERT in a WITH
// clause, the mail and then the events. Tx calls it when the transaction's work succeeded.
func (s *Store) flush() error {
	t := s.events
	evs, mails := t.queued, t.mails
	t.queued, t.mails = nil, nil
	if len(evs) == 0 || s.dialect != Postgres || outboxColumns*len(mails)+auditColumns*len(evs) > maxFlushParams {
		if err := insertMails(s.db, s.flushRows(outboxColumns), mails); err != nil {
			return err
		}
		mails = nil
	}
	for len(evs) > 0 {
		n := min(len(evs), s.flushRows(auditColumns))
		var (
			b    strings.Builder
			args []any
		)
		messages := len(mails)
		if messages > 0 {
			b.WriteString("WITH mail AS (")
			args = mailInsert(&b, args, mails)
			b.WriteString(") ")
			mails = nil
		}
		if err := s.insertAudits(&b, args, evs[:n], messages); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

// auditColumns are the columns an INSERT of audit_events binds for each event.
const auditColumns = 13

// insertAudits runs b (empty, or a WITH clause binding args) followed by an INSERT of evs, and
// gives each event its id and the transaction's events their ids and transaction id; messages
// counts the mail b inserts, for the statement's error.
func (s *Store) insertAudits(b *strings.Builder, args []any, evs []*audit.Event, messages int) error {
	b.WriteString(`INSERT INTO audit_events (at, actor_type, actor_id, actor_name, action, target_type, target_id,
		request_id, subject_id, outcome, details, ip, user_agent) VALUES `)
	for i, ev := range evs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, ev.At, ev.ActorType, ev.ActorID, ev.ActorName, ev.Action, ev.TargetType, ev.TargetID,
			ev.RequestID, ev.SubjectID, ev.Outcome, ev.Details, ev.IP, ev.UserAgent)
	}
	b.WriteString(" RETURNING id, txid")
	var out []struct{ ID, Txid int64 }
	if err := s.db.Raw(b.String(), args...).Find(&out).Error; err != nil {
		what := fmt.Sprintf("%d events from %s", len(evs), evs[0].Action)
		if messages > 0 {
			what += fmt.Sprintf(" with %d messages", messages)
		}
		return fmt.Errorf("audit: store %s: %w", what, err)
	}
	if len(out) != len(evs) {
		return fmt.Errorf("audit: stored %d of %d events", len(out), len(evs))
	}
	// Ids are assigned in the order of VALUES; RETURNING promises no order, so sort by id.
	slices.SortFunc(out, func(a, b struct{ ID, Txid int64 }) int { return cmp.Compare(a.ID, b.ID) })
	for i, ev := range evs {
		ev.ID = out[i].ID
		s.events.add(out[i].ID, out[i].Txid, string(ev.Action))
	}
	return nil
}

func auditToDomain(r AuditRow) audit.Event {
	ev := audit.Event{
		ID: r.ID, At: r.At.UTC(), ActorType: r.ActorType, ActorID: r.ActorID, ActorName: r.ActorName,
		Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID, RequestID: r.RequestID,
		SubjectID: r.SubjectID, Outcome: r.Outcome, Details: r.Details, IP: r.IP, UserAgent: r.UserAgent,
	}
	if r.Seq != nil {
		ev.Seq = *r.Seq
	}
	if r.PrevHash != nil {
		ev.PrevHash = *r.PrevHash
	}
	if r.Hash != nil {
		ev.Hash = *r.Hash
	}
	if r.SealedAt != nil {
		ev.SealedAt = r.SealedAt.UTC()
	}
	return ev
}

// AuditHead returns the chain's current head.
func (s *Store) AuditHead(ctx context.Context) (audit.Head, error) {
	var h AuditHeadRow
	if err := s.conn(ctx).Where("id = 1").Take(&h).Error; err != nil {
		return audit.Head{}, err
	}
	return audit.Head{Seq: h.Seq, Hash: h.Hash}, nil
}

// ChainTurn is the system value whose time is the last scheduled walk of the audit chain, or
// when the schedule started (admin.Service.VerifyChainWhenDue).
const ChainTurn = "audit_verify_turn"

// AuditStatus reads the chain's head, when it was sealed, how many events wait to be sealed (up
// to audit.StatusWaitingCap+1, through the index of unsealed events) and the newest recorded walk
// of the chain (audit.ChainVerified, through the action's index; a person who asked for it by
// their name) and the time of the schedule's last turn (ChainTurn), in one statement.
func (s *Store) AuditStatus(ctx context.Context) (audit.Status, error) {
	var r []struct {
		Seq                    int64
		Hash                   string
		At                     *time.Time
		Waiting                int64
		VSeq                   *int64
		VAt                    *time.Time
		VActor, VOutcome, VDet *string
		VType                  *string
		TurnAt                 *time.Time
	}
	err := s.conn(ctx).Raw(`SELECT h.seq, h.hash, h.at,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM audit_events WHERE seq IS NULL `+limitClause(audit.StatusWaitingCap+1)+`) w) AS waiting,
		v.seq AS v_seq, v.at AS v_at, COALESCE(vu.name, v.actor_name) AS v_actor, v.outcome AS v_outcome, v.details AS v_det, v.actor_type AS v_type,
		(SELECT sv.updated_at FROM system_values sv WHERE sv.key = @turn) AS turn_at
		FROM audit_head h LEFT JOIN (SELECT seq, at, actor_type, actor_id, actor_name, outcome, details FROM audit_events
			WHERE action = @action AND seq IS NOT NULL ORDER BY seq DESC `+limitClause(1)+`) v ON 1 = 1
			LEFT JOIN users vu ON v.actor_type = 'user' AND vu.id = v.actor_id
		WHERE h.id = 1`, map[string]any{"action": audit.ChainVerified.String(), "turn": ChainTurn}).Find(&r).Error
	if err != nil || len(r) == 0 {
		return audit.Status{}, cmp.Or(err, fmt.Errorf("audit: the chain's head row is missing"))
	}
	st := audit.Status{Head: audit.Head{Seq: r[0].Seq, Hash: r[0].Hash}, Waiting: r[0].Waiting}
	if r[0].At != nil {
		st.SealedAt = r[0].At.UTC()
	}
	if r[0].TurnAt != nil {
		st.TurnAt = r[0].TurnAt.UTC()
	}
	if v := r[0]; v.VSeq != nil && v.VAt != nil {
		st.Verified = verifiedFrom(*v.VSeq, *v.VAt, deref(v.VActor), deref(v.VOutcome), deref(v.VDet))
		st.Verified.ByType = deref(v.VType)
	}
	return st, nil
}

// verifiedFrom reads a recorded walk of the chain from its event's fields; details it cannot
// read leave their figures at 0, and a failure without a readable first bad event still reads
// as broken (at the head it reached, or at event 1).
func verifiedFrom(seq int64, at time.Time, actor, outcome, details string) *audit.Verified {
	var d struct {
		Through  int64  `json:"through"`
		Events   int64  `json:"events"`
		BrokenAt int64  `json:"broken_at"`
		Reason   string `json:"reason"`
	}
	_ = json.Unmarshal([]byte(details), &d)
	v := &audit.Verified{Seq: seq, At: at.UTC(), Actor: actor, Through: d.Through, Events: d.Events, BrokenAt: d.BrokenAt, Reason: d.Reason}
	if outcome == audit.OutcomeFailure && v.BrokenAt <= 0 {
		v.BrokenAt = max(v.Through, 1)
	}
	if outcome != audit.OutcomeFailure {
		v.BrokenAt, v.Reason = 0, ""
	}
	return v
}

// AuditSealLag is the longest gap there has been between an event's time and its sealing, either
// way (migration 0028): how far past its range a search by time may have to look.
func (s *Store) AuditSealLag(ctx context.Context) (time.Duration, error) {
	h, err := readSealLag(s.conn(ctx))
	return h.lag(), err
}

// sealLagHead is the chain's head with its seal lag (migration 0028, raiseLag).
type sealLagHead struct{ Seq, SealLagUs, SealLagSeq int64 }

func (h sealLagHead) lag() time.Duration { return time.Duration(h.SealLagUs) * time.Microsecond }

// readSealLag reads the head's seq and seal lag.
func readSealLag(db *gorm.DB) (sealLagHead, error) {
	var h []sealLagHead
	err := db.Raw("SELECT seq, seal_lag_us, seal_lag_seq FROM audit_head WHERE id = 1").Find(&h).Error
	if err != nil || len(h) == 0 {
		return sealLagHead{}, cmp.Or(err, fmt.Errorf("audit: the chain's head row is missing"))
	}
	return h[0], nil
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
// range to sealed events.
func (s *Store) auditQuery(ctx context.Context, f audit.Filter) *gorm.DB {
	var q *gorm.DB
	q = s.conn(ctx).Model(&AuditRow{}).Where("seq IS NOT NULL")
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
	// Times are conditions on at itself: an event sealed late has a later seq than events
	// stored after it, so a time range is not a sequence range.
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until.UTC())
	}
	return q
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
		batches(s.auditQuery(ctx, f), 0, math.MaxInt64, yield)
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
		after = *rows[len(rows)-1].Seq
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
