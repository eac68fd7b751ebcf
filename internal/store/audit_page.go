package store

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
)

// auditKeyset is a page query over audit_events: f's equality filters, its action expanded to
// the action's old names, and an open sequence range lo < seq < hi.
type auditKeyset struct {
	eq     []auditCol // equality filters, the leading index's columns first
	lead   int        // how many of eq lead an index (col…, seq); 0: the primary key serves
	names  []string   // the action's stored names when there are several (action IN …)
	lo, hi int64
	// since and until bound at itself (zero: unbounded). An event sealed late has a later seq
	// than events stored after it, so a time range is no sequence range.
	since, until time.Time
	// sqlite is true on SQLite; elsewhere (PostgreSQL) seqsSQL writes the last leading column
	// as a range. byTime, on SQLite only, has the walk name audit_events_at_seq_idx instead of
	// the sequence (auditSeqRange decides).
	sqlite, byTime bool
}

type auditCol struct{ col, v string }

// auditLeads are the (columns…, seq) indexes of migration 0006 a filter can walk, the most
// selective first: the first whose columns the filter names all leads the page's query.
var auditLeads = [][]string{
	{"request_id"}, {"target_type", "target_id"}, {"target_id"}, {"actor_id"}, {"actor_name"},
	{"action"}, {"target_type"}, {"outcome"},
}

// newAuditKeyset plans f's pages. empty is true when its time range is empty.
func (s *Store) newAuditKeyset(f audit.Filter) (k auditKeyset, empty bool) {
	k.lo, k.hi, k.sqlite = 0, math.MaxInt64, s.dialect == SQLite
	have := map[string]string{}
	for _, c := range [...]auditCol{
		{"request_id", f.RequestID}, {"target_type", f.TargetType}, {"target_id", f.TargetID},
		{"actor_id", f.ActorID}, {"actor_name", f.ActorName}, {"outcome", f.Outcome},
	} {
		if c.v != "" {
			have[c.col] = c.v
		}
	}
	// A renamed action's events stay under their old name (the chain forbids rewriting them).
	if names := audit.ExpandAction(f.Action); len(names) == 1 {
		have["action"] = names[0]
	} else if len(names) > 1 {
		k.names = names
	}
	for _, cols := range auditLeads {
		if !all(cols, have) {
			continue
		}
		for _, c := range cols {
			k.eq = append(k.eq, auditCol{c, have[c]})
			delete(have, c)
		}
		k.lead = len(cols)
		break
	}
	for _, c := range [...]string{"request_id", "target_type", "target_id", "actor_id", "actor_name", "action", "outcome"} {
		if v, ok := have[c]; ok {
			k.eq = append(k.eq, auditCol{c, v})
		}
	}
	k.since, k.until = f.Since.UTC(), f.Until.UTC()
	if !f.Since.IsZero() && !f.Until.IsZero() && !k.since.Before(k.until) {
		return k, true
	}
	return k, false
}

func all(cols []string, have map[string]string) bool {
	for _, c := range cols {
		if _, ok := have[c]; !ok {
			return false
		}
	}
	return true
}

