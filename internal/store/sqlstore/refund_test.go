package sqlstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

// paidFamilyOrder creates and settles an order in which the head pays 3000
// fen for the spouse and 2000 fen for the child.
func (f *payFixture) paidFamilyOrder(t *testing.T, name string) *store.Order {
	t.Helper()
	o := mustCreateOrder(t, f.s, f.familyOrder(t, name, 3000, 2000))
	paid := mustSettle(t, f.s, o.ID, t0.Add(time.Minute))
	if paid.Status != store.OrderPaid {
		t.Fatalf("order %s: status %q, want paid", name, paid.Status)
	}
	return paid
}

// sampleRefund returns a refund of o whose keys derive from name, with one
// person per amount: amounts[i] refunds o.Persons[i], and 0 skips it.
func sampleRefund(name string, o *store.Order, amounts ...int64) *store.Refund {
	r := &store.Refund{
		OrderID:     o.ID,
		AppID:       payApp,
		OrgCode:     o.OrgCode,
		HiRefundNo:  "HR" + name,
		RefundNo:    "R" + name,
		RequestHash: hashOf("refund request " + name),
		CreatedAt:   t0.Add(time.Hour),
	}
	for i, amount := range amounts {
		if amount == 0 {
			continue
		}
		r.Persons = append(r.Persons, store.RefundPerson{
			OrderPersonID: o.Persons[i].ID,
			Amount:        amount,
			SetID:         fmt.Sprintf("SR%s-%d", name, i),
		})
		r.Total += amount
	}
	return r
}

func mustRefund(t *testing.T, s store.Store, r *store.Refund) *store.Refund {
	t.Helper()
	stored, err := s.CreateRefund(t.Context(), r)
	if err != nil {
		t.Fatalf("CreateRefund %s: %v", r.HiRefundNo, err)
	}
	return stored
}

func refundedAmounts(o *store.Order) []int64 {
	out := make([]int64, len(o.Persons))
	for i, p := range o.Persons {
		out[i] = p.Refunded
	}
	return out
}

func TestRefundPartialThenFull(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			o := f.paidFamilyOrder(t, "A")
			headAfterPayment := int64(headBalance - 5000)

			partial := sampleRefund("1", o, 1000)
			stored := mustRefund(t, s, partial)
			want := *partial
			want.ID = stored.ID
			if stored.ID == 0 || !reflect.DeepEqual(stored, &want) {
				t.Errorf("CreateRefund returned\n%+v\nwant\n%+v", stored, &want)
			}
			checkBalance(t, s, f.head, headAfterPayment+1000)

			full := mustRefund(t, s, sampleRefund("2", o, 0, 2000))
			checkBalance(t, s, f.head, headAfterPayment+3000)
			if got := settlementBalance(t, b.DB); got != 5000-3000 {
				t.Errorf("settlement balance %d fen, want 2000", got)
			}

			got := mustOrder(t, s, store.OrderKey{OrgCode: authOrg, PayNo: o.PayNo})
			if amounts := refundedAmounts(got); !reflect.DeepEqual(amounts, []int64{1000, 2000}) {
				t.Errorf("refunded amounts %v, want [1000 2000]", amounts)
			}
			if got.Status != store.OrderPaid {
				t.Errorf("status %q after refunds, want paid", got.Status)
			}
			if len(got.Refunds) != 2 || !reflect.DeepEqual(&got.Refunds[0], stored) || !reflect.DeepEqual(&got.Refunds[1], full) {
				t.Errorf("order's refunds\n%+v\nwant\n%+v\n%+v", got.Refunds, stored, full)
			}

			entries := queryStrings(t, b.DB, `SELECT a.kind, e.amount FROM movements m
				JOIN entries e ON e.movement_id = m.id JOIN accounts a ON a.id = e.account_id
				WHERE m.kind = 'refund' ORDER BY m.id, e.id`)
			wantEntries := []string{"system|-1000", "personal|1000", "system|-2000", "personal|2000"}
			if !reflect.DeepEqual(entries, wantEntries) {
				t.Errorf("refund entries %q, want %q", entries, wantEntries)
			}
			checkLedger(t, s)

			messages := queryStrings(t, b.DB, "SELECT kind, order_id, refund_id, person_id, amount FROM outbox WHERE refund_id IS NOT NULL ORDER BY id")
			wantMessages := []string{
				fmt.Sprintf("account_message|%d|%d|%d|1000", o.ID, stored.ID, f.head.ID),
				fmt.Sprintf("account_message|%d|%d|%d|2000", o.ID, full.ID, f.head.ID),
			}
			if !reflect.DeepEqual(messages, wantMessages) {
				t.Errorf("refund messages %q, want %q", messages, wantMessages)
			}
		})
	}
}

