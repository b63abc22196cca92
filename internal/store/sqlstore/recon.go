package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"chsgate/internal/store"
)

// settlementRecordsQuery selects the payment lines of paid orders by the
// order's paid_at and the refunded lines by the refund's created_at, both
// in [from, to). A paid order's lines all have a set_id, because settling
// sets them in the same transaction. The two halves are filtered on the
// org_code of their own table, so each can use its (org_code, time) index
// of migration 0007. The %s verbs take the optional idcard condition.
const settlementRecordsQuery = `
SELECT op.set_id AS set_id, 0 AS refund, o.pay_kind, op.amount, op.name, op.idcard, o.hi_pay_no, o.paid_at
FROM orders o JOIN order_persons op ON op.order_id = o.id
WHERE o.org_code = ? AND o.status = 'paid' AND o.paid_at >= ? AND o.paid_at < ?%s
UNION ALL
SELECT rp.set_id, 1, o.pay_kind, -rp.amount, op.name, op.idcard, r.hi_refund_no, r.created_at
FROM refunds r
JOIN refund_persons rp ON rp.refund_id = r.id
JOIN order_persons op ON op.id = rp.order_person_id
JOIN orders o ON o.id = r.order_id
WHERE r.org_code = ? AND r.created_at >= ? AND r.created_at < ?%s
ORDER BY set_id`

// SettlementRecords streams the records of one statement, so the rows are
// never all in memory at once. The connection stays busy until fn has seen
// the last row, so a slow fn holds it that long.
func (s *Store) SettlementRecords(ctx context.Context, orgCode string, from, to time.Time, idcard string, fn func(*store.SettlementRecord) error) error {
	r := s.runner()
	paymentArgs := []any{orgCode, r.time(from), r.time(to)}
	refundArgs := []any{orgCode, r.time(from), r.time(to)}
	personFilter := ""
	if idcard != "" {
		personFilter = " AND op.idcard = ?"
		paymentArgs = append(paymentArgs, idcard)
		refundArgs = append(refundArgs, idcard)
	}
	query := fmt.Sprintf(settlementRecordsQuery, personFilter, personFilter)
	rows, err := r.query(ctx, query, append(paymentArgs, refundArgs...)...)
	if err != nil {
		return fmt.Errorf("read settlement records of org code %q: %w", orgCode, err)
	}

	var fnErr error
	err = eachRow(rows, func(rows *sql.Rows) error {
		// Each row gets its own record, because the contract does not
		// forbid fn to keep the pointer.
		record := new(store.SettlementRecord)
		var refund int64
		if err := rows.Scan(&record.SetID, &refund, &record.PayKind, &record.Amount, &record.Name,
			&record.IDCard, &record.HiNo, timeColumn{&record.At}); err != nil {
			return fmt.Errorf("scan settlement record: %w", err)
		}
		record.Refund = refund != 0
		if fnErr = fn(record); fnErr != nil {
			return fnErr
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("read settlement records of org code %q: %w", orgCode, err)
	}
	return nil
}
