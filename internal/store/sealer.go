package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
)

// The sealer extends the audit chain. A business change stores its event unsealed in its own
// transaction and holds no chain lock (AppendAudit); a check hands its event to the sealer and
// waits (SealAudit). One sealer runs per process, only while there is work: each pass is one
// transaction that takes the chain in turn with other processes' sealers (an advisory lock on
// PostgreSQL, the write lock on SQLite), seals the stored events no earlier-started writer can
// still precede, in id order, then appends the checks' events, and moves the head.
//
// On PostgreSQL a stored event is sealable once its writer's transaction id is below the
// horizon: every writer of events that started before it has then ended, so none can still
// commit an event that would belong before it. On SQLite writers take turns on
// the whole database, so every committed event is sealable.
//
// The horizon is the transaction id of the oldest writer of this audit_events table still open
// (one holding its row-exclusive lock), read from pg_locks: transactions elsewhere on the server,
// in other databases or schemas, never hold sealing back.
//
// How long an event waits: normally until the next pass, a few milliseconds after its commit; at
// most as long as the longest write transaction that started before it on the database server.
// The sweep (SealWaiting) seals what nobody waited for, such as events left by a process that
// stopped between its commit and the pass.
type sealer struct {
	db *Store // the pool, not a transaction

	mu      sync.Mutex
	direct  []*sealing  // events to append sealed (checks), in arrival order
	waiting []*awaiting // committed transactions waiting to see their events sealed
	running bool
}

// A sealing is an event a caller waits on until it is in the chain.
type sealing struct {
	ev   *audit.Event
	done chan error
}

// An awaiting is one committed transaction's unsealed events.
type awaiting struct {
	left    map[int64]bool // ids not yet seen sealed
	maxTxid int64
	done    chan struct{}
}

// txEvents collects the events a transaction stored, for the wait after its commit.
type txEvents struct {
	ids     []int64
	maxTxid int64
}

func (t *txEvents) add(id, txid int64) {
	if t == nil {
		return
	}
	t.ids = append(t.ids, id)
	t.maxTxid = max(t.maxTxid, txid)
}

// pgHorizon is the id of the oldest transaction that still holds a row-exclusive lock on
// audit_events (it has stored an event and not ended), as a 64-bit transaction id, or the
// largest bigint when there is none. pg_locks shows 32-bit ids; each is widened with the epoch
// of the snapshot's xmax, and transactions that started after the snapshot (whose events it
// cannot see) are left out. A pass reads it only when some event waits.
const pgHorizon = `COALESCE((
	WITH l AS MATERIALIZED (SELECT locktype, relation, transactionid, virtualtransaction, mode, granted, pid FROM pg_locks),
	     s AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax),
	     w AS (SELECT s.xmax, ((s.xmax % 4294967296) - x.transactionid::text::bigint + 4294967296) % 4294967296 AS back
	           FROM l r JOIN l x ON x.virtualtransaction = r.virtualtransaction CROSS JOIN s
	           WHERE r.locktype = 'relation' AND r.relation = 'audit_events'::regclass AND r.mode = 'RowExclusiveLock'
	             AND r.granted AND r.pid <> pg_backend_pid()
	             AND x.locktype = 'transactionid' AND x.mode = 'ExclusiveLock' AND x.granted)
	SELECT min(xmax - back) FROM w WHERE back BETWEEN 1 AND 2147483648), 9223372036854775807)`

// Seal limits: events a pass takes, and how long a committed change waits for its events.
const (
	maxSealBatch = 1000
	sealWait     = 2 * time.Second
	// sealLock is the PostgreSQL advisory lock sealers of all processes take turns on.
	sealLock = 72210102
)

