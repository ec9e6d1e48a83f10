// `events stats`: how many events are in each status, overall and per event type, how old the
// oldest unfinished (pending or processing) event is, and how many are dead letters. One
// grouped query (storage::EventQueries::count_by_type_and_status(), one consistent read),
// summed here. Read-only; ages are taken from now_ms.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"

namespace webhook::cli::events_cli {
namespace {

constexpr const char* kStatsHelp =
    "usage: webhook-receiver events stats [--json] [--config FILE | --db PATH]\n"
    "\n"
    "Counts events by status, and by event type and status; the unfinished backlog (pending or\n"
    "processing events) with the age of its oldest event, overall and per type; dead letters.\n"
    "Reads the whole table once (1-2 s per million events). Opens the database\n"
    "read-only.\n"
    "  --json          one JSON object: now_ms, total, by_status {status: count}, unfinished\n"
    "                  {count, oldest_received_at_ms, oldest_received_at, oldest_age_ms: null\n"
    "                  when none}, dead_letters, by_type [{event_type, total, by_status,\n"
    "                  unfinished, dead_letters}] sorted by event_type\n"
    "  --config FILE   configuration file naming storage.sqlite_path\n"
    "                  (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH       the database file itself, or a PostgreSQL URL\n";

constexpr std::size_t kStatusCount = 6;

// Counts for a set of events: overall, or one event type.
struct Counts {
  std::array<std::int64_t, kStatusCount> by_status{};  // in all_statuses() order
  std::int64_t total = 0;
  std::int64_t unfinished = 0;                    // pending + processing
  std::optional<std::int64_t> oldest_unfinished;  // received_at_ms
  std::int64_t dead = 0;

  void add(std::size_t status, std::int64_t count, std::int64_t oldest_received_ms) {
    by_status[status] += count;
    total += count;
    const std::string& name = all_statuses()[status];
    if (name == "pending" || name == "processing") {
      unfinished += count;
      oldest_unfinished =
          std::min(oldest_unfinished.value_or(oldest_received_ms), oldest_received_ms);
    }
    if (name == "dead") dead += count;
  }
};

struct Stats {
  Counts all;
  std::map<std::string, Counts> by_type;  // sorted by event type
};

Stats collect(storage::EventQueries& queries) {
  Stats stats;
  const auto& statuses = all_statuses();
  for (const storage::EventTypeStatusCount& group : queries.count_by_type_and_status()) {
    const auto it = std::find(statuses.begin(), statuses.end(), group.status);
    if (it == statuses.end()) continue;  // the CHECK constraint keeps this from happening
    const auto index = static_cast<std::size_t>(it - statuses.begin());
    stats.all.add(index, group.count, group.oldest_received_at_ms);
    stats.by_type[group.event_type].add(index, group.count, group.oldest_received_at_ms);
  }
  return stats;
}

template <typename Writer>
void write_string(Writer& w, std::string_view text) {
  const std::string safe = json_safe(text);
  w.String(safe.data(), static_cast<rapidjson::SizeType>(safe.size()), true);
}

template <typename Writer>
void write_counts(Writer& w, const Counts& c, std::int64_t now_ms) {
  w.Key("total");
  w.Int64(c.total);
  w.Key("by_status");
  w.StartObject();
  for (std::size_t i = 0; i < kStatusCount; ++i) {
    write_string(w, all_statuses()[i]);
    w.Int64(c.by_status[i]);
  }
  w.EndObject();
  w.Key("unfinished");
  w.StartObject();
  w.Key("count");
  w.Int64(c.unfinished);
  if (c.oldest_unfinished) {
    w.Key("oldest_received_at_ms");
    w.Int64(*c.oldest_unfinished);
    w.Key("oldest_received_at");
    write_string(w, iso_time(*c.oldest_unfinished));
    w.Key("oldest_age_ms");
    w.Int64(now_ms - *c.oldest_unfinished);
  } else {
    for (const char* key : {"oldest_received_at_ms", "oldest_received_at", "oldest_age_ms"}) {
      w.Key(key);
      w.Null();
    }
  }
  w.EndObject();
  w.Key("dead_letters");
  w.Int64(c.dead);
}

void print_json(std::ostream& out, const Stats& stats, std::int64_t now_ms) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("now_ms");
  w.Int64(now_ms);
  write_counts(w, stats.all, now_ms);
  w.Key("by_type");
  w.StartArray();
  for (const auto& [type, counts] : stats.by_type) {
    w.StartObject();
    w.Key("event_type");
    write_string(w, type);
    write_counts(w, counts, now_ms);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  out << buffer.GetString() << '\n';
}

std::string oldest(const Counts& c, std::int64_t now_ms) {
  if (!c.oldest_unfinished) return "-";
  return short_age(now_ms - *c.oldest_unfinished) + " (" + iso_time(*c.oldest_unfinished) + ")";
}

void print_text(std::ostream& out, const Stats& stats, std::int64_t now_ms) {
  out << "events: " << stats.all.total << " (as of " << iso_time(now_ms) << ")\n";
  Table by_status;
  for (std::size_t i = 0; i < kStatusCount; ++i) {
    by_status.add({"  " + all_statuses()[i], std::to_string(stats.all.by_status[i])});
  }
  by_status.print(out);
  out << "unfinished (pending + processing): " << stats.all.unfinished;
  if (stats.all.oldest_unfinished) out << ", oldest " << oldest(stats.all, now_ms);
  out << "\ndead letters: " << stats.all.dead << "\n";
  if (stats.by_type.empty()) return;

  out << "\n";
  Table by_type;
  std::vector<std::string> header = {"TYPE"};
  for (const std::string& status : all_statuses()) {
    std::string upper = status;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char ch) { return static_cast<char>(ch - 'a' + 'A'); });
    header.push_back(upper);
  }
  header.insert(header.end(), {"TOTAL", "OLDEST UNFINISHED"});
  by_type.add(std::move(header));
  for (const auto& [type, counts] : stats.by_type) {
    std::vector<std::string> row = {type.empty() ? "(none)" : printable(type)};
    for (const std::int64_t n : counts.by_status) row.push_back(std::to_string(n));
    row.push_back(std::to_string(counts.total));
    row.push_back(oldest(counts, now_ms));
    by_type.add(std::move(row));
  }
  by_type.print(out);
}

}  // namespace

int events_stats(const ArgList& argv, Io io, std::int64_t now_ms) {
  const Args args(argv, {kConfigFlag, kDbFlag}, {kJsonFlag});
  if (args.has("--help")) {
    io.out << kStatsHelp;
    return 0;
  }
  if (!args.positionals().empty()) {
    throw UsageError("stats takes no arguments ('" + args.positionals().front() + "')");
  }
  const EventsDatabase db = open_events(args);
  const Stats stats = collect(*db.queries);
  if (args.has(kJsonFlag)) {
    print_json(io.out, stats, now_ms);
  } else {
    print_text(io.out, stats, now_ms);
  }
  return 0;
}

}  // namespace webhook::cli::events_cli
