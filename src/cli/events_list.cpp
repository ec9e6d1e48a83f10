// `events list`: the events matching some filters, newest first, as an aligned table or, with
// --json, a JSON array for scripts. Read-only. The filters go to storage::EventQueries::list()
// (one query over events_received_at that stops at the limit).

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "webhook/app/documents.hpp"

namespace webhook::cli::events_cli {
namespace {

constexpr const char* kListHelp =
    "usage: webhook-receiver events list [--config FILE | --db PATH] [options]\n"
    "\n"
    "Lists events, newest first (by receipt time), as a table; the payload is not shown\n"
    "(events show ID). Filters combine with AND. Opens the database read-only.\n"
    "  --status S       pending, processing, done, unhandled, dead or quarantined; repeat it\n"
    "                   (or S1,S2) for any of several\n"
    "  --type T         the event type exactly, or every type under a prefix: payment.*\n"
    "  --source S       the configured source name (production, sandbox, ...)\n"
    "  --entity ID      the transaction or customer id (a quarantined event's: the SHA-256\n"
    "                   of its body)\n"
    "  --since TIME     received at or after TIME; --until TIME: received before TIME.\n"
    "                   TIME is ISO-8601 UTC (2026-05-03T10:00:00Z, 2026-05-03) or an age:\n"
    "                   15m, 2h, 7d (now minus that)\n"
    "  --limit N        at most N events (default 50)\n"
    "  --oldest-first   oldest first instead\n"
    "  --json           a JSON array of objects: id, source, event_type, entity_kind,\n"
    "                   entity_id, status, attempts, received_at (ISO-8601), received_at_ms,\n"
    "                   next_attempt_at_ms, last_error (null when none), request_id\n"
    "  --config FILE    configuration file naming storage.sqlite_path\n"
    "                   (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH        the database file itself, or a PostgreSQL URL\n";

constexpr long long kDefaultLimit = 50;
constexpr long long kMaxLimit = 1'000'000;
// Table cells longer than these are cut (events show ID prints them whole).
constexpr std::size_t kMaxEntityChars = 40;
constexpr std::size_t kMaxErrorChars = 60;

using storage::EventFilter;
using Row = storage::EventSummary;

EventFilter parse_filter(const Args& args, std::int64_t now_ms) {
  EventFilter f;
  f.statuses = parse_statuses(args, "--status", all_statuses());
  if (auto type = args.get("--type")) {
    const std::size_t star = type->find('*');
    if (type->empty() || (star != std::string::npos &&
                          (star + 1 != type->size() || star < 2 || (*type)[star - 1] != '.'))) {
      throw UsageError("--type: '" + *type +
                       "' is not an event type or a prefix ending in .* (payment.*)");
    }
    f.type_is_prefix = star != std::string::npos;
    f.type = f.type_is_prefix ? type->substr(0, star) : *type;
  }
  f.source = args.get("--source");
  f.entity_id = args.get("--entity");
  if (auto since = args.get("--since")) f.since_ms = parse_time_ms("--since", *since, now_ms);
  if (auto until = args.get("--until")) f.until_ms = parse_time_ms("--until", *until, now_ms);
  if (f.since_ms && f.until_ms && *f.since_ms >= *f.until_ms) {
    throw UsageError("--since must be before --until");
  }
  f.limit = args.get_int("--limit", 1, kMaxLimit).value_or(kDefaultLimit);
  f.oldest_first = args.has("--oldest-first");
  return f;
}

std::string or_dash(std::string text) { return text.empty() ? "-" : text; }

void print_table(std::ostream& out, const std::vector<Row>& rows) {
  if (rows.empty()) {
    out << "no matching events\n";
    return;
  }
  Table table;
  table.add({"ID", "RECEIVED", "STATUS", "ATTEMPTS", "TYPE", "SOURCE", "ENTITY", "LAST ERROR"});
  for (const Row& r : rows) {
    table.add({std::to_string(r.id), iso_time(r.received_at_ms), printable(r.status),
               std::to_string(r.attempts), or_dash(printable(r.event_type)), printable(r.source),
               printable(r.entity_kind + ":" + r.entity_id, kMaxEntityChars),
               or_dash(printable(r.last_error.value_or(""), kMaxErrorChars))});
  }
  table.print(out);
}

}  // namespace

int events_list(const ArgList& argv, Io io, std::int64_t now_ms) {
  const Args args(argv,
                  {kConfigFlag, kDbFlag, "--status", "--type", "--source", "--entity", "--since",
                   "--until", "--limit"},
                  {kJsonFlag, "--oldest-first"});
  if (args.has("--help")) {
    io.out << kListHelp;
    return 0;
  }
  const EventFilter filter = parse_filter(args, now_ms);
  if (!args.positionals().empty()) {
    throw UsageError("list takes no arguments, only options ('" + args.positionals().front() +
                     "')");
  }
  const EventsDatabase db = open_events(args);
  const std::vector<Row> rows = db.queries->list(filter);
  if (args.has(kJsonFlag)) {
    io.out << app::documents::event_list(rows);
  } else {
    print_table(io.out, rows);
    if (static_cast<std::int64_t>(rows.size()) == filter.limit) {
      io.err << "showing " << events_count(filter.limit) << " (the limit); more may match: "
             << "raise --limit\n";
    }
  }
  return 0;
}

}  // namespace webhook::cli::events_cli
