#pragma once
// Private to storage: the rows the backlog and projection samples are made of, as both backends
// read them (backlog.cpp for SQLite, pg_backlog.cpp for PostgreSQL), and the one assembly of
// those rows into the samples of include/webhook/storage/backlog.hpp.

#include <cstdint>
#include <string>
#include <vector>

#include "webhook/storage/backlog.hpp"

namespace webhook::storage::backlog_rows {

// SELECT source, status, count(*), min(received_at_ms) ... GROUP BY source, status ORDER BY
// source.
struct SourceStatus {
  std::string source;
  std::string status;
  std::int64_t count = 0;
  std::int64_t oldest_ms = 0;
};
std::vector<SourceBacklog> source_backlog(std::vector<SourceStatus> rows);

struct OpenReviews {  // per source: count, oldest opened_at_ms
  std::string source;
  std::int64_t count = 0;
  std::int64_t oldest_ms = 0;
};
struct OlderReviews {  // per source, for one bound: open reviews opened before it
  std::string source;
  std::int64_t count = 0;
};
struct Awaiting {  // per source: awaiting settlement, oldest captured_at_ms, overdue
  std::string source;
  std::int64_t count = 0;
  std::int64_t oldest_ms = 0;
  std::int64_t overdue = 0;
};
// `older[i]`: the rows for review bound i.
std::vector<ProjectionSample> projections(const std::vector<OpenReviews>& open,
                                          const std::vector<std::vector<OlderReviews>>& older,
                                          const std::vector<Awaiting>& awaiting);

}  // namespace webhook::storage::backlog_rows
