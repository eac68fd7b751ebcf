// Package store keeps Elevate's data in PostgreSQL or SQLite through GORM. It is the only package
// that imports GORM: row structs, queries, migrations and the transaction helper live here.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialects.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// writerWait is how long a SQLite transaction waits for its turn to write, and SQLite's busy
// timeout: how long it waits for another connection's or process's lock (sqliteDSN).
const writerWait = 15 * time.Second

// maxOpenSQLite is how many connections a process opens at most for reading SQLite, and keeps
// open when idle, unless SetMaxConnections says otherwise.
const maxOpenSQLite = 8

// maxOpenPostgres is how many connections a process opens at most on PostgreSQL, and keeps open
// when idle, unless SetMaxConnections says otherwise: four for each core the process may use,
// at least eight. PostgreSQL does the most work a second with a few busy backends per core;
// with more, backends wait for a core and the switching costs CPU. On a 2-core machine 8
// connections served the check API at 0.16 of bare Echo against 0.11 with 32, at a third less
// PostgreSQL CPU a check.
func maxOpenPostgres() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// Store is a handle on the database, or on one open transaction when obtained inside Tx.
type Store struct {
	db *gorm.DB
	// writer is the pool transactions run on: on SQLite a pool of its own with one connection,
	// so writers queue in Go (see Open); on PostgreSQL the same pool as db.
	writer *gorm.DB
	// turn, on SQLite, is the writer connection's turn: a transaction holds it while it runs and
	// waits for it at most as long as SQLite's busy timeout. Nil on PostgreSQL.
	turn    chan struct{}
	dialect string
	inTx    bool
	// now stamps audit events that carry no time and the sealing of events; tests set it with
	// SetClock.
	now func() time.Time
	// counts is shared with every transaction handle made from this Store.
	counts *counter
	// seal is the process's sealer, shared with every transaction handle.
	seal *sealer
	// events are the audit events and the mail this transaction stored, written just before it
	// commits, and then their ids (nil outside a transaction).
	events *txEvents
}

// Open connects to url ("sqlite:path" or "postgres://…"). It does not migrate.
func Open(rawURL string) (*Store, error) {
	var (
		db, writer *gorm.DB
		err        error
		dialect    string
	)
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		dialect = SQLite
		dsn := sqliteDSN(strings.TrimPrefix(rawURL, "sqlite:"))
		if db, err = openSQLite(dsn, gormConfig(SQLite)); err == nil {
			// Transactions run on a pool of one connection. Were they to take their turn from
			// the shared pool, writers waiting in SQLite's busy handler would hold every
			// connection while the one holding the lock waits for a statement another
			// goroutine is preparing on that pool: all stall until the busy timeout.
			if writer, err = openSQLite(dsn, gormConfig(SQLite)); err == nil {
				if err = pool(writer, 1); err != nil {
					closePool(writer)
				}
			}
		}
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		dialect = Postgres
		db, err = gorm.Open(postgres.Open(rawURL), gormConfig(Postgres))
		writer = db
	default:
		return nil, fmt.Errorf("open database: unsupported URL scheme")
	}
	if err != nil {
		closePool(db)
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	open := maxOpenPostgres()
	if dialect == SQLite {
		open = maxOpenSQLite
	}
	s := &Store{db: db, writer: writer, dialect: dialect, now: time.Now, counts: &counter{}, seal: &sealer{wake: make(chan struct{}, 1)}}
	s.seal.db = s
	if dialect == SQLite {
		s.turn = make(chan struct{}, 1)
	}
	if err := pool(db, open); err != nil {
		return nil, errors.Join(fmt.Errorf("open %s database: %w", dialect, err), s.Close())
	}
	for _, g := range s.pools() {
		if err := s.counts.register(g); err != nil {
			return nil, errors.Join(fmt.Errorf("open %s database: count statements: %w", dialect, err), s.Close())
		}
	}
	return s, nil
}

// versionArg is an editor's version as the integer column holds it. A version the column
// cannot hold matches no row, as a stale one does (ECONFLICT), where PostgreSQL's driver
// would refuse to send the statement at all.
func versionArg(v int) int64 {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return -1 // versions start at 1
	}
	return int64(v)
}

// MinConnections is the smallest pool SetMaxConnections takes: a check waits for the sealer's
// pass, so the pass needs a connection of its own beside the check's.
const MinConnections = 2

// SetMaxConnections sizes the shared connection pool to at most n open connections, all kept
// when idle (see pool). On SQLite it is the readers' pool: transactions keep their one writer
// connection. Set it before serving; connections already open above n close as they come back.
// n is at least MinConnections.
func (s *Store) SetMaxConnections(n int) error {
	if n < MinConnections {
		return fmt.Errorf("database connections: %d is too few, at least %d", n, MinConnections)
	}
	return pool(s.db, n)
}

// PoolStats returns the shared connection pool's figures (on SQLite the readers' pool).
func (s *Store) PoolStats() sql.DBStats {
	sqlDB, err := s.db.DB()
	if err != nil {
		return sql.DBStats{}
	}
	return sqlDB.Stats()
}

