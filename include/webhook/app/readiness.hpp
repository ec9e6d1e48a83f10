#pragma once
// Readiness (/readyz): a pure verdict over cached facts, so the endpoint never touches SQLite.
// Checked in this order, the first failure wins: workers running, storage files replaced,
// storage probe, backlog age bound, last commit, payload log.

#include <cstdint>
#include <string>
#include <vector>

#include "webhook/app/service_metrics.hpp"
#include "webhook/storage/backlog.hpp"

namespace webhook::app {

struct ReadinessFacts {
  bool workers_running = true;
  std::string storage_fault;           // SqliteInbox::fault(): files replaced; "" when none
  std::string storage_problem;         // "" when the last probe could take the write lock
  double oldest_unfinished_age_s = 0;  // from the last backlog sample
  int max_backlog_age_ms = 0;          // 0 = no bound
  bool last_commit_ok = true;
  std::string payload_log_problem;  // PayloadLog::problem(): "" while writes succeed
};

struct ReadinessVerdict {
  bool ready = true;
  std::string reason;  // why not, for the JSON body; empty when ready
};

ReadinessVerdict judge_readiness(const ReadinessFacts& facts);

// The "details" object of /readyz (informational; it never fails readiness):
//   {"settlement":{"oldest_unprocessed_event_age_s":N,"overdue_after_s":N,
//                  "sources":{"<source>":{"awaiting":N,"oldest_awaiting_age_s":N,"overdue":N}}},
//    "reviews":{"<source>":{"open":N,"oldest_open_age_s":N,"over_4h":N,"over_24h":N}}}
// Ages are whole seconds at `now_ms`; sources in the order of `samples`
// (ServiceMetrics::projections()).
std::string readiness_details(const std::vector<storage::ProjectionSample>& samples,
                              double settlement_event_age_s, const ProjectionBounds& bounds,
                              std::int64_t now_ms);

}  // namespace webhook::app
