package sqlstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

// settledAt is when outboxFixture settles its order, so its three outbox
// rows are due from then on.
var settledAt = t0.Add(time.Minute)

// outboxFixture settles a personal-account order of the head and the spouse,
// which queues the callback and one account message per person, and returns
// the order.
func outboxFixture(t *testing.T, s store.Store) (*payFixture, *store.Order) {
	t.Helper()
	f := newPayFixture(t, s)
	o := mustCreateOrder(t, s, sampleOrder("A", f.code(t, "A", f.head), store.PayKindPersonal,
		line{f.head, f.head, 100}, line{f.spouse, f.spouse, 200}))
	return f, mustSettle(t, s, o.ID, settledAt)
}

func mustClaim(t *testing.T, s store.Store, now time.Time, limit int, lease time.Duration) []*store.OutboxItem {
	t.Helper()
	items, err := s.ClaimOutbox(t.Context(), now, limit, lease)
	if err != nil {
		t.Fatalf("ClaimOutbox at %v: %v", now, err)
	}
	return items
}

func itemIDs(items []*store.OutboxItem) []int64 {
	ids := make([]int64, len(items))
	for i, item := range items {
		ids[i] = item.ID
	}
	return ids
}

// allOutboxIDs returns the ids of the outbox rows in id order.
func allOutboxIDs(t *testing.T, s store.Store, now time.Time) []int64 {
	t.Helper()
	ids := itemIDs(mustClaim(t, s, now, 100, time.Nanosecond))
	slices.Sort(ids)
	return ids
}

func TestOutboxClaimLeasesDueRows(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f, o := outboxFixture(t, s)
		const lease = time.Minute

		if items := mustClaim(t, s, settledAt.Add(-time.Microsecond), 10, lease); len(items) != 0 {
			t.Errorf("claim before the rows are due returned %d rows", len(items))
		}

		first := mustClaim(t, s, settledAt, 2, lease)
		if len(first) != 2 {
			t.Fatalf("claim with limit 2 returned %d rows", len(first))
		}
		wantCallback := &store.OutboxItem{ID: first[0].ID, Kind: store.OutboxPaymentCallback, OrderID: o.ID,
			Attempts: 1, NextAt: settledAt, CreatedAt: settledAt}
		if !reflect.DeepEqual(first[0], wantCallback) {
			t.Errorf("first row\n%+v\nwant\n%+v", first[0], wantCallback)
		}
		wantMessage := &store.OutboxItem{ID: first[1].ID, Kind: store.OutboxAccountMessage, OrderID: o.ID,
			PersonID: f.head.ID, Amount: -100, Attempts: 1, NextAt: settledAt, CreatedAt: settledAt}
		if !reflect.DeepEqual(first[1], wantMessage) {
			t.Errorf("second row\n%+v\nwant\n%+v", first[1], wantMessage)
		}
		if first[0].ID >= first[1].ID {
			t.Errorf("rows due at the same time came as ids %v, want ascending", itemIDs(first))
		}

		rest := mustClaim(t, s, settledAt, 10, lease)
		if len(rest) != 1 || rest[0].PersonID != f.spouse.ID || rest[0].Amount != -200 {
			t.Fatalf("second claim returned %+v, want the spouse's message only", rest)
		}
		if items := mustClaim(t, s, settledAt.Add(lease-time.Microsecond), 10, lease); len(items) != 0 {
			t.Errorf("claim while every row is leased returned ids %v", itemIDs(items))
		}

		// Once the leases run out, as after a worker's crash, the rows are
		// due again, and each claim counts an attempt.
		again := mustClaim(t, s, settledAt.Add(lease), 10, lease)
		wantIDs := append(itemIDs(first), rest[0].ID)
		if !reflect.DeepEqual(itemIDs(again), wantIDs) {
			t.Fatalf("claim after the leases ran out returned ids %v, want %v", itemIDs(again), wantIDs)
		}
		for _, item := range again {
			if item.Attempts != 2 {
				t.Errorf("row %d has %d attempts after two claims, want 2", item.ID, item.Attempts)
			}
		}
	})
}

