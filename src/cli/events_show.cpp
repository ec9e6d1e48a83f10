// `events show ID`: one event, every column, for an operator deciding what to do with it.
// Text: one "name  value" line per column (times as ISO-8601 UTC with the epoch ms), the dedup
// key, then the raw payload, byte-exact, to the end of the output. --json: one object, the
// payload as "body" (valid UTF-8) or "body_base64". Read-only.

#include <unistd.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <iostream>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "cli/exit_codes.hpp"
#include "webhook/app/documents.hpp"
#include "webhook/core/text.hpp"

namespace webhook::cli::events_cli {
namespace {

constexpr const char* kShowHelp =
    "usage: webhook-receiver events show ID [--json] [--config FILE | --db PATH]\n"
    "\n"
    "Prints one event: every stored column (times as ISO-8601 UTC and epoch milliseconds),\n"
    "its dedup key (source, event name, entity kind, entity id, state token) and, at the end,\n"
    "the raw payload byte-exact as received (piped or redirected, nothing follows it; on a\n"
    "terminal a newline ends it). In the text form \"\" is an empty value and - a NULL one.\n"
    "Exit 1 when there is no such event.\n"
    "Opens the database read-only.\n"
    "  --json          one JSON object: the columns by name, *_at ISO times, \"dedup_key\", and\n"
    "                  the payload as \"body\" (a string, when it is valid UTF-8) or else\n"
    "                  \"body_base64\"\n"
    "  --config FILE   configuration file naming storage.sqlite_path\n"
    "                  (default: $WEBHOOK_RECEIVER_CONFIG, else var/webhook-receiver.db)\n"
    "  --db PATH       the database file itself, or a PostgreSQL URL\n";

// One column as stored: text (NULL kept apart from "") or an integer.
struct Column {
  std::string name;
  std::optional<std::string> text;  // nullopt for NULL or an integer column
  std::optional<std::int64_t> integer;
  bool is_time = false;  // epoch milliseconds
};

struct Event {
  std::vector<Column> columns;  // every column except body, in table order
  std::string body;
};

Column text_column(const char* name, std::optional<std::string> text) {
  return {name, std::move(text), std::nullopt, false};
}
Column integer_column(const char* name, std::int64_t value) {
  return {name, std::nullopt, value, false};
}
Column time_column(const char* name, std::int64_t epoch_ms) {
  return {name, std::nullopt, epoch_ms, true};
}

// The record as named columns in table order (migrations/0001_inbox.sql), the body apart.
Event to_event(storage::EventRecord r) {
  Event e;
  e.columns = {
      integer_column("id", r.id),
      text_column("source", std::move(r.source)),
      text_column("event_name", std::move(r.event_name)),
      text_column("entity_kind", std::move(r.entity_kind)),
      text_column("entity_id", std::move(r.entity_id)),
      text_column("state_token", std::move(r.state_token)),
      text_column("event_type", std::move(r.event_type)),
      text_column("status", std::move(r.status)),
      text_column("quarantine_reason", std::move(r.quarantine_reason)),
      text_column("request_id", std::move(r.request_id)),
      time_column("received_at_ms", r.received_at_ms),
      text_column("scheme", std::move(r.scheme)),
      text_column("candidate", std::move(r.candidate)),
      integer_column("key_slot", r.key_slot),
      integer_column("attempts", r.attempts),
      time_column("next_attempt_at_ms", r.next_attempt_at_ms),
      text_column("last_error", std::move(r.last_error)),
      time_column("updated_at_ms", r.updated_at_ms),
  };
  e.body = std::move(r.body);
  return e;
}

const Column& column(const Event& e, std::string_view name) {
  for (const Column& c : e.columns) {
    if (c.name == name) return c;
  }
  throw std::logic_error("no column " + std::string(name));
}

// The dedup key's columns (the UNIQUE constraint of migrations/0001_inbox.sql), in order.
constexpr const char* kKeyColumns[] = {"source", "event_name", "entity_kind", "entity_id",
                                       "state_token"};

template <typename Writer>
void write_string(Writer& w, std::string_view text) {
  const std::string safe = json_safe(text);
  w.String(safe.data(), static_cast<rapidjson::SizeType>(safe.size()), true);
}

std::string key_as_json_array(const Event& e) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const char* name : kKeyColumns) write_string(w, column(e, name).text.value_or(""));
  w.EndArray();
  return buffer.GetString();
}

// True when `out` is this process's standard output and that is a terminal.
bool is_terminal(const std::ostream& out) {
  return &out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
}

void print_text(std::ostream& out, const Event& e) {
  Table table;  // name, value
  for (const Column& c : e.columns) {
    std::string value;
    if (c.is_time) {
      value = iso_time(*c.integer) + " (" + std::to_string(*c.integer) + ")";
    } else if (c.integer) {
      value = std::to_string(*c.integer);
    } else if (c.text) {
      value = c.text->empty() ? R"("")" : printable(*c.text);  // "" apart from NULL's "-"
    } else {
      value = "-";
    }
    std::string name = c.name;
    if (c.is_time) name = name.substr(0, name.size() - 3);  // received_at_ms -> received_at
    table.add({name, value});
  }
  table.add({"dedup_key", printable(key_as_json_array(e))});
  table.add({"body_bytes", std::to_string(e.body.size())});
  table.print(out);
  out << "body:\n";
  out.write(e.body.data(), static_cast<std::streamsize>(e.body.size()));
  // Byte-exact for pipes and files; on a terminal, end the last line for the prompt.
  if (is_terminal(out) && (e.body.empty() || e.body.back() != '\n')) out << '\n';
}

}  // namespace

int events_show(const ArgList& argv, Io io, std::int64_t /*now_ms*/) {
  const Args args(argv, {kConfigFlag, kDbFlag}, {kJsonFlag});
  if (args.has("--help")) {
    io.out << kShowHelp;
    return 0;
  }
  if (args.positionals().size() != 1) throw UsageError("show needs exactly one event ID");
  const std::int64_t id = parse_event_id(args.positionals().front());
  const EventsDatabase db = open_events(args);
  std::optional<storage::EventRecord> record = db.queries->find(id);
  if (!record) return report_failure(io.err, "events", "no event " + std::to_string(id));
  if (args.has(kJsonFlag)) {
    io.out << app::documents::event_record(*record);
  } else {
    print_text(io.out, to_event(std::move(*record)));
  }
  return 0;
}

}  // namespace webhook::cli::events_cli
