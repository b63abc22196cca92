package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"chsgate/internal/store/sqlite"
)

func TestOpenDBSettings(t *testing.T) {
	db, err := sqlite.OpenDB(t.Context(), filepath.Join(t.TempDir(), "chsgate.db"))
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	defer db.Close()
	// More than one connection, because each applies the settings itself.
	db.SetMaxIdleConns(3)
	for _, pragma := range []struct {
		name string
		want string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		{"synchronous", "2"},
	} {
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma.name).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma.name, err)
		}
		if got != pragma.want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma.name, got, pragma.want)
		}
	}
}

func TestOpenDBCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chsgate.db")
	db, err := sqlite.OpenDB(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", filepath.Base(name), mode)
		}
	}
}

func TestOpenDBPathWithURICharacters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odd ?name#%20.db")
	db, err := sqlite.OpenDB(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the path given: %v", err)
	}
}

func TestOpenDBRejectsEmptyPath(t *testing.T) {
	if db, err := sqlite.OpenDB(t.Context(), ""); err == nil {
		db.Close()
		t.Fatal("OpenDB of an empty path succeeded")
	}
}

func TestTransactionsTakeWriteLockAtBegin(t *testing.T) {
	db, err := sqlite.OpenDB(t.Context(), filepath.Join(t.TempDir(), "chsgate.db"))
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	defer db.Close()

	first, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	begun := make(chan error, 1)
	go func() {
		second, err := db.BeginTx(context.Background(), nil)
		if err == nil {
			err = second.Commit()
		}
		begun <- err
	}()

	// A deferred BEGIN would return at once, but BEGIN IMMEDIATE waits for
	// the first transaction's write lock.
	select {
	case err := <-begun:
		t.Fatalf("a second transaction began while the first held the write lock (error %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-begun:
		if err != nil {
			t.Fatalf("second transaction: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second transaction did not begin after the first committed")
	}
}
