-- `reviews list` on PostgreSQL (issue 13): the list's order is SQLite's (opened_at_ms, NULL
-- first ascending and last descending; text in byte order), with ties broken by (source,
-- transaction_id) since PostgreSQL has no rowid. reviews_by_state (state, opened_at_ms) cannot
-- give that order (NULLS LAST, and no tie-break), so PostgreSQL read every review of the state
-- and sorted them. This index is in exactly that order: open reviews walk it forwards, closed
-- ones backwards, and both stop at the limit.
CREATE INDEX reviews_list ON reviews
  (state, opened_at_ms NULLS FIRST, source COLLATE "C", transaction_id COLLATE "C");