// seqsSQL returns a statement selecting the sequence numbers of at most limit matching events
// with lo < seq < hi, the newest first (or the oldest, when asc), and its arguments.
//
// It walks one (columns…, seq) index in order and, without a time range, reads no other row
// (a time range is checked on each row the walk meets). The leading columns are
// named in ORDER BY and, on PostgreSQL, the last of them is written as a range
// (col >= v AND col <= v): with col = v, PostgreSQL drops the constant column from the order,
// finds the seq index as good, and for a common action walks it back past
// every newer event (every check since). SQLite walks the index for col = v, and would not
// search a second column after a range. An action with several stored names is one such walk
// per name, merged.
func (k auditKeyset) seqsSQL(lo, hi int64, asc bool, limit int) (string, []any) {
	dir := " DESC"
	if asc {
		dir = ""
	}
	leg := func(eq []auditCol, lead int) (string, []any) {
		var where, order []string
		var args []any
		for i, c := range eq {
			if i == lead-1 && !k.sqlite {
				where = append(where, c.col+" >= ? AND "+c.col+" <= ?")
				args = append(args, c.v, c.v)
				order = append(order, c.col+dir)
			} else if i < lead {
				where = append(where, c.col+" = ?")
				args = append(args, c.v)
				order = append(order, c.col+dir)
			} else {
				where = append(where, c.col+" = ?")
				args = append(args, c.v)
			}
		}
		if len(k.names) > 0 && (lead == 0 || eq[0].col != "action") {
			// Several names with another lead: a filter on the rows that lead finds.
			where = append(where, "action IN ?")
			args = append(args, k.names)
		}
		if !k.since.IsZero() {
			where = append(where, "at >= ?")
			args = append(args, k.since)
		}
		if !k.until.IsZero() {
			where = append(where, "at < ?")
			args = append(args, k.until)
		}
		where = append(where, "seq > ? AND seq < ?")
		args = append(args, lo, hi)
		order = append(order, "seq"+dir)
		from := "audit_events"
		if k.byTime {
			// The index is partial (seq IS NOT NULL); the seq bounds below imply that, without
			// which SQLite would refuse the statement rather than plan it some other way.
			from += " INDEXED BY audit_events_at_seq_idx"
		}
		return "SELECT seq FROM " + from + " WHERE " + strings.Join(where, " AND ") +
			" ORDER BY " + strings.Join(order, ", ") + " " + limitClause(limit), args
	}
	if len(k.names) == 0 || k.lead > 0 {
		return leg(k.eq, k.lead)
	}
	var legs []string
	var args []any
	for i, name := range k.names {
		q, a := leg(append([]auditCol{{"action", name}}, k.eq...), 1)
		legs = append(legs, "SELECT seq FROM ("+q+") k"+itoa(i))
		args = append(args, a...)
	}
	return "SELECT seq FROM (" + strings.Join(legs, " UNION ALL ") + ") k ORDER BY seq" + dir + " " + limitClause(limit), args
}

func itoa(n int) string { return strconv.Itoa(n) }

// events returns the matching events with lo < seq < hi, at most limit, newest first (or
// oldest first, when asc): the sequence numbers from their index, then those rows by key.
func (k auditKeyset) events(db *gorm.DB, lo, hi int64, asc bool, limit int) ([]audit.Event, error) {
	q, args := k.seqsSQL(lo, hi, asc, limit)
	order := "seq DESC"
	if asc {
		order = "seq"
	}
	var rows []AuditRow
	if err := db.Raw("SELECT * FROM audit_events WHERE seq IN ("+q+") ORDER BY "+order, args...).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]audit.Event, len(rows))
	for i, r := range rows {
		out[i] = auditToDomain(r)
	}
	return out, nil
}

