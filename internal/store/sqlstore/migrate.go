package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"time"
)

// migrationFiles holds each dialect's migrations as NNNN_name.sql. The two
// folders hold the same versions, and each pair means the same schema.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one schema change, applied once and recorded in
// schema_migrations.
type migration struct {
	version int
	name    string // the file name without version and extension
	sql     string
}

// sqlName returns the migration's file name without the extension.
func (m migration) sqlName() string { return fmt.Sprintf("%04d_%s", m.version, m.name) }

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// loadMigrations returns the dialect's migrations in order. Versions start at
// 1 and have no gaps, so that a missing file is caught here and not in a
// production database.
func loadMigrations(d Dialect) ([]migration, error) {
	dir := d.migrationsDir()
	files, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations %s: %w", dir, err)
	}
	var migrations []migration
	for _, f := range files {
		m := migrationName.FindStringSubmatch(f.Name())
		if m == nil {
			return nil, fmt.Errorf("embedded migration %s/%s: name is not NNNN_name.sql", dir, f.Name())
		}
		version, _ := strconv.Atoi(m[1])
		if version != len(migrations)+1 {
			return nil, fmt.Errorf("embedded migration %s/%s: expected version %04d", dir, f.Name(), len(migrations)+1)
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, f.Name()))
		if err != nil {
			return nil, fmt.Errorf("read embedded migration %s/%s: %w", dir, f.Name(), err)
		}
		migrations = append(migrations, migration{version: version, name: m[2], sql: string(body)})
	}
	return migrations, nil
}

// createMigrationsTable is the same in both dialects. applied_at is RFC 3339
// text because it is only read by people.
const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at TEXT    NOT NULL
)`

// Migrate brings the schema to the newest embedded migration's version. Each
// migration runs in its own transaction together with its row in
// schema_migrations, so a failed one leaves the schema at the previous
// version. Running it again, or in several processes at once, applies each
// migration once. It fails without changing anything when the database was
// migrated by a newer program.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrateTo(ctx, -1)
}

// migrateTo applies the migrations up to and including version, or all of
// them when version is -1.
func (s *Store) migrateTo(ctx context.Context, version int) error {
	migrations, err := loadMigrations(s.dialect)
	if err != nil {
		return err
	}
	if version == -1 {
		version = len(migrations)
	}
	if version < 0 || version > len(migrations) {
		return fmt.Errorf("migrate to version %d: the versions known are 1 to %d", version, len(migrations))
	}

	// The table is created under the migration lock too, because two
	// PostgreSQL sessions running CREATE TABLE IF NOT EXISTS at once can
	// both try to create it, and one then fails.
	err = s.inTx(ctx, func(tx runner) error {
		if err := s.dialect.lock(ctx, tx, migrationLock); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("create table schema_migrations: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}

	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("database schema is at version %d, newer than version %d, the newest this program has migrations for: run a newer chsgate",
			current, len(migrations))
	}

	for _, m := range migrations[:version] {
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// apply runs m unless schema_migrations records it already. The check is
// made under the migration lock, so another process that applied m while
// this one waited is seen.
func (s *Store) apply(ctx context.Context, m migration) error {
	return s.inTx(ctx, func(tx runner) error {
		if err := s.dialect.lock(ctx, tx, migrationLock); err != nil {
			return err
		}

		var applied string
		err := tx.queryRow(ctx, "SELECT name FROM schema_migrations WHERE version = ?", m.version).Scan(&applied)
		switch {
		case err == nil && applied == m.name:
			return nil
		case err == nil:
			return fmt.Errorf("schema_migrations records version %d as %q, but version %d of this program is %q: the database was migrated by another program",
				m.version, applied, m.version, m.name)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read schema_migrations: %w", err)
		}

		if _, err := tx.exec(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.sqlName(), err)
		}
		_, err = tx.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, time.Now().UTC().Format(time.RFC3339))
		if err != nil {
			return fmt.Errorf("record migration %s: %w", m.sqlName(), err)
		}
		return nil
	})
}

// SchemaVersion returns the newest migration applied to the database, or 0
// when none is.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	r := s.runner()
	var tables int
	if err := r.queryRow(ctx, s.dialect.tableExistsQuery(), "schema_migrations").Scan(&tables); err != nil {
		return 0, fmt.Errorf("look up table schema_migrations: %w", err)
	}
	if tables == 0 {
		return 0, nil
	}
	var version int
	if err := r.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&version); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return version, nil
}
