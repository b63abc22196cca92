package sqlstore_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

const replayWindow = 10 * time.Minute

func TestRememberRequestReplay(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		digest := []byte("digest-1")
		if err := s.RememberRequest(t.Context(), "ldxt", digest, t0, t0.Add(replayWindow)); err != nil {
			t.Fatalf("first RememberRequest: %v", err)
		}
		err := s.RememberRequest(t.Context(), "ldxt", digest, t0.Add(time.Second), t0.Add(time.Second+replayWindow))
		if !errors.Is(err, store.ErrReplay) {
			t.Fatalf("second RememberRequest: %v, want ErrReplay", err)
		}
		// The last instant before expiry is still inside the window.
		justBefore := t0.Add(replayWindow - time.Microsecond)
		if err := s.RememberRequest(t.Context(), "ldxt", digest, justBefore, justBefore.Add(replayWindow)); !errors.Is(err, store.ErrReplay) {
			t.Fatalf("RememberRequest a microsecond before expiry: %v, want ErrReplay", err)
		}
	})
}

func TestRememberRequestPairIsAppIDAndDigest(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		for _, pair := range []struct {
			appid  string
			digest string
		}{{"ldxt", "d1"}, {"ldxt", "d2"}, {"other", "d1"}} {
			if err := s.RememberRequest(t.Context(), pair.appid, []byte(pair.digest), t0, t0.Add(replayWindow)); err != nil {
				t.Errorf("RememberRequest(%q, %q): %v, want nil", pair.appid, pair.digest, err)
			}
		}
	})
}

func TestRememberRequestExpiredAcceptedAgain(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		digest := []byte("digest-1")
		if err := s.RememberRequest(t.Context(), "ldxt", digest, t0, t0.Add(replayWindow)); err != nil {
			t.Fatalf("first RememberRequest: %v", err)
		}
		later := t0.Add(replayWindow)
		if err := s.RememberRequest(t.Context(), "ldxt", digest, later, later.Add(replayWindow)); err != nil {
			t.Fatalf("RememberRequest at expiry: %v, want nil", err)
		}
		// The accepted request starts a new window.
		err := s.RememberRequest(t.Context(), "ldxt", digest, later.Add(time.Second), later.Add(time.Second+replayWindow))
		if !errors.Is(err, store.ErrReplay) {
			t.Fatalf("RememberRequest inside the new window: %v, want ErrReplay", err)
		}
	})
}

// raceRememberRequest calls RememberRequest from 20 goroutines spread over
// the stores, all with the same pair, and returns how many succeeded.
func raceRememberRequest(t *testing.T, stores []store.Store, now time.Time) int {
	t.Helper()
	const callers = 20
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			errs[i] = s.RememberRequest(t.Context(), "ldxt", []byte("raced"), now, now.Add(replayWindow))
		})
	}
	close(start)
	wg.Wait()

	succeeded := 0
	for i, err := range errs {
		switch {
		case err == nil:
			succeeded++
		case !errors.Is(err, store.ErrReplay):
			t.Errorf("caller %d: %v, want nil or ErrReplay", i, err)
		}
	}
	return succeeded
}

func TestRememberRequestRace(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			// Two pools on one database stand for two gateway processes.
			stores := []store.Store{b.Store, b.Open(t)}
			if n := raceRememberRequest(t, stores, t0); n != 1 {
				t.Errorf("%d of 20 concurrent calls succeeded, want exactly 1", n)
			}
		})
	}
}

func TestRememberRequestRaceOnExpiredPair(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			if err := b.Store.RememberRequest(t.Context(), "ldxt", []byte("raced"), t0, t0.Add(replayWindow)); err != nil {
				t.Fatalf("RememberRequest: %v", err)
			}
			stores := []store.Store{b.Store, b.Open(t)}
			if n := raceRememberRequest(t, stores, t0.Add(time.Hour)); n != 1 {
				t.Errorf("%d of 20 concurrent calls on an expired pair succeeded, want exactly 1", n)
			}
		})
	}
}

func TestPurgeExpiredRequests(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			for i, expires := range []time.Time{t0, t0.Add(time.Minute), t0.Add(time.Hour)} {
				if err := b.Store.RememberRequest(t.Context(), "ldxt", []byte{byte(i)}, t0.Add(-time.Minute), expires); err != nil {
					t.Fatalf("RememberRequest %d: %v", i, err)
				}
			}
			n, err := b.Store.PurgeExpiredRequests(t.Context(), t0.Add(time.Minute))
			if err != nil {
				t.Fatalf("PurgeExpiredRequests: %v", err)
			}
			if n != 2 {
				t.Errorf("PurgeExpiredRequests deleted %d rows, want 2", n)
			}
			var left int
			if err := b.DB.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM request_replay").Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 1 {
				t.Errorf("%d rows left, want 1", left)
			}
		})
	}
}

func TestRememberRequestPurgesExpiredRows(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			for i := range 3 {
				if err := b.Store.RememberRequest(t.Context(), "ldxt", []byte{byte(i)}, t0, t0.Add(replayWindow)); err != nil {
					t.Fatalf("RememberRequest %d: %v", i, err)
				}
			}
			// An hour later every row has expired, and more than the purge
			// interval has passed since the first call purged.
			later := t0.Add(time.Hour)
			if err := b.Store.RememberRequest(t.Context(), "ldxt", []byte("new"), later, later.Add(replayWindow)); err != nil {
				t.Fatalf("RememberRequest an hour later: %v", err)
			}
			var left int
			if err := b.DB.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM request_replay").Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 1 {
				t.Errorf("%d rows left, want only the new one", left)
			}
		})
	}
}
