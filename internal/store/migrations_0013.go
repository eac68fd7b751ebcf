package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// m0013 adds the dashboard's daily rollup (one row per closed UTC day, see WriteDailyStats),
// the two range indexes it reads requests by, and backfills every closed day already past.
func m0013(tx *gorm.DB, dialect string) error {
	if err := execAll(tx, dialect, []string{
		`CREATE TABLE daily_stats (
			day varchar(10) PRIMARY KEY,
			created integer NOT NULL,
			approved integer NOT NULL,
			denied integer NOT NULL,
			timed_out integer NOT NULL,
			withdrawn integer NOT NULL,
			cancelled integer NOT NULL,
			decision_minutes text NOT NULL,
			scopes text NOT NULL,
			written_at {ts} NOT NULL)`,
		`CREATE INDEX requests_created_at_idx ON requests (created_at)`,
		`CREATE INDEX requests_decided_at_idx ON requests (decided_at)`,
	}); err != nil {
		return err
	}
	_, err := writeDailyStats(txConn{tx}, context.Background(), time.Now())
	return err
}

// txConn lets a migration's transaction run the store's shared queries.
type txConn struct{ db *gorm.DB }

func (t txConn) conn(context.Context) *gorm.DB { return t.db }
