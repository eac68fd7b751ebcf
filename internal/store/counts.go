package store

import (
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// Counts is how much a Store has asked of its database since it was opened: the statements it
// ran, and the round trips they took, a transaction's BEGIN and its COMMIT or ROLLBACK included
// (a statement inserting many rows is one statement and one round trip).
type Counts struct {
	Statements uint64
	RoundTrips uint64
}

// counter is shared by a Store and every transaction handle made from it. It costs two atomic
// additions a statement, so it stays on in production: /metrics exports it and `make bench`
// reads it around each measurement.
type counter struct {
	statements atomic.Uint64
	roundTrips atomic.Uint64
	// events counts the audit events of committed business transactions by action.
	mu     sync.Mutex
	events map[string]uint64
}

// committed counts the actions of a transaction's events after it committed.
func (c *counter) committed(actions []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events == nil {
		c.events = map[string]uint64{}
	}
	for _, a := range actions {
		c.events[a]++
	}
}

func (c *counter) statement() {
	c.statements.Add(1)
	c.roundTrips.Add(1)
}

// transaction counts a transaction's BEGIN and its COMMIT or ROLLBACK, which GORM sends
// outside its callbacks.
func (c *counter) transaction() { c.roundTrips.Add(2) }

// register counts every statement GORM sends, after it ran (a dry run sends nothing).
func (c *counter) register(db *gorm.DB) error {
	count := func(g *gorm.DB) {
		if !g.DryRun && g.Statement != nil && g.Statement.SQL.Len() > 0 {
			c.statement()
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("elevate:count", count),
		cb.Query().After("gorm:query").Register("elevate:count", count),
		cb.Update().After("gorm:update").Register("elevate:count", count),
		cb.Delete().After("gorm:delete").Register("elevate:count", count),
		cb.Row().After("gorm:row").Register("elevate:count", count),
		cb.Raw().After("gorm:raw").Register("elevate:count", count),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Counts returns the statements and round trips this Store has sent so far.
func (s *Store) Counts() Counts {
	return Counts{Statements: s.counts.statements.Load(), RoundTrips: s.counts.roundTrips.Load()}
}

// CommittedEvents returns how many events with action this Store's transactions have committed
// since it was opened (business changes; checks, which the sealer stores, are not counted).
// /metrics reads decisions from it: a change counts once, and only once it committed.
func (s *Store) CommittedEvents(action string) uint64 {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	return s.counts.events[action]
}
