-- Reconciliation reads one org's paid orders by paid_at and its refunds by
-- created_at over a range of days. Without these indexes it scans every
-- order and refund of every org.
CREATE INDEX orders_org_paid_at ON orders (org_code, paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX refunds_org_created_at ON refunds (org_code, created_at);
