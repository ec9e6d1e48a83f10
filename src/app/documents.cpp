// The operator documents (include/webhook/app/documents.hpp). The field order of each object is
// part of the contract: docs/operator-commands.md and docs/admin.md list them in this order.

#include "webhook/app/documents.hpp"

#include <map>
#include <utility>

#include "webhook/core/text.hpp"
#include "webhook/core/timestamp.hpp"
#include "webhook/log/log.hpp"

namespace webhook::app::documents {
namespace {

using storage::CustomerView;
using storage::PaymentRow;
using storage::PaymentView;
using storage::ReviewRow;
using storage::ReviewView;

std::optional<std::int64_t> age_or_null(std::int64_t now_ms, std::int64_t since_ms) {
  if (since_ms == 0) return std::nullopt;
  return now_ms > since_ms ? now_ms - since_ms : 0;
}

// An array with one object per item, `fields(item)` writing each object's members.
template <typename Items, typename Fields>
void objects(JsonOut& j, const Items& items, Fields&& fields) {
  j.start_array();
  for (const auto& item : items) {
    j.start_object();
    fields(item);
    j.end_object();
  }
  j.end_array();
}

// The same as the member `name`.
template <typename Items, typename Fields>
void objects(JsonOut& j, std::string_view name, const Items& items, Fields&& fields) {
  j.key(name);
  objects(j, items, std::forward<Fields>(fields));
}

void review_fields(JsonOut& j, const ReviewRow& r, const std::vector<std::int64_t>& bounds,
                   std::int64_t now_ms) {
  const std::optional<std::int64_t> bound = review_flag_bound(r, bounds, now_ms);
  j.field("source", r.source);
  j.field("transaction_id", r.transaction_id);
  j.field("state", r.state);
  j.field_or_null("outcome", r.outcome);
  j.field("cycle", r.cycle);
  j.field_or_null("external_id", r.external_id);
  j.field_or_null("total_amount", r.total_amount);
  j.field_or_null("currency", r.currency);
  j.field_or_null("customer_id", r.customer_id);
  j.field_or_null("documentation_status", r.documentation_status);
  j.time_fields("opened_at", r.opened_at_ms);
  j.field_or_null("age_ms", review_age_ms(r, now_ms));
  j.field_or_null("flag", review_flag_label(bound));
  j.field_or_null("flag_after_ms", bound);
  j.time_fields("closed_at", r.closed_at_ms);
  j.field_or_null("notify_state", r.notify_state);
  j.time_fields("notified_at", r.notified_at_ms);
}

void payment_fields(JsonOut& j, const PaymentRow& p) {
  j.field("source", p.source);
  j.field("transaction_id", p.transaction_id);
  j.field_or_null("status", p.status);
  j.time_fields("status_at", p.status_at_ms);
  j.field("status_event_id", p.status_event_id);
  j.field("status_origin", p.status_origin);
  j.field_or_null("type", p.type);
  j.field_or_null("total_amount", p.total_amount);
  j.field_or_null("currency", p.currency);
  j.field_or_null("external_id", p.external_id);
  j.field_or_null("customer_id", p.customer_id);
  j.field_or_null("parent_payment_id", p.parent_payment_id);
  j.field_or_null("related_payment_id", p.related_payment_id);
  j.field_or_null("settlement_batch_id", p.settlement_batch_id);
  j.field_or_null("documentation_status", p.documentation_status);
  j.field_or_null("settled_at", p.settled_at);
  j.field_or_null("expired_at", p.expired_at);
  j.field_or_null("unsettled_at", p.unsettled_at);
  j.field_or_null("unsettled_reason", p.unsettled_reason);
  j.time_fields("captured_at", p.captured_at_ms);
  j.time_fields("first_seen", p.first_seen_ms);
  j.time_fields("last_seen", p.last_seen_ms);
}

void payment_array(JsonOut& j, std::string_view name, const std::vector<PaymentRow>& rows) {
  objects(j, name, rows, [&j](const PaymentRow& row) { payment_fields(j, row); });
}

void stats_object(JsonOut& j, std::string_view name, const storage::SourceEventStats& s) {
  j.key(name);
  j.start_object();
  j.field("received", s.received);
  j.field("done", s.done);
  j.field("unhandled", s.unhandled);
  j.field("dead", s.dead);
  j.field("pending", s.pending);
  j.field("quarantined", s.quarantined);
  j.field("retried", s.retried);
  j.field_or_null("p50_ms", s.p50_ms);
  j.field_or_null("p95_ms", s.p95_ms);
  j.field_or_null("max_ms", s.max_ms);
  j.end_object();
}

void side_object(JsonOut& j, std::string_view name, const std::string& transaction_id,
                 const std::string& status) {
  j.key(name);
  j.start_object();
  j.field("transaction_id", transaction_id);
  j.field_or_null("status", status);
  j.end_object();
}

}  // namespace

// ---- reviews ----------------------------------------------------------------------------------

std::optional<std::int64_t> review_age_ms(const ReviewRow& r, std::int64_t now_ms) {
  if (r.state != "open" || !r.opened_at_ms) return std::nullopt;
  return now_ms - *r.opened_at_ms;
}

std::optional<std::int64_t> review_flag_bound(const ReviewRow& r,
                                              const std::vector<std::int64_t>& bounds_ms,
                                              std::int64_t now_ms) {
  const std::optional<std::int64_t> age = review_age_ms(r, now_ms);
  if (!age) return std::nullopt;
  std::optional<std::int64_t> passed;
  for (const std::int64_t bound : bounds_ms) {
    if (*age > bound) passed = bound;
  }
  return passed;
}

std::string review_flag_label(std::optional<std::int64_t> bound_ms) {
  return bound_ms ? "over " + core::duration_label(*bound_ms) : std::string();
}

std::string review_list(const std::vector<ReviewRow>& rows,
                        const std::vector<std::int64_t>& bounds_ms, std::int64_t now_ms) {
  JsonOut j;
  objects(j, rows, [&](const ReviewRow& r) { review_fields(j, r, bounds_ms, now_ms); });
  return j.str();
}

std::string review_views(const std::vector<ReviewView>& views,
                         const std::vector<std::int64_t>& bounds_ms, std::int64_t now_ms) {
  JsonOut j;
  objects(j, views, [&](const ReviewView& v) {
    const ReviewRow& r = v.review;
    review_fields(j, r, bounds_ms, now_ms);
    j.field_or_null("opened_event_id", r.opened_event_id);
    j.time_fields("opened_received_at", r.opened_received_ms);
    j.field_or_null("closed_event_id", r.closed_event_id);
    j.field_or_null("notify_event_id", r.notify_event_id);
    j.time_fields("updated_at", r.updated_at_ms);
    objects(j, "history", v.history, [&j](const storage::ReviewHistoryEntry& h) {
      j.field("event_id", h.event_id);
      j.field("event_type", h.event_type);
      j.field("action", h.action);
      j.time_fields("occurred_at", h.occurred_at_ms);
      j.time_fields("received_at", h.received_at_ms);
      j.field("origin", h.origin);
    });
  });
  return j.str();
}

// ---- payments and customers -------------------------------------------------------------------

std::string payment_views(const std::vector<PaymentView>& views) {
  JsonOut j;
  objects(j, views, [&j](const PaymentView& v) {
    payment_fields(j, v.payment);
    j.key("parent");
    if (v.parent) {
      j.start_object();
      payment_fields(j, *v.parent);
      j.end_object();
    } else {
      j.null();
    }
    payment_array(j, "children", v.children);
    payment_array(j, "companions", v.companions);
    objects(j, "history", v.history, [&j](const storage::PaymentHistoryEntry& h) {
      j.field("event_id", h.event_id);
      j.field("event_type", h.event_type);
      j.field_or_null("status", h.status);
      j.time_fields("occurred_at", h.occurred_at_ms);
      j.time_fields("received_at", h.received_at_ms);
      j.field("effect", h.effect);
      j.field("origin", h.origin);
    });
  });
  return j.str();
}

std::string customer_views(const std::vector<CustomerView>& views) {
  JsonOut j;
  objects(j, views, [&j](const CustomerView& v) {
    const storage::CustomerRow& c = v.customer;
    j.field("source", c.source);
    j.field("customer_id", c.customer_id);
    j.field_or_null("client_id", c.client_id);
    j.field_or_null("operation_level", c.operation_level);
    j.field_or_null("documents_count", c.documents_count);
    j.field("documented", c.documented);
    j.nullable("auto_created", c.auto_created);
    j.time_fields("state_at", c.state_at_ms);
    j.field("state_event_id", c.state_event_id);
    j.time_fields("first_seen", c.first_seen_ms);
    j.time_fields("last_seen", c.last_seen_ms);
    objects(j, "history", v.history, [&j](const storage::CustomerHistoryEntry& h) {
      j.field("event_id", h.event_id);
      j.field("event_type", h.event_type);
      j.field_or_null("operation_level", h.operation_level);
      j.field_or_null("documents_count", h.documents_count);
      j.time_fields("occurred_at", h.occurred_at_ms);
      j.time_fields("received_at", h.received_at_ms);
      j.field("effect", h.effect);
      j.field("origin", h.origin);
    });
  });
  return j.str();
}

// ---- events -----------------------------------------------------------------------------------

void event_summaries(JsonOut& j, const std::vector<storage::EventSummary>& rows) {
  objects(j, rows, [&j](const storage::EventSummary& r) {
    j.field("id", r.id);
    j.field("source", r.source);
    j.field("event_type", r.event_type);
    j.field("entity_kind", r.entity_kind);
    j.field("entity_id", r.entity_id);
    j.field("status", r.status);
    j.field("attempts", r.attempts);
    j.key("received_at");
    j.string(log::format_timestamp(r.received_at_ms));
    j.field("received_at_ms", r.received_at_ms);
    j.field("next_attempt_at_ms", r.next_attempt_at_ms);
    j.nullable("last_error", r.last_error);
    j.field("request_id", r.request_id);
  });
}

std::string event_list(const std::vector<storage::EventSummary>& rows) {
  JsonOut j;
  event_summaries(j, rows);
  return j.str();
}

std::string event_record(const storage::EventRecord& e) {
  JsonOut j;
  j.start_object();
  j.field("id", e.id);
  j.field("source", e.source);
  j.field("event_name", e.event_name);
  j.field("entity_kind", e.entity_kind);
  j.field("entity_id", e.entity_id);
  j.field("state_token", e.state_token);
  j.field("event_type", e.event_type);
  j.field("status", e.status);
  j.nullable("quarantine_reason", e.quarantine_reason);
  j.field("request_id", e.request_id);
  j.time_fields("received_at", e.received_at_ms);
  j.field("scheme", e.scheme);
  j.field("candidate", e.candidate);
  j.field("key_slot", e.key_slot);
  j.field("attempts", e.attempts);
  j.time_fields("next_attempt_at", e.next_attempt_at_ms);
  j.nullable("last_error", e.last_error);
  j.time_fields("updated_at", e.updated_at_ms);
  j.key("dedup_key");
  j.start_object();
  j.field("source", e.source);
  j.field("event_name", e.event_name);
  j.field("entity_kind", e.entity_kind);
  j.field("entity_id", e.entity_id);
  j.field("state_token", e.state_token);
  j.end_object();
  j.field("body_bytes", static_cast<std::int64_t>(e.body.size()));
  if (core::is_valid_utf8(e.body)) {
    j.field("body", e.body);
  } else {
    j.field("body_base64", core::base64_encode(e.body));
  }
  j.end_object();
  return j.str();
}

// ---- compare ----------------------------------------------------------------------------------

std::string comparison(const ComparisonWindow& window, const storage::Comparison& c) {
  JsonOut j;
  j.start_object();
  j.field("a", window.a);
  j.field("b", window.b);
  j.time_fields("since", window.since_ms);
  j.time_fields("until", window.until_ms);
  objects(j, "event_types", c.by_type, [&j](const storage::EventTypeComparison& t) {
    j.field("event_type", t.event_type);
    stats_object(j, "a", t.a);
    stats_object(j, "b", t.b);
  });
  j.key("total");
  j.start_object();
  stats_object(j, "a", c.total_a);
  stats_object(j, "b", c.total_b);
  j.end_object();
  j.key("payments");
  j.start_object();
  j.field("shared_external_ids", c.shared_external_ids);
  j.field("agreeing_external_ids", c.agreeing_external_ids);
  j.field("differing_external_ids", c.shared_external_ids - c.agreeing_external_ids);
  j.field("differing_pairs", c.differing_pairs);
  objects(j, "differences", c.differences, [&j](const auto& d) {
    j.field("external_id", d.external_id);
    side_object(j, "a", d.a_transaction_id, d.a_status);
    side_object(j, "b", d.b_transaction_id, d.b_status);
  });
  j.field("differences_truncated",
          static_cast<std::int64_t>(c.differences.size()) < c.differing_pairs);
  j.end_object();
  j.end_object();
  return j.str();
}

// ---- summary ----------------------------------------------------------------------------------

std::vector<SourceSummary> summarize(const SummaryInput& in) {
  std::map<std::string, SourceSummary> by_source;
  for (const std::string& source : in.sources) by_source[source];
  for (const auto& b : in.backlog) {
    SourceSummary& s = by_source[b.source];
    s.backlog = b;
  }
  for (const auto& p : in.projections) {
    SourceSummary& s = by_source[p.source];
    s.projections = p;
  }
  std::vector<SourceSummary> out;
  out.reserve(by_source.size());
  for (auto& [source, s] : by_source) {
    s.source = source;
    s.backlog.source = source;
    s.projections.source = source;
    s.projections.open_reviews_older.resize(in.review_bounds_ms.size());
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

template <typename Db>
SummaryInput read_summary_from(Db& db, std::vector<std::string> sources,
                               std::vector<std::int64_t> review_bounds_ms,
                               std::int64_t settlement_overdue_ms, std::int64_t now_ms) {
  SummaryInput in;
  in.sources = std::move(sources);
  in.now_ms = now_ms;
  in.settlement_overdue_ms = settlement_overdue_ms;
  in.backlog = storage::sample_source_backlog(db);
  in.projections = storage::sample_projections(db, now_ms, review_bounds_ms, settlement_overdue_ms);
  in.review_bounds_ms = std::move(review_bounds_ms);
  return in;
}

}  // namespace

SummaryInput read_summary(storage::Database& db, std::vector<std::string> sources,
                          std::vector<std::int64_t> review_bounds_ms,
                          std::int64_t settlement_overdue_ms, std::int64_t now_ms) {
  return read_summary_from(db, std::move(sources), std::move(review_bounds_ms),
                           settlement_overdue_ms, now_ms);
}

SummaryInput read_summary(storage::PgConnection& db, std::vector<std::string> sources,
                          std::vector<std::int64_t> review_bounds_ms,
                          std::int64_t settlement_overdue_ms, std::int64_t now_ms) {
  return read_summary_from(db, std::move(sources), std::move(review_bounds_ms),
                           settlement_overdue_ms, now_ms);
}

std::string summary(const SummaryInput& in) {
  JsonOut j;
  j.start_object();
  j.time_fields("now", in.now_ms);
  j.key("sources");
  j.start_array();
  for (const SourceSummary& s : summarize(in)) {
    const storage::SourceBacklog& b = s.backlog;
    const storage::ProjectionSample& p = s.projections;
    j.start_object();
    j.field("source", s.source);
    j.key("backlog");
    j.start_object();
    j.field("pending", b.pending);
    j.field("processing", b.processing);
    j.field_or_null("oldest_age_ms", age_or_null(in.now_ms, b.oldest_unfinished_ms));
    j.end_object();
    j.field("dead", b.dead);
    j.key("settlement");
    j.start_object();
    j.field("awaiting", p.awaiting_settlement);
    j.field_or_null("oldest_awaiting_age_ms", age_or_null(in.now_ms, p.oldest_awaiting_ms));
    j.field("overdue", p.overdue_settlement);
    j.field("overdue_after_ms", in.settlement_overdue_ms);
    j.end_object();
    j.key("reviews");
    j.start_object();
    j.field("open", p.open_reviews);
    j.field_or_null("oldest_open_age_ms", age_or_null(in.now_ms, p.oldest_open_review_ms));
    j.key("over");
    j.start_array();
    for (std::size_t i = 0; i < in.review_bounds_ms.size(); ++i) {
      j.start_object();
      j.field("after_ms", in.review_bounds_ms[i]);
      j.field("label", core::duration_label(in.review_bounds_ms[i]));
      j.field("count", p.open_reviews_older[i]);
      j.end_object();
    }
    j.end_array();
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

}  // namespace webhook::app::documents
