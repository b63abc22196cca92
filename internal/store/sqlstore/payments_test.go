package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

const (
	payApp    = "ldxt"
	notifyURL = "https://hmb.example.com/notify"
)

// Opening balances of the payment fixture, in fen.
const (
	headBalance   = 10000
	spouseBalance = 5000
	soloBalance   = 3000
)

// payFixture is a registry for payments: a family network F1 whose head and
// spouse have personal accounts and whose child, a resident, has none, and
// an employee in no network.
type payFixture struct {
	s                         store.Store
	head, spouse, child, solo *store.Person
}

func newPayFixture(t *testing.T, s store.Store) *payFixture {
	t.Helper()
	mustImport(t, s, []store.PersonRecord{
		inFamily(employee(1, idHead, headBalance), "F1", "0"),
		inFamily(employee(2, idSpouse, spouseBalance), "F1", "1"),
		inFamily(resident(3, idChild), "F1", "2"),
		employee(4, idSolo, soloBalance),
	}, t0)
	return &payFixture{
		s:      s,
		head:   mustPerson(t, s, idHead),
		spouse: mustPerson(t, s, idSpouse),
		child:  mustPerson(t, s, idChild),
		solo:   mustPerson(t, s, idSolo),
	}
}

// code completes an authorization of the applicant named name and returns
// the SHA-256 of its code, which orders store.
func (f *payFixture) code(t *testing.T, name string, applicant *store.Person) []byte {
	t.Helper()
	a := sampleAuthorization(name, authOrg, applicant.CertType, applicant.IDCard)
	mustComplete(t, f.s, name, a, t0)
	return a.CodeHash
}

// line is one person's part of a sample order.
type line struct {
	person, payer *store.Person
	amount        int64
}

// sampleOrder returns a pending order whose keys all derive from name.
func sampleOrder(name string, codeHash []byte, payKind string, lines ...line) *store.Order {
	o := &store.Order{
		AppID:          payApp,
		OrgCode:        authOrg,
		HiPayNo:        "H" + name,
		PayNo:          "P" + name,
		SettleCode:     "C" + name,
		RequestHash:    hashOf("request " + name),
		Request:        []byte(`{"hi_pay_no":"H` + name + `"}`),
		AuthCodeHash:   codeHash,
		AuthCodeSealed: []byte("sealed " + name),
		PayKind:        payKind,
		NotifyURL:      notifyURL,
		RedirectURL:    "https://hmb.example.com/done",
		FailURL:        "https://hmb.example.com/failed",
		TicketHash:     hashOf("pay ticket " + name),
		TicketExpiry:   t0.Add(15 * time.Minute),
		Status:         store.OrderPending,
		CreatedAt:      t0,
	}
	for i, l := range lines {
		o.Persons = append(o.Persons, store.OrderPerson{
			PersonID:      l.person.ID,
			Name:          l.person.Name,
			IDCard:        l.person.IDCard,
			CertType:      l.person.CertType,
			Region:        l.person.Region,
			SubHisPayNo:   fmt.Sprintf("S%s-%d", name, i),
			Amount:        l.amount,
			PayerPersonID: l.payer.ID,
		})
		o.Total += l.amount
	}
	return o
}

// familyOrder returns an order of pay kind 2 in which the head pays for the
// spouse and the child.
func (f *payFixture) familyOrder(t *testing.T, name string, spouseAmount, childAmount int64) *store.Order {
	t.Helper()
	return sampleOrder(name, f.code(t, name, f.head), store.PayKindMutual,
		line{f.spouse, f.head, spouseAmount}, line{f.child, f.head, childAmount})
}

func mustCreateOrder(t *testing.T, s store.Store, o *store.Order) *store.Order {
	t.Helper()
	created, err := s.CreateOrder(t.Context(), o)
	if err != nil {
		t.Fatalf("CreateOrder %s: %v", o.HiPayNo, err)
	}
	return created
}

