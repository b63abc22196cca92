package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"chsgate/internal/store/postgres"
	"chsgate/internal/store/sqlite"
	"chsgate/internal/store/sqlstore"
)

// openStore opens the database named by dsn and migrates it to the newest
// schema version. A postgres:// or postgresql:// URL names a PostgreSQL
// database. Anything else is the path of a SQLite file, created if missing
// in a directory that exists. This is where the program chooses its SQL
// driver.
func openStore(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	if err := checkDSN(dsn); err != nil {
		return nil, err
	}

	var st *sqlstore.Store
	var err error
	if isPostgresURL(dsn) {
		st, err = postgres.Open(ctx, dsn)
	} else {
		st, err = sqlite.Open(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}

	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate the %s database: %w", st.Dialect(), err)
	}
	return st, nil
}

func isPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// checkDSN rejects a --db that is neither a PostgreSQL URL nor a usable
// SQLite path, before a mistyped URL becomes a file of that name.
func checkDSN(dsn string) error {
	switch {
	case dsn == "":
		return usagef("missing --db: give a SQLite file path or a postgres:// URL")
	case isPostgresURL(dsn):
		return nil
	case strings.Contains(dsn, "://") || strings.Contains(dsn, "="):
		// The value is not echoed: a connection string of another kind may
		// hold a password.
		return usagef("--db is neither a postgres:// URL nor a file path: chsgate supports SQLite files and PostgreSQL URLs, not key=value connection strings or other databases")
	}
	dir := filepath.Dir(dsn)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return usagef("--db %q: directory %s does not exist; create it first", dsn, dir)
	}
	return nil
}
