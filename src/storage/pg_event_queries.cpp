// PgEventQueries (include/webhook/storage/pg_event_queries.hpp). The statements are those of
// SqliteEventQueries (src/storage/event_queries.cpp) in PostgreSQL's dialect: $n parameters,
// COLLATE "C" where text is compared or ordered. Indexes: migrations/postgres/0001.

#include "webhook/storage/pg_event_queries.hpp"

#include <algorithm>
#include <deque>
#include <utility>

#include "webhook/storage/pg_migrate.hpp"

namespace webhook::storage {
namespace {

// The schema version of a database that has the events table (migrations/postgres/0001).
constexpr int kPgInboxSchemaVersion = 1;

// ---- list: events_received_at walked backwards (or forwards) and stopped at the limit --------
constexpr const char* kListSelect =
    "SELECT id, source, event_type, entity_kind, entity_id, status, attempts, received_at_ms,"
    " next_attempt_at_ms, last_error, request_id FROM events";
constexpr const char* kNewestFirst = " ORDER BY received_at_ms DESC, id DESC LIMIT $";
constexpr const char* kOldestFirst = " ORDER BY received_at_ms, id LIMIT $";

// ---- show: primary key ------------------------------------------------------------------------
constexpr const char* kSelectEvent = R"sql(
SELECT id, source, event_name, entity_kind, entity_id, state_token, event_type, status,
       quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot,
       attempts, next_attempt_at_ms, last_error, updated_at_ms
FROM events WHERE id = $1
)sql";

// ---- stats: the whole table, once -------------------------------------------------------------
constexpr const char* kCountByTypeAndStatus = R"sql(
SELECT event_type, status, count(*), min(received_at_ms) FROM events GROUP BY event_type, status
)sql";

// ---- purge: events_received_at or events_status_due, as the planner picks ----------------------
// The batch's ids are collected into an array first: with `id IN (SELECT ...)` PostgreSQL
// hash-joined the batch against a sequential scan of every event; `id = ANY (ARRAY(...))` is
// a look-up per id in the primary key.
constexpr const char* kCountPurgeable =
    "SELECT count(*) FROM events WHERE received_at_ms < $1 AND status IN (";
constexpr const char* kDeletePurgeableBatch =
    "DELETE FROM events WHERE id = ANY (ARRAY(SELECT id FROM events WHERE received_at_ms < $1 "
    "AND status IN (";

// ---- replay: primary key range, one page at a time --------------------------------------------
constexpr const char* kSelectIdPage = R"sql(
SELECT id, source, event_type, status, body, request_id, received_at_ms, scheme
FROM events WHERE id >= $1 AND id <= $2 ORDER BY id LIMIT $3
)sql";
constexpr const char* kCountIdRange = "SELECT count(*) FROM events WHERE id BETWEEN $1 AND $2";

// "$first, $first+1, ..." for an IN list of `n` parameters.
std::string placeholders(std::size_t first, std::size_t n) {
  std::string list;
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0) list += ", ";
    list += "$" + std::to_string(first + i);
  }
  return list;
}

// A LIMIT value: a negative one means no limit, as SQLite reads LIMIT -1 (PostgreSQL refuses a
// negative LIMIT; LIMIT NULL is none).
PgParam limit_param(std::int64_t limit) {
  return limit < 0 ? PgParam::null() : PgParam::integer(limit);
}

std::optional<std::string> optional_text(const PgResult& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return std::string(r.text(row, col));
}

