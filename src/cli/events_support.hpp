#pragma once
// Shared by the `events` actions (src/cli/events*.cpp): opening the database, the time and
// duration arguments, event statuses, an aligned text table and JSON string output. The
// actions ask their questions through storage::EventQueries (no SQL here). Nothing here reads
// the clock: "now" is always an argument.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/event_queries.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/projection_queries.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace webhook::cli {

// cmd_events() with the time given: what the CLI runs with the wall clock, and tests with a
// fixed `now_ms` (every "now minus a duration" and every age is computed from it).
int cmd_events_at(const ArgList& argv, Io io, std::int64_t now_ms);

}  // namespace webhook::cli

namespace webhook::cli::events_cli {

// The flags every action that opens the database takes.
inline constexpr const char* kConfigFlag = "--config";
inline constexpr const char* kDbFlag = "--db";
inline constexpr const char* kJsonFlag = "--json";

// The actions (one function each); `now_ms` is the wall clock in production, fixed in tests.
int events_retry(const ArgList& argv, Io io, std::int64_t now_ms);  // events.cpp
int events_list(const ArgList& argv, Io io, std::int64_t now_ms);   // events_list.cpp
int events_show(const ArgList& argv, Io io, std::int64_t now_ms);   // events_show.cpp
int events_stats(const ArgList& argv, Io io, std::int64_t now_ms);  // events_stats.cpp
int events_purge(const ArgList& argv, Io io, std::int64_t now_ms);  // events_purge.cpp

// ---- the database ----------------------------------------------------------------------------

// The database path from --db or the configuration (secrets are not needed nor resolved).
// Throws UsageError for both flags, app::ConfigError for a bad configuration.
std::string database_path(const Args& args);

// An existing database opened read-write and migrated (retry, purge). A missing file is an
// error (StorageError, exit 1), never created: a typo in --db must not leave an empty database.
storage::Database open_read_write(const Args& args);
storage::SqliteInbox open_inbox(const Args& args);

// An existing database opened read-only (list, show, stats, purge --dry-run): never created,
// never migrated. Throws StorageError for a missing file or one without the inbox schema
// (storage::check_inbox_schema()).
storage::Database open_read_only(const Args& args);

// The events of the database --db (an SQLite path, or a postgres:// URL: issue 13) or the
// configuration names, behind storage::EventQueries. SQLite as open_read_only() or, with
// `writable`, open_read_write(); PostgreSQL connected and checked for the inbox schema (never
// migrated here: `webhook-receiver migrate --db URL` does that).
struct EventsDatabase {
  std::unique_ptr<storage::Database> sqlite;
  std::unique_ptr<storage::PgConnection> postgres;
  std::unique_ptr<storage::EventQueries> queries;  // over one of the two; destroyed first
};
EventsDatabase open_events(const Args& args, bool writable = false);
// The projections of the database --db or the configuration names, likewise (read-only).
struct ProjectionsDatabase {
  std::unique_ptr<storage::Database> sqlite;
  std::unique_ptr<storage::PgConnection> postgres;
  std::unique_ptr<storage::ProjectionReader> queries;  // destroyed first
};
ProjectionsDatabase open_projections(const Args& args);
// The inbox of --db or the configuration (retry): SqliteInbox or PgInbox.
std::unique_ptr<core::Inbox> open_any_inbox(const Args& args);

// ---- arguments -------------------------------------------------------------------------------

// An event id: a positive decimal integer. Throws UsageError naming the text.
std::int64_t parse_event_id(const std::string& text);

// A duration "<n>s", "<n>m", "<n>h", "<n>d" or "<n>w" (n a whole number, at most 100 years) in
// milliseconds. Throws UsageError naming `flag`.
std::int64_t parse_duration_ms(std::string_view flag, std::string_view text);

// A point in time: ISO-8601 UTC ("2026-05-03T10:00:00Z", optional ".mmm" fraction, or a date
// "2026-05-03" meaning its midnight UTC) or a duration meaning now_ms minus it. Epoch ms.
// Throws UsageError naming `flag`.
std::int64_t parse_time_ms(std::string_view flag, std::string_view text, std::int64_t now_ms);

// ISO-8601 UTC with milliseconds, "2026-05-03T10:00:00.000Z".
std::string iso_time(std::int64_t epoch_ms);
// A short age, "3d 4h", "2h 5m", "42s", "0s" (negative ages, clock skew, print as 0s).
std::string short_age(std::int64_t age_ms);

// now_ms minus a retention: `events purge` deletes finished events received before it.
std::int64_t purge_cutoff_ms(std::int64_t now_ms, std::int64_t retention_ms);

// ---- statuses --------------------------------------------------------------------------------

// Every status, in life-cycle order: pending, processing, done, unhandled, dead, quarantined.
const std::vector<std::string>& all_statuses();
bool is_terminal_status(std::string_view status);  // done, unhandled, dead, quarantined

// The statuses given with `flag` (repeatable, or comma-separated), each one of `allowed`,
// without repeats, in the order of `allowed`. Throws UsageError naming the flag and the value.
std::vector<std::string> parse_statuses(const Args& args, const std::string& flag,
                                        const std::vector<std::string>& allowed);

std::string events_count(std::int64_t n);  // "1 event", "3 events"

// ---- output ----------------------------------------------------------------------------------

// `text` for one table cell or text line: control characters and invalid UTF-8 become '?', so
// a stored value cannot move the cursor or break the table; cut to `max_chars` characters with
// "..." when longer (0: no limit).
std::string printable(std::string_view text, std::size_t max_chars = 0);

// Rows of cells (the first usually a header) printed with every column left-aligned to its
// widest cell, two spaces apart; the last column is not padded. Cells must be printable().
class Table {
 public:
  void add(std::vector<std::string> row);
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// `text` as the contents of a JSON string (no quotes): valid UTF-8 with invalid sequences
// replaced by U+FFFD, so RapidJSON's writer always produces valid JSON.
std::string json_safe(std::string_view text);

}  // namespace webhook::cli::events_cli
