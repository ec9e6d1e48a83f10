// ProjectionQueries (include/webhook/storage/projection_queries.hpp). Every query is a named
// constant below with the index it walks; the plans were checked with EXPLAIN QUERY PLAN.

#include "webhook/storage/projection_queries.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "storage/projection_rows.hpp"
#include "webhook/storage/statement.hpp"

namespace webhook::storage {
namespace {

// The tables of migrations/0003_projections.sql, and the index that migrations/0005 (which also
// adds the history origins) creates with them.
constexpr const char* kCountProjectionTables = R"sql(
SELECT count(*) FROM sqlite_master WHERE (type = 'table' AND name IN
  ('payments', 'payment_history', 'reviews', 'review_history', 'customers', 'customer_history'))
  OR (type = 'index' AND name = 'customers_seen')
)sql";
constexpr std::int64_t kProjectionTables = 7;

// ---- payments ---------------------------------------------------------------------------------

#define WEBHOOK_PAYMENT_COLUMNS                                                              \
  "p.source, p.transaction_id, p.status, p.status_at_ms, p.status_event_id, p.external_id, " \
  "p.type, p.total_amount, p.currency, p.customer_id, p.parent_payment_id, "                 \
  "p.related_payment_id, p.settlement_batch_id, p.documentation_status, p.settled_at, "      \
  "p.expired_at, p.unsettled_at, p.unsettled_reason, p.captured_at_ms, p.first_seen_ms, "    \
  "p.last_seen_ms, p.latest_at_ms, "                                                         \
  "coalesce((SELECT h.origin FROM payment_history h WHERE h.source = p.source "              \
  "AND h.transaction_id = p.transaction_id AND h.event_id = p.status_event_id), 'webhook')"

// Without a source: the sources are enumerated by seeks on the primary key (source,
// transaction_id), one per distinct source (SQLite has no skip-scan without ANALYZE), and the
// transaction looked up in each.
constexpr const char* kPaymentAnySource =
    "WITH RECURSIVE s(source) AS ("
    " SELECT min(source) FROM payments"
    " UNION ALL SELECT (SELECT min(source) FROM payments WHERE source > s.source) FROM s"
    " WHERE s.source IS NOT NULL) "
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM s JOIN payments p ON p.source = s.source AND p.transaction_id = ?1"
    " ORDER BY p.source";

// Primary key.
constexpr const char* kPaymentInSource =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p WHERE p.source = ?2 AND p.transaction_id = ?1";

// Index payments_parent (source, parent_payment_id), named: without ANALYZE statistics the
// planner may prefer walking the source's primary-key range.
constexpr const char* kPaymentChildren =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p INDEXED BY payments_parent WHERE p.source = ?1 AND p.parent_payment_id = ?2"
    " ORDER BY p.first_seen_ms, p.transaction_id";

// Index payments_related (source, related_payment_id), named as above. No ORDER BY: sorting by
// transaction_id here made SQLite walk every payment of the source in primary-key order instead
// (sorted in C++).
constexpr const char* kPaymentRelatedTo = "SELECT " WEBHOOK_PAYMENT_COLUMNS
                                          " FROM payments p INDEXED BY payments_related"
                                          " WHERE p.source = ?1 AND p.related_payment_id = ?2";

// Reconciliation: payments awaiting settlement captured before ?2, oldest first; index
// payments_awaiting_settlement (source, captured_at_ms) WHERE status IN ('CAPTURED', 'RECEIVED').
constexpr const char* kPaymentsAwaitingSettlement =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p INDEXED BY payments_awaiting_settlement"
    " WHERE p.source = ?1 AND p.status IN ('CAPTURED', 'RECEIVED') AND p.captured_at_ms < ?2"
    " ORDER BY p.captured_at_ms, p.transaction_id LIMIT ?3";

// Reconciliation with --since: payments not in a terminal status seen at or after ?2, oldest
// seen first; index payments_seen (source, last_seen_ms).
constexpr const char* kPaymentsOpenSince =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p INDEXED BY payments_seen"
    " WHERE p.source = ?1 AND p.last_seen_ms >= ?2"
    "   AND p.status NOT IN ('SETTLED', 'FAILED', 'EXPIRED', 'UNSETTLED', 'REFUNDED')"
    " ORDER BY p.last_seen_ms, p.transaction_id LIMIT ?3";

#undef WEBHOOK_PAYMENT_COLUMNS

// Primary key (source, transaction_id, event_id); the few rows are sorted.
constexpr const char* kPaymentHistory = R"sql(
SELECT event_id, event_type, status, occurred_at_ms, received_at_ms, effect, origin
FROM payment_history WHERE source = ?1 AND transaction_id = ?2
ORDER BY received_at_ms, event_id
)sql";

