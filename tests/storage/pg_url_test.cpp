// Tests include/webhook/storage/pg_url.hpp: parsing, describing and scrubbing postgres URLs.

#include "webhook/storage/pg_url.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace {

using webhook::storage::is_pg_url;
using webhook::storage::parse_pg_url;

constexpr const char* kPassword = "fake-password-0123456789";

}  // namespace

TEST_CASE("a postgres URL is taken apart into its parts", "[pg_url]") {
  const auto parsed = parse_pg_url(std::string("postgresql://receiver:") + kPassword +
                                   "@db.internal:6432/webhooks?sslmode=require&application_name=x");
  REQUIRE(parsed.url);
  CHECK(parsed.url->user == "receiver");
  CHECK(parsed.url->password == kPassword);
  CHECK(parsed.url->host == "db.internal");
  CHECK(parsed.url->port == "6432");
  CHECK(parsed.url->database == "webhooks");
  REQUIRE(parsed.url->params.size() == 2);
  CHECK(parsed.url->params[0].first == "sslmode");
  CHECK(parsed.url->params[0].second == "require");
}

TEST_CASE("describe names host, port and database but never the user or password", "[pg_url]") {
  const auto parsed =
      parse_pg_url(std::string("postgres://receiver:") + kPassword + "@10.0.0.5:5432/inbox");
  REQUIRE(parsed.url);
  CHECK(parsed.url->describe() == "postgres 10.0.0.5:5432/inbox");
  const auto bare = parse_pg_url("postgres://");
  REQUIRE(bare.url);
  CHECK(bare.url->describe() == "postgres (default host)/(default database)");
}

TEST_CASE("a percent-encoded password is decoded and scrubbed in both forms", "[pg_url]") {
  const auto parsed = parse_pg_url("postgres://u:fake%40secret%2Fpassword@[::1]:5433/db%20one");
  REQUIRE(parsed.url);
  CHECK(parsed.url->password == "fake@secret/password");
  CHECK(parsed.url->host == "::1");
  CHECK(parsed.url->port == "5433");
  CHECK(parsed.url->database == "db one");
  CHECK(parsed.url->scrub("x fake@secret/password y fake%40secret%2Fpassword z") ==
        "x *** y *** z");
}

TEST_CASE("a password given as a query parameter is kept out of the parameters", "[pg_url]") {
  const auto parsed = parse_pg_url(std::string("postgres://h/db?password=") + kPassword);
  REQUIRE(parsed.url);
  CHECK(parsed.url->password == kPassword);
  CHECK(parsed.url->params.empty());
  CHECK(parsed.url->scrub(std::string("said ") + kPassword) == "said ***");
}

TEST_CASE("malformed URLs are refused without repeating them", "[pg_url]") {
  const std::string bad[] = {
      std::string("mysql://u:") + kPassword + "@h/db",
      std::string("postgres://u:") + kPassword + "@h:notaport/db",
      std::string("postgres://u:") + kPassword + "@h:70000/db",
      std::string("postgres://u:") + kPassword + "%zz@h/db",
      std::string("postgres://u:") + kPassword + "@[::1/db",
  };
  for (const std::string& text : bad) {
    const auto parsed = parse_pg_url(text);
    CHECK_FALSE(parsed.url);
    CHECK_FALSE(parsed.error.empty());
    CHECK(parsed.error.find(kPassword) == std::string::npos);
  }
}

TEST_CASE("is_pg_url tells a postgres URL from an SQLite path", "[pg_url]") {
  CHECK(is_pg_url("postgres://h/db"));
  CHECK(is_pg_url("postgresql://h/db"));
  CHECK_FALSE(is_pg_url("var/webhook-receiver.db"));
  CHECK_FALSE(is_pg_url("file:inbox.db?mode=ro"));
}