func mustSettle(t *testing.T, s store.Store, orderID int64, now time.Time) *store.Order {
	t.Helper()
	o, err := s.SettleOrder(t.Context(), orderID, now)
	if err != nil {
		t.Fatalf("SettleOrder %d: %v", orderID, err)
	}
	return o
}

func mustOrder(t *testing.T, s store.Store, key store.OrderKey) *store.Order {
	t.Helper()
	o, err := s.Order(t.Context(), key)
	if err != nil {
		t.Fatalf("Order %+v: %v", key, err)
	}
	return o
}

func settlementBalance(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var balance int64
	if err := db.QueryRowContext(t.Context(), "SELECT balance FROM accounts WHERE code = 'settlement'").Scan(&balance); err != nil {
		t.Fatal(err)
	}
	return balance
}

// outboxRows lists the outbox as kind|order|refund|person|amount in id
// order, with <nil> for NULL.
func outboxRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return queryStrings(t, db, "SELECT kind, order_id, refund_id, person_id, amount FROM outbox ORDER BY id")
}

func checkBalance(t *testing.T, s store.Store, p *store.Person, want int64) {
	t.Helper()
	got, ok, err := s.AccountBalance(t.Context(), p.ID)
	if err != nil || !ok {
		t.Fatalf("AccountBalance of person %d: %d, %v, %v", p.ID, got, ok, err)
	}
	if got != want {
		t.Errorf("balance of person %d = %d fen, want %d", p.ID, got, want)
	}
}

var setIDPattern = regexp.MustCompile(`^S[0-9]{20}$`)

func TestOrderCreateAndRead(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newPayFixture(t, s)
		o := f.familyOrder(t, "A", 300, 200)
		created := mustCreateOrder(t, s, o)

		if created.ID == 0 || created.Status != store.OrderPending || !created.PaidAt.IsZero() {
			t.Errorf("created order has ID %d, status %q, PaidAt %v, want an ID, pending and no PaidAt", created.ID, created.Status, created.PaidAt)
		}
		want := *o
		want.ID = created.ID
		want.Persons = append([]store.OrderPerson(nil), o.Persons...)
		for i := range want.Persons {
			if created.Persons[i].ID == 0 {
				t.Errorf("person %d has no ID", i)
			}
			want.Persons[i].ID = created.Persons[i].ID
		}
		if !reflect.DeepEqual(created, &want) {
			t.Errorf("CreateOrder returned\n%+v\nwant\n%+v", created, &want)
		}

		keys := []store.OrderKey{
			{OrgCode: authOrg, HiPayNo: o.HiPayNo},
			{OrgCode: authOrg, PayNo: o.PayNo},
			{OrgCode: authOrg, SettleCode: o.SettleCode},
			{TicketHash: o.TicketHash},
			{OrgCode: authOrg, TicketHash: o.TicketHash},
		}
		for _, key := range keys {
			if got := mustOrder(t, s, key); !reflect.DeepEqual(got, created) {
				t.Errorf("Order %+v returned\n%+v\nwant\n%+v", key, got, created)
			}
		}
	})
}

func TestOrderNotFound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newPayFixture(t, s)
		o := mustCreateOrder(t, s, f.familyOrder(t, "A", 300, 200))

		keys := []store.OrderKey{
			{OrgCode: authOtherOrg, HiPayNo: o.HiPayNo},
			{OrgCode: authOtherOrg, PayNo: o.PayNo},
			{OrgCode: authOtherOrg, SettleCode: o.SettleCode},
			{OrgCode: authOtherOrg, TicketHash: o.TicketHash},
			{OrgCode: authOrg, HiPayNo: "Hmissing"},
			{TicketHash: hashOf("missing")},
		}
		for _, key := range keys {
			if _, err := s.Order(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Order %+v: %v, want ErrNotFound", key, err)
			}
		}
	})
}

func TestOrderKeyNeedsOneField(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		keys := []store.OrderKey{
			{},
			{OrgCode: authOrg},
			{OrgCode: authOrg, HiPayNo: "H1", PayNo: "P1"},
			{OrgCode: authOrg, SettleCode: "C1", TicketHash: hashOf("t")},
			{HiPayNo: "H1"},
		}
		for _, key := range keys {
			_, err := s.Order(t.Context(), key)
			if err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("Order %+v: %v, want an error about the key", key, err)
			}
		}
	})
}

