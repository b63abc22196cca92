package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"chsgate/internal/store"
)

// CreateRefund posts the refund in one transaction, holding the locks listed
// at the top of payments.go. The order row lock serializes refunds of one
// order, so a refund racing another for the same person reads the person's
// refunded amount after the other commits. Should that check ever miss a
// refund, the unique order_person_id of refund_persons still rejects the
// second one. A zero CreatedAt is set to the current time, in r too.
func (s *Store) CreateRefund(ctx context.Context, r *store.Refund) (*store.Refund, error) {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC()
	}
	if err := checkNewRefund(r); err != nil {
		return nil, err
	}

	var stored *store.Refund
	exists := false
	err := s.inTx(ctx, func(tx runner) error {
		// The number is looked up first, so that a retry of a posted refund
		// gets that refund back and not ErrAlreadyRefunded.
		found, err := refundByNumber(ctx, tx, r.OrgCode, r.HiRefundNo)
		if err == nil {
			stored, exists = found, true
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}

		if err := lockPaidOrder(ctx, tx, r); err != nil {
			return err
		}
		// A retry that raced this one past the lookup above has committed
		// by now, because it held the order lock, and ON CONFLICT finds it.
		var id int64
		err = tx.queryRow(ctx, `INSERT INTO refunds (order_id, appid, org_code, hi_refund_no, refund_no,
			request_hash, total, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (org_code, hi_refund_no) DO NOTHING RETURNING id`,
			r.OrderID, r.AppID, r.OrgCode, r.HiRefundNo, r.RefundNo, r.RequestHash, r.Total, tx.time(r.CreatedAt)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			exists = true
			stored, err = refundByNumber(ctx, tx, r.OrgCode, r.HiRefundNo)
			return err
		}
		if err != nil {
			return fmt.Errorf("insert refund %q of org code %q: %w", r.HiRefundNo, r.OrgCode, err)
		}

		if err := postRefund(ctx, tx, id, r); err != nil {
			return fmt.Errorf("refund %q of org code %q: %w", r.HiRefundNo, r.OrgCode, err)
		}
		stored, err = refundByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if exists {
		return stored, fmt.Errorf("refund %q of org code %q: %w", r.HiRefundNo, r.OrgCode, store.ErrExists)
	}
	return stored, nil
}

// checkNewRefund rejects a refund that would break what the ledger and the
// readers of the tables rely on.
func checkNewRefund(r *store.Refund) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("create refund %q of org code %q: %s", r.HiRefundNo, r.OrgCode, fmt.Sprintf(format, args...))
	}
	switch {
	case r.OrderID <= 0:
		return fail("order id %d is not an order's id", r.OrderID)
	case r.AppID == "" || r.OrgCode == "" || r.HiRefundNo == "" || r.RefundNo == "":
		return fail("the appid, the org code, hi_refund_no or refund_no is empty")
	case len(r.RequestHash) != sha256.Size:
		return fail("the request hash has %d bytes, expected the %d of a SHA-256", len(r.RequestHash), sha256.Size)
	case r.Total <= 0:
		return fail("the total is %d fen, expected more than 0", r.Total)
	case len(r.Persons) == 0 || len(r.Persons) > maxListArgs:
		return fail("the refund has %d persons, expected 1 to %d", len(r.Persons), maxListArgs)
	}

	var sum int64
	lines := make(map[int64]int, len(r.Persons))
	setIDs := make(map[string]int, len(r.Persons))
	for i, p := range r.Persons {
		switch {
		case p.OrderPersonID <= 0:
			return fail("person %d has order line id %d, expected a line's id", i, p.OrderPersonID)
		case p.Amount <= 0 || p.Amount > r.Total-sum:
			return fail("person %d is refunded %d fen, expected more than 0 and the persons to sum to the total %d fen", i, p.Amount, r.Total)
		case p.SetID == "":
			return fail("person %d has no SetID", i)
		}
		if first, ok := lines[p.OrderPersonID]; ok {
			return fail("person %d repeats the order line of person %d, expected each line once", i, first)
		}
		if first, ok := setIDs[p.SetID]; ok {
			return fail("person %d repeats the SetID of person %d", i, first)
		}
		lines[p.OrderPersonID], setIDs[p.SetID] = i, i
		sum += p.Amount
	}
	if sum != r.Total {
		return fail("the persons sum to %d fen, but the total is %d fen", sum, r.Total)
	}
	return nil
}

// lockPaidOrder locks the refunded order's row. It returns ErrNotFound when
// the org has no order with r.OrderID, and ErrOrderState when the order is
// not paid.
func lockPaidOrder(ctx context.Context, tx runner, r *store.Refund) error {
	var orgCode, status string
	err := tx.queryRow(ctx, `SELECT org_code, status FROM orders WHERE id = ?`+tx.dialect.forUpdate(), r.OrderID).
		Scan(&orgCode, &status)
	if err == nil && orgCode != r.OrgCode {
		err = sql.ErrNoRows
	}
	if err != nil {
		return notFound(err, fmt.Sprintf("order %d of org code %q", r.OrderID, r.OrgCode))
	}
	if status != string(store.OrderPaid) {
		return fmt.Errorf("refund order %d, which is %s: %w", r.OrderID, status, store.ErrOrderState)
	}
	return nil
}

// refundedLine is an order line as a refund reads it, under its row lock.
type refundedLine struct {
	orderID  int64
	amount   int64
	refunded int64
	payer    int64
	settled  bool
}

