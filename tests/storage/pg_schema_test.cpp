// Tests migrations/postgres/*.sql against a real PostgreSQL 15: the same tables and columns as
// the SQLite schema, and dedup as a property of the SQL (INSERT ... ON CONFLICT DO NOTHING
// RETURNING id), also between two sessions (two replicas) inserting the same key at once.

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <set>
#include <string>

#include "support/postgres_server.hpp"
#include "support/wait.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_migrate.hpp"

namespace {

using webhook::storage::Database;
using webhook::storage::embedded_migrations;
using webhook::storage::embedded_postgres_migrations;
using webhook::storage::migrate_postgres;
using webhook::storage::PgConnection;
using webhook::storage::PgParam;
using webhook::testing::test_postgres;
using webhook::testing::wait_until;

constexpr const char* kInsert =
    "INSERT INTO events (source, event_name, entity_kind, entity_id, state_token, event_type,"
    " status, body, request_id, received_at_ms, scheme, candidate, key_slot, updated_at_ms)"
    " VALUES ($1, 'payment.captured', 'payment', $2, 'CAPTURED', 'payment.captured', 'pending',"
    " $3, 'req', 1000, 'standard', 'raw', 0, 1000)"
    " ON CONFLICT ON CONSTRAINT events_dedup DO NOTHING RETURNING id";
constexpr const char* kFindByKey =
    "SELECT id FROM events WHERE source = $1 AND event_name = 'payment.captured'"
    " AND entity_kind = 'payment' AND entity_id = $2 AND state_token = 'CAPTURED'";

PgConnection migrated() {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  migrate_postgres(db, embedded_postgres_migrations());
  return db;
}

// table -> its column names, of the SQLite schema after every migration.
std::map<std::string, std::set<std::string>> sqlite_columns() {
  Database db = Database::open(":memory:");
  db.migrate(embedded_migrations());
  std::map<std::string, std::set<std::string>> columns;
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(
      sqlite3_prepare_v2(db.handle(),
                         "SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p"
                         " WHERE m.type = 'table'",
                         -1, &stmt, nullptr) == SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    columns[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))].insert(
        reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)));
  }
  sqlite3_finalize(stmt);
  return columns;
}

}  // namespace

TEST_CASE("the PostgreSQL schema has the tables and columns of the SQLite one", "[postgres]") {
  PgConnection db = migrated();
  const auto rows = db.query(
      "SELECT table_name, column_name FROM information_schema.columns"
      " WHERE table_schema = 'public' AND table_name <> 'schema_version'");
  std::map<std::string, std::set<std::string>> pg;
  for (int r = 0; r < rows.rows(); ++r) {
    pg[std::string(rows.text(r, 0))].insert(std::string(rows.text(r, 1)));
  }
  const auto sqlite = sqlite_columns();
  REQUIRE(sqlite.count("events") == 1);
  CHECK(pg == sqlite);

  const auto indexes = db.query(
      "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE '%WHERE%'"
      " ORDER BY indexname");
  std::set<std::string> partial;
  for (int r = 0; r < indexes.rows(); ++r) partial.insert(std::string(indexes.text(r, 0)));
  CHECK(partial == std::set<std::string>{"events_pending", "payments_awaiting_settlement",
                                         "payments_external", "payments_parent",
                                         "payments_related"});
}

TEST_CASE("a duplicate insert returns no id and the key finds the first one", "[postgres]") {
  PgConnection db = migrated();
  const auto first = db.query(
      kInsert, {PgParam::text("prod"), PgParam::text("tx-1"), PgParam::bytes("{\"first\":true}")});
  REQUIRE(first.rows() == 1);
  const std::int64_t id = first.integer(0, 0);

  const auto again = db.query(
      kInsert, {PgParam::text("prod"), PgParam::text("tx-1"), PgParam::bytes("{\"resent\":true}")});
  CHECK(again.rows() == 0);
  const auto found = db.query(kFindByKey, {PgParam::text("prod"), PgParam::text("tx-1")});
  REQUIRE(found.rows() == 1);
  CHECK(found.integer(0, 0) == id);
  CHECK(db.query("SELECT body FROM events WHERE id = $1", {PgParam::integer(id)}).bytes(0, 0) ==
        "{\"first\":true}");

  // Another source is another key.
  const auto other =
      db.query(kInsert, {PgParam::text("sandbox"), PgParam::text("tx-1"), PgParam::bytes("{}")});
  REQUIRE(other.rows() == 1);
  CHECK(other.integer(0, 0) != id);
}

TEST_CASE("two replicas inserting one key at once store it once and agree on its id",
          "[postgres]") {
  PgConnection a = migrated();
  const std::string url =
      test_postgres().url(std::string(a.query("SELECT current_database()").text(0, 0)));
  PgConnection b = PgConnection::connect(url);
  const std::string b_pid(b.query("SELECT pg_backend_pid()").text(0, 0));

  a.exec("BEGIN");
  const auto mine =
      a.query(kInsert, {PgParam::text("prod"), PgParam::text("tx-9"), PgParam::bytes("a")});
  REQUIRE(mine.rows() == 1);
  // b's insert waits on a's uncommitted row with the same key...
  auto theirs = std::async(std::launch::async, [&] {
    const auto inserted =
        b.query(kInsert, {PgParam::text("prod"), PgParam::text("tx-9"), PgParam::bytes("b")});
    const auto found = b.query(kFindByKey, {PgParam::text("prod"), PgParam::text("tx-9")});
    return std::make_pair(inserted.rows(), found.integer(0, 0));
  });
  PgConnection observer = PgConnection::connect(url);
  CHECK(wait_until([&] {
    return observer
               .query(
                   "SELECT count(*) FROM pg_stat_activity"
                   " WHERE pid = $1::int AND wait_event_type = 'Lock'",
                   {PgParam::text(b_pid)})
               .integer(0, 0) == 1;
  }));
  // ...and, once a commits, inserts nothing and finds a's id.
  a.exec("COMMIT");
  const auto [inserted, found] = theirs.get();
  CHECK(inserted == 0);
  CHECK(found == mine.integer(0, 0));
  CHECK(observer.query("SELECT count(*) FROM events").integer(0, 0) == 1);
}
