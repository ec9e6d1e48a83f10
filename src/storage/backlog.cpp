// Sampling for /metrics and /readyz (include/webhook/storage/backlog.hpp).

#include "webhook/storage/backlog.hpp"

#include <map>
#include <utility>

#include "storage/backlog_rows.hpp"
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
  std::vector<backlog_rows::SourceStatus> rows;
  while (q.step()) {
    rows.push_back({q.column_bytes(0), q.column_bytes(1), q.column_int(2), q.column_int(3)});
  }
  return backlog_rows::source_backlog(std::move(rows));
}

std::vector<ProjectionSample> sample_projections(Database& db, std::int64_t now_ms,
                                                 const std::vector<std::int64_t>& review_bounds_ms,
                                                 std::int64_t overdue_ms) {
  std::vector<backlog_rows::OpenReviews> open;
  {
    Statement stmt(db, kOpenReviews);
    Statement::Use q(stmt);
    while (q.step()) open.push_back({q.column_bytes(0), q.column_int(1), q.column_int(2)});
  }
  std::vector<std::vector<backlog_rows::OlderReviews>> older(review_bounds_ms.size());
  {
    Statement stmt(db, kOpenReviewsBefore);
    for (std::size_t i = 0; i < review_bounds_ms.size(); ++i) {
      Statement::Use q(stmt);
      q.integer(1, now_ms - review_bounds_ms[i]);
      while (q.step()) older[i].push_back({q.column_bytes(0), q.column_int(1)});
    }
  }
  std::vector<backlog_rows::Awaiting> awaiting;
  {
    Statement stmt(db, kAwaitingSettlement);
    Statement::Use q(stmt);
    q.integer(1, now_ms - overdue_ms);
    while (q.step()) {
      awaiting.push_back({q.column_bytes(0), q.column_int(1), q.column_int(2), q.column_int(3)});
    }
  }
  return backlog_rows::projections(open, older, awaiting);
}

namespace backlog_rows {

std::vector<SourceBacklog> source_backlog(std::vector<SourceStatus> rows) {
  std::vector<SourceBacklog> out;
  for (SourceStatus& row : rows) {
    if (out.empty() || out.back().source != row.source) out.push_back({std::move(row.source)});
    SourceBacklog& b = out.back();
    if (row.status == "dead") {
      b.dead = row.count;
      continue;
    }
    (row.status == "pending" ? b.pending : b.processing) = row.count;
    if (b.oldest_unfinished_ms == 0 || row.oldest_ms < b.oldest_unfinished_ms)
      b.oldest_unfinished_ms = row.oldest_ms;
  }
  return out;
}

std::vector<ProjectionSample> projections(const std::vector<OpenReviews>& open,
                                          const std::vector<std::vector<OlderReviews>>& older,
                                          const std::vector<Awaiting>& awaiting) {
  std::map<std::string, ProjectionSample> by_source;
  auto of = [&](const std::string& source) -> ProjectionSample& {
    ProjectionSample& s = by_source[source];
    s.source = source;
    s.open_reviews_older.resize(older.size());
    return s;
  };
  for (const OpenReviews& r : open) {
    ProjectionSample& s = of(r.source);
    s.open_reviews = r.count;
    s.oldest_open_review_ms = r.oldest_ms;
  }
  for (std::size_t i = 0; i < older.size(); ++i) {
    for (const OlderReviews& r : older[i]) of(r.source).open_reviews_older[i] = r.count;
  }
  for (const Awaiting& a : awaiting) {
    ProjectionSample& s = of(a.source);
    s.awaiting_settlement = a.count;
    s.oldest_awaiting_ms = a.oldest_ms;
    s.overdue_settlement = a.overdue;
  }
  std::vector<ProjectionSample> samples;
  for (auto& [source, sample] : by_source) samples.push_back(std::move(sample));
  return samples;
}

}  // namespace backlog_rows
}  // namespace webhook::storage
