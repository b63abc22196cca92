package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"chsgate/internal/store"
)

// outboxRow is a message that a payment or refund queues in its own
// transaction.
type outboxRow struct {
	kind     store.OutboxKind
	orderID  int64
	refundID int64 // 0 unless an account message of a refund
	personID int64 // 0 for a callback
	amount   int64 // fen, 0 for a callback
}

// insertOutbox queues the messages, due at now.
func insertOutbox(ctx context.Context, tx runner, now time.Time, messages ...outboxRow) error {
	if len(messages) == 0 {
		return nil
	}
	values := make([]string, len(messages))
	args := make([]any, 0, 7*len(messages))
	for i, m := range messages {
		values[i] = "(?, ?, ?, ?, ?, ?, ?)"
		args = append(args, string(m.kind), m.orderID, nullIfZero(m.refundID), nullIfZero(m.personID), m.amount,
			tx.time(now), tx.time(now))
	}
	_, err := tx.exec(ctx, `INSERT INTO outbox (kind, order_id, refund_id, person_id, amount, next_at, created_at)
		VALUES `+strings.Join(values, ", "), args...)
	if err != nil {
		return fmt.Errorf("queue %d messages of order %d: %w", len(messages), messages[0].orderID, err)
	}
	return nil
}

// nullIfZero binds 0 as NULL, for optional references.
func nullIfZero(id int64) sql.NullInt64 {
	return sql.NullInt64{Int64: id, Valid: id != 0}
}

// outboxColumns are the columns scanOutboxItem reads, in its order.
const outboxColumns = `id, kind, order_id, refund_id, person_id, amount, attempts, next_at, last_error, created_at`

// ClaimOutbox leases the due rows with one UPDATE, so no row is leased
// twice. On PostgreSQL, SKIP LOCKED lets two claims run at once, and each
// passes over the rows the other is leasing. A row that another claim
// leased and committed meanwhile is read again under its lock, and then no
// longer matches. On SQLite the claim holds the write lock.
//
// Rows are returned by NextAt, then ID. A row whose lease ran out is due
// again, and every lease adds one to Attempts.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.OutboxItem, error) {
	if limit < 1 {
		return nil, fmt.Errorf("claim outbox: limit %d, expected at least 1", limit)
	}
	if lease <= 0 {
		return nil, fmt.Errorf("claim outbox: lease %s, expected more than 0", lease)
	}

	var items []*store.OutboxItem
	err := s.inTx(ctx, func(tx runner) error {
		rows, err := tx.query(ctx, `UPDATE outbox SET leased_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM outbox
				WHERE done_at IS NULL AND NOT given_up AND next_at <= ? AND (leased_until IS NULL OR leased_until <= ?)
				ORDER BY next_at, id LIMIT ?`+tx.dialect.forUpdateSkipLocked()+`)
			RETURNING `+outboxColumns,
			tx.time(now.Add(lease)), tx.time(now), tx.time(now), limit)
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		return eachRow(rows, func(rows *sql.Rows) error {
			item, err := scanOutboxItem(rows)
			if err != nil {
				return fmt.Errorf("claim outbox: %w", err)
			}
			items = append(items, item)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// RETURNING gives rows in no defined order.
	slices.SortFunc(items, func(a, b *store.OutboxItem) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	return items, nil
}

func scanOutboxItem(rows *sql.Rows) (*store.OutboxItem, error) {
	var item store.OutboxItem
	var kind string
	var refundID, personID sql.NullInt64
	err := rows.Scan(&item.ID, &kind, &item.OrderID, &refundID, &personID, &item.Amount, &item.Attempts,
		timeColumn{&item.NextAt}, &item.LastError, timeColumn{&item.CreatedAt})
	if err != nil {
		return nil, err
	}
	item.Kind = store.OutboxKind(kind)
	item.RefundID, item.PersonID = refundID.Int64, personID.Int64
	return &item, nil
}

// FinishOutbox sets done_at and ends the lease. A row finished already keeps
// its first done_at. A row given up is marked delivered all the same,
// because a worker whose lease ran out may still have delivered it, and
// last_error keeps the earlier failure.
func (s *Store) FinishOutbox(ctx context.Context, id int64, now time.Time) error {
	r := s.runner()
	res, err := r.exec(ctx, `UPDATE outbox SET done_at = COALESCE(done_at, ?), given_up = FALSE, leased_until = NULL
		WHERE id = ?`, r.time(now), id)
	if err != nil {
		return fmt.Errorf("finish outbox row %d: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("outbox row %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// RetryOutbox stores lastError, ends the lease, and makes the row due at
// next. With a zero next it sets given_up instead, and the row is never
// claimed again. A row that is delivered or given up keeps that state, and
// the call returns nil, because a worker whose lease ran out may report a
// failure after another worker ended the row.
func (s *Store) RetryOutbox(ctx context.Context, id int64, next time.Time, lastError string) error {
	r := s.runner()
	var res sql.Result
	var err error
	if next.IsZero() {
		res, err = r.exec(ctx, `UPDATE outbox SET given_up = TRUE, last_error = ?, leased_until = NULL
			WHERE id = ? AND done_at IS NULL AND NOT given_up`, lastError, id)
	} else {
		res, err = r.exec(ctx, `UPDATE outbox SET next_at = ?, last_error = ?, leased_until = NULL
			WHERE id = ? AND done_at IS NULL AND NOT given_up`, r.time(next), lastError, id)
	}
	if err != nil {
		return fmt.Errorf("retry outbox row %d: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}

	var rows int
	if err := r.queryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE id = ?`, id).Scan(&rows); err != nil {
		return fmt.Errorf("read outbox row %d: %w", id, err)
	}
	if rows == 0 {
		return fmt.Errorf("outbox row %d: %w", id, store.ErrNotFound)
	}
	return nil
}
