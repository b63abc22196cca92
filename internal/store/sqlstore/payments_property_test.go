package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

// TestPaymentsProperty runs random sequences of orders, settlements, refunds
// and balance imports against a model of the accounts, and checks every
// outcome against the model and the ledger's invariants after each sequence.
// All sequences of a backend share one database, each with persons of its
// own, so the invariants are checked over everything posted so far.
func TestPaymentsProperty(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			world := &paymentWorld{ctx: t.Context(), s: b.Store, db: b.DB}
			rapid.Check(t, world.run)
			// The summary shows whether the sequences reached every outcome.
			t.Logf("orders by status and code: %q", queryStrings(t, b.DB, `SELECT status, fail_code, COUNT(*) FROM orders
				GROUP BY status, fail_code ORDER BY status, fail_code`))
			t.Logf("refunded lines: %d", countRows(t, b.DB, "SELECT COUNT(*) FROM refund_persons"))
		})
	}
}

// paymentWorld is the database under test and the counter that keeps the
// keys of each sequence apart.
type paymentWorld struct {
	ctx context.Context
	s   store.Store
	db  *sql.DB
	seq int
}

// modelPerson is a person of one sequence with the balance the model
// expects, and the record that imported the person.
type modelPerson struct {
	record     store.PersonRecord
	id         int64
	balance    int64
	hasAccount bool
}

type modelLine struct {
	orderPersonID int64
	person, payer *modelPerson
	amount        int64
	refunded      int64
}

type modelOrder struct {
	id       int64
	payNo    string
	hiPayNo  string
	payKind  string
	code     *modelCode
	lines    []*modelLine
	status   store.OrderStatus
	failCode int
}

type modelCode struct {
	hash []byte
	paid bool
}

type modelRefund struct {
	id         int64
	hiRefundNo string
}

// paymentSequence is the model of one sequence.
type paymentSequence struct {
	w                      *paymentWorld
	t                      *rapid.T
	head, member, resident *modelPerson
	solo                   *modelPerson
	orders                 []*modelOrder
	codes                  []*modelCode
	refunds                []modelRefund
	now                    time.Time
}

func (w *paymentWorld) next(prefix string) string {
	w.seq++
	return fmt.Sprintf("%s%d", prefix, w.seq)
}

func (w *paymentWorld) run(t *rapid.T) {
	q := &paymentSequence{w: w, t: t, now: t0}
	q.importPersons()

	steps := rapid.IntRange(4, 16).Draw(t, "steps")
	for range steps {
		switch rapid.SampledFrom([]string{"settle", "create", "refund", "top up"}).Draw(t, "action") {
		case "create":
			q.createOrder()
		case "settle":
			q.settle()
		case "refund":
			q.refund()
		case "top up":
			q.topUp()
		}
		q.now = q.now.Add(time.Second)
	}
	q.checkModel()
	w.checkInvariants(t)
}

// importPersons imports a family network whose head and one member have
// accounts and whose other member has none, and an employee in no network.
func (q *paymentSequence) importPersons() {
	w := q.w
	family := w.next("PF")
	person := func(line int, relation string, balance int64, hasAccount bool) *modelPerson {
		r := employee(line, fmt.Sprintf("3502%014d", w.seq*10+line), balance)
		if !hasAccount {
			r = resident(line, r.IDCard)
		}
		if relation != "" {
			r = inFamily(r, family, relation)
		}
		return &modelPerson{record: r, balance: r.Balance, hasAccount: hasAccount}
	}
	q.head = person(1, "0", rapid.Int64Range(0, 6000).Draw(q.t, "head balance"), true)
	q.member = person(2, "1", rapid.Int64Range(0, 3000).Draw(q.t, "member balance"), true)
	q.resident = person(3, "2", 0, false)
	q.solo = person(4, "", rapid.Int64Range(0, 3000).Draw(q.t, "solo balance"), true)

	persons := []*modelPerson{q.head, q.member, q.resident, q.solo}
	records := make([]store.PersonRecord, len(persons))
	for i, p := range persons {
		records[i] = p.record
	}
	if _, err := w.s.ImportPersons(w.ctx, records, q.now); err != nil {
		q.t.Fatalf("ImportPersons: %v", err)
	}
	for _, p := range persons {
		stored, err := w.s.PersonByIDCard(w.ctx, p.record.IDCard)
		if err != nil {
			q.t.Fatalf("PersonByIDCard: %v", err)
		}
		p.id = stored.ID
	}
}

