// Tests include/webhook/storage/event_queries.hpp (SqliteEventQueries) on a real database file.
// Rows are inserted with SQL so every column (status, times, NULLs) is set exactly, without
// going through the write path.
#include "webhook/storage/event_queries.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "webhook/storage/statement.hpp"

using namespace webhook;
using storage::EventFilter;
using storage::SqliteEventQueries;

namespace {

constexpr std::int64_t kNow = 1'777'802'400'000;  // 2026-05-03T10:00:00.000Z
constexpr std::int64_t kHour = 3'600'000;

struct Row {
  std::string source = "production";
  std::string entity_kind = "transaction";
  std::string entity_id;
  std::string event_type = "payment.settled";
  std::string status = "pending";
  std::int64_t received_at_ms = kNow;
  std::string body = R"({"eventType":"payment.settled"})";
  std::optional<std::string> last_error;
  std::optional<std::string> quarantine_reason;
  std::string scheme = "header";
};

constexpr const char* kInsert = R"sql(
INSERT INTO events (source, event_name, entity_kind, entity_id, state_token, event_type, status,
                    quarantine_reason, body, request_id, received_at_ms, scheme, candidate,
                    key_slot, attempts, next_attempt_at_ms, last_error, updated_at_ms)
VALUES (?1, ?2, ?3, ?4, '', ?2, ?5, ?6, ?7, 'req-' || ?4, ?8, ?9, 'none', 1, 2, ?8 + 5, ?10,
        ?8 + 7)
)sql";

struct Inbox {
  test::TempDir dir;
  storage::Database db = test::open_migrated(dir.file("inbox.db"));
  storage::Statement insert_{db, kInsert};

  std::int64_t add(const Row& r) {
    storage::Statement::Use q(insert_);
    q.text(1, r.source);
    q.text(2, r.event_type);
    q.text(3, r.entity_kind);
    q.text(4, r.entity_id);
    q.text(5, r.status);
    if (r.quarantine_reason) {
      q.text(6, *r.quarantine_reason);
    } else {
      q.null(6);
    }
    q.blob(7, r.body);
    q.integer(8, r.received_at_ms);
    q.text(9, r.scheme);
    if (r.last_error) {
      q.text(10, *r.last_error);
    } else {
      q.null(10);
    }
    REQUIRE_FALSE(q.step());
    return sqlite3_last_insert_rowid(db.handle());
  }

  std::int64_t add(const std::string& entity, const std::string& type, std::int64_t age_ms,
                   const std::string& status, const std::string& source = "production") {
    Row r;
    r.entity_id = entity;
    r.event_type = type;
    r.received_at_ms = kNow - age_ms;
    r.status = status;
    r.source = source;
    return add(r);
  }
};

// Six events of several types, sources, ages and statuses.
struct Sample : Inbox {
  std::int64_t settled_5h = add("tx-1", "payment.settled", 5 * kHour, "done");
  std::int64_t refunded_4h = add("tx-2", "payment.refunded", 4 * kHour, "dead");
  std::int64_t batch_3h = add("tx-3", "payments.batch", 3 * kHour, "done");
  std::int64_t sandbox_2h = add("tx-1", "payment.settled", 2 * kHour, "pending", "sandbox");
  std::int64_t level_1h = add("cu-1", "customer.levelChanged", kHour, "processing");
  std::int64_t same_time = add("tx-4", "payment.settled", kHour, "pending");
};

using Ids = std::vector<std::int64_t>;

Ids ids(const std::vector<storage::EventSummary>& rows) {
  Ids out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

}  // namespace

TEST_CASE("list returns the newest first, ties by id, and stops at the limit", "[event_queries]") {
  Sample s;
  SqliteEventQueries q(s.db);
  EventFilter all;
  CHECK(ids(q.list(all)) ==
        Ids{s.same_time, s.level_1h, s.sandbox_2h, s.batch_3h, s.refunded_4h, s.settled_5h});
  all.oldest_first = true;
  CHECK(ids(q.list(all)) ==
        Ids{s.settled_5h, s.refunded_4h, s.batch_3h, s.sandbox_2h, s.level_1h, s.same_time});
  all.limit = 2;
  CHECK(ids(q.list(all)) == Ids{s.settled_5h, s.refunded_4h});
}