func TestOrderCreateDuplicate(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			first := mustCreateOrder(t, b.Store, f.familyOrder(t, "A", 300, 200))

			// Another request under the same hi_pay_no, with new platform keys.
			again := sampleOrder("B", first.AuthCodeHash, store.PayKindPersonal, line{f.solo, f.solo, 100})
			again.HiPayNo = first.HiPayNo
			got, err := b.Store.CreateOrder(t.Context(), again)
			if !errors.Is(err, store.ErrExists) {
				t.Fatalf("second CreateOrder: %v, want ErrExists", err)
			}
			if !reflect.DeepEqual(got, first) {
				t.Errorf("second CreateOrder returned\n%+v\nwant the first order\n%+v", got, first)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM orders"); n != 1 {
				t.Errorf("%d orders stored, want 1", n)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM order_persons"); n != 2 {
				t.Errorf("%d order lines stored, want the first order's 2", n)
			}

			// The same hi_pay_no under another org is another order.
			other := sampleOrder("C", first.AuthCodeHash, store.PayKindPersonal, line{f.solo, f.solo, 100})
			other.HiPayNo, other.OrgCode = first.HiPayNo, authOtherOrg
			mustCreateOrder(t, b.Store, other)
		})
	}
}

func TestOrderCreateConcurrentDuplicates(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			code := f.code(t, "A", f.solo)
			const racers = 8
			stores := []store.Store{b.Store, b.Open(t), b.Open(t), b.Open(t)}
			errs := make([]error, racers)
			ids := make([]int64, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					o := sampleOrder(fmt.Sprint("R", i), code, store.PayKindPersonal, line{f.solo, f.solo, 100})
					o.HiPayNo = "Hrace"
					<-start
					got, err := stores[i%len(stores)].CreateOrder(t.Context(), o)
					errs[i] = err
					if got != nil {
						ids[i] = got.ID
					}
				})
			}
			close(start)
			wg.Wait()

			created := 0
			for i, err := range errs {
				switch {
				case err == nil:
					created++
				case !errors.Is(err, store.ErrExists):
					t.Errorf("CreateOrder %d: %v, want nil or ErrExists", i, err)
				}
				if ids[i] != ids[0] {
					t.Errorf("CreateOrder %d returned order %d, CreateOrder 0 order %d, want the same", i, ids[i], ids[0])
				}
			}
			if created != 1 {
				t.Errorf("%d calls created the order, want 1", created)
			}
		})
	}
}

func TestOrderCreateRejectsInvalid(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			code := f.code(t, "A", f.head)
			valid := func() *store.Order {
				return sampleOrder("X", code, store.PayKindMutual, line{f.spouse, f.head, 300}, line{f.child, f.head, 200})
			}
			cases := map[string]func(o *store.Order){
				"total differs":        func(o *store.Order) { o.Total++ },
				"zero amount":          func(o *store.Order) { o.Persons[1].Amount = 0; o.Total = 300 },
				"negative amount":      func(o *store.Order) { o.Persons[1].Amount = -200; o.Total = 100 },
				"no persons":           func(o *store.Order) { o.Persons = nil },
				"person twice":         func(o *store.Order) { o.Persons[1].PersonID = f.spouse.ID },
				"mixed payers":         func(o *store.Order) { o.Persons[1].PayerPersonID = f.spouse.ID },
				"other's account":      func(o *store.Order) { o.PayKind = store.PayKindPersonal },
				"unknown pay kind":     func(o *store.Order) { o.PayKind = "3" },
				"short request hash":   func(o *store.Order) { o.RequestHash = o.RequestHash[:16] },
				"request not JSON":     func(o *store.Order) { o.Request = []byte("{") },
				"already paid":         func(o *store.Order) { o.Status = store.OrderPaid },
				"settlement id set":    func(o *store.Order) { o.Persons[0].SetID = "S1" },
				"empty pay_no":         func(o *store.Order) { o.PayNo = "" },
				"unknown auth code":    func(o *store.Order) { o.AuthCodeHash = hashOf("code missing") },
				"unknown person":       func(o *store.Order) { o.Persons[0].PersonID = 404 },
				"zero ticket expiry":   func(o *store.Order) { o.TicketExpiry = time.Time{} },
				"missing sealed code":  func(o *store.Order) { o.AuthCodeSealed = nil },
				"missing payer person": func(o *store.Order) { o.Persons[0].PayerPersonID = 0 },
			}
			for name, breakOrder := range cases {
				o := valid()
				breakOrder(o)
				if _, err := b.Store.CreateOrder(t.Context(), o); err == nil || errors.Is(err, store.ErrExists) {
					t.Errorf("%s: CreateOrder returned %v, want a validation error", name, err)
				}
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM orders"); n != 0 {
				t.Errorf("%d orders stored after rejected ones, want 0", n)
			}
			mustCreateOrder(t, b.Store, valid())
		})
	}
}

