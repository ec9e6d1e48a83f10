// Tests include/webhook/storage/pg_migrate.hpp against a real PostgreSQL 15: from empty, again
// (a no-op), two migrating at once under the advisory lock, refusals, all-or-nothing.

#include "webhook/storage/pg_migrate.hpp"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/postgres_server.hpp"
#include "support/wait.hpp"

namespace {

using webhook::storage::embedded_postgres_migrations;
using webhook::storage::kPgMigrationLock;
using webhook::storage::migrate_postgres;
using webhook::storage::Migration;
using webhook::storage::MigrationReport;
using webhook::storage::pg_schema_version;
using webhook::storage::PgConnection;
using webhook::storage::PgError;
using webhook::storage::PgParam;
using webhook::testing::test_postgres;
using webhook::testing::wait_until;

int latest() { return embedded_postgres_migrations().back().version; }

bool table_exists(PgConnection& db, const std::string& name) {
  return db.query("SELECT to_regclass($1) IS NOT NULL", {PgParam::text(name)}).text(0, 0) == "t";
}

}  // namespace

TEST_CASE("the embedded PostgreSQL migrations are numbered from 1 without gaps", "[pg_migrate]") {
  const auto& migrations = embedded_postgres_migrations();
  REQUIRE(migrations.size() >= 2);
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    CHECK(migrations[i].version == static_cast<int>(i) + 1);
  }
  CHECK(migrations[0].name == "0001_inbox");
}

TEST_CASE("migrating an empty database applies every migration once and again changes nothing",
          "[postgres]") {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  CHECK(pg_schema_version(db) == 0);

  const MigrationReport first = migrate_postgres(db, embedded_postgres_migrations());
  CHECK(first.from_version == 0);
  CHECK(first.to_version == latest());
  CHECK(first.applied.size() == embedded_postgres_migrations().size());
  CHECK(pg_schema_version(db) == latest());
  for (const char* table : {"events", "payments", "payment_history", "reviews", "review_history",
                            "customers", "customer_history", "schema_version"}) {
    CHECK(table_exists(db, table));
  }

  const MigrationReport second = migrate_postgres(db, embedded_postgres_migrations());
  CHECK(second.from_version == latest());
  CHECK(second.to_version == latest());
  CHECK(second.applied.empty());
  CHECK(db.query("SELECT count(*) FROM schema_version").integer(0, 0) ==
        static_cast<std::int64_t>(embedded_postgres_migrations().size()));
}

TEST_CASE("two processes migrating at once both succeed and the schema is applied once",
          "[postgres]") {
  const std::string url = test_postgres().create_database();
  // A third session holds the migration lock, so both migrations are provably waiting on it
  // at the same time before either may run.
  PgConnection holder = PgConnection::connect(url);
  holder.exec("BEGIN");
  holder.query("SELECT pg_advisory_xact_lock($1)", {PgParam::integer(kPgMigrationLock)});

  std::optional<MigrationReport> reports[2];
  std::string errors[2];
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      try {
        PgConnection db = PgConnection::connect(url);
        reports[i] = migrate_postgres(db, embedded_postgres_migrations());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  const bool both_waiting = wait_until([&] {
    return holder.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
               .integer(0, 0) == 2;
  });
  holder.exec("COMMIT");
  for (std::thread& t : threads) t.join();
  REQUIRE(both_waiting);

  CHECK(errors[0].empty());
  CHECK(errors[1].empty());
  REQUIRE(reports[0]);
  REQUIRE(reports[1]);
  // One applied everything, the other found it done.
  const std::size_t all = embedded_postgres_migrations().size();
  CHECK(reports[0]->applied.size() + reports[1]->applied.size() == all);
  CHECK((reports[0]->applied.empty() || reports[1]->applied.empty()));
  CHECK(reports[0]->to_version == latest());
  CHECK(reports[1]->to_version == latest());
  const auto versions =
      holder.query("SELECT count(*), count(DISTINCT version) FROM schema_version");
  CHECK(versions.integer(0, 0) == static_cast<std::int64_t>(all));
  CHECK(versions.integer(0, 1) == static_cast<std::int64_t>(all));
}

TEST_CASE("a database migrated by a newer binary is refused", "[postgres]") {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  migrate_postgres(db, embedded_postgres_migrations());
  db.query("INSERT INTO schema_version (version, name) VALUES ($1, 'from_the_future')",
           {PgParam::integer(latest() + 1)});
  CHECK_THROWS_WITH(migrate_postgres(db, embedded_postgres_migrations()),
                    Catch::Contains("newer than this binary supports"));
  CHECK_FALSE(db.in_transaction());
}

TEST_CASE("a failing migration leaves the schema as it was", "[postgres]") {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  const std::vector<Migration> migrations = {
      {1, "0001_good", "CREATE TABLE good (v TEXT)"},
      {2, "0002_bad", "CREATE TABLE bad (v NO_SUCH_TYPE)"},
  };
  CHECK_THROWS_WITH(migrate_postgres(db, migrations), Catch::Contains("0002_bad"));
  CHECK_FALSE(table_exists(db, "good"));
  CHECK(pg_schema_version(db) == 0);
  CHECK_FALSE(db.in_transaction());
}

TEST_CASE("migrations out of order are refused before anything runs", "[postgres]") {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  const std::vector<Migration> migrations = {
      {2, "0002_second", "CREATE TABLE second (v TEXT)"},
      {1, "0001_first", "CREATE TABLE first (v TEXT)"},
  };
  CHECK_THROWS_AS(migrate_postgres(db, migrations), PgError);
  CHECK_FALSE(table_exists(db, "second"));
}
