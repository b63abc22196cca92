package cli

import (
	"context"
	"fmt"
)

var migrateCommand = &command{name: "migrate", summary: "create or upgrade the database schema", run: runMigrate}

func runMigrate(ctx context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "--db PATH|URL",
		"Creates the database schema, or upgrades it to the newest version this chsgate\n"+
			"has migrations for, and prints the version. Migrations already applied are skipped, so running\n"+
			"it again changes nothing, and several processes may migrate one PostgreSQL\n"+
			"database at once. A missing SQLite file is created, readable by its owner only.")
	var dsn string
	fs.StringVar(&dsn, "db", "", "database: a SQLite file `PATH` or a postgres:// URL")
	if err := fs.parse(s, args); err != nil {
		return err
	}

	st, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()

	version, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.stdout, "%s database schema is at version %d\n", st.Dialect(), version)
	if err != nil {
		return fmt.Errorf("write standard output: %w", err)
	}
	return nil
}
