#pragma once
// Backlog sampling: what is waiting in the inbox, by event type and status, for /metrics and
// /readyz. Runs on the sampler's own read connection, never on an I/O thread.

#include <cstdint>
#include <string>
#include <vector>

#include "webhook/storage/database.hpp"

namespace webhook::storage {

struct BacklogRow {
  std::string event_type;
  std::string status;  // pending | processing | dead
  std::int64_t count = 0;
  std::int64_t oldest_received_ms = 0;  // the oldest such event's received_at_ms
};

// One row per (event_type, status) for unfinished and dead events. Throws StorageError.
std::vector<BacklogRow> sample_backlog(Database& db);

// What is waiting in one source's inbox (the admin summary).
struct SourceBacklog {
  std::string source;
  std::int64_t pending = 0;
  std::int64_t processing = 0;
  std::int64_t dead = 0;
  std::int64_t oldest_unfinished_ms = 0;  // received_at_ms of the oldest pending or processing; 0
};

// One row per source with pending, processing or dead events, by source. Throws StorageError.
std::vector<SourceBacklog> sample_source_backlog(Database& db);

// The projections' operator view for one source (migrations/0003_projections.sql).
struct ProjectionSample {
  std::string source;
  std::int64_t open_reviews = 0;
  std::int64_t oldest_open_review_ms = 0;        // its opened_at_ms; 0 when none is open
  std::vector<std::int64_t> open_reviews_older;  // per bound given: opened more than bound ago
  std::int64_t awaiting_settlement = 0;          // CAPTURED or RECEIVED
  std::int64_t oldest_awaiting_ms = 0;           // its captured_at_ms; 0 when none
  std::int64_t overdue_settlement = 0;           // captured more than overdue_ms ago
};

// One sample per source that has open reviews or payments awaiting settlement, at `now_ms`.
// Reads only open reviews and unsettled payments (partial indexes). Throws StorageError.
std::vector<ProjectionSample> sample_projections(Database& db, std::int64_t now_ms,
                                                 const std::vector<std::int64_t>& review_bounds_ms,
                                                 std::int64_t overdue_ms);

// The same two samples of a PostgreSQL database (issue 13; src/storage/pg_backlog.cpp). Throw
// PgError.
class PgConnection;
std::vector<SourceBacklog> sample_source_backlog(PgConnection& db);
std::vector<ProjectionSample> sample_projections(PgConnection& db, std::int64_t now_ms,
                                                 const std::vector<std::int64_t>& review_bounds_ms,
                                                 std::int64_t overdue_ms);

}  // namespace webhook::storage
