// `events purge --older-than DURATION`: retention. Deletes finished events (done, unhandled,
// dead, quarantined; never pending or processing) received before now_ms - DURATION.
// A deleted event's dedup key goes with it, so DURATION must cover the platform's retry window
// (24 h) with a margin: under 25h is refused unless --force-short-retention.
// storage::EventQueries::purge_events() deletes in batches, each its own short transaction, so
// the service's writer (which waits for the write lock up to its busy timeout) is never held off
// for the whole purge.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"

namespace webhook::cli::events_cli {
namespace {

constexpr const char* kPurgeHelp =
    "usage: webhook-receiver events purge --older-than DURATION [--status S]... [--dry-run]\n"
    "                                     [--force-short-retention] [--config FILE | --db PATH]\n"
    "\n"
    "Deletes finished events (done, unhandled, dead, quarantined) received before now minus\n"
    "DURATION, and prints how many. Pending and processing events are never deleted.\n"
    "An event's dedup key is deleted with it: a platform retry of a purged event would be\n"
    "accepted as new. The platform retries for 24 h, so DURATION under 25h is refused unless\n"
    "--force-short-retention is given.\n"
    "Freed space is reused by new events; the file does not shrink (run VACUUM offline, with\n"
    "the service stopped, to return it to the filesystem).\n"
    "  --older-than DURATION   a whole number and a unit: s, m, h, d, w (30d, 72h, 2w)\n"
    "  --status S              only these statuses (repeatable, or S1,S2): done, unhandled,\n"
    "                          dead, quarantined (default: all four; dead letters included)\n"
    "  --dry-run               count what would be deleted; opens the database read-only\n"
    "  --force-short-retention allow DURATION under 25h\n"
    "  --config FILE           configuration file naming storage.sqlite_path\n"
    "                          (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH               the database file itself, or a PostgreSQL URL\n";

constexpr const char* kOlderThanFlag = "--older-than";
constexpr const char* kForceFlag = "--force-short-retention";
constexpr const char* kDryRunFlag = "--dry-run";

// The platform retries a delivery for 24 h; one more hour covers clock skew and a retry sent
// just before the window closed.
constexpr std::int64_t kMinRetentionMs = 25LL * 60 * 60 * 1000;
constexpr const char* kMinRetentionText = "25h";

const std::vector<std::string>& terminal_statuses() {
  static const std::vector<std::string> statuses = {"done", "unhandled", "dead", "quarantined"};
  return statuses;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& s : items) text += (text.empty() ? "" : ", ") + s;
  return text;
}

}  // namespace

std::int64_t purge_cutoff_ms(std::int64_t now_ms, std::int64_t retention_ms) {
  return now_ms - retention_ms;
}

int events_purge(const ArgList& argv, Io io, std::int64_t now_ms) {
  const Args args(argv, {kConfigFlag, kDbFlag, kOlderThanFlag, "--status"},
                  {kDryRunFlag, kForceFlag});
  if (args.has("--help")) {
    io.out << kPurgeHelp;
    return 0;
  }
  if (!args.positionals().empty()) {
    throw UsageError("purge takes no arguments ('" + args.positionals().front() + "')");
  }
  const std::string older_than = args.require(kOlderThanFlag);
  const std::int64_t retention_ms = parse_duration_ms(kOlderThanFlag, older_than);
  if (retention_ms < kMinRetentionMs && !args.has(kForceFlag)) {
    throw UsageError(std::string(kOlderThanFlag) + " " + older_than + " is under " +
                     kMinRetentionText +
                     ": the platform retries for 24 h and a retry of a purged event would be "
                     "accepted as new (" +
                     kForceFlag + " to do it anyway)");
  }
  for (const std::string& status : parse_statuses(args, "--status", all_statuses())) {
    if (!is_terminal_status(status)) {
      throw UsageError("--status: purge never deletes " + status + " events (only " +
                       joined(terminal_statuses()) + ")");
    }
  }
  std::vector<std::string> statuses = parse_statuses(args, "--status", terminal_statuses());
  if (statuses.empty()) statuses = terminal_statuses();

  const std::int64_t cutoff_ms = purge_cutoff_ms(now_ms, retention_ms);
  const std::string what = " (" + joined(statuses) + ") received before " + iso_time(cutoff_ms);
  if (args.has(kDryRunFlag)) {
    const EventsDatabase db = open_events(args);
    io.out << "would delete " << events_count(db.queries->count_purgeable(cutoff_ms, statuses))
           << what << " (dry run: nothing deleted)\n";
    return 0;
  }
  const EventsDatabase db = open_events(args, /*writable=*/true);
  io.out << "deleted " << events_count(db.queries->purge_events(cutoff_ms, statuses)) << what
         << "\n";
  return 0;
}

}  // namespace webhook::cli::events_cli