// ---- reviews ----------------------------------------------------------------------------------

#define WEBHOOK_REVIEW_COLUMNS                                                                   \
  "r.source, r.transaction_id, r.state, r.outcome, r.cycle, r.external_id, r.total_amount, "     \
  "r.currency, r.customer_id, r.documentation_status, r.opened_event_id, r.opened_at_ms, "       \
  "r.opened_received_ms, r.closed_event_id, r.closed_at_ms, r.notify_state, r.notify_event_id, " \
  "r.notified_at_ms, r.updated_at_ms"

constexpr const char* kReviewAnySource =
    "WITH RECURSIVE s(source) AS ("
    " SELECT min(source) FROM reviews"
    " UNION ALL SELECT (SELECT min(source) FROM reviews WHERE source > s.source) FROM s"
    " WHERE s.source IS NOT NULL) "
    "SELECT " WEBHOOK_REVIEW_COLUMNS
    " FROM s JOIN reviews r ON r.source = s.source AND r.transaction_id = ?1"
    " ORDER BY r.source";

constexpr const char* kReviewInSource =
    "SELECT " WEBHOOK_REVIEW_COLUMNS
    " FROM reviews r WHERE r.source = ?2 AND r.transaction_id = ?1";

// The list: index reviews_by_state (state, opened_at_ms), walked in order and stopped at the
// limit; the source is checked on each row. Built from these fragments (?1 state, ?2 limit,
// ?3 opened before, ?4 source; unused numbers are simply not in the text).
constexpr const char* kReviewListSelect =
    "SELECT " WEBHOOK_REVIEW_COLUMNS " FROM reviews r WHERE r.state = ?1";
constexpr const char* kReviewListOpenedBefore = " AND r.opened_at_ms < ?3";
constexpr const char* kReviewListSource = " AND r.source = ?4";
constexpr const char* kReviewListOldestFirst = " ORDER BY r.opened_at_ms, r.rowid LIMIT ?2";
constexpr const char* kReviewListNewestFirst =
    " ORDER BY r.opened_at_ms DESC, r.rowid DESC LIMIT ?2";

#undef WEBHOOK_REVIEW_COLUMNS

constexpr const char* kReviewHistory = R"sql(
SELECT event_id, event_type, action, occurred_at_ms, received_at_ms, origin
FROM review_history WHERE source = ?1 AND transaction_id = ?2
ORDER BY received_at_ms, event_id
)sql";

// ---- customers --------------------------------------------------------------------------------

#define WEBHOOK_CUSTOMER_COLUMNS                                                               \
  "c.source, c.customer_id, c.client_id, c.operation_level, c.documents_count, c.documented, " \
  "c.auto_created, c.state_at_ms, c.state_event_id, c.first_seen_ms, c.last_seen_ms"

constexpr const char* kCustomerAnySource =
    "WITH RECURSIVE s(source) AS ("
    " SELECT min(source) FROM customers"
    " UNION ALL SELECT (SELECT min(source) FROM customers WHERE source > s.source) FROM s"
    " WHERE s.source IS NOT NULL) "
    "SELECT " WEBHOOK_CUSTOMER_COLUMNS
    " FROM s JOIN customers c ON c.source = s.source AND c.customer_id = ?1"
    " ORDER BY c.source";

