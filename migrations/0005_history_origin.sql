-- Reconciliation against the Conomy API (issue 14; docs/reconciliation.md). An API answer that
-- changes a projection is stored as an event of its own (scheme 'api', type api.payment or
-- api.customer, status done), and the history rows it makes say where the change came from:
-- 'webhook' (every row before this migration) or 'api'.
ALTER TABLE payment_history ADD COLUMN origin TEXT NOT NULL DEFAULT 'webhook'
  CHECK (origin IN ('webhook', 'api'));
ALTER TABLE review_history ADD COLUMN origin TEXT NOT NULL DEFAULT 'webhook'
  CHECK (origin IN ('webhook', 'api'));
ALTER TABLE customer_history ADD COLUMN origin TEXT NOT NULL DEFAULT 'webhook'
  CHECK (origin IN ('webhook', 'api'));

-- Reconciliation re-reads customers whose record is older than reconcile.customer_max_age_ms,
-- oldest first, per source.
CREATE INDEX customers_seen ON customers (source, last_seen_ms);
