// Package sqlite opens a SQLite database file for package sqlstore, with the
// pure-Go driver modernc.org/sqlite.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"chsgate/internal/store/sqlstore"
)

// busyTimeoutMillis is how long a statement waits for another connection's
// write lock before it fails with SQLITE_BUSY. Transactions of the gateway
// are short, so waiting this long means something is stuck.
//
// NOTE: an import holds the write lock for its whole transaction, so on
// SQLite an import of a large file makes concurrent writers, such as the
// gateway's replay check, fail once it runs longer than this.
const busyTimeoutMillis = 10_000

// Open opens the SQLite database at path, creating the file if it does not
// exist. It does not migrate: call Migrate on the store.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	db, err := OpenDB(ctx, path)
	if err != nil {
		return nil, err
	}
	return sqlstore.New(db, sqlstore.SQLite), nil
}

// OpenDB opens the SQLite database at path as a *sql.DB set up the way
// sqlstore expects. Every connection uses write-ahead logging, so readers do
// not block the writer, and enforces foreign keys. A statement waits up to
// busyTimeoutMillis for a lock. Transactions take the write lock at BEGIN
// (BEGIN IMMEDIATE), so concurrent writers wait for each other instead of
// failing with SQLITE_BUSY halfway through.
//
// A new file is created readable by its owner only, because it holds ID
// numbers and account balances. SQLite gives the -wal and -shm files the
// same permissions.
func OpenDB(ctx context.Context, path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("open SQLite database: the path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	if err := createPrivate(abs); err != nil {
		return nil, err
	}

	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	// Reading the schema catches a file that is not a SQLite database now,
	// not at the first request.
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_schema").Scan(&tables); err != nil {
		db.Close()
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("open SQLite database %s: read journal mode: %w", path, err)
	}
	if mode != "wal" {
		db.Close()
		return nil, fmt.Errorf("open SQLite database %s: journal mode is %q, expected wal: is the file on a file system without shared memory?", path, mode)
	}
	return db, nil
}

// dsn returns the driver's data source name for the file at abs. The path
// goes in a file: URI, escaped, so that a ? or # in it is part of the name.
func dsn(abs string) string {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	// In WAL mode, NORMAL loses no committed transaction on a crash of the
	// program, only on a power loss or a crash of the operating system, and
	// never corrupts the database. The gateway is a payment system, so it
	// keeps FULL, which syncs at every commit.
	q.Add("_pragma", "synchronous(FULL)")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// createPrivate creates an empty file at path with mode 0600 unless a file
// exists there. SQLite takes an empty file as an empty database.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("open SQLite database %s: the directory %s does not exist: create it first", path, filepath.Dir(path))
	}
	return fmt.Errorf("open SQLite database %s: %w", path, err)
}
