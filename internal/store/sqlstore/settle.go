package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

	"chsgate/internal/store"
	"chsgate/protocol"
)

// SettleOrder settles the order in one transaction, holding the locks
// listed at the top of payments.go. The order row lock makes it exactly
// once: a second call waits for the first and then finds the order no longer
// pending. The balances are read under the accounts' locks, so no other
// payment can spend them between the check and the debit.
//
// An auth code pays once, so an order whose authorization has paid another
// order since this one was created fails with 20002, like a shortfall.
func (s *Store) SettleOrder(ctx context.Context, orderID int64, now time.Time) (*store.Order, error) {
	var settled *store.Order
	err := s.inTx(ctx, func(tx runner) error {
		o, err := lockOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if o.Status != store.OrderPending {
			return fmt.Errorf("settle order %d, which is %s: %w", orderID, o.Status, store.ErrOrderState)
		}
		if err := settle(ctx, tx, o, now); err != nil {
			return fmt.Errorf("settle order %d: %w", orderID, err)
		}
		settled, err = loadOrder(ctx, tx, "id = ?", orderID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return settled, nil
}

// settle pays or fails the locked, pending order o inside tx.
func settle(ctx context.Context, tx runner, o *store.Order, now time.Time) error {
	paid, err := lockAuthorization(ctx, tx, o.AuthCodeHash)
	if err != nil {
		return err
	}
	if paid {
		return failOrder(ctx, tx, o, protocol.CodeAuthExpired, now)
	}

	payers, debits := payerDebits(o)
	accounts, err := lockPersonalAccounts(ctx, tx, payers)
	if err != nil {
		return err
	}
	for _, payer := range payers {
		account, ok := accounts[payer]
		if !ok || account.balance < debits[payer] {
			return failOrder(ctx, tx, o, shortfallCode(o.PayKind), now)
		}
	}

	settlement, err := systemAccountID(ctx, tx, settlementAccount)
	if err != nil {
		return err
	}
	for _, p := range o.Persons {
		if err := debitLine(ctx, tx, o, p, accounts[p.PayerPersonID].id, settlement, now); err != nil {
			return err
		}
	}

	if _, err := tx.exec(ctx, `UPDATE orders SET status = 'paid', paid_at = ? WHERE id = ?`, tx.time(now), o.ID); err != nil {
		return fmt.Errorf("set order paid: %w", err)
	}
	// The row is locked and was unpaid, so exactly one row changes.
	if _, err := tx.exec(ctx, `UPDATE authorizations SET paid_at = ? WHERE code_hash = ? AND paid_at IS NULL`,
		tx.time(now), o.AuthCodeHash); err != nil {
		return fmt.Errorf("mark authorization paid: %w", err)
	}

	var messages []outboxRow
	if o.NotifyURL != "" {
		messages = append(messages, outboxRow{kind: store.OutboxPaymentCallback, orderID: o.ID})
	}
	for _, payer := range payers {
		messages = append(messages, outboxRow{kind: store.OutboxAccountMessage, orderID: o.ID, personID: payer, amount: -debits[payer]})
	}
	return insertOutbox(ctx, tx, now, messages...)
}

// lockAuthorization locks the authorization row of an order's auth code and
// reports whether the code has paid an order already.
func lockAuthorization(ctx context.Context, tx runner, codeHash []byte) (bool, error) {
	var paidAt time.Time
	err := tx.queryRow(ctx, `SELECT paid_at FROM authorizations WHERE code_hash = ?`+tx.dialect.forUpdate(), codeHash).
		Scan(nullTimeColumn{&paidAt})
	if errors.Is(err, sql.ErrNoRows) {
		// The foreign key of orders.auth_code_hash rules this out.
		return false, errors.New("the order's authorization is missing")
	}
	if err != nil {
		return false, fmt.Errorf("lock authorization: %w", err)
	}
	return !paidAt.IsZero(), nil
}

// payerDebits returns the persons whose accounts pay the order, in the
// order of their first line, and the sum each one owes.
func payerDebits(o *store.Order) ([]int64, map[int64]int64) {
	var payers []int64
	debits := make(map[int64]int64)
	for _, p := range o.Persons {
		if _, ok := debits[p.PayerPersonID]; !ok {
			payers = append(payers, p.PayerPersonID)
		}
		debits[p.PayerPersonID] += p.Amount
	}
	return payers, debits
}

// lockedAccount is a personal account read under its row lock.
type lockedAccount struct {
	id      int64
	balance int64
}

// lockPersonalAccounts locks the personal accounts of the persons, in
// account id order and in one statement, and returns them by person id. A
// person without an account is missing from the map.
func lockPersonalAccounts(ctx context.Context, tx runner, personIDs []int64) (map[int64]lockedAccount, error) {
	if len(personIDs) > maxListArgs {
		return nil, fmt.Errorf("lock accounts of %d persons, more than the %d one statement takes", len(personIDs), maxListArgs)
	}
	rows, err := tx.query(ctx, `SELECT person_id, id, balance FROM accounts WHERE person_id IN (`+
		placeholders(len(personIDs))+`) ORDER BY id`+tx.dialect.forUpdate(), anySlice(personIDs)...)
	if err != nil {
		return nil, fmt.Errorf("lock personal accounts: %w", err)
	}
	accounts := make(map[int64]lockedAccount, len(personIDs))
	err = eachRow(rows, func(rows *sql.Rows) error {
		var personID int64
		var a lockedAccount
		if err := rows.Scan(&personID, &a.id, &a.balance); err != nil {
			return err
		}
		accounts[personID] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock personal accounts: %w", err)
	}
	return accounts, nil
}

// debitLine posts the payment movement of one order line, from the payer's
// account to the settlement account, and gives the line its SetID.
func debitLine(ctx context.Context, tx runner, o *store.Order, p store.OrderPerson, account, settlement int64, now time.Time) error {
	setID, err := newSetID()
	if err != nil {
		return err
	}
	movement, err := postMovement(ctx, tx, movementPayment, "pay_no "+o.PayNo+" setl_id "+setID, now,
		posting{account: account, amount: -p.Amount},
		posting{account: settlement, amount: p.Amount})
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `UPDATE order_persons SET set_id = ?, movement_id = ? WHERE id = ?`, setID, movement, p.ID)
	if err != nil {
		return fmt.Errorf("set settlement id of order line %d: %w", p.ID, err)
	}
	return nil
}

// failOrder ends the order as failed with code and its standard message,
// and queues the third party's callback when the order has a notify URL.
func failOrder(ctx context.Context, tx runner, o *store.Order, code int, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE orders SET status = 'failed', fail_code = ?, fail_msg = ? WHERE id = ?`,
		code, protocol.FormatMessage(code), o.ID)
	if err != nil {
		return fmt.Errorf("set order failed with %d: %w", code, err)
	}
	if o.NotifyURL == "" {
		return nil
	}
	return insertOutbox(ctx, tx, now, outboxRow{kind: store.OutboxPaymentCallback, orderID: o.ID})
}

// shortfallCode returns the business code of a balance too low for the pay
// kind: the household head's mutual-aid balance or a personal one.
func shortfallCode(payKind string) int {
	if payKind == store.PayKindMutual {
		return protocol.CodeFamilyBalanceShort
	}
	return protocol.CodePersonalBalanceShort
}

// setIDSpace is 10^20, the count of 20-digit settlement id suffixes.
var setIDSpace = new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)

// newSetID returns a settlement id for an order line: "S" and 20 random
// digits. The unique index on order_persons.set_id rejects the rare
// collision, and the settlement then fails as a whole and can be retried.
func newSetID() (string, error) {
	n, err := rand.Int(rand.Reader, setIDSpace)
	if err != nil {
		return "", fmt.Errorf("generate settlement id: %w", err)
	}
	return fmt.Sprintf("S%020d", n), nil
}