func TestOrderRenewTicket(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newPayFixture(t, s)
		o := mustCreateOrder(t, s, f.familyOrder(t, "A", 300, 200))

		newHash, newExpiry := hashOf("pay ticket A2"), t0.Add(time.Hour)
		if err := s.RenewOrderTicket(t.Context(), o.ID, newHash, newExpiry); err != nil {
			t.Fatalf("RenewOrderTicket: %v", err)
		}
		got := mustOrder(t, s, store.OrderKey{TicketHash: newHash})
		if got.ID != o.ID || !got.TicketExpiry.Equal(newExpiry) {
			t.Errorf("order by the new ticket: ID %d, expiry %v, want %d, %v", got.ID, got.TicketExpiry, o.ID, newExpiry)
		}
		if _, err := s.Order(t.Context(), store.OrderKey{TicketHash: o.TicketHash}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("order by the old ticket: %v, want ErrNotFound", err)
		}

		if err := s.RenewOrderTicket(t.Context(), 404, hashOf("x"), newExpiry); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RenewOrderTicket of a missing order: %v, want ErrNotFound", err)
		}
		mustSettle(t, s, o.ID, t0.Add(time.Minute))
		if err := s.RenewOrderTicket(t.Context(), o.ID, hashOf("pay ticket A3"), newExpiry); !errors.Is(err, store.ErrOrderState) {
			t.Errorf("RenewOrderTicket of a paid order: %v, want ErrOrderState", err)
		}
	})
}

