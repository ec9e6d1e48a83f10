// SqliteEventQueries (include/webhook/storage/event_queries.hpp). Every query is a named
// constant (or, for `list` and `purge`, fixed fragments of which only the number of status
// placeholders varies) with the index it walks; every value is bound.

#include "webhook/storage/event_queries.hpp"

#include <sqlite3.h>

#include <utility>
#include <variant>

#include "webhook/storage/statement.hpp"

namespace webhook::storage {
namespace {

// The schema version of a database that has the events table (migrations/0001_inbox.sql).
constexpr int kInboxSchemaVersion = 1;

// ---- list -------------------------------------------------------------------------------------

// The newest-first order walks the events_received_at index
// (migrations/0002_events_received_at.sql) backwards and stops at the limit. With a source or a
// status filter SQLite prefers events_entity or events_status_due and sorts the matches.
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
constexpr const char* kWhereBefore = "(received_at_ms, id) < (?, ?)";
constexpr const char* kNewestFirst = " ORDER BY received_at_ms DESC, id DESC LIMIT ?";
constexpr const char* kOldestFirst = " ORDER BY received_at_ms, id LIMIT ?";

// ---- show -------------------------------------------------------------------------------------

// Primary key.
constexpr const char* kSelectEvent = R"sql(
SELECT id, source, event_name, entity_kind, entity_id, state_token, event_type, status,
       quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot,
       attempts, next_attempt_at_ms, last_error, updated_at_ms
FROM events WHERE id = ?
)sql";

// ---- stats ------------------------------------------------------------------------------------

// The whole table, once.
constexpr const char* kCountByTypeAndStatus = R"sql(
SELECT event_type, status, count(*), min(received_at_ms) FROM events GROUP BY event_type, status
)sql";

// ---- purge ------------------------------------------------------------------------------------

// Both statements end with the status IN list (placeholders appended). SQLite (without ANALYZE
// statistics) searches events_status_due once per status and filters on received_at_ms; the
// events_received_at range is not used.
constexpr const char* kCountPurgeable =
    "SELECT count(*) FROM events WHERE received_at_ms < ? AND status IN (";
constexpr const char* kDeletePurgeableBatch =
    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received_at_ms < ? AND "
    "status IN (";

// ---- replay -----------------------------------------------------------------------------------

// Primary key range.
constexpr const char* kSelectIdRange = R"sql(
SELECT id, source, event_type, status, body, request_id, received_at_ms, scheme
FROM events WHERE id BETWEEN ?1 AND ?2 ORDER BY id
)sql";
constexpr const char* kCountIdRange = "SELECT count(*) FROM events WHERE id BETWEEN ?1 AND ?2";

// "?, ?, ?" for an IN list of `n` parameters.
std::string placeholders(std::size_t n) {
  std::string list;
  for (std::size_t i = 0; i < n; ++i) list += i == 0 ? "?" : ", ?";
  return list;
}

void bind_statuses(Statement::Use& query, int first, const std::vector<std::string>& statuses) {
  for (const std::string& s : statuses) query.text(first++, s);
}

std::optional<std::string> optional_text(const Statement::Use& query, int col) {
  if (query.column_null(col)) return std::nullopt;
  return query.column_bytes(col);
}

using Bound = std::variant<std::string, std::int64_t>;

struct SqlWithBinds {
  std::string sql;
  std::vector<Bound> binds;
};

SqlWithBinds list_query(const EventFilter& f) {
  SqlWithBinds q{kListSelect, {}};
  std::vector<std::string> conditions;
  if (!f.statuses.empty()) {
    conditions.push_back(kWhereStatusIn + placeholders(f.statuses.size()) + ")");
    for (const std::string& s : f.statuses) q.binds.emplace_back(s);
  }
  if (f.type && f.type_is_prefix) {
    if (!f.type->empty()) {  // every type is under the empty prefix
      conditions.emplace_back(kWhereTypePrefix);
      std::string upper = *f.type;
      upper.back() = static_cast<char>(upper.back() + 1);  // '.' -> '/'
      q.binds.emplace_back(*f.type);
      q.binds.emplace_back(upper);
    }
  } else if (f.type) {
    conditions.emplace_back(kWhereType);
    q.binds.emplace_back(*f.type);
  }
  if (f.source) {
    conditions.emplace_back(kWhereSource);
    q.binds.emplace_back(*f.source);
  }
  if (f.entity_id) {
    conditions.emplace_back(kWhereEntity);
    q.binds.emplace_back(*f.entity_id);
  }
  if (f.since_ms) {
    conditions.emplace_back(kWhereSince);
    q.binds.emplace_back(*f.since_ms);
  }
  if (f.until_ms) {
    conditions.emplace_back(kWhereUntil);
    q.binds.emplace_back(*f.until_ms);
  }
  if (f.before) {  // the page after an admin cursor: strictly after it in newest-first order
    conditions.emplace_back(kWhereBefore);
    q.binds.emplace_back(f.before->received_at_ms);
    q.binds.emplace_back(f.before->id);
  }
  for (std::size_t i = 0; i < conditions.size(); ++i) {
    q.sql += (i == 0 ? " WHERE " : " AND ") + conditions[i];
  }
  q.sql += f.oldest_first ? kOldestFirst : kNewestFirst;
  q.binds.emplace_back(f.limit);
  return q;
}

// Holds the id-range statement open between next() calls; the Use resets it when the cursor
// goes, so no read lock outlives the cursor.
class SqliteEventCursor final : public EventCursor {
 public:
  SqliteEventCursor(Database& db, std::int64_t first_id, std::int64_t last_id)
      : statement_(db, kSelectIdRange), query_(statement_) {
    query_.integer(1, first_id);
    query_.integer(2, last_id);
  }

