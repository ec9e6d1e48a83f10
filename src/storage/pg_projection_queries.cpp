// PgProjectionQueries (include/webhook/storage/pg_projection_queries.hpp). The statements are
// those of ProjectionQueries (src/storage/projection_queries.cpp) in PostgreSQL's dialect: $n
// parameters, no INDEXED BY (the planner picks from statistics), COLLATE "C" on text orders,
// explicit NULLS FIRST/LAST where SQLite's NULL order is relied on. Indexes:
// migrations/postgres/0002 and 0003.

#include "webhook/storage/pg_projection_queries.hpp"

#include <algorithm>
#include <utility>

#include "storage/projection_rows.hpp"
#include "webhook/storage/pg_migrate.hpp"

namespace webhook::storage {
namespace {

// migrations/postgres/0003: the projection tables with their history origins.
constexpr int kPgProjectionSchemaVersion = 3;

// ---- payments ---------------------------------------------------------------------------------

#define WEBHOOK_PAYMENT_COLUMNS                                                              \
  "p.source, p.transaction_id, p.status, p.status_at_ms, p.status_event_id, p.external_id, " \
  "p.type, p.total_amount, p.currency, p.customer_id, p.parent_payment_id, "                 \
  "p.related_payment_id, p.settlement_batch_id, p.documentation_status, p.settled_at, "      \
  "p.expired_at, p.unsettled_at, p.unsettled_reason, p.captured_at_ms, p.first_seen_ms, "    \
  "p.last_seen_ms, p.latest_at_ms, "                                                         \
  "coalesce((SELECT h.origin FROM payment_history h WHERE h.source = p.source "              \
  "AND h.transaction_id = p.transaction_id AND h.event_id = p.status_event_id), 'webhook')"

// Without a source: the distinct sources enumerated by index seeks (a skip-scan written as a
// recursive CTE, as on SQLite), the transaction looked up in each by primary key. The LATERAL
// subquery's LIMIT 1 (the key is unique) keeps PostgreSQL from flattening it into a scan of
// every payment filtered on transaction_id, which it chose on 5,000 rows.
constexpr const char* kPaymentAnySource =
    "WITH RECURSIVE s(source) AS ("
    " SELECT min(source) FROM payments"
    " UNION ALL SELECT (SELECT min(n.source) FROM payments n WHERE n.source > s.source) FROM s"
    " WHERE s.source IS NOT NULL) "
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM s CROSS JOIN LATERAL (SELECT * FROM payments p WHERE p.source = s.source"
    "   AND p.transaction_id = $1 LIMIT 1) p"
    " ORDER BY p.source COLLATE \"C\"";

constexpr const char* kPaymentInSource =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p WHERE p.source = $2 AND p.transaction_id = $1";

// payments_parent (source, parent_payment_id).
constexpr const char* kPaymentChildren =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p WHERE p.source = $1 AND p.parent_payment_id = $2"
    " ORDER BY p.first_seen_ms, p.transaction_id COLLATE \"C\"";

// payments_related (source, related_payment_id); sorted in C++ as on SQLite.
constexpr const char* kPaymentRelatedTo =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p WHERE p.source = $1 AND p.related_payment_id = $2";

// payments_awaiting_settlement (source, captured_at_ms) WHERE status IN (...).
constexpr const char* kPaymentsAwaitingSettlement =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p"
    " WHERE p.source = $1 AND p.status IN ('CAPTURED', 'RECEIVED') AND p.captured_at_ms < $2"
    " ORDER BY p.captured_at_ms, p.transaction_id COLLATE \"C\" LIMIT $3";

// payments_seen (source, last_seen_ms).
constexpr const char* kPaymentsOpenSince =
    "SELECT " WEBHOOK_PAYMENT_COLUMNS
    " FROM payments p"
    " WHERE p.source = $1 AND p.last_seen_ms >= $2"
    "   AND p.status NOT IN ('SETTLED', 'FAILED', 'EXPIRED', 'UNSETTLED', 'REFUNDED')"
    " ORDER BY p.last_seen_ms, p.transaction_id COLLATE \"C\" LIMIT $3";

#undef WEBHOOK_PAYMENT_COLUMNS

constexpr const char* kPaymentHistory = R"sql(
SELECT event_id, event_type, status, occurred_at_ms, received_at_ms, effect, origin
FROM payment_history WHERE source = $1 AND transaction_id = $2
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
    " UNION ALL SELECT (SELECT min(n.source) FROM reviews n WHERE n.source > s.source) FROM s"
    " WHERE s.source IS NOT NULL) "
    "SELECT " WEBHOOK_REVIEW_COLUMNS
    " FROM s CROSS JOIN LATERAL (SELECT * FROM reviews r WHERE r.source = s.source"
    "   AND r.transaction_id = $1 LIMIT 1) r"
    " ORDER BY r.source COLLATE \"C\"";

constexpr const char* kReviewInSource =
    "SELECT " WEBHOOK_REVIEW_COLUMNS
    " FROM reviews r WHERE r.source = $2 AND r.transaction_id = $1";

// The list: reviews_by_state (state, opened_at_ms); the other conditions are appended with
// their parameter numbers. SQLite sorts NULL first ascending and last descending.
constexpr const char* kReviewListSelect =
    "SELECT " WEBHOOK_REVIEW_COLUMNS " FROM reviews r WHERE r.state = $1";
constexpr const char* kReviewListOldestFirst =
    " ORDER BY r.opened_at_ms NULLS FIRST, r.source COLLATE \"C\","
    " r.transaction_id COLLATE \"C\" LIMIT $2";
constexpr const char* kReviewListNewestFirst =
    " ORDER BY r.opened_at_ms DESC NULLS LAST, r.source COLLATE \"C\" DESC,"
    " r.transaction_id COLLATE \"C\" DESC LIMIT $2";

#undef WEBHOOK_REVIEW_COLUMNS

constexpr const char* kReviewHistory = R"sql(
SELECT event_id, event_type, action, occurred_at_ms, received_at_ms, origin
FROM review_history WHERE source = $1 AND transaction_id = $2
ORDER BY received_at_ms, event_id
)sql";

// ---- customers --------------------------------------------------------------------------------

#define WEBHOOK_CUSTOMER_COLUMNS                                                               \
  "c.source, c.customer_id, c.client_id, c.operation_level, c.documents_count, c.documented, " \
  "c.auto_created, c.state_at_ms, c.state_event_id, c.first_seen_ms, c.last_seen_ms"

constexpr const char* kCustomerAnySource =
    "WITH RECURSIVE s(source) AS ("
    " SELECT min(source) FROM customers"
    " UNION ALL SELECT (SELECT min(n.source) FROM customers n WHERE n.source > s.source) FROM s"
    " WHERE s.source IS NOT NULL) "
    "SELECT " WEBHOOK_CUSTOMER_COLUMNS
    " FROM s CROSS JOIN LATERAL (SELECT * FROM customers c WHERE c.source = s.source"
    "   AND c.customer_id = $1 LIMIT 1) c"
    " ORDER BY c.source COLLATE \"C\"";

constexpr const char* kCustomerInSource =
    "SELECT " WEBHOOK_CUSTOMER_COLUMNS
    " FROM customers c WHERE c.source = $2 AND c.customer_id = $1";

// customers_seen (source, last_seen_ms).
constexpr const char* kCustomersSeen =
    "SELECT " WEBHOOK_CUSTOMER_COLUMNS
    " FROM customers c"
    " WHERE c.source = $1 AND c.last_seen_ms >= $2 AND c.last_seen_ms < $3"
    " ORDER BY c.last_seen_ms, c.customer_id COLLATE \"C\" LIMIT $4";

#undef WEBHOOK_CUSTOMER_COLUMNS

constexpr const char* kCustomerHistory = R"sql(
SELECT event_id, event_type, operation_level, documents_count, occurred_at_ms, received_at_ms,
       effect, origin
FROM customer_history WHERE source = $1 AND customer_id = $2
ORDER BY received_at_ms, event_id
)sql";

// ---- compare ----------------------------------------------------------------------------------

// One range of events_received_at.
constexpr const char* kCompareEvents = R"sql(
SELECT source, event_type, status, attempts, updated_at_ms - received_at_ms
FROM events
WHERE received_at_ms >= $1 AND received_at_ms < $2 AND source IN ($3, $4)
)sql";

