package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"gorm.io/gorm"
)

// The sealer extends the audit chain. A business change stores its event unsealed in its own
// transaction, when its work is done and right before its commit (flush), and holds no chain
// lock (AppendAudit); a check hands its event to the sealer and waits (SealAudit). One sealer
// runs per process, only while there is work: each pass is one transaction that takes the chain
// in turn with other processes' sealers (the head row's lock on PostgreSQL, the write lock on
// SQLite), seals the stored events no open writer of events with an older transaction id can
// still precede, in id order, then appends the checks' events, and moves the head. While no
// stored event waits, a pass of checks' events starts from the head this process last wrote,
// without reading it (appendPass): on PostgreSQL it is then one statement.
//
// On PostgreSQL a stored event is sealable once its writer's transaction id is below the
// horizon: every transaction with an older id that had stored events has then ended, so none
// of those can still commit an event that would belong before it. A transaction that has not
// stored its events yet (they are written right before its commit) holds nothing back, and its
// events follow those sealed meanwhile: the chain is close to the order of commits. On SQLite
// writers take turns on the whole database, so every committed event is sealable.
//
// The horizon is the transaction id of the oldest writer of this audit_events table still open
// (one holding its row-exclusive lock), read from pg_locks: transactions elsewhere on the server,
// in other databases or schemas, never hold sealing back. pg_locks lists every lock of every
// backend, so a pass first tries the snapshot's xmin, the oldest transaction open anywhere on
// the server, which is never above that horizon: when some waiting event is older, the pass
// seals those without reading pg_locks (and another pass follows for the rest).
//
// How long an event waits: normally until the next pass, a few milliseconds after its commit; at
// most as long as the longest write transaction on the database server that started before it
// and has stored an event (which an Elevate transaction does only right before its commit).
// The sweep (SealWaiting) seals what nobody waited for, such as events left by a process that
// stopped between its commit and the pass.
type sealer struct {
	db *Store // the pool, not a transaction
	// pass lets one pass of this process run at a time (bulk appends run beside the loop), so
	// passes of one process never race each other for the same events.
	pass sync.Mutex
	// head is the chain's head as this process's last pass left it, when headKnown (guarded by
	// pass): a pass with only checks' events to append starts from it without reading it
	// (appendPass). Any failure forgets it, and the next full pass reads it again.
	head      audit.Head
	headAt    time.Time
	headKnown bool

	mu      sync.Mutex
	direct  []*sealing    // events to append sealed (checks), in arrival order
	waiting []*awaiting   // committed transactions waiting to see their events sealed
	kicked  bool          // a transaction committed events since the last pass began
	wait    time.Duration // how long a committed transaction waits for its seal (SetSealWait)
	running bool
	last    time.Time     // when the last pass began
	wake    chan struct{} // ends a pause between passes (buffered, one)
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
	// actions are the stored events' actions, counted once the transaction commits.
	actions []string
	// queued and mails are the audit events and the messages the transaction stored, written
	// when its work is done (flush).
	queued []*audit.Event
	mails  []outboxRow
}

func (t *txEvents) add(id, txid int64, action string) {
	if t == nil {
		return
	}
	t.ids = append(t.ids, id)
	t.maxTxid = max(t.maxTxid, txid)
	t.actions = append(t.actions, action)
}

// pgHorizon is the id of the oldest transaction that still holds a row-exclusive lock on
// audit_events (it has stored an event and not ended), as a 64-bit transaction id, or the
// largest bigint when there is none. Sealer passes, which hold the head (a lock on audit_head)
// and store no unsealed event, do not count. pg_locks shows 32-bit ids; each is widened with the epoch
// of the snapshot's xmax, and transactions that started after the snapshot (whose events it
// cannot see) are left out. A pass reads it only when some event waits and none is below the
// snapshot's xmin. pg_locks is read once, grouped by transaction (a self-join of it took 3 to 4 ms
// with 1,400 locks held).
const pgHorizon = `COALESCE((
	WITH s AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax),
	     t AS (SELECT bool_or(l.locktype = 'relation' AND l.relation = 'audit_events'::regclass
	                          AND l.mode = 'RowExclusiveLock' AND l.granted) AS writes,
	                  bool_or(l.locktype = 'relation' AND l.relation = 'audit_head'::regclass) AS seals,
	                  max(b.back) FILTER (WHERE b.back BETWEEN 1 AND 2147483648) AS back
	           FROM pg_locks l CROSS JOIN s
	           CROSS JOIN LATERAL (SELECT CASE WHEN l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
	               THEN ((s.xmax % 4294967296) - l.transactionid::text::bigint + 4294967296) % 4294967296 END AS back) b
	           WHERE l.pid <> pg_backend_pid() AND (l.locktype = 'transactionid'
	               OR l.locktype = 'relation' AND l.relation IN ('audit_events'::regclass, 'audit_head'::regclass))
	           GROUP BY l.virtualtransaction)
	SELECT min(s.xmax - t.back) FROM t CROSS JOIN s WHERE t.writes AND NOT t.seals), 9223372036854775807)`

