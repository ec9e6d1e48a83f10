// Helpers shared by the `events` actions (see events_support.hpp).

#include "cli/events_support.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <utility>

#include "webhook/app/config.hpp"
#include "webhook/core/text.hpp"
#include "webhook/core/timestamp.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/pg_event_queries.hpp"
#include "webhook/storage/pg_inbox.hpp"
#include "webhook/storage/pg_projection_queries.hpp"
#include "webhook/storage/pg_url.hpp"

namespace webhook::cli::events_cli {
namespace {

constexpr std::int64_t kSecondMs = 1000;
constexpr std::int64_t kMinuteMs = 60 * kSecondMs;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;

// SQLite maps these names to no plain file (in-memory databases, URI names).
bool is_plain_file(const std::string& path) {
  return !path.empty() && path != ":memory:" && !path.starts_with("file:");
}

void require_existing(const std::string& path) {
  if (is_plain_file(path) && !std::filesystem::exists(path)) {
    throw storage::StorageError("no database at " + path, 0);
  }
}

}  // namespace

// ---- the database ----------------------------------------------------------------------------

std::string database_path(const Args& args) {
  if (args.has(kConfigFlag) && args.has(kDbFlag)) {
    throw UsageError("give --config or --db, not both");
  }
  if (auto db = args.get(kDbFlag)) return *db;
  return app::load_config(args.get(kConfigFlag), app::process_environment(), false)
      .storage.sqlite_path;
}

storage::Database open_read_write(const Args& args) {
  const std::string path = database_path(args);
  require_existing(path);
  storage::Database db = storage::Database::open(path, storage::Database::Mode::read_write);
  db.migrate(storage::embedded_migrations());
  return db;
}

storage::SqliteInbox open_inbox(const Args& args) {
  return storage::SqliteInbox(open_read_write(args));
}

storage::Database open_read_only(const Args& args) {
  const std::string path = database_path(args);
  require_existing(path);
  storage::Database db = storage::Database::open(path, storage::Database::Mode::read_only);
  storage::check_inbox_schema(db);
  return db;
}

EventsDatabase open_events(const Args& args, bool writable) {
  EventsDatabase out;
  const std::string path = database_path(args);
  if (storage::is_pg_url(path)) {
    out.postgres = std::make_unique<storage::PgConnection>(storage::PgConnection::connect(path));
    storage::check_pg_inbox_schema(*out.postgres);
    out.queries = std::make_unique<storage::PgEventQueries>(*out.postgres);
    return out;
  }
  out.sqlite =
      std::make_unique<storage::Database>(writable ? open_read_write(args) : open_read_only(args));
  out.queries = std::make_unique<storage::SqliteEventQueries>(*out.sqlite);
  return out;
}

ProjectionsDatabase open_projections(const Args& args) {
  ProjectionsDatabase out;
  const std::string path = database_path(args);
  if (storage::is_pg_url(path)) {
    out.postgres = std::make_unique<storage::PgConnection>(storage::PgConnection::connect(path));
    storage::check_pg_inbox_schema(*out.postgres);
    out.queries = std::make_unique<storage::PgProjectionQueries>(*out.postgres);
    return out;
  }
  out.sqlite = std::make_unique<storage::Database>(open_read_only(args));
  out.queries = std::make_unique<storage::ProjectionQueries>(*out.sqlite);
  return out;
}

std::unique_ptr<core::Inbox> open_any_inbox(const Args& args) {
  const std::string path = database_path(args);
  if (storage::is_pg_url(path)) {
    storage::PgConnection db = storage::PgConnection::connect(path);
    storage::check_pg_inbox_schema(db);
    return std::make_unique<storage::PgInbox>(std::move(db));
  }
  return std::make_unique<storage::SqliteInbox>(open_read_write(args));
}

// ---- arguments -------------------------------------------------------------------------------

std::int64_t parse_event_id(const std::string& text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id < 1) {
    throw UsageError("bad event id '" + text + "' (a positive whole number)");
  }
  return id;
}