// Pairs (a, b) sharing an externalId where either side was seen in [$3, $4), as on SQLite:
// candidates from payments_seen, each side a look-up in payments_external.
#define WEBHOOK_SHARED_PAIRS                                                         \
  " FROM (SELECT external_id FROM payments WHERE source = $1 AND last_seen_ms >= $3" \
  "         AND first_seen_ms < $4 AND external_id IS NOT NULL"                      \
  "       UNION"                                                                     \
  "       SELECT external_id FROM payments WHERE source = $2 AND last_seen_ms >= $3" \
  "         AND first_seen_ms < $4 AND external_id IS NOT NULL) AS ids"              \
  " JOIN payments a ON a.external_id = ids.external_id AND a.source = $1"            \
  " JOIN payments b ON b.external_id = ids.external_id AND b.source = $2"            \
  " WHERE ((a.first_seen_ms < $4 AND a.last_seen_ms >= $3)"                          \
  " OR (b.first_seen_ms < $4 AND b.last_seen_ms >= $3))"

constexpr const char* kCompareCounts =
    "SELECT count(DISTINCT a.external_id),"
    " count(DISTINCT CASE WHEN a.status <> b.status THEN a.external_id END),"
    " coalesce(sum(CASE WHEN a.status <> b.status THEN 1 ELSE 0 END), 0)" WEBHOOK_SHARED_PAIRS;

