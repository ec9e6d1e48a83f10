-- Receipt-time order for the operator commands (src/cli/events_*.cpp): `events list` (newest
-- first with a limit, --since/--until) walks this index and stops at the limit instead of
-- sorting the whole table, and `events purge` finds rows received before its cut-off as one
-- range instead of a full scan. One index, so the ingest path pays for one more B-tree insert.
CREATE INDEX events_received_at ON events (received_at_ms);
