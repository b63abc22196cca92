package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"chsgate/internal/store"
)

// Movement kinds.
const (
	movementOpening    = "opening"    // an imported balance of a new account
	movementAdjustment = "adjustment" // the change of an imported balance
	movementPayment    = "payment"    // one order line's debit, into the settlement account
	movementRefund     = "refund"     // one refunded line's credit, out of the settlement account
)

// System account codes.
const (
	// fundingAccount is the account that money entering the platform from
	// outside comes from.
	fundingAccount = "external_funding"
	// settlementAccount receives the payments of settled orders and pays
	// the refunds, so its balance is what the platform holds for the
	// insurers.
	settlementAccount = "settlement"
)

// posting is one entry of a movement: amount fen added to an account's
// balance, negative to take money out.
type posting struct {
	account int64
	amount  int64
}

// postMovement records a movement with its entries and applies them to the
// account balances, inside tx, and returns the movement's id. The postings
// must sum to zero. A personal account taken below zero fails the statement
// on the accounts table's CHECK constraint.
func postMovement(ctx context.Context, tx runner, kind, reference string, now time.Time, postings ...posting) (int64, error) {
	var sum int64
	for _, p := range postings {
		if p.amount == 0 {
			return 0, fmt.Errorf("post %s movement %q: an entry of account %d has amount 0", kind, reference, p.account)
		}
		sum += p.amount
	}
	if len(postings) < 2 || sum != 0 {
		return 0, fmt.Errorf("post %s movement %q: %d entries sum to %d fen, expected at least 2 summing to 0", kind, reference, len(postings), sum)
	}

	var movement int64
	err := tx.queryRow(ctx, `INSERT INTO movements (kind, reference, created_at) VALUES (?, ?, ?) RETURNING id`,
		kind, reference, tx.time(now)).Scan(&movement)
	if err != nil {
		return 0, fmt.Errorf("insert %s movement %q: %w", kind, reference, err)
	}

	values := make([]string, len(postings))
	args := make([]any, 0, 3*len(postings))
	for i, p := range postings {
		values[i] = "(?, ?, ?)"
		args = append(args, movement, p.account, p.amount)
	}
	if _, err := tx.exec(ctx, `INSERT INTO entries (movement_id, account_id, amount) VALUES `+strings.Join(values, ", "), args...); err != nil {
		return 0, fmt.Errorf("insert entries of movement %d: %w", movement, err)
	}

	for _, p := range postings {
		if _, err := tx.exec(ctx, `UPDATE accounts SET balance = balance + ? WHERE id = ?`, p.amount, p.account); err != nil {
			return 0, fmt.Errorf("apply %d fen to account %d: %w", p.amount, p.account, err)
		}
	}
	return movement, nil
}

// createPersonalAccount opens an empty personal account for a person.
func createPersonalAccount(ctx context.Context, tx runner, personID int64, now time.Time) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO accounts (kind, person_id, balance, created_at) VALUES ('personal', ?, 0, ?) RETURNING id`,
		personID, tx.time(now)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create account of person %d: %w", personID, err)
	}
	return id, nil
}

// systemAccountID returns the id of the system account named code.
func systemAccountID(ctx context.Context, tx runner, code string) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM accounts WHERE kind = 'system' AND code = ?`, code).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("system account %q is missing: run 'chsgate migrate'", code)
	}
	if err != nil {
		return 0, fmt.Errorf("read system account %q: %w", code, err)
	}
	return id, nil
}

func (s *Store) AccountBalance(ctx context.Context, personID int64) (int64, bool, error) {
	var balance int64
	err := s.runner().queryRow(ctx, `SELECT balance FROM accounts WHERE person_id = ?`, personID).Scan(&balance)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read account balance of person %d: %w", personID, err)
	}
	return balance, true, nil
}

// maxLedgerProblems caps how many problems of each kind LedgerCheck reads and
// lists, so a badly broken ledger does not produce an error of megabytes.
const maxLedgerProblems = 20

