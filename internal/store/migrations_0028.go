package store

import "gorm.io/gorm"

// m0028 keeps on the chain's head how far apart an event's time and its sealing time have ever
// been, either way, in microseconds (seal_lag_us), and the seq up to which that counts every event
// (seal_lag_seq; see raiseLag). Sealing times never decrease along the chain, so an event of a
// time range lies between the first events sealed a lag before the range and a lag after it: a
// search by time walks that stretch of the chain instead of every newer event (auditSeqRange).
// The events already sealed are counted here, plus a second for the rounding of SQLite's date
// arithmetic; the read holds the head, so checks wait while it reads every sealed event once.
func m0028(tx *gorm.DB, dialect string) error {
	lag := `CAST(CEIL(ABS(EXTRACT(EPOCH FROM (sealed_at - at))) * 1000000) AS bigint)`
	if dialect == SQLite {
		lag = `CAST(ABS(julianday(sealed_at) - julianday(at)) * 86400000000 AS integer)`
	}
	return execAll(tx, dialect, []string{
		`ALTER TABLE audit_head ADD COLUMN seal_lag_us bigint NOT NULL DEFAULT 0`,
		`ALTER TABLE audit_head ADD COLUMN seal_lag_seq bigint NOT NULL DEFAULT 0`,
		`UPDATE audit_head SET seal_lag_seq = seq,
			seal_lag_us = 1000000 + COALESCE((SELECT MAX(` + lag + `) FROM audit_events WHERE seq IS NOT NULL), 0)`,
	})
}
