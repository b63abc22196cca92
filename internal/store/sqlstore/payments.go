package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"chsgate/internal/store"
)

// Lock order. Settlements and refunds take their row locks in one order, so
// that two of them cannot deadlock on these rows. They lock the order row
// first, then the authorization row (settlement only) and the order lines
// (refunds only). Then one statement locks the paying personal accounts in
// id order, as each statement of an import does. The settlement account
// comes last, through the balance updates of postMovement. They lock no
// persons row, because imports lock persons before accounts, and that is
// why outbox.person_id has no foreign key.

// CreateOrder inserts the order with ON CONFLICT DO NOTHING on (org_code,
// hi_pay_no), so that of two racing requests with one number exactly one
// inserts, and the other waits for it and then reads its order. A zero
// CreatedAt is set to the current time and an empty Status to pending, in o
// too.
func (s *Store) CreateOrder(ctx context.Context, o *store.Order) (*store.Order, error) {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now().UTC()
	}
	if o.Status == "" {
		o.Status = store.OrderPending
	}
	if err := checkNewOrder(o); err != nil {
		return nil, err
	}

	var stored *store.Order
	exists := false
	err := s.inTx(ctx, func(tx runner) error {
		var id int64
		err := tx.queryRow(ctx, `INSERT INTO orders (appid, org_code, hi_pay_no, pay_no, settle_code,
			request_hash, request, auth_code_hash, auth_code_sealed, pay_kind, total, notify_url,
			redirect_url, fail_url, ticket_hash, ticket_expiry, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (org_code, hi_pay_no) DO NOTHING RETURNING id`,
			o.AppID, o.OrgCode, o.HiPayNo, o.PayNo, o.SettleCode,
			o.RequestHash, string(o.Request), o.AuthCodeHash, o.AuthCodeSealed, o.PayKind, o.Total, o.NotifyURL,
			o.RedirectURL, o.FailURL, o.TicketHash, tx.time(o.TicketExpiry), string(store.OrderPending), tx.time(o.CreatedAt)).
			Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			exists = true
			stored, err = loadOrder(ctx, tx, "org_code = ? AND hi_pay_no = ?", o.OrgCode, o.HiPayNo)
			return err
		}
		if err != nil {
			return fmt.Errorf("insert order %q of org code %q: %w", o.HiPayNo, o.OrgCode, err)
		}

		if err := insertOrderPersons(ctx, tx, id, o.Persons); err != nil {
			return fmt.Errorf("insert order %q of org code %q: %w", o.HiPayNo, o.OrgCode, err)
		}
		stored, err = loadOrder(ctx, tx, "id = ?", id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if exists {
		return stored, fmt.Errorf("order %q of org code %q: %w", o.HiPayNo, o.OrgCode, store.ErrExists)
	}
	return stored, nil
}

// checkNewOrder rejects an order that would break what settlement and the
// readers of the tables rely on. Errors name lines by position and never by
// ID number, because errors end up in logs.
func checkNewOrder(o *store.Order) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("create order %q of org code %q: %s", o.HiPayNo, o.OrgCode, fmt.Sprintf(format, args...))
	}
	switch {
	case o.AppID == "" || o.OrgCode == "" || o.HiPayNo == "":
		return fail("the appid, the org code or hi_pay_no is empty")
	case o.PayNo == "" || o.SettleCode == "":
		return fail("pay_no or the settlement code is empty")
	case len(o.RequestHash) != sha256.Size || len(o.AuthCodeHash) != sha256.Size || len(o.TicketHash) != sha256.Size:
		return fail("the request hash, auth code hash and ticket hash must each have the %d bytes of a SHA-256", sha256.Size)
	case !json.Valid(o.Request):
		return fail("the request is not valid JSON")
	case len(o.AuthCodeSealed) == 0:
		return fail("the sealed auth code is empty")
	case o.PayKind != store.PayKindPersonal && o.PayKind != store.PayKindMutual:
		return fail("pay kind %q is neither %q nor %q", o.PayKind, store.PayKindPersonal, store.PayKindMutual)
	case o.TicketExpiry.IsZero():
		return fail("the ticket expiry is zero")
	case o.Status != store.OrderPending || o.FailCode != 0 || o.FailMsg != "" || !o.PaidAt.IsZero() || len(o.Refunds) > 0:
		return fail("status %q, a failure, PaidAt or refunds are set, but a new order is pending", o.Status)
	case o.Total <= 0:
		return fail("the total is %d fen, expected more than 0", o.Total)
	case len(o.Persons) == 0 || len(o.Persons) > maxListArgs:
		return fail("the order has %d persons, expected 1 to %d", len(o.Persons), maxListArgs)
	}

	var sum int64
	persons := make(map[int64]int, len(o.Persons))
	for i, p := range o.Persons {
		switch {
		case p.PersonID <= 0 || p.PayerPersonID <= 0:
			return fail("person %d has person id %d and payer id %d, expected registry ids", i, p.PersonID, p.PayerPersonID)
		case p.Amount <= 0 || p.Amount > o.Total-sum:
			return fail("person %d pays %d fen, expected more than 0 and the lines to sum to the total %d fen", i, p.Amount, o.Total)
		case p.SetID != "" || p.Refunded != 0:
			return fail("person %d has a SetID or a refunded amount, but the order is not settled", i)
		case o.PayKind == store.PayKindPersonal && p.PayerPersonID != p.PersonID:
			return fail("person %d is paid from another person's account, but pay kind %s pays each from their own", i, o.PayKind)
		case o.PayKind == store.PayKindMutual && p.PayerPersonID != o.Persons[0].PayerPersonID:
			return fail("person %d has another payer than person 0, but pay kind %s pays all from the head's account", i, o.PayKind)
		}
		if first, ok := persons[p.PersonID]; ok {
			return fail("person %d repeats person %d, expected each person once", i, first)
		}
		persons[p.PersonID] = i
		sum += p.Amount
	}
	if sum != o.Total {
		return fail("the lines sum to %d fen, but the total is %d fen", sum, o.Total)
	}
	return nil
}