constexpr const char* kCustomerInSource = "SELECT " WEBHOOK_CUSTOMER_COLUMNS
                                          " FROM customers c WHERE c.source = ?2 AND "
                                          "c.customer_id = ?1";

// Reconciliation: customers of a source last seen in [?2, ?3), oldest first; index
// customers_seen (source, last_seen_ms).
constexpr const char* kCustomersSeen =
    "SELECT " WEBHOOK_CUSTOMER_COLUMNS
    " FROM customers c INDEXED BY customers_seen"
    " WHERE c.source = ?1 AND c.last_seen_ms >= ?2 AND c.last_seen_ms < ?3"
    " ORDER BY c.last_seen_ms, c.customer_id LIMIT ?4";

#undef WEBHOOK_CUSTOMER_COLUMNS

constexpr const char* kCustomerHistory = R"sql(
SELECT event_id, event_type, operation_level, documents_count, occurred_at_ms, received_at_ms,
       effect, origin
FROM customer_history WHERE source = ?1 AND customer_id = ?2
ORDER BY received_at_ms, event_id
)sql";

// ---- compare ----------------------------------------------------------------------------------

// One range of index events_received_at. The unary + keeps SQLite from preferring
// events_entity (source, ...) for the IN, which would read every event the two sources ever
// had instead of the window.
constexpr const char* kCompareEvents = R"sql(
SELECT source, event_type, status, attempts, updated_at_ms - received_at_ms
FROM events
WHERE received_at_ms >= ?1 AND received_at_ms < ?2 AND +source IN (?3, ?4)
)sql";

// Pairs (a, b) sharing an externalId where either side was seen in [?3, ?4). The candidates are
// the externalIds of the payments of either source seen in the window (index payments_seen,
// migrations/0004), so the cost follows the window, not every payment of source a; each side is
// then a look-up in payments_external (external_id, source).
#define WEBHOOK_SHARED_PAIRS                                                         \
  " FROM (SELECT external_id FROM payments WHERE source = ?1 AND last_seen_ms >= ?3" \
  "         AND first_seen_ms < ?4 AND external_id IS NOT NULL"                      \
  "       UNION"                                                                     \
  "       SELECT external_id FROM payments WHERE source = ?2 AND last_seen_ms >= ?3" \
  "         AND first_seen_ms < ?4 AND external_id IS NOT NULL) AS ids"              \
  " JOIN payments a ON a.external_id = ids.external_id AND a.source = ?1"            \
  " JOIN payments b ON b.external_id = ids.external_id AND b.source = ?2"            \
  " WHERE ((a.first_seen_ms < ?4 AND a.last_seen_ms >= ?3)"                          \
  " OR (b.first_seen_ms < ?4 AND b.last_seen_ms >= ?3))"

constexpr const char* kCompareCounts =
    "SELECT count(DISTINCT a.external_id),"
    " count(DISTINCT CASE WHEN a.status <> b.status THEN a.external_id END),"
    " coalesce(sum(a.status <> b.status), 0)" WEBHOOK_SHARED_PAIRS;

constexpr const char* kCompareDifferences =
    "SELECT a.external_id, a.transaction_id, a.status, b.transaction_id, "
    "b.status" WEBHOOK_SHARED_PAIRS
    " AND a.status <> b.status"
    " ORDER BY a.external_id, a.transaction_id, b.transaction_id LIMIT ?5";

#undef WEBHOOK_SHARED_PAIRS

// ---- reading rows -----------------------------------------------------------------------------

PaymentRow read_payment(const Statement::Use& q) { return projection_rows::payment(q); }
ReviewRow read_review(const Statement::Use& q) { return projection_rows::review(q); }
CustomerRow read_customer(const Statement::Use& q) { return projection_rows::customer(q); }

// The rows of `sql` for an id, in every source (?1 = id) or in one (?2 = source).
template <typename Row, typename Read>
std::vector<Row> rows_by_id(Database& db, const char* any_source, const char* in_source,
                            const std::string& id, const std::optional<std::string>& source,
                            Read read) {
  Statement statement(db, source ? in_source : any_source);
  Statement::Use q(statement);
  q.text(1, id);
  if (source) q.text(2, *source);
  std::vector<Row> rows;
  while (q.step()) rows.push_back(read(q));
  return rows;
}