// auditSeqRange narrows k's sequence range to the stretch of the chain where the events of its
// time range lie, so that a search by time walks that stretch and not every newer event. Sealing
// times never decrease along the chain, and no event's time lies further than the head's
// seal_lag_us from its sealing time (migration 0028): an event with since <= at < until has
// since-lag <= sealed_at < until+lag. A binary search over seq finds each end of that stretch,
// probing the seq index twice a step (about 20 steps for a million events). While events sealed
// by an earlier version wait to be counted (raiseLag), the range is left as it is. On SQLite it
// also chooses how the stretch is walked (byTime), given the time now.
func auditSeqRange(db *gorm.DB, k *auditKeyset, now time.Time) error {
	head, err := readSealLag(db)
	if err != nil {
		return err
	}
	if head.SealLagSeq < head.Seq {
		return nil
	}
	lag := head.lag()
	var ctes, cols []string
	var args []any
	// A step probes the middle seq; a seq with no event (there are none on a whole chain) counts
	// as past the bound at the range's start and before it at its end, which can only widen the
	// stretch. Each search ends with b the first seq at or past its bound.
	search := func(name string, missing bool, bound time.Time) {
		before := fmt.Sprintf("COALESCE((SELECT sealed_at FROM audit_events WHERE seq = (a + b) / 2) < ?, %t)", missing)
		ctes = append(ctes, name+`(a, b) AS (SELECT CAST(0 AS bigint), CAST(? AS bigint)
			UNION ALL SELECT CASE WHEN `+before+` THEN (a + b) / 2 ELSE a END,
				CASE WHEN `+before+` THEN b ELSE (a + b) / 2 END FROM `+name+` WHERE b - a > 1)`)
		cols = append(cols, "(SELECT b FROM "+name+" WHERE b - a <= 1) AS "+name)
		args = append(args, head.Seq+1, bound.UTC(), bound.UTC())
	}
	if !k.since.IsZero() {
		search("from_seq", false, k.since.Add(-lag))
	}
	if !k.until.IsZero() {
		search("past_seq", true, k.until.Add(lag))
	}
	var out struct{ FromSeq, PastSeq *int64 }
	q := "WITH RECURSIVE " + strings.Join(ctes, ", ") + " SELECT " + strings.Join(cols, ", ")
	if err := db.Raw(q, args...).Find(&out).Error; err != nil {
		return fmt.Errorf("audit time range: %w", err)
	}
	if out.FromSeq != nil {
		k.lo = max(k.lo, *out.FromSeq-1)
	}
	if out.PastSeq != nil {
		k.hi = min(k.hi, *out.PastSeq)
	}
	// Walking that stretch newest first passes the events sealed after the range, up to a lag
	// after it (or up to now), before it meets the range's own. When the range is shorter than
	// that, it has fewer events than the walk would pass, so it is read by time instead and its
	// newest taken. PostgreSQL weighs the two walks by itself; SQLite, without statistics, always
	// walked the sequence (an hour in the middle of a 50-hour lag took 83 ms a page over 300,000
	// events, against under 1 ms for a range that ends near now).
	if k.sqlite && len(k.eq) == 0 && len(k.names) == 0 && !k.since.IsZero() && !k.until.IsZero() {
		passed := min(lag, now.Sub(k.until))
		k.byTime = k.until.Sub(k.since) < passed
	}
	return nil
}

// exists reports whether any matching event has lo < seq < hi.
func (k auditKeyset) exists(db *gorm.DB, lo, hi int64) (bool, error) {
	q, args := k.seqsSQL(lo, hi, false, 1)
	var seqs []int64
	err := db.Raw(q, args...).Find(&seqs).Error
	return len(seqs) > 0, err
}

// AuditPage returns one keyset page of events matching f, newest first: the page just older
// than f.Before, the page just newer than f.After, or the newest page. Each query walks the
// filter's (column, seq) index from the page's edge and reads only the rows it shows.
func (s *Store) AuditPage(ctx context.Context, f audit.Filter) (audit.Page, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	var p audit.Page
	k, empty := s.newAuditKeyset(f)
	if empty {
		return p, nil
	}
	db := s.conn(ctx)
	if !k.since.IsZero() || !k.until.IsZero() {
		if err := auditSeqRange(db, &k, s.now()); err != nil {
			return p, err
		}
	}
	if f.After > 0 {
		evs, err := k.events(db, max(k.lo, f.After), k.hi, true, f.Limit+1)
		if err != nil {
			return p, err
		}
		p.HasNewer = len(evs) > f.Limit
		evs = evs[:min(len(evs), f.Limit)]
		slices.Reverse(evs)
		p.Events = evs
		oldest := f.After + 1
		if len(evs) > 0 {
			oldest = evs[len(evs)-1].Seq
		}
		p.HasOlder, err = k.exists(db, k.lo, min(k.hi, oldest))
		return p, err
	}
	hi := k.hi
	if f.Before > 0 {
		hi = min(hi, f.Before)
	}
	evs, err := k.events(db, k.lo, hi, false, f.Limit+1)
	if err != nil {
		return p, err
	}
	p.HasOlder = len(evs) > f.Limit
	p.Events = evs[:min(len(evs), f.Limit)]
	if f.Before > 0 {
		newest := f.Before - 1
		if len(p.Events) > 0 {
			newest = p.Events[0].Seq
		}
		p.HasNewer, err = k.exists(db, max(k.lo, newest), k.hi)
	}
	return p, err
}

