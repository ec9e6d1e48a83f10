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

}  // namespace webhook::storage