func TestSettlePersonalPayment(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			code := f.code(t, "A", f.head)
			o := mustCreateOrder(t, s, sampleOrder("A", code, store.PayKindPersonal,
				line{f.head, f.head, 1234}, line{f.spouse, f.spouse, 766}))

			now := t0.Add(5 * time.Minute)
			paid := mustSettle(t, s, o.ID, now)

			if paid.Status != store.OrderPaid || !paid.PaidAt.Equal(now) || paid.FailCode != 0 || paid.FailMsg != "" {
				t.Errorf("settled order: status %q, PaidAt %v, fail %d %q, want paid at %v", paid.Status, paid.PaidAt, paid.FailCode, paid.FailMsg, now)
			}
			for i, p := range paid.Persons {
				if !setIDPattern.MatchString(p.SetID) {
					t.Errorf("person %d has SetID %q, want S and 20 digits", i, p.SetID)
				}
			}
			if paid.Persons[0].SetID == paid.Persons[1].SetID {
				t.Errorf("both persons have SetID %q, want distinct ones", paid.Persons[0].SetID)
			}
			if got := mustOrder(t, s, store.OrderKey{OrgCode: authOrg, PayNo: o.PayNo}); !reflect.DeepEqual(got, paid) {
				t.Errorf("Order after settlement\n%+v\nwant what SettleOrder returned\n%+v", got, paid)
			}

			checkBalance(t, s, f.head, headBalance-1234)
			checkBalance(t, s, f.spouse, spouseBalance-766)
			if got := settlementBalance(t, b.DB); got != 2000 {
				t.Errorf("settlement balance %d fen, want 2000", got)
			}
			entries := queryStrings(t, b.DB, `SELECT m.kind, a.kind, e.amount FROM movements m
				JOIN entries e ON e.movement_id = m.id JOIN accounts a ON a.id = e.account_id
				WHERE m.kind = 'payment' ORDER BY m.id, e.id`)
			wantEntries := []string{"payment|personal|-1234", "payment|system|1234", "payment|personal|-766", "payment|system|766"}
			if !reflect.DeepEqual(entries, wantEntries) {
				t.Errorf("payment entries %q, want %q", entries, wantEntries)
			}
			checkLedger(t, s)

			if a := mustAuthorization(t, s, code); !a.PaidAt.Equal(now) {
				t.Errorf("authorization PaidAt = %v, want %v", a.PaidAt, now)
			}
			wantOutbox := []string{
				fmt.Sprintf("payment_callback|%d|<nil>|<nil>|0", o.ID),
				fmt.Sprintf("account_message|%d|<nil>|%d|-1234", o.ID, f.head.ID),
				fmt.Sprintf("account_message|%d|<nil>|%d|-766", o.ID, f.spouse.ID),
			}
			if got := outboxRows(t, b.DB); !reflect.DeepEqual(got, wantOutbox) {
				t.Errorf("outbox %q, want %q", got, wantOutbox)
			}
		})
	}
}

func TestSettleFamilyPayment(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			o := mustCreateOrder(t, s, f.familyOrder(t, "A", 3000, 2000))
			paid := mustSettle(t, s, o.ID, t0.Add(time.Minute))
			if paid.Status != store.OrderPaid {
				t.Fatalf("status %q, want paid", paid.Status)
			}
			checkBalance(t, s, f.head, headBalance-5000)
			checkBalance(t, s, f.spouse, spouseBalance)
			checkLedger(t, s)

			// One message for the head, whose account paid both lines.
			wantOutbox := []string{
				fmt.Sprintf("payment_callback|%d|<nil>|<nil>|0", o.ID),
				fmt.Sprintf("account_message|%d|<nil>|%d|-5000", o.ID, f.head.ID),
			}
			if got := outboxRows(t, b.DB); !reflect.DeepEqual(got, wantOutbox) {
				t.Errorf("outbox %q, want %q", got, wantOutbox)
			}
		})
	}
}

func TestSettleFamilyShortfall(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			o := mustCreateOrder(t, s, f.familyOrder(t, "A", 6000, headBalance-6000+1))
			code := o.AuthCodeHash

			failed := mustSettle(t, s, o.ID, t0.Add(time.Minute))
			if failed.Status != store.OrderFailed || failed.FailCode != 20019 || failed.FailMsg != "共济余额不足" {
				t.Errorf("order after a shortfall: status %q, fail %d %q, want failed 20019 共济余额不足", failed.Status, failed.FailCode, failed.FailMsg)
			}
			if !failed.PaidAt.IsZero() {
				t.Errorf("PaidAt = %v, want zero", failed.PaidAt)
			}
			for i, p := range failed.Persons {
				if p.SetID != "" {
					t.Errorf("person %d has SetID %q, want none", i, p.SetID)
				}
			}
			checkBalance(t, s, f.head, headBalance)
			if got := settlementBalance(t, b.DB); got != 0 {
				t.Errorf("settlement balance %d fen, want 0", got)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM movements WHERE kind = 'payment'"); n != 0 {
				t.Errorf("%d payment movements, want 0", n)
			}
			if a := mustAuthorization(t, s, code); !a.PaidAt.IsZero() {
				t.Errorf("authorization PaidAt = %v, want zero after a failed payment", a.PaidAt)
			}
			wantOutbox := []string{fmt.Sprintf("payment_callback|%d|<nil>|<nil>|0", o.ID)}
			if got := outboxRows(t, b.DB); !reflect.DeepEqual(got, wantOutbox) {
				t.Errorf("outbox %q, want only the callback %q", got, wantOutbox)
			}
			checkLedger(t, s)

			if _, err := s.SettleOrder(t.Context(), o.ID, t0.Add(2*time.Minute)); !errors.Is(err, store.ErrOrderState) {
				t.Errorf("SettleOrder of a failed order: %v, want ErrOrderState", err)
			}
		})
	}
}

