#include "app/monitor.hpp"

#include <algorithm>
#include <optional>

#include "webhook/log/log.hpp"
#include "webhook/storage/backlog.hpp"
#include "webhook/storage/database.hpp"

namespace webhook::app {

Monitor::Monitor(std::string sqlite_path, std::chrono::milliseconds interval,
                 ServiceMetrics& metrics, const core::Clock& clock,
                 std::function<void()> each_interval)
    : path_(std::move(sqlite_path)),
      interval_(interval),
      metrics_(metrics),
      clock_(clock),
      each_interval_(std::move(each_interval)) {}

Monitor::~Monitor() { stop(); }

void Monitor::start() {
  sample_once();  // fresh values before the first request
  thread_ = std::thread([this] { run(); });
}

void Monitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string Monitor::storage_problem() const {
  std::lock_guard lock(mutex_);
  return storage_problem_;
}

void Monitor::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    sample_once();
    lock.lock();
  }
}

void Monitor::sample_once() {
  std::string problem;
  try {
    if (each_interval_) each_interval_();
    // Wait for the lock no longer than one interval (at most 2 s): a longer wait is the answer.
    const int busy_ms = static_cast<int>(std::min<std::int64_t>(interval_.count(), 2000));
    auto db = storage::Database::open(path_, storage::Database::Mode::read_write, busy_ms);
    db.exec("BEGIN IMMEDIATE");
    db.exec("ROLLBACK");
    const std::int64_t now = clock_.now_ms();
    metrics_.on_backlog(storage::sample_backlog(db), now);
    const ProjectionBounds& b = metrics_.bounds();
    metrics_.on_projections(
        storage::sample_projections(db, now, b.review_flag_ms, b.settlement_overdue_ms), now);
  } catch (const std::exception& e) {
    problem = std::string("storage: ") + e.what();
  }
  std::string previous;
  {
    std::lock_guard lock(mutex_);
    previous = storage_problem_;
    storage_problem_ = problem;
  }
  if (problem != previous) {
    if (problem.empty()) {
      log::info("storage is writable again");
    } else {
      log::error("storage probe failed", {.detail = problem});
    }
  }
}

}  // namespace webhook::app
