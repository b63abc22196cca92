package sqlstore_test

import (
	"testing"

	"chsgate/internal/store/sqlstore"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		query string
		want  string
	}{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{"SELECT '?', \"a?\" FROM t WHERE b = ?", "SELECT '?', \"a?\" FROM t WHERE b = $1"},
		{"SELECT 'it''s ?' WHERE x IN (?, ?)", "SELECT 'it''s ?' WHERE x IN ($1, $2)"},
	}
	for _, tt := range tests {
		if got := sqlstore.PostgreSQL.Rebind(tt.query); got != tt.want {
			t.Errorf("PostgreSQL.Rebind(%q) = %q, want %q", tt.query, got, tt.want)
		}
		if got := sqlstore.SQLite.Rebind(tt.query); got != tt.query {
			t.Errorf("SQLite.Rebind(%q) = %q, want it unchanged", tt.query, got)
		}
	}
}
