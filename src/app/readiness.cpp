#include "webhook/app/readiness.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "webhook/core/timestamp.hpp"

namespace webhook::app {
namespace {

std::int64_t age_s(std::int64_t now_ms, std::int64_t since_ms) {
  return since_ms == 0 ? 0 : std::max<std::int64_t>(0, (now_ms - since_ms) / 1000);
}

}  // namespace

ReadinessVerdict judge_readiness(const ReadinessFacts& f) {
  if (!f.workers_running) return {false, "workers: not running"};
  if (!f.storage_fault.empty()) return {false, f.storage_fault};
  if (!f.storage_problem.empty()) return {false, f.storage_problem};
  if (f.max_backlog_age_ms > 0 && f.oldest_unfinished_age_s * 1000.0 > f.max_backlog_age_ms) {
    return {false, "backlog: the oldest unfinished event is " +
                       std::to_string(static_cast<long long>(f.oldest_unfinished_age_s)) +
                       " s old (bound " + std::to_string(f.max_backlog_age_ms / 1000) + " s)"};
  }
  if (!f.last_commit_ok) return {false, "storage: the last commit failed"};
  if (!f.payload_log_problem.empty()) return {false, f.payload_log_problem};
  return {true, {}};
}

std::string readiness_details(const std::vector<storage::ProjectionSample>& samples,
                              double settlement_event_age_s, const ProjectionBounds& bounds,
                              std::int64_t now_ms) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto key = [&w](const std::string& k) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  };
  w.StartObject();
  w.Key("settlement");
  w.StartObject();
  w.Key("oldest_unprocessed_event_age_s");
  w.Int64(static_cast<std::int64_t>(settlement_event_age_s));
  w.Key("overdue_after_s");
  w.Int64(bounds.settlement_overdue_ms / 1000);
  w.Key("sources");
  w.StartObject();
  for (const auto& s : samples) {
    key(s.source);
    w.StartObject();
    w.Key("awaiting");
    w.Int64(s.awaiting_settlement);
    w.Key("oldest_awaiting_age_s");
    w.Int64(age_s(now_ms, s.oldest_awaiting_ms));
    w.Key("overdue");
    w.Int64(s.overdue_settlement);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  w.Key("reviews");
  w.StartObject();
  for (const auto& s : samples) {
    key(s.source);
    w.StartObject();
    w.Key("open");
    w.Int64(s.open_reviews);
    w.Key("oldest_open_age_s");
    w.Int64(age_s(now_ms, s.oldest_open_review_ms));
    for (std::size_t i = 0; i < bounds.review_flag_ms.size(); ++i) {
      key("over_" + core::duration_label(bounds.review_flag_ms[i]));
      w.Int64(i < s.open_reviews_older.size() ? s.open_reviews_older[i] : 0);
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace webhook::app