func TestRefundSecondTimeForPerson(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			o := f.paidFamilyOrder(t, "A")
			mustRefund(t, s, sampleRefund("1", o, 1000))

			_, err := s.CreateRefund(t.Context(), sampleRefund("2", o, 500))
			if !errors.Is(err, store.ErrAlreadyRefunded) {
				t.Fatalf("second refund of the spouse: %v, want ErrAlreadyRefunded", err)
			}
			// A refund of both persons fails as a whole on the spouse.
			_, err = s.CreateRefund(t.Context(), withPerson(sampleRefund("3", o, 0, 2000), o, 0, 100))
			if !errors.Is(err, store.ErrAlreadyRefunded) {
				t.Fatalf("refund of the child and the refunded spouse: %v, want ErrAlreadyRefunded", err)
			}
			checkBalance(t, s, f.head, headBalance-5000+1000)
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM refunds"); n != 1 {
				t.Errorf("%d refunds stored, want 1", n)
			}
			if got := mustOrder(t, s, store.OrderKey{OrgCode: authOrg, PayNo: o.PayNo}); !reflect.DeepEqual(refundedAmounts(got), []int64{1000, 0}) {
				t.Errorf("refunded amounts %v, want [1000 0]", refundedAmounts(got))
			}
			checkLedger(t, s)
		})
	}
}

// withPerson adds a refund of o.Persons[i] to r.
func withPerson(r *store.Refund, o *store.Order, i int, amount int64) *store.Refund {
	r.Persons = append(r.Persons, store.RefundPerson{OrderPersonID: o.Persons[i].ID, Amount: amount, SetID: fmt.Sprintf("SR%s-extra-%d", r.HiRefundNo, i)})
	r.Total += amount
	return r
}

func TestRefundTooLarge(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			o := f.paidFamilyOrder(t, "A")

			_, err := s.CreateRefund(t.Context(), sampleRefund("1", o, 1000, 2001))
			if !errors.Is(err, store.ErrRefundTooLarge) {
				t.Fatalf("refund above the child's payment: %v, want ErrRefundTooLarge", err)
			}
			checkBalance(t, s, f.head, headBalance-5000)
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM refunds"); n != 0 {
				t.Errorf("%d refunds stored, want 0", n)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM movements WHERE kind = 'refund'"); n != 0 {
				t.Errorf("%d refund movements, want 0", n)
			}
			// The rejected refund used neither its number nor the persons.
			mustRefund(t, s, sampleRefund("1", o, 3000, 2000))
			checkBalance(t, s, f.head, headBalance)
			checkLedger(t, s)
		})
	}
}

func TestRefundNumberIsIdempotent(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			o := f.paidFamilyOrder(t, "A")
			first := mustRefund(t, s, sampleRefund("1", o, 1000))

			// The same number again, even with other persons and amounts,
			// returns the stored refund and posts nothing.
			again := sampleRefund("1", o, 0, 500)
			again.RefundNo = "Rother"
			got, err := s.CreateRefund(t.Context(), again)
			if !errors.Is(err, store.ErrExists) {
				t.Fatalf("refund with a used hi_refund_no: %v, want ErrExists", err)
			}
			if !reflect.DeepEqual(got, first) {
				t.Errorf("CreateRefund returned\n%+v\nwant the first refund\n%+v", got, first)
			}

			// The number is taken for the org, whichever order it names.
			other := f.paidFamilyOrder(t, "B")
			if _, err := s.CreateRefund(t.Context(), sampleRefund("1", other, 100)); !errors.Is(err, store.ErrExists) {
				t.Errorf("refund of another order with a used hi_refund_no: %v, want ErrExists", err)
			}
			checkBalance(t, s, f.head, headBalance-10000+1000)
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM refunds"); n != 1 {
				t.Errorf("%d refunds stored, want 1", n)
			}
			checkLedger(t, s)
		})
	}
}

