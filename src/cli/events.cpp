// `events`: inspects and redrives the inbox (DESIGN.md section 4). One function per action;
// each opens the database itself, so `events list/show/stats` slot in beside `retry`.
//  1. cmd_events() picks the action (argv[0]) and maps errors to exit codes.
//  2. open_inbox() resolves --config/--db, refuses a missing database, opens and migrates it.
//  3. The action runs one or more Inbox calls and prints one line per result.

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "webhook/app/config.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace webhook::cli {
namespace {

constexpr const char* kEventsHelp =
    "usage: webhook-receiver events <action> [options]\n"
    "\n"
    "actions:\n"
    "  retry ID... [--config FILE | --db PATH]\n"
    "                       put the given dead events back to pending (attempts reset)\n"
    "  retry --dead [--config FILE | --db PATH]\n"
    "                       put every dead event back to pending\n"
    "\n"
    "Each action takes --help.\n";

constexpr const char* kRetryHelp =
    "usage: webhook-receiver events retry ID... [--config FILE | --db PATH]\n"
    "       webhook-receiver events retry --dead [--config FILE | --db PATH]\n"
    "\n"
    "Puts dead events back to pending, due now, with attempts reset to 0 (the last error is\n"
    "kept). Prints how many went back; a given ID that is not dead is reported as skipped.\n"
    "  --config FILE   configuration file naming storage.sqlite_path\n"
    "                  (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH       the database file itself\n"
    "  --dead          every dead event instead of a list of IDs\n";

// The flags every action that opens the database takes.
const char* const kConfigFlag = "--config";
const char* const kDbFlag = "--db";

// The database path from --db or the configuration (secrets are not needed nor resolved).
std::string database_path(const Args& args) {
  if (args.has(kConfigFlag) && args.has(kDbFlag)) {
    throw UsageError("give --config or --db, not both");
  }
  if (auto db = args.get(kDbFlag)) return *db;
  return app::load_config(args.get(kConfigFlag), app::process_environment(), false)
      .storage.sqlite_path;
}

// The inbox of an existing database, migrated. A missing file is an error (exit 1), not
// created: a typo in --db must not leave an empty database behind. Throws StorageError.
storage::SqliteInbox open_inbox(const Args& args) {
  const std::string path = database_path(args);
  const bool plain_file = path != ":memory:" && !path.starts_with("file:");
  if (plain_file && !std::filesystem::exists(path)) {
    throw storage::StorageError("no database at " + path, 0);
  }
  storage::Database db = storage::Database::open(path, storage::Database::Mode::read_write);
  db.migrate(storage::embedded_migrations());
  return storage::SqliteInbox(std::move(db));
}

// An event id from the command line: a positive decimal integer. Throws UsageError naming it.
std::int64_t parse_event_id(const std::string& text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id < 1) {
    throw UsageError("bad event id '" + text + "' (a positive whole number)");
  }
  return id;
}

std::string events_count(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " event" : " events");
}

// `events retry`: redrives the given dead events one by one (each its own transaction), so
// every id that is not dead can be named; or every dead event at once with --dead.
int events_retry(const ArgList& argv, Io io) {
  const Args args(argv, {kConfigFlag, kDbFlag}, {"--dead"});
  if (args.has("--help")) {
    io.out << kRetryHelp;
    return 0;
  }
  const bool all_dead = args.has("--dead");
  if (all_dead && !args.positionals().empty()) {
    throw UsageError("give event IDs or --dead, not both");
  }
  if (!all_dead && args.positionals().empty()) throw UsageError("needs event IDs or --dead");
  std::vector<std::int64_t> ids;
  for (const std::string& text : args.positionals()) ids.push_back(parse_event_id(text));

  storage::SqliteInbox inbox = open_inbox(args);
  const std::int64_t now_ms = core::SystemClock().now_ms();
  if (all_dead) {
    io.out << events_count(inbox.redrive({}, now_ms)) << " back to pending\n";
    return 0;
  }
  std::size_t redriven = 0;
  for (const std::int64_t id : ids) {
    if (inbox.redrive({&id, 1}, now_ms) == 1) {
      ++redriven;
      continue;
    }
    const auto event = inbox.find_event(id);
    io.out << "skipped event " << id << ": "
           << (event ? "it is " + event->status + ", not dead" : std::string("no such event"))
           << "\n";
  }
  io.out << events_count(redriven) << " back to pending\n";
  return 0;
}

}  // namespace

int cmd_events(const ArgList& argv, Io io) {
  using Action = int (*)(const ArgList&, Io);
  static const std::map<std::string, Action, std::less<>> actions = {
      {"retry", events_retry},
  };
  try {
    if (argv.empty()) throw UsageError("needs an action (retry)");
    if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
      io.out << kEventsHelp;
      return 0;
    }
    const auto action = actions.find(argv[0]);
    if (action == actions.end()) throw UsageError("unknown action '" + argv[0] + "'");
    return action->second(ArgList(argv.begin() + 1, argv.end()), io);
  } catch (const UsageError& e) {
    io.err << "webhook-receiver events: " << e.what() << " (see --help)\n";
    return 2;
  } catch (const app::ConfigError& e) {
    io.err << "webhook-receiver events: configuration: " << e.what() << "\n";
    return 2;
  } catch (const storage::StorageError& e) {
    io.err << "webhook-receiver events: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace webhook::cli