constexpr const char* kCompareDifferences =
    "SELECT a.external_id, a.transaction_id, a.status, b.transaction_id, "
    "b.status" WEBHOOK_SHARED_PAIRS
    " AND a.status <> b.status"
    " ORDER BY a.external_id COLLATE \"C\", a.transaction_id COLLATE \"C\","
    " b.transaction_id COLLATE \"C\" LIMIT $5";

#undef WEBHOOK_SHARED_PAIRS

// ---- reading rows -----------------------------------------------------------------------------

std::optional<std::int64_t> optional_int(const PgResult& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return r.integer(row, col);
}

// A LIMIT value: a negative one means no limit, as SQLite reads LIMIT -1.
PgParam limit_param(std::int64_t limit) {
  return limit < 0 ? PgParam::null() : PgParam::integer(limit);
}

std::string text(const PgResult& r, int row, int col) { return std::string(r.text(row, col)); }

// One row of a PgResult with the column accessors of Statement::Use (projection_rows.hpp).
struct PgRow {
  const PgResult& r;
  int i;
  std::string column_bytes(int col) const { return text(r, i, col); }
  std::int64_t column_int(int col) const { return r.integer(i, col); }
  std::optional<std::int64_t> column_optional_int(int col) const { return optional_int(r, i, col); }
};

PaymentRow read_payment(const PgResult& r, int i) { return projection_rows::payment(PgRow{r, i}); }
ReviewRow read_review(const PgResult& r, int i) { return projection_rows::review(PgRow{r, i}); }
CustomerRow read_customer(const PgResult& r, int i) {
  return projection_rows::customer(PgRow{r, i});
}

template <typename Row, typename Read>
std::vector<Row> all_rows(const PgResult& r, Read read) {
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) rows.push_back(read(r, i));
  return rows;
}

// The rows for an id, in every source ($1 = id) or in one ($2 = source).
template <typename Row, typename Read>
std::vector<Row> rows_by_id(PgConnection& db, const char* any_source, const char* in_source,
                            const std::string& id, const std::optional<std::string>& source,
                            Read read) {
  const PgResult r = source ? db.query(in_source, {PgParam::text(id), PgParam::text(*source)})
                            : db.query(any_source, {PgParam::text(id)});
  return all_rows<Row>(r, read);
}

