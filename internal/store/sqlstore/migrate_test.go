package sqlstore_test

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"chsgate/internal/store/sqlstore"
	"chsgate/internal/store/storetest"
)

// tablesOfVersion lists the tables each migration creates.
var tablesOfVersion = map[int][]string{
	1: {"channels", "tokens"},
	2: {"request_replay"},
	3: {"persons"},
	4: {"accounts", "movements", "entries"},
	5: {"auth_tickets", "authorizations", "auth_persons"},
	6: {"orders", "order_persons", "refunds", "refund_persons", "outbox"},
	7: nil, // indexes only
	8: nil, // channels.rsa_public_key only
}

func tableExists(t *testing.T, b storetest.Backend, table string) bool {
	t.Helper()
	query := "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '" + table + "'"
	if b.Store.Dialect() == sqlstore.PostgreSQL {
		query = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '" + table + "'"
	}
	var n int
	if err := b.DB.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func schemaVersion(t *testing.T, b storetest.Backend) int {
	t.Helper()
	v, err := b.Store.SchemaVersion(t.Context())
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	return v
}

func migrationRows(t *testing.T, b storetest.Backend) []string {
	t.Helper()
	return queryStrings(t, b.DB, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, err := sqlstore.MigrationNames(sqlstore.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := sqlstore.MigrationNames(sqlstore.PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lite, pg) {
		t.Errorf("SQLite migrations %q differ from PostgreSQL's %q", lite, pg)
	}
	if len(lite) != len(tablesOfVersion) {
		t.Errorf("%d migrations, but the test knows the tables of %d: add the new one to tablesOfVersion", len(lite), len(tablesOfVersion))
	}
}

func TestMigrationVersions(t *testing.T) {
	for _, b := range storetest.Unmigrated(t) {
		t.Run(b.Name, func(t *testing.T) {
			if v := schemaVersion(t, b); v != 0 {
				t.Fatalf("SchemaVersion of an empty database = %d, want 0", v)
			}
			for version := 1; version <= len(tablesOfVersion); version++ {
				if err := b.Store.MigrateTo(t.Context(), version); err != nil {
					t.Fatalf("MigrateTo %d: %v", version, err)
				}
				if v := schemaVersion(t, b); v != version {
					t.Errorf("SchemaVersion after MigrateTo %d = %d", version, v)
				}
				if rows := migrationRows(t, b); len(rows) != version {
					t.Errorf("schema_migrations has %d rows after MigrateTo %d: %q", len(rows), version, rows)
				}
				for _, table := range tablesOfVersion[version] {
					if !tableExists(t, b, table) {
						t.Errorf("table %s missing after migration %d", table, version)
					}
				}
				if next := tablesOfVersion[version+1]; len(next) > 0 && tableExists(t, b, next[0]) {
					t.Errorf("table %s of migration %d exists after MigrateTo %d", next[0], version+1, version)
				}
			}
		})
	}
}

// A channel stored before migration 8 reads back after it with no RSA
// public key.
func TestMigrationKeepsChannelsWithoutRSAKey(t *testing.T) {
	for _, b := range storetest.Unmigrated(t) {
		t.Run(b.Name, func(t *testing.T) {
			if err := b.Store.MigrateTo(t.Context(), 7); err != nil {
				t.Fatalf("MigrateTo 7: %v", err)
			}
			insert := b.Store.Dialect().Rebind(`INSERT INTO channels (appid, org_code, service_id, profile, sign_type,
				enc_type, key_derivation, security_mode, sm2_public_key, allowed_hosts, functions, disabled, secrets,
				created_at, updated_at)
				VALUES ('ldxt', 'HMB001', 'HMB-SVC-01', 'fjs', 'SM2', 'SM4', 'salt', 'key', '04c8b6bc8c', '[]', '[]',
				FALSE, ?, '2026-03-01T09:30:00.000000Z', '2026-03-01T09:30:00.000000Z')`)
			if _, err := b.DB.ExecContext(t.Context(), insert, []byte("sealed")); err != nil {
				t.Fatalf("insert a channel at version 7: %v", err)
			}
			if err := b.Store.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}

			got, err := b.Store.Channel(t.Context(), "ldxt")
			if err != nil {
				t.Fatalf("Channel: %v", err)
			}
			if got.RSAPublicKey != "" {
				t.Errorf("RSAPublicKey = %q, want empty", got.RSAPublicKey)
			}
			if got.SignType != "SM2" || got.SM2PublicKey != "04c8b6bc8c" || string(got.Secrets) != "sealed" {
				t.Errorf("channel after migration = %+v, want the row inserted at version 7", got)
			}
		})
	}
}

func TestMigrationCreatesSystemAccounts(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			rows := queryStrings(t, b.DB, "SELECT kind, code, balance FROM accounts ORDER BY id")
			if want := []string{"system|external_funding|0", "system|settlement|0"}; !reflect.DeepEqual(rows, want) {
				t.Errorf("accounts after migration: %q, want %q", rows, want)
			}
		})
	}
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			before := migrationRows(t, b)
			accounts := queryStrings(t, b.DB, "SELECT id, code FROM accounts")
			if err := b.Store.Migrate(t.Context()); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if after := migrationRows(t, b); !reflect.DeepEqual(after, before) {
				t.Errorf("schema_migrations changed:\nbefore %q\nafter  %q", before, after)
			}
			if after := queryStrings(t, b.DB, "SELECT id, code FROM accounts"); !reflect.DeepEqual(after, accounts) {
				t.Errorf("accounts changed:\nbefore %q\nafter  %q", accounts, after)
			}
		})
	}
}

