package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

// Synthetic ID numbers: the birth date 00000000 belongs to no real person.
const (
	idHead   = "350100000000000001"
	idSpouse = "350100000000000002"
	idChild  = "350100000000000003"
	idSolo   = "350100000000000004"
	idOther  = "350100000000000005"
)

// employee returns a record of an employee with a personal account of
// balance fen and no family network.
func employee(line int, idcard string, balance int64) store.PersonRecord {
	return store.PersonRecord{
		Line:        line,
		Name:        "Test Person " + idcard[len(idcard)-2:],
		IDCard:      idcard,
		CertType:    "01",
		Phone:       "13800000000",
		Region:      "350102",
		InsuType:    "310",
		InsuStatus:  "1",
		CompanyName: "",
		Balance:     balance,
		HasAccount:  true,
	}
}

// resident returns a record of a resident, who has no personal account.
func resident(line int, idcard string) store.PersonRecord {
	r := employee(line, idcard, 0)
	r.InsuType = "390"
	r.CompanyName = "Dongjie Street Office"
	r.HasAccount = false
	return r
}

func inFamily(r store.PersonRecord, familyID, relation string) store.PersonRecord {
	r.FamilyID, r.Relation = familyID, relation
	return r
}

func mustImport(t *testing.T, s store.Store, records []store.PersonRecord, now time.Time) store.ImportResult {
	t.Helper()
	result, err := s.ImportPersons(t.Context(), records, now)
	if err != nil {
		t.Fatalf("ImportPersons: %v", err)
	}
	return result
}

func mustPerson(t *testing.T, s store.Store, idcard string) *store.Person {
	t.Helper()
	p, err := s.PersonByIDCard(t.Context(), idcard)
	if err != nil {
		t.Fatalf("PersonByIDCard %s: %v", idcard, err)
	}
	return p
}

func balanceOf(t *testing.T, s store.Store, idcard string) (int64, bool) {
	t.Helper()
	balance, ok, err := s.AccountBalance(t.Context(), mustPerson(t, s, idcard).ID)
	if err != nil {
		t.Fatalf("AccountBalance %s: %v", idcard, err)
	}
	return balance, ok
}

func checkLedger(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.LedgerCheck(t.Context()); err != nil {
		t.Errorf("LedgerCheck: %v", err)
	}
}

func familyIDs(t *testing.T, s store.Store, familyID string) []string {
	t.Helper()
	members, err := s.FamilyMembers(t.Context(), familyID)
	if err != nil {
		t.Fatalf("FamilyMembers %s: %v", familyID, err)
	}
	var ids []string
	for _, p := range members {
		ids = append(ids, p.IDCard+"/"+p.Relation)
	}
	return ids
}

func TestImportCounts(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		first := []store.PersonRecord{
			employee(1, idSolo, 10000),
			resident(2, idOther),
			inFamily(employee(3, idHead, 500), "F1", "0"),
		}
		got := mustImport(t, s, first, t0)
		if want := (store.ImportResult{Inserted: 3}); got != want {
			t.Errorf("first import: %+v, want %+v", got, want)
		}

		changedPhone := resident(1, idOther)
		changedPhone.Phone = "13900000000"
		second := []store.PersonRecord{
			changedPhone,
			employee(2, idSolo, 10000),
			inFamily(employee(3, idHead, 500), "F1", "0"),
			inFamily(resident(4, idChild), "F1", "2"),
		}
		got = mustImport(t, s, second, t0.Add(time.Hour))
		if want := (store.ImportResult{Inserted: 1, Updated: 1, Unchanged: 2}); got != want {
			t.Errorf("second import: %+v, want %+v", got, want)
		}
		if p := mustPerson(t, s, idOther); p.Phone != "13900000000" {
			t.Errorf("phone after update = %q, want 13900000000", p.Phone)
		}
		if n, err := s.PersonCount(t.Context()); err != nil || n != 4 {
			t.Errorf("PersonCount = %d, %v, want 4", n, err)
		}
		checkLedger(t, s)
	})
}

