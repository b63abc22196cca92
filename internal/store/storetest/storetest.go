// Package storetest gives tests fresh databases on every backend the
// machine has: always SQLite, and PostgreSQL when CHSGATE_TEST_POSTGRES_URL
// names a server. Each call makes new databases, so tests never share state.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"chsgate/internal/store"
	"chsgate/internal/store/postgres"
	"chsgate/internal/store/sqlite"
	"chsgate/internal/store/sqlstore"
)

// PostgresURLVariable names the environment variable with the URL of the
// PostgreSQL database that tests create their schemas in. .ci/postgres
// starts a server and prints it.
const PostgresURLVariable = "CHSGATE_TEST_POSTGRES_URL"

// Backend is a fresh database of one kind.
type Backend struct {
	Name  string          // "sqlite" or "postgres"
	Store *sqlstore.Store // closed at the end of the test
	// DB is the pool behind Store, for tests that read or damage the
	// schema directly.
	DB *sql.DB
	// Open opens another Store on the same database with a pool of its
	// own, as a second process would. It is closed at the end of the test.
	Open func(t *testing.T) *sqlstore.Store
}

// Backends returns a fresh, migrated database of each backend.
func Backends(t *testing.T) []Backend {
	t.Helper()
	backends := Unmigrated(t)
	for _, b := range backends {
		if err := b.Store.Migrate(t.Context()); err != nil {
			t.Fatalf("%s: migrate: %v", b.Name, err)
		}
	}
	return backends
}

// Unmigrated returns a fresh, empty database of each backend.
func Unmigrated(t *testing.T) []Backend {
	t.Helper()
	backends := []Backend{newSQLite(t)}
	if u, ok := PostgresURL(t); ok {
		backends = append(backends, newPostgres(t, u))
	}
	return backends
}

// ForEach runs fn in a subtest per backend, each with a fresh, migrated
// store.
func ForEach(t *testing.T, fn func(t *testing.T, s store.Store)) {
	t.Helper()
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Store) })
	}
}

// PostgresURL creates an empty schema in the database named by
// CHSGATE_TEST_POSTGRES_URL, drops it at the end of the test, and returns a
// URL whose connections use it. Without the variable it returns false, and
// under CI=true it fails the test, because CI must test PostgreSQL too.
func PostgresURL(t *testing.T) (string, bool) {
	t.Helper()
	base := os.Getenv(PostgresURLVariable)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set, and CI must run the store tests on PostgreSQL: run 'eval \"$(.ci/postgres | tail -1)\"' first", PostgresURLVariable)
		}
		t.Logf("PostgreSQL tests skipped: %s is not set", PostgresURLVariable)
		return "", false
	}

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", PostgresURLVariable, err)
	}
	schema := "chsgate_test_" + randomHex(t, 8)

	// Cleanup runs after t.Context is canceled, so the schema is created
	// and dropped with a context of its own.
	ctx := context.Background()
	admin, err := postgres.OpenDB(ctx, base)
	if err != nil {
		t.Fatalf("%s: %v", PostgresURLVariable, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), true
}

func newSQLite(t *testing.T) Backend {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chsgate.db")
	open := func(t *testing.T) (*sqlstore.Store, *sql.DB) {
		t.Helper()
		db, err := sqlite.OpenDB(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		s := sqlstore.New(db, sqlstore.SQLite)
		t.Cleanup(func() { s.Close() })
		return s, db
	}
	s, db := open(t)
	return Backend{
		Name:  "sqlite",
		Store: s,
		DB:    db,
		Open: func(t *testing.T) *sqlstore.Store {
			s, _ := open(t)
			return s
		},
	}
}

func newPostgres(t *testing.T, u string) Backend {
	t.Helper()
	open := func(t *testing.T) (*sqlstore.Store, *sql.DB) {
		t.Helper()
		db, err := postgres.OpenDB(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		s := sqlstore.New(db, sqlstore.PostgreSQL)
		// Registered after the schema's cleanup, so it runs before it:
		// DROP SCHEMA would wait for open transactions.
		t.Cleanup(func() { s.Close() })
		return s, db
	}
	s, db := open(t)
	return Backend{
		Name:  "postgres",
		Store: s,
		DB:    db,
		Open: func(t *testing.T) *sqlstore.Store {
			s, _ := open(t)
			return s
		},
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
