// `events list`: the events matching some filters, newest first, as an aligned table or, with
// --json, a JSON array for scripts. Read-only. The query is one SELECT put together from the
// fixed fragments below (only the number of status placeholders varies); every value is bound.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"

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
    "  --db PATH        the database file itself\n";

constexpr long long kDefaultLimit = 50;
constexpr long long kMaxLimit = 1'000'000;
// Table cells longer than these are cut (events show ID prints them whole).
constexpr std::size_t kMaxEntityChars = 40;
constexpr std::size_t kMaxErrorChars = 60;

// The fragments of the list query. The newest-first order walks the events_received_at index
// (migrations/0002_events_received_at.sql) backwards and stops at the limit.
constexpr const char* kListSelect =
    "SELECT id, source, event_type, entity_kind, entity_id, status, attempts, received_at_ms,"
    " next_attempt_at_ms, last_error, request_id FROM events";
constexpr const char* kWhereStatusIn = "status IN (";  // + placeholders + ")"
constexpr const char* kWhereType = "event_type = ?";
// A prefix "payment." as the byte range ["payment.", "payment/"): no LIKE escaping to get wrong.
constexpr const char* kWhereTypePrefix = "event_type >= ? AND event_type < ?";
constexpr const char* kWhereSource = "source = ?";
constexpr const char* kWhereEntity = "entity_id = ?";
constexpr const char* kWhereSince = "received_at_ms >= ?";
constexpr const char* kWhereUntil = "received_at_ms < ?";
constexpr const char* kNewestFirst = " ORDER BY received_at_ms DESC, id DESC LIMIT ?";
constexpr const char* kOldestFirst = " ORDER BY received_at_ms, id LIMIT ?";

struct ListFilter {
  std::vector<std::string> statuses;  // empty: any
  std::optional<std::string> type;
  bool type_is_prefix = false;  // `type` is a prefix ending in '.'
  std::optional<std::string> source;
  std::optional<std::string> entity;
  std::optional<std::int64_t> since_ms;
  std::optional<std::int64_t> until_ms;
  std::int64_t limit = kDefaultLimit;
  bool oldest_first = false;
};

ListFilter parse_filter(const Args& args, std::int64_t now_ms) {
  ListFilter f;
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
  f.entity = args.get("--entity");
  if (auto since = args.get("--since")) f.since_ms = parse_time_ms("--since", *since, now_ms);
  if (auto until = args.get("--until")) f.until_ms = parse_time_ms("--until", *until, now_ms);
  if (f.since_ms && f.until_ms && *f.since_ms >= *f.until_ms) {
    throw UsageError("--since must be before --until");
  }
  f.limit = args.get_int("--limit", 1, kMaxLimit).value_or(kDefaultLimit);
  f.oldest_first = args.has("--oldest-first");
  return f;
}

using Bound = std::variant<std::string, std::int64_t>;

struct SqlWithBinds {
  std::string sql;
  std::vector<Bound> binds;
};

SqlWithBinds build_query(const ListFilter& f) {
  SqlWithBinds q{kListSelect, {}};
  std::vector<std::string> conditions;
  if (!f.statuses.empty()) {
    conditions.push_back(kWhereStatusIn + placeholders(f.statuses.size()) + ")");
    for (const std::string& s : f.statuses) q.binds.emplace_back(s);
  }
  if (f.type && f.type_is_prefix) {
    conditions.emplace_back(kWhereTypePrefix);
    std::string upper = *f.type;
    upper.back() = static_cast<char>(upper.back() + 1);  // '.' -> '/'
    q.binds.emplace_back(*f.type);
    q.binds.emplace_back(upper);
  } else if (f.type) {
    conditions.emplace_back(kWhereType);
    q.binds.emplace_back(*f.type);
  }
  if (f.source) {
    conditions.emplace_back(kWhereSource);
    q.binds.emplace_back(*f.source);
  }
  if (f.entity) {
    conditions.emplace_back(kWhereEntity);
    q.binds.emplace_back(*f.entity);
  }
  if (f.since_ms) {
    conditions.emplace_back(kWhereSince);
    q.binds.emplace_back(*f.since_ms);
  }
  if (f.until_ms) {
    conditions.emplace_back(kWhereUntil);
    q.binds.emplace_back(*f.until_ms);
  }
  for (std::size_t i = 0; i < conditions.size(); ++i) {
    q.sql += (i == 0 ? " WHERE " : " AND ") + conditions[i];
  }
  q.sql += f.oldest_first ? kOldestFirst : kNewestFirst;
  q.binds.emplace_back(f.limit);
  return q;
}

struct Row {
  std::int64_t id = 0;
  std::string source;
  std::string event_type;
  std::string entity_kind;
  std::string entity_id;
  std::string status;
  std::int64_t attempts = 0;
  std::int64_t received_at_ms = 0;
  std::int64_t next_attempt_at_ms = 0;
  std::optional<std::string> last_error;
  std::string request_id;
};

std::vector<Row> run_query(storage::Database& db, const SqlWithBinds& q) {
  storage::Statement statement(db, q.sql);
  storage::Statement::Use query(statement);  // `q` outlives it: bound text is not copied
  int index = 1;
  for (const Bound& b : q.binds) {
    if (const auto* text = std::get_if<std::string>(&b)) {
      query.text(index++, *text);
    } else {
      query.integer(index++, std::get<std::int64_t>(b));
    }
  }
  std::vector<Row> rows;
  while (query.step()) {
    Row r;
    r.id = query.column_int(0);
    r.source = query.column_bytes(1);
    r.event_type = query.column_bytes(2);
    r.entity_kind = query.column_bytes(3);
    r.entity_id = query.column_bytes(4);
    r.status = query.column_bytes(5);
    r.attempts = query.column_int(6);
    r.received_at_ms = query.column_int(7);
    r.next_attempt_at_ms = query.column_int(8);
    if (!query.column_null(9)) r.last_error = query.column_bytes(9);
    r.request_id = query.column_bytes(10);
    rows.push_back(std::move(r));
  }
  return rows;
}

void print_json(std::ostream& out, const std::vector<Row>& rows) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  const auto string = [&w](std::string_view text) {
    const std::string safe = json_safe(text);
    w.String(safe.data(), static_cast<rapidjson::SizeType>(safe.size()), true);
  };
  w.StartArray();
  for (const Row& r : rows) {
    w.StartObject();
    w.Key("id");
    w.Int64(r.id);
    w.Key("source");
    string(r.source);
    w.Key("event_type");
    string(r.event_type);
    w.Key("entity_kind");
    string(r.entity_kind);
    w.Key("entity_id");
    string(r.entity_id);
    w.Key("status");
    string(r.status);
    w.Key("attempts");
    w.Int64(r.attempts);
    w.Key("received_at");
    string(iso_time(r.received_at_ms));
    w.Key("received_at_ms");
    w.Int64(r.received_at_ms);
    w.Key("next_attempt_at_ms");
    w.Int64(r.next_attempt_at_ms);
    w.Key("last_error");
    if (r.last_error) {
      string(*r.last_error);
    } else {
      w.Null();
    }
    w.Key("request_id");
    string(r.request_id);
    w.EndObject();
  }
  w.EndArray();
  out << buffer.GetString() << '\n';
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
  const ListFilter filter = parse_filter(args, now_ms);
  if (!args.positionals().empty()) {
    throw UsageError("list takes no arguments, only options ('" + args.positionals().front() +
                     "')");
  }
  storage::Database db = open_read_only(args);
  const std::vector<Row> rows = run_query(db, build_query(filter));
  if (args.has(kJsonFlag)) {
    print_json(io.out, rows);
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