// AuditEventAt returns the event with sequence number seq, whether a later event exists, and
// the names of what it refers to (audit.Event.Refs, read as AuditNames reads them): all the
// event page needs (the head row, which writers lock, stays unread), in one statement on
// PostgreSQL and two on SQLite.
func (s *Store) AuditEventAt(ctx context.Context, seq int64) (audit.Event, bool, map[audit.Ref]audit.Name, error) {
	q := eventAtSQL
	if s.dialect == SQLite {
		// SQLite runs the names' dozen branches as scans of their tables (205 pages/s against
		// 1,212 with the names read apart, measured side by side): it reads the names apart.
		q = `SELECT ` + eventColumns + `, ` + hasNextColumn + `,
			NULL AS n_type, NULL AS n_id, NULL AS n_name, NULL AS n_detail FROM audit_events e WHERE e.seq = @seq`
	}
	rows, err := s.queryDirect(ctx, q, map[string]any{"seq": seq})
	if err != nil {
		return audit.Event{}, false, nil, err
	}
	defer rows.Close()
	var (
		r       AuditRow
		hasNext bool
		n       int
		names   = map[audit.Ref]audit.Name{}
	)
	for rows.Next() {
		var typ, id, name, detail *string
		if err := rows.Scan(&r.ID, &r.Seq, &r.At, &r.ActorType, &r.ActorID, &r.ActorName, &r.Action, &r.TargetType, &r.TargetID,
			&r.RequestID, &r.SubjectID, &r.Outcome, &r.Details, &r.IP, &r.UserAgent, &r.PrevHash, &r.Hash, &r.SealedAt,
			&hasNext, &typ, &id, &name, &detail); err != nil {
			return audit.Event{}, false, nil, err
		}
		if typ != nil && id != nil {
			names[audit.Ref{Type: *typ, ID: *id}] = audit.Name{Name: deref(name), Detail: deref(detail)}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return audit.Event{}, false, nil, err
	}
	if n == 0 {
		return audit.Event{}, false, nil, pam.Errorf(pam.ENOTFOUND, "Audit event not found.")
	}
	e := auditToDomain(r)
	if s.dialect == SQLite {
		rows.Close()
		names, err = s.AuditNames(ctx, e.Refs())
	}
	return e, hasNext, names, err
}

// hasNextColumn is true when a newer sealed event than e exists: a comparison with the highest seq,
// which both databases read from the end of the seq index. A condition on x.seq > e.seq let
// PostgreSQL's generic plan scan the table from its oldest row up to e.
const hasNextColumn = `e.seq < (SELECT MAX(x.seq) FROM audit_events x WHERE x.seq IS NOT NULL) AS has_next`

// eventColumns are the columns of audit_events e that AuditEventAt scans, in its order.
const eventColumns = `e.id, e.seq, e.at, e.actor_type, e.actor_id, e.actor_name, e.action, e.target_type, e.target_id,
	e.request_id, e.subject_id, e.outcome, e.details, e.ip, e.user_agent, e.prev_hash, e.hash, e.sealed_at`

// eventAtSQL is AuditEventAt's statement: the event, and one row for each name of what it refers
// to (refs, as audit.Event.Refs lists them), each kind read by its nameSources query.
var eventAtSQL = func() string {
	types := slices.Sorted(maps.Keys(nameSources))
	parts := make([]string, len(types))
	for i, typ := range types {
		in := "IN (SELECT id FROM refs WHERE type = '" + typ + "')"
		parts[i] = fmt.Sprintf(`SELECT '%s' AS type, id, name, detail FROM (%s) n_%s`, typ, strings.ReplaceAll(nameSources[typ], "IN @"+typ, in), typ)
	}
	return `WITH e AS (SELECT * FROM audit_events WHERE seq = @seq),
		refs AS (SELECT target_type AS type, target_id AS id FROM e WHERE target_id <> ''
			UNION ALL SELECT 'request', request_id FROM e WHERE request_id <> ''
			UNION ALL SELECT 'user', actor_id FROM e WHERE actor_id <> '' AND actor_type = '` + audit.ActorUser + `')
		SELECT ` + eventColumns + `, ` + hasNextColumn + `,
			n.type AS n_type, n.id AS n_id, n.name AS n_name, n.detail AS n_detail
		FROM e LEFT JOIN (` + strings.Join(parts, " UNION ALL ") + `) n ON 1 = 1`
}()
