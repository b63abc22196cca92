package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"chsgate/internal/store"
)

// ImportPersons applies the records in one transaction. Imports serialize
// on an advisory lock, so the family networks checked at the end are not
// changed by another import meanwhile. Field values are trusted: the caller
// validated them. The store enforces its own invariants: one record per ID
// number, no negative balance, no personal account removed, and exactly one
// head in every family network the import changed.
func (s *Store) ImportPersons(ctx context.Context, records []store.PersonRecord, now time.Time) (store.ImportResult, error) {
	if err := checkImportRecords(records); err != nil {
		return store.ImportResult{}, err
	}

	var result store.ImportResult
	err := s.inTx(ctx, func(tx runner) error {
		if err := s.dialect.lock(ctx, tx, importLock); err != nil {
			return err
		}
		imp := &importer{
			tx:        tx,
			now:       now,
			reference: "import " + now.UTC().Format(time.RFC3339Nano),
			lineOf:    make(map[int64]int, len(records)),
			touched:   make(map[string]int),
		}
		var err error
		result, err = imp.run(ctx, records)
		return err
	})
	if err != nil {
		return store.ImportResult{}, err
	}
	return result, nil
}

// invalidImport returns an error wrapping store.ErrInvalidImport that names
// the line.
func invalidImport(line int, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", store.ErrInvalidImport, line, fmt.Sprintf(format, args...))
}

// checkImportRecords rejects what no database state can make valid, before
// the transaction starts.
func checkImportRecords(records []store.PersonRecord) error {
	lines := make(map[string]int, len(records))
	for _, r := range records {
		if r.IDCard == "" {
			return invalidImport(r.Line, "the ID number is empty")
		}
		if first, ok := lines[r.IDCard]; ok {
			return invalidImport(r.Line, "the person of line %d appears again: list each ID number once", first)
		}
		lines[r.IDCard] = r.Line
		if r.HasAccount && r.Balance < 0 {
			return invalidImport(r.Line, "account balance %d fen is negative", r.Balance)
		}
	}
	return nil
}

// importer is the state of one ImportPersons transaction.
type importer struct {
	tx        runner
	now       time.Time
	reference string // of the ledger movements the import posts
	funding   int64  // account id of external_funding

	// lineOf maps the person id of every record to its line, for errors.
	lineOf map[int64]int
	// touched maps each family network that gained or lost a member, or
	// whose head changed, to the first line that did it.
	touched map[string]int
	// newHeads are the persons to make heads after every other change.
	newHeads []newHead

	result store.ImportResult
}

// storedPerson is a person as stored before the import, with the personal
// account, if any.
type storedPerson struct {
	store.Person
	accountID int64 // 0 when the person has no account
	balance   int64
}

// newHead is a person who becomes the head of a family network.
type newHead struct {
	personID int64
	familyID string
	line     int
}

func (imp *importer) run(ctx context.Context, records []store.PersonRecord) (store.ImportResult, error) {
	stored, err := imp.loadStored(ctx, records)
	if err != nil {
		return store.ImportResult{}, err
	}
	if imp.funding, err = systemAccountID(ctx, imp.tx, fundingAccount); err != nil {
		return store.ImportResult{}, err
	}

	for _, r := range records {
		if err := imp.apply(ctx, r, stored[r.IDCard]); err != nil {
			return store.ImportResult{}, err
		}
	}
	if err := imp.setNewHeads(ctx); err != nil {
		return store.ImportResult{}, err
	}
	if err := imp.checkFamilies(ctx); err != nil {
		return store.ImportResult{}, err
	}
	return imp.result, nil
}