func TestOutboxFinish(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			outboxFixture(t, s)
			items := mustClaim(t, s, settledAt, 1, time.Minute)
			id := items[0].ID

			finishedAt := settledAt.Add(time.Second)
			if err := s.FinishOutbox(t.Context(), id, finishedAt); err != nil {
				t.Fatalf("FinishOutbox: %v", err)
			}
			if err := s.FinishOutbox(t.Context(), id, finishedAt.Add(time.Hour)); err != nil {
				t.Fatalf("second FinishOutbox: %v", err)
			}
			var n int
			err := b.DB.QueryRowContext(t.Context(), b.Store.Dialect().Rebind(`SELECT COUNT(*) FROM outbox WHERE id = ? AND done_at = ?`),
				id, finishedAt.Format("2006-01-02T15:04:05.000000Z")).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("done_at of row %d is not the first FinishOutbox's %v", id, finishedAt)
			}

			later := mustClaim(t, s, settledAt.Add(24*time.Hour), 10, time.Minute)
			if slices.Contains(itemIDs(later), id) {
				t.Errorf("finished row %d was claimed again", id)
			}
			if len(later) != 2 {
				t.Errorf("claim after one row finished returned %d rows, want the other 2", len(later))
			}

			if err := s.FinishOutbox(t.Context(), 404, finishedAt); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("FinishOutbox of a missing row: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestOutboxRetry(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		outboxFixture(t, s)
		items := mustClaim(t, s, settledAt, 2, time.Hour)
		first, second := items[0].ID, items[1].ID

		// Retries due in the reverse order of the ids: the claim orders by
		// due time first. The retry also ends the hour's lease.
		if err := s.RetryOutbox(t.Context(), first, settledAt.Add(30*time.Second), "status 502"); err != nil {
			t.Fatalf("RetryOutbox: %v", err)
		}
		if err := s.RetryOutbox(t.Context(), second, settledAt.Add(15*time.Second), "timed out after 10s"); err != nil {
			t.Fatalf("RetryOutbox: %v", err)
		}

		if got := mustClaim(t, s, settledAt.Add(10*time.Second), 10, time.Minute); len(got) != 1 || got[0].ID == first || got[0].ID == second {
			t.Errorf("claim before the retries are due returned ids %v, want only the third row", itemIDs(got))
		}
		got := mustClaim(t, s, settledAt.Add(30*time.Second), 10, time.Minute)
		if !reflect.DeepEqual(itemIDs(got), []int64{second, first}) {
			t.Fatalf("claim when the retries are due returned ids %v, want %v", itemIDs(got), []int64{second, first})
		}
		if got[0].LastError != "timed out after 10s" || got[1].LastError != "status 502" {
			t.Errorf("last errors %q and %q, want the retries'", got[0].LastError, got[1].LastError)
		}
		if !got[0].NextAt.Equal(settledAt.Add(15*time.Second)) || got[0].Attempts != 2 {
			t.Errorf("retried row: NextAt %v, %d attempts, want %v and 2", got[0].NextAt, got[0].Attempts, settledAt.Add(15*time.Second))
		}

		if err := s.RetryOutbox(t.Context(), 404, settledAt, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RetryOutbox of a missing row: %v, want ErrNotFound", err)
		}
	})
}