func TestImportStoresFields(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		r := inFamily(resident(1, idHead), "F1", "0")
		r.Name, r.CertType, r.Phone, r.Region, r.InsuStatus = "张三", "02", "13512345678", "350203", "2"
		mustImport(t, s, []store.PersonRecord{r}, t0)

		got := mustPerson(t, s, idHead)
		want := &store.Person{
			ID: got.ID, Name: "张三", IDCard: idHead, CertType: "02", Phone: "13512345678", Region: "350203",
			InsuType: "390", InsuStatus: "2", CompanyName: "Dongjie Street Office", FamilyID: "F1", Relation: "0",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("PersonByIDCard returned\n%+v\nwant\n%+v", got, want)
		}
		if _, ok := balanceOf(t, s, idHead); ok {
			t.Error("a resident has an account, want none")
		}
		if _, err := s.PersonByIDCard(t.Context(), idOther); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PersonByIDCard of an unknown ID number: %v, want ErrNotFound", err)
		}
	})
}

// snapshot is everything an import can change, for comparing before and
// after.
type snapshot struct {
	persons   []string
	accounts  []string
	movements int
	entries   int
}

func takeSnapshot(t *testing.T, db *sql.DB) snapshot {
	t.Helper()
	var s snapshot
	s.persons = queryStrings(t, db, `SELECT id, idcard, cert_type, name, phone, region, insu_type, insu_status,
		company_name, COALESCE(family_id, '<null>'), relation, created_at, updated_at FROM persons ORDER BY id`)
	s.accounts = queryStrings(t, db, `SELECT id, kind, COALESCE(person_id, 0), balance FROM accounts ORDER BY id`)
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM movements").Scan(&s.movements); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM entries").Scan(&s.entries); err != nil {
		t.Fatal(err)
	}
	return s
}

// queryStrings returns each row of query as its columns joined by "|".
func queryStrings(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		values := make([]any, len(columns))
		pointers := make([]any, len(columns))
		for i := range values {
			pointers[i] = &values[i]
		}
		if err := rows.Scan(pointers...); err != nil {
			t.Fatal(err)
		}
		fields := make([]string, len(values))
		for i, v := range values {
			fields[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(fields, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func familyFile() []store.PersonRecord {
	return []store.PersonRecord{
		inFamily(employee(1, idHead, 123456), "F1", "0"),
		inFamily(employee(2, idSpouse, 0), "F1", "1"),
		inFamily(resident(3, idChild), "F1", "2"),
		employee(4, idSolo, 99),
		resident(5, idOther),
	}
}

func TestImportTwiceChangesNothing(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			mustImport(t, b.Store, familyFile(), t0)
			before := takeSnapshot(t, b.DB)

			got := mustImport(t, b.Store, familyFile(), t0.Add(24*time.Hour))
			if want := (store.ImportResult{Unchanged: 5}); got != want {
				t.Errorf("second import: %+v, want %+v", got, want)
			}
			after := takeSnapshot(t, b.DB)
			if !reflect.DeepEqual(after, before) {
				t.Errorf("the second import changed the database:\nbefore %+v\nafter  %+v", before, after)
			}
			checkLedger(t, b.Store)
		})
	}
}

func TestImportOpeningBalances(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			mustImport(t, b.Store, familyFile(), t0)

			if got, ok := balanceOf(t, b.Store, idHead); !ok || got != 123456 {
				t.Errorf("head's balance = %d, %v, want 123456, true", got, ok)
			}
			if got, ok := balanceOf(t, b.Store, idSpouse); !ok || got != 0 {
				t.Errorf("spouse's balance = %d, %v, want 0, true", got, ok)
			}
			// Two non-zero opening balances make two movements of two
			// entries, and the empty account needs none.
			snap := takeSnapshot(t, b.DB)
			if snap.movements != 2 || snap.entries != 4 {
				t.Errorf("%d movements and %d entries, want 2 and 4", snap.movements, snap.entries)
			}
			var funding int64
			if err := b.DB.QueryRowContext(t.Context(), "SELECT balance FROM accounts WHERE code = 'external_funding'").Scan(&funding); err != nil {
				t.Fatal(err)
			}
			if funding != -(123456 + 99) {
				t.Errorf("external_funding balance = %d, want %d", funding, -(123456 + 99))
			}
			checkLedger(t, b.Store)
		})
	}
}

