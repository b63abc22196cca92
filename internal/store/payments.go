package store

import (
	"context"
	"errors"
	"time"
)

// PaymentStore keeps orders, their settlement and refunds, the ledger
// postings they make, and the outbox of messages they cause. Every method
// that moves money runs in one transaction with its idempotency record and
// its outbox rows. It serializes on the database (row locks),
// never on a lock in this process, so several gateway processes can share
// one PostgreSQL.
type PaymentStore interface {
	// CreateOrder stores a pending order with its persons. When the channel's
	// org already has an order with o.HiPayNo, it stores nothing and returns
	// that order with ErrExists, so the caller can compare RequestHash.
	CreateOrder(ctx context.Context, o *Order) (*Order, error)
	// Order returns an order by one of its keys, with its persons and
	// refunds; ErrNotFound if none matches.
	Order(ctx context.Context, key OrderKey) (*Order, error)
	// RenewOrderTicket gives a pending order a new page ticket; ErrNotFound
	// if the order does not exist, ErrOrderState if it is no longer pending.
	RenewOrderTicket(ctx context.Context, orderID int64, ticketHash []byte, expires time.Time) error

	// SettleOrder confirms a pending order in one transaction. It locks the
	// paying accounts and checks each balance again. When every balance
	// covers its debit it debits them, posts one payment movement per
	// debit against the platform's settlement account (each summing to
	// zero), assigns each person's SetID, sets the order paid with PaidAt =
	// now, marks the authorization paid, and adds the outbox rows: the
	// third party's callback when the order has a notify URL, and one
	// account-movement message per debited person. When a balance is short
	// it debits nothing, sets the order failed with the shortfall's code
	// (20019 for pay kind 2, 20025 for pay kind 1), and adds the callback
	// row. An auth code pays one order only: when the order's authorization
	// has already paid another order, it likewise debits nothing and fails
	// the order with 20002 (电子凭证授权已过期，请重新授权). It returns the
	// order as it ends; ErrOrderState, changing nothing, when the order is
	// not pending (also when two calls race).
	SettleOrder(ctx context.Context, orderID int64, now time.Time) (*Order, error)

	// CreateRefund posts a refund in one transaction. It checks that each
	// refunded person of the order was paid, has no refund yet
	// (ErrAlreadyRefunded) and paid at least the amount (ErrRefundTooLarge).
	// It credits each amount back to the account it was debited from, posts
	// one refund movement per person against the settlement account, stores
	// RefundNo and each person's SetID, and adds one account-movement
	// message per person. When the org already has a
	// refund with r.HiRefundNo it stores nothing and returns that refund
	// with ErrExists, so the caller can compare RequestHash.
	CreateRefund(ctx context.Context, r *Refund) (*Refund, error)

	// ClaimOutbox returns up to limit outbox rows due at now and leases them
	// until now+lease, so another worker, or this one after a restart,
	// takes them again only once the lease has run out.
	ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*OutboxItem, error)
	// FinishOutbox records a delivered row; it is not claimed again.
	FinishOutbox(ctx context.Context, id int64, now time.Time) error
	// RetryOutbox records a failed attempt: the row is due again at next,
	// or, when next is zero, given up.
	RetryOutbox(ctx context.Context, id int64, next time.Time, lastError string) error
}

// Errors of PaymentStore.
var (
	ErrOrderState       = errors.New("order state does not allow this")
	ErrAlreadyRefunded  = errors.New("person already refunded")
	ErrRefundTooLarge   = errors.New("refund larger than the payment")
	ErrInsufficientFund = errors.New("balance too low")
)

// OrderKey names an order by exactly one of its keys, within an org.
type OrderKey struct {
	ID         int64 // the store's id; OrgCode may be empty
	OrgCode    string
	HiPayNo    string // the third party's order number
	PayNo      string // the platform's order number
	SettleCode string // the settlement code given to the browser after confirmation
	TicketHash []byte // the SHA-256 of the pay page's ticket; OrgCode may be empty
}

// OrderStatus is the state of an order.
type OrderStatus string

const (
	OrderPending OrderStatus = "pending" // created, waiting for the person to confirm
	OrderPaid    OrderStatus = "paid"
	OrderFailed  OrderStatus = "failed" // final; the third party starts again with a new hi_pay_no
)

// Pay kinds of CI00.02.00.01.
const (
	PayKindPersonal = "1" // each person's own personal account
	PayKindMutual   = "2" // the household head's account for all persons
)

// Order is a payment order of CI00.02.00.01.
type Order struct {
	ID      int64
	AppID   string
	OrgCode string
	HiPayNo string
	PayNo   string // assigned by the caller at creation, at most 64 characters
	// SettleCode is the code given to the browser after confirmation, which
	// CI00.02.00.02 takes; assigned by the caller at creation.
	SettleCode string
	// RequestHash is the SHA-256 of the request's business fields in
	// canonical form: the idempotency check of hi_pay_no.
	RequestHash []byte
	// Request is the validated CI00.02.00.01 business content as JSON.
	Request      []byte
	AuthCodeHash []byte
	// AuthCodeSealed is the auth code encrypted by the services, which
	// CI00.02.00.02 returns, so the store never holds it in clear.
	AuthCodeSealed []byte
	PayKind        string
	Total          int64 // fen
	NotifyURL      string
	RedirectURL    string
	FailURL        string
	TicketHash     []byte
	TicketExpiry   time.Time
	Status         OrderStatus
	FailCode       int
	FailMsg        string
	CreatedAt      time.Time
	PaidAt         time.Time // zero until settled (pay_date)
	Persons        []OrderPerson
	Refunds        []Refund
}

// OrderPerson is one person's line of an order.
type OrderPerson struct {
	ID          int64
	PersonID    int64
	Name        string
	IDCard      string
	CertType    string
	Region      string
	SubHisPayNo string
	Amount      int64 // fen, > 0
	// PayerPersonID is the person whose personal account pays the line:
	// the person (pay kind 1) or the household head (pay kind 2).
	PayerPersonID int64
	SetID         string // settlement id, assigned at settlement
	// Refunded is the amount refunded in fen, 0 before a refund.
	Refunded int64
}

// Refund is a refund of CI00.02.00.03.
type Refund struct {
	ID          int64
	OrderID     int64
	AppID       string
	OrgCode     string
	HiRefundNo  string
	RefundNo    string // assigned by the caller
	RequestHash []byte
	Total       int64     // fen
	CreatedAt   time.Time // refund_date
	Persons     []RefundPerson
}

// RefundPerson is one person's refund.
type RefundPerson struct {
	OrderPersonID int64
	Amount        int64  // fen, > 0
	SetID         string // assigned by the caller
}

// OutboxKind is the kind of message an outbox row delivers.
type OutboxKind string

const (
	// OutboxPaymentCallback posts the payment result to the order's
	// notify URL.
	OutboxPaymentCallback OutboxKind = "payment_callback"
	// OutboxAccountMessage notifies an insured person of a movement of
	// their account.
	OutboxAccountMessage OutboxKind = "account_message"
)

// OutboxItem is one message waiting for delivery.
type OutboxItem struct {
	ID       int64
	Kind     OutboxKind
	OrderID  int64
	RefundID int64 // for account messages of a refund; 0 otherwise
	// PersonID and Amount describe an account message: whose account
	// moved, and by how much in fen (negative for a debit).
	PersonID  int64
	Amount    int64
	Attempts  int
	NextAt    time.Time
	LastError string
	CreatedAt time.Time
}