// LedgerCheck returns an error listing the movements that do not balance,
// the accounts whose balance differs from their entries, and the payment
// records that disagree with the ledger (see paymentProblems). Each query
// reads one snapshot, so movements posted while it runs do not show as
// problems.
func (s *Store) LedgerCheck(ctx context.Context) error {
	r := s.runner()
	var problems []string

	movements, err := r.query(ctx, `SELECT m.id, m.kind, COUNT(e.id), COALESCE(SUM(e.amount), 0)
		FROM movements m LEFT JOIN entries e ON e.movement_id = m.id
		GROUP BY m.id, m.kind
		HAVING COUNT(e.id) < 2 OR COALESCE(SUM(e.amount), 0) <> 0
		ORDER BY m.id LIMIT ?`, maxLedgerProblems+1)
	if err != nil {
		return fmt.Errorf("ledger check: sum entries per movement: %w", err)
	}
	err = eachRow(movements, func(rows *sql.Rows) error {
		var id, count, sum int64
		var kind string
		if err := rows.Scan(&id, &kind, &count, &sum); err != nil {
			return err
		}
		problems = append(problems, fmt.Sprintf("%s movement %d has %d entries summing to %d fen", kind, id, count, sum))
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger check: sum entries per movement: %w", err)
	}

	accounts, err := r.query(ctx, `SELECT a.id, a.kind, a.balance, COALESCE(SUM(e.amount), 0)
		FROM accounts a LEFT JOIN entries e ON e.account_id = a.id
		GROUP BY a.id, a.kind, a.balance
		HAVING a.balance <> COALESCE(SUM(e.amount), 0) OR (a.kind = 'personal' AND a.balance < 0)
		ORDER BY a.id LIMIT ?`, maxLedgerProblems+1)
	if err != nil {
		return fmt.Errorf("ledger check: sum entries per account: %w", err)
	}
	err = eachRow(accounts, func(rows *sql.Rows) error {
		var id, balance, sum int64
		var kind string
		if err := rows.Scan(&id, &kind, &balance, &sum); err != nil {
			return err
		}
		if balance != sum {
			problems = append(problems, fmt.Sprintf("%s account %d has balance %d fen but its entries sum to %d fen", kind, id, balance, sum))
		} else {
			problems = append(problems, fmt.Sprintf("%s account %d has negative balance %d fen", kind, id, balance))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger check: sum entries per account: %w", err)
	}

	payments, err := paymentProblems(ctx, r)
	if err != nil {
		return err
	}
	problems = append(problems, payments...)

	if len(problems) == 0 {
		return nil
	}
	more := ""
	if len(problems) > maxLedgerProblems {
		problems = problems[:maxLedgerProblems]
		more = "; and more"
	}
	return fmt.Errorf("ledger check failed: %s%s", strings.Join(problems, "; "), more)
}

// paymentProblems lists where orders and refunds disagree with the ledger.
// Every line of a paid order, and no other line, has a payment movement,
// which takes the line's amount from the payer's account. A line's refunded
// amount equals its refund row, whose movement gives that amount back to the
// payer's account. The settlement account's balance is the paid lines less
// the refunds.
func paymentProblems(ctx context.Context, r runner) ([]string, error) {
	var problems []string

	lines, err := r.query(ctx, `SELECT op.id, o.status, op.amount, COALESCE(op.movement_id, 0),
		COALESCE(SUM(e.amount), 0), op.refunded, COALESCE(MAX(rp.amount), 0)
		FROM order_persons op
		JOIN orders o ON o.id = op.order_id
		LEFT JOIN accounts a ON a.person_id = op.payer_person_id
		LEFT JOIN entries e ON e.movement_id = op.movement_id AND e.account_id = a.id
		LEFT JOIN refund_persons rp ON rp.order_person_id = op.id
		GROUP BY op.id, o.status, op.amount, op.movement_id, op.refunded
		HAVING (o.status = 'paid') <> (op.movement_id IS NOT NULL)
			OR COALESCE(SUM(e.amount), 0) <> CASE WHEN op.movement_id IS NULL THEN 0 ELSE -op.amount END
			OR op.refunded <> COALESCE(MAX(rp.amount), 0)
		ORDER BY op.id LIMIT ?`, maxLedgerProblems+1)
	if err != nil {
		return nil, fmt.Errorf("ledger check: compare order lines with their movements: %w", err)
	}
	err = eachRow(lines, func(rows *sql.Rows) error {
		var id, amount, movement, posted, refunded, refundRow int64
		var status string
		if err := rows.Scan(&id, &status, &amount, &movement, &posted, &refunded, &refundRow); err != nil {
			return err
		}
		switch {
		case status == string(store.OrderPaid) && movement == 0:
			problems = append(problems, fmt.Sprintf("line %d of a paid order has no payment movement", id))
		case status != string(store.OrderPaid) && movement != 0:
			problems = append(problems, fmt.Sprintf("line %d of a %s order has payment movement %d", id, status, movement))
		case posted != -amount:
			problems = append(problems, fmt.Sprintf("line %d of %d fen has payment movement %d, which posts %d fen to the payer's account",
				id, amount, movement, posted))
		default:
			problems = append(problems, fmt.Sprintf("line %d records %d fen refunded, but its refund row %d fen", id, refunded, refundRow))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger check: compare order lines with their movements: %w", err)
	}

	refunds, err := r.query(ctx, `SELECT rp.refund_id, rp.order_person_id, rp.amount, rp.movement_id, COALESCE(SUM(e.amount), 0)
		FROM refund_persons rp
		JOIN order_persons op ON op.id = rp.order_person_id
		LEFT JOIN accounts a ON a.person_id = op.payer_person_id
		LEFT JOIN entries e ON e.movement_id = rp.movement_id AND e.account_id = a.id
		GROUP BY rp.refund_id, rp.order_person_id, rp.amount, rp.movement_id
		HAVING COALESCE(SUM(e.amount), 0) <> rp.amount
		ORDER BY rp.refund_id, rp.order_person_id LIMIT ?`, maxLedgerProblems+1)
	if err != nil {
		return nil, fmt.Errorf("ledger check: compare refunds with their movements: %w", err)
	}
	err = eachRow(refunds, func(rows *sql.Rows) error {
		var refund, line, amount, movement, posted int64
		if err := rows.Scan(&refund, &line, &amount, &movement, &posted); err != nil {
			return err
		}
		problems = append(problems, fmt.Sprintf("refund %d of %d fen for line %d has refund movement %d, which posts %d fen to the payer's account",
			refund, amount, line, movement, posted))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger check: compare refunds with their movements: %w", err)
	}

	var balance, held int64
	err = r.queryRow(ctx, `SELECT a.balance,
		(SELECT COALESCE(SUM(op.amount), 0) FROM order_persons op JOIN orders o ON o.id = op.order_id WHERE o.status = 'paid')
		- (SELECT COALESCE(SUM(rp.amount), 0) FROM refund_persons rp)
		FROM accounts a WHERE a.kind = 'system' AND a.code = ?`, settlementAccount).Scan(&balance, &held)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		problems = append(problems, fmt.Sprintf("system account %q is missing", settlementAccount))
	case err != nil:
		return nil, fmt.Errorf("ledger check: compare the settlement balance with the orders: %w", err)
	case balance != held:
		problems = append(problems, fmt.Sprintf("system account %q has balance %d fen, but paid lines less refunds are %d fen",
			settlementAccount, balance, held))
	}
	return problems, nil
}
