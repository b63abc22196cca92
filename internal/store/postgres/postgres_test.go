package postgres_test

import (
	"strings"
	"testing"

	"chsgate/internal/store/postgres"
)

func TestOpenErrorHidesPassword(t *testing.T) {
	// Port 1 on loopback refuses the connection at once.
	_, err := postgres.Open(t.Context(), "postgres://chsgate:s3cret@127.0.0.1:1/chsgate?sslmode=disable&connect_timeout=5")
	if err == nil {
		t.Fatal("Open succeeded, want a connection error")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the password", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q does not name the server", err)
	}
}