func TestMigrateConcurrently(t *testing.T) {
	for _, b := range storetest.Unmigrated(t) {
		t.Run(b.Name, func(t *testing.T) {
			// Separate pools stand for gateway processes starting at once.
			stores := []*sqlstore.Store{b.Store, b.Open(t), b.Open(t), b.Open(t)}
			errs := make([]error, len(stores))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() {
					<-start
					errs[i] = s.Migrate(t.Context())
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Migrate %d: %v", i, err)
				}
			}
			if rows := migrationRows(t, b); len(rows) != len(tablesOfVersion) {
				t.Errorf("schema_migrations has %d rows, want %d: %q", len(rows), len(tablesOfVersion), rows)
			}
			if n := len(queryStrings(t, b.DB, "SELECT id FROM accounts")); n != 2 {
				t.Errorf("%d accounts after concurrent migrations, want the 2 system accounts", n)
			}
		})
	}
}

func TestMigrateRejectsNewerSchema(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			if _, err := b.DB.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', '2030-01-01T00:00:00Z')"); err != nil {
				t.Fatal(err)
			}
			err := b.Store.Migrate(t.Context())
			if err == nil || !strings.Contains(err.Error(), "version 99") {
				t.Errorf("Migrate on a newer schema: %v, want an error naming version 99", err)
			}
		})
	}
}

func TestMigrateRejectsForeignMigration(t *testing.T) {
	for _, b := range storetest.Unmigrated(t) {
		t.Run(b.Name, func(t *testing.T) {
			if err := b.Store.MigrateTo(t.Context(), 1); err != nil {
				t.Fatal(err)
			}
			if _, err := b.DB.ExecContext(t.Context(), "UPDATE schema_migrations SET name = 'something_else' WHERE version = 1"); err != nil {
				t.Fatal(err)
			}
			err := b.Store.Migrate(t.Context())
			if err == nil || !strings.Contains(err.Error(), "something_else") {
				t.Errorf("Migrate: %v, want an error naming the recorded migration", err)
			}
		})
	}
}

func TestPostgresKeysCompareBytewise(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		if b.Store.Dialect() != sqlstore.PostgreSQL {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			// SQLite compares text bytewise, and PostgreSQL does only under the
			// C collation, whatever the database's default.
			rows := queryStrings(t, b.DB, `SELECT table_name, column_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND data_type = 'text'
				AND (column_name IN ('appid', 'idcard', 'family_id', 'relation', 'code', 'applicant_cert_type', 'applicant_idcard')
					OR (table_name IN ('orders', 'order_persons', 'refunds', 'refund_persons')
						AND column_name IN ('org_code', 'hi_pay_no', 'pay_no', 'settle_code', 'sub_his_pay_no', 'set_id', 'hi_refund_no', 'refund_no')))
				AND COALESCE(collation_name, '') <> 'C' ORDER BY table_name, column_name`)
			if len(rows) > 0 {
				t.Errorf("key columns without the C collation: %q", rows)
			}
		})
	}
}
