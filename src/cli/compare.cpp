// `compare`: two sources side by side (production and sandbox by default), for checking a
// sandbox run against production traffic (docs/operator-commands.md):
//  1. per event type, the events each source received in [--since, --until): how they ended
//     (done, unhandled, dead, still pending, quarantined), how many needed a retry, and the
//     receipt-to-finish latency (p50, p95, max) of those that finished;
//  2. payments of both sources sharing an externalId: how many agree on their final status, and
//     the pairs that differ.
// Read-only (storage::ProjectionQueries::compare); the default window ends at now_ms.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "cli/exit_codes.hpp"
#include "cli/projections_support.hpp"
#include "webhook/app/documents.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/storage/projection_queries.hpp"

namespace webhook::cli {
namespace {

using events_cli::iso_time;
using events_cli::printable;
using events_cli::Table;
using projections_cli::latency_cell;
using projections_cli::or_dash;
using storage::Comparison;
using storage::SourceEventStats;

constexpr const char* kCommand = "compare";

constexpr const char* kCompareHelp =
    "usage: webhook-receiver compare [--a NAME] [--b NAME] [--since TIME] [--until TIME]\n"
    "                                [--limit N] [--json] [--config FILE | --db PATH]\n"
    "\n"
    "Compares two sources (default: production and sandbox) over the events received in\n"
    "[--since, --until) (default: the 7 days before --until, which defaults to now). Per\n"
    "event type and source: events received, how they ended (done, unhandled, dead,\n"
    "pending = pending or processing, quarantined), retried (needed more than one attempt),\n"
    "and the latency from receipt to finish of done and unhandled events (p50, p95, max;\n"
    "nearest rank). Then the payments\n"
    "of both sources that share an externalId, where either was seen in the window: how many\n"
    "externalIds are shared, how many agree on the latest status, and the pairs that differ.\n"
    "A source with no events shows zeros. Opens the database read-only.\n"
    "  --a NAME         the first source (default production)\n"
    "  --b NAME         the second source (default sandbox)\n"
    "  --since TIME     received at or after TIME (default: --until minus 7 days)\n"
    "  --until TIME     received before TIME (default: now). TIME is ISO-8601 UTC\n"
    "                   (2026-05-03T10:00:00Z, 2026-05-03) or an age: 15m, 2h, 7d\n"
    "  --limit N        list at most N differing pairs (default 100); the counts cover all\n"
    "  --json           one JSON object: a, b, since(_ms), until(_ms), event_types\n"
    "                   [{event_type, a: {...}, b: {...}}], total {a, b}, payments\n"
    "                   {shared_external_ids, agreeing_external_ids, differing_external_ids,\n"
    "                   differing_pairs, differences [{external_id, a: {transaction_id,\n"
    "                   status}, b: {...}}], differences_truncated}. Per source: received,\n"
    "                   done, unhandled, dead, pending, quarantined, retried, p50_ms, p95_ms,\n"
    "                   max_ms (null when nothing finished)\n"
    "  --config FILE    configuration file naming storage.sqlite_path\n"
    "                   (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH        the database file itself, or a PostgreSQL URL\n";

constexpr std::int64_t kDefaultWindowMs = 7LL * 24 * 60 * 60 * 1000;
constexpr long long kDefaultLimit = 100;
constexpr long long kMaxLimit = 1'000'000;
constexpr std::size_t kMaxIdChars = 40;

struct Options {
  std::string a = "production";
  std::string b = "sandbox";
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;
  std::int64_t limit = kDefaultLimit;
};

std::string source_name(const Args& args, const std::string& flag, const char* fallback) {
  const std::optional<std::string> name = args.get(flag);
  if (args.has(flag) && (!name || name->empty())) throw UsageError(flag + " needs a source name");
  return name.value_or(fallback);
}

Options parse_options(const Args& args, std::int64_t now_ms) {
  Options o;
  o.a = source_name(args, "--a", "production");
  o.b = source_name(args, "--b", "sandbox");
  if (o.a == o.b) throw UsageError("--a and --b name the same source '" + o.a + "'");
  o.until_ms = now_ms;
  if (const auto until = args.get("--until")) {
    o.until_ms = events_cli::parse_time_ms("--until", *until, now_ms);
  }
  o.since_ms = o.until_ms - kDefaultWindowMs;
  if (const auto since = args.get("--since")) {
    o.since_ms = events_cli::parse_time_ms("--since", *since, now_ms);
  }
  if (o.since_ms >= o.until_ms) throw UsageError("--since must be before --until");
  o.limit = args.get_int("--limit", 1, kMaxLimit).value_or(kDefaultLimit);
  return o;
}

// ---- text ---------------------------------------------------------------------------------------

void add_stats_row(Table& table, const std::string& type, const std::string& source,
                   const SourceEventStats& s) {
  table.add({type, printable(source, kMaxIdChars), std::to_string(s.received),
             std::to_string(s.done), std::to_string(s.unhandled), std::to_string(s.dead),
             std::to_string(s.pending), std::to_string(s.quarantined), std::to_string(s.retried),
             latency_cell(s.p50_ms), latency_cell(s.p95_ms), latency_cell(s.max_ms)});
}

void print_text(std::ostream& out, const Options& o, const Comparison& c) {
  out << printable(o.a) << " (a) and " << printable(o.b) << " (b), events received from "
      << iso_time(o.since_ms) << " to " << iso_time(o.until_ms) << "\n\n";
  Table table;
  table.add({"EVENT TYPE", "SOURCE", "EVENTS", "DONE", "UNHANDLED", "DEAD", "PENDING",
             "QUARANTINED", "RETRIED", "P50", "P95", "MAX"});
  for (const auto& t : c.by_type) {
    add_stats_row(table, or_dash(t.event_type), o.a, t.a);
    add_stats_row(table, "", o.b, t.b);
  }
  add_stats_row(table, "(all)", o.a, c.total_a);
  add_stats_row(table, "", o.b, c.total_b);
  table.print(out);

  const std::int64_t differing_ids = c.shared_external_ids - c.agreeing_external_ids;
  out << "\npayments sharing an externalId: " << c.shared_external_ids << " externalIds, "
      << c.agreeing_external_ids << " agree, " << differing_ids << " differ";
  if (c.differing_pairs != differing_ids) out << " (" << c.differing_pairs << " pairs)";
  out << "\n";
  if (c.differences.empty()) return;
  Table diffs;
  diffs.add({"EXTERNAL ID", "A TRANSACTION", "A STATUS", "B TRANSACTION", "B STATUS"});
  for (const auto& d : c.differences) {
    diffs.add({printable(d.external_id, kMaxIdChars), printable(d.a_transaction_id, kMaxIdChars),
               or_dash(d.a_status), printable(d.b_transaction_id, kMaxIdChars),
               or_dash(d.b_status)});
  }
  diffs.print(out);
}

}  // namespace

int cmd_compare_at(const ArgList& argv, Io io, std::int64_t now_ms) {
  return guarded(io.err, kCommand, [&]() {
    const Args args(argv,
                    {events_cli::kConfigFlag, events_cli::kDbFlag, "--a", "--b", "--since",
                     "--until", "--limit"},
                    {events_cli::kJsonFlag});
    if (args.has("--help")) {
      io.out << kCompareHelp;
      return 0;
    }
    if (!args.positionals().empty()) {
      throw UsageError("takes no arguments, only options ('" + args.positionals().front() + "')");
    }
    const Options o = parse_options(args, now_ms);

    const events_cli::ProjectionsDatabase db = events_cli::open_projections(args);
    const Comparison c = db.queries->compare(o.a, o.b, o.since_ms, o.until_ms, o.limit);
    if (args.has(events_cli::kJsonFlag)) {
      io.out << app::documents::comparison({o.a, o.b, o.since_ms, o.until_ms}, c);
      return 0;
    }
    print_text(io.out, o, c);
    if (static_cast<std::int64_t>(c.differences.size()) < c.differing_pairs) {
      io.err << "showing " << c.differences.size() << " of " << c.differing_pairs
             << " differing pairs (the limit): raise --limit\n";
    }
    return 0;
  });
}

int cmd_compare(const ArgList& argv, Io io) {
  return cmd_compare_at(argv, io, core::SystemClock().now_ms());
}

}  // namespace webhook::cli