func TestSettlePersonalShortfallDebitsNobody(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			o := sampleOrder("A", f.code(t, "A", f.head), store.PayKindPersonal,
				line{f.head, f.head, 100}, line{f.spouse, f.spouse, spouseBalance + 1})
			o.NotifyURL = ""
			o = mustCreateOrder(t, s, o)

			failed := mustSettle(t, s, o.ID, t0.Add(time.Minute))
			if failed.Status != store.OrderFailed || failed.FailCode != 20025 || failed.FailMsg != "个账余额不足" {
				t.Errorf("order after a shortfall: status %q, fail %d %q, want failed 20025 个账余额不足", failed.Status, failed.FailCode, failed.FailMsg)
			}
			checkBalance(t, s, f.head, headBalance)
			checkBalance(t, s, f.spouse, spouseBalance)
			if got := outboxRows(t, b.DB); len(got) != 0 {
				t.Errorf("outbox %q, want nothing for an order without notify URL", got)
			}
			checkLedger(t, s)
		})
	}
}

func TestSettleWithoutAccountIsShortfall(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newPayFixture(t, s)
		o := mustCreateOrder(t, s, sampleOrder("A", f.code(t, "A", f.child), store.PayKindPersonal, line{f.child, f.child, 1}))
		failed := mustSettle(t, s, o.ID, t0.Add(time.Minute))
		if failed.Status != store.OrderFailed || failed.FailCode != 20025 {
			t.Errorf("order paid from no account: status %q, fail %d, want failed 20025", failed.Status, failed.FailCode)
		}
		checkLedger(t, s)
	})
}

func TestSettleAuthCodePaysOnce(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			code := f.code(t, "A", f.head)
			first := mustCreateOrder(t, s, sampleOrder("A", code, store.PayKindPersonal, line{f.head, f.head, 100}))
			second := mustCreateOrder(t, s, sampleOrder("B", code, store.PayKindPersonal, line{f.head, f.head, 200}))

			if got := mustSettle(t, s, first.ID, t0.Add(time.Minute)); got.Status != store.OrderPaid {
				t.Fatalf("first order: status %q, want paid", got.Status)
			}
			got := mustSettle(t, s, second.ID, t0.Add(2*time.Minute))
			if got.Status != store.OrderFailed || got.FailCode != 20002 {
				t.Errorf("second order with the same code: status %q, fail %d, want failed 20002", got.Status, got.FailCode)
			}
			checkBalance(t, s, f.head, headBalance-100)
			if a := mustAuthorization(t, s, code); !a.PaidAt.Equal(t0.Add(time.Minute)) {
				t.Errorf("authorization PaidAt = %v, want the first payment's %v", a.PaidAt, t0.Add(time.Minute))
			}
			checkLedger(t, s)
		})
	}
}

func TestSettleMissingOrder(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		if _, err := s.SettleOrder(t.Context(), 404, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SettleOrder of a missing order: %v, want ErrNotFound", err)
		}
	})
}