func TestRefundNeedsPaidOrder(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Store
			f := newPayFixture(t, s)
			pending := mustCreateOrder(t, s, f.familyOrder(t, "A", 300, 200))
			if _, err := s.CreateRefund(t.Context(), sampleRefund("1", pending, 100)); !errors.Is(err, store.ErrOrderState) {
				t.Errorf("refund of a pending order: %v, want ErrOrderState", err)
			}

			failed := mustCreateOrder(t, s, f.familyOrder(t, "B", headBalance, 1))
			if got := mustSettle(t, s, failed.ID, t0.Add(time.Minute)); got.Status != store.OrderFailed {
				t.Fatalf("order B: status %q, want failed", got.Status)
			}
			if _, err := s.CreateRefund(t.Context(), sampleRefund("2", failed, 100)); !errors.Is(err, store.ErrOrderState) {
				t.Errorf("refund of a failed order: %v, want ErrOrderState", err)
			}

			paid := f.paidFamilyOrder(t, "C")
			missing := sampleRefund("3", paid, 100)
			missing.OrderID = 404
			if _, err := s.CreateRefund(t.Context(), missing); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("refund of a missing order: %v, want ErrNotFound", err)
			}
			otherOrg := sampleRefund("4", paid, 100)
			otherOrg.OrgCode = authOtherOrg
			if _, err := s.CreateRefund(t.Context(), otherOrg); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("refund of another org's order: %v, want ErrNotFound", err)
			}
			foreignLine := sampleRefund("5", paid, 100)
			foreignLine.Persons[0].OrderPersonID = pending.Persons[0].ID
			if _, err := s.CreateRefund(t.Context(), foreignLine); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("refund of another order's line: %v, want ErrNotFound", err)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM refunds"); n != 0 {
				t.Errorf("%d refunds stored, want 0", n)
			}
			checkLedger(t, s)
		})
	}
}

func TestRefundRejectsInvalid(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newPayFixture(t, s)
		o := f.paidFamilyOrder(t, "A")
		cases := map[string]func(r *store.Refund){
			"total differs":    func(r *store.Refund) { r.Total++ },
			"zero amount":      func(r *store.Refund) { r.Persons[0].Amount = 0; r.Total = 0 },
			"no persons":       func(r *store.Refund) { r.Persons = nil },
			"line twice":       func(r *store.Refund) { r.Persons[1].OrderPersonID = r.Persons[0].OrderPersonID },
			"SetID twice":      func(r *store.Refund) { r.Persons[1].SetID = r.Persons[0].SetID },
			"empty SetID":      func(r *store.Refund) { r.Persons[0].SetID = "" },
			"empty refund_no":  func(r *store.Refund) { r.RefundNo = "" },
			"short hash":       func(r *store.Refund) { r.RequestHash = r.RequestHash[:4] },
			"empty hi_refund":  func(r *store.Refund) { r.HiRefundNo = "" },
			"no order":         func(r *store.Refund) { r.OrderID = 0 },
			"negative amount":  func(r *store.Refund) { r.Persons[1].Amount = -100; r.Total = 900 },
			"empty org code":   func(r *store.Refund) { r.OrgCode = "" },
			"empty appid":      func(r *store.Refund) { r.AppID = "" },
			"unknown line id":  func(r *store.Refund) { r.Persons[0].OrderPersonID = -1 },
			"amount over sum":  func(r *store.Refund) { r.Persons[0].Amount = r.Total + 1 },
			"empty line SetID": func(r *store.Refund) { r.Persons[1].SetID = "" },
		}
		for name, breakRefund := range cases {
			r := sampleRefund("1", o, 1000, 1000)
			breakRefund(r)
			_, err := s.CreateRefund(t.Context(), r)
			if err == nil || errors.Is(err, store.ErrExists) {
				t.Errorf("%s: CreateRefund returned %v, want a validation error", name, err)
			}
		}
		mustRefund(t, s, sampleRefund("1", o, 1000, 1000))
		checkLedger(t, s)
	})
}

