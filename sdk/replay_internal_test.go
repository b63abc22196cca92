package sdk

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"chsgate/protocol"
)

func TestReplayCacheBounded(t *testing.T) {
	cache := newReplayCache(2)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	expires := now.Add(time.Minute)
	digest := func(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

	for _, d := range []string{"a", "b"} {
		if err := cache.add(digest(d), now, expires); err != nil {
			t.Fatalf("add %s: %v", d, err)
		}
	}
	if err := cache.add(digest("a"), now, expires); !errors.Is(err, protocol.NewError(protocol.CodeReplay)) {
		t.Errorf("add a again: %v, want a replay error", err)
	}
	if err := cache.add(digest("c"), now, expires); err == nil {
		t.Errorf("add c to a full cache of unexpired digests: accepted, want an error")
	}
	if len(cache.expiry) != 2 {
		t.Errorf("cache holds %d digests, want at most 2", len(cache.expiry))
	}

	later := expires
	if err := cache.add(digest("c"), later, later.Add(time.Minute)); err != nil {
		t.Errorf("add c once the others expired: %v", err)
	}
	if err := cache.add(digest("a"), later, later.Add(time.Minute)); err != nil {
		t.Errorf("add a after its entry expired: %v", err)
	}
}