std::int64_t parse_duration_ms(std::string_view flag, std::string_view text) {
  if (const auto ms = core::parse_duration_ms(text)) return *ms;
  throw UsageError(std::string(flag) + ": bad duration '" + std::string(text) + "' (" +
                   std::string(core::kDurationForms) + ")");
}

std::int64_t parse_time_ms(std::string_view flag, std::string_view text, std::int64_t now_ms) {
  if (const auto ms = core::parse_time_ms(text, now_ms)) return *ms;
  throw UsageError(std::string(flag) + ": bad time '" + std::string(text) + "' (" +
                   std::string(core::kTimeForms) + ")");
}

std::string iso_time(std::int64_t epoch_ms) { return log::format_timestamp(epoch_ms); }

std::string short_age(std::int64_t age_ms) {
  const std::int64_t s = std::max<std::int64_t>(age_ms, 0) / kSecondMs;
  const std::int64_t d = s / 86'400;
  const std::int64_t h = s % 86'400 / 3'600;
  const std::int64_t m = s % 3'600 / 60;
  if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m " + std::to_string(s % 60) + "s";
  return std::to_string(s) + "s";
}

// ---- statuses --------------------------------------------------------------------------------

const std::vector<std::string>& all_statuses() {
  static const std::vector<std::string> statuses = {"pending",   "processing", "done",
                                                    "unhandled", "dead",       "quarantined"};
  return statuses;
}

bool is_terminal_status(std::string_view status) {
  return status == "done" || status == "unhandled" || status == "dead" || status == "quarantined";
}

std::vector<std::string> parse_statuses(const Args& args, const std::string& flag,
                                        const std::vector<std::string>& allowed) {
  std::vector<bool> chosen(allowed.size(), false);
  for (const std::string& value : args.all(flag)) {
    std::size_t begin = 0;
    while (begin <= value.size()) {
      const std::size_t comma = std::min(value.find(',', begin), value.size());
      const std::string name = value.substr(begin, comma - begin);
      const auto it = std::find(allowed.begin(), allowed.end(), name);
      if (it == allowed.end()) {
        std::string list;
        for (const std::string& s : allowed) list += (list.empty() ? "" : ", ") + s;
        throw UsageError(flag + ": '" + name + "' is not one of " + list);
      }
      chosen[static_cast<std::size_t>(it - allowed.begin())] = true;
      begin = comma + 1;
    }
  }
  std::vector<std::string> statuses;
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (chosen[i]) statuses.push_back(allowed[i]);
  }
  return statuses;
}

std::string events_count(std::int64_t n) {
  return std::to_string(n) + (n == 1 ? " event" : " events");
}

// ---- output ----------------------------------------------------------------------------------

std::string printable(std::string_view text, std::size_t max_chars) {
  std::string out;
  std::vector<std::size_t> char_starts;  // offset in `out` of each character
  for (std::size_t pos = 0; pos < text.size();) {
    char_starts.push_back(out.size());
    const std::size_t len = core::utf8_sequence_length(text, pos);
    const auto lead = static_cast<unsigned char>(text[pos]);
    const bool c1_control =
        len == 2 && lead == 0xC2 && static_cast<unsigned char>(text[pos + 1]) < 0xA0;
    if (len == 0 || (len == 1 && (lead < 0x20 || lead == 0x7F)) || c1_control) {
      out += '?';
      pos += len == 0 ? 1 : len;
    } else {
      out.append(text.substr(pos, len));
      pos += len;
    }
  }
  if (max_chars > 3 && char_starts.size() > max_chars) {
    out.resize(char_starts[max_chars - 3]);
    out += "...";
  }
  return out;
}

namespace {

std::size_t display_width(std::string_view cell) {
  // Characters, not bytes: cells are valid UTF-8 (printable()).
  return static_cast<std::size_t>(std::count_if(cell.begin(), cell.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

void Table::add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - display_width(row[i]), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

std::string json_safe(std::string_view text) { return core::replace_invalid_utf8(text); }

}  // namespace webhook::cli::events_cli