// Payment rows of one source linked by `sql` (?1 source, ?2 id).
std::vector<PaymentRow> linked_payments(Database& db, const char* sql, const std::string& source,
                                        const std::string& id) {
  Statement statement(db, sql);
  Statement::Use q(statement);
  q.text(1, source);
  q.text(2, id);
  std::vector<PaymentRow> rows;
  while (q.step()) rows.push_back(read_payment(q));
  return rows;
}

// Payment rows of one source chosen by `sql` (?1 source, ?2 a time bound, ?3 limit).
std::vector<PaymentRow> payments_of_source(Database& db, const char* sql, const std::string& source,
                                           std::int64_t bound_ms, std::int64_t limit) {
  Statement statement(db, sql);
  Statement::Use q(statement);
  q.text(1, source);
  q.integer(2, bound_ms);
  q.integer(3, limit);
  std::vector<PaymentRow> rows;
  while (q.step()) rows.push_back(read_payment(q));
  return rows;
}

std::optional<PaymentRow> one_payment(Database& db, const std::string& source,
                                      const std::string& id) {
  std::vector<PaymentRow> rows =
      rows_by_id<PaymentRow>(db, kPaymentAnySource, kPaymentInSource, id, source, read_payment);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

}  // namespace

std::optional<std::int64_t> nearest_rank_percentile(std::vector<std::int64_t>& values, int p) {
  if (values.empty()) return std::nullopt;
  const std::size_t n = values.size();
  const auto pct = static_cast<std::size_t>(std::clamp(p, 1, 100));
  const std::size_t rank = std::max<std::size_t>(1, (pct * n + 99) / 100);  // ceil(p/100 * n)
  const auto nth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
  std::nth_element(values.begin(), nth, values.end());
  return *nth;
}

void CompareEventTally::Tally::add(std::string_view status, std::int64_t attempts,
                                   std::int64_t latency_ms) {
  ++stats.received;
  if (attempts > 1) ++stats.retried;
  if (status == "done" || status == "unhandled") {
    ++(status == "done" ? stats.done : stats.unhandled);
    latencies_ms.push_back(latency_ms);
  } else if (status == "dead") {
    ++stats.dead;
  } else if (status == "quarantined") {
    ++stats.quarantined;
  } else {
    ++stats.pending;  // pending or processing (the CHECK constraint allows nothing else)
  }
}

SourceEventStats CompareEventTally::Tally::finish() {
  stats.p50_ms = nearest_rank_percentile(latencies_ms, 50);
  stats.p95_ms = nearest_rank_percentile(latencies_ms, 95);
  stats.max_ms = nearest_rank_percentile(latencies_ms, 100);
  return stats;
}

void CompareEventTally::add(std::size_t side, const std::string& event_type,
                            std::string_view status, std::int64_t attempts,
                            std::int64_t latency_ms) {
  by_type_[event_type][side].add(status, attempts, latency_ms);
  totals_[side].add(status, attempts, latency_ms);
}

void CompareEventTally::finish(Comparison& result) {
  for (auto& [type, tallies] : by_type_) {
    result.by_type.push_back({type, tallies[0].finish(), tallies[1].finish()});
  }
  result.total_a = totals_[0].finish();
  result.total_b = totals_[1].finish();
}

ProjectionQueries::ProjectionQueries(Database& db) : db_(db) {
  std::int64_t tables = 0;
  {
    Statement statement(db_, kCountProjectionTables);
    Statement::Use q(statement);
    if (q.step()) tables = q.column_int(0);
  }
  if (tables != kProjectionTables) {
    throw StorageError("sqlite database " + db_.path() + " has no projection tables of this " +
                           "version (schema version " + std::to_string(db_.schema_version()) +
                           "): run webhook-receiver migrate",
                       0);
  }
}

