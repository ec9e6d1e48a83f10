// Reconciler (include/webhook/app/reconciler.hpp): chooses, asks the API, judges with
// core/reconcile.hpp, records through the one write path.

#include "webhook/app/reconciler.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "webhook/log/log.hpp"
#include "webhook/storage/projection_queries.hpp"

namespace webhook::app {
namespace {

using core::CheckKind;
using core::Finding;

// The most rows a pass reads per kind and source to choose from (never-checked and
// longest-unchecked first, so a longer backlog is still covered over several passes).
constexpr std::int64_t kScanLimit = 10000;

std::string checked_key(std::string_view source, CheckKind kind, std::string_view id) {
  std::string key(source);
  key += '\n';
  key += core::to_string(kind);
  key += '\n';
  key += id;
  return key;
}

std::optional<core::KnownStatus> known_status(const std::optional<storage::PaymentRow>& p) {
  if (!p) return std::nullopt;
  return core::KnownStatus{p->status, p->status_at_ms, p->latest_at_ms};
}

std::string customer_state(std::string_view level, std::optional<std::int64_t> documents) {
  std::string state(level);
  if (documents) state += "/" + std::to_string(*documents);
  return state;
}

// The log line of a finding; `failed` was logged by the API client already.
void log_finding(const CheckResult& r, bool dry_run) {
  if (r.finding == Finding::none || r.finding == Finding::failed) return;
  std::string detail = std::string(core::to_string(r.kind)) + " " +
                       (r.known.empty() ? "-" : r.known) + " -> " + (r.api.empty() ? "-" : r.api) +
                       " traceId=" + r.trace_id;
  if (dry_run) detail += " (dry run: not applied)";
  if (!r.error.empty()) detail += " " + r.error;
  const log::Fields fields{.source = r.source,
                           .entity_id = r.entity_id,
                           .event_id = r.event_id,
                           .result = core::to_string(r.finding),
                           .detail = detail};
  if (core::is_missed_settlement(r.finding, r.api)) {
    log::warn("reconcile: settlement webhook never arrived", fields);
  } else if (r.finding == Finding::missed_event) {
    log::warn("reconcile: the API is ahead of the webhooks", fields);
  } else if (r.finding == Finding::state_differs) {
    log::warn("reconcile: the API disagrees; the projection is kept", fields);
  } else {
    log::warn("reconcile: the API does not know it", fields);
  }
}

}  // namespace

struct Reconciler::Candidate {
  CheckKind kind = CheckKind::payment;
  std::string id;
  std::optional<storage::PaymentRow> payment;    // payment; review: looked up when checked
  std::optional<storage::ReviewRow> review;      // review: the open review
  std::optional<storage::CustomerRow> customer;  // customer
  bool payment_looked_up = false;
};

bool PassReport::anything_found() const {
  return std::any_of(checks.begin(), checks.end(),
                     [](const CheckResult& c) { return c.finding != Finding::none; });
}

Reconciler::Reconciler(std::vector<Source> sources, storage::Database& reader, Record record,
                       const core::Clock& clock, ReconcilerOptions options, OnCheck on_check)
    : sources_(std::move(sources)),
      reader_(reader),
      record_(std::move(record)),
      clock_(clock),
      options_(options),
      on_check_(std::move(on_check)) {}

std::vector<Reconciler::Candidate> Reconciler::choose(storage::ProjectionReader& queries,
                                                      const Source& source,
                                                      const ReconcileTarget& target,
                                                      std::int64_t now_ms) {
  std::vector<Candidate> out;
  if (!target.empty()) {
    if (target.transaction_id) {
      Candidate c{CheckKind::payment, *target.transaction_id, {}, {}, {}, true};
      std::vector<storage::PaymentView> views = queries.payment(c.id, source.name);
      if (!views.empty()) c.payment = std::move(views.front().payment);
      std::vector<storage::ReviewView> reviews = queries.review(c.id, source.name);
      if (!reviews.empty() && reviews.front().review.state == "open") {
        c.kind = CheckKind::review;
        c.review = std::move(reviews.front().review);
      }
      out.push_back(std::move(c));
    }
    if (target.customer_id) {
      Candidate c{CheckKind::customer, *target.customer_id, {}, {}, {}, true};
      std::vector<storage::CustomerView> views = queries.customer(c.id, source.name);
      if (!views.empty()) c.customer = std::move(views.front().customer);
      out.push_back(std::move(c));
    }
    if (target.since_ms) {
      for (storage::PaymentRow& p :
           queries.payments_open_since(source.name, *target.since_ms, kScanLimit)) {
        std::string id = p.transaction_id;
        out.push_back({CheckKind::payment, std::move(id), std::move(p), {}, {}, true});
      }
      storage::ReviewFilter open{storage::ReviewFilter::State::open, source.name, std::nullopt,
                                 kScanLimit};
      for (storage::ReviewRow& r : queries.reviews(open)) {
        if (r.updated_at_ms < *target.since_ms) continue;
        std::string id = r.transaction_id;
        out.push_back({CheckKind::review, std::move(id), {}, std::move(r), {}, false});
      }
      for (storage::CustomerRow& c :
           queries.customers_seen(source.name, *target.since_ms,
                                  std::numeric_limits<std::int64_t>::max(), kScanLimit)) {
        std::string id = c.customer_id;
        out.push_back({CheckKind::customer, std::move(id), {}, {}, std::move(c), true});
      }
    }
    return out;
  }

  // The pass's own choice: three lists, each never-checked first (in their age order), then
  // longest unchecked; entities checked within recheck_after_ms are left out.
  std::vector<std::vector<Candidate>> lists(3);
  for (storage::PaymentRow& p : queries.payments_awaiting_settlement(
           source.name, now_ms - options_.settlement_overdue_ms, kScanLimit)) {
    std::string id = p.transaction_id;
    lists[0].push_back({CheckKind::payment, std::move(id), std::move(p), {}, {}, true});
  }
  storage::ReviewFilter open{storage::ReviewFilter::State::open, source.name, std::nullopt,
                             kScanLimit};
  for (storage::ReviewRow& r : queries.reviews(open)) {
    std::string id = r.transaction_id;
    lists[1].push_back({CheckKind::review, std::move(id), {}, std::move(r), {}, false});
  }
  if (options_.customer_max_age_ms > 0) {
    for (storage::CustomerRow& c : queries.customers_seen(
             source.name, 0, now_ms - options_.customer_max_age_ms, kScanLimit)) {
      std::string id = c.customer_id;
      lists[2].push_back({CheckKind::customer, std::move(id), {}, {}, std::move(c), true});
    }
  }
  const auto last_checked = [&](const Candidate& c) -> std::int64_t {
    const auto it = checked_at_.find(checked_key(source.name, c.kind, c.id));
    return it == checked_at_.end() ? -1 : it->second;
  };
  for (std::vector<Candidate>& list : lists) {
    std::erase_if(list, [&](const Candidate& c) {
      const std::int64_t at = last_checked(c);
      return at >= 0 && now_ms - at < options_.recheck_after_ms;
    });
    std::stable_sort(list.begin(), list.end(), [&](const Candidate& a, const Candidate& b) {
      return last_checked(a) < last_checked(b);
    });
  }
  for (std::size_t i = 0;; ++i) {
    bool any = false;
    for (std::vector<Candidate>& list : lists) {
      if (i < list.size()) {
        out.push_back(std::move(list[i]));
        any = true;
      }
    }
    if (!any) break;
  }
  return out;
}

void Reconciler::check(storage::ProjectionReader& queries, const Source& source, const Candidate& c,
                       const ReconcileTarget& target, PassReport& report) {
  const std::int64_t asked_at = clock_.now_ms();
  CheckResult r;
  r.source = source.name;
  r.kind = c.kind;
  r.entity_id = c.id;
  core::WorkItem item;
  item.kind = core::WorkKind::observed;
  item.at_ms = asked_at;

  if (c.kind == CheckKind::customer) {
    http::CustomerResult answer = source.client->get_customer(c.id);
    report.api_requests += answer.attempts;
    r.trace_id = answer.trace_id;
    if (c.customer)
      r.known = customer_state(c.customer->operation_level, c.customer->documents_count);
    if (answer.outcome == http::ApiOutcome::not_found) {
      r.finding = c.customer ? Finding::not_found : Finding::none;
      r.error = answer.error.message;
    } else if (answer.outcome == http::ApiOutcome::failed) {
      r.finding = Finding::failed;
      r.error = answer.error.message;
    } else {
      core::CustomerFacts facts = answer.value->facts;
      facts.occurred_at_ms = asked_at;
      r.api = customer_state(facts.operation_level, facts.documents_count);
      std::optional<core::KnownCustomer> known;
      if (c.customer) {
        known = core::KnownCustomer{c.customer->operation_level, c.customer->documents_count,
                                    c.customer->state_at_ms};
      }
      r.finding = core::judge_customer(known, facts, asked_at);
      if (r.finding == Finding::missed_event) {
        core::ProjectionChange change;
        change.kind = core::ProjectionChange::Kind::customer;
        change.customer = std::move(facts);
        item.changes.push_back(std::move(change));
        item.event = std::make_shared<const core::StoredEvent>(core::api_observation(
            source.name, c.kind, c.id, r.api, std::move(answer.body), answer.trace_id, asked_at));
      }
    }
  } else {
    std::optional<storage::PaymentRow> payment = c.payment;
    if (!c.payment_looked_up) {
      std::vector<storage::PaymentView> views = queries.payment(c.id, source.name);
      if (!views.empty()) payment = std::move(views.front().payment);
    }
    http::PaymentResult answer = source.client->get_payment(c.id);
    report.api_requests += answer.attempts;
    r.trace_id = answer.trace_id;
    if (payment) r.known = payment->status;
    const bool known = payment.has_value() || c.review.has_value();
    if (answer.outcome == http::ApiOutcome::not_found) {
      r.finding = known ? Finding::not_found : Finding::none;
      r.error = answer.error.message;
    } else if (answer.outcome == http::ApiOutcome::failed) {
      r.finding = Finding::failed;
      r.error = answer.error.message;
    } else {
      core::PaymentFacts facts = answer.value->facts;
      facts.occurred_at_ms = asked_at;
      r.api = facts.status;
      const Finding paid = core::judge_payment(known_status(payment), facts.status, asked_at);
      const Finding reviewed =
          c.review ? core::judge_review(c.review->opened_at_ms, facts.status, asked_at)
                   : Finding::none;
      // The check's own kind speaks first; the other one when it found nothing.
      const Finding first = c.kind == CheckKind::review ? reviewed : paid;
      r.finding = first != Finding::none ? first : (c.kind == CheckKind::review ? paid : reviewed);
      if (paid == Finding::missed_event) {
        core::ProjectionChange change;
        change.kind = core::ProjectionChange::Kind::payment;
        change.payment = facts;
        item.changes.push_back(std::move(change));
      }
      if (reviewed == Finding::missed_event) {
        core::ProjectionChange change;
        change.kind = core::ProjectionChange::Kind::review;
        change.payment = facts;
        item.changes.push_back(std::move(change));
      }
      if (!item.changes.empty()) {
        item.event = std::make_shared<const core::StoredEvent>(core::api_observation(
            source.name, c.kind, c.id, r.api, std::move(answer.body), answer.trace_id, asked_at));
      }
    }
  }

  if (item.event && !target.dry_run) {
    std::optional<core::WorkRecorded> recorded = record_(std::move(item));
    if (!recorded) {
      r.error = "not recorded: the database did not commit it (the next pass asks again)";
    } else if (!recorded->error.empty()) {
      r.error = "not recorded: " + recorded->error;
    } else if (recorded->recorded) {
      r.event_id = recorded->event_id;
      r.applied = true;
    }
  }
  checked_at_[checked_key(source.name, c.kind, c.id)] = asked_at;
  log_finding(r, target.dry_run);
  if (on_check_) on_check_(r);
  report.checks.push_back(std::move(r));
}

ApiClients make_api_clients(const Config& config, const core::Clock& clock, http::Sleeper sleeper) {
  ApiClients clients;
  for (const SourceConfig& source : config.sources) {
    if (!source.api) continue;
    clients.owned.push_back(
        std::make_unique<http::ConomyApiClient>(conomy_api_options(source), clock, sleeper));
    clients.sources.push_back({source.name, clients.owned.back().get()});
  }
  return clients;
}

ReconcilerOptions reconciler_options(const Config& config) {
  const ReconcileConfig& r = config.reconcile;
  ReconcilerOptions o;
  o.settlement_overdue_ms = config.monitoring.settlement_overdue_ms;
  o.customer_max_age_ms = r.customer_max_age_ms;
  o.recheck_after_ms = r.recheck_after_ms;
  o.max_requests_per_pass =
      std::max<std::int64_t>(1, r.max_calls_per_minute * r.interval_ms / 60000);
  o.pace = std::chrono::milliseconds(60000 / r.max_calls_per_minute);
  return o;
}

PassReport Reconciler::run_pass(const ReconcileTarget& target, const Wait& wait) {
  const auto started = std::chrono::steady_clock::now();
  PassReport report;
  const std::int64_t now = clock_.now_ms();
  std::erase_if(checked_at_,
                [&](const auto& entry) { return now - entry.second >= options_.recheck_after_ms; });
  storage::ProjectionQueries queries(reader_);  // checks the schema once per pass
  bool stopped = false;
  for (const Source& source : sources_) {
    if (stopped) break;
    if (target.source && *target.source != source.name) continue;
    const std::int64_t spent_before = report.api_requests;
    bool first = true;
    for (const Candidate& c : choose(queries, source, target, now)) {
      if (report.api_requests - spent_before >= options_.max_requests_per_pass) {
        report.budget_spent = true;
        break;
      }
      if (!first && options_.pace.count() > 0 && wait && !wait(options_.pace)) {
        stopped = true;
        break;
      }
      first = false;
      check(queries, source, c, target, report);
    }
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace webhook::app