// Seal limits: events a pass takes, and the shortest gap between passes nobody waits for.
const (
	maxSealBatch = 1000
	kickedGap    = 10 * time.Millisecond
)

// sqliteInsertRows is how many events one INSERT takes on SQLite: it allows 32,766 parameters
// (17 a row) but binds long lists slowly.
const sqliteInsertRows = 200

// SetSealWait makes every transaction that stored audit events wait, at most d, until they are
// sealed, so a reader right after it finds them on the chain. The default, 0, waits for nothing:
// the change is committed with its event, and the sealer seals it moments later. Tests that
// read the trail right after a change set it.
func (s *Store) SetSealWait(d time.Duration) { s.seal.wait = d }

// kick starts a pass soon for events a transaction just committed, without waiting for it.
func (z *sealer) kick() {
	z.mu.Lock()
	z.kicked = true
	if !z.running {
		z.running = true
		go z.run()
	}
	z.mu.Unlock()
}

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

// await waits, at most z.wait, until the events of a committed transaction are sealed, by
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
	timer := time.NewTimer(z.wait)
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

// startLocked starts the loop, or wakes it from a pause between passes nobody waits for.
func (z *sealer) startLocked() {
	select {
	case z.wake <- struct{}{}:
	default:
	}
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
			if !z.kicked {
				z.running = false
				z.mu.Unlock()
				return
			}
			// Nobody waits for these: gather what commits meanwhile into fewer passes.
			if wait := kickedGap - time.Since(z.last); wait > 0 {
				z.mu.Unlock()
				// A check or a waiting change arriving meanwhile ends the pause.
				select {
				case <-time.After(wait):
				case <-z.wake:
				}
				continue
			}
		}
		z.kicked = false
		z.last = time.Now()
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
			if slices.Contains(waiters, w) && res.settles(w) {
				close(w.done)
				continue
			}
			kept = append(kept, w)
		}
		z.waiting = kept
		z.mu.Unlock()

		if err == nil && !res.complete {
			z.mu.Lock()
			z.kicked = true // more was sealable than one pass takes
			z.mu.Unlock()
		}
		if n == 0 && len(res.sealed) == 0 && len(waiters) > 0 {
			// Waiting on a writer still in flight, or on another process's sealer.
			time.Sleep(idle)
			idle = min(2*idle, 50*time.Millisecond)
		} else {
			idle = time.Millisecond
		}
	}
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
	// HeadLagSeq is the head's seal_lag_seq (see raiseLag).
	HeadLagSeq int64
	Horizon    int64
	// Exact is false when Horizon is the snapshot's xmin, below the horizon proper (see
	// pgHorizon): the pass then seals a part of what is sealable, and another pass follows.
	Exact bool
}

// sealPass is one sealer transaction: it seals the sealable stored events (at most
// maxSealBatch) in id order, then appends direct, and moves the head. A pass that raced another
// process's is made again. When no stored event waits and the head is the one this process
// last wrote, the pass is appendPass's single statement.
func (s *Store) sealPass(ctx context.Context, direct []*audit.Event) (sealResult, error) {
	s.seal.pass.Lock()
	defer s.seal.pass.Unlock()
	if len(direct) > 0 {
		ok, err := s.appendPass(ctx, direct)
		if ok || err != nil {
			// Nothing waited unsealed when it ran: every committed event is sealed.
			return sealResult{sealed: map[int64]bool{}, complete: true, horizon: math.MaxInt64}, err
		}
	}
	for try := 1; ; try++ {
		res, err := s.sealOnce(ctx, direct)
		if !errors.Is(err, errSealRace) || try == 20 {
			return res, err
		}
	}
}

