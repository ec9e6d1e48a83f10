// Sampling for /metrics and /readyz (include/webhook/storage/backlog.hpp).

#include "webhook/storage/backlog.hpp"

#include <map>
#include <utility>

#include "webhook/storage/statement.hpp"

namespace webhook::storage {
namespace {

constexpr const char* kSampleBacklog =
    "SELECT event_type, status, count(*), min(received_at_ms) FROM events "
    "WHERE status IN ('pending', 'processing', 'dead') GROUP BY event_type, status";

constexpr const char* kSourceBacklog =
    "SELECT source, status, count(*), min(received_at_ms) FROM events "
    "WHERE status IN ('pending', 'processing', 'dead') GROUP BY source, status ORDER BY source";

constexpr const char* kOpenReviews = R"sql(
SELECT source, count(*), min(opened_at_ms) FROM reviews WHERE state = 'open' GROUP BY source
)sql";

constexpr const char* kOpenReviewsBefore = R"sql(
SELECT source, count(*) FROM reviews WHERE state = 'open' AND opened_at_ms < ?1 GROUP BY source
)sql";

// The WHERE clause repeats the partial index's, so the index serves it.
constexpr const char* kAwaitingSettlement = R"sql(
SELECT source, count(*), min(captured_at_ms), sum(captured_at_ms < ?1) FROM payments
WHERE status IN ('CAPTURED', 'RECEIVED') GROUP BY source
)sql";

}  // namespace

std::vector<BacklogRow> sample_backlog(Database& db) {
  Statement stmt(db, kSampleBacklog);
  Statement::Use q(stmt);
  std::vector<BacklogRow> rows;
  while (q.step()) {
    rows.push_back({q.column_bytes(0), q.column_bytes(1), q.column_int(2), q.column_int(3)});
  }
  return rows;
}

std::vector<SourceBacklog> sample_source_backlog(Database& db) {
  Statement stmt(db, kSourceBacklog);
  Statement::Use q(stmt);
  std::vector<SourceBacklog> rows;
  while (q.step()) {
    std::string source = q.column_bytes(0);
    if (rows.empty() || rows.back().source != source) rows.push_back({std::move(source)});
    SourceBacklog& b = rows.back();
    const std::string status = q.column_bytes(1);
    const std::int64_t count = q.column_int(2);
    const std::int64_t oldest = q.column_int(3);
    if (status == "dead") {
      b.dead = count;
      continue;
    }
    (status == "pending" ? b.pending : b.processing) = count;
    if (b.oldest_unfinished_ms == 0 || oldest < b.oldest_unfinished_ms)
      b.oldest_unfinished_ms = oldest;
  }
  return rows;
}

std::vector<ProjectionSample> sample_projections(Database& db, std::int64_t now_ms,
                                                 const std::vector<std::int64_t>& review_bounds_ms,
                                                 std::int64_t overdue_ms) {
  std::map<std::string, ProjectionSample> by_source;
  auto of = [&](const std::string& source) -> ProjectionSample& {
    ProjectionSample& s = by_source[source];
    s.source = source;
    s.open_reviews_older.resize(review_bounds_ms.size());
    return s;
  };
  {
    Statement stmt(db, kOpenReviews);
    Statement::Use q(stmt);
    while (q.step()) {
      ProjectionSample& s = of(q.column_bytes(0));
      s.open_reviews = q.column_int(1);
      s.oldest_open_review_ms = q.column_int(2);
    }
  }
  {
    Statement stmt(db, kOpenReviewsBefore);
    for (std::size_t i = 0; i < review_bounds_ms.size(); ++i) {
      Statement::Use q(stmt);
      q.integer(1, now_ms - review_bounds_ms[i]);
      while (q.step()) of(q.column_bytes(0)).open_reviews_older[i] = q.column_int(1);
    }
  }
  {
    Statement stmt(db, kAwaitingSettlement);
    Statement::Use q(stmt);
    q.integer(1, now_ms - overdue_ms);
    while (q.step()) {
      ProjectionSample& s = of(q.column_bytes(0));
      s.awaiting_settlement = q.column_int(1);
      s.oldest_awaiting_ms = q.column_int(2);
      s.overdue_settlement = q.column_int(3);
    }
  }
  std::vector<ProjectionSample> samples;
  for (auto& [source, sample] : by_source) samples.push_back(std::move(sample));
  return samples;
}

}  // namespace webhook::storage