TEST_CASE("list filters combine with AND", "[event_queries]") {
  Sample s;
  SqliteEventQueries q(s.db);
  EventFilter f;
  f.statuses = {"done", "dead"};
  CHECK(ids(q.list(f)) == Ids{s.batch_3h, s.refunded_4h, s.settled_5h});

  f = {};
  f.type = "payment.settled";
  CHECK(ids(q.list(f)) == Ids{s.same_time, s.sandbox_2h, s.settled_5h});
  f.source = "sandbox";
  CHECK(ids(q.list(f)) == Ids{s.sandbox_2h});

  f = {};
  f.type = "payment.";  // a prefix: not payments.batch
  f.type_is_prefix = true;
  CHECK(ids(q.list(f)) == Ids{s.same_time, s.sandbox_2h, s.refunded_4h, s.settled_5h});

  f = {};
  f.entity_id = "tx-1";
  CHECK(ids(q.list(f)) == Ids{s.sandbox_2h, s.settled_5h});

  f = {};
  f.since_ms = kNow - 4 * kHour;  // inclusive
  f.until_ms = kNow - kHour;      // exclusive
  CHECK(ids(q.list(f)) == Ids{s.sandbox_2h, s.batch_3h, s.refunded_4h});

  f.statuses = {"quarantined"};
  CHECK(q.list(f).empty());
}

TEST_CASE("list reads every summary column and keeps a NULL last error apart from an empty one",
          "[event_queries]") {
  Inbox inbox;
  Row r;
  r.entity_id = "tx-9";
  r.status = "dead";
  r.last_error = "HTTP 400";
  const std::int64_t with_error = inbox.add(r);
  r.entity_id = "tx-10";
  r.last_error = "";
  const std::int64_t empty_error = inbox.add(r);
  r.entity_id = "tx-11";
  r.last_error.reset();
  const std::int64_t no_error = inbox.add(r);

  SqliteEventQueries q(inbox.db);
  EventFilter f;
  f.oldest_first = true;
  const auto rows = q.list(f);
  REQUIRE(ids(rows) == Ids{with_error, empty_error, no_error});
  CHECK(rows[0].source == "production");
  CHECK(rows[0].event_type == "payment.settled");
  CHECK(rows[0].entity_kind == "transaction");
  CHECK(rows[0].entity_id == "tx-9");
  CHECK(rows[0].status == "dead");
  CHECK(rows[0].attempts == 2);
  CHECK(rows[0].received_at_ms == kNow);
  CHECK(rows[0].next_attempt_at_ms == kNow + 5);
  CHECK(rows[0].last_error == std::optional<std::string>("HTTP 400"));
  CHECK(rows[0].request_id == "req-tx-9");
  CHECK(rows[1].last_error == std::optional<std::string>(""));
  CHECK_FALSE(rows[2].last_error.has_value());
}

