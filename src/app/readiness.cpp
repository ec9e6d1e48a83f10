#include "webhook/app/readiness.hpp"

namespace webhook::app {

ReadinessVerdict judge_readiness(const ReadinessFacts& f) {
  if (!f.workers_running) return {false, "workers: not running"};
  if (!f.storage_problem.empty()) return {false, f.storage_problem};
  if (f.max_backlog_age_ms > 0 && f.oldest_unfinished_age_s * 1000.0 > f.max_backlog_age_ms) {
    return {false, "backlog: the oldest unfinished event is " +
                       std::to_string(static_cast<long long>(f.oldest_unfinished_age_s)) +
                       " s old (bound " + std::to_string(f.max_backlog_age_ms / 1000) + " s)"};
  }
  if (!f.last_commit_ok) return {false, "storage: the last commit failed"};
  return {true, {}};
}

}  // namespace webhook::app
