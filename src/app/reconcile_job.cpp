// ReconcileJob (src/app/reconcile_job.hpp).

#include "app/reconcile_job.hpp"

#include <exception>
#include <string>
#include <utility>

#include "webhook/log/log.hpp"
#include "webhook/storage/database.hpp"

namespace webhook::app {

ReconcileJob::ReconcileJob(const Config& config, core::WorkQueue& writer, ServiceMetrics& metrics,
                           const core::Clock& clock)
    : sqlite_path_(config.storage.sqlite_path),
      busy_timeout_ms_(config.storage.busy_timeout_ms),
      interval_(config.reconcile.interval_ms),
      writer_(writer),
      metrics_(metrics),
      clock_(clock),
      options_(reconciler_options(config)),
      clients_(make_api_clients(config, clock, [this](std::chrono::milliseconds d) { wait(d); })) {}

ReconcileJob::~ReconcileJob() { stop(); }

bool ReconcileJob::active() const { return !clients_.sources.empty() && interval_.count() > 0; }

void ReconcileJob::start() {
  if (!active() || thread_.joinable()) return;
  std::string names;
  for (const Reconciler::Source& s : clients_.sources) names += (names.empty() ? "" : ",") + s.name;
  log::info("reconcile: on",
            {.detail = "sources=" + names + " interval_ms=" + std::to_string(interval_.count()) +
                       " max_requests_per_pass=" + std::to_string(options_.max_requests_per_pass)});
  thread_ = std::thread([this] { run(); });
}

void ReconcileJob::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // A call waiting to retry ends now rather than after its remaining attempts.
  for (const auto& client : clients_.owned) client->cancel();
  if (thread_.joinable()) thread_.join();
}

void ReconcileJob::reread_secrets() {
  for (std::size_t i = 0; i < clients_.owned.size(); ++i) {
    const int files = clients_.owned[i]->reread_secrets();
    log::info("conomy api: secret files re-read",
              {.source = clients_.sources[i].name, .detail = "files=" + std::to_string(files)});
  }
}

bool ReconcileJob::wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void ReconcileJob::run() {
  std::optional<storage::Database> reader;
  std::optional<Reconciler> reconciler;
  auto next = std::chrono::steady_clock::now() + interval_;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    next = std::chrono::steady_clock::now() + interval_;
    try {
      if (!reconciler) {
        reader.emplace(storage::Database::open(sqlite_path_, storage::Database::Mode::read_only,
                                               busy_timeout_ms_));
        reconciler.emplace(
            clients_.sources, *reader,
            [this](core::WorkItem item) { return writer_.record_and_wait(std::move(item)); },
            clock_, options_,
            [this](const CheckResult& r) {
              metrics_.on_reconcile_check(r.source, core::to_string(r.kind),
                                          core::to_string(r.finding));
            });
      }
      const PassReport report =
          reconciler->run_pass({}, [this](std::chrono::milliseconds d) { return wait(d); });
      metrics_.on_reconcile_pass();
      if (report.checks.empty()) continue;
      std::size_t found = 0;
      std::size_t failed = 0;
      for (const CheckResult& r : report.checks) {
        if (r.finding == core::Finding::failed)
          ++failed;
        else if (r.finding != core::Finding::none)
          ++found;
      }
      log::info("reconcile: pass done",
                {.detail = "checks=" + std::to_string(report.checks.size()) +
                           " found=" + std::to_string(found) + " failed=" + std::to_string(failed) +
                           " requests=" + std::to_string(report.api_requests) +
                           (report.budget_spent ? " budget spent" : "")});
    } catch (const std::exception& e) {
      // The database could not be read: try again at the next interval, on a new connection.
      log::warn("reconcile: pass failed", {.detail = e.what()});
      reconciler.reset();
      reader.reset();
    }
  }
}

}  // namespace webhook::app
