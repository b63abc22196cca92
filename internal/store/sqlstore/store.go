// Package sqlstore implements store.Store over database/sql, with one code
// path for SQLite and PostgreSQL. The differences between the two are in
// dialect.go. The package imports no driver: the program opens the
// *sql.DB with the driver it chose (packages sqlite and postgres do) and
// hands it to New.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"chsgate/internal/store"
)

// Store is the store.Store of a SQLite or PostgreSQL database. Call Migrate
// before anything else.
type Store struct {
	db      *sql.DB
	dialect Dialect

	// replayPurge and ticketPurge schedule the deletion of expired replay
	// records by RememberRequest and of old tickets by CreateAuthTicket.
	replayPurge, ticketPurge purgeSchedule
}

var _ store.Store = (*Store)(nil)

// purgeSchedule decides when a cleanup is due: at most once per interval
// of the callers' clock, for the first caller after the interval.
type purgeSchedule struct {
	next atomic.Int64 // Unix nanoseconds
}

// due reports whether the interval has passed at now, and claims the run:
// only one of the goroutines that see it pass gets true.
func (p *purgeSchedule) due(now time.Time, interval time.Duration) bool {
	next := p.next.Load()
	if now.UnixNano() < next {
		return false
	}
	return p.next.CompareAndSwap(next, now.Add(interval).UnixNano())
}

// New returns a Store over db, which speaks dialect. The Store owns db:
// Close closes it.
func New(db *sql.DB, dialect Dialect) *Store {
	if !dialect.valid() {
		panic(fmt.Sprintf("sqlstore.New: unknown dialect %d", int(dialect)))
	}
	return &Store{db: db, dialect: dialect}
}

// Dialect returns the dialect of the store's database.
func (s *Store) Dialect() Dialect { return s.dialect }

func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database: %w", s.dialect, err)
	}
	return nil
}

func (s *Store) Close() error {
	return s.db.Close()
}

// querier is the part of *sql.DB and *sql.Tx that runner uses.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runner runs queries written with ? placeholders on the database or in a
// transaction, rewriting the placeholders for the dialect.
type runner struct {
	q       querier
	dialect Dialect
}

func (r runner) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.q.ExecContext(ctx, r.dialect.rebind(query), args...)
}

func (r runner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.q.QueryContext(ctx, r.dialect.rebind(query), args...)
}

func (r runner) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return r.q.QueryRowContext(ctx, r.dialect.rebind(query), args...)
}

// time converts t for binding to a timestamp column.
func (r runner) time(t time.Time) any { return r.dialect.timeArg(t) }

func (s *Store) runner() runner { return runner{q: s.db, dialect: s.dialect} }

// inTx runs fn in a transaction and commits it when fn returns nil. Any
// error rolls everything back.
func (s *Store) inTx(ctx context.Context, fn func(tx runner) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err != nil {
			// The rollback error adds nothing: the transaction failed
			// already, and the database discards it in any case when the
			// connection drops.
			_ = tx.Rollback()
		}
	}()
	if err := fn(runner{q: tx, dialect: s.dialect}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// inReadTx runs fn in a read-only transaction, so that all its queries read
// one snapshot of the database. On PostgreSQL that needs REPEATABLE READ.
// On SQLite a read-only BEGIN is deferred, takes no write lock, and in WAL
// mode reads the snapshot of its first query.
func (s *Store) inReadTx(ctx context.Context, fn func(tx runner) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read-only transaction: %w", err)
	}
	// Nothing was written, so the rollback after a commit, or its error,
	// changes nothing.
	defer func() { _ = tx.Rollback() }()
	if err := fn(runner{q: tx, dialect: s.dialect}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit read-only transaction: %w", err)
	}
	return nil
}

// rowsAffected returns the count of rows a statement changed.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("count changed rows: %w", err)
	}
	return n, nil
}

// notFound wraps sql.ErrNoRows as store.ErrNotFound and passes other errors
// through.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("read %s: %w", what, err)
}
