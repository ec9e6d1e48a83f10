-- The inbox on PostgreSQL (issue 13): the SQLite schema of migrations/0001, 0002 and 0004 (events
-- part) as one table, for replicas sharing one database. Types: ids BIGINT from an identity,
-- epoch milliseconds BIGINT, the body BYTEA (byte-exact), text TEXT.
-- Dedup is the UNIQUE constraint events_dedup: INSERT ... ON CONFLICT DO NOTHING RETURNING id
-- returns no row for a duplicate, which is then looked up by the same key (whichever replica
-- stored the first one).
-- Note: identity values are taken at INSERT, not at COMMIT, so with several writers a smaller id
-- can become visible after a larger one; claims must not assume ids arrive in commit order.
CREATE TABLE events (
  id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source             TEXT    NOT NULL,
  event_name         TEXT    NOT NULL,
  entity_kind        TEXT    NOT NULL,
  entity_id          TEXT    NOT NULL,
  state_token        TEXT    NOT NULL,
  event_type         TEXT    NOT NULL,
  status             TEXT    NOT NULL
                     CHECK (status IN ('pending', 'processing', 'done', 'unhandled', 'dead', 'quarantined')),
  quarantine_reason  TEXT,
  body               BYTEA   NOT NULL,
  request_id         TEXT    NOT NULL,
  received_at_ms     BIGINT  NOT NULL,
  scheme             TEXT    NOT NULL,
  candidate          TEXT    NOT NULL,
  key_slot           INTEGER NOT NULL,
  attempts           INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms BIGINT  NOT NULL DEFAULT 0,
  last_error         TEXT,
  updated_at_ms      BIGINT  NOT NULL,
  CONSTRAINT events_dedup UNIQUE (source, event_name, entity_kind, entity_id, state_token)
);

-- Due events by status and time (retries, purge per status).
CREATE INDEX events_status_due ON events (status, next_attempt_at_ms);
-- Per-entity ordering (the claim rule) and look-ups by entity.
CREATE INDEX events_entity ON events (source, entity_kind, entity_id, id);
-- Receipt-time order for `events list` and `events purge` (as migrations/0002).
CREATE INDEX events_received_at ON events (received_at_ms);
-- The claim walks pending events in id order and stops at its batch; only pending rows are in
-- it, so it stays small (as migrations/0004).
CREATE INDEX events_pending ON events (id) WHERE status = 'pending';
