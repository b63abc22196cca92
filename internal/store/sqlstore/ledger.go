package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Movement kinds.
const (
	movementOpening    = "opening"    // an imported balance of a new account
	movementAdjustment = "adjustment" // the change of an imported balance
)

// fundingAccount is the code of the system account that money entering the
// platform from outside comes from.
const fundingAccount = "external_funding"

// posting is one entry of a movement: amount fen added to an account's
// balance, negative to take money out.
type posting struct {
	account int64
	amount  int64
}

// postMovement records a movement with its entries and applies them to the
// account balances, inside tx. The postings must sum to zero. A personal
// account taken below zero fails the statement on the accounts table's
// CHECK constraint.
func postMovement(ctx context.Context, tx runner, kind, reference string, now time.Time, postings ...posting) error {
	var sum int64
	for _, p := range postings {
		if p.amount == 0 {
			return fmt.Errorf("post %s movement %q: an entry of account %d has amount 0", kind, reference, p.account)
		}
		sum += p.amount
	}
	if len(postings) < 2 || sum != 0 {
		return fmt.Errorf("post %s movement %q: %d entries sum to %d fen, expected at least 2 summing to 0", kind, reference, len(postings), sum)
	}

	var movement int64
	err := tx.queryRow(ctx, `INSERT INTO movements (kind, reference, created_at) VALUES (?, ?, ?) RETURNING id`,
		kind, reference, tx.time(now)).Scan(&movement)
	if err != nil {
		return fmt.Errorf("insert %s movement %q: %w", kind, reference, err)
	}

	values := make([]string, len(postings))
	args := make([]any, 0, 3*len(postings))
	for i, p := range postings {
		values[i] = "(?, ?, ?)"
		args = append(args, movement, p.account, p.amount)
	}
	if _, err := tx.exec(ctx, `INSERT INTO entries (movement_id, account_id, amount) VALUES `+strings.Join(values, ", "), args...); err != nil {
		return fmt.Errorf("insert entries of movement %d: %w", movement, err)
	}

	for _, p := range postings {
		if _, err := tx.exec(ctx, `UPDATE accounts SET balance = balance + ? WHERE id = ?`, p.amount, p.account); err != nil {
			return fmt.Errorf("apply %d fen to account %d: %w", p.amount, p.account, err)
		}
	}
	return nil
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

// LedgerCheck returns an error listing the movements that do not balance and
// the accounts whose balance differs from their entries. Each query reads one
// snapshot, so movements posted while it runs do not show as problems.
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