// newCode completes an authorization of the head and returns its code.
func (q *paymentSequence) newCode() *modelCode {
	w := q.w
	name := w.next("code")
	ticket := sampleTicket(name, authOrg)
	ticket.CreatedAt, ticket.ExpiresAt = q.now, q.now.Add(30*time.Minute)
	if err := w.s.CreateAuthTicket(w.ctx, ticket); err != nil {
		q.t.Fatalf("CreateAuthTicket: %v", err)
	}
	a := sampleAuthorization(name, authOrg, q.head.record.CertType, q.head.record.IDCard)
	a.ExpiresAt = q.now.Add(codeValidity)
	if err := w.s.CompleteAuthorization(w.ctx, ticket.Hash, a, q.now); err != nil {
		q.t.Fatalf("CompleteAuthorization: %v", err)
	}
	c := &modelCode{hash: a.CodeHash}
	q.codes = append(q.codes, c)
	return c
}

func (q *paymentSequence) createOrder() {
	t, w := q.t, q.w

	// A repeated hi_pay_no returns the stored order and stores nothing.
	if len(q.orders) > 0 && rapid.IntRange(0, 9).Draw(t, "repeat hi_pay_no") == 0 {
		first := rapid.SampledFrom(q.orders).Draw(t, "repeated order")
		again := sampleOrder(w.next("O"), first.code.hash, store.PayKindPersonal, line{q.solo.person(), q.solo.person(), 1})
		again.HiPayNo = first.hiPayNo
		got, err := w.s.CreateOrder(w.ctx, again)
		if !errors.Is(err, store.ErrExists) || got == nil || got.ID != first.id {
			t.Fatalf("CreateOrder with the used hi_pay_no of order %d: %v, %+v, want ErrExists and the order", first.id, err, got)
		}
		return
	}

	payKind := rapid.SampledFrom([]string{store.PayKindPersonal, store.PayKindMutual}).Draw(t, "pay kind")
	candidates := []*modelPerson{q.head, q.member, q.resident, q.solo}
	if payKind == store.PayKindMutual {
		candidates = candidates[:3]
	}
	var lines []*modelLine
	for i, p := range candidates {
		if !rapid.Bool().Draw(t, fmt.Sprint("pays for person ", i)) {
			continue
		}
		payer := p
		if payKind == store.PayKindMutual {
			payer = q.head
		}
		lines = append(lines, &modelLine{person: p, payer: payer, amount: rapid.Int64Range(1, 3000).Draw(t, "amount")})
	}
	if len(lines) == 0 {
		lines = append(lines, &modelLine{person: q.head, payer: q.head, amount: rapid.Int64Range(1, 3000).Draw(t, "amount")})
	}

	// Mostly a new code. An old one tests that a code pays once.
	var code *modelCode
	if len(q.codes) > 0 && rapid.IntRange(0, 3).Draw(t, "reuse code") == 0 {
		code = rapid.SampledFrom(q.codes).Draw(t, "reused code")
	} else {
		code = q.newCode()
	}

	args := make([]line, len(lines))
	for i, l := range lines {
		args[i] = line{l.person.person(), l.payer.person(), l.amount}
	}
	o := sampleOrder(w.next("O"), code.hash, payKind, args...)
	o.CreatedAt = q.now
	created, err := w.s.CreateOrder(w.ctx, o)
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	for i, l := range lines {
		l.orderPersonID = created.Persons[i].ID
	}
	q.orders = append(q.orders, &modelOrder{id: created.ID, payNo: o.PayNo, hiPayNo: o.HiPayNo, payKind: payKind,
		code: code, lines: lines, status: store.OrderPending})
}

// person returns the registry person the model person stands for, with
// what sampleOrder reads.
func (p *modelPerson) person() *store.Person {
	r := p.record
	return &store.Person{ID: p.id, Name: r.Name, IDCard: r.IDCard, CertType: r.CertType, Region: r.Region}
}

// pickOrder returns an order of the sequence in status, or now and then one
// in any status, for the error of a wrong state. It returns nil when it
// picks among no orders.
func (q *paymentSequence) pickOrder(status store.OrderStatus) *modelOrder {
	if len(q.orders) > 0 && rapid.IntRange(0, 5).Draw(q.t, "any status") == 5 {
		return rapid.SampledFrom(q.orders).Draw(q.t, "order in any status")
	}
	var matching []*modelOrder
	for _, o := range q.orders {
		if o.status == status {
			matching = append(matching, o)
		}
	}
	if len(matching) == 0 {
		return nil
	}
	return rapid.SampledFrom(matching).Draw(q.t, "order")
}