// postRefund checks and posts the persons of refund id, which r describes,
// inside tx: the credits, the refund rows, the refunded amounts of the
// order lines and the account messages.
func postRefund(ctx context.Context, tx runner, id int64, r *store.Refund) error {
	lines, err := lockRefundedLines(ctx, tx, r)
	if err != nil {
		return err
	}
	payers := make([]int64, 0, len(r.Persons))
	for _, p := range r.Persons {
		line, ok := lines[p.OrderPersonID]
		switch {
		case !ok || line.orderID != r.OrderID:
			return fmt.Errorf("order line %d of order %d: %w", p.OrderPersonID, r.OrderID, store.ErrNotFound)
		case !line.settled:
			// A paid order has every line settled, so this is a damaged row.
			return fmt.Errorf("order line %d has no settlement: %w", p.OrderPersonID, store.ErrOrderState)
		case line.refunded > 0:
			return fmt.Errorf("order line %d: %w", p.OrderPersonID, store.ErrAlreadyRefunded)
		case p.Amount > line.amount:
			return fmt.Errorf("order line %d paid %d fen, refund %d fen: %w", p.OrderPersonID, line.amount, p.Amount, store.ErrRefundTooLarge)
		}
		payers = append(payers, line.payer)
	}

	accounts, err := lockPersonalAccounts(ctx, tx, payers)
	if err != nil {
		return err
	}
	settlement, err := systemAccountID(ctx, tx, settlementAccount)
	if err != nil {
		return err
	}

	messages := make([]outboxRow, 0, len(r.Persons))
	for i, p := range r.Persons {
		payer := lines[p.OrderPersonID].payer
		account, ok := accounts[payer]
		if !ok {
			// Imports never remove an account, and this one paid the line.
			return fmt.Errorf("the account that paid order line %d is missing", p.OrderPersonID)
		}
		if err := creditLine(ctx, tx, id, i, r, p, account.id, settlement); err != nil {
			return err
		}
		messages = append(messages, outboxRow{kind: store.OutboxAccountMessage, orderID: r.OrderID, refundID: id, personID: payer, amount: p.Amount})
	}
	return insertOutbox(ctx, tx, r.CreatedAt, messages...)
}

// lockRefundedLines locks the order lines that r refunds, in id order, and
// returns them by id.
func lockRefundedLines(ctx context.Context, tx runner, r *store.Refund) (map[int64]refundedLine, error) {
	ids := make([]int64, len(r.Persons))
	for i, p := range r.Persons {
		ids[i] = p.OrderPersonID
	}
	rows, err := tx.query(ctx, `SELECT id, order_id, amount, refunded, payer_person_id, set_id FROM order_persons
		WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id`+tx.dialect.forUpdate(), anySlice(ids)...)
	if err != nil {
		return nil, fmt.Errorf("lock order lines: %w", err)
	}
	lines := make(map[int64]refundedLine, len(ids))
	err = eachRow(rows, func(rows *sql.Rows) error {
		var id int64
		var l refundedLine
		var setID sql.NullString
		if err := rows.Scan(&id, &l.orderID, &l.amount, &l.refunded, &l.payer, &setID); err != nil {
			return err
		}
		l.settled = setID.Valid
		lines[id] = l
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock order lines: %w", err)
	}
	return lines, nil
}

// creditLine posts the refund movement of person p, the position-th of
// refund id, from the settlement account back to the payer's account, and
// records it on the refund and the order line. Both writes are conditional,
// so a line refunded already fails with ErrAlreadyRefunded here too.
func creditLine(ctx context.Context, tx runner, id int64, position int, r *store.Refund, p store.RefundPerson, account, settlement int64) error {
	movement, err := postMovement(ctx, tx, movementRefund, "refund_no "+r.RefundNo+" setl_id "+p.SetID, r.CreatedAt,
		posting{account: settlement, amount: -p.Amount},
		posting{account: account, amount: p.Amount})
	if err != nil {
		return err
	}

	res, err := tx.exec(ctx, `INSERT INTO refund_persons (refund_id, position, order_person_id, amount, set_id, movement_id)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_person_id) DO NOTHING`,
		id, position, p.OrderPersonID, p.Amount, p.SetID, movement)
	if err != nil {
		return fmt.Errorf("insert refund of order line %d: %w", p.OrderPersonID, err)
	}
	if err := expectOneRow(res, p.OrderPersonID); err != nil {
		return err
	}

	res, err = tx.exec(ctx, `UPDATE order_persons SET refunded = ? WHERE id = ? AND refunded = 0`, p.Amount, p.OrderPersonID)
	if err != nil {
		return fmt.Errorf("record refund of order line %d: %w", p.OrderPersonID, err)
	}
	return expectOneRow(res, p.OrderPersonID)
}

// expectOneRow returns ErrAlreadyRefunded unless the conditional write of
// a refund of the order line changed one row.
func expectOneRow(res sql.Result, orderPersonID int64) error {
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("order line %d: %w", orderPersonID, store.ErrAlreadyRefunded)
	}
	return nil
}

func refundByNumber(ctx context.Context, tx runner, orgCode, hiRefundNo string) (*store.Refund, error) {
	return oneRefund(loadRefunds(ctx, tx, "org_code = ? AND hi_refund_no = ?", orgCode, hiRefundNo))
}

func refundByID(ctx context.Context, tx runner, id int64) (*store.Refund, error) {
	return oneRefund(loadRefunds(ctx, tx, "id = ?", id))
}

// oneRefund returns the one refund of a lookup by a unique key.
func oneRefund(refunds []store.Refund, err error) (*store.Refund, error) {
	if err != nil {
		return nil, err
	}
	if len(refunds) == 0 {
		return nil, fmt.Errorf("refund: %w", store.ErrNotFound)
	}
	return &refunds[0], nil
}
