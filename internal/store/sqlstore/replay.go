package sqlstore

import (
	"context"
	"fmt"
	"time"

	"chsgate/internal/store"
)

// purgeInterval is the time, by the callers' clock, between two deletions
// of expired rows by RememberRequest, and of old tickets by
// CreateAuthTicket. Replay rows live for the timestamp window, which lasts
// minutes, so that table stays near the size of one window's requests.
const purgeInterval = time.Minute

// RememberRequest records the pair with one INSERT, which conflicts on the
// primary key when the pair is stored. The conflict clause then replaces the
// stored row only if it has expired at now. Both happen in one statement under
// one row lock, so two callers can never both succeed. The statement changes
// one row or none, and none means a replay.
func (s *Store) RememberRequest(ctx context.Context, appid string, digest []byte, now, expires time.Time) error {
	s.purgeExpiredRequestsSometimes(ctx, now)

	r := s.runner()
	res, err := r.exec(ctx, `INSERT INTO request_replay (appid, digest, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (appid, digest) DO UPDATE SET expires_at = excluded.expires_at
		WHERE request_replay.expires_at <= ?`,
		appid, digest, r.time(expires), r.time(now))
	if err != nil {
		return fmt.Errorf("record request of channel %q: %w", appid, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("channel %q: %w", appid, store.ErrReplay)
	}
	return nil
}

// PurgeExpiredRequests deletes the recorded requests that have expired at
// now and returns how many it deleted. RememberRequest calls it once per
// purgeInterval, and a maintenance job may call it too.
func (s *Store) PurgeExpiredRequests(ctx context.Context, now time.Time) (int64, error) {
	r := s.runner()
	res, err := r.exec(ctx, `DELETE FROM request_replay WHERE expires_at <= ?`, r.time(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired requests: %w", err)
	}
	return rowsAffected(res)
}

// purgeExpiredRequestsSometimes calls PurgeExpiredRequests when
// purgeInterval has passed since the last call, by now.
func (s *Store) purgeExpiredRequestsSometimes(ctx context.Context, now time.Time) {
	if !s.replayPurge.due(now, purgeInterval) {
		return
	}
	// A failed purge leaves expired rows that RememberRequest replaces when
	// their pair comes again, and the next interval tries again. Failing
	// the request for it would reject a valid call.
	_, _ = s.PurgeExpiredRequests(ctx, now)
}