// SealAudit appends ev to the chain and returns once it is sealed and committed (ev then has
// its Seq and Hash), or with the error that kept it out. Callers arriving together share one
// pass; an event the database refuses is retried alone, so it fails no other caller. A caller
// whose context ends first gets the context's error; its event may still be sealed.
func (s *Store) SealAudit(ctx context.Context, ev *audit.Event) error {
	q := &sealing{ev: ev, done: make(chan error, 1)}
	z := s.seal
	z.mu.Lock()
	z.direct = append(z.direct, q)
	z.startLocked()
	z.mu.Unlock()
	select {
	case err := <-q.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await waits, at most sealWait, until the events of a committed transaction are sealed, by
// this process's sealer or by another's. A change is committed either way; the wait only lets
// whoever made it find its event on the trail at once.
func (z *sealer) await(ctx context.Context, t *txEvents) {
	w := &awaiting{left: make(map[int64]bool, len(t.ids)), maxTxid: t.maxTxid, done: make(chan struct{})}
	for _, id := range t.ids {
		w.left[id] = true
	}
	z.mu.Lock()
	z.waiting = append(z.waiting, w)
	z.startLocked()
	z.mu.Unlock()
	timer := time.NewTimer(sealWait)
	defer timer.Stop()
	select {
	case <-w.done:
		return
	case <-ctx.Done():
	case <-timer.C:
	}
	z.mu.Lock()
	for i, o := range z.waiting {
		if o == w {
			z.waiting = append(z.waiting[:i], z.waiting[i+1:]...)
			break
		}
	}
	z.mu.Unlock()
}

func (z *sealer) startLocked() {
	if !z.running {
		z.running = true
		go z.run()
	}
}

// run makes passes while anyone waits, then stops.
func (z *sealer) run() {
	idle := time.Millisecond
	for {
		z.mu.Lock()
		n := min(len(z.direct), maxSealBatch)
		if n == 0 && len(z.waiting) == 0 {
			z.running = false
			z.mu.Unlock()
			return
		}
		batch := make([]*sealing, n)
		copy(batch, z.direct)
		z.direct = append(z.direct[:0], z.direct[n:]...)
		// Only transactions that committed before this pass began can be settled by it.
		waiters := append([]*awaiting(nil), z.waiting...)
		z.mu.Unlock()

		evs := make([]*audit.Event, n)
		for i, q := range batch {
			evs[i] = q.ev
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := z.db.sealPass(ctx, evs)
		cancel()
		if err != nil && n > 1 {
			// One event the database refuses must not fail its neighbours: each alone, sharing
			// one more bounded wait, so a database that is down fails them all quickly.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			for _, q := range batch {
				r, err := z.db.sealPass(ctx, []*audit.Event{q.ev})
				res.merge(r)
				q.done <- err
			}
			cancel()
		} else {
			for _, q := range batch {
				q.done <- err
			}
		}

		z.mu.Lock()
		kept := z.waiting[:0]
		for _, w := range z.waiting {
			if contains(waiters, w) && res.settles(w) {
				close(w.done)
				continue
			}
			kept = append(kept, w)
		}
		z.waiting = kept
		z.mu.Unlock()

		if n == 0 && len(res.sealed) == 0 {
			// Waiting on a writer still in flight, or on another process's sealer.
			time.Sleep(idle)
			idle = min(2*idle, 50*time.Millisecond)
		} else {
			idle = time.Millisecond
		}
	}
}

func contains(ws []*awaiting, w *awaiting) bool {
	for _, o := range ws {
		if o == w {
			return true
		}
	}
	return false
}

// sealResult is what one pass saw: the stored events it sealed, whether it took every sealable
// event there was, and the horizon below which every writer had ended.
type sealResult struct {
	sealed   map[int64]bool
	complete bool
	horizon  int64
}

func (r *sealResult) merge(o sealResult) {
	if r.sealed == nil {
		r.sealed = map[int64]bool{}
	}
	for id := range o.sealed {
		r.sealed[id] = true
	}
	r.complete = r.complete || o.complete
	r.horizon = max(r.horizon, o.horizon)
}

// settles reports whether w's events are sealed after this pass: this pass sealed the rest,
// or it took every sealable event and w's writer is below its horizon (so another process's
// sealer must have sealed them first).
func (r sealResult) settles(w *awaiting) bool {
	for id := range w.left {
		if r.sealed[id] {
			delete(w.left, id)
		}
	}
	return len(w.left) == 0 || (r.complete && w.maxTxid < r.horizon)
}

// unsealedRow is a stored event waiting for its seal, with the head and the pass's horizon.
type unsealedRow struct {
	AuditRow
	HeadSeq  int64
	HeadHash string
	HeadAt   *time.Time
	Horizon  int64
}

// sealPass is one sealer transaction: it seals the sealable stored events (at most
// maxSealBatch) in id order, then appends direct, and moves the head.
func (s *Store) sealPass(ctx context.Context, direct []*audit.Event) (sealResult, error) {
	res := sealResult{sealed: map[int64]bool{}}
	err := s.Tx(ctx, func(tx *Store) error {
		res = sealResult{sealed: map[int64]bool{}}
		if tx.dialect == Postgres {
			if err := tx.db.Exec("SELECT pg_advisory_xact_lock(?)", sealLock).Error; err != nil {
				return fmt.Errorf("audit: take the chain: %w", err)
			}
		}
		// The head, the horizon and the unsealed rows come from one statement and snapshot; the
		// left join gives one row with an empty event when none waits.
		read := `SELECT e.*, h.seq AS head_seq, h.hash AS head_hash, h.at AS head_at, 9223372036854775807 AS horizon
			FROM audit_head h LEFT JOIN (SELECT * FROM audit_events WHERE seq IS NULL ORDER BY id LIMIT ?) e ON true
			WHERE h.id = 1 ORDER BY e.id`
		if tx.dialect == Postgres {
			read = `SELECT e.*, h.seq AS head_seq, h.hash AS head_hash, h.at AS head_at, x.horizon
				FROM audit_head h
				CROSS JOIN (SELECT CASE WHEN EXISTS (SELECT 1 FROM audit_events WHERE seq IS NULL)
					THEN ` + pgHorizon + ` ELSE 9223372036854775807 END AS horizon) x
				LEFT JOIN LATERAL (SELECT * FROM audit_events WHERE seq IS NULL AND txid < x.horizon ORDER BY id LIMIT ?) e ON true
				WHERE h.id = 1 ORDER BY e.id`
		}
		var rows []unsealedRow
		err := tx.db.Raw(read, maxSealBatch).Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("audit: read head and unsealed events: %w", err)
		}
		if len(rows) == 0 {
			return fmt.Errorf("audit: the chain's head row is missing")
		}
		head := AuditHeadRow{ID: 1, Seq: rows[0].HeadSeq, Hash: rows[0].HeadHash, At: rows[0].HeadAt}
		res.horizon = rows[0].Horizon
		if rows[0].ID == 0 {
			rows = rows[:0] // the left join's empty side
		}
		res.complete = len(rows) < maxSealBatch
		if len(rows) == 0 && len(direct) == 0 {
			return nil
		}

		sealedAt := time.Now().UTC().Truncate(time.Microsecond)
		if head.At != nil && sealedAt.Before(*head.At) {
			sealedAt = head.At.UTC()
		}
		seq, hash := head.Seq, head.Hash
		stored := make([]audit.Event, len(rows))
		for i, r := range rows {
			ev := auditToDomain(r.AuditRow)
			ev.Chain(seq, hash)
			seq, hash = ev.Seq, ev.Hash
			stored[i] = ev
			res.sealed[ev.ID] = true
		}
		if err := tx.sealStored(stored, sealedAt); err != nil {
			return err
		}
		inserts := make([]AuditRow, len(direct))
		for i, ev := range direct {
			if ev.At.IsZero() {
				ev.At = tx.now()
			}
			ev.Normalize()
			ev.Chain(seq, hash)
			ev.SealedAt = sealedAt
			seq, hash = ev.Seq, ev.Hash
			inserts[i] = auditFromDomain(ev)
		}
		if len(inserts) > 0 {
			// 17 columns a row: 2,000 rows stay under PostgreSQL's 65,535 parameters.
			if err := tx.db.CreateInBatches(inserts, 2000).Error; err != nil {
				return fmt.Errorf("audit: insert events %d..%d: %w", direct[0].Seq, seq, err)
			}
			for i, ev := range direct {
				ev.ID = inserts[i].ID
			}
		}
		moved := tx.db.Model(&AuditHeadRow{}).Where("id = 1 AND seq = ?", head.Seq).
			Updates(map[string]any{"seq": seq, "hash": hash, "at": sealedAt})
		if moved.Error != nil {
			return fmt.Errorf("audit: move head: %w", moved.Error)
		}
		if moved.RowsAffected != 1 {
			return fmt.Errorf("audit: head moved concurrently at %d", head.Seq)
		}
		return nil
	})
	if err != nil {
		for _, ev := range direct {
			ev.Seq, ev.PrevHash, ev.Hash, ev.SealedAt = 0, "", "", time.Time{}
		}
		return sealResult{}, err
	}
	return res, nil
}

// sealStored sets seq, prev_hash, hash and sealed_at of stored events in one statement; the
// triggers allow exactly this on an unsealed row.
func (s *Store) sealStored(evs []audit.Event, sealedAt time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, 1+4*len(evs))
	args = append(args, sealedAt)
	b.WriteString(`UPDATE audit_events AS a SET seq = v.column2, prev_hash = v.column3, hash = v.column4, sealed_at = ?
		FROM (VALUES `)
	for i, ev := range evs {
		switch {
		case i > 0:
			b.WriteString(", (?, ?, ?, ?)")
		case s.dialect == Postgres:
			b.WriteString("(CAST(? AS bigint), CAST(? AS bigint), CAST(? AS text), CAST(? AS text))")
		default:
			b.WriteString("(?, ?, ?, ?)")
		}
		args = append(args, ev.ID, ev.Seq, ev.PrevHash, ev.Hash)
	}
	b.WriteString(") AS v WHERE a.id = v.column1 AND a.seq IS NULL")
	res := s.db.Exec(b.String(), args...)
	if res.Error != nil {
		return fmt.Errorf("audit: seal events %d..%d: %w", evs[0].Seq, evs[len(evs)-1].Seq, res.Error)
	}
	if res.RowsAffected != int64(len(evs)) {
		return fmt.Errorf("audit: sealed %d of events %d..%d; another sealer took some", res.RowsAffected, evs[0].Seq, evs[len(evs)-1].Seq)
	}
	return nil
}

