package sqlstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"chsgate/internal/store"
	"chsgate/internal/store/sqlstore"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
)

// reconFrom and reconTo bound the Shanghai calendar day of t0, 2026-03-01,
// as the platform times [reconFrom, reconTo).
var (
	reconFrom = time.Date(2026, 3, 1, 0, 0, 0, 0, protocol.Shanghai())
	reconTo   = reconFrom.AddDate(0, 0, 1)
)

// reconFixture is a day of payments and refunds, some just outside the day,
// with the records SettlementRecords must return for the day.
type reconFixture struct {
	*payFixture
	// inDay are the records of authOrg in the day, sorted by SetID.
	inDay []store.SettlementRecord
	// otherOrg is the one record of authOtherOrg in the day.
	otherOrg store.SettlementRecord
}

// paidOrder creates and settles an order of pay kind 1 or 2 at paidAt.
func (f *reconFixture) paidOrder(t *testing.T, name string, payKind string, applicant *store.Person, paidAt time.Time, lines ...line) *store.Order {
	t.Helper()
	o := mustCreateOrder(t, f.s, sampleOrder(name, f.code(t, name, applicant), payKind, lines...))
	paid := mustSettle(t, f.s, o.ID, paidAt)
	if paid.Status != store.OrderPaid {
		t.Fatalf("order %s: status %q, want paid", name, paid.Status)
	}
	return paid
}

func paymentRecord(o *store.Order, i int, p *store.Person) store.SettlementRecord {
	return store.SettlementRecord{
		SetID: o.Persons[i].SetID, PayKind: o.PayKind, Amount: o.Persons[i].Amount,
		Name: p.Name, IDCard: p.IDCard, HiNo: o.HiPayNo, At: o.PaidAt.UTC(),
	}
}

func refundRecord(o *store.Order, r *store.Refund, p *store.Person) store.SettlementRecord {
	return store.SettlementRecord{
		SetID: r.Persons[0].SetID, Refund: true, PayKind: o.PayKind, Amount: -r.Persons[0].Amount,
		Name: p.Name, IDCard: p.IDCard, HiNo: r.HiRefundNo, At: r.CreatedAt.UTC(),
	}
}

func newReconFixture(t *testing.T, s store.Store) *reconFixture {
	t.Helper()
	f := &reconFixture{payFixture: newPayFixture(t, s)}
	inDay := reconFrom.Add(9 * time.Hour)

	// A family payment inside the day, and a refund of one line.
	family := f.paidOrder(t, "A", store.PayKindMutual, f.head, inDay,
		line{f.spouse, f.head, 3000}, line{f.child, f.head, 2000})
	familyRefund := sampleRefund("A1", family, 1000)
	familyRefund.CreatedAt = inDay.Add(time.Hour)
	mustRefund(t, s, familyRefund)

	// A payment in the day's last microsecond, refunded at midnight after.
	lastMoment := f.paidOrder(t, "B", store.PayKindPersonal, f.solo, reconTo.Add(-time.Microsecond), line{f.solo, f.solo, 1000})
	nextDayRefund := sampleRefund("B1", lastMoment, 1000)
	nextDayRefund.CreatedAt = reconTo
	mustRefund(t, s, nextDayRefund)

	// A payment at midnight after the day.
	f.paidOrder(t, "C", store.PayKindPersonal, f.head, reconTo, line{f.head, f.head, 500})

	// A payment before the day, refunded inside it: only the refund counts.
	dayBefore := f.paidOrder(t, "D", store.PayKindPersonal, f.spouse, reconFrom.Add(-time.Microsecond), line{f.spouse, f.spouse, 400})
	lateRefund := sampleRefund("D1", dayBefore, 400)
	lateRefund.CreatedAt = inDay.Add(2 * time.Hour)
	mustRefund(t, s, lateRefund)

	// A pending order and a failed one, which have no records.
	mustCreateOrder(t, s, sampleOrder("E", f.code(t, "E", f.solo), store.PayKindPersonal, line{f.solo, f.solo, 100}))
	short := mustCreateOrder(t, s, sampleOrder("F", f.code(t, "F", f.solo), store.PayKindPersonal, line{f.solo, f.solo, soloBalance + 1}))
	if failed := mustSettle(t, s, short.ID, inDay); failed.Status != store.OrderFailed {
		t.Fatalf("order F: status %q, want failed", failed.Status)
	}

	// Another org's payment inside the day.
	other := sampleOrder("G", f.code(t, "G", f.head), store.PayKindPersonal, line{f.head, f.head, 200})
	other.OrgCode = authOtherOrg
	otherOrder := mustCreateOrder(t, s, other)
	otherOrder = mustSettle(t, s, otherOrder.ID, inDay)

	f.inDay = []store.SettlementRecord{
		paymentRecord(family, 0, f.spouse),
		paymentRecord(family, 1, f.child),
		refundRecord(family, familyRefund, f.spouse),
		paymentRecord(lastMoment, 0, f.solo),
		refundRecord(dayBefore, lateRefund, f.spouse),
	}
	slices.SortFunc(f.inDay, func(a, b store.SettlementRecord) int { return strings.Compare(a.SetID, b.SetID) })
	f.otherOrg = paymentRecord(otherOrder, 0, f.head)
	return f
}

