-- Projections on PostgreSQL (issue 13): migrations/0003_projections.sql and the payments part of
-- 0004 translated (times and event ids BIGINT, counts and 0/1 flags INTEGER as in SQLite, so the
-- same values bind on both backends; SQLite's WITHOUT ROWID has no counterpart and is dropped).
-- The rules are those of 0003 (docs/projections.md): each projection is keyed by (source, entity
-- id), and every event a projection takes is one row in its history table whose primary key
-- includes the event id, inserted first in the same transaction as the change, so an event
-- applied twice (on any replica) changes nothing the second time.
-- Times: *_at_ms are the platform's event timestamps (NULL when a payload has none);
-- *_seen_ms and received_at_ms are our receipt times. Epoch milliseconds throughout.

-- Latest known state per transaction.
CREATE TABLE payments (
  source               TEXT    NOT NULL,
  transaction_id       TEXT    NOT NULL,
  status               TEXT    NOT NULL,
  status_at_ms         BIGINT,            -- event time of the event that set `status`
  status_event_id      BIGINT NOT NULL,   -- events.id of that event
  latest_at_ms         BIGINT,            -- the latest event time of the events applied so far
  external_id          TEXT,
  type                 TEXT,
  total_amount         TEXT,              -- decimal string, as sent
  currency             TEXT,
  customer_id          TEXT,
  parent_payment_id    TEXT,              -- refund children: the parent
  related_payment_id   TEXT,              -- under/overpaid: the companion
  settlement_batch_id  TEXT,
  documentation_status TEXT,
  settled_at           TEXT,              -- ISO strings, as sent
  expired_at           TEXT,
  unsettled_at         TEXT,
  unsettled_reason     TEXT,
  captured_at_ms       BIGINT,            -- first CAPTURED/RECEIVED: event time, else receipt
  first_seen_ms        BIGINT NOT NULL,
  last_seen_ms         BIGINT NOT NULL,
  PRIMARY KEY (source, transaction_id)
);
-- `compare`: transactions of two sources that share an externalId.
CREATE INDEX payments_external ON payments (external_id, source) WHERE external_id IS NOT NULL;
-- `payments show`: refund children and under/overpaid companions.
CREATE INDEX payments_parent ON payments (source, parent_payment_id)
  WHERE parent_payment_id IS NOT NULL;
CREATE INDEX payments_related ON payments (source, related_payment_id)
  WHERE related_payment_id IS NOT NULL;
-- Settlement backlog: captured or received, not settled yet, oldest first.
CREATE INDEX payments_awaiting_settlement ON payments (source, captured_at_ms)
  WHERE status IN ('CAPTURED', 'RECEIVED');

CREATE TABLE payment_history (
  source         TEXT    NOT NULL,
  transaction_id TEXT    NOT NULL,
  event_id       BIGINT NOT NULL,
  event_type     TEXT    NOT NULL,
  status         TEXT    NOT NULL,  -- as the event reported it ("" when it had none)
  occurred_at_ms BIGINT,
  received_at_ms BIGINT NOT NULL,
  effect         TEXT    NOT NULL
                 CHECK (effect IN ('applied', 'stale', 'terminal_kept', 'no_status')),
  PRIMARY KEY (source, transaction_id, event_id)
);

-- One review per transaction; a second payment.requiresReview reopens it (cycle + 1).
CREATE TABLE reviews (
  source               TEXT    NOT NULL,
  transaction_id       TEXT    NOT NULL,
  state                TEXT    NOT NULL CHECK (state IN ('open', 'closed')),
  outcome              TEXT,              -- closed: approved | rejected | resolved | settled | ...
  cycle                INTEGER NOT NULL, -- 1, then + 1 per reopening
  external_id          TEXT,
  total_amount         TEXT,
  currency             TEXT,
  customer_id          TEXT,
  documentation_status TEXT,
  opened_event_id      BIGINT,            -- NULL while only a closing event has arrived
  opened_at_ms         BIGINT,            -- event time of the opening, else its receipt
  opened_received_ms   BIGINT,
  closed_event_id      BIGINT,
  closed_at_ms         BIGINT,
  -- pending: owed; sent; skipped: no notify target; cancelled: closed before it was sent
  notify_state         TEXT CHECK (notify_state IN ('pending', 'sent', 'skipped', 'cancelled')),
  notify_event_id      BIGINT,            -- the opening that owes a notification
  notified_at_ms       BIGINT,
  updated_at_ms        BIGINT NOT NULL,
  PRIMARY KEY (source, transaction_id)
);
-- `reviews list` and the age flags: open reviews, oldest first.
CREATE INDEX reviews_by_state ON reviews (state, opened_at_ms);

CREATE TABLE review_history (
  source         TEXT    NOT NULL,
  transaction_id TEXT    NOT NULL,
  event_id       BIGINT NOT NULL,
  event_type     TEXT    NOT NULL,
  action         TEXT    NOT NULL,  -- opened | reopened | closed | refined | stale | noted
  occurred_at_ms BIGINT,
  received_at_ms BIGINT NOT NULL,
  PRIMARY KEY (source, transaction_id, event_id)
);

-- One record per customer.
CREATE TABLE customers (
  source          TEXT    NOT NULL,
  customer_id     TEXT    NOT NULL,
  client_id       TEXT,
  operation_level TEXT,
  documents_count INTEGER,
  documented      INTEGER NOT NULL,  -- 0/1; once 1, stays 1
  auto_created    INTEGER,           -- 0/1, NULL when never sent
  state_at_ms     BIGINT,            -- event time of the state shown
  state_event_id  BIGINT NOT NULL,
  first_seen_ms   BIGINT NOT NULL,
  last_seen_ms    BIGINT NOT NULL,
  PRIMARY KEY (source, customer_id)
);

CREATE TABLE customer_history (
  source          TEXT    NOT NULL,
  customer_id     TEXT    NOT NULL,
  event_id        BIGINT NOT NULL,
  event_type      TEXT    NOT NULL,
  operation_level TEXT,
  documents_count INTEGER,
  occurred_at_ms  BIGINT,
  received_at_ms  BIGINT NOT NULL,
  effect          TEXT    NOT NULL CHECK (effect IN ('applied', 'stale')),
  PRIMARY KEY (source, customer_id, event_id)
);

-- `compare`: the payments of a source seen in a time window (as migrations/0004).
CREATE INDEX payments_seen ON payments (source, last_seen_ms);
