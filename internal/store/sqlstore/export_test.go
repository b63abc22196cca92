package sqlstore

import "context"

// MigrateTo applies the migrations up to and including version.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	return s.migrateTo(ctx, version)
}

// MigrationNames returns the dialect's migrations as NNNN_name.
func MigrationNames(d Dialect) ([]string, error) {
	migrations, err := loadMigrations(d)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(migrations))
	for i, m := range migrations {
		names[i] = m.sqlName()
	}
	return names, nil
}

// Rebind rewrites the ? placeholders of query for the dialect.
func (d Dialect) Rebind(query string) string { return d.rebind(query) }