std::vector<PaymentView> ProjectionQueries::payment(const std::string& transaction_id,
                                                    const std::optional<std::string>& source) {
  std::vector<PaymentView> views;
  for (PaymentRow& row : rows_by_id<PaymentRow>(db_, kPaymentAnySource, kPaymentInSource,
                                                transaction_id, source, read_payment)) {
    PaymentView v;
    v.payment = std::move(row);
    const PaymentRow& p = v.payment;
    {
      Statement statement(db_, kPaymentHistory);
      Statement::Use q(statement);
      q.text(1, p.source);
      q.text(2, p.transaction_id);
      while (q.step()) {
        v.history.push_back({q.column_int(0), q.column_bytes(1), q.column_bytes(2),
                             q.column_optional_int(3), q.column_int(4), q.column_bytes(5),
                             q.column_bytes(6)});
      }
    }
    if (!p.parent_payment_id.empty()) v.parent = one_payment(db_, p.source, p.parent_payment_id);
    v.children = linked_payments(db_, kPaymentChildren, p.source, p.transaction_id);
    v.companions = linked_payments(db_, kPaymentRelatedTo, p.source, p.transaction_id);
    finish_companions(
        v, [this](const std::string& s, const std::string& id) { return one_payment(db_, s, id); });
    views.push_back(std::move(v));
  }
  return views;
}

void ProjectionReader::finish_companions(PaymentView& v, const FindPayment& find) {
  const PaymentRow& p = v.payment;
  if (!p.related_payment_id.empty() && p.related_payment_id != p.transaction_id) {
    const bool listed = std::any_of(v.companions.begin(), v.companions.end(), [&](const auto& c) {
      return c.transaction_id == p.related_payment_id;
    });
    if (!listed) {
      if (auto related = find(p.source, p.related_payment_id)) {
        v.companions.push_back(std::move(*related));
      }
    }
  }
  std::sort(v.companions.begin(), v.companions.end(), [](const PaymentRow& x, const PaymentRow& y) {
    return x.transaction_id < y.transaction_id;
  });
}