// Builds the WHERE clause of `list` with its parameters.
class ListQuery {
 public:
  explicit ListQuery(const EventFilter& f) : sql_(kListSelect) {
    if (!f.statuses.empty()) {
      std::string in = "status IN (";
      for (std::size_t i = 0; i < f.statuses.size(); ++i) {
        in += (i == 0 ? "" : ", ") + param(PgParam::text(f.statuses[i]));
      }
      condition(in + ")");
    }
    if (f.type && f.type_is_prefix) {
      if (!f.type->empty()) {  // every type is under the empty prefix
        std::string upper = *f.type;
        upper.back() = static_cast<char>(upper.back() + 1);  // '.' -> '/'
        const std::string low = param(PgParam::text(*f.type));
        const std::string high = param(PgParam::text(upper));
        condition("event_type COLLATE \"C\" >= " + low + " AND event_type COLLATE \"C\" < " + high);
      }
    } else if (f.type) {
      condition("event_type = " + param(PgParam::text(*f.type)));
    }
    if (f.source) condition("source = " + param(PgParam::text(*f.source)));
    if (f.entity_id) condition("entity_id = " + param(PgParam::text(*f.entity_id)));
    if (f.since_ms) condition("received_at_ms >= " + param(PgParam::integer(*f.since_ms)));
    if (f.until_ms) condition("received_at_ms < " + param(PgParam::integer(*f.until_ms)));
    if (f.before) {  // strictly after the cursor in newest-first order
      const std::string at = param(PgParam::integer(f.before->received_at_ms));
      const std::string id = param(PgParam::integer(f.before->id));
      condition("(received_at_ms, id) < (" + at + ", " + id + ")");
    }
    sql_ += f.oldest_first ? kOldestFirst : kNewestFirst;
    params_.push_back(limit_param(f.limit));
    sql_ += std::to_string(params_.size());
  }

  const std::string& sql() const { return sql_; }
  const std::vector<PgParam>& params() const { return params_; }

 private:
  std::string param(PgParam p) {
    params_.push_back(std::move(p));
    return "$" + std::to_string(params_.size());
  }
  void condition(const std::string& c) { sql_ += (conditions_++ == 0 ? " WHERE " : " AND ") + c; }

  std::string sql_;
  std::vector<PgParam> params_;
  int conditions_ = 0;
};

std::vector<PgParam> purge_params(std::int64_t cutoff_ms,
                                  const std::vector<std::string>& statuses) {
  std::vector<PgParam> params{PgParam::integer(cutoff_ms)};
  for (const std::string& s : statuses) params.push_back(PgParam::text(s));
  return params;
}

// Reads the id range a page at a time; holds no statement or transaction between pages.
class PgEventCursor final : public EventCursor {
 public:
  PgEventCursor(PgConnection& db, std::int64_t first_id, std::int64_t last_id, std::int64_t page)
      : db_(db), next_id_(first_id), last_id_(last_id), page_(page) {}

  std::optional<ReplayEvent> next() override {
    if (buffered_.empty() && !exhausted_) fetch();
    if (buffered_.empty()) return std::nullopt;
    ReplayEvent e = std::move(buffered_.front());
    buffered_.pop_front();
    return e;
  }

 private:
  void fetch() {
    if (next_id_ > last_id_) {
      exhausted_ = true;
      return;
    }
    const PgResult r = db_.query(
        kSelectIdPage,
        {PgParam::integer(next_id_), PgParam::integer(last_id_), PgParam::integer(page_)});
    for (int i = 0; i < r.rows(); ++i) {
      ReplayEvent e;
      e.id = r.integer(i, 0);
      e.source = r.text(i, 1);
      e.event_type = r.text(i, 2);
      e.status = r.text(i, 3);
      e.body = r.bytes(i, 4);
      e.request_id = r.text(i, 5);
      e.received_at_ms = r.integer(i, 6);
      e.scheme = r.text(i, 7);
      buffered_.push_back(std::move(e));
    }
    if (r.rows() < page_ || buffered_.back().id == last_id_) {
      exhausted_ = true;
    } else {
      next_id_ = buffered_.back().id + 1;
    }
  }

  PgConnection& db_;
  std::int64_t next_id_;
  std::int64_t last_id_;
  std::int64_t page_;
  std::deque<ReplayEvent> buffered_;
  bool exhausted_ = false;
};

}  // namespace

PgEventQueries::PgEventQueries(PgConnection& db, std::int64_t replay_page)
    : db_(db), replay_page_(std::max<std::int64_t>(1, replay_page)) {}

