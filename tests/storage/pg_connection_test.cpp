// Tests include/webhook/storage/pg_connection.hpp against a real PostgreSQL 15 (the CTest fixture
// "postgres", tests/support/postgres_server.hpp): statements, parameters, transactions, errors.

#include "webhook/storage/pg_connection.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "support/postgres_server.hpp"

namespace {

using webhook::storage::PgConnection;
using webhook::storage::PgError;
using webhook::storage::PgParam;
using webhook::storage::PgTransaction;
using webhook::testing::PostgresServer;
using webhook::testing::test_postgres;

// The message of the PgError `connect(url)` throws ("" when it connects).
std::string connect_error(const std::string& url) {
  try {
    PgConnection::connect(url, 3);
  } catch (const PgError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a connection runs statements and parameterized queries", "[postgres]") {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  db.exec(
      "CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT,"
      " n BIGINT, body BYTEA NOT NULL)");
  const std::string body("\x00\xff\x01 'quoted' \\ \x80", 16);
  const auto inserted =
      db.query("INSERT INTO t (name, n, body) VALUES ($1, $2, $3) RETURNING id",
               {PgParam::text("it's"), PgParam::integer(-42), PgParam::bytes(body)});
  REQUIRE(inserted.rows() == 1);
  const std::int64_t id = inserted.integer(0, 0);
  db.query("INSERT INTO t (name, n, body) VALUES ($1, $2, $3)",
           {PgParam::null(), PgParam::null(), PgParam::bytes("")});

  const auto row = db.query("SELECT name, n, body FROM t WHERE id = $1", {PgParam::integer(id)});
  REQUIRE(row.rows() == 1);
  CHECK(row.text(0, 0) == "it's");
  CHECK(row.integer(0, 1) == -42);
  CHECK(row.bytes(0, 2) == body);
  const auto empty = db.query("SELECT name, n, body FROM t WHERE id <> $1", {PgParam::integer(id)});
  REQUIRE(empty.rows() == 1);
  CHECK(empty.is_null(0, 0));
  CHECK(empty.is_null(0, 1));
  CHECK(empty.bytes(0, 2).empty());
  CHECK(db.query("UPDATE t SET n = 1").affected() == 2);
}

TEST_CASE("a text parameter with a NUL byte is refused, never cut short", "[postgres]") {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  db.exec("CREATE TABLE k (id TEXT PRIMARY KEY)");
  const std::string with_nul("abc\0x", 5);
  try {
    db.query("INSERT INTO k (id) VALUES ($1)", {PgParam::text(with_nul)});
    FAIL("the NUL byte was sent");
  } catch (const webhook::storage::PgError& e) {
    CHECK(e.sqlstate() == "22021");
    CHECK(std::string(e.what()).find("text parameter $1 holds a NUL byte") != std::string::npos);
  }
  // Nothing was stored under the cut-off value "abc".
  CHECK(db.query("SELECT count(*) FROM k").integer(0, 0) == 0);
}

TEST_CASE("a PgTransaction rolls back unless committed", "[postgres]") {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  db.exec("CREATE TABLE t (v TEXT)");
  {
    PgTransaction tx(db);
    db.query("INSERT INTO t VALUES ($1)", {PgParam::text("dropped")});
    CHECK(db.in_transaction());
  }
  CHECK_FALSE(db.in_transaction());
  {
    PgTransaction tx(db);
    db.query("INSERT INTO t VALUES ($1)", {PgParam::text("kept")});
    tx.commit();
  }
  const auto rows = db.query("SELECT v FROM t");
  REQUIRE(rows.rows() == 1);
  CHECK(rows.text(0, 0) == "kept");
}

TEST_CASE("committing a transaction in which a statement failed throws", "[postgres]") {
  PgConnection db = PgConnection::connect(test_postgres().create_database());
  db.exec("CREATE TABLE t (v TEXT PRIMARY KEY)");
  PgTransaction tx(db);
  db.query("INSERT INTO t VALUES ('a')");
  CHECK_THROWS_AS(db.query("INSERT INTO t VALUES ('a')"), PgError);
  CHECK_THROWS_WITH(tx.commit(), Catch::Contains("rolled back"));
  CHECK(db.query("SELECT count(*) FROM t").integer(0, 0) == 0);
}

TEST_CASE("a server error carries its SQLSTATE and names the database", "[postgres]") {
  const std::string url = test_postgres().create_database();
  PgConnection db = PgConnection::connect(url);
  try {
    db.exec("SELECT * FROM no_such_table");
    FAIL("no error");
  } catch (const PgError& e) {
    CHECK(e.sqlstate() == "42P01");
    CHECK_THAT(e.what(), Catch::StartsWith("postgres 127.0.0.1:"));
    CHECK_THAT(e.what(), Catch::Contains("no_such_table"));
    CHECK_THAT(e.what(), !Catch::Contains(PostgresServer::kPassword));
  }
}

TEST_CASE("a wrong password fails naming host and database, never the password", "[postgres]") {
  PostgresServer& server = test_postgres();
  const std::string wrong = "fake-wrong-password-0123456789";
  const std::string url = "postgresql://postgres:" + wrong +
                          "@127.0.0.1:" + std::to_string(server.port()) + "/postgres";
  const std::string message = connect_error(url);
  CHECK_THAT(message, Catch::StartsWith("postgres 127.0.0.1:" + std::to_string(server.port()) +
                                        "/postgres: connect: "));
  CHECK_THAT(message, Catch::Contains("password authentication failed"));
  CHECK(message.find(wrong) == std::string::npos);
  CHECK(message.find(PostgresServer::kPassword) == std::string::npos);
}

TEST_CASE("a malformed or unreachable URL fails without the password", "[postgres]") {
  const std::string secret = "fake-secret-password-abcdef";
  const std::string malformed = connect_error("postgres://u:" + secret + "@127.0.0.1:port/db");
  CHECK_THAT(malformed, Catch::Contains("port"));
  CHECK(malformed.find(secret) == std::string::npos);

  // Port 1 on loopback: privileged, so no test server listens there; refused at once.
  const auto started = std::chrono::steady_clock::now();
  const std::string refused = connect_error("postgres://u:" + secret + "@127.0.0.1:1/inbox");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  CHECK_THAT(refused, Catch::StartsWith("postgres 127.0.0.1:1/inbox: connect: "));
  CHECK(refused.find(secret) == std::string::npos);

  // libpq's own complaint about an option value it received from the URL.
  const std::string option =
      connect_error("postgres://u:" + secret + "@127.0.0.1:1/inbox?sslmode=" + secret);
  CHECK_FALSE(option.empty());
  CHECK(option.find(secret) == std::string::npos);
}