std::vector<ReviewRow> ProjectionReader::reviews_in_order(const ReviewFilter& filter,
                                                          const FetchReviews& fetch) {
  std::vector<ReviewRow> rows;
  for (const bool open : {true, false}) {
    if (filter.state == (open ? ReviewFilter::State::closed : ReviewFilter::State::open)) continue;
    const std::int64_t room = filter.limit - static_cast<std::int64_t>(rows.size());
    if (room <= 0) break;
    for (ReviewRow& r : fetch(open ? "open" : "closed", open, room)) rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<ReviewRow> ProjectionQueries::reviews(const ReviewFilter& filter) {
  // One walk of the index per state.
  return reviews_in_order(filter, [&](const char* state, bool oldest_first, std::int64_t room) {
    std::string sql = kReviewListSelect;
    if (filter.opened_before_ms) sql += kReviewListOpenedBefore;
    if (filter.source) sql += kReviewListSource;
    sql += oldest_first ? kReviewListOldestFirst : kReviewListNewestFirst;
    Statement statement(db_, sql);
    Statement::Use q(statement);
    q.text(1, state);
    q.integer(2, room);
    if (filter.opened_before_ms) q.integer(3, *filter.opened_before_ms);
    if (filter.source) q.text(4, *filter.source);
    std::vector<ReviewRow> rows;
    while (q.step()) rows.push_back(read_review(q));
    return rows;
  });
}

std::vector<ReviewView> ProjectionQueries::review(const std::string& transaction_id,
                                                  const std::optional<std::string>& source) {
  std::vector<ReviewView> views;
  for (ReviewRow& row : rows_by_id<ReviewRow>(db_, kReviewAnySource, kReviewInSource,
                                              transaction_id, source, read_review)) {
    ReviewView v;
    v.review = std::move(row);
    Statement statement(db_, kReviewHistory);
    Statement::Use q(statement);
    q.text(1, v.review.source);
    q.text(2, v.review.transaction_id);
    while (q.step()) {
      v.history.push_back({q.column_int(0), q.column_bytes(1), q.column_bytes(2),
                           q.column_optional_int(3), q.column_int(4), q.column_bytes(5)});
    }
    views.push_back(std::move(v));
  }
  return views;
}

std::vector<CustomerView> ProjectionQueries::customer(const std::string& customer_id,
                                                      const std::optional<std::string>& source) {
  std::vector<CustomerView> views;
  for (CustomerRow& row : rows_by_id<CustomerRow>(db_, kCustomerAnySource, kCustomerInSource,
                                                  customer_id, source, read_customer)) {
    CustomerView v;
    v.customer = std::move(row);
    Statement statement(db_, kCustomerHistory);
    Statement::Use q(statement);
    q.text(1, v.customer.source);
    q.text(2, v.customer.customer_id);
    while (q.step()) {
      v.history.push_back({q.column_int(0), q.column_bytes(1), q.column_bytes(2),
                           q.column_optional_int(3), q.column_optional_int(4), q.column_int(5),
                           q.column_bytes(6), q.column_bytes(7)});
    }
    views.push_back(std::move(v));
  }
  return views;
}

std::vector<PaymentRow> ProjectionQueries::payments_awaiting_settlement(
    const std::string& source, std::int64_t captured_before_ms, std::int64_t limit) {
  return payments_of_source(db_, kPaymentsAwaitingSettlement, source, captured_before_ms, limit);
}

std::vector<PaymentRow> ProjectionQueries::payments_open_since(const std::string& source,
                                                               std::int64_t since_ms,
                                                               std::int64_t limit) {
  return payments_of_source(db_, kPaymentsOpenSince, source, since_ms, limit);
}

std::vector<CustomerRow> ProjectionQueries::customers_seen(const std::string& source,
                                                           std::int64_t since_ms,
                                                           std::int64_t before_ms,
                                                           std::int64_t limit) {
  Statement statement(db_, kCustomersSeen);
  Statement::Use q(statement);
  q.text(1, source);
  q.integer(2, since_ms);
  q.integer(3, before_ms);
  q.integer(4, limit);
  std::vector<CustomerRow> rows;
  while (q.step()) rows.push_back(read_customer(q));
  return rows;
}

Comparison ProjectionQueries::compare(const std::string& a, const std::string& b,
                                      std::int64_t since_ms, std::int64_t until_ms,
                                      std::int64_t difference_limit) {
  // One consistent read of both: the events, then the payments.
  Transaction read(db_, Transaction::Kind::deferred);
  Comparison result;

  CompareEventTally tally;
  {
    Statement statement(db_, kCompareEvents);
    Statement::Use q(statement);
    q.integer(1, since_ms);
    q.integer(2, until_ms);
    q.text(3, a);
    q.text(4, b);
    while (q.step()) {
      const std::string source = q.column_bytes(0);
      tally.add(source == a ? 0 : 1, q.column_bytes(1), q.column_bytes(2), q.column_int(3),
                q.column_int(4));
    }
  }
  tally.finish(result);

  const auto bind_pairs = [&](Statement::Use& q) {
    q.text(1, a);
    q.text(2, b);
    q.integer(3, since_ms);
    q.integer(4, until_ms);
  };
  {
    Statement statement(db_, kCompareCounts);
    Statement::Use q(statement);
    bind_pairs(q);
    if (q.step()) {
      result.shared_external_ids = q.column_int(0);
      result.agreeing_external_ids = result.shared_external_ids - q.column_int(1);
      result.differing_pairs = q.column_int(2);
    }
  }
  if (difference_limit > 0) {
    Statement statement(db_, kCompareDifferences);
    Statement::Use q(statement);
    bind_pairs(q);
    q.integer(5, difference_limit);
    while (q.step()) {
      result.differences.push_back({q.column_bytes(0), q.column_bytes(1), q.column_bytes(2),
                                    q.column_bytes(3), q.column_bytes(4)});
    }
  }
  read.commit();
  return result;
}

}  // namespace webhook::storage
