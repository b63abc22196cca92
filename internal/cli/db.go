package cli

import (
	"context"
	"fmt"

	"chsgate/internal/store/postgres"
	"chsgate/internal/store/sqlite"
	"chsgate/internal/store/sqlstore"
)

// openStore opens the database named by dsn and migrates it to the newest
// schema version. A postgres:// or postgresql:// URL names a PostgreSQL
// database. Anything else is the path of a SQLite file, created if missing.
// This is where the program chooses its SQL driver.
//
// NOTE: isPostgresURL is defined in serve.go, which also uses it to decide
// where a sandbox master key may live.
func openStore(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	if dsn == "" {
		return nil, usagef("missing --db: give a SQLite file path or a postgres:// URL")
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