std::vector<EventSummary> PgEventQueries::list(const EventFilter& filter) {
  const ListQuery q(filter);
  const PgResult r = db_.query(q.sql(), q.params());
  std::vector<EventSummary> rows;
  rows.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    EventSummary s;
    s.id = r.integer(i, 0);
    s.source = r.text(i, 1);
    s.event_type = r.text(i, 2);
    s.entity_kind = r.text(i, 3);
    s.entity_id = r.text(i, 4);
    s.status = r.text(i, 5);
    s.attempts = r.integer(i, 6);
    s.received_at_ms = r.integer(i, 7);
    s.next_attempt_at_ms = r.integer(i, 8);
    s.last_error = optional_text(r, i, 9);
    s.request_id = r.text(i, 10);
    rows.push_back(std::move(s));
  }
  return rows;
}

std::optional<EventRecord> PgEventQueries::find(std::int64_t id) {
  const PgResult r = db_.query(kSelectEvent, {PgParam::integer(id)});
  if (r.rows() == 0) return std::nullopt;
  EventRecord e;
  e.id = r.integer(0, 0);
  e.source = r.text(0, 1);
  e.event_name = r.text(0, 2);
  e.entity_kind = r.text(0, 3);
  e.entity_id = r.text(0, 4);
  e.state_token = r.text(0, 5);
  e.event_type = r.text(0, 6);
  e.status = r.text(0, 7);
  e.quarantine_reason = optional_text(r, 0, 8);
  e.body = r.bytes(0, 9);
  e.request_id = r.text(0, 10);
  e.received_at_ms = r.integer(0, 11);
  e.scheme = r.text(0, 12);
  e.candidate = r.text(0, 13);
  e.key_slot = r.integer(0, 14);
  e.attempts = r.integer(0, 15);
  e.next_attempt_at_ms = r.integer(0, 16);
  e.last_error = optional_text(r, 0, 17);
  e.updated_at_ms = r.integer(0, 18);
  return e;
}

std::vector<EventTypeStatusCount> PgEventQueries::count_by_type_and_status() {
  const PgResult r = db_.query(kCountByTypeAndStatus);
  std::vector<EventTypeStatusCount> counts;
  for (int i = 0; i < r.rows(); ++i) {
    counts.push_back(
        {std::string(r.text(i, 0)), std::string(r.text(i, 1)), r.integer(i, 2), r.integer(i, 3)});
  }
  return counts;
}

std::int64_t PgEventQueries::count_purgeable(std::int64_t cutoff_ms,
                                             const std::vector<std::string>& statuses) {
  if (statuses.empty()) return 0;
  const std::string sql = kCountPurgeable + placeholders(2, statuses.size()) + ")";
  return db_.query(sql, purge_params(cutoff_ms, statuses)).integer(0, 0);
}

std::int64_t PgEventQueries::purge_events(std::int64_t cutoff_ms,
                                          const std::vector<std::string>& statuses) {
  if (statuses.empty()) return 0;
  const std::string sql = kDeletePurgeableBatch + placeholders(2, statuses.size()) + ") LIMIT $" +
                          std::to_string(2 + statuses.size()) + "))";
  std::vector<PgParam> params = purge_params(cutoff_ms, statuses);
  params.push_back(PgParam::integer(kPurgeBatch));
  std::int64_t deleted = 0;
  for (;;) {
    const std::int64_t n = db_.query(sql, params).affected();  // one autocommit transaction
    deleted += n;
    if (n < kPurgeBatch) return deleted;
  }
}

std::int64_t PgEventQueries::count_in_id_range(std::int64_t first_id, std::int64_t last_id) {
  return db_.query(kCountIdRange, {PgParam::integer(first_id), PgParam::integer(last_id)})
      .integer(0, 0);
}

std::unique_ptr<EventCursor> PgEventQueries::events_in_id_range(std::int64_t first_id,
                                                                std::int64_t last_id) {
  return std::make_unique<PgEventCursor>(db_, first_id, last_id, replay_page_);
}

void check_pg_inbox_schema(PgConnection& db) {
  if (pg_schema_version(db) < kPgInboxSchemaVersion) {
    throw StorageError(
        db.describe() + " has no events table (not migrated: run webhook-receiver migrate)", 0);
  }
}

}  // namespace webhook::storage