func TestSettleConcurrentConfirmations(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			const rounds = 5
			stores := []store.Store{b.Store, b.Open(t)}
			for round := range rounds {
				name := fmt.Sprint("A", round)
				o := mustCreateOrder(t, b.Store, sampleOrder(name, f.code(t, name, f.solo), store.PayKindPersonal, line{f.solo, f.solo, 100}))

				errs := make([]error, len(stores))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, s := range stores {
					wg.Go(func() {
						<-start
						_, errs[i] = s.SettleOrder(t.Context(), o.ID, t0.Add(time.Minute))
					})
				}
				close(start)
				wg.Wait()

				settled, conflicts := 0, 0
				for i, err := range errs {
					switch {
					case err == nil:
						settled++
					case errors.Is(err, store.ErrOrderState):
						conflicts++
					default:
						t.Errorf("round %d: SettleOrder %d: %v", round, i, err)
					}
				}
				if settled != 1 || conflicts != 1 {
					t.Errorf("round %d: %d settled and %d got ErrOrderState, want 1 and 1", round, settled, conflicts)
				}
			}
			checkBalance(t, b.Store, f.solo, soloBalance-rounds*100)
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM movements WHERE kind = 'payment'"); n != rounds {
				t.Errorf("%d payment movements, want %d", n, rounds)
			}
			checkLedger(t, b.Store)
		})
	}
}

func TestSettleConcurrentOrdersNeverOverdraw(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			const (
				orders      = 50
				spouseShare = 300
				childShare  = 400
				orderTotal  = spouseShare + childShare
				affordable  = headBalance / orderTotal // 14 orders of 700 fen fit in 10000
			)
			ids := make([]int64, orders)
			for i := range ids {
				name := fmt.Sprint("A", i)
				ids[i] = mustCreateOrder(t, b.Store, f.familyOrder(t, name, spouseShare, childShare)).ID
			}

			// Separate pools stand for several gateway processes.
			stores := []store.Store{b.Store, b.Open(t), b.Open(t)}
			results := make([]*store.Order, orders)
			errs := make([]error, orders)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() {
					<-start
					results[i], errs[i] = stores[i%len(stores)].SettleOrder(t.Context(), id, t0.Add(time.Minute))
				})
			}
			close(start)
			wg.Wait()

			paid, short := 0, 0
			for i, o := range results {
				if errs[i] != nil {
					t.Errorf("SettleOrder %d: %v", i, errs[i])
					continue
				}
				switch {
				case o.Status == store.OrderPaid:
					paid++
				case o.Status == store.OrderFailed && o.FailCode == 20019:
					short++
				default:
					t.Errorf("order %d ended %q with code %d", i, o.Status, o.FailCode)
				}
			}
			if paid != affordable || short != orders-affordable {
				t.Errorf("%d orders paid and %d short, want %d and %d", paid, short, affordable, orders-affordable)
			}
			checkBalance(t, b.Store, f.head, headBalance-affordable*orderTotal)
			if got := settlementBalance(t, b.DB); got != affordable*orderTotal {
				t.Errorf("settlement balance %d fen, want %d", got, affordable*orderTotal)
			}
			checkLedger(t, b.Store)
		})
	}
}

func TestSettleConcurrentWithImport(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			const rounds = 20
			ids := make([]int64, rounds)
			for i := range ids {
				name := fmt.Sprint("A", i)
				ids[i] = mustCreateOrder(t, b.Store, sampleOrder(name, f.code(t, name, f.head), store.PayKindPersonal, line{f.head, f.head, 1})).ID
			}

			// Each round imports a new balance for the head, as a second
			// process would, while the head's account pays an order.
			importer := b.Open(t)
			for i, id := range ids {
				var importErr, settleErr error
				var settled *store.Order
				start := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() {
					<-start
					record := inFamily(employee(1, idHead, int64(headBalance+i)), "F1", "0")
					_, importErr = importer.ImportPersons(t.Context(), []store.PersonRecord{record}, t0)
				})
				wg.Go(func() {
					<-start
					settled, settleErr = b.Store.SettleOrder(t.Context(), id, t0.Add(time.Minute))
				})
				close(start)
				wg.Wait()

				if importErr != nil {
					t.Errorf("round %d: ImportPersons: %v", i, importErr)
				}
				if settleErr != nil {
					t.Errorf("round %d: SettleOrder: %v", i, settleErr)
				} else if settled.Status != store.OrderPaid {
					t.Errorf("round %d: order %s, want paid", i, settled.Status)
				}
			}
			checkLedger(t, b.Store)
		})
	}
}