// SealWaiting seals every stored event that is sealable now and reports how many it sealed.
// The sweep calls it, so events nobody waited for (a process stopped between its commit and its
// pass, say) are sealed within a tick.
func (s *Store) SealWaiting(ctx context.Context) (int, error) {
	total := 0
	for {
		var ids []int64
		if err := s.conn(ctx).Model(&AuditRow{}).Where("seq IS NULL").Limit(1).Pluck("id", &ids).Error; err != nil || len(ids) == 0 {
			return total, err
		}
		res, err := s.sealPass(ctx, nil)
		if err != nil {
			return total, err
		}
		total += len(res.sealed)
		if res.complete || len(res.sealed) == 0 {
			return total, nil
		}
	}
}

// AuditWaiting returns how many stored events wait to be sealed and the oldest one's time.
func (s *Store) AuditWaiting(ctx context.Context) (int64, time.Time, error) {
	var out struct {
		N      int64
		Oldest *time.Time
	}
	err := s.conn(ctx).Raw("SELECT count(*) AS n, min(at) AS oldest FROM audit_events WHERE seq IS NULL").Scan(&out).Error
	if err != nil || out.Oldest == nil {
		return out.N, time.Time{}, err
	}
	return out.N, out.Oldest.UTC(), nil
}

// UnsealedAudit returns up to limit events waiting to be sealed, oldest first, addressed by id.
func (s *Store) UnsealedAudit(ctx context.Context, limit int) ([]audit.Event, error) {
	var rows []AuditRow
	if err := s.conn(ctx).Where("seq IS NULL").Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	evs := make([]audit.Event, len(rows))
	for i, r := range rows {
		evs[i] = auditToDomain(r)
	}
	return evs, nil
}