// closePool closes db's pool, if db was opened, on a failed Open.
func closePool(db *gorm.DB) {
	if db == nil {
		return
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// gormConfig is a new configuration for one pool (gorm keeps per-pool state in it).
func gormConfig(dialect string) *gorm.Config {
	cfg := &gorm.Config{
		Logger:         logger.Discard,
		TranslateError: true,
		NowFunc:        func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		// A create, update or delete is one statement, atomic by itself; GORM would send a
		// BEGIN before it and a COMMIT after it, three round trips for one. What must commit
		// together runs in Tx.
		SkipDefaultTransaction: true,
	}
	if dialect == SQLite {
		// SQLite compiles a statement on every call unless it is kept prepared: the inbox's and
		// the session's statements cost it more to compile than to run (a profile of /profile
		// put three fifths of the server's CPU in the parser). The driver keeps a prepared
		// statement compiled on its connection, and PostgreSQL's driver keeps its own. Inside a
		// transaction database/sql reuses the statement when it was prepared on that connection.
		// The cache is bounded: a statement with an IN list of n values is one text per n.
		cfg.PrepareStmt, cfg.PrepareStmtMaxSize, cfg.PrepareStmtTTL = true, 256, time.Hour
	}
	return cfg
}

// pool sizes db's connection pool. It keeps every connection it opens: with fewer idle than
// open, a burst (such as the checks a sealer pass releases at once) closes the extra
// connections on release and opens new ones for the next, and each new PostgreSQL backend
// starts cold and prepares its statements again.
func pool(db *gorm.DB, open int) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	sqlDB.SetMaxOpenConns(open)
	sqlDB.SetMaxIdleConns(open)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return nil
}

func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(writerWait.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	// Times are written in SQLite's sortable text form (the one databases written by earlier
	// versions hold), and read back as times only from columns declared as times: the driver's
	// guessing of times in other text or integer values stays off.
	q.Set("_time_format", "sqlite")
	q.Set("_texttotime", "0")
	q.Set("_inttotime", "0")
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return "file:" + path + sep + q.Encode()
}

// SetClock sets the clock that stamps audit events appended without a time, and their sealing.
// Set it before the first write: the sealer reads it from its own goroutines.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Dialect returns Postgres or SQLite.
func (s *Store) Dialect() string { return s.dialect }

// Close closes the connection pools.
func (s *Store) Close() error {
	var errs []error
	for _, g := range s.pools() {
		sqlDB, err := g.DB()
		if err == nil {
			err = sqlDB.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// pools returns the connection pools: one on PostgreSQL, the shared one and the writer's on
// SQLite.
func (s *Store) pools() []*gorm.DB {
	if s.writer == s.db {
		return []*gorm.DB{s.db}
	}
	return []*gorm.DB{s.db, s.writer}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Tx runs fn in one transaction: everything fn writes commits together or not at all.
// Inside a transaction, Tx simply calls fn with the same handle. Once a transaction that stored
// audit events has committed, Tx starts the sealer (or, with SetSealWait, waits for the seal).
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if s.inTx {
		return fn(s)
	}
	s.counts.transaction()
	events := &txEvents{}
	err := s.inTurn(ctx, func() error {
		return s.writer.WithContext(ctx).Transaction(func(g *gorm.DB) error {
			tx := &Store{db: g, dialect: s.dialect, inTx: true, now: s.now, counts: s.counts, seal: s.seal, events: events}
			if err := fn(tx); err != nil {
				return err
			}
			return tx.flush()
		})
	})
	if err == nil && len(events.ids) > 0 {
		s.counts.committed(events.actions)
		if s.seal.wait > 0 {
			s.seal.await(ctx, events)
		} else {
			s.seal.kick()
		}
	}
	return err
}

// inTurn runs write in the writer connection's turn on SQLite (at once on PostgreSQL), giving
// the turn back however write ends, panics included.
func (s *Store) inTurn(ctx context.Context, write func() error) error {
	if s.turn == nil {
		return write()
	}
	// Without a bound, a transaction begun from inside another on the same Store (a fault)
	// would wait for ever; SQLite's busy timeout gave up after as long.
	wait := time.NewTimer(writerWait)
	defer wait.Stop()
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-wait.C:
		return fmt.Errorf("database is locked: no turn to write within %s", writerWait)
	}
	defer func() { <-s.turn }()
	return write()
}

// conn is the handle a query runs on: the transaction's, or the pool's with ctx.
//
// Queries end in Find, Take or First, never in gorm's Scan: Scan swaps in a recording logger
// that renders every statement with its arguments through regular expressions, which cost the
// check API an eighth of its CPU (scan_test.go keeps it out).
func (s *Store) conn(ctx context.Context) *gorm.DB {
	if s.inTx {
		return s.db
	}
	return s.db.WithContext(ctx)
}

// translate maps database errors to domain errors so callers never match error text.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return pam.Errorf(pam.ENOTFOUND, "%s not found.", what)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return pam.Errorf(pam.ECONFLICT, "%s already exists.", what)
	}
	return err
}

// ExecRaw runs one statement; tests use it to create schemas and to tamper with rows.
func (s *Store) ExecRaw(ctx context.Context, sql string, args ...any) error {
	return s.conn(ctx).Exec(sql, args...).Error
}

// openSQLite opens a SQLite database, waiting while another process holds the file's lock at
// the same moment: switching a new file to WAL takes an exclusive lock that SQLite does not wait
// for with its busy timeout, so two processes starting together on one new file would otherwise
// see "database is locked". It gives up after about 15 seconds, like the busy timeout.
func openSQLite(dsn string, cfg *gorm.Config) (*gorm.DB, error) {
	deadline := time.Now().Add(15 * time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		db, err := gorm.Open(sqlite.Open(dsn), cfg)
		var coded interface{ Code() int }
		if err == nil || !errors.As(err, &coded) || coded.Code()&0xff != sqliteBusy || time.Now().After(deadline) {
			return db, err
		}
		time.Sleep(wait)
	}
}

// sqliteBusy is SQLite's primary result code for a lock held by another connection.
const sqliteBusy = 5
