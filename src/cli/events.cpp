// `events`: inspects and redrives the inbox (DESIGN.md section 4). One function per action;
// each opens the database itself (read-only unless it writes):
//  1. cmd_events() reads the clock once; cmd_events_at() picks the action (argv[0]) and runs it
//     in guarded() (cli/exit_codes.hpp): 0 success, 1 runtime (storage, a missing database or
//     event), 2 usage or configuration (one line naming the flag).
//  2. events_support.cpp resolves --config/--db and opens the database; it refuses a missing
//     file instead of creating it.
//  3. The actions: retry (here), list (events_list.cpp), show (events_show.cpp), stats
//     (events_stats.cpp), purge (events_purge.cpp).

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "cli/exit_codes.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace webhook::cli {
namespace events_cli {
namespace {

constexpr const char* kEventsHelp =
    "usage: webhook-receiver events <action> [options]\n"
    "\n"
    "actions:\n"
    "  list [--status S]... [--type T] [--source S] [--entity ID] [--since TIME]\n"
    "       [--until TIME] [--limit N] [--oldest-first] [--json]\n"
    "                       events, newest first, as a table (or a JSON array)\n"
    "  show ID [--json]     one event: every column, the dedup key and the raw payload\n"
    "  stats [--json]       counts by status and by type, backlog age, dead letters\n"
    "  retry ID... | --dead put dead events back to pending (redrive)\n"
    "  purge --older-than DURATION [--status S]... [--dry-run] [--force-short-retention]\n"
    "                       delete finished events received before now - DURATION\n"
    "                       (at least 25h: dedup keys outlive the platform's 24 h retries)\n"
    "\n"
    "Every action takes --config FILE (storage.sqlite_path; default $WEBHOOK_RECEIVER_CONFIG,\n"
    "else var/webhook-receiver.db) or --db PATH, and --help. list, show, stats and\n"
    "purge --dry-run open the database read-only. A missing database is an error, never created.\n"
    "Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.\n";

constexpr const char* kRetryHelp =
    "usage: webhook-receiver events retry ID... [--config FILE | --db PATH]\n"
    "       webhook-receiver events retry --dead [--config FILE | --db PATH]\n"
    "\n"
    "Puts dead events back to pending, due now, with attempts reset to 0 (the last error is\n"
    "kept). Prints how many went back; a given ID that is not dead is reported as skipped.\n"
    "  --config FILE   configuration file naming storage.sqlite_path\n"
    "                  (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH       the database file itself, or a PostgreSQL URL\n"
    "  --dead          every dead event instead of a list of IDs\n";

}  // namespace

// `events retry`: redrives the given dead events one by one (each its own transaction), so
// every id that is not dead can be named; or every dead event at once with --dead.
int events_retry(const ArgList& argv, Io io, std::int64_t now_ms) {
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

  const std::unique_ptr<core::Inbox> any_inbox = open_any_inbox(args);
  core::Inbox& inbox = *any_inbox;
  if (all_dead) {
    io.out << events_count(static_cast<std::int64_t>(inbox.redrive({}, now_ms)))
           << " back to pending\n";
    return 0;
  }
  std::int64_t redriven = 0;
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

}  // namespace events_cli

int cmd_events_at(const ArgList& argv, Io io, std::int64_t now_ms) {
  using Action = int (*)(const ArgList&, Io, std::int64_t);
  static const std::map<std::string, Action, std::less<>> actions = {
      {"list", events_cli::events_list},   {"show", events_cli::events_show},
      {"stats", events_cli::events_stats}, {"retry", events_cli::events_retry},
      {"purge", events_cli::events_purge},
  };
  return guarded(io.err, "events", [&] {
    if (argv.empty()) throw UsageError("needs an action (list, show, stats, retry, purge)");
    if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
      io.out << events_cli::kEventsHelp;
      return 0;
    }
    const auto action = actions.find(argv[0]);
    if (action == actions.end()) throw UsageError("unknown action '" + argv[0] + "'");
    return action->second(ArgList(argv.begin() + 1, argv.end()), io, now_ms);
  });
}

int cmd_events(const ArgList& argv, Io io) {
  return cmd_events_at(argv, io, core::SystemClock().now_ms());
}

}  // namespace webhook::cli
