// `migrate` on both backends: an SQLite file, and a PostgreSQL database given as --db
// postgres://... (issue 13), whose messages name HOST:PORT/DATABASE and never the password.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "support/cli_run.hpp"
#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_migrate.hpp"
#include "webhook/storage/pg_url.hpp"

using webhook::testing::CliRun;

namespace {

CliRun migrate(std::vector<std::string> args) {
  args.insert(args.begin(), "migrate");
  return webhook::testing::run_cli(
      [&](webhook::cli::Io io) { return webhook::cli::run(args, io); });
}

}  // namespace

TEST_CASE("migrate creates and migrates an SQLite file, then finds it up to date", "[cli]") {
  webhook::testing::TempDir dir;
  const std::string db = dir.file("inbox.db");
  const CliRun first = migrate({"--db", db});
  CHECK(first.code == 0);
  const int latest =
      webhook::storage::Database::latest_version(webhook::storage::embedded_migrations());
  CHECK(first.out.find("migrated " + db + " from version 0 to " + std::to_string(latest)) == 0);
  const CliRun again = migrate({"--db", db});
  CHECK(again.code == 0);
  CHECK(again.out ==
        "schema is up to date (version " + std::to_string(latest) + ") in " + db + "\n");
}

TEST_CASE(
    "migrate --db postgres:// applies the PostgreSQL migrations without printing the "
    "password",
    "[cli][postgres]") {
  const std::string url = webhook::testing::test_postgres().create_database();
  const auto parsed = webhook::storage::parse_pg_url(url);
  REQUIRE(parsed.url);
  REQUIRE_FALSE(parsed.url->password.empty());
  const int latest =
      webhook::storage::Database::latest_version(webhook::storage::embedded_postgres_migrations());

  const CliRun first = migrate({"--db", url});
  INFO(first.err);
  CHECK(first.code == 0);
  CHECK(first.out.find("migrated " + parsed.url->describe() + " from version 0 to " +
                       std::to_string(latest) + ": 0001_inbox") == 0);
  const CliRun again = migrate({"--db", url});
  CHECK(again.code == 0);
  CHECK(again.out == "schema is up to date (version " + std::to_string(latest) + ") in " +
                         parsed.url->describe() + "\n");
  auto db = webhook::storage::PgConnection::connect(url);
  CHECK(webhook::storage::pg_schema_version(db) == latest);

  // A server that refuses the password: exit 1, one line, no password.
  std::string wrong = url;
  wrong.replace(wrong.find(parsed.url->password), parsed.url->password.size(),
                "not-the-password-0123456789");
  const CliRun refused = migrate({"--db", wrong});
  CHECK(refused.code == 1);
  CHECK(refused.err.find(parsed.url->describe()) != std::string::npos);
  CHECK(refused.err.find("not-the-password-0123456789") == std::string::npos);
  CHECK(refused.err.find(parsed.url->password) == std::string::npos);
  for (const CliRun* r : {&first, &again, &refused}) {
    CHECK(r->out.find(parsed.url->password) == std::string::npos);
  }

  // The password from PGPASSWORD (libpq's), the URL without it: what the help recommends.
  const std::string other = webhook::testing::test_postgres().create_database();
  const auto other_parsed = webhook::storage::parse_pg_url(other);
  REQUIRE(other_parsed.url);
  std::string without = other;
  without.erase(without.find(":" + other_parsed.url->password + "@"),
                other_parsed.url->password.size() + 1);
  REQUIRE(without.find(other_parsed.url->password) == std::string::npos);
  ::setenv("PGPASSWORD", other_parsed.url->password.c_str(), 1);
  const CliRun from_env = migrate({"--db", without});
  ::unsetenv("PGPASSWORD");
  INFO(from_env.err);
  CHECK(from_env.code == 0);
  CHECK(from_env.out.find("migrated " + other_parsed.url->describe()) == 0);

  const CliRun bad = migrate({"--db", "postgres://host:notaport/db"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--db: not a usable postgres URL") != std::string::npos);
}
