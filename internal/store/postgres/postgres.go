// Package postgres opens a PostgreSQL database for package sqlstore, with
// pgx's database/sql adapter.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"chsgate/internal/store/sqlstore"
)

// Open connects to the PostgreSQL database at url, a postgres:// or
// postgresql:// URL with pgx's parameters (sslmode, search_path, ...). It
// does not migrate: call Migrate on the store.
func Open(ctx context.Context, url string) (*sqlstore.Store, error) {
	db, err := OpenDB(ctx, url)
	if err != nil {
		return nil, err
	}
	return sqlstore.New(db, sqlstore.PostgreSQL), nil
}

// OpenDB connects to the PostgreSQL database at url and pings it, so that a
// wrong address or password fails here and not at the first request.
func OpenDB(ctx context.Context, url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL database %s: %w", redact(url), err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL database %s: %w", redact(url), err)
	}
	return db, nil
}

// redact returns the URL without its password, for error messages. The
// password may be in the user information or, as libpq allows, in a
// password query parameter.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
