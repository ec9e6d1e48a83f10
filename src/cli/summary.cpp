// `summary`: what an operator looks at first, per source (docs/operator-commands.md): the inbox
// backlog and its oldest age, dead letters, payments awaiting settlement and overdue, open
// reviews with the oldest and how many passed each age bound. --json prints the document the
// admin API answers GET /api/summary with (app/documents.hpp). Read-only.

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "webhook/app/config.hpp"
#include "webhook/app/documents.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/core/timestamp.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_event_queries.hpp"
#include "webhook/storage/pg_url.hpp"

namespace webhook::cli {
namespace {

constexpr const char* kSummaryHelp =
    "usage: webhook-receiver summary [--json] [--config FILE | --db PATH]\n"
    "\n"
    "One line per source: events waiting (pending, processing) and the age of the oldest, dead\n"
    "letters, payments awaiting settlement and those overdue (monitoring.settlement_overdue_ms),\n"
    "open reviews, the age of the oldest, and how many are over each reviews.flag_after_ms bound.\n"
    "The bounds and the sources (each listed, even when quiet) come from the configuration\n"
    "(--config, or $WEBHOOK_RECEIVER_CONFIG) unless --db is given (then only sources with data).\n"
    "Opens the database read-only.\n"
    "  --json          one JSON object: now(_ms) and \"sources\", each with source, backlog\n"
    "                  {pending, processing, oldest_age_ms}, dead, settlement {awaiting,\n"
    "                  oldest_awaiting_age_ms, overdue, overdue_after_ms}, reviews {open,\n"
    "                  oldest_open_age_ms, over: [{after_ms, label, count}]} (the admin API's\n"
    "                  GET /api/summary)\n"
    "  --config FILE   configuration file naming storage.sqlite_path\n"
    "                  (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH       the database file itself, or a PostgreSQL URL\n";

std::string age_cell(std::int64_t now_ms, std::int64_t since_ms) {
  return since_ms == 0 ? "-" : events_cli::short_age(now_ms - since_ms);
}

void print_text(std::ostream& out, const app::documents::SummaryInput& in) {
  const auto sources = app::documents::summarize(in);
  if (sources.empty()) {
    out << "no sources with events waiting, dead letters, payments awaiting settlement or open "
           "reviews\n";
    return;
  }
  std::vector<std::string> header = {"SOURCE",  "PENDING",      "PROCESSING",
                                     "OLDEST",  "DEAD",         "AWAITING SETTLEMENT",
                                     "OVERDUE", "OPEN REVIEWS", "OLDEST REVIEW"};
  for (const std::int64_t bound : in.review_bounds_ms) {
    header.push_back("OVER " + core::duration_label(bound));
  }
  events_cli::Table table;
  table.add(header);
  for (const auto& s : sources) {
    std::vector<std::string> row = {events_cli::printable(s.source),
                                    std::to_string(s.backlog.pending),
                                    std::to_string(s.backlog.processing),
                                    age_cell(in.now_ms, s.backlog.oldest_unfinished_ms),
                                    std::to_string(s.backlog.dead),
                                    std::to_string(s.projections.awaiting_settlement),
                                    std::to_string(s.projections.overdue_settlement),
                                    std::to_string(s.projections.open_reviews),
                                    age_cell(in.now_ms, s.projections.oldest_open_review_ms)};
    for (const std::int64_t count : s.projections.open_reviews_older) {
      row.push_back(std::to_string(count));
    }
    table.add(row);
  }
  table.print(out);
}

}  // namespace

int cmd_summary_at(const ArgList& argv, Io io, std::int64_t now_ms) {
  const Args args(argv, {events_cli::kConfigFlag, events_cli::kDbFlag}, {events_cli::kJsonFlag});
  if (args.has("--help")) {
    io.out << kSummaryHelp;
    return 0;
  }
  if (!args.positionals().empty()) {
    throw UsageError("summary takes no arguments, only options ('" + args.positionals().front() +
                     "')");
  }
  // With --config, its sources are listed even when quiet; with --db only those with data.
  app::Config config = app::default_config();
  std::vector<std::string> sources;
  if (!args.has(events_cli::kDbFlag)) {
    config = app::load_config(args.get(events_cli::kConfigFlag), app::process_environment(), false);
    for (const auto& source : config.sources) sources.push_back(source.name);
  }
  app::documents::SummaryInput in;
  if (const std::string path = events_cli::database_path(args); storage::is_pg_url(path)) {
    storage::PgConnection db = storage::PgConnection::connect(path);
    storage::check_pg_inbox_schema(db);
    in = app::documents::read_summary(db, std::move(sources), config.reviews.flag_after_ms,
                                      config.monitoring.settlement_overdue_ms, now_ms);
  } else {
    storage::Database db = events_cli::open_read_only(args);
    in = app::documents::read_summary(db, std::move(sources), config.reviews.flag_after_ms,
                                      config.monitoring.settlement_overdue_ms, now_ms);
  }
  if (args.has(events_cli::kJsonFlag)) {
    io.out << app::documents::summary(in);
  } else {
    print_text(io.out, in);
  }
  return 0;
}

int cmd_summary(const ArgList& argv, Io io) {
  return cmd_summary_at(argv, io, core::SystemClock().now_ms());
}

}  // namespace webhook::cli