TEST_CASE("find returns every column and the body byte-exact, nullopt for an unknown id",
          "[event_queries]") {
  Inbox inbox;
  Row r;
  r.source = "sandbox";
  r.entity_kind = "quarantine";
  r.entity_id = "ab12";
  r.status = "quarantined";
  r.quarantine_reason = "no_entity_id";
  r.body = std::string("{\"a\":\"\xff\"}\0tail", 14);
  r.scheme = "body";
  const std::int64_t id = inbox.add(r);

  SqliteEventQueries q(inbox.db);
  const auto e = q.find(id);
  REQUIRE(e);
  CHECK(e->id == id);
  CHECK(e->source == "sandbox");
  CHECK(e->event_name == "payment.settled");
  CHECK(e->entity_kind == "quarantine");
  CHECK(e->entity_id == "ab12");
  CHECK(e->state_token.empty());
  CHECK(e->event_type == "payment.settled");
  CHECK(e->status == "quarantined");
  CHECK(e->quarantine_reason == std::optional<std::string>("no_entity_id"));
  CHECK(e->body == r.body);
  CHECK(e->body.size() == 14);
  CHECK(e->request_id == "req-ab12");
  CHECK(e->received_at_ms == kNow);
  CHECK(e->scheme == "body");
  CHECK(e->candidate == "none");
  CHECK(e->key_slot == 1);
  CHECK(e->attempts == 2);
  CHECK(e->next_attempt_at_ms == kNow + 5);
  CHECK_FALSE(e->last_error.has_value());
  CHECK(e->updated_at_ms == kNow + 7);

  CHECK_FALSE(q.find(id + 1).has_value());
}

TEST_CASE("counts by type and status give each group's size and oldest receipt",
          "[event_queries]") {
  Sample s;
  s.add("tx-5", "payment.settled", 9 * kHour, "pending");
  SqliteEventQueries q(s.db);
  std::set<std::string> groups;
  for (const auto& g : q.count_by_type_and_status()) {
    groups.insert(g.event_type + "/" + g.status + "=" + std::to_string(g.count) + "@" +
                  std::to_string((kNow - g.oldest_received_at_ms) / kHour));
  }
  CHECK(groups == std::set<std::string>{"customer.levelChanged/processing=1@1",
                                        "payment.refunded/dead=1@4", "payment.settled/done=1@5",
                                        "payment.settled/pending=3@9", "payments.batch/done=1@3"});
  Inbox empty;
  CHECK(SqliteEventQueries(empty.db).count_by_type_and_status().empty());
}

TEST_CASE("purge deletes, in batches, exactly what it counts and nothing else", "[event_queries]") {
  Inbox inbox;
  const std::int64_t cutoff = kNow - 25 * kHour;
  const std::int64_t old_done = SqliteEventQueries::kPurgeBatch * 2 + 3;  // three batches
  {
    storage::Transaction t(inbox.db);
    for (std::int64_t i = 0; i < old_done; ++i) {
      inbox.add("old-" + std::to_string(i), "payment.settled", 30 * kHour, "done");
    }
    t.commit();
  }
  const std::int64_t old_dead = inbox.add("old-dead", "payment.settled", 30 * kHour, "dead");
  const std::int64_t old_pending = inbox.add("old-p", "payment.settled", 30 * kHour, "pending");
  const std::int64_t new_done = inbox.add("new", "payment.settled", kHour, "done");
  const std::int64_t at_cutoff = inbox.add("edge", "payment.settled", 25 * kHour, "done");

  SqliteEventQueries q(inbox.db);
  const std::vector<std::string> done = {"done"};
  CHECK(q.count_purgeable(cutoff, done) == old_done);
  CHECK(q.count_purgeable(cutoff, {"done", "dead", "pending"}) == old_done + 2);
  CHECK(q.purge_events(cutoff, done) == old_done);
  CHECK(q.count_purgeable(cutoff, done) == 0);
  CHECK(q.purge_events(cutoff, done) == 0);
  for (const std::int64_t id : {old_dead, old_pending, new_done, at_cutoff}) {
    CHECK(q.find(id).has_value());
  }
  CHECK(q.purge_events(cutoff, {"dead"}) == 1);
  CHECK_FALSE(q.find(old_dead).has_value());
}