// orderPersonColumns is the count of columns insertOrderPersons binds per
// line, which sizes its statements under maxListArgs placeholders.
const orderPersonColumns = 10

// insertOrderPersons stores the lines of an order, each at its index as
// position.
func insertOrderPersons(ctx context.Context, tx runner, orderID int64, persons []store.OrderPerson) error {
	perStatement := maxListArgs / orderPersonColumns
	for start := 0; start < len(persons); start += perStatement {
		end := min(start+perStatement, len(persons))
		values := make([]string, 0, end-start)
		args := make([]any, 0, orderPersonColumns*(end-start))
		for i := start; i < end; i++ {
			p := persons[i]
			values = append(values, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, orderID, i, p.PersonID, p.Name, p.IDCard, p.CertType, p.Region,
				p.SubHisPayNo, p.Amount, p.PayerPersonID)
		}
		_, err := tx.exec(ctx, `INSERT INTO order_persons (order_id, position, person_id, name, idcard, cert_type,
			region, sub_his_pay_no, amount, payer_person_id) VALUES `+strings.Join(values, ", "), args...)
		if err != nil {
			return fmt.Errorf("insert persons %d to %d: %w", start, end-1, err)
		}
	}
	return nil
}

// Order reads the order, its lines and its refunds in one read-only
// transaction, so a settlement or refund committed meanwhile shows
// completely or not at all.
func (s *Store) Order(ctx context.Context, key store.OrderKey) (*store.Order, error) {
	where, args, err := orderKeyCondition(key)
	if err != nil {
		return nil, err
	}
	var o *store.Order
	err = s.inReadTx(ctx, func(tx runner) error {
		var err error
		o, err = loadOrder(ctx, tx, where, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// orderKeyCondition returns the WHERE condition and arguments that select
// the order of key, and an error unless exactly one key field is set.
func orderKeyCondition(key store.OrderKey) (string, []any, error) {
	set := 0
	for _, present := range []bool{key.ID != 0, key.HiPayNo != "", key.PayNo != "", key.SettleCode != "", len(key.TicketHash) > 0} {
		if present {
			set++
		}
	}
	if set != 1 {
		return "", nil, fmt.Errorf("read order: %d of id, hi_pay_no, pay_no, settlement code and ticket hash are set, expected exactly one", set)
	}

	switch {
	case key.ID != 0 && key.OrgCode == "":
		return "id = ?", []any{key.ID}, nil
	case key.ID != 0:
		return "id = ? AND org_code = ?", []any{key.ID, key.OrgCode}, nil
	case len(key.TicketHash) > 0 && key.OrgCode == "":
		return "ticket_hash = ?", []any{key.TicketHash}, nil
	case len(key.TicketHash) > 0:
		return "ticket_hash = ? AND org_code = ?", []any{key.TicketHash, key.OrgCode}, nil
	case key.OrgCode == "":
		return "", nil, errors.New("read order: the org code is empty, but only a ticket hash names an order without it")
	case key.HiPayNo != "":
		return "org_code = ? AND hi_pay_no = ?", []any{key.OrgCode, key.HiPayNo}, nil
	case key.PayNo != "":
		return "org_code = ? AND pay_no = ?", []any{key.OrgCode, key.PayNo}, nil
	}
	return "org_code = ? AND settle_code = ?", []any{key.OrgCode, key.SettleCode}, nil
}

// orderColumns are the columns scanOrder reads, in its order.
const orderColumns = `id, appid, org_code, hi_pay_no, pay_no, settle_code, request_hash, request,
	auth_code_hash, auth_code_sealed, pay_kind, total, notify_url, redirect_url, fail_url,
	ticket_hash, ticket_expiry, status, fail_code, fail_msg, created_at, paid_at`

func scanOrder(row interface{ Scan(dest ...any) error }) (*store.Order, error) {
	var o store.Order
	var request, status string
	err := row.Scan(&o.ID, &o.AppID, &o.OrgCode, &o.HiPayNo, &o.PayNo, &o.SettleCode, &o.RequestHash, &request,
		&o.AuthCodeHash, &o.AuthCodeSealed, &o.PayKind, &o.Total, &o.NotifyURL, &o.RedirectURL, &o.FailURL,
		&o.TicketHash, timeColumn{&o.TicketExpiry}, &status, &o.FailCode, &o.FailMsg,
		timeColumn{&o.CreatedAt}, nullTimeColumn{&o.PaidAt})
	if err != nil {
		return nil, err
	}
	o.Request = []byte(request)
	o.Status = store.OrderStatus(status)
	return &o, nil
}

// loadOrder reads the one order matching where, with its lines and refunds,
// inside tx; ErrNotFound if none.
func loadOrder(ctx context.Context, tx runner, where string, args ...any) (*store.Order, error) {
	return readOrder(ctx, tx, "", where, args...)
}

// lockOrder is loadOrder that also locks the order row until tx ends.
func lockOrder(ctx context.Context, tx runner, orderID int64) (*store.Order, error) {
	return readOrder(ctx, tx, tx.dialect.forUpdate(), "id = ?", orderID)
}

// readOrder is loadOrder with lock, empty or a row lock clause, appended
// to the order's SELECT.
func readOrder(ctx context.Context, tx runner, lock, where string, args ...any) (*store.Order, error) {
	o, err := scanOrder(tx.queryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE `+where+lock, args...))
	if err != nil {
		return nil, notFound(err, "order")
	}
	if o.Persons, err = loadOrderPersons(ctx, tx, o.ID); err != nil {
		return nil, err
	}
	if o.Refunds, err = loadRefunds(ctx, tx, "order_id = ?", o.ID); err != nil {
		return nil, err
	}
	return o, nil
}

func loadOrderPersons(ctx context.Context, tx runner, orderID int64) ([]store.OrderPerson, error) {
	rows, err := tx.query(ctx, `SELECT id, person_id, name, idcard, cert_type, region, sub_his_pay_no, amount,
		payer_person_id, set_id, refunded FROM order_persons WHERE order_id = ? ORDER BY position`, orderID)
	if err != nil {
		return nil, fmt.Errorf("read persons of order %d: %w", orderID, err)
	}
	var persons []store.OrderPerson
	err = eachRow(rows, func(rows *sql.Rows) error {
		var p store.OrderPerson
		var setID sql.NullString
		if err := rows.Scan(&p.ID, &p.PersonID, &p.Name, &p.IDCard, &p.CertType, &p.Region, &p.SubHisPayNo,
			&p.Amount, &p.PayerPersonID, &setID, &p.Refunded); err != nil {
			return err
		}
		p.SetID = setID.String
		persons = append(persons, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read persons of order %d: %w", orderID, err)
	}
	return persons, nil
}

// loadRefunds reads the refunds matching where, oldest first, each with its
// persons in the order of the request.
func loadRefunds(ctx context.Context, tx runner, where string, args ...any) ([]store.Refund, error) {
	rows, err := tx.query(ctx, `SELECT id, order_id, appid, org_code, hi_refund_no, refund_no, request_hash,
		total, created_at FROM refunds WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read refunds: %w", err)
	}
	var refunds []store.Refund
	index := map[int64]int{}
	err = eachRow(rows, func(rows *sql.Rows) error {
		var r store.Refund
		if err := rows.Scan(&r.ID, &r.OrderID, &r.AppID, &r.OrgCode, &r.HiRefundNo, &r.RefundNo, &r.RequestHash,
			&r.Total, timeColumn{&r.CreatedAt}); err != nil {
			return err
		}
		index[r.ID] = len(refunds)
		refunds = append(refunds, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read refunds: %w", err)
	}
	if len(refunds) == 0 {
		return nil, nil
	}

	ids := make([]int64, len(refunds))
	for i, r := range refunds {
		ids[i] = r.ID
	}
	for _, chunk := range chunks(ids) {
		rows, err := tx.query(ctx, `SELECT refund_id, order_person_id, amount, set_id FROM refund_persons
			WHERE refund_id IN (`+placeholders(len(chunk))+`) ORDER BY refund_id, position`, anySlice(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("read persons of refunds: %w", err)
		}
		err = eachRow(rows, func(rows *sql.Rows) error {
			var refundID int64
			var p store.RefundPerson
			if err := rows.Scan(&refundID, &p.OrderPersonID, &p.Amount, &p.SetID); err != nil {
				return err
			}
			r := &refunds[index[refundID]]
			r.Persons = append(r.Persons, p)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read persons of refunds: %w", err)
		}
	}
	return refunds, nil
}

// RenewOrderTicket changes the ticket only while the order is pending. A
// status never returns to pending, so when the UPDATE matches no row, a
// second read of the row still separates a missing order from an ended one.
func (s *Store) RenewOrderTicket(ctx context.Context, orderID int64, ticketHash []byte, expires time.Time) error {
	if len(ticketHash) != sha256.Size {
		return fmt.Errorf("renew ticket of order %d: the hash has %d bytes, expected the %d of a SHA-256", orderID, len(ticketHash), sha256.Size)
	}
	if expires.IsZero() {
		return fmt.Errorf("renew ticket of order %d: the expiry is zero", orderID)
	}

	r := s.runner()
	res, err := r.exec(ctx, `UPDATE orders SET ticket_hash = ?, ticket_expiry = ? WHERE id = ? AND status = 'pending'`,
		ticketHash, r.time(expires), orderID)
	if err != nil {
		return fmt.Errorf("renew ticket of order %d: %w", orderID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}

	var status string
	err = r.queryRow(ctx, `SELECT status FROM orders WHERE id = ?`, orderID).Scan(&status)
	if err != nil {
		return notFound(err, fmt.Sprintf("order %d", orderID))
	}
	return fmt.Errorf("renew ticket of order %d, which is %s: %w", orderID, status, store.ErrOrderState)
}
