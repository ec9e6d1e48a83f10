#pragma once
// ReconcileJob: the background reconciliation of `serve` (docs/reconciliation.md). A thread
// runs a Reconciler pass every reconcile.interval_ms (the first one interval after start),
// reading the projections on a read-only connection of its own and recording through the
// writer (core::WorkQueue::record_and_wait: the one write path). Waits between checks and
// between an API call's retries end at once when the service stops; a request in flight ends by
// its own timeout.
// Thread: start()/stop() from the owner.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "webhook/app/config.hpp"
#include "webhook/app/reconciler.hpp"
#include "webhook/app/service_metrics.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/core/work.hpp"

namespace webhook::app {

class ReconcileJob {
 public:
  // `writer`, `metrics` and `clock` must outlive the job.
  ReconcileJob(const Config& config, core::WorkQueue& writer, ServiceMetrics& metrics,
               const core::Clock& clock);
  ~ReconcileJob();  // stop()
  ReconcileJob(const ReconcileJob&) = delete;
  ReconcileJob& operator=(const ReconcileJob&) = delete;

  // False when no source has an `api` or reconcile.interval_ms is 0: start() does nothing.
  bool active() const;
  void start();
  void stop();
  // SIGHUP: the API clients re-read their secret files now. Any thread.
  void reread_secrets();

 private:
  void run();
  // Waits up to `d`; false when stopping.
  bool wait(std::chrono::milliseconds d);

  const std::string sqlite_path_;
  const int busy_timeout_ms_;
  const std::chrono::milliseconds interval_;
  core::WorkQueue& writer_;
  ServiceMetrics& metrics_;
  const core::Clock& clock_;
  const ReconcilerOptions options_;
  ApiClients clients_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace webhook::app
