package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect is the SQL dialect of the database behind a Store. Every
// difference between SQLite and PostgreSQL that the queries meet is in this
// file: placeholders, time values, row and advisory locks, and the catalog.
// Both accept the same INSERT ... ON CONFLICT upsert and RETURNING clause, so
// the queries use those as written.
type Dialect int

const (
	// SQLite expects a database opened with _txlock=immediate, as
	// package sqlite opens it, so that BEGIN takes the write lock and
	// transactions serialize instead of failing with SQLITE_BUSY.
	SQLite Dialect = iota + 1
	// PostgreSQL expects a database opened through pgx's database/sql
	// adapter, as package postgres opens it.
	PostgreSQL
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case PostgreSQL:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

func (d Dialect) valid() bool { return d == SQLite || d == PostgreSQL }

// rebind rewrites the ? placeholders of query into PostgreSQL's $1, $2, ...
// Question marks inside quoted literals and identifiers are left alone.
func (d Dialect) rebind(query string) string {
	if d != PostgreSQL || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// sqliteTimeLayout stores times as fixed-width UTC text, so that comparing
// the text in SQL orders them as times. It keeps microseconds, the
// precision of PostgreSQL's timestamptz.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// timeArg converts t to the value bound for a timestamp column. Both
// dialects keep microseconds, so a time reads back the same from either.
func (d Dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d == SQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// timeColumn scans a timestamp column: PostgreSQL's driver returns a
// time.Time and SQLite's the text that timeArg wrote.
type timeColumn struct{ dst *time.Time }

func (c timeColumn) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*c.dst = v.UTC()
		return nil
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	}
	return fmt.Errorf("scan timestamp: unsupported column value %T", src)
}

func (c timeColumn) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan timestamp: %w", err)
	}
	*c.dst = t.UTC()
	return nil
}

// nullTimeColumn scans a nullable timestamp column, and sets the zero time
// for NULL.
type nullTimeColumn struct{ dst *time.Time }

func (c nullTimeColumn) Scan(src any) error {
	if src == nil {
		*c.dst = time.Time{}
		return nil
	}
	return timeColumn(c).Scan(src)
}

// forUpdate is the clause that locks the selected rows until the
// transaction ends. SQLite has none and needs none, because its
// transactions hold the database's write lock from BEGIN.
func (d Dialect) forUpdate() string {
	if d == PostgreSQL {
		return " FOR UPDATE"
	}
	return ""
}

// forUpdateSkipLocked is the clause that locks the selected rows and passes
// over rows another transaction has locked, so that concurrent workers
// claiming queue rows each take different ones. SQLite needs none, for the
// reason given at forUpdate.
func (d Dialect) forUpdateSkipLocked() string {
	if d == PostgreSQL {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// advisoryLock names a lock that serializes one kind of transaction across
// every process using the database.
type advisoryLock int32

const (
	migrationLock advisoryLock = 0x63687301 // "chs" 1
	importLock    advisoryLock = 0x63687302 // "chs" 2
)

// lock takes the advisory lock inside tx until it ends. On PostgreSQL the
// lock is scoped to the current schema, so that separate databases kept in
// schemas of one server do not wait for each other. On SQLite the
// transaction already holds the write lock, which serializes it with every
// other writer.
func (d Dialect) lock(ctx context.Context, tx runner, l advisoryLock) error {
	if d != PostgreSQL {
		return nil
	}
	query := fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, hashtext(COALESCE(current_schema(), '')))", l)
	if _, err := tx.exec(ctx, query); err != nil {
		return fmt.Errorf("take advisory lock %#x: %w", int32(l), err)
	}
	return nil
}

// lockKey takes a lock on key inside tx until it ends, so that transactions
// about the same key serialize across processes while the others run on. On
// PostgreSQL it is an advisory lock on a 64-bit hash of the schema and key.
// Two keys with the same hash only wait for each other. One-key advisory
// locks are a space apart from the two-key locks of lock, so they never meet
// migrationLock or importLock. On SQLite the transaction already holds the
// write lock.
func (d Dialect) lockKey(ctx context.Context, tx runner, key string) error {
	if d != PostgreSQL {
		return nil
	}
	query := "SELECT pg_advisory_xact_lock(hashtextextended(COALESCE(current_schema(), '') || ' ' || ?, 0))"
	if _, err := tx.exec(ctx, query, key); err != nil {
		return fmt.Errorf("take advisory lock: %w", err)
	}
	return nil
}

// tableExistsQuery returns one row counting the tables named by its one
// argument in the schema the store uses.
func (d Dialect) tableExistsQuery() string {
	if d == PostgreSQL {
		return "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
	}
	return "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?"
}

// migrationsDir is the folder of the embedded migrations for the dialect.
func (d Dialect) migrationsDir() string {
	return "migrations/" + d.String()
}
