#pragma once
// The JSON documents an operator reads, from one renderer: the CLI prints them with --json
// (`reviews`, `payments`, `customers`, `events`, `compare`, `summary`; docs/operator-commands.md)
// and the admin API answers with them (docs/admin.md). Built on JsonOut; pure but for
// read_summary(): every time they need is passed in (now_ms), nothing reads the clock.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "webhook/app/json_out.hpp"
#include "webhook/storage/backlog.hpp"
#include "webhook/storage/event_queries.hpp"
#include "webhook/storage/projection_queries.hpp"

namespace webhook::app::documents {

// ---- reviews ----------------------------------------------------------------------------------

// An open review's age (now minus its opening), nullopt for closed ones and those not opened.
std::optional<std::int64_t> review_age_ms(const storage::ReviewRow& r, std::int64_t now_ms);
// The highest bound (ascending `bounds_ms`, reviews.flag_after_ms) an open review's age is over.
std::optional<std::int64_t> review_flag_bound(const storage::ReviewRow& r,
                                              const std::vector<std::int64_t>& bounds_ms,
                                              std::int64_t now_ms);
// "over 4h" for a bound, "" for none.
std::string review_flag_label(std::optional<std::int64_t> bound_ms);

// `reviews list --json`: an array of review objects.
std::string review_list(const std::vector<storage::ReviewRow>& rows,
                        const std::vector<std::int64_t>& bounds_ms, std::int64_t now_ms);
// `reviews show --json`: an array, one object per source, with "history".
std::string review_views(const std::vector<storage::ReviewView>& views,
                         const std::vector<std::int64_t>& bounds_ms, std::int64_t now_ms);

// ---- payments and customers -------------------------------------------------------------------

std::string payment_views(const std::vector<storage::PaymentView>& views);
std::string customer_views(const std::vector<storage::CustomerView>& views);

// ---- events -----------------------------------------------------------------------------------

// The objects of `events list --json` as an array, into a document being written.
void event_summaries(JsonOut& j, const std::vector<storage::EventSummary>& rows);
// `events list --json`: that array alone.
std::string event_list(const std::vector<storage::EventSummary>& rows);
// `events show --json`: every column, "dedup_key", "body_bytes", and the payload as "body"
// (valid UTF-8) or "body_base64".
std::string event_record(const storage::EventRecord& e);

// ---- compare ----------------------------------------------------------------------------------

struct ComparisonWindow {
  std::string a;
  std::string b;
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;
};
std::string comparison(const ComparisonWindow& window, const storage::Comparison& c);

// ---- summary ----------------------------------------------------------------------------------

// What an operator looks at first, per source: the inbox backlog and dead letters, payments
// awaiting settlement, open reviews (admin `GET /api/summary`, `webhook-receiver summary`).
struct SummaryInput {
  std::vector<std::string> sources;  // the configured ones: listed even when there is nothing
  std::vector<storage::SourceBacklog> backlog;
  std::vector<storage::ProjectionSample> projections;  // sampled with review_bounds_ms
  std::vector<std::int64_t> review_bounds_ms;
  std::int64_t settlement_overdue_ms = 0;
  std::int64_t now_ms = 0;
};
// One entry per configured source and per source found in the samples, by name.
struct SourceSummary {
  std::string source;
  storage::SourceBacklog backlog;
  storage::ProjectionSample projections;
};
std::vector<SourceSummary> summarize(const SummaryInput& in);
// The samples of a summary, read from `db` (the one helper here that reads a database): SQLite,
// or PostgreSQL (issue 13), with the same samples.
SummaryInput read_summary(storage::Database& db, std::vector<std::string> sources,
                          std::vector<std::int64_t> review_bounds_ms,
                          std::int64_t settlement_overdue_ms, std::int64_t now_ms);
SummaryInput read_summary(storage::PgConnection& db, std::vector<std::string> sources,
                          std::vector<std::int64_t> review_bounds_ms,
                          std::int64_t settlement_overdue_ms, std::int64_t now_ms);
std::string summary(const SummaryInput& in);

}  // namespace webhook::app::documents
