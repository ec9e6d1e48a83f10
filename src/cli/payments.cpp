// `payments show ID`: one transaction as the "payments" projection knows it (latest status,
// amounts, references, terminal times), with its refund children, parent and under/overpaid
// companions, and the history of the events that touched it. Read-only
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
using projections_cli::amount_cell;
using projections_cli::or_dash;
using projections_cli::time_cell;
using storage::PaymentRow;
using storage::PaymentView;

constexpr const char* kCommand = "payments";

constexpr const char* kPaymentsHelp =
    "usage: webhook-receiver payments show ID [--source S] [--json] [--config FILE | --db PATH]\n"
    "\n"
    "actions:\n"
    "  show ID   one transaction as the \"payments\" projection knows it\n"
    "\n"
    "See webhook-receiver payments show --help.\n";

constexpr const char* kShowHelp =
    "usage: webhook-receiver payments show ID [--source S] [--json] [--config FILE | --db PATH]\n"
    "\n"
    "Prints the transaction ID as the \"payments\" handler projected it: the latest status and\n"
    "the event time that set it, type, amount, externalId, customer, settlement batch, the\n"
    "settled/expired/unsettled times as sent, documentation status; its parent (for a refund),\n"
    "its refund children and its under/overpaid companions (same source); and the history of\n"
    "the events it took, oldest first, with their effect: applied, stale (older than the\n"
    "state), terminal_kept (a terminal status was kept) or no_status (fields only).\n"
    "One block per source that has the id. Exit 1 when no source has it.\n"
    "Opens the database read-only.\n"
    "  --source S      only this source (production, sandbox, ...)\n"
    "  --json          a JSON array, one object per source (empty when not found): the\n"
    "                  columns, *_at ISO times with *_at_ms, \"parent\" (null or an object),\n"
    "                  \"children\", \"companions\", \"history\"; amounts and ids are strings\n"
    "  --config FILE   configuration file naming storage.sqlite_path\n"
    "                  (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH       the database file itself, or a PostgreSQL URL\n";

// Linked rows (children, companions) print their id cut to this many characters.
constexpr std::size_t kMaxIdChars = 40;

// ---- text ---------------------------------------------------------------------------------------

std::string status_cell(const PaymentRow& p) {
  if (p.status.empty()) return "(none yet)";
  std::string cell = printable(p.status);
  cell += p.status_at_ms ? " since " + iso_time(*p.status_at_ms)
                         : " " + std::string(projections_cli::kNoTimestamp);
  cell += " (event " + std::to_string(p.status_event_id);
  if (p.status_origin == "api") cell += ", from the Conomy API";
  return cell + ")";
}

std::string linked_cell(const PaymentRow& p) {
  return printable(p.transaction_id, kMaxIdChars) + "  " + or_dash(p.status) + "  " +
         amount_cell(p.total_amount, p.currency);
}

void print_linked(std::ostream& out, std::string_view title, const std::vector<PaymentRow>& rows) {
  if (rows.empty()) return;
  out << "\n" << title << ":\n";
  Table table;
  table.add({"TRANSACTION", "STATUS", "AMOUNT", "TYPE", "EXTERNAL ID", "FIRST SEEN"});
  for (const PaymentRow& p : rows) {
    table.add({printable(p.transaction_id, kMaxIdChars), or_dash(p.status),
               amount_cell(p.total_amount, p.currency), or_dash(p.type),
               or_dash(printable(p.external_id, kMaxIdChars)), iso_time(p.first_seen_ms)});
  }
  table.print(out);
}

void print_text(std::ostream& out, const std::vector<PaymentView>& views) {
  bool first = true;
  for (const PaymentView& v : views) {
    const PaymentRow& p = v.payment;
    if (!first) out << "\n";
    first = false;
    out << "payment " << printable(p.transaction_id) << " (source " << printable(p.source) << ")\n";
    Table fields;
    fields.add({"status", status_cell(p)});
    fields.add({"type", or_dash(p.type)});
    fields.add({"amount", amount_cell(p.total_amount, p.currency)});
    fields.add({"external_id", or_dash(p.external_id)});
    fields.add({"customer", or_dash(p.customer_id)});
    fields.add({"documentation", or_dash(p.documentation_status)});
    fields.add({"settlement_batch", or_dash(p.settlement_batch_id)});
    fields.add({"settled_at", or_dash(p.settled_at)});
    fields.add({"expired_at", or_dash(p.expired_at)});
    fields.add({"unsettled_at", or_dash(p.unsettled_at)});
    fields.add({"unsettled_reason", or_dash(p.unsettled_reason)});
    fields.add({"captured", p.captured_at_ms ? iso_time(*p.captured_at_ms) : "-"});
    fields.add({"first_seen", iso_time(p.first_seen_ms)});
    fields.add({"last_seen", iso_time(p.last_seen_ms)});
    if (!p.parent_payment_id.empty()) {
      fields.add({"parent", v.parent ? linked_cell(*v.parent)
                                     : printable(p.parent_payment_id) + "  (not seen)"});
    }
    if (!p.related_payment_id.empty()) {
      fields.add({"related", printable(p.related_payment_id)});
    }
    fields.add({"refunds", std::to_string(v.children.size())});
    fields.add({"companions", std::to_string(v.companions.size())});
    fields.print(out);
    print_linked(out, "refunds", v.children);
    print_linked(out, "companions", v.companions);

    out << "\nhistory:\n";
    Table history;
    history.add({"RECEIVED", "OCCURRED", "EVENT", "TYPE", "STATUS", "EFFECT", "ORIGIN"});
    for (const auto& h : v.history) {
      history.add({iso_time(h.received_at_ms), time_cell(h.occurred_at_ms),
                   std::to_string(h.event_id), or_dash(h.event_type), or_dash(h.status),
                   printable(h.effect), printable(h.origin)});
    }
    history.print(out);
  }
}

}  // namespace

int cmd_payments(const ArgList& argv, Io io) {
  const auto show = [&io](const ArgList& rest) {
    return projections_cli::show_action(
        rest, io, kCommand, kShowHelp, "payment", "transaction id",
        [](storage::ProjectionReader& q, const std::string& id,
           const std::optional<std::string>& source) { return q.payment(id, source); },
        [](std::ostream& out, const std::vector<PaymentView>& views, bool json, const Args&) {
          if (json) {
            out << app::documents::payment_views(views);
          } else {
            print_text(out, views);
          }
        });
  };
  return projections_cli::run_actions(kCommand, argv, io, kPaymentsHelp, {{"show", show}});
}

}  // namespace webhook::cli