func TestImportBalanceChangePostsAdjustment(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			mustImport(t, b.Store, familyFile(), t0)

			changed := familyFile()
			changed[0].Balance = 100000 // the head spent 234.56 yuan elsewhere
			got := mustImport(t, b.Store, changed, t0.Add(time.Hour))
			if want := (store.ImportResult{Updated: 1, Unchanged: 4, Adjustments: 1}); got != want {
				t.Errorf("import: %+v, want %+v", got, want)
			}
			if balance, _ := balanceOf(t, b.Store, idHead); balance != 100000 {
				t.Errorf("balance = %d, want 100000", balance)
			}

			adjustments := queryStrings(t, b.DB, `SELECT a.kind, e.amount FROM entries e
				JOIN movements m ON m.id = e.movement_id JOIN accounts a ON a.id = e.account_id
				WHERE m.kind = 'adjustment' ORDER BY e.amount`)
			want := []string{"personal|-23456", "system|23456"}
			if !reflect.DeepEqual(adjustments, want) {
				t.Errorf("adjustment entries %q, want %q", adjustments, want)
			}
			// The opening movement stays: the ledger is never rewritten.
			openings := queryStrings(t, b.DB, `SELECT e.amount FROM entries e JOIN movements m ON m.id = e.movement_id
				JOIN accounts a ON a.id = e.account_id WHERE m.kind = 'opening' AND a.kind = 'personal' ORDER BY e.amount`)
			if !reflect.DeepEqual(openings, []string{"99", "123456"}) {
				t.Errorf("opening entries of personal accounts %q, want [99 123456]", openings)
			}
			checkLedger(t, b.Store)
		})
	}
}

func TestImportResidentGainsAccount(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, []store.PersonRecord{resident(1, idSolo)}, t0)
		got := mustImport(t, s, []store.PersonRecord{employee(1, idSolo, 500)}, t0.Add(time.Hour))
		if want := (store.ImportResult{Updated: 1}); got != want {
			t.Errorf("import: %+v, want %+v", got, want)
		}
		if balance, ok := balanceOf(t, s, idSolo); !ok || balance != 500 {
			t.Errorf("balance = %d, %v, want 500, true", balance, ok)
		}
		checkLedger(t, s)
	})
}

func TestImportNeverRemovesAccount(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, []store.PersonRecord{employee(1, idSolo, 500)}, t0)
		_, err := s.ImportPersons(t.Context(), []store.PersonRecord{resident(7, idSolo)}, t0.Add(time.Hour))
		if !errors.Is(err, store.ErrInvalidImport) {
			t.Fatalf("ImportPersons: %v, want ErrInvalidImport", err)
		}
		if !strings.Contains(err.Error(), "line 7") {
			t.Errorf("error %q does not name line 7", err)
		}
		if p := mustPerson(t, s, idSolo); p.InsuType != "310" {
			t.Errorf("InsuType = %q after the rejected import, want 310", p.InsuType)
		}
		if balance, ok := balanceOf(t, s, idSolo); !ok || balance != 500 {
			t.Errorf("balance = %d, %v, want 500, true", balance, ok)
		}
	})
}

func TestImportNegativeBalanceStoresNothing(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			records := []store.PersonRecord{employee(1, idSolo, 100), employee(2, idOther, -1)}
			_, err := b.Store.ImportPersons(t.Context(), records, t0)
			if !errors.Is(err, store.ErrInvalidImport) {
				t.Fatalf("ImportPersons: %v, want ErrInvalidImport", err)
			}
			if !strings.Contains(err.Error(), "line 2") {
				t.Errorf("error %q does not name line 2", err)
			}
			if n, err := b.Store.PersonCount(t.Context()); err != nil || n != 0 {
				t.Errorf("PersonCount = %d, %v, want 0", n, err)
			}
			if snap := takeSnapshot(t, b.DB); snap.movements != 0 {
				t.Errorf("%d movements stored, want 0", snap.movements)
			}
		})
	}
}

func TestAccountBalanceCannotGoNegative(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			mustImport(t, b.Store, []store.PersonRecord{employee(1, idSolo, 100)}, t0)
			// The database rejects a negative personal balance even from a
			// writer that skips the store's checks.
			if _, err := b.DB.ExecContext(t.Context(), "UPDATE accounts SET balance = -1 WHERE kind = 'personal'"); err == nil {
				t.Fatal("UPDATE to a negative personal balance succeeded, want a CHECK violation")
			}
			if balance, _ := balanceOf(t, b.Store, idSolo); balance != 100 {
				t.Errorf("balance = %d, want 100", balance)
			}
		})
	}
}

func TestImportDuplicateIDCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		records := []store.PersonRecord{employee(1, idSolo, 100), resident(2, idOther), employee(3, idSolo, 200)}
		_, err := s.ImportPersons(t.Context(), records, t0)
		if !errors.Is(err, store.ErrInvalidImport) {
			t.Fatalf("ImportPersons: %v, want ErrInvalidImport", err)
		}
		if !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("error %q does not name lines 1 and 3", err)
		}
		if n, _ := s.PersonCount(t.Context()); n != 0 {
			t.Errorf("PersonCount = %d, want 0", n)
		}
	})
}

func TestImportFamilyTwoHeadsRollsBack(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		records := []store.PersonRecord{
			employee(1, idSolo, 100),
			inFamily(employee(2, idHead, 100), "F1", "0"),
			inFamily(resident(3, idSpouse), "F1", "1"),
			inFamily(resident(4, idChild), "F1", "0"),
		}
		_, err := s.ImportPersons(t.Context(), records, t0)
		if !errors.Is(err, store.ErrInvalidImport) {
			t.Fatalf("ImportPersons: %v, want ErrInvalidImport", err)
		}
		for _, part := range []string{`"F1"`, "line 4", "lines 2 and 4"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not contain %s", err, part)
			}
		}
		if _, err := s.PersonByIDCard(t.Context(), idSolo); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PersonByIDCard of line 1 after the rollback: %v, want ErrNotFound", err)
		}
		if _, err := s.FamilyMembers(t.Context(), "F1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FamilyMembers after the rollback: %v, want ErrNotFound", err)
		}
		checkLedger(t, s)
	})
}

func TestImportSecondHeadForStoredFamily(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, familyFile(), t0)

		records := []store.PersonRecord{
			employee(1, idOther, 700), // was a resident: this gains an account
			inFamily(resident(2, "350100000000000009"), "F1", "0"),
		}
		_, err := s.ImportPersons(t.Context(), records, t0.Add(time.Hour))
		if !errors.Is(err, store.ErrInvalidImport) {
			t.Fatalf("ImportPersons: %v, want ErrInvalidImport", err)
		}
		if !strings.Contains(err.Error(), `"F1"`) || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("error %q does not name family F1 and line 2", err)
		}
		if _, ok := balanceOf(t, s, idOther); ok {
			t.Error("line 1's account exists after the rollback")
		}
		want := []string{idHead + "/0", idSpouse + "/1", idChild + "/2"}
		if got := familyIDs(t, s, "F1"); !reflect.DeepEqual(got, want) {
			t.Errorf("FamilyMembers = %q, want %q", got, want)
		}
		checkLedger(t, s)
	})
}

func TestImportFamilyWithoutHeadRollsBack(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		records := []store.PersonRecord{
			employee(1, idSolo, 100),
			inFamily(employee(2, idSpouse, 100), "F2", "1"),
			inFamily(resident(3, idChild), "F2", "2"),
		}
		_, err := s.ImportPersons(t.Context(), records, t0)
		if !errors.Is(err, store.ErrInvalidImport) {
			t.Fatalf("ImportPersons: %v, want ErrInvalidImport", err)
		}
		for _, part := range []string{`"F2"`, "no head", "line 2"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not contain %s", err, part)
			}
		}
		if _, err := s.PersonByIDCard(t.Context(), idSolo); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PersonByIDCard of line 1 after the rollback: %v, want ErrNotFound", err)
		}
		if n, _ := s.PersonCount(t.Context()); n != 0 {
			t.Errorf("PersonCount = %d, want 0", n)
		}
		checkLedger(t, s)
	})
}

func TestImportHeadStepsDownWithoutSuccessor(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, familyFile(), t0)

		// The family check counts the stored members the file leaves out.
		changed := []store.PersonRecord{
			inFamily(employee(1, idHead, 1), "F1", "1"), // also a balance change, which must roll back
		}
		_, err := s.ImportPersons(t.Context(), changed, t0.Add(time.Hour))
		if !errors.Is(err, store.ErrInvalidImport) {
			t.Fatalf("ImportPersons: %v, want ErrInvalidImport", err)
		}
		if !strings.Contains(err.Error(), "no head") {
			t.Errorf("error %q does not say the family has no head", err)
		}
		if p := mustPerson(t, s, idHead); p.Relation != "0" {
			t.Errorf("head's relation = %q after the rollback, want 0", p.Relation)
		}
		if balance, _ := balanceOf(t, s, idHead); balance != 123456 {
			t.Errorf("head's balance = %d after the rollback, want 123456", balance)
		}
		checkLedger(t, s)
	})
}

