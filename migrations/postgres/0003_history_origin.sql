-- Reconciliation against the Conomy API: the origin of each history row, 'webhook' or 'api',
-- and the customers index reconciliation walks (as migrations/0005_history_origin.sql).
ALTER TABLE payment_history ADD COLUMN origin TEXT NOT NULL DEFAULT 'webhook'
  CHECK (origin IN ('webhook', 'api'));
ALTER TABLE review_history ADD COLUMN origin TEXT NOT NULL DEFAULT 'webhook'
  CHECK (origin IN ('webhook', 'api'));
ALTER TABLE customer_history ADD COLUMN origin TEXT NOT NULL DEFAULT 'webhook'
  CHECK (origin IN ('webhook', 'api'));

CREATE INDEX customers_seen ON customers (source, last_seen_ms);
