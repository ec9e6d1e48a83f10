-- The inbox: one row per distinct event (DESIGN.md sections 2-3).
-- Dedup is the UNIQUE constraint: INSERT ... ON CONFLICT DO NOTHING, changes() tells new from duplicate.
CREATE TABLE events (
  id                 INTEGER PRIMARY KEY,
  source             TEXT    NOT NULL,
  event_name         TEXT    NOT NULL,
  entity_kind        TEXT    NOT NULL,
  entity_id          TEXT    NOT NULL,
  state_token        TEXT    NOT NULL,
  event_type         TEXT    NOT NULL,
  status             TEXT    NOT NULL
                     CHECK (status IN ('pending', 'processing', 'done', 'unhandled', 'dead', 'quarantined')),
  quarantine_reason  TEXT,
  body               BLOB    NOT NULL,
  request_id         TEXT    NOT NULL,
  received_at_ms     INTEGER NOT NULL,
  scheme             TEXT    NOT NULL,
  candidate          TEXT    NOT NULL,
  key_slot           INTEGER NOT NULL,
  attempts           INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
  last_error         TEXT,
  updated_at_ms      INTEGER NOT NULL,
  UNIQUE (source, event_name, entity_kind, entity_id, state_token)
);

-- The dispatcher's claim query: due events by status and time.
CREATE INDEX events_status_due ON events (status, next_attempt_at_ms);
-- Per-entity ordering (the claim rule) and look-ups by entity.
CREATE INDEX events_entity ON events (source, entity_kind, entity_id, id);
