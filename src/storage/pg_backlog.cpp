// The backlog and projection samples of include/webhook/storage/backlog.hpp on PostgreSQL: the
// SQLite queries in PostgreSQL's dialect, assembled by the same code (backlog_rows.hpp).

#include <string>
#include <vector>

#include "storage/backlog_rows.hpp"
#include "webhook/storage/backlog.hpp"
#include "webhook/storage/pg_connection.hpp"

namespace webhook::storage {
namespace {

// Text ordered byte-wise (COLLATE "C"), as SQLite orders it, whatever the database's collation.
constexpr const char* kSourceBacklog =
    "SELECT source, status, count(*), min(received_at_ms) FROM events "
    "WHERE status IN ('pending', 'processing', 'dead') GROUP BY source, status "
    "ORDER BY source COLLATE \"C\"";

constexpr const char* kOpenReviews =
    "SELECT source, count(*), min(opened_at_ms) FROM reviews WHERE state = 'open' GROUP BY source";

constexpr const char* kOpenReviewsBefore =
    "SELECT source, count(*) FROM reviews WHERE state = 'open' AND opened_at_ms < $1 "
    "GROUP BY source";

constexpr const char* kAwaitingSettlement =
    "SELECT source, count(*), min(captured_at_ms), count(*) FILTER (WHERE captured_at_ms < $1) "
    "FROM payments WHERE status IN ('CAPTURED', 'RECEIVED') GROUP BY source";

std::int64_t int_or_zero(const PgResult& r, int row, int column) {
  return r.is_null(row, column) ? 0 : r.integer(row, column);
}

}  // namespace

std::vector<SourceBacklog> sample_source_backlog(PgConnection& db) {
  const PgResult r = db.query(kSourceBacklog);
  std::vector<backlog_rows::SourceStatus> rows;
  for (int i = 0; i < r.rows(); ++i) {
    rows.push_back({std::string(r.text(i, 0)), std::string(r.text(i, 1)), r.integer(i, 2),
                    int_or_zero(r, i, 3)});
  }
  return backlog_rows::source_backlog(std::move(rows));
}

std::vector<ProjectionSample> sample_projections(PgConnection& db, std::int64_t now_ms,
                                                 const std::vector<std::int64_t>& review_bounds_ms,
                                                 std::int64_t overdue_ms) {
  std::vector<backlog_rows::OpenReviews> open;
  {
    const PgResult r = db.query(kOpenReviews);
    for (int i = 0; i < r.rows(); ++i) {
      open.push_back({std::string(r.text(i, 0)), r.integer(i, 1), int_or_zero(r, i, 2)});
    }
  }
  std::vector<std::vector<backlog_rows::OlderReviews>> older(review_bounds_ms.size());
  for (std::size_t b = 0; b < review_bounds_ms.size(); ++b) {
    const PgResult r =
        db.query(kOpenReviewsBefore, {PgParam::integer(now_ms - review_bounds_ms[b])});
    for (int i = 0; i < r.rows(); ++i)
      older[b].push_back({std::string(r.text(i, 0)), r.integer(i, 1)});
  }
  std::vector<backlog_rows::Awaiting> awaiting;
  {
    const PgResult r = db.query(kAwaitingSettlement, {PgParam::integer(now_ms - overdue_ms)});
    for (int i = 0; i < r.rows(); ++i) {
      awaiting.push_back(
          {std::string(r.text(i, 0)), r.integer(i, 1), int_or_zero(r, i, 2), r.integer(i, 3)});
    }
  }
  return backlog_rows::projections(open, older, awaiting);
}

}  // namespace webhook::storage