func (s *Store) sealOnce(ctx context.Context, direct []*audit.Event) (sealResult, error) {
	res := sealResult{sealed: map[int64]bool{}}
	z := s.seal
	z.headKnown = false // until this pass has committed
	var (
		next   audit.Head
		nextAt time.Time
	)
	err := s.Tx(ctx, func(tx *Store) error {
		res = sealResult{sealed: map[int64]bool{}}
		// The head, the horizon and the unsealed rows come from one statement and snapshot; the
		// left join gives one row with an empty event when none waits.
		read := `SELECT e.*, h.seq AS head_seq, h.hash AS head_hash, h.at AS head_at, h.seal_lag_seq AS head_lag_seq,
			9223372036854775807 AS horizon, true AS exact
			FROM audit_head h LEFT JOIN (SELECT * FROM audit_events WHERE seq IS NULL ORDER BY id ` + limitClause(maxSealBatch) + `) e ON true
			WHERE h.id = 1 ORDER BY e.id`
		if tx.dialect == Postgres {
			read = `SELECT e.*, h.seq AS head_seq, h.hash AS head_hash, h.at AS head_at, h.seal_lag_seq AS head_lag_seq,
				x.horizon, x.exact
				FROM audit_head h
				CROSS JOIN (SELECT CASE WHEN NOT (w.below OR w.above) THEN 9223372036854775807
					WHEN w.below THEN w.xmin ELSE ` + pgHorizon + ` END AS horizon, NOT (w.below AND w.above) AS exact
					FROM (SELECT m.xmin, EXISTS (SELECT 1 FROM audit_events WHERE seq IS NULL AND txid < m.xmin) AS below,
							EXISTS (SELECT 1 FROM audit_events WHERE seq IS NULL AND txid >= m.xmin) AS above
						FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) m) w) x
				LEFT JOIN LATERAL (SELECT * FROM audit_events WHERE seq IS NULL AND txid < x.horizon ORDER BY id ` + limitClause(maxSealBatch) + `) e ON true
				WHERE h.id = 1 ORDER BY e.id FOR UPDATE OF h`
		}
		var rows []unsealedRow
		err := tx.db.Raw(read).Find(&rows).Error
		if err != nil {
			return fmt.Errorf("audit: read head and unsealed events: %w", err)
		}
		if len(rows) == 0 {
			return fmt.Errorf("audit: the chain's head row is missing")
		}
		head := AuditHeadRow{ID: 1, Seq: rows[0].HeadSeq, Hash: rows[0].HeadHash, At: rows[0].HeadAt}
		lagSeq := rows[0].HeadLagSeq
		res.horizon = rows[0].Horizon
		exact := rows[0].Exact
		if rows[0].ID == 0 {
			rows = rows[:0] // the left join's empty side
		}
		res.complete = len(rows) < maxSealBatch && exact
		if len(rows) == 0 && len(direct) == 0 {
			next, nextAt = audit.Head{Seq: head.Seq, Hash: head.Hash}, derefTime(head.At)
			return nil
		}

		sealedAt := tx.now().UTC().Truncate(time.Microsecond)
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
		for _, ev := range direct {
			if ev.At.IsZero() {
				ev.At = tx.now()
			}
			ev.Normalize()
			ev.Chain(seq, hash)
			ev.SealedAt = sealedAt
			seq, hash = ev.Seq, ev.Hash
		}
		next, nextAt = audit.Head{Seq: seq, Hash: hash}, sealedAt
		lag, counted := sealLag(sealedAt, stored, direct), head.Seq
		if lagSeq < head.Seq && head.Seq-lagSeq <= maxLagCatchUp {
			// An earlier version sealed events without counting their lag: count it now.
			var tail []int64
			if err := tx.db.Raw(`SELECT COALESCE(MAX(`+sealLagSQL(tx.dialect)+`), 0) FROM audit_events WHERE seq > ? AND seq <= ?`,
				lagSeq, head.Seq).Find(&tail).Error; err != nil {
				return fmt.Errorf("audit: seal lag of events %d..%d: %w", lagSeq+1, head.Seq, err)
			}
			if len(tail) == 1 {
				lag, counted = max(lag, tail[0]), lagSeq
			}
		}
		return tx.sealWrite(head.Seq, stored, direct, next, sealedAt, lagCount{lag: lag, from: counted})
	})
	if err != nil {
		unchain(direct)
		return sealResult{}, err
	}
	z.head, z.headAt, z.headKnown = next, nextAt, true
	return res, nil
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// unchain takes back the places a pass gave evs and did not write.
func unchain(evs []*audit.Event) {
	for _, ev := range evs {
		ev.Seq, ev.PrevHash, ev.Hash, ev.SealedAt = 0, "", "", time.Time{}
	}
}

// appendPass appends direct after the head this process's last pass left, without reading the
// head first, and reports whether it did. It moves the head only if the head is still that one
// and no stored event waits unsealed, and inserts the events only if it moved the head: on
// PostgreSQL all in one statement, its own transaction, so one round trip; on SQLite in one
// transaction. When a condition fails nothing is written and ok is false: another process
// sealed since, or stored events wait, and a full pass (sealOnce) follows.
//
// A check waits for a pass to end and then for the next one, so the pass's round trips are
// most of a check's time: a full pass takes four on PostgreSQL (BEGIN, the read, the write,
// COMMIT).
func (s *Store) appendPass(ctx context.Context, direct []*audit.Event) (ok bool, err error) {
	z := s.seal
	if !z.headKnown {
		return false, nil
	}
	z.headKnown = false // until this pass is known to have committed
	sealedAt := s.now().UTC().Truncate(time.Microsecond)
	if sealedAt.Before(z.headAt) {
		sealedAt = z.headAt
	}
	prev := z.head
	seq, hash := prev.Seq, prev.Hash
	for _, ev := range direct {
		if ev.At.IsZero() {
			ev.At = s.now()
		}
		ev.Normalize()
		ev.Chain(seq, hash)
		ev.SealedAt = sealedAt
		seq, hash = ev.Seq, ev.Hash
	}
	head := audit.Head{Seq: seq, Hash: hash}
	lag := lagCount{lag: sealLag(sealedAt, nil, direct), from: prev.Seq}
	var n int64
	if s.dialect == Postgres {
		n, err = s.appendPostgres(ctx, prev, head, sealedAt, lag, direct)
	} else {
		n, err = s.appendSQLite(ctx, prev, head, sealedAt, lag, direct)
	}
	switch {
	case err != nil:
		unchain(direct)
		return false, fmt.Errorf("audit: append events %d..%d: %w", prev.Seq+1, head.Seq, err)
	case n == 0:
		unchain(direct)
		return false, nil
	case n != int64(len(direct)):
		unchain(direct)
		return false, fmt.Errorf("audit: appended %d of %d events", n, len(direct))
	}
	z.head, z.headAt, z.headKnown = head, sealedAt, true
	return true, nil
}

// appendHeadMove moves the head from prev to the next head, raising its lag (raiseLag), on the
// conditions of appendPass.
const appendHeadMove = `UPDATE audit_head SET seq = ?, hash = ?, at = ?, ` + raiseLag + `
	WHERE id = 1 AND seq = ? AND hash = ? AND NOT EXISTS (SELECT 1 FROM audit_events WHERE seq IS NULL)`

// directInsert inserts sealed events from one array a column (directColumns), their sealed_at
// bound once; %s names what the arrays are read beside.
const directInsert = `INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_name, action, target_type, target_id,
		request_id, subject_id, outcome, details, ip, user_agent, prev_hash, hash, sealed_at)
	SELECT e.*, CAST(? AS timestamptz) FROM %s unnest(CAST(? AS bigint[]), CAST(? AS timestamptz[]),
		CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
		CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
		CAST(? AS text[]), CAST(? AS text[])) AS e`

// appendPostgresSQL is appendPass's statement on PostgreSQL: the head's move, then the events
// from one array a column, inserted only once the move returned its row. One text for every
// batch size keeps one prepared statement a connection.
var appendPostgresSQL = positional(Postgres, `WITH moved AS (`+appendHeadMove+` RETURNING 1)
	`+fmt.Sprintf(directInsert, "moved,"))

// sealPostgresSQL are sealWrite's statements on PostgreSQL, by what the pass writes (0: nothing
// but the head, 1: stored events, 2: direct events, 3: both): the stored events sealed from
// arrays of their ids, seqs and hashes (the one update the triggers allow on an unsealed row),
// the direct events inserted as appendPostgresSQL inserts them, and the head moved from its
// previous seq, counting the pass's lag (raiseLag). Listed as VALUES, each batch size was a
// statement of its own to parse and plan afresh; from arrays each shape is prepared and planned
// once a connection. A part with nothing to write is left out rather than given empty arrays:
// an UPDATE or INSERT of no rows still opens every index of audit_events.
var sealPostgresSQL = func() [4]string {
	const seal = `sealed AS (UPDATE audit_events AS a
		SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash, sealed_at = CAST(? AS timestamptz)
		FROM unnest(CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[])) AS v(id, seq, prev_hash, hash)
		WHERE a.id = v.id AND a.seq IS NULL RETURNING 1)`
	insert := `inserted AS (` + fmt.Sprintf(directInsert, "") + ` RETURNING 1)`
	const move = ` UPDATE audit_head SET seq = ?, hash = ?, at = ?, ` + raiseLag + ` WHERE id = 1 AND seq = ?
	RETURNING (SELECT count(*) FROM sealed) AS sealed, (SELECT count(*) FROM inserted) AS inserted`
	none := func(name string) string { return name + ` AS (SELECT 1 WHERE false)` }
	var out [4]string
	out[0] = positional(Postgres, `WITH `+none("sealed")+`, `+none("inserted")+move)
	out[1] = positional(Postgres, `WITH `+seal+`, `+none("inserted")+move)
	out[2] = positional(Postgres, `WITH `+none("sealed")+`, `+insert+move)
	out[3] = positional(Postgres, `WITH `+seal+`, `+insert+move)
	return out
}()

func (s *Store) appendPostgres(ctx context.Context, prev, head audit.Head, sealedAt time.Time, lag lagCount, evs []*audit.Event) (int64, error) {
	args := append([]any{head.Seq, head.Hash, sealedAt}, lag.args(head.Seq)...)
	args = append(args, prev.Seq, prev.Hash, sealedAt)
	args = append(args, directColumns(evs)...)
	pool := s.db.Statement.ConnPool
	if pool == nil {
		return 0, gorm.ErrInvalidDB
	}
	s.counts.statement()
	res, err := pool.ExecContext(ctx, appendPostgresSQL, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// directColumns are events to insert sealed as the arrays directInsert takes: their seqs, their
// times, and each text column from actor_type to hash.
func directColumns(evs []*audit.Event) []any {
	n := len(evs)
	seqs, ats := make([]int64, n), make([]time.Time, n)
	text := make([][]string, 14)
	for i := range text {
		text[i] = make([]string, n)
	}
	for i, ev := range evs {
		seqs[i], ats[i] = ev.Seq, ev.At
		for j, v := range [...]string{ev.ActorType, ev.ActorID, ev.ActorName, ev.Action, ev.TargetType, ev.TargetID,
			ev.RequestID, ev.SubjectID, ev.Outcome, ev.Details, ev.IP, ev.UserAgent, ev.PrevHash, ev.Hash} {
			text[j][i] = v
		}
	}
	args := []any{seqs, ats}
	for _, col := range text {
		args = append(args, col)
	}
	return args
}

func (s *Store) appendSQLite(ctx context.Context, prev, head audit.Head, sealedAt time.Time, lag lagCount, evs []*audit.Event) (int64, error) {
	var n int64
	err := s.Tx(ctx, func(tx *Store) error {
		args := append([]any{head.Seq, head.Hash, sealedAt}, lag.args(head.Seq)...)
		moved := tx.db.Exec(appendHeadMove, append(args, prev.Seq, prev.Hash)...)
		if moved.Error != nil || moved.RowsAffected != 1 {
			return moved.Error
		}
		for chunk := range slices.Chunk(evs, sqliteInsertRows) {
			insert, args := auditInsert(chunk)
			res := tx.db.Exec(insert, args...)
			if res.Error != nil {
				return res.Error
			}
			n += res.RowsAffected
		}
		return nil
	})
	return n, err
}

// errSealRace is a pass that found some of its events sealed by another process's pass, which
// took the head while this one waited for it; the pass is made again.
var errSealRace = errors.New("audit: another sealer sealed some of these events first")

// sealWrite writes one pass: it seals the stored events (seq, prev_hash, hash and sealed_at, the
// one update the triggers allow on an unsealed row), appends the direct events, and moves the
// head from prevSeq to head, counting the pass's lag on it (raiseLag). On PostgreSQL that is one
// statement; on SQLite, and for bulk loads too large for one statement's parameters, three.
func (s *Store) sealWrite(prevSeq int64, stored []audit.Event, direct []*audit.Event, head audit.Head, sealedAt time.Time, lag lagCount) error {
	moveArgs := append(append([]any{head.Seq, head.Hash, sealedAt}, lag.args(head.Seq)...), prevSeq)

	if s.dialect == Postgres && len(direct) <= maxSealBatch {
		var args []any
		if len(stored) > 0 {
			n := len(stored)
			ids, seqs, prevs, hashes := make([]int64, n), make([]int64, n), make([]string, n), make([]string, n)
			for i, ev := range stored {
				ids[i], seqs[i], prevs[i], hashes[i] = ev.ID, ev.Seq, ev.PrevHash, ev.Hash
			}
			args = append(args, sealedAt, ids, seqs, prevs, hashes)
		}
		if len(direct) > 0 {
			args = append(append(args, sealedAt), directColumns(direct)...)
		}
		q := sealPostgresSQL[min(len(stored), 1)+2*min(len(direct), 1)]
		rows, err := s.queryPositional(s.db.Statement.Context, q, append(args, moveArgs...)...)
		if err != nil {
			return fmt.Errorf("audit: seal events up to %d: %w", head.Seq, err)
		}
		defer rows.Close()
		// The head's move returns one row, or none when another process moved it first.
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return fmt.Errorf("audit: seal events up to %d: %w", head.Seq, err)
			}
			return fmt.Errorf("audit: head moved concurrently at %d", prevSeq)
		}
		var sealed, inserted int
		if err := rows.Scan(&sealed, &inserted); err != nil {
			return fmt.Errorf("audit: seal events up to %d: %w", head.Seq, err)
		}
		switch {
		case sealed != len(stored):
			return errSealRace
		case inserted != len(direct):
			return fmt.Errorf("audit: appended %d of %d events", inserted, len(direct))
		}
		return rows.Close()
	}

	var seal, insert string
	var sealArgs, insertArgs []any
	if len(stored) > 0 {
		seal, sealArgs = s.sealStatement(stored, sealedAt)
	}
	if seal != "" {
		res := s.db.Exec(seal, sealArgs...)
		if res.Error != nil {
			return fmt.Errorf("audit: seal events %d..%d: %w", stored[0].Seq, stored[len(stored)-1].Seq, res.Error)
		}
		if res.RowsAffected != int64(len(stored)) {
			return errSealRace
		}
	}
	// 17 columns a row: 2,000 rows stay under PostgreSQL's 65,535 parameters.
	size := 2000
	if s.dialect == SQLite {
		size = sqliteInsertRows
	}
	for chunk := range slices.Chunk(direct, size) {
		insert, insertArgs = auditInsert(chunk)
		if err := s.db.Exec(insert, insertArgs...).Error; err != nil {
			return fmt.Errorf("audit: insert events %d..%d: %w", chunk[0].Seq, chunk[len(chunk)-1].Seq, err)
		}
	}
	moved := s.db.Exec(`UPDATE audit_head SET seq = ?, hash = ?, at = ?, `+raiseLag+` WHERE id = 1 AND seq = ?`, moveArgs...)
	if moved.Error != nil {
		return fmt.Errorf("audit: move head: %w", moved.Error)
	}
	if moved.RowsAffected != 1 {
		return fmt.Errorf("audit: head moved concurrently at %d", prevSeq)
	}
	return nil
}

// raiseLag counts a pass's lag on the head (migration 0028): seal_lag_us becomes the larger of
// itself and the pass's lag, and seal_lag_seq, up to which every event's lag is counted, moves to
// the new head when it was where the pass's count starts. An earlier version seals without
// counting; after it, seal_lag_seq stays behind until a full pass counts the events it sealed
// (at most maxLagCatchUp of them), and until then searches by time are not narrowed.
const raiseLag = `seal_lag_us = CASE WHEN seal_lag_us < ? THEN ? ELSE seal_lag_us END,
	seal_lag_seq = CASE WHEN seal_lag_seq = ? THEN ? ELSE seal_lag_seq END`

// maxLagCatchUp is how many events sealed by an earlier version a full pass counts the lag of,
// holding the head: more are left uncounted, and searches by time unnarrowed.
const maxLagCatchUp = 100_000

// lagCount is a pass's lag, in microseconds, and the seal_lag_seq from which it counts.
type lagCount struct{ lag, from int64 }

// args are raiseLag's values for a pass that moves the head to seq.
func (c lagCount) args(seq int64) []any { return []any{c.lag, c.lag, c.from, seq} }

// sealLagSQL is the SQL expression of an audit event's lag in whole microseconds, plus a second
// for the rounding of SQLite's date arithmetic.
func sealLagSQL(dialect string) string {
	if dialect == SQLite {
		return `CAST(ABS(julianday(sealed_at) - julianday(at)) * 86400000000 AS integer) + 1000000`
	}
	return `CAST(CEIL(ABS(EXTRACT(EPOCH FROM (sealed_at - at))) * 1000000) AS bigint) + 1000000`
}

// sealLag is how far apart the times of a pass's events and its sealing time lie at most, either
// way, in microseconds rounded up.
func sealLag(sealedAt time.Time, stored []audit.Event, direct []*audit.Event) int64 {
	var lag time.Duration
	for _, ev := range stored {
		lag = max(lag, sealedAt.Sub(ev.At).Abs())
	}
	for _, ev := range direct {
		lag = max(lag, sealedAt.Sub(ev.At).Abs())
	}
	return int64((lag + time.Microsecond - 1) / time.Microsecond)
}

// sealStatement is the one UPDATE that seals stored events: seq, prev_hash, hash and sealed_at,
// the one update the triggers allow on an unsealed row.
func (s *Store) sealStatement(stored []audit.Event, sealedAt time.Time) (string, []any) {
	var b strings.Builder
	args := append(make([]any, 0, 1+4*len(stored)), sealedAt)
	b.WriteString(`UPDATE audit_events AS a SET seq = v.column2, prev_hash = v.column3, hash = v.column4, sealed_at = ? FROM (VALUES `)
	for i, ev := range stored {
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
	// "+a.seq" keeps SQLite from walking every unsealed row against the list (through the seq
	// index) instead of looking each listed id up by its key.
	b.WriteString(") AS v WHERE a.id = v.column1 AND +a.seq IS NULL")
	return b.String(), args
}

// auditInsert is one INSERT of sealed events.
func auditInsert(evs []*audit.Event) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 17*len(evs))
	b.WriteString(`INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_name, action, target_type, target_id,
		request_id, subject_id, outcome, details, ip, user_agent, prev_hash, hash, sealed_at) VALUES `)
	for i, ev := range evs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, ev.Seq, ev.At, ev.ActorType, ev.ActorID, ev.ActorName, ev.Action, ev.TargetType, ev.TargetID,
			ev.RequestID, ev.SubjectID, ev.Outcome, ev.Details, ev.IP, ev.UserAgent, ev.PrevHash, ev.Hash, ev.SealedAt)
	}
	return b.String(), args
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

// AuditWaiting returns how many stored events wait to be sealed and the first one's time.
func (s *Store) AuditWaiting(ctx context.Context) (int64, time.Time, error) {
	var n int64
	if err := s.conn(ctx).Model(&AuditRow{}).Where("seq IS NULL").Count(&n).Error; err != nil || n == 0 {
		return n, time.Time{}, err
	}
	// The column read as itself: an aggregate such as min(at) comes back from SQLite as text.
	var first []AuditRow
	if err := s.conn(ctx).Select("at").Where("seq IS NULL").Order("id").Limit(1).Find(&first).Error; err != nil || len(first) == 0 {
		return n, time.Time{}, err
	}
	return n, first[0].At.UTC(), nil
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