// refundAmount returns the amount to refund of a line that paid paid fen:
// mostly up to paid, now and then more.
func (q *paymentSequence) refundAmount(paid int64) int64 {
	if rapid.IntRange(0, 5).Draw(q.t, "refund too large") == 5 {
		return paid + rapid.Int64Range(1, 500).Draw(q.t, "refund excess")
	}
	return rapid.Int64Range(1, paid).Draw(q.t, "refund amount")
}

func (q *paymentSequence) settle() {
	t, w := q.t, q.w
	o := q.pickOrder(store.OrderPending)
	if o == nil {
		q.createOrder()
		return
	}
	got, err := w.s.SettleOrder(w.ctx, o.id, q.now)

	if o.status != store.OrderPending {
		if !errors.Is(err, store.ErrOrderState) {
			t.Fatalf("SettleOrder of %s order %d: %v, want ErrOrderState", o.status, o.id, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("SettleOrder of order %d: %v", o.id, err)
	}

	debits := map[*modelPerson]int64{}
	for _, l := range o.lines {
		debits[l.payer] += l.amount
	}
	wantCode := 0
	if o.code.paid {
		wantCode = 20002
	} else {
		for payer, debit := range debits {
			if !payer.hasAccount || payer.balance < debit {
				wantCode = 20025
				if o.payKind == store.PayKindMutual {
					wantCode = 20019
				}
			}
		}
	}

	if wantCode != 0 {
		o.status, o.failCode = store.OrderFailed, wantCode
	} else {
		o.status = store.OrderPaid
		o.code.paid = true
		for payer, debit := range debits {
			payer.balance -= debit
		}
	}
	if got.Status != o.status || got.FailCode != o.failCode {
		t.Fatalf("SettleOrder of order %d ended %s with code %d, want %s with code %d", o.id, got.Status, got.FailCode, o.status, o.failCode)
	}
}

func (q *paymentSequence) refund() {
	t, w := q.t, q.w
	o := q.pickOrder(store.OrderPaid)
	if o == nil {
		q.settle()
		return
	}

	// A repeated hi_refund_no returns the stored refund and posts nothing.
	if len(q.refunds) > 0 && rapid.IntRange(0, 4).Draw(t, "repeat hi_refund_no") == 0 {
		first := rapid.SampledFrom(q.refunds).Draw(t, "repeated refund")
		r := &store.Refund{OrderID: o.id, AppID: payApp, OrgCode: authOrg, HiRefundNo: first.hiRefundNo,
			RefundNo: w.next("R"), RequestHash: hashOf("repeat"), Total: 1, CreatedAt: q.now,
			Persons: []store.RefundPerson{{OrderPersonID: o.lines[0].orderPersonID, Amount: 1, SetID: w.next("SR")}}}
		got, err := w.s.CreateRefund(w.ctx, r)
		if !errors.Is(err, store.ErrExists) || got == nil || got.ID != first.id {
			t.Fatalf("CreateRefund with the used hi_refund_no of refund %d: %v, %+v, want ErrExists and the refund", first.id, err, got)
		}
		return
	}

	// Personal-account payments are refunded one person a request.
	var lines []*modelLine
	var amounts []int64
	for i, l := range o.lines {
		if (o.payKind == store.PayKindPersonal && len(lines) == 1) || !rapid.Bool().Draw(t, fmt.Sprint("refund line ", i)) {
			continue
		}
		lines = append(lines, l)
		amounts = append(amounts, q.refundAmount(l.amount))
	}
	if len(lines) == 0 {
		lines, amounts = o.lines[:1], []int64{q.refundAmount(o.lines[0].amount)}
	}

	r := &store.Refund{OrderID: o.id, AppID: payApp, OrgCode: authOrg, HiRefundNo: w.next("HR"), RefundNo: w.next("R"),
		RequestHash: hashOf("refund"), CreatedAt: q.now}
	for i, l := range lines {
		r.Persons = append(r.Persons, store.RefundPerson{OrderPersonID: l.orderPersonID, Amount: amounts[i], SetID: w.next("SR")})
		r.Total += amounts[i]
	}
	got, err := w.s.CreateRefund(w.ctx, r)

	var want error
	if o.status != store.OrderPaid {
		want = store.ErrOrderState
	} else {
		for i, l := range lines {
			if l.refunded > 0 {
				want = store.ErrAlreadyRefunded
			} else if amounts[i] > l.amount {
				want = store.ErrRefundTooLarge
			}
			if want != nil {
				break
			}
		}
	}
	if want != nil {
		if !errors.Is(err, want) {
			t.Fatalf("CreateRefund of order %d: %v, want %v", o.id, err, want)
		}
		return
	}
	if err != nil {
		t.Fatalf("CreateRefund of order %d: %v", o.id, err)
	}
	for i, l := range lines {
		l.refunded = amounts[i]
		l.payer.balance += amounts[i]
	}
	q.refunds = append(q.refunds, modelRefund{id: got.ID, hiRefundNo: r.HiRefundNo})
}

// topUp imports a new balance for a person with an account, as the core
// system's next export would.
func (q *paymentSequence) topUp() {
	t, w := q.t, q.w
	p := rapid.SampledFrom([]*modelPerson{q.head, q.member, q.solo}).Draw(t, "topped-up person")
	p.record.Balance = rapid.Int64Range(0, 6000).Draw(t, "imported balance")
	if _, err := w.s.ImportPersons(w.ctx, []store.PersonRecord{p.record}, q.now); err != nil {
		t.Fatalf("ImportPersons: %v", err)
	}
	p.balance = p.record.Balance
}

// checkModel compares the sequence's accounts and orders with the model.
func (q *paymentSequence) checkModel() {
	t, w := q.t, q.w
	for _, p := range []*modelPerson{q.head, q.member, q.resident, q.solo} {
		balance, ok, err := w.s.AccountBalance(w.ctx, p.id)
		if err != nil {
			t.Fatalf("AccountBalance: %v", err)
		}
		if ok != p.hasAccount || balance != p.balance {
			t.Errorf("person %d has balance %d fen (account %t), want %d (account %t)", p.id, balance, ok, p.balance, p.hasAccount)
		}
	}
	for _, o := range q.orders {
		got, err := w.s.Order(w.ctx, store.OrderKey{OrgCode: authOrg, PayNo: o.payNo})
		if err != nil {
			t.Fatalf("Order %d: %v", o.id, err)
		}
		if got.Status != o.status || got.FailCode != o.failCode {
			t.Errorf("order %d is %s with code %d, want %s with code %d", o.id, got.Status, got.FailCode, o.status, o.failCode)
		}
		for i, l := range o.lines {
			p := got.Persons[i]
			if p.Refunded != l.refunded {
				t.Errorf("order %d line %d has %d fen refunded, want %d", o.id, i, p.Refunded, l.refunded)
			}
			if (p.SetID != "") != (o.status == store.OrderPaid) {
				t.Errorf("order %d, %s, line %d has SetID %q", o.id, o.status, i, p.SetID)
			}
		}
	}
}

// checkInvariants checks what must hold over the whole database whatever
// the sequences did.
func (w *paymentWorld) checkInvariants(t *rapid.T) {
	if err := w.s.LedgerCheck(w.ctx); err != nil {
		t.Fatalf("LedgerCheck: %v", err)
	}
	zero := map[string]string{
		"personal accounts below zero": `SELECT COUNT(*) FROM accounts WHERE kind = 'personal' AND balance < 0`,
		"accounts whose balance is not the sum of their entries": `SELECT COUNT(*) FROM accounts a
			WHERE a.balance <> (SELECT COALESCE(SUM(e.amount), 0) FROM entries e WHERE e.account_id = a.id)`,
		"movements whose entries do not sum to zero": `SELECT COUNT(*) FROM movements m
			WHERE (SELECT COALESCE(SUM(e.amount), 0) FROM entries e WHERE e.movement_id = m.id) <> 0`,
		"lines refunded more than paid": `SELECT COUNT(*) FROM order_persons op
			WHERE op.refunded > op.amount
			OR (SELECT COALESCE(SUM(rp.amount), 0) FROM refund_persons rp WHERE rp.order_person_id = op.id) > op.amount`,
		"lines of paid orders without exactly one payment movement": `SELECT COUNT(*) FROM order_persons op
			JOIN orders o ON o.id = op.order_id
			WHERE o.status = 'paid' AND (op.set_id IS NULL OR
				(SELECT COUNT(*) FROM movements m WHERE m.id = op.movement_id AND m.kind = 'payment') <> 1)`,
		"lines of unpaid orders with a settlement": `SELECT COUNT(*) FROM order_persons op
			JOIN orders o ON o.id = op.order_id
			WHERE o.status <> 'paid' AND (op.set_id IS NOT NULL OR op.movement_id IS NOT NULL)`,
		"payment movements of no order line": `SELECT COUNT(*) FROM movements m
			WHERE m.kind = 'payment' AND (SELECT COUNT(*) FROM order_persons op WHERE op.movement_id = m.id) <> 1`,
		"refund movements of no refund": `SELECT COUNT(*) FROM movements m
			WHERE m.kind = 'refund' AND (SELECT COUNT(*) FROM refund_persons rp WHERE rp.movement_id = m.id) <> 1`,
	}
	for what, query := range zero {
		var n int
		if err := w.db.QueryRowContext(w.ctx, query).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
}
