// Tests include/webhook/storage/database.hpp: file creation, pragmas, migrations, Transaction.

#include "webhook/storage/database.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "storage_test_support.hpp"

namespace {

using webhook::storage::Database;
using webhook::storage::embedded_migrations;
using webhook::storage::Migration;
using webhook::storage::StorageError;
using webhook::storage::Transaction;
using webhook::test::TempDir;

// The single value of a one-row query, as text ("" for NULL).
std::string query(Database& db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(), sql, -1, &stmt, nullptr) == SQLITE_OK);
  std::string value;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return value;
}

bool table_exists(Database& db, const std::string& name) {
  const std::string sql =
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '" + name + "'";
  return query(db, sql.c_str()) == "1";
}

unsigned permissions_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777u;
}

}  // namespace

TEST_CASE("migrating a fresh file reaches the latest version and creates events", "[database]") {
  TempDir dir;
  Database db = Database::open(dir.file("inbox.db"));
  REQUIRE(db.schema_version() == 0);

  const auto report = db.migrate(embedded_migrations());

  const int latest = Database::latest_version(embedded_migrations());
  CHECK(latest >= 1);
  CHECK(report.from_version == 0);
  CHECK(report.to_version == latest);
  CHECK(report.applied.size() == embedded_migrations().size());
  CHECK(report.applied.front() == "0001_inbox");
  CHECK(db.schema_version() == latest);
  CHECK(table_exists(db, "events"));
}

TEST_CASE("migrating an up-to-date database applies nothing", "[database]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  Database::open(path).migrate(embedded_migrations());

  Database again = Database::open(path);
  const auto report = again.migrate(embedded_migrations());

  CHECK(report.applied.empty());
  CHECK(report.from_version == report.to_version);
  CHECK(report.to_version == Database::latest_version(embedded_migrations()));
}

TEST_CASE("creates the database file and its WAL with mode 0600", "[database]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  Database db = Database::open(path);
  db.migrate(embedded_migrations());

  CHECK(permissions_of(path) == 0600u);
  REQUIRE(std::filesystem::exists(path + "-wal"));  // WAL: the migration wrote to it
  CHECK(permissions_of(path + "-wal") == 0600u);
}

TEST_CASE("runs in WAL mode with synchronous=FULL and foreign keys", "[database]") {
  TempDir dir;
  Database db = Database::open(dir.file("inbox.db"));

  CHECK(query(db, "PRAGMA journal_mode") == "wal");
  CHECK(query(db, "PRAGMA synchronous") == "2");  // FULL
  CHECK(query(db, "PRAGMA foreign_keys") == "1");
}

TEST_CASE("waits for another connection's lock up to the busy timeout, then fails busy",
          "[database]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  Database holder = Database::open(path);
  Database waiter = Database::open(path, Database::Mode::read_write, 200);
  holder.exec("BEGIN IMMEDIATE");

  SECTION("a lock held past the timeout: SQLITE_BUSY after about the timeout") {
    const auto start = std::chrono::steady_clock::now();
    int code = 0;
    try {
      waiter.exec("BEGIN IMMEDIATE");
    } catch (const StorageError& e) {
      code = e.sqlite_code() & 0xff;
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(code == SQLITE_BUSY);
    CHECK(waited >= std::chrono::milliseconds(200));
    CHECK(waited < std::chrono::seconds(5));
    holder.exec("ROLLBACK");
  }
  SECTION("a lock released within the timeout: the waiter gets it") {
    std::thread release([&holder] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      holder.exec("ROLLBACK");
    });
    CHECK_NOTHROW(waiter.exec("BEGIN IMMEDIATE"));
    release.join();
    waiter.exec("ROLLBACK");
  }
}

TEST_CASE("refuses a database written by a newer binary", "[database]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  const int latest = Database::latest_version(embedded_migrations());
  {
    Database db = Database::open(path);
    db.migrate(embedded_migrations());
    db.exec("PRAGMA user_version = " + std::to_string(latest + 1));
  }

  Database db = Database::open(path);
  REQUIRE_THROWS_AS(db.migrate(embedded_migrations()), StorageError);
  REQUIRE_THROWS_WITH(db.migrate(embedded_migrations()),
                      Catch::Contains("newer than this binary") && Catch::Contains(path));
  CHECK(db.schema_version() == latest + 1);
}

TEST_CASE("opening a path in a missing directory creates the directory", "[database]") {
  TempDir dir;
  const std::string path = (dir.path() / "var" / "lib" / "inbox.db").string();

  Database db = Database::open(path);
  db.migrate(embedded_migrations());

  CHECK(std::filesystem::is_directory(dir.path() / "var" / "lib"));
  CHECK(permissions_of(path) == 0600u);
}

TEST_CASE("read_write and read_only modes never create a missing database", "[database]") {
  TempDir dir;
  const std::string path = dir.file("absent.db");

  REQUIRE_THROWS_WITH(Database::open(path, Database::Mode::read_write), Catch::Contains(path));
  REQUIRE_THROWS_AS(Database::open(path, Database::Mode::read_only), StorageError);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a failing migration is rolled back and leaves the version as it was", "[database]") {
  TempDir dir;
  Database db = Database::open(dir.file("inbox.db"));
  const std::vector<Migration> migrations = {
      {1, "0001_ok", "CREATE TABLE a (x INTEGER);"},
      {2, "0002_broken", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);"},
  };

  REQUIRE_THROWS_WITH(db.migrate(migrations), Catch::Contains("0002_broken"));

  CHECK(db.schema_version() == 1);
  CHECK(table_exists(db, "a"));
  CHECK_FALSE(table_exists(db, "b"));
}

TEST_CASE("a transaction rolls back unless committed", "[database]") {
  TempDir dir;
  Database db = Database::open(dir.file("inbox.db"));
  db.exec("CREATE TABLE t (x INTEGER)");

  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (1)");
  }  // no commit
  CHECK(query(db, "SELECT count(*) FROM t") == "0");

  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (2)");
    tx.commit();
  }
  CHECK(query(db, "SELECT count(*) FROM t") == "1");
}

TEST_CASE("errors name the database path and SQLite's reason", "[database]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  Database db = Database::open(path);

  REQUIRE_THROWS_WITH(db.exec("SELECT * FROM no_such_table"),
                      Catch::Contains(path) && Catch::Contains("no such table"));
}