TEST_CASE("the id range is counted and read in id order, both ends included", "[event_queries]") {
  Sample s;
  SqliteEventQueries q(s.db);
  CHECK(q.count_in_id_range(0, INT64_MAX) == 6);
  CHECK(q.count_in_id_range(s.refunded_4h, s.sandbox_2h) == 3);
  CHECK(q.count_in_id_range(s.same_time + 1, INT64_MAX) == 0);

  auto cursor = q.events_in_id_range(s.refunded_4h, s.sandbox_2h);
  Ids read;
  while (auto e = cursor->next()) {
    read.push_back(e->id);
    if (e->id == s.sandbox_2h) {
      CHECK(e->source == "sandbox");
      CHECK(e->event_type == "payment.settled");
      CHECK(e->status == "pending");
      CHECK(e->body == R"({"eventType":"payment.settled"})");
      CHECK(e->request_id == "req-tx-1");
      CHECK(e->received_at_ms == kNow - 2 * kHour);
      CHECK(e->scheme == "header");
    }
  }
  CHECK(read == Ids{s.refunded_4h, s.batch_3h, s.sandbox_2h});
  CHECK_FALSE(cursor->next().has_value());  // stays at the end
  cursor.reset();
  // The cursor released its statement: a writer is not held off.
  s.db.exec("DELETE FROM events WHERE id = " + std::to_string(s.batch_3h));
  CHECK(q.count_in_id_range(0, INT64_MAX) == 5);
}

TEST_CASE("the inbox schema check refuses an unmigrated database and names the fix",
          "[event_queries]") {
  test::TempDir dir;
  storage::Database bare = storage::Database::open(dir.file("bare.db"));
  CHECK_THROWS_WITH(
      storage::check_inbox_schema(bare),
      Catch::Contains("has no events table") && Catch::Contains("run webhook-receiver migrate"));
  Inbox migrated;
  CHECK_NOTHROW(storage::check_inbox_schema(migrated.db));
  CHECK(storage::sqlite_library_version() == std::string_view(SQLITE_VERSION));
}

namespace {

// The SQL of every statement run on `db` while tracing.
int trace_statement(unsigned /*type*/, void* context, void* statement, void* /*sql*/) {
  auto* seen = static_cast<std::set<std::string>*>(context);
  if (const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(statement))) seen->insert(sql);
  return 0;
}

std::vector<std::string> query_plan(storage::Database& db, const std::string& sql) {
  storage::Statement explain(db, "EXPLAIN QUERY PLAN " + sql);
  storage::Statement::Use q(explain);
  std::vector<std::string> details;
  while (q.step()) details.push_back(q.column_bytes(3));
  return details;
}

}  // namespace

TEST_CASE("no event query but the stats scans the table, and list walks the receipt index",
          "[event_queries][plan]") {
  Sample s;
  std::set<std::string> statements;
  sqlite3_trace_v2(s.db.handle(), SQLITE_TRACE_STMT, trace_statement, &statements);
  {
    SqliteEventQueries q(s.db);
    EventFilter f;
    q.list(f);
    f.oldest_first = true;
    q.list(f);
    f.since_ms = kNow - kHour;
    f.until_ms = kNow;
    f.source = "production";
    q.list(f);
    f = {};
    f.statuses = {"dead", "done"};
    f.type = "payment.";
    f.type_is_prefix = true;
    q.list(f);
    f = {};
    f.entity_id = "tx-1";
    q.list(f);
    q.find(1);
    q.count_purgeable(kNow, {"done", "dead"});
    q.purge_events(kNow - 100 * kHour, {"done"});
    q.count_in_id_range(1, 3);
    q.events_in_id_range(1, 3)->next();
  }
  sqlite3_trace_v2(s.db.handle(), 0, nullptr, nullptr);

  REQUIRE(statements.size() >= 7);
  bool list_walks_receipt_index = false;
  for (const std::string& sql : statements) {
    for (const std::string& step : query_plan(s.db, sql)) {
      INFO(sql);
      INFO(step);
      CHECK(step != "SCAN events");  // a full scan; "SCAN events USING INDEX ..." walks one
      if (sql.find("WHERE") == std::string::npos) {  // list without filters
        CHECK(step == "SCAN events USING INDEX events_received_at");
        list_walks_receipt_index = true;
      }
    }
  }
  CHECK(list_walks_receipt_index);
}
