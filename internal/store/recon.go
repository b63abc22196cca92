package store

import (
	"context"
	"time"
)

// ReconStore reads the settlement records that reconciliation compares.
type ReconStore interface {
	// SettlementRecords calls fn for each settlement record of orgCode whose
	// platform time lies in [from, to), ordered by SetID: one record per
	// person of each paid order, at the order's PaidAt, and one per person
	// of each refund, at the refund's CreatedAt. Pending and failed orders
	// have none. With idcard set, only that person's records are read. It
	// stops at the first error fn returns and returns it. Records are
	// streamed, so a day of any size is read in bounded memory.
	SettlementRecords(ctx context.Context, orgCode string, from, to time.Time, idcard string, fn func(*SettlementRecord) error) error
}

// SettlementRecord is one person's line of a confirmed payment, or one
// person's refund.
type SettlementRecord struct {
	SetID   string
	Refund  bool
	PayKind string // of the order: PayKindPersonal or PayKindMutual
	// Amount is in fen: positive for a payment, negative for a refund.
	Amount int64
	Name   string
	IDCard string
	// HiNo is the third party's number: hi_pay_no of a payment, or
	// hi_refund_no of a refund.
	HiNo string
	At   time.Time
}