std::vector<PaymentRow> linked_payments(PgConnection& db, const char* sql,
                                        const std::string& source, const std::string& id) {
  return all_rows<PaymentRow>(db.query(sql, {PgParam::text(source), PgParam::text(id)}),
                              read_payment);
}

std::vector<PaymentRow> payments_of_source(PgConnection& db, const char* sql,
                                           const std::string& source, std::int64_t bound_ms,
                                           std::int64_t limit) {
  return all_rows<PaymentRow>(
      db.query(sql, {PgParam::text(source), PgParam::integer(bound_ms), limit_param(limit)}),
      read_payment);
}

}  // namespace

PgProjectionQueries::PgProjectionQueries(PgConnection& db) : db_(db) {
  const int version = pg_schema_version(db_);
  if (version < kPgProjectionSchemaVersion) {
    throw StorageError(db_.describe() + " has no projection tables of this version (schema " +
                           "version " + std::to_string(version) + "): run webhook-receiver migrate",
                       0);
  }
}

std::optional<PaymentRow> PgProjectionQueries::one_payment(const std::string& source,
                                                           const std::string& id) {
  std::vector<PaymentRow> rows =
      rows_by_id<PaymentRow>(db_, kPaymentAnySource, kPaymentInSource, id, source, read_payment);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::vector<PaymentView> PgProjectionQueries::payment(const std::string& transaction_id,
                                                      const std::optional<std::string>& source) {
  std::vector<PaymentView> views;
  for (PaymentRow& row : rows_by_id<PaymentRow>(db_, kPaymentAnySource, kPaymentInSource,
                                                transaction_id, source, read_payment)) {
    PaymentView v;
    v.payment = std::move(row);
    const PaymentRow& p = v.payment;
    const PgResult h =
        db_.query(kPaymentHistory, {PgParam::text(p.source), PgParam::text(p.transaction_id)});
    for (int i = 0; i < h.rows(); ++i) {
      v.history.push_back({h.integer(i, 0), text(h, i, 1), text(h, i, 2), optional_int(h, i, 3),
                           h.integer(i, 4), text(h, i, 5), text(h, i, 6)});
    }
    if (!p.parent_payment_id.empty()) v.parent = one_payment(p.source, p.parent_payment_id);
    v.children = linked_payments(db_, kPaymentChildren, p.source, p.transaction_id);
    v.companions = linked_payments(db_, kPaymentRelatedTo, p.source, p.transaction_id);
    finish_companions(
        v, [this](const std::string& s, const std::string& id) { return one_payment(s, id); });
    views.push_back(std::move(v));
  }
  return views;
}

std::vector<ReviewRow> PgProjectionQueries::reviews(const ReviewFilter& filter) {
  return reviews_in_order(filter, [&](const char* state, bool oldest_first, std::int64_t room) {
    std::string sql = kReviewListSelect;
    std::vector<PgParam> params{PgParam::text(state), PgParam::integer(room)};
    if (filter.opened_before_ms) {
      params.push_back(PgParam::integer(*filter.opened_before_ms));
      sql += " AND r.opened_at_ms < $" + std::to_string(params.size());
    }
    if (filter.source) {
      params.push_back(PgParam::text(*filter.source));
      sql += " AND r.source = $" + std::to_string(params.size());
    }
    sql += oldest_first ? kReviewListOldestFirst : kReviewListNewestFirst;
    return all_rows<ReviewRow>(db_.query(sql, params), read_review);
  });
}

std::vector<ReviewView> PgProjectionQueries::review(const std::string& transaction_id,
                                                    const std::optional<std::string>& source) {
  std::vector<ReviewView> views;
  for (ReviewRow& row : rows_by_id<ReviewRow>(db_, kReviewAnySource, kReviewInSource,
                                              transaction_id, source, read_review)) {
    ReviewView v;
    v.review = std::move(row);
    const PgResult h = db_.query(
        kReviewHistory, {PgParam::text(v.review.source), PgParam::text(v.review.transaction_id)});
    for (int i = 0; i < h.rows(); ++i) {
      v.history.push_back({h.integer(i, 0), text(h, i, 1), text(h, i, 2), optional_int(h, i, 3),
                           h.integer(i, 4), text(h, i, 5)});
    }
    views.push_back(std::move(v));
  }
  return views;
}

std::vector<CustomerView> PgProjectionQueries::customer(const std::string& customer_id,
                                                        const std::optional<std::string>& source) {
  std::vector<CustomerView> views;
  for (CustomerRow& row : rows_by_id<CustomerRow>(db_, kCustomerAnySource, kCustomerInSource,
                                                  customer_id, source, read_customer)) {
    CustomerView v;
    v.customer = std::move(row);
    const PgResult h = db_.query(kCustomerHistory, {PgParam::text(v.customer.source),
                                                    PgParam::text(v.customer.customer_id)});
    for (int i = 0; i < h.rows(); ++i) {
      v.history.push_back({h.integer(i, 0), text(h, i, 1), text(h, i, 2), optional_int(h, i, 3),
                           optional_int(h, i, 4), h.integer(i, 5), text(h, i, 6), text(h, i, 7)});
    }
    views.push_back(std::move(v));
  }
  return views;
}

std::vector<PaymentRow> PgProjectionQueries::payments_awaiting_settlement(
    const std::string& source, std::int64_t captured_before_ms, std::int64_t limit) {
  return payments_of_source(db_, kPaymentsAwaitingSettlement, source, captured_before_ms, limit);
}

std::vector<PaymentRow> PgProjectionQueries::payments_open_since(const std::string& source,
                                                                 std::int64_t since_ms,
                                                                 std::int64_t limit) {
  return payments_of_source(db_, kPaymentsOpenSince, source, since_ms, limit);
}

std::vector<CustomerRow> PgProjectionQueries::customers_seen(const std::string& source,
                                                             std::int64_t since_ms,
                                                             std::int64_t before_ms,
                                                             std::int64_t limit) {
  return all_rows<CustomerRow>(
      db_.query(kCustomersSeen, {PgParam::text(source), PgParam::integer(since_ms),
                                 PgParam::integer(before_ms), limit_param(limit)}),
      read_customer);
}

Comparison PgProjectionQueries::compare(const std::string& a, const std::string& b,
                                        std::int64_t since_ms, std::int64_t until_ms,
                                        std::int64_t difference_limit) {
  // One snapshot for the events and the payments.
  PgTransaction read(db_);
  db_.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  Comparison result;

  CompareEventTally tally;
  {
    const PgResult r =
        db_.query(kCompareEvents, {PgParam::integer(since_ms), PgParam::integer(until_ms),
                                   PgParam::text(a), PgParam::text(b)});
    for (int i = 0; i < r.rows(); ++i) {
      tally.add(r.text(i, 0) == a ? 0 : 1, text(r, i, 1), r.text(i, 2), r.integer(i, 3),
                r.integer(i, 4));
    }
  }
  tally.finish(result);

  std::vector<PgParam> pairs{PgParam::text(a), PgParam::text(b), PgParam::integer(since_ms),
                             PgParam::integer(until_ms)};
  {
    const PgResult r = db_.query(kCompareCounts, pairs);
    if (r.rows() > 0) {
      result.shared_external_ids = r.integer(0, 0);
      result.agreeing_external_ids = result.shared_external_ids - r.integer(0, 1);
      result.differing_pairs = r.integer(0, 2);
    }
  }
  if (difference_limit > 0) {
    pairs.push_back(PgParam::integer(difference_limit));
    const PgResult r = db_.query(kCompareDifferences, pairs);
    for (int i = 0; i < r.rows(); ++i) {
      result.differences.push_back(
          {text(r, i, 0), text(r, i, 1), text(r, i, 2), text(r, i, 3), text(r, i, 4)});
    }
  }
  read.commit();
  return result;
}

}  // namespace webhook::storage