func TestOutboxGiveUp(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			outboxFixture(t, s)
			items := mustClaim(t, s, settledAt, 2, time.Minute)
			givenUp, delivered := items[0].ID, items[1].ID
			state := func(id int64) string {
				rows := queryStrings(t, b.DB, fmt.Sprintf(`SELECT CASE WHEN given_up THEN 'given up' ELSE 'open' END,
					CASE WHEN done_at IS NULL THEN 'not done' ELSE 'done' END, last_error FROM outbox WHERE id = %d`, id))
				return rows[0]
			}

			if err := s.RetryOutbox(t.Context(), givenUp, time.Time{}, "status 500 after 16 attempts"); err != nil {
				t.Fatalf("RetryOutbox with zero next: %v", err)
			}
			if got, want := state(givenUp), "given up|not done|status 500 after 16 attempts"; got != want {
				t.Errorf("row given up: %q, want %q", got, want)
			}
			if ids := allOutboxIDs(t, s, settledAt.Add(365*24*time.Hour)); slices.Contains(ids, givenUp) {
				t.Errorf("row %d, given up, was claimed again", givenUp)
			}

			// A late report of a worker whose lease ran out changes nothing.
			if err := s.RetryOutbox(t.Context(), givenUp, settledAt.Add(time.Hour), "late"); err != nil {
				t.Errorf("RetryOutbox of a row given up: %v, want nil", err)
			}
			if got, want := state(givenUp), "given up|not done|status 500 after 16 attempts"; got != want {
				t.Errorf("row given up after a late retry: %q, want %q", got, want)
			}
			if err := s.FinishOutbox(t.Context(), delivered, settledAt); err != nil {
				t.Fatal(err)
			}
			if err := s.RetryOutbox(t.Context(), delivered, time.Time{}, "late"); err != nil {
				t.Errorf("RetryOutbox of a delivered row: %v, want nil", err)
			}
			if got, want := state(delivered), "open|done|"; got != want {
				t.Errorf("delivered row after a late retry: %q, want %q", got, want)
			}

			// A delivery reported after all is recorded.
			if err := s.FinishOutbox(t.Context(), givenUp, settledAt.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if got, want := state(givenUp), "open|done|status 500 after 16 attempts"; got != want {
				t.Errorf("row given up, then delivered: %q, want %q", got, want)
			}
		})
	}
}

func TestOutboxClaimRejectsBadArguments(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		if _, err := s.ClaimOutbox(t.Context(), t0, 0, time.Minute); err == nil {
			t.Error("ClaimOutbox with limit 0 succeeded")
		}
		if _, err := s.ClaimOutbox(t.Context(), t0, 10, 0); err == nil {
			t.Error("ClaimOutbox with lease 0 succeeded")
		}
	})
}

func TestOutboxConcurrentClaimers(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			_, o := outboxFixture(t, b.Store)
			const extra = 120
			for range extra {
				_, err := b.DB.ExecContext(t.Context(), b.Store.Dialect().Rebind(`INSERT INTO outbox (kind, order_id, next_at, created_at)
					VALUES ('payment_callback', ?, ?, ?)`), o.ID, settledAt.Format("2006-01-02T15:04:05.000000Z"), settledAt.Format("2006-01-02T15:04:05.000000Z"))
				if err != nil {
					t.Fatal(err)
				}
			}
			const total = extra + 3

			// Four workers, two per pool, each claiming until nothing is left.
			pools := []store.Store{b.Store, b.Open(t)}
			claimed := make([][]int64, 4)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for w := range claimed {
				wg.Go(func() {
					<-start
					for {
						items, err := pools[w%len(pools)].ClaimOutbox(t.Context(), settledAt, 7, time.Hour)
						if err != nil {
							t.Errorf("worker %d: ClaimOutbox: %v", w, err)
							return
						}
						if len(items) == 0 {
							return
						}
						claimed[w] = append(claimed[w], itemIDs(items)...)
					}
				})
			}
			close(start)
			wg.Wait()

			seen := map[int64]int{}
			for w, ids := range claimed {
				for _, id := range ids {
					if other, ok := seen[id]; ok {
						t.Errorf("row %d claimed by workers %d and %d", id, other, w)
					}
					seen[id] = w
				}
			}
			if len(seen) != total {
				t.Errorf("%d rows claimed, want all %d", len(seen), total)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM outbox WHERE attempts <> 1"); n != 0 {
				t.Errorf("%d rows have other than 1 attempt after one claim each", n)
			}
		})
	}
}