// loadStored reads and locks the stored persons that the records name, with
// their accounts. The accounts are read under the lock, so that a payment
// committed meanwhile cannot make an adjustment wrong. Each statement locks
// them in id order, as settlements and refunds do, so that an import and a
// payment on the same accounts wait for each other instead of deadlocking.
// Across the chunks of a large file the order is by person, and there
// PostgreSQL may still detect a deadlock and roll one transaction back.
func (imp *importer) loadStored(ctx context.Context, records []store.PersonRecord) (map[string]*storedPerson, error) {
	idcards := make([]string, len(records))
	for i, r := range records {
		idcards[i] = r.IDCard
	}

	stored := make(map[string]*storedPerson, len(records))
	byID := make(map[int64]*storedPerson)
	for _, chunk := range chunks(idcards) {
		rows, err := imp.tx.query(ctx, `SELECT `+personColumns+` FROM persons WHERE idcard IN (`+placeholders(len(chunk))+`)`+
			imp.tx.dialect.forUpdate(), anySlice(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("read stored persons: %w", err)
		}
		err = eachRow(rows, func(rows *sql.Rows) error {
			p, err := scanPerson(rows)
			if err != nil {
				return err
			}
			sp := &storedPerson{Person: *p}
			stored[p.IDCard] = sp
			byID[p.ID] = sp
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read stored persons: %w", err)
		}
	}

	ids := make([]int64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, chunk := range chunks(ids) {
		rows, err := imp.tx.query(ctx, `SELECT person_id, id, balance FROM accounts WHERE person_id IN (`+placeholders(len(chunk))+`) ORDER BY id`+
			imp.tx.dialect.forUpdate(), anySlice(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("read stored accounts: %w", err)
		}
		err = eachRow(rows, func(rows *sql.Rows) error {
			var personID, accountID, balance int64
			if err := rows.Scan(&personID, &accountID, &balance); err != nil {
				return err
			}
			byID[personID].accountID = accountID
			byID[personID].balance = balance
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read stored accounts: %w", err)
		}
	}
	return stored, nil
}

// apply inserts or updates the person of r, whose stored state is old (nil
// when new), and brings the account balance to r's through the ledger.
func (imp *importer) apply(ctx context.Context, r store.PersonRecord, old *storedPerson) error {
	want := personOf(r)
	if old == nil {
		return imp.insert(ctx, r, want)
	}
	want.ID = old.ID
	imp.lineOf[old.ID] = r.Line

	if old.accountID != 0 && !r.HasAccount {
		return invalidImport(r.Line, "the person has a personal account, but the record has no acct_balance: "+
			"an import never removes an account, so give the balance, 0.00 to empty it")
	}

	fieldsChanged := !samePersonFields(old.Person, want)
	if fieldsChanged {
		if err := imp.update(ctx, r.Line, old.Person, want); err != nil {
			return err
		}
	}
	balanceChanged, err := imp.syncAccount(ctx, r, old)
	if err != nil {
		return err
	}

	if fieldsChanged || balanceChanged {
		imp.result.Updated++
	} else {
		imp.result.Unchanged++
	}
	return nil
}

func (imp *importer) insert(ctx context.Context, r store.PersonRecord, want store.Person) error {
	relation, deferred := writtenRelation(want, nil)

	var id int64
	err := imp.tx.queryRow(ctx, `INSERT INTO persons (idcard, cert_type, name, phone, region, insu_type,
		insu_status, company_name, family_id, relation, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		want.IDCard, want.CertType, want.Name, want.Phone, want.Region, want.InsuType,
		want.InsuStatus, want.CompanyName, nullIfEmpty(want.FamilyID), relation,
		imp.tx.time(imp.now), imp.tx.time(imp.now)).Scan(&id)
	if err != nil {
		return fmt.Errorf("line %d: insert person: %w", r.Line, err)
	}
	imp.lineOf[id] = r.Line
	if deferred {
		imp.newHeads = append(imp.newHeads, newHead{personID: id, familyID: want.FamilyID, line: r.Line})
	}
	imp.touch(want.FamilyID, r.Line)

	if r.HasAccount {
		if err := imp.openAccount(ctx, r, id); err != nil {
			return err
		}
	}
	imp.result.Inserted++
	return nil
}

func (imp *importer) update(ctx context.Context, line int, old, want store.Person) error {
	relation, deferred := writtenRelation(want, &old)
	_, err := imp.tx.exec(ctx, `UPDATE persons SET cert_type = ?, name = ?, phone = ?, region = ?,
		insu_type = ?, insu_status = ?, company_name = ?, family_id = ?, relation = ?, updated_at = ?
		WHERE id = ?`,
		want.CertType, want.Name, want.Phone, want.Region, want.InsuType, want.InsuStatus,
		want.CompanyName, nullIfEmpty(want.FamilyID), relation, imp.tx.time(imp.now), old.ID)
	if err != nil {
		return fmt.Errorf("line %d: update person %d: %w", line, old.ID, err)
	}
	if deferred {
		imp.newHeads = append(imp.newHeads, newHead{personID: old.ID, familyID: want.FamilyID, line: line})
	}

	if old.FamilyID != want.FamilyID || old.Relation != want.Relation {
		imp.touch(old.FamilyID, line)
		imp.touch(want.FamilyID, line)
	}
	return nil
}

// writtenRelation returns the relation to write now for a person who should
// end up as want, and whether setNewHeads makes the person head at the end.
// A person who becomes a head, and was not already the head of the same
// network, is written without a relation first. Otherwise swapping two heads
// would break the unique index of heads when the new head is written before
// the old one steps down.
func writtenRelation(want store.Person, old *store.Person) (relation string, deferred bool) {
	if want.Relation != headRelation {
		return want.Relation, false
	}
	if old != nil && old.FamilyID == want.FamilyID && old.Relation == headRelation {
		return headRelation, false
	}
	return "", true
}

// syncAccount brings the person's account to r's balance through the ledger,
// opening the account if needed, and reports whether anything changed.
func (imp *importer) syncAccount(ctx context.Context, r store.PersonRecord, old *storedPerson) (bool, error) {
	if !r.HasAccount {
		return false, nil
	}
	if old.accountID == 0 {
		return true, imp.openAccount(ctx, r, old.ID)
	}

	diff := r.Balance - old.balance
	if diff == 0 {
		return false, nil
	}
	_, err := postMovement(ctx, imp.tx, movementAdjustment, imp.reference, imp.now,
		posting{account: old.accountID, amount: diff},
		posting{account: imp.funding, amount: -diff})
	if err != nil {
		return false, fmt.Errorf("line %d: %w", r.Line, err)
	}
	imp.result.Adjustments++
	return true, nil
}

// openAccount creates the person's account and posts its opening balance.
// An empty account needs no movement: its balance is the sum of no entries.
func (imp *importer) openAccount(ctx context.Context, r store.PersonRecord, personID int64) error {
	account, err := createPersonalAccount(ctx, imp.tx, personID, imp.now)
	if err != nil {
		return fmt.Errorf("line %d: %w", r.Line, err)
	}
	if r.Balance == 0 {
		return nil
	}
	_, err = postMovement(ctx, imp.tx, movementOpening, imp.reference, imp.now,
		posting{account: account, amount: r.Balance},
		posting{account: imp.funding, amount: -r.Balance})
	if err != nil {
		return fmt.Errorf("line %d: %w", r.Line, err)
	}
	return nil
}

func (imp *importer) touch(familyID string, line int) {
	if familyID == "" {
		return
	}
	if first, ok := imp.touched[familyID]; !ok || line < first {
		imp.touched[familyID] = line
	}
}

// setNewHeads makes the deferred heads heads. Every other change is written
// by now, so a head still stored in the network is one this import keeps,
// and a second head is an error in the file.
func (imp *importer) setNewHeads(ctx context.Context) error {
	for _, h := range imp.newHeads {
		var other int64
		err := imp.tx.queryRow(ctx, `SELECT id FROM persons WHERE family_id = ? AND relation = '0'`, h.familyID).Scan(&other)
		switch {
		case err == nil:
			if line, ok := imp.lineOf[other]; ok {
				first, second := min(line, h.line), max(line, h.line)
				return invalidImport(second, "family network %q has two heads, on lines %d and %d: give hser_rlts 0 to one of them",
					h.familyID, first, second)
			}
			return invalidImport(h.line, "family network %q already has a head that this file does not change: "+
				"give hser_rlts 0 to one person only, and include the current head with another hser_rlts to change heads", h.familyID)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("line %d: read head of family network %q: %w", h.line, h.familyID, err)
		}

		if _, err := imp.tx.exec(ctx, `UPDATE persons SET relation = '0' WHERE id = ?`, h.personID); err != nil {
			return fmt.Errorf("line %d: make person %d head of family network %q: %w", h.line, h.personID, h.familyID, err)
		}
	}
	return nil
}

// checkFamilies verifies that every family network the import changed and
// that still has members has exactly one head, counting the members stored
// before the import. A network whose last member left no longer exists and
// needs none.
func (imp *importer) checkFamilies(ctx context.Context) error {
	families := make([]string, 0, len(imp.touched))
	for id := range imp.touched {
		families = append(families, id)
	}
	slices.Sort(families)

	type problem struct {
		familyID string
		heads    int64
	}
	var problems []problem
	for _, chunk := range chunks(families) {
		rows, err := imp.tx.query(ctx, `SELECT family_id, SUM(CASE WHEN relation = '0' THEN 1 ELSE 0 END)
			FROM persons WHERE family_id IN (`+placeholders(len(chunk))+`) GROUP BY family_id`, anySlice(chunk)...)
		if err != nil {
			return fmt.Errorf("count heads of family networks: %w", err)
		}
		err = eachRow(rows, func(rows *sql.Rows) error {
			var p problem
			if err := rows.Scan(&p.familyID, &p.heads); err != nil {
				return err
			}
			if p.heads != 1 {
				problems = append(problems, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("count heads of family networks: %w", err)
		}
	}
	if len(problems) == 0 {
		return nil
	}

	// Report the network of the earliest line, so the error is the same
	// whatever order the database returned the rows in.
	first := slices.MinFunc(problems, func(a, b problem) int { return imp.touched[a.familyID] - imp.touched[b.familyID] })
	line := imp.touched[first.familyID]
	if first.heads == 0 {
		return invalidImport(line, "family network %q has no head: give hser_rlts 0 to one of its members", first.familyID)
	}
	return invalidImport(line, "family network %q has %d heads: give hser_rlts 0 to one of its members only", first.familyID, first.heads)
}

// personOf returns the person a record describes. The relationship code
// means nothing outside a family network, so it is dropped there.
func personOf(r store.PersonRecord) store.Person {
	p := store.Person{
		Name:        r.Name,
		IDCard:      r.IDCard,
		CertType:    r.CertType,
		Phone:       r.Phone,
		Region:      r.Region,
		InsuType:    r.InsuType,
		InsuStatus:  r.InsuStatus,
		CompanyName: r.CompanyName,
		FamilyID:    r.FamilyID,
		Relation:    r.Relation,
	}
	if p.FamilyID == "" {
		p.Relation = ""
	}
	return p
}

// samePersonFields compares every field but the database id.
func samePersonFields(a, b store.Person) bool {
	a.ID, b.ID = 0, 0
	return a == b
}

// eachRow calls fn for each row and closes rows.
func eachRow(rows *sql.Rows, fn func(*sql.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
