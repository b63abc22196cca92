package sqlstore_test

import (
	"strings"
	"testing"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

func TestLedgerCheckEmpty(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		checkLedger(t, s)
	})
}

func TestLedgerCheckFindsBalanceMismatch(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			mustImport(t, b.Store, []store.PersonRecord{employee(1, idSolo, 100)}, t0)
			if _, err := b.DB.ExecContext(t.Context(), "UPDATE accounts SET balance = balance + 1 WHERE kind = 'personal'"); err != nil {
				t.Fatal(err)
			}
			err := b.Store.LedgerCheck(t.Context())
			if err == nil {
				t.Fatal("LedgerCheck passed a balance that differs from its entries")
			}
			if !strings.Contains(err.Error(), "balance 101 fen but its entries sum to 100 fen") {
				t.Errorf("error %q does not describe the mismatch", err)
			}
		})
	}
}

func TestLedgerCheckFindsUnbalancedMovement(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			mustImport(t, b.Store, []store.PersonRecord{employee(1, idSolo, 100)}, t0)
			// One more entry, with the balance kept in step, leaves the
			// accounts consistent and only the movement unbalanced.
			_, err := b.DB.ExecContext(t.Context(), `INSERT INTO entries (movement_id, account_id, amount)
				SELECT m.id, a.id, 5 FROM movements m, accounts a WHERE a.kind = 'personal'`)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.DB.ExecContext(t.Context(), "UPDATE accounts SET balance = balance + 5 WHERE kind = 'personal'"); err != nil {
				t.Fatal(err)
			}
			err = b.Store.LedgerCheck(t.Context())
			if err == nil {
				t.Fatal("LedgerCheck passed a movement whose entries do not sum to zero")
			}
			if !strings.Contains(err.Error(), "opening movement") || !strings.Contains(err.Error(), "3 entries summing to 5 fen") {
				t.Errorf("error %q does not describe the unbalanced movement", err)
			}
			if strings.Contains(err.Error(), "account") {
				t.Errorf("error %q names an account, but every balance matches its entries", err)
			}
		})
	}
}

func TestAccountBalanceWithoutPerson(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		balance, ok, err := s.AccountBalance(t.Context(), 404)
		if err != nil || ok || balance != 0 {
			t.Errorf("AccountBalance of an unknown person = %d, %v, %v, want 0, false, nil", balance, ok, err)
		}
	})
}
