-- The dispatcher's claim walks pending events in id (arrival) order and stops once it has its
-- batch (src/storage/sqlite_inbox.cpp, kSelectClaimable, which names this index). Through
-- events_status_due it had to collect and sort every due pending event first: 40-70 ms per claim
-- round with 20 000 pending, which capped processing of a backlog (bench/results/
-- 2026-11-28-projections.md). Partial: only pending rows are in it, so it stays small.
CREATE INDEX events_pending ON events (id) WHERE status = 'pending';

-- `compare` (src/storage/projection_queries.cpp): the payments of a source seen in a time window,
-- so pairing sandbox and production reads the window instead of every payment of a source.
CREATE INDEX payments_seen ON payments (source, last_seen_ms);
