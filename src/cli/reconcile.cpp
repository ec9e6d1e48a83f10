// `reconcile`: one reconciliation pass against the Conomy API, now (docs/reconciliation.md).
// Without a target it checks what the service's background pass would (payments overdue for
// settlement, open reviews, stale customers); --transaction, --customer and --since name what
// to check instead. Findings are applied through the projection rules, as in `serve`, unless
// --dry-run. Exit 0 when nothing differs, 1 when something was found or a call failed.

#include <cstdint>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "cli/projections_support.hpp"
#include "webhook/app/config.hpp"
#include "webhook/app/json_out.hpp"
#include "webhook/app/reconciler.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace webhook::cli {
namespace {

constexpr const char* kReconcileHelp =
    "usage: webhook-receiver reconcile [--source NAME] [--transaction ID | --customer ID |\n"
    "                                  --since TIME] [--dry-run] [--json] [--max-calls N]\n"
    "                                  [--config FILE]\n"
    "\n"
    "Re-reads payments, reviews and customers from the Conomy API (sources with an \"api\"\n"
    "object) and compares them with what the webhooks said. What the API is ahead on (a\n"
    "settlement whose webhook never came) is applied through the projection rules and recorded\n"
    "as an event of origin api; what it disagrees on is reported and left. Without a target it\n"
    "checks what the service's own pass would: payments awaiting settlement for longer than\n"
    "monitoring.settlement_overdue_ms, open reviews, and customers last updated longer ago than\n"
    "reconcile.customer_max_age_ms. Prints what it found, one line each, then a summary.\n"
    "  --source NAME       only this source (default: every source with an api)\n"
    "  --transaction ID    this payment (and its review when open)\n"
    "  --customer ID       this customer\n"
    "  --since TIME        every payment not final, open review and customer seen since TIME\n"
    "                      (ISO-8601 UTC like 2026-05-03T10:00:00Z, or an age like 2h, 7d)\n"
    "  --dry-run           ask and compare, change nothing\n"
    "  --json              one JSON object: dry_run, api_requests, seconds, budget_spent,\n"
    "                      found {missed_event, state_differs, not_found, failed}, checks\n"
    "                      [{source, kind, id, finding, webhook_state, api_state, trace_id,\n"
    "                      error, event_id, applied}] (every check, including agreeing ones)\n"
    "  --max-calls N       at most N API requests per source (default 10000)\n"
    "  --config FILE       configuration (default: $WEBHOOK_RECEIVER_CONFIG); the API\n"
    "                      secrets come from the variables its sources[].api names\n"
    "Exit status: 0 nothing differs, 1 something was found or a call failed, 2 usage or\n"
    "configuration error.\n";

constexpr long long kDefaultMaxCalls = 10000;

struct Counts {
  std::int64_t checked = 0;
  std::int64_t missed = 0;
  std::int64_t differs = 0;
  std::int64_t not_found = 0;
  std::int64_t failed = 0;
};

Counts count(const app::PassReport& report) {
  Counts c;
  for (const app::CheckResult& r : report.checks) {
    ++c.checked;
    switch (r.finding) {
      case core::Finding::none:
        break;
      case core::Finding::missed_event:
        ++c.missed;
        break;
      case core::Finding::state_differs:
        ++c.differs;
        break;
      case core::Finding::not_found:
        ++c.not_found;
        break;
      case core::Finding::failed:
        ++c.failed;
        break;
    }
  }
  return c;
}

void print_json(std::ostream& out, const app::PassReport& report, bool dry_run) {
  const Counts c = count(report);
  app::JsonOut j;
  j.start_object();
  j.field("dry_run", dry_run);
  j.field("api_requests", report.api_requests);
  j.decimal("seconds", report.seconds);
  j.field("budget_spent", report.budget_spent);
  j.key("found");
  j.start_object();
  j.field("missed_event", c.missed);
  j.field("state_differs", c.differs);
  j.field("not_found", c.not_found);
  j.field("failed", c.failed);
  j.end_object();
  j.key("checks");
  j.start_array();
  for (const app::CheckResult& r : report.checks) {
    j.start_object();
    j.field("source", r.source);
    j.field("kind", core::to_string(r.kind));
    j.field("id", r.entity_id);
    j.field("finding", core::to_string(r.finding));
    j.field_or_null("webhook_state", r.known);
    j.field_or_null("api_state", r.api);
    j.field_or_null("trace_id", r.trace_id);
    j.field_or_null("error", r.error);
    j.field_or_null("event_id", r.event_id == 0 ? std::nullopt : std::optional(r.event_id));
    j.field("applied", r.applied);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  out << j.str();
}

void print_text(std::ostream& out, const app::PassReport& report, bool dry_run) {
  using events_cli::printable;
  using projections_cli::or_dash;
  events_cli::Table table;
  table.add({"SOURCE", "KIND", "ID", "FOUND", "WEBHOOKS", "API", "EVENT", "TRACE", "NOTE"});
  bool any = false;
  for (const app::CheckResult& r : report.checks) {
    if (r.finding == core::Finding::none) continue;
    any = true;
    std::string note = r.error;
    if (dry_run && r.finding == core::Finding::missed_event) note = "would apply";
    table.add({printable(r.source), std::string(core::to_string(r.kind)), printable(r.entity_id),
               std::string(core::to_string(r.finding)), or_dash(r.known), or_dash(r.api),
               r.event_id == 0 ? "-" : std::to_string(r.event_id), or_dash(r.trace_id),
               printable(note)});
  }
  if (any) table.print(out);
  const Counts c = count(report);
  out << (dry_run ? "dry run: " : "") << "checked " << c.checked << ": " << c.missed
      << " missed event(s)" << (dry_run ? "" : " applied") << ", " << c.differs << " differing, "
      << c.not_found << " not found, " << c.failed << " failed; " << report.api_requests
      << " API request(s) in " << report.seconds << " s"
      << (report.budget_spent ? " (--max-calls reached)" : "") << "\n";
}

}  // namespace

int cmd_reconcile(const ArgList& argv, Io io) {
  const Args args(argv,
                  {events_cli::kConfigFlag, "--source", "--transaction", "--customer", "--since",
                   "--max-calls"},
                  {events_cli::kJsonFlag, "--dry-run"});
  if (args.has("--help")) {
    io.out << kReconcileHelp;
    return 0;
  }
  if (!args.positionals().empty()) {
    throw UsageError("reconcile takes no arguments, only options ('" + args.positionals().front() +
                     "')");
  }
  const int targets = static_cast<int>(args.has("--transaction")) +
                      static_cast<int>(args.has("--customer")) +
                      static_cast<int>(args.has("--since"));
  if (targets > 1) throw UsageError("give one of --transaction, --customer and --since");
  core::SystemClock clock;
  app::ReconcileTarget target;
  target.source = args.get("--source");
  target.transaction_id = args.get("--transaction");
  target.customer_id = args.get("--customer");
  if (const auto since = args.get("--since")) {
    target.since_ms = events_cli::parse_time_ms("--since", *since, clock.now_ms());
  }
  target.dry_run = args.has("--dry-run");
  for (const auto* id : {&target.transaction_id, &target.customer_id}) {
    if (*id && (*id)->empty()) throw UsageError("an empty id names nothing");
  }
  const long long max_calls = args.get_int("--max-calls", 1, 1000000).value_or(kDefaultMaxCalls);

  const app::Config config =
      app::load_config_for_api(args.get(events_cli::kConfigFlag), app::process_environment());
  app::ApiClients clients = app::make_api_clients(config, clock);
  if (clients.sources.empty()) {
    throw app::ConfigError(
        "no source has an \"api\" object: reconciliation needs the Conomy API "
        "(docs/reconciliation.md)");
  }
  if (target.source) {
    bool known = false;
    for (const auto& s : clients.sources) known = known || s.name == *target.source;
    if (!known) {
      throw UsageError("--source " + *target.source +
                       ": no source of that name has an \"api\" object");
    }
  }
  app::ReconcilerOptions options = app::reconciler_options(config);
  options.max_requests_per_pass = max_calls;
  options.pace = std::chrono::milliseconds(0);
  options.recheck_after_ms = 0;

  storage::SqliteInbox inbox(events_cli::open_read_write(args));
  app::Reconciler reconciler(
      clients.sources, inbox.database(),
      [&inbox](core::WorkItem item) -> std::optional<core::WorkRecorded> {
        core::BatchWritten written =
            inbox.write_batch({}, std::span<const core::WorkItem>(&item, 1), true);
        if (!written.ok || written.work.empty()) return std::nullopt;
        return written.work.front();
      },
      clock, options);
  const app::PassReport report = reconciler.run_pass(target);
  if (args.has(events_cli::kJsonFlag)) {
    print_json(io.out, report, target.dry_run);
  } else {
    print_text(io.out, report, target.dry_run);
  }
  return report.anything_found() ? 1 : 0;
}

}  // namespace webhook::cli
