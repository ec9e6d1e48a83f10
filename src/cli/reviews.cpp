// `reviews list|show`: the review queue kept by the "reviews" handler (docs/operator-commands.md).
//  1. cmd_reviews_at() picks the action and maps errors to exit codes (projections_support).
//  2. list: open reviews oldest opened first (then closed ones, newest first, with --state),
//     each with its age and the highest configured age bound it passed (reviews.flag_after_ms,
//     "over 4h" / "over 24h"): what WEBHOOKS.md 7 asks an operator to escalate.
//  3. show: one review with the history of the events that moved it.
// Read-only; ages are taken from now_ms.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "cli/projections_support.hpp"
#include "webhook/app/config.hpp"
#include "webhook/app/documents.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/core/timestamp.hpp"
#include "webhook/storage/projection_queries.hpp"

namespace webhook::cli {
namespace {

namespace documents = app::documents;

using events_cli::iso_time;
using events_cli::printable;
using events_cli::short_age;
using events_cli::Table;
using projections_cli::amount_cell;
using projections_cli::or_dash;
using projections_cli::time_cell;
using storage::ReviewFilter;
using storage::ReviewRow;
using storage::ReviewView;

constexpr const char* kCommand = "reviews";

constexpr const char* kReviewsHelp =
    "usage: webhook-receiver reviews <action> [options]\n"
    "\n"
    "actions:\n"
    "  list [--state open|closed|all] [--source S] [--older-than DURATION] [--limit N] [--json]\n"
    "                 the review queue: open reviews oldest first, with their age flags\n"
    "  show TXID [--source S] [--json]\n"
    "                 one review and the events that moved it\n"
    "\n"
    "Every action takes --config FILE or --db PATH, and --help; the database is opened\n"
    "read-only and never created. Exit codes: 0 success, 1 runtime failure (no such review,\n"
    "no database, not migrated), 2 usage or configuration error.\n";

constexpr const char* kListHelp =
    "usage: webhook-receiver reviews list [options] [--config FILE | --db PATH]\n"
    "\n"
    "Lists reviews: open ones oldest opened first; with --state closed or all, closed ones\n"
    "most recently opened first (after the open ones). Columns: source, transaction, amount,\n"
    "customer, documentation status, opened (event time of the opening, else its receipt),\n"
    "age, flag, state (closed: its outcome), notified (sent, pending, skipped, cancelled; - when "
    "no\n"
    "notification was owed). The flag names the highest bound of reviews.flag_after_ms (default\n"
    "4h and 24h) an open review's age is over: \"over 4h\", \"over 24h\". The bounds come from "
    "the\n"
    "configuration (--config, or $WEBHOOK_RECEIVER_CONFIG) unless --db is given.\n"
    "Opens the database read-only.\n"
    "  --state S          open (default), closed or all\n"
    "  --source S         only this source (production, sandbox, ...)\n"
    "  --older-than DUR   only reviews opened more than DUR ago (15m, 4h, 1d)\n"
    "  --limit N          at most N reviews (default 100)\n"
    "  --json             a JSON array of objects: source, transaction_id, state, outcome,\n"
    "                     cycle, external_id, total_amount, currency, customer_id,\n"
    "                     documentation_status, opened_at(_ms), age_ms, flag, flag_after_ms,\n"
    "                     closed_at(_ms), notify_state, notified_at(_ms); null when unknown\n"
    "  --config FILE      configuration file naming storage.sqlite_path\n"
    "                     (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH          the database file itself, or a PostgreSQL URL\n";

constexpr const char* kShowHelp =
    "usage: webhook-receiver reviews show TXID [--source S] [--json] [--config FILE | --db PATH]\n"
    "\n"
    "Prints the review of transaction TXID: state and outcome, cycle (a reopened review counts\n"
    "up), amount, customer, documentation status, opening and closing times, notification, and\n"
    "the history of the events it took, oldest first, with what each did: opened, reopened,\n"
    "closed, refined (a generic outcome made specific), stale (older than the review), noted.\n"
    "One block per source that has it. Exit 1 when no source has it.\n"
    "Opens the database read-only.\n"
    "  --source S      only this source\n"
    "  --json          a JSON array, one object per source (empty when not found): the list\n"
    "                  fields plus opened_event_id, closed_event_id, notify_event_id,\n"
    "                  updated_at(_ms) and \"history\"\n"
    "  --config FILE   configuration file naming storage.sqlite_path\n"
    "                  (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH       the database file itself, or a PostgreSQL URL\n";

constexpr long long kDefaultLimit = 100;
constexpr long long kMaxLimit = 1'000'000;
constexpr std::size_t kMaxIdChars = 40;

std::string state_cell(const ReviewRow& r) {
  if (r.state != "closed") return printable(r.state);
  return r.outcome.empty() ? "closed" : "closed (" + printable(r.outcome) + ")";
}

// The bounds for the flags: the configuration's unless --db names the database directly.
std::vector<std::int64_t> flag_bounds(const Args& args) {
  if (args.has(events_cli::kDbFlag)) return app::ReviewsConfig{}.flag_after_ms;
  return app::load_config(args.get(events_cli::kConfigFlag), app::process_environment(), false)
      .reviews.flag_after_ms;
}

// ---- list ---------------------------------------------------------------------------------------

ReviewFilter parse_filter(const Args& args, std::int64_t now_ms) {
  ReviewFilter f;
  if (const auto state = args.get("--state")) {
    if (*state == "open") {
      f.state = ReviewFilter::State::open;
    } else if (*state == "closed") {
      f.state = ReviewFilter::State::closed;
    } else if (*state == "all") {
      f.state = ReviewFilter::State::all;
    } else {
      throw UsageError("--state: '" + *state + "' is not one of open, closed, all");
    }
  }
  f.source = projections_cli::source_flag(args);
  if (const auto older = args.get("--older-than")) {
    f.opened_before_ms = now_ms - events_cli::parse_duration_ms("--older-than", *older);
  }
  f.limit = args.get_int("--limit", 1, kMaxLimit).value_or(kDefaultLimit);
  return f;
}

void print_list_text(std::ostream& out, const std::vector<ReviewRow>& rows,
                     const std::vector<std::int64_t>& bounds, std::int64_t now_ms) {
  if (rows.empty()) {
    out << "no matching reviews\n";
    return;
  }
  Table table;
  table.add({"SOURCE", "TRANSACTION", "AMOUNT", "CUSTOMER", "DOCUMENTATION", "OPENED", "AGE",
             "FLAG", "STATE", "NOTIFIED"});
  for (const ReviewRow& r : rows) {
    const std::optional<std::int64_t> age = documents::review_age_ms(r, now_ms);
    const std::string flag =
        documents::review_flag_label(documents::review_flag_bound(r, bounds, now_ms));
    table.add({printable(r.source), printable(r.transaction_id, kMaxIdChars),
               amount_cell(r.total_amount, r.currency),
               or_dash(printable(r.customer_id, kMaxIdChars)), or_dash(r.documentation_status),
               r.opened_at_ms ? iso_time(*r.opened_at_ms) : "-", age ? short_age(*age) : "-",
               or_dash(flag), state_cell(r), or_dash(r.notify_state)});
  }
  table.print(out);
}

int reviews_list(const ArgList& argv, Io io, std::int64_t now_ms) {
  const Args args(argv,
                  {events_cli::kConfigFlag, events_cli::kDbFlag, projections_cli::kSourceFlag,
                   "--state", "--older-than", "--limit"},
                  {events_cli::kJsonFlag});
  if (args.has("--help")) {
    io.out << kListHelp;
    return 0;
  }
  if (!args.positionals().empty()) {
    throw UsageError("list takes no arguments, only options ('" + args.positionals().front() +
                     "')");
  }
  const ReviewFilter filter = parse_filter(args, now_ms);
  const std::vector<std::int64_t> bounds = flag_bounds(args);

  const events_cli::ProjectionsDatabase db = events_cli::open_projections(args);
  const std::vector<ReviewRow> rows = db.queries->reviews(filter);
  if (args.has(events_cli::kJsonFlag)) {
    io.out << documents::review_list(rows, bounds, now_ms);
    return 0;
  }
  print_list_text(io.out, rows, bounds, now_ms);
  if (static_cast<std::int64_t>(rows.size()) == filter.limit) {
    io.err << "showing " << filter.limit << (filter.limit == 1 ? " review" : " reviews")
           << " (the limit); more may match: raise --limit\n";
  }
  return 0;
}

// ---- show ---------------------------------------------------------------------------------------

void print_show_text(std::ostream& out, const std::vector<ReviewView>& views,
                     const std::vector<std::int64_t>& bounds, std::int64_t now_ms) {
  bool first = true;
  for (const ReviewView& v : views) {
    const ReviewRow& r = v.review;
    if (!first) out << "\n";
    first = false;
    out << "review of " << printable(r.transaction_id) << " (source " << printable(r.source)
        << ")\n";
    Table fields;
    fields.add({"state", state_cell(r)});
    fields.add({"cycle", std::to_string(r.cycle)});
    fields.add({"amount", amount_cell(r.total_amount, r.currency)});
    fields.add({"external_id", or_dash(r.external_id)});
    fields.add({"customer", or_dash(r.customer_id)});
    fields.add({"documentation", or_dash(r.documentation_status)});
    std::string opened = "-";
    if (r.opened_at_ms) {
      opened = iso_time(*r.opened_at_ms);
      if (const auto age = documents::review_age_ms(r, now_ms)) {
        opened += ", age " + short_age(*age);
      }
      if (const auto bound = documents::review_flag_bound(r, bounds, now_ms)) {
        opened += ", " + documents::review_flag_label(bound);
      }
      if (r.opened_event_id) opened += " (event " + std::to_string(*r.opened_event_id) + ")";
    } else {
      opened = "(no opening event received)";
    }
    fields.add({"opened", opened});
    std::string closed = "-";
    if (r.closed_at_ms) {
      closed = iso_time(*r.closed_at_ms);
      if (r.closed_event_id) closed += " (event " + std::to_string(*r.closed_event_id) + ")";
    }
    fields.add({"closed", closed});
    std::string notified = or_dash(r.notify_state);
    if (r.notified_at_ms) notified += " at " + iso_time(*r.notified_at_ms);
    fields.add({"notified", notified});
    fields.add({"updated", iso_time(r.updated_at_ms)});
    fields.print(out);

    out << "\nhistory:\n";
    Table history;
    history.add({"RECEIVED", "OCCURRED", "EVENT", "TYPE", "ACTION", "ORIGIN"});
    for (const auto& h : v.history) {
      history.add({iso_time(h.received_at_ms), time_cell(h.occurred_at_ms),
                   std::to_string(h.event_id), or_dash(h.event_type), printable(h.action),
                   printable(h.origin)});
    }
    history.print(out);
  }
}

}  // namespace

int cmd_reviews_at(const ArgList& argv, Io io, std::int64_t now_ms) {
  const auto list = [&io, now_ms](const ArgList& rest) { return reviews_list(rest, io, now_ms); };
  const auto show = [&io, now_ms](const ArgList& rest) {
    return projections_cli::show_action(
        rest, io, kCommand, kShowHelp, "review", "transaction id",
        [](storage::ProjectionReader& q, const std::string& id,
           const std::optional<std::string>& source) { return q.review(id, source); },
        [now_ms](std::ostream& out, const std::vector<ReviewView>& views, bool json,
                 const Args& args) {
          const std::vector<std::int64_t> bounds = flag_bounds(args);
          if (json) {
            out << documents::review_views(views, bounds, now_ms);
          } else {
            print_show_text(out, views, bounds, now_ms);
          }
        });
  };
  return projections_cli::run_actions(kCommand, argv, io, kReviewsHelp,
                                      {{"list", list}, {"show", show}});
}

int cmd_reviews(const ArgList& argv, Io io) {
  return cmd_reviews_at(argv, io, core::SystemClock().now_ms());
}

}  // namespace webhook::cli