func TestImportHeadSwap(t *testing.T) {
	for _, order := range []string{"old head first", "new head first"} {
		t.Run(order, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, s store.Store) {
				mustImport(t, s, familyFile(), t0)

				oldHead := inFamily(employee(1, idHead, 123456), "F1", "1")
				newHead := inFamily(employee(2, idSpouse, 0), "F1", "0")
				records := []store.PersonRecord{oldHead, newHead}
				if order == "new head first" {
					records = []store.PersonRecord{newHead, oldHead}
				}
				got := mustImport(t, s, records, t0.Add(time.Hour))
				if want := (store.ImportResult{Updated: 2}); got != want {
					t.Errorf("import: %+v, want %+v", got, want)
				}
				want := []string{idSpouse + "/0", idHead + "/1", idChild + "/2"}
				if got := familyIDs(t, s, "F1"); !reflect.DeepEqual(got, want) {
					t.Errorf("FamilyMembers = %q, want %q", got, want)
				}
			})
		})
	}
}

func TestImportHeadsSwapAcrossFamilies(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, []store.PersonRecord{
			inFamily(resident(1, idHead), "F1", "0"),
			inFamily(resident(2, idSpouse), "F2", "0"),
		}, t0)

		got := mustImport(t, s, []store.PersonRecord{
			inFamily(resident(1, idHead), "F2", "0"),
			inFamily(resident(2, idSpouse), "F1", "0"),
		}, t0.Add(time.Hour))
		if want := (store.ImportResult{Updated: 2}); got != want {
			t.Errorf("import: %+v, want %+v", got, want)
		}
		if got := familyIDs(t, s, "F1"); !reflect.DeepEqual(got, []string{idSpouse + "/0"}) {
			t.Errorf("FamilyMembers F1 = %q", got)
		}
		if got := familyIDs(t, s, "F2"); !reflect.DeepEqual(got, []string{idHead + "/0"}) {
			t.Errorf("FamilyMembers F2 = %q", got)
		}
	})
}

func TestImportPersonLeavesFamily(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, familyFile(), t0)

		got := mustImport(t, s, []store.PersonRecord{resident(1, idChild)}, t0.Add(time.Hour))
		if want := (store.ImportResult{Updated: 1}); got != want {
			t.Errorf("import: %+v, want %+v", got, want)
		}
		child := mustPerson(t, s, idChild)
		if child.FamilyID != "" || child.Relation != "" {
			t.Errorf("FamilyID, Relation = %q, %q, want empty", child.FamilyID, child.Relation)
		}
		want := []string{idHead + "/0", idSpouse + "/1"}
		if got := familyIDs(t, s, "F1"); !reflect.DeepEqual(got, want) {
			t.Errorf("FamilyMembers = %q, want %q", got, want)
		}
	})
}

func TestImportHeadLeavesFamilyWithMembers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, familyFile(), t0)

		_, err := s.ImportPersons(t.Context(), []store.PersonRecord{employee(3, idHead, 123456)}, t0.Add(time.Hour))
		if !errors.Is(err, store.ErrInvalidImport) {
			t.Fatalf("ImportPersons: %v, want ErrInvalidImport", err)
		}
		if !strings.Contains(err.Error(), `"F1"`) || !strings.Contains(err.Error(), "line 3") {
			t.Errorf("error %q does not name family F1 and line 3", err)
		}
		if p := mustPerson(t, s, idHead); p.FamilyID != "F1" {
			t.Errorf("head's family = %q after the rollback, want F1", p.FamilyID)
		}
	})
}

func TestImportLastMemberLeavesFamily(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, []store.PersonRecord{inFamily(resident(1, idHead), "F3", "0")}, t0)

		// A network without members no longer exists, so it needs no head.
		mustImport(t, s, []store.PersonRecord{resident(1, idHead)}, t0.Add(time.Hour))
		if _, err := s.FamilyMembers(t.Context(), "F3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FamilyMembers: %v, want ErrNotFound", err)
		}
	})
}

