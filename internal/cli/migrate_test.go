package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chsgate/internal/store/storetest"
)

func TestMigrateSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chsgate.db")
	for _, attempt := range []string{"first", "second"} {
		r := run(t, "", "migrate", "--db", db)
		if r.code != 0 {
			t.Fatalf("%s run: exit %d, stderr %q", attempt, r.code, r.stderr)
		}
		if want := fmt.Sprintf("sqlite database schema is at version %d\n", latestVersion(t)); r.stdout != want {
			t.Errorf("%s run printed %q, want %q", attempt, r.stdout, want)
		}
	}

	info, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("database file mode %v, want -rw-------", mode)
	}
}

func TestMigratePostgres(t *testing.T) {
	url, ok := storetest.PostgresURL(t)
	if !ok {
		return
	}
	for _, attempt := range []string{"first", "second"} {
		r := run(t, "", "migrate", "--db", url)
		if r.code != 0 {
			t.Fatalf("%s run: exit %d, stderr %q", attempt, r.code, r.stderr)
		}
		if want := fmt.Sprintf("postgres database schema is at version %d\n", latestVersion(t)); r.stdout != want {
			t.Errorf("%s run printed %q, want %q", attempt, r.stdout, want)
		}
	}
}

func TestMigrateMissingDB(t *testing.T) {
	r := run(t, "", "migrate")
	if r.code != exitUsage {
		t.Errorf("exit %d, want %d", r.code, exitUsage)
	}
	if !strings.Contains(r.stderr, "missing --db") {
		t.Errorf("stderr %q does not say --db is missing", r.stderr)
	}
}

func TestMigrateMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	r := run(t, "", "migrate", "--db", filepath.Join(dir, "chsgate.db"))
	if r.code != exitUsage {
		t.Errorf("exit %d, want %d", r.code, exitUsage)
	}
	if !strings.Contains(r.stderr, dir+" does not exist") {
		t.Errorf("stderr %q does not name the missing directory", r.stderr)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("migrate created the missing directory")
	}
}

func TestMigrateNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("these are not the pages of a SQLite database, only text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "migrate", "--db", path)
	if r.code != exitFailure {
		t.Errorf("exit %d, want %d", r.code, exitFailure)
	}
	if !strings.Contains(r.stderr, path) {
		t.Errorf("stderr %q does not name the file", r.stderr)
	}
}

func TestMigrateUnreachablePostgres(t *testing.T) {
	// Port 1 on loopback refuses the connection at once. The error must
	// not show the password.
	r := run(t, "", "migrate", "--db", "postgres://chsgate:s3cret@127.0.0.1:1/chsgate?sslmode=disable&connect_timeout=5")
	if r.code != exitFailure {
		t.Errorf("exit %d, want %d", r.code, exitFailure)
	}
	if !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Errorf("stderr %q does not name the server", r.stderr)
	}
	if strings.Contains(r.stderr, "s3cret") {
		t.Errorf("stderr %q shows the password", r.stderr)
	}
}

func TestMigrateUnexpectedArgument(t *testing.T) {
	r := run(t, "", "migrate", "--db", filepath.Join(t.TempDir(), "x.db"), "extra")
	if r.code != exitUsage {
		t.Errorf("exit %d, want %d", r.code, exitUsage)
	}
}

func TestOpenStoreChoosesDriverByScheme(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, scheme := range []string{"postgres", "postgresql"} {
		// A URL is never taken for a file name: this one fails to
		// connect, and no SQLite file appears.
		dsn := scheme + "://chsgate@127.0.0.1:1/chsgate?sslmode=disable&connect_timeout=5"
		st, err := openStore(t.Context(), dsn)
		if err == nil {
			st.Close()
			t.Fatalf("openStore(%q) succeeded, want a connection error", dsn)
		}
		if !strings.Contains(err.Error(), "PostgreSQL") {
			t.Errorf("openStore(%q): %v, want a PostgreSQL error", dsn, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("openStore left files %v in the working directory", entries)
	}

	st, err := openStore(t.Context(), "postgres-backup.db")
	if err != nil {
		t.Fatalf("openStore of a file name starting with postgres: %v", err)
	}
	defer st.Close()
	if got := st.Dialect().String(); got != "sqlite" {
		t.Errorf("dialect %s, want sqlite", got)
	}
}

// latestVersion counts the embedded migrations, whose versions run from 1
// without gaps.
func latestVersion(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "store", "sqlstore", "migrations", "sqlite", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return len(files)
}
