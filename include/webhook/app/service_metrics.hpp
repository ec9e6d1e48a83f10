#pragma once
// ServiceMetrics: every series /metrics exposes (DESIGN.md section 6), fed by observers of the
// HTTP server (deliveries), the writer (commits), the dispatcher (events, handler latency) and
// the backlog sampler. Updates are atomic adds; render() is safe from any thread.
// Event types are a bounded label: the documented catalog verbatim, anything else "other".

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/core/metrics.hpp"
#include "webhook/storage/backlog.hpp"
#include "webhook/worker/dispatcher.hpp"
#include "webhook/worker/projection_handlers.hpp"

namespace webhook::app {

// The documented event type, or "other".
std::string_view event_type_label(std::string_view type);
// settlement | reviews | refunds | customers | payments | purchases | status | other.
std::string_view event_group(std::string_view type);

// The review and settlement bounds the projection gauges are measured against.
struct ProjectionBounds {
  std::int64_t notify_sla_ms = 300000;
  std::vector<std::int64_t> review_flag_ms = {14400000, 86400000};
  std::int64_t settlement_overdue_ms = 86400000;
};

class ServiceMetrics {
 public:
  // `sources`: the configured source names, whose projection gauges exist from the start.
  explicit ServiceMetrics(ProjectionBounds bounds = {}, std::vector<std::string> sources = {});

  void on_delivery(std::string_view source, std::string_view result, double ack_seconds);
  void on_commit(std::size_t batch_size, double seconds, bool ok);
  // A failed payload-log write or rotation; `log` is "verified" or "unverified".
  void on_payload_log_error(std::string_view log);
  // The HTTP server's connection accounting (ServerHooks): `reason` idle | slow | refused.
  // Atomic adds only: called on I/O threads.
  void on_connection_shed(std::string_view reason);
  void on_accept_error();
  // The open connections right now and the cap (server.max_connections).
  void on_connections(std::size_t open, std::size_t max);
  void on_dispatch(const worker::DispatchReport& report);
  // Replaces the backlog gauges with this sample, taken at `now_ms`.
  void on_backlog(const std::vector<storage::BacklogRow>& rows, std::int64_t now_ms);
  void on_review_notify(const worker::ReviewNotifyReport& report);
  // Replaces the review and settlement gauges with this sample, taken at `now_ms`.
  void on_projections(const std::vector<storage::ProjectionSample>& samples, std::int64_t now_ms);
  // One reconciliation check (app/reconciler.hpp): `kind` payment | review | customer,
  // `finding` as core::to_string(core::Finding).
  void on_reconcile_check(std::string_view source, std::string_view kind, std::string_view finding);
  // A background reconciliation pass ended (whatever it checked).
  void on_reconcile_pass();
  // The last projection sample, one entry per source: the configured ones in their order, then
  // any other seen since start (zeros where the sample had none). For /readyz details.
  std::vector<storage::ProjectionSample> projections() const;

  std::string render() const;
  // Age in seconds of the oldest unfinished event at the last sample (0 when none).
  double oldest_unfinished_age_seconds() const { return oldest_age_.load(); }
  // The same for settlement events (payment.settled, payment.unsettled).
  double oldest_settlement_event_age_seconds() const { return settlement_age_.load(); }
  const ProjectionBounds& bounds() const { return bounds_; }

 private:
  core::Registry registry_;
  core::Family<core::Counter>& deliveries_;
  core::Family<core::Histogram>& ack_seconds_;
  core::Family<core::Histogram>& commit_batch_;
  core::Family<core::Histogram>& commit_seconds_;
  core::Family<core::Counter>& commit_failures_;
  core::Family<core::Counter>& payload_log_errors_;
  core::Family<core::Counter>& events_;
  core::Family<core::Histogram>& handler_seconds_;
  core::Family<core::Histogram>& dispatch_delay_;
  core::Family<core::Gauge>& backlog_events_;
  core::Family<core::Gauge>& backlog_age_;
  core::Family<core::Gauge>& dead_letters_;
  core::Family<core::Counter>& notifications_;
  core::Family<core::Histogram>& notify_seconds_;
  core::Family<core::Counter>& notify_over_sla_;
  core::Family<core::Gauge>& notify_sla_;
  core::Family<core::Gauge>& reviews_open_;
  core::Family<core::Gauge>& reviews_open_over_;
  core::Family<core::Gauge>& review_oldest_age_;
  core::Family<core::Gauge>& awaiting_settlement_;
  core::Family<core::Gauge>& awaiting_oldest_age_;
  core::Family<core::Gauge>& settlement_overdue_;
  core::Family<core::Counter>& connections_shed_;
  core::Family<core::Counter>& reconcile_checks_;
  core::Family<core::Counter>& reconcile_found_;
  core::Family<core::Counter>& reconcile_failures_;
  core::Family<core::Counter>& reconcile_passes_;
  core::Counter& shed_idle_;  // series resolved once, so the I/O threads never take a lock
  core::Counter& shed_slow_;
  core::Counter& shed_refused_;
  core::Counter& accept_errors_;
  core::Gauge& connections_open_;
  core::Gauge& connections_max_;
  const ProjectionBounds bounds_;
  std::vector<std::string> bound_labels_;  // "4h", "24h": one per review bound
  mutable std::mutex projections_mutex_;
  std::vector<std::string> sources_;  // GUARDED_BY(projections_mutex_): configured, then seen
  std::vector<storage::ProjectionSample> projections_;  // GUARDED_BY(projections_mutex_)
  std::atomic<double> oldest_age_{0.0};
  std::atomic<double> settlement_age_{0.0};
};

}  // namespace webhook::app
