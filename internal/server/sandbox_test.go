package server_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"chsgate/internal/channel"
	"chsgate/internal/server"
	"chsgate/internal/store/storetest"
)

// TestSandboxOnForeignDatabaseWarns starts sandbox seeding on a database
// that holds a channel of its own: nothing is seeded, and the log warns
// that the simulator now serves that channel.
func TestSandboxOnForeignDatabaseWarns(t *testing.T) {
	b := storetest.Backends(t)[0]
	channels, err := channel.NewRegistry(b.Store, bytes.Repeat([]byte{7}, channel.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	if _, err := channels.Add(t.Context(), ownChannel(t, "own01"), now); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	if err := server.SeedSandbox(t.Context(), b.Store, channels, now, logger); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "not seeded as a sandbox") {
		t.Errorf("log does not warn of a foreign database:\n%s", logs.String())
	}
	list, err := b.Store.Channels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].AppID != "own01" {
		t.Errorf("channels after seeding: %d, want only own01", len(list))
	}

	// A database the sandbox seeded itself gets no warning.
	seeded := storetest.Backends(t)[0]
	seededChannels, err := channel.NewRegistry(seeded.Store, bytes.Repeat([]byte{7}, channel.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		logs.Reset()
		if err := server.SeedSandbox(t.Context(), seeded.Store, seededChannels, now, logger); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("second seeding of a sandbox database warns:\n%s", logs.String())
	}
}
