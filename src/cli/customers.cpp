// `customers show ID`: one customer as the "customers" projection knows it (operationLevel,
// documentsCount, documented, autoCreated, when it was seen) and the history of the level events
// it took, with their effect (applied, or stale: older than the state shown). Read-only
// (storage::ProjectionQueries; docs/operator-commands.md).

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "cli/projections_support.hpp"
#include "webhook/app/documents.hpp"
#include "webhook/storage/projection_queries.hpp"

namespace webhook::cli {
namespace {

using events_cli::iso_time;
using events_cli::printable;
using events_cli::Table;
using projections_cli::or_dash;
using projections_cli::time_cell;
using storage::CustomerRow;
using storage::CustomerView;

constexpr const char* kCommand = "customers";

constexpr const char* kCustomersHelp =
    "usage: webhook-receiver customers show ID [--source S] [--json] [--config FILE | --db PATH]\n"
    "\n"
    "actions:\n"
    "  show ID   one customer as the \"customers\" projection knows it\n"
    "\n"
    "See webhook-receiver customers show --help.\n";

constexpr const char* kShowHelp =
    "usage: webhook-receiver customers show ID [--source S] [--json] [--config FILE | --db PATH]\n"
    "\n"
    "Prints the customer ID: operationLevel, documentsCount, documented (set once a document\n"
    "was approved, and kept), autoCreated, the event time of the state shown (when that event\n"
    "had none: the latest event time known before it), when it was first and last seen; then the "
    "history of its customer.levelChanged events, oldest received\n"
    "first, each with the level and count it carried and its effect: applied, or stale (older\n"
    "than the state shown, so it changed nothing). An event without a timestamp shows\n"
    "\"(no timestamp)\": arrival order decided for it.\n"
    "One block per source that has the id. Exit 1 when no source has it.\n"
    "Opens the database read-only.\n"
    "  --source S      only this source (production, sandbox, ...)\n"
    "  --json          a JSON array, one object per source (empty when not found): source,\n"
    "                  customer_id, client_id, operation_level, documents_count, documented,\n"
    "                  auto_created, state_at(_ms), state_event_id, first_seen(_ms),\n"
    "                  last_seen(_ms), history [{event_id, event_type, operation_level,\n"
    "                  documents_count, occurred_at(_ms), received_at(_ms), effect}]\n"
    "  --config FILE   configuration file naming storage.sqlite_path\n"
    "                  (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH       the database file itself, or a PostgreSQL URL\n";

std::string yes_no(std::optional<bool> value) {
  if (!value) return "-";
  return *value ? "yes" : "no";
}

std::string count_cell(std::optional<std::int64_t> count) {
  return count ? std::to_string(*count) : "-";
}

// When the state shown came from an event without a timestamp, state_at_ms is the latest event
// time known before it (the store keeps it to order later events), not that event's time.
std::string state_at_cell(const CustomerView& v) {
  const CustomerRow& c = v.customer;
  const std::string event = "(event " + std::to_string(c.state_event_id) + ")";
  for (const auto& h : v.history) {
    if (h.event_id == c.state_event_id && !h.occurred_at_ms && c.state_at_ms) {
      return std::string(projections_cli::kNoTimestamp) + " " + event + "; latest event time " +
             iso_time(*c.state_at_ms);
    }
  }
  return time_cell(c.state_at_ms) + " " + event;
}

void print_text(std::ostream& out, const std::vector<CustomerView>& views) {
  bool first = true;
  for (const CustomerView& v : views) {
    const CustomerRow& c = v.customer;
    if (!first) out << "\n";
    first = false;
    out << "customer " << printable(c.customer_id) << " (source " << printable(c.source) << ")\n";
    Table fields;
    fields.add({"operation_level", or_dash(c.operation_level)});
    fields.add({"documents_count", count_cell(c.documents_count)});
    fields.add({"documented", yes_no(c.documented)});
    fields.add({"auto_created", yes_no(c.auto_created)});
    fields.add({"client", or_dash(c.client_id)});
    fields.add({"state_at", state_at_cell(v)});
    fields.add({"first_seen", iso_time(c.first_seen_ms)});
    fields.add({"last_seen", iso_time(c.last_seen_ms)});
    fields.print(out);

    out << "\nhistory:\n";
    Table history;
    history.add(
        {"RECEIVED", "OCCURRED", "EVENT", "TYPE", "LEVEL", "DOCUMENTS", "EFFECT", "ORIGIN"});
    for (const auto& h : v.history) {
      history.add({iso_time(h.received_at_ms), time_cell(h.occurred_at_ms),
                   std::to_string(h.event_id), or_dash(h.event_type), or_dash(h.operation_level),
                   count_cell(h.documents_count), printable(h.effect), printable(h.origin)});
    }
    history.print(out);
  }
}

}  // namespace

int cmd_customers(const ArgList& argv, Io io) {
  const auto show = [&io](const ArgList& rest) {
    return projections_cli::show_action(
        rest, io, kCommand, kShowHelp, "customer", "customer id",
        [](storage::ProjectionReader& q, const std::string& id,
           const std::optional<std::string>& source) { return q.customer(id, source); },
        [](std::ostream& out, const std::vector<CustomerView>& views, bool json, const Args&) {
          if (json) {
            out << app::documents::customer_views(views);
          } else {
            print_text(out, views);
          }
        });
  };
  return projections_cli::run_actions(kCommand, argv, io, kCustomersHelp, {{"show", show}});
}

}  // namespace webhook::cli
