#include "webhook/app/service_metrics.hpp"

#include <algorithm>
#include <array>
#include <map>

#include "webhook/core/timestamp.hpp"

namespace webhook::app {
namespace {

// WEBHOOKS.md section 3: every documented event name.
constexpr std::array<std::string_view, 21> kCatalog = {
    "Transaction.Captured",       "Transaction.Received",    "Transaction.Failed",
    "transaction.status_changed", "payment.expired",         "payment.settled",
    "payment.unsettled",          "payment.requiresReview",  "payment.reviewApproved",
    "payment.reviewRejected",     "payment.reviewResolved",  "payment.failed",
    "payment.refund.created",     "payment.refund.captured", "payment.refund.settled",
    "payment.refund.failed",      "purchase.attempted",      "purchase.pendingAssignment",
    "purchase.underpaid",         "purchase.overpaid",       "customer.levelChanged",
};

// DESIGN.md section 6: every result of webhook_deliveries_total (core::result_label, too_large).
constexpr std::array<std::string_view, 7> kResults = {
    "accepted",  "duplicate", "quarantined", "invalid_signature",
    "malformed", "too_large", "unavailable"};

constexpr std::array<std::string_view, 9> kGroups = {"all",       "settlement", "reviews",
                                                     "refunds",   "customers",  "payments",
                                                     "purchases", "status",     "other"};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

double age_seconds(std::int64_t now_ms, std::int64_t since_ms) {
  return since_ms == 0 ? 0.0 : std::max(0.0, static_cast<double>(now_ms - since_ms) / 1000.0);
}

// Receipt-to-notification buckets: seconds to an hour (the SLA default is 5 minutes).
std::vector<double> notify_buckets() {
  return {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
}

}  // namespace

std::string_view event_type_label(std::string_view type) {
  const auto it = std::find(kCatalog.begin(), kCatalog.end(), type);
  return it == kCatalog.end() ? std::string_view("other") : *it;
}

std::string_view event_group(std::string_view type) {
  if (type == "payment.settled" || type == "payment.unsettled") return "settlement";
  if (starts_with(type, "payment.review") || type == "payment.requiresReview") return "reviews";
  if (starts_with(type, "payment.refund.")) return "refunds";
  if (starts_with(type, "customer.")) return "customers";
  if (starts_with(type, "payment.")) return "payments";
  if (starts_with(type, "purchase.")) return "purchases";
  if (type == "transaction.status_changed" || starts_with(type, "Transaction.")) return "status";
  return "other";
}

ServiceMetrics::ServiceMetrics(ProjectionBounds bounds, std::vector<std::string> sources)
    : deliveries_(registry_.counter("webhook_deliveries_total",
                                    "Webhook deliveries received, by source and result.",
                                    {"source", "result"})),
      ack_seconds_(registry_.histogram(
          "webhook_ack_duration_seconds",
          "Time from a complete request to its answer, for deliveries that reached the inbox.", {},
          core::latency_buckets())),
      commit_batch_(registry_.histogram("webhook_commit_batch_size",
                                        "Deliveries per group-commit transaction.", {},
                                        core::size_buckets())),
      commit_seconds_(registry_.histogram("webhook_commit_duration_seconds",
                                          "Duration of one group-commit transaction.", {},
                                          core::latency_buckets())),
      commit_failures_(registry_.counter("webhook_commit_failures_total",
                                         "Group-commit transactions that failed.", {})),
      payload_log_errors_(registry_.counter(
          "webhook_payload_log_errors_total",
          "Payload-log writes and rotations that failed, by log (verified, unverified).", {"log"})),
      events_(registry_.counter("webhook_events_total",
                                "Handled events by source, type and outcome (done, retried, dead, "
                                "unhandled).",
                                {"source", "event_type", "outcome"})),
      handler_seconds_(registry_.histogram("webhook_handler_duration_seconds",
                                           "Time the handlers of one event took, by group.",
                                           {"group"}, core::latency_buckets())),
      dispatch_delay_(registry_.histogram(
          "webhook_dispatch_delay_seconds",
          "Time from receipt of a delivery to the start of its handlers, by source and group.",
          {"source", "group"}, core::latency_buckets())),
      backlog_events_(registry_.gauge("webhook_backlog_events",
                                      "Unfinished events (pending or processing), by group.",
                                      {"group"})),
      backlog_age_(registry_.gauge("webhook_backlog_oldest_age_seconds",
                                   "Age of the oldest unfinished event, by group (0 when none).",
                                   {"group"})),
      dead_letters_(
          registry_.gauge("webhook_dead_letters", "Dead-lettered events, by group.", {"group"})),
      notifications_(registry_.counter(
          "webhook_review_notifications_total",
          "Operator notification attempts for opened reviews, by source and result (sent, failed).",
          {"source", "result"})),
      notify_seconds_(registry_.histogram(
          "webhook_review_notify_seconds",
          "Time from receipt of the opening event to the operator notification, by source.",
          {"source"}, notify_buckets())),
      notify_over_sla_(registry_.counter("webhook_review_notify_over_sla_total",
                                         "Notifications sent later than reviews.notify_sla_ms.",
                                         {"source"})),
      notify_sla_(registry_.gauge("webhook_review_notify_sla_seconds",
                                  "The configured receipt-to-notification bound.", {})),
      reviews_open_(
          registry_.gauge("webhook_reviews_open", "Open reviews, by source.", {"source"})),
      reviews_open_over_(registry_.gauge("webhook_reviews_open_over",
                                         "Open reviews opened longer ago than each configured "
                                         "bound (reviews.flag_after_ms), by source.",
                                         {"source", "bound"})),
      review_oldest_age_(registry_.gauge("webhook_review_oldest_open_age_seconds",
                                         "Age of the oldest open review (0 when none).",
                                         {"source"})),
      awaiting_settlement_(registry_.gauge("webhook_payments_awaiting_settlement",
                                           "Payments CAPTURED or RECEIVED and not settled yet.",
                                           {"source"})),
      awaiting_oldest_age_(registry_.gauge(
          "webhook_payments_awaiting_settlement_oldest_age_seconds",
          "Time since the oldest payment awaiting settlement was captured (0 when none).",
          {"source"})),
      settlement_overdue_(registry_.gauge(
          "webhook_payments_settlement_overdue",
          "Payments awaiting settlement for longer than monitoring.settlement_overdue_ms.",
          {"source"})),
      connections_shed_(registry_.counter(
          "webhook_connections_shed_total",
          "Connections closed at server.max_connections: idle (waiting for a request), slow "
          "(still sending one), refused (a new connection, when nothing could be shed).",
          {"reason"})),
      reconcile_checks_(registry_.counter(
          "webhook_reconcile_checks_total",
          "Payments, reviews and customers re-read from the Conomy API by reconciliation.",
          {"source", "kind"})),
      reconcile_found_(registry_.counter(
          "webhook_reconcile_found_total",
          "What reconciliation found: missed_event (the API was ahead; applied), state_differs "
          "(the API disagrees, the projection was kept), not_found (the API does not know it).",
          {"source", "kind"})),
      reconcile_failures_(registry_.counter(
          "webhook_reconcile_failures_total",
          "Reconciliation checks whose API call failed after its retries, by check kind.",
          {"source", "kind"})),
      reconcile_passes_(registry_.counter(
          "webhook_reconcile_passes_total",
          "Background reconciliation passes finished (reconcile.interval_ms), checks or not.", {})),
      shed_idle_(connections_shed_.with({"idle"})),
      shed_slow_(connections_shed_.with({"slow"})),
      shed_refused_(connections_shed_.with({"refused"})),
      accept_errors_(registry_
                         .counter("webhook_accept_errors_total",
                                  "Failed accepts (out of file descriptors and the like).", {})
                         .with()),
      connections_open_(
          registry_.gauge("webhook_connections_open", "Open client connections.", {}).with()),
      connections_max_(
          registry_
              .gauge("webhook_connections_max", "The connection cap (server.max_connections).", {})
              .with()),
      bounds_(std::move(bounds)),
      sources_(std::move(sources)) {
  for (std::int64_t b : bounds_.review_flag_ms) bound_labels_.push_back(core::duration_label(b));
  notify_sla_.with().set(static_cast<double>(bounds_.notify_sla_ms) / 1000.0);
  on_projections({}, 0);  // zeros for every configured source
  // Every group exists from the start, so dashboards see zeros, not gaps.
  for (std::string_view g : kGroups) {
    backlog_events_.with({std::string(g)}).set(0);
    backlog_age_.with({std::string(g)}).set(0);
    dead_letters_.with({std::string(g)}).set(0);
  }
  for (const char* log : {"verified", "unverified"}) payload_log_errors_.with({log});
  // Counters whose increase() or rate() the alert rules watch start at zero (per configured
  // source where they have one): a series born at 1 shows no increase, so the first failed commit
  // or late notification after a start would never alert.
  commit_failures_.with();
  for (const std::string& source : sources_) {
    for (std::string_view result : kResults) deliveries_.with({source, std::string(result)});
    for (const char* result : {"sent", "failed"}) notifications_.with({source, result});
    notify_over_sla_.with({source});
    for (const char* kind : {"missed_event", "state_differs", "not_found"})
      reconcile_found_.with({source, kind});
  }
}

void ServiceMetrics::on_delivery(std::string_view source, std::string_view result,
                                 double ack_seconds) {
  deliveries_.with({std::string(source), std::string(result)}).inc();
  if (ack_seconds >= 0) ack_seconds_.with().observe(ack_seconds);
}

void ServiceMetrics::on_commit(std::size_t batch_size, double seconds, bool ok) {
  commit_batch_.with().observe(static_cast<double>(batch_size));
  commit_seconds_.with().observe(seconds);
  if (!ok) commit_failures_.with().inc();
}

void ServiceMetrics::on_payload_log_error(std::string_view log) {
  payload_log_errors_.with({std::string(log)}).inc();
}

void ServiceMetrics::on_reconcile_check(std::string_view source, std::string_view kind,
                                        std::string_view finding) {
  reconcile_checks_.with({std::string(source), std::string(kind)}).inc();
  if (finding == "failed") {
    reconcile_failures_.with({std::string(source), std::string(kind)}).inc();
  } else if (finding != "none") {
    reconcile_found_.with({std::string(source), std::string(finding)}).inc();
  }
}

void ServiceMetrics::on_reconcile_pass() { reconcile_passes_.with().inc(); }

void ServiceMetrics::on_connection_shed(std::string_view reason) {
  if (reason == "idle") {
    shed_idle_.inc();
  } else if (reason == "slow") {
    shed_slow_.inc();
  } else if (reason == "refused") {
    shed_refused_.inc();
  } else {
    connections_shed_.with({std::string(reason)}).inc();
  }
}

void ServiceMetrics::on_accept_error() { accept_errors_.inc(); }

void ServiceMetrics::on_connections(std::size_t open, std::size_t max) {
  connections_open_.set(static_cast<double>(open));
  connections_max_.set(static_cast<double>(max));
}

void ServiceMetrics::on_dispatch(const worker::DispatchReport& report) {
  const std::string& source = report.event.key.source;
  const std::string type(event_type_label(report.event.event_type));
  const std::string group(event_group(report.event.event_type));
  events_.with({source, type, std::string(report.outcome)}).inc();
  handler_seconds_.with({group}).observe(report.handler_seconds);
  if (report.event.attempts <= 1 && report.started_at_ms >= report.event.received_at_ms) {
    dispatch_delay_.with({source, group})
        .observe(static_cast<double>(report.started_at_ms - report.event.received_at_ms) / 1000.0);
  }
}

void ServiceMetrics::on_backlog(const std::vector<storage::BacklogRow>& rows, std::int64_t now_ms) {
  struct Totals {
    std::int64_t unfinished = 0, dead = 0, oldest_ms = 0;
  };
  std::map<std::string_view, Totals> by_group;
  auto add = [&](std::string_view group, const storage::BacklogRow& row) {
    Totals& t = by_group[group];
    if (row.status == "dead") {
      t.dead += row.count;
      return;
    }
    t.unfinished += row.count;
    if (t.oldest_ms == 0 || row.oldest_received_ms < t.oldest_ms)
      t.oldest_ms = row.oldest_received_ms;
  };
  for (const auto& row : rows) {
    add(event_group(row.event_type), row);
    add("all", row);
  }
  for (std::string_view g : kGroups) {
    const Totals t = by_group.count(g) != 0 ? by_group[g] : Totals{};
    const double age =
        t.oldest_ms == 0 ? 0.0 : std::max(0.0, static_cast<double>(now_ms - t.oldest_ms) / 1000.0);
    backlog_events_.with({std::string(g)}).set(static_cast<double>(t.unfinished));
    backlog_age_.with({std::string(g)}).set(age);
    dead_letters_.with({std::string(g)}).set(static_cast<double>(t.dead));
    if (g == "all") oldest_age_ = age;
    if (g == "settlement") settlement_age_ = age;
  }
}

void ServiceMetrics::on_review_notify(const worker::ReviewNotifyReport& report) {
  const std::string& source = report.review.source;
  notifications_.with({source, report.sent ? "sent" : "failed"}).inc();
  if (!report.sent) return;
  notify_seconds_.with({source}).observe(report.since_receipt_s);
  if (report.since_receipt_s * 1000.0 > static_cast<double>(bounds_.notify_sla_ms)) {
    notify_over_sla_.with({source}).inc();
  }
}

void ServiceMetrics::on_projections(const std::vector<storage::ProjectionSample>& samples,
                                    std::int64_t now_ms) {
  // Configured sources first, then any other source seen before; absent from the sample: zero.
  std::lock_guard lock(projections_mutex_);
  for (const auto& s : samples) {
    if (std::find(sources_.begin(), sources_.end(), s.source) == sources_.end()) {
      sources_.push_back(s.source);
    }
  }
  std::vector<storage::ProjectionSample> all;
  for (const std::string& source : sources_) {
    const auto it = std::find_if(samples.begin(), samples.end(),
                                 [&](const auto& s) { return s.source == source; });
    all.push_back(it != samples.end() ? *it : storage::ProjectionSample{.source = source});
  }
  for (const storage::ProjectionSample& s : all) {
    reviews_open_.with({s.source}).set(static_cast<double>(s.open_reviews));
    review_oldest_age_.with({s.source}).set(age_seconds(now_ms, s.oldest_open_review_ms));
    for (std::size_t i = 0; i < bound_labels_.size(); ++i) {
      const std::int64_t n = i < s.open_reviews_older.size() ? s.open_reviews_older[i] : 0;
      reviews_open_over_.with({s.source, bound_labels_[i]}).set(static_cast<double>(n));
    }
    awaiting_settlement_.with({s.source}).set(static_cast<double>(s.awaiting_settlement));
    awaiting_oldest_age_.with({s.source}).set(age_seconds(now_ms, s.oldest_awaiting_ms));
    settlement_overdue_.with({s.source}).set(static_cast<double>(s.overdue_settlement));
  }
  projections_ = std::move(all);
}

std::vector<storage::ProjectionSample> ServiceMetrics::projections() const {
  std::lock_guard lock(projections_mutex_);
  return projections_;
}

std::string ServiceMetrics::render() const { return registry_.render(); }

}  // namespace webhook::app