// collectRecords returns the records SettlementRecords passes to its
// callback, copied.
func collectRecords(t *testing.T, s store.Store, orgCode string, from, to time.Time, idcard string) []store.SettlementRecord {
	t.Helper()
	var records []store.SettlementRecord
	err := s.SettlementRecords(t.Context(), orgCode, from, to, idcard, func(r *store.SettlementRecord) error {
		records = append(records, *r)
		return nil
	})
	if err != nil {
		t.Fatalf("SettlementRecords of %s: %v", orgCode, err)
	}
	return records
}

func formatRecords(records []store.SettlementRecord) string {
	var b strings.Builder
	for _, r := range records {
		fmt.Fprintf(&b, "\n  %+v", r)
	}
	return b.String()
}

func TestSettlementRecordsOfDay(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newReconFixture(t, s)
		got := collectRecords(t, s, authOrg, reconFrom, reconTo, "")
		if !reflect.DeepEqual(got, f.inDay) {
			t.Errorf("records of the day:%s\nwant:%s", formatRecords(got), formatRecords(f.inDay))
		}
	})
}

func TestSettlementRecordsOtherOrg(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newReconFixture(t, s)
		got := collectRecords(t, s, authOtherOrg, reconFrom, reconTo, "")
		if want := []store.SettlementRecord{f.otherOrg}; !reflect.DeepEqual(got, want) {
			t.Errorf("records of the other org:%s\nwant:%s", formatRecords(got), formatRecords(want))
		}
	})
}

func TestSettlementRecordsOfOnePerson(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newReconFixture(t, s)
		var want []store.SettlementRecord
		for _, r := range f.inDay {
			if r.IDCard == idSpouse {
				want = append(want, r)
			}
		}
		if len(want) != 3 {
			t.Fatalf("the fixture has %d records of the spouse in the day, want 3", len(want))
		}
		got := collectRecords(t, s, authOrg, reconFrom, reconTo, idSpouse)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("records of the spouse:%s\nwant:%s", formatRecords(got), formatRecords(want))
		}
	})
}

func TestSettlementRecordsNextDay(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		f := newReconFixture(t, s)
		got := collectRecords(t, s, authOrg, reconTo, reconTo.AddDate(0, 0, 1), "")
		var setIDs []string
		for _, r := range got {
			setIDs = append(setIDs, r.SetID)
		}
		// Order C paid at midnight, and the refund of B at midnight.
		if len(got) != 2 || !slices.Contains(setIDs, "SRB1-0") {
			t.Errorf("records of the next day:%s\nwant order C's payment and refund SRB1-0", formatRecords(got))
		}
		for _, r := range got {
			if slices.ContainsFunc(f.inDay, func(d store.SettlementRecord) bool { return d.SetID == r.SetID }) {
				t.Errorf("record %s is in both days", r.SetID)
			}
		}
	})
}

func TestSettlementRecordsEmptyRange(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		newReconFixture(t, s)
		later := reconFrom.AddDate(0, 1, 0)
		if got := collectRecords(t, s, authOrg, later, later.AddDate(0, 0, 1), ""); len(got) != 0 {
			t.Errorf("records of a day without payments:%s", formatRecords(got))
		}
	})
}

func TestSettlementRecordsCallbackError(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		newReconFixture(t, s)
		stop := errors.New("stop here")
		calls := 0
		err := s.SettlementRecords(t.Context(), authOrg, reconFrom, reconTo, "", func(*store.SettlementRecord) error {
			calls++
			return stop
		})
		if err != stop {
			t.Errorf("SettlementRecords returned %v, want the callback's error itself", err)
		}
		if calls != 1 {
			t.Errorf("callback ran %d times after returning an error, want 1", calls)
		}
	})
}

func TestReconIndexesExist(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			query := "SELECT name FROM sqlite_schema WHERE type = 'index' AND name IN ('orders_org_paid_at', 'refunds_org_created_at') ORDER BY name"
			if b.Store.Dialect() == sqlstore.PostgreSQL {
				query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN ('orders_org_paid_at', 'refunds_org_created_at') ORDER BY indexname"
			}
			got := queryStrings(t, b.DB, query)
			if want := []string{"orders_org_paid_at", "refunds_org_created_at"}; !reflect.DeepEqual(got, want) {
				t.Errorf("reconciliation indexes %q, want %q", got, want)
			}
		})
	}
}