func TestRefundUniqueLineBackstop(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			o := f.paidFamilyOrder(t, "A")
			// A refund row written past the store, with the line's refunded
			// amount left at 0, stands for a check that missed a refund.
			ctx := t.Context()
			var refundID, movementID int64
			err := b.DB.QueryRowContext(ctx, b.Store.Dialect().Rebind(`INSERT INTO refunds (order_id, appid, org_code,
				hi_refund_no, refund_no, request_hash, total, created_at) VALUES (?, ?, ?, 'HRraw', 'Rraw', ?, 1, ?) RETURNING id`),
				o.ID, payApp, authOrg, hashOf("raw"), t0.Format("2006-01-02T15:04:05.000000Z")).Scan(&refundID)
			if err != nil {
				t.Fatal(err)
			}
			err = b.DB.QueryRowContext(ctx, b.Store.Dialect().Rebind(`INSERT INTO movements (kind, reference, created_at)
				VALUES ('refund', 'raw', ?) RETURNING id`), t0.Format("2006-01-02T15:04:05.000000Z")).Scan(&movementID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.DB.ExecContext(ctx, b.Store.Dialect().Rebind(`INSERT INTO refund_persons (refund_id, position,
				order_person_id, amount, set_id, movement_id) VALUES (?, 0, ?, 1, 'SRraw', ?)`), refundID, o.Persons[0].ID, movementID)
			if err != nil {
				t.Fatal(err)
			}

			_, err = b.Store.CreateRefund(ctx, sampleRefund("1", o, 1000))
			if !errors.Is(err, store.ErrAlreadyRefunded) {
				t.Fatalf("refund of a line with a refund row: %v, want ErrAlreadyRefunded", err)
			}
			checkBalance(t, b.Store, f.head, headBalance-5000)
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM refunds"); n != 1 {
				t.Errorf("%d refunds stored, want only the one written directly", n)
			}
		})
	}
}

// raceRefunds runs each refund in its own goroutine on its own store, all
// at once, and returns their errors.
func raceRefunds(t *testing.T, stores []store.Store, refunds []*store.Refund) []error {
	t.Helper()
	errs := make([]error, len(refunds))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range refunds {
		wg.Go(func() {
			<-start
			_, errs[i] = stores[i%len(stores)].CreateRefund(t.Context(), r)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func TestRefundConcurrentForOnePerson(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			stores := []store.Store{b.Store, b.Open(t)}
			const rounds = headBalance / 5000 // each paid order takes 5000 fen
			for round := range rounds {
				o := f.paidFamilyOrder(t, fmt.Sprint("A", round))
				errs := raceRefunds(t, stores, []*store.Refund{
					sampleRefund(fmt.Sprint(round, "x"), o, 3000),
					sampleRefund(fmt.Sprint(round, "y"), o, 1000),
				})
				succeeded, rejected := 0, 0
				for i, err := range errs {
					switch {
					case err == nil:
						succeeded++
					case errors.Is(err, store.ErrAlreadyRefunded):
						rejected++
					default:
						t.Errorf("round %d: refund %d: %v", round, i, err)
					}
				}
				if succeeded != 1 || rejected != 1 {
					t.Errorf("round %d: %d refunds succeeded and %d got ErrAlreadyRefunded, want 1 and 1", round, succeeded, rejected)
				}
				got := mustOrder(t, b.Store, store.OrderKey{OrgCode: authOrg, PayNo: o.PayNo})
				if len(got.Refunds) != 1 {
					t.Errorf("round %d: order has %d refunds, want 1", round, len(got.Refunds))
				}
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM refund_persons"); n != rounds {
				t.Errorf("%d refund rows, want %d", n, rounds)
			}
			checkLedger(t, b.Store)
		})
	}
}

func TestRefundConcurrentRetries(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newPayFixture(t, b.Store)
			o := f.paidFamilyOrder(t, "A")
			stores := []store.Store{b.Store, b.Open(t)}
			// Retries of one request: a retry must get ErrExists, never
			// ErrAlreadyRefunded, whichever way the race goes.
			errs := raceRefunds(t, stores, []*store.Refund{
				sampleRefund("1", o, 3000), sampleRefund("1", o, 3000), sampleRefund("1", o, 3000), sampleRefund("1", o, 3000),
			})
			succeeded := 0
			for i, err := range errs {
				switch {
				case err == nil:
					succeeded++
				case !errors.Is(err, store.ErrExists):
					t.Errorf("retry %d: %v, want nil or ErrExists", i, err)
				}
			}
			if succeeded != 1 {
				t.Errorf("%d retries posted the refund, want 1", succeeded)
			}
			checkBalance(t, b.Store, f.head, headBalance-5000+3000)
			checkLedger(t, b.Store)
		})
	}
}