func TestImportRelationIgnoredWithoutFamily(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		r := resident(1, idSolo)
		r.Relation = "0"
		mustImport(t, s, []store.PersonRecord{r}, t0)
		if p := mustPerson(t, s, idSolo); p.Relation != "" {
			t.Errorf("Relation = %q, want empty outside a family network", p.Relation)
		}
		// The same record again is unchanged, though its relation differs
		// from what is stored.
		got := mustImport(t, s, []store.PersonRecord{r}, t0.Add(time.Hour))
		if want := (store.ImportResult{Unchanged: 1}); got != want {
			t.Errorf("second import: %+v, want %+v", got, want)
		}
	})
}

func TestFamilyMembersHeadFirst(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, []store.PersonRecord{
			inFamily(resident(1, idChild), "F1", "2"),
			inFamily(resident(2, idSpouse), "F1", "1"),
			inFamily(employee(3, idHead, 100), "F1", "0"),
			inFamily(resident(4, idSolo), "F9", "0"),
		}, t0)

		members, err := s.FamilyMembers(t.Context(), "F1")
		if err != nil {
			t.Fatalf("FamilyMembers: %v", err)
		}
		if len(members) != 3 {
			t.Fatalf("FamilyMembers returned %d persons, want 3", len(members))
		}
		if members[0].IDCard != idHead || members[0].Relation != "0" {
			t.Errorf("first member = %s/%s, want the head %s/0", members[0].IDCard, members[0].Relation, idHead)
		}
		if members[0].FamilyID != "F1" {
			t.Errorf("head's FamilyID = %q, want F1", members[0].FamilyID)
		}

		if _, err := s.FamilyMembers(t.Context(), "F404"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FamilyMembers of an unknown network: %v, want ErrNotFound", err)
		}
	})
}

func TestImportManyRecords(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		// More records than one IN list takes, so lookups span chunks.
		var records []store.PersonRecord
		for i := range 1200 {
			r := employee(i+1, fmt.Sprintf("3501000000000%05d", i), int64(i))
			if i%3 == 0 {
				r = inFamily(r, fmt.Sprintf("F%d", i/3), "0")
			}
			records = append(records, r)
		}
		got := mustImport(t, s, records, t0)
		if got.Inserted != 1200 {
			t.Errorf("first import inserted %d, want 1200", got.Inserted)
		}
		records[1100].Balance += 5
		got = mustImport(t, s, records, t0.Add(time.Hour))
		if want := (store.ImportResult{Updated: 1, Unchanged: 1199, Adjustments: 1}); got != want {
			t.Errorf("second import: %+v, want %+v", got, want)
		}
		checkLedger(t, s)
	})
}

// TestConcurrentImportsKeepOneHead races two imports that are each valid
// alone but leave a network without a head together: one takes the only
// member, the head, out of the network while the other adds a member to it.
// Imports serialize, so the second to run sees the first's change, and the
// network never ends up without a head.
func TestConcurrentImportsKeepOneHead(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			other := b.Open(t)
			for round := range 10 {
				family := fmt.Sprintf("R%d", round)
				head := fmt.Sprintf("3501000000000%05d", 2*round)
				member := fmt.Sprintf("3501000000000%05d", 2*round+1)
				mustImport(t, b.Store, []store.PersonRecord{inFamily(resident(1, head), family, "0")}, t0)

				leave := []store.PersonRecord{resident(1, head)}
				join := []store.PersonRecord{inFamily(resident(1, member), family, "1")}
				errs := make([]error, 2)
				start := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() {
					<-start
					_, errs[0] = b.Store.ImportPersons(t.Context(), leave, t0.Add(time.Hour))
				})
				wg.Go(func() {
					<-start
					_, errs[1] = other.ImportPersons(t.Context(), join, t0.Add(time.Hour))
				})
				close(start)
				wg.Wait()

				succeeded := 0
				for _, err := range errs {
					switch {
					case err == nil:
						succeeded++
					case !errors.Is(err, store.ErrInvalidImport):
						t.Errorf("round %d: %v, want nil or ErrInvalidImport", round, err)
					}
				}
				if succeeded == 0 {
					t.Errorf("round %d: both imports failed, want the first to run to succeed", round)
				}
				members, err := b.Store.FamilyMembers(t.Context(), family)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Fatalf("round %d: FamilyMembers: %v", round, err)
				}
				if members[0].Relation != "0" {
					t.Errorf("round %d: family network %s has no head; imports returned %v", round, family, errs)
				}
			}
		})
	}
}
