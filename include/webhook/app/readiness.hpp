#pragma once
// Readiness (/readyz): a pure verdict over cached facts, so the endpoint never touches SQLite.
// Checked in this order, the first failure wins: workers running, storage probe, backlog age
// bound, last commit.

#include <string>

namespace webhook::app {

struct ReadinessFacts {
  bool workers_running = true;
  std::string storage_problem;         // "" when the last probe could take the write lock
  double oldest_unfinished_age_s = 0;  // from the last backlog sample
  int max_backlog_age_ms = 0;          // 0 = no bound
  bool last_commit_ok = true;
};

struct ReadinessVerdict {
  bool ready = true;
  std::string reason;  // why not, for the JSON body; empty when ready
};

ReadinessVerdict judge_readiness(const ReadinessFacts& facts);

}  // namespace webhook::app