  std::optional<ReplayEvent> next() override {
    if (finished_ || !query_.step()) {
      finished_ = true;
      return std::nullopt;
    }
    ReplayEvent e;
    e.id = query_.column_int(0);
    e.source = query_.column_bytes(1);
    e.event_type = query_.column_bytes(2);
    e.status = query_.column_bytes(3);
    e.body = query_.column_bytes(4);
    e.request_id = query_.column_bytes(5);
    e.received_at_ms = query_.column_int(6);
    e.scheme = query_.column_bytes(7);
    return e;
  }

 private:
  Statement statement_;
  Statement::Use query_;  // after statement_: reset before it is finalized
  bool finished_ = false;
};

}  // namespace

std::vector<EventSummary> SqliteEventQueries::list(const EventFilter& filter) {
  const SqlWithBinds q = list_query(filter);
  Statement statement(db_, q.sql);
  Statement::Use query(statement);  // `q` outlives it: bound text is not copied
  int index = 1;
  for (const Bound& b : q.binds) {
    if (const auto* text = std::get_if<std::string>(&b)) {
      query.text(index++, *text);
    } else {
      query.integer(index++, std::get<std::int64_t>(b));
    }
  }
  std::vector<EventSummary> rows;
  while (query.step()) {
    EventSummary r;
    r.id = query.column_int(0);
    r.source = query.column_bytes(1);
    r.event_type = query.column_bytes(2);
    r.entity_kind = query.column_bytes(3);
    r.entity_id = query.column_bytes(4);
    r.status = query.column_bytes(5);
    r.attempts = query.column_int(6);
    r.received_at_ms = query.column_int(7);
    r.next_attempt_at_ms = query.column_int(8);
    r.last_error = optional_text(query, 9);
    r.request_id = query.column_bytes(10);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::optional<EventRecord> SqliteEventQueries::find(std::int64_t id) {
  Statement statement(db_, kSelectEvent);
  Statement::Use query(statement);
  query.integer(1, id);
  if (!query.step()) return std::nullopt;
  EventRecord e;
  e.id = query.column_int(0);
  e.source = query.column_bytes(1);
  e.event_name = query.column_bytes(2);
  e.entity_kind = query.column_bytes(3);
  e.entity_id = query.column_bytes(4);
  e.state_token = query.column_bytes(5);
  e.event_type = query.column_bytes(6);
  e.status = query.column_bytes(7);
  e.quarantine_reason = optional_text(query, 8);
  e.body = query.column_bytes(9);
  e.request_id = query.column_bytes(10);
  e.received_at_ms = query.column_int(11);
  e.scheme = query.column_bytes(12);
  e.candidate = query.column_bytes(13);
  e.key_slot = query.column_int(14);
  e.attempts = query.column_int(15);
  e.next_attempt_at_ms = query.column_int(16);
  e.last_error = optional_text(query, 17);
  e.updated_at_ms = query.column_int(18);
  return e;
}

std::vector<EventTypeStatusCount> SqliteEventQueries::count_by_type_and_status() {
  Statement statement(db_, kCountByTypeAndStatus);
  Statement::Use query(statement);
  std::vector<EventTypeStatusCount> counts;
  while (query.step()) {
    counts.push_back(
        {query.column_bytes(0), query.column_bytes(1), query.column_int(2), query.column_int(3)});
  }
  return counts;
}

std::int64_t SqliteEventQueries::count_purgeable(std::int64_t cutoff_ms,
                                                 const std::vector<std::string>& statuses) {
  Statement statement(db_, kCountPurgeable + placeholders(statuses.size()) + ")");
  Statement::Use query(statement);
  query.integer(1, cutoff_ms);
  bind_statuses(query, 2, statuses);
  query.step();
  return query.column_int(0);
}

std::int64_t SqliteEventQueries::purge_events(std::int64_t cutoff_ms,
                                              const std::vector<std::string>& statuses) {
  Statement statement(db_, kDeletePurgeableBatch + placeholders(statuses.size()) + ") LIMIT ?)");
  std::int64_t deleted = 0;
  for (;;) {
    std::int64_t n = 0;
    {
      Statement::Use query(statement);
      query.integer(1, cutoff_ms);
      bind_statuses(query, 2, statuses);
      query.integer(2 + static_cast<int>(statuses.size()), kPurgeBatch);
      query.step();  // one autocommit transaction
      n = statement.changes();
    }
    deleted += n;
    if (n < kPurgeBatch) return deleted;
  }
}

std::int64_t SqliteEventQueries::count_in_id_range(std::int64_t first_id, std::int64_t last_id) {
  Statement statement(db_, kCountIdRange);
  Statement::Use query(statement);
  query.integer(1, first_id);
  query.integer(2, last_id);
  return query.step() ? query.column_int(0) : 0;
}

std::unique_ptr<EventCursor> SqliteEventQueries::events_in_id_range(std::int64_t first_id,
                                                                    std::int64_t last_id) {
  return std::make_unique<SqliteEventCursor>(db_, first_id, last_id);
}

void check_inbox_schema(Database& db) {
  if (db.schema_version() < kInboxSchemaVersion) {
    throw StorageError("sqlite database " + db.path() +
                           " has no events table (not migrated: run webhook-receiver migrate)",
                       0);
  }
}

std::string_view sqlite_library_version() { return sqlite3_libversion(); }

}  // namespace webhook::storage
