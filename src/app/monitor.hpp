#pragma once
// Monitor: a background thread that keeps /metrics' backlog gauges and /readyz's storage verdict
// fresh, so that neither endpoint touches SQLite on an I/O thread.
//  1. Every interval: run the owner's check (the ingest connection's files), probe the write lock
//  (BEGIN IMMEDIATE; ROLLBACK) on its own connection,
//     then sample the backlog and the projections (open reviews, settlement) into ServiceMetrics.
//  2. storage_problem() is the last probe's failure ("" when writable).
// Thread: start()/stop() from the owner; storage_problem() from any thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "webhook/app/service_metrics.hpp"
#include "webhook/core/clock.hpp"

namespace webhook::app {

class Monitor {
 public:
  // `metrics` and `clock` must outlive the monitor. `each_interval` (may be empty) runs on the
  // monitor's thread before each probe.
  Monitor(std::string sqlite_path, std::chrono::milliseconds interval, ServiceMetrics& metrics,
          const core::Clock& clock, std::function<void()> each_interval = {});
  ~Monitor();  // stop()
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void start();
  void stop();
  std::string storage_problem() const;

 private:
  void run();
  void sample_once();

  const std::string path_;
  const std::chrono::milliseconds interval_;
  ServiceMetrics& metrics_;
  const core::Clock& clock_;
  const std::function<void()> each_interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;        // GUARDED_BY(mutex_)
  std::string storage_problem_;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace webhook::app
