// The operator commands on a PostgreSQL database (--db postgres://..., issue 13): the `events`
// actions through storage::PgEventQueries and PgInbox, `payments`, `reviews`, `customers` and
// `compare` through PgProjectionQueries, `summary` through the PostgreSQL samples; no output
// carries the password. The queries themselves:
// tests/storage/pg_queries_test.cpp.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "storage/storage_test_support.hpp"
#include "support/cli_run.hpp"
#include "support/postgres_server.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_inbox.hpp"
#include "webhook/storage/pg_migrate.hpp"
#include "webhook/storage/pg_projection_store.hpp"
#include "webhook/storage/pg_url.hpp"

using webhook::testing::CliRun;

namespace {

CliRun events(std::vector<std::string> args) {
  args.insert(args.begin(), "events");
  return webhook::testing::run_cli(
      [&](webhook::cli::Io io) { return webhook::cli::run(args, io); });
}

}  // namespace

TEST_CASE("events list, show, stats, retry and purge work on a PostgreSQL database",
          "[cli][postgres]") {
  const std::string url = webhook::testing::test_postgres().create_database();
  const auto parsed = webhook::storage::parse_pg_url(url);
  REQUIRE(parsed.url);
  webhook::storage::PgConnection db = webhook::storage::PgConnection::connect(url);
  webhook::storage::migrate_postgres(db, webhook::storage::embedded_postgres_migrations());
  webhook::storage::PgInbox inbox(std::move(db));
  const std::vector deliveries{webhook::test::make_delivery("tx-pg-1"),
                               webhook::test::make_delivery("tx-pg-2")};
  const auto stored = inbox.store_batch(deliveries);
  REQUIRE(stored.size() == 2);
  const std::int64_t first = stored[0].event_id;
  // The second one dies: claimed, then dead-lettered.
  REQUIRE(inbox.claim_due(2'000'000'000'000, 10).size() == 2);
  REQUIRE(inbox.mark_done(first, 2'000'000'000'000));
  REQUIRE(inbox.mark_dead(stored[1].event_id, "boom", 2'000'000'000'000));

  const CliRun list = events({"list", "--db", url, "--json"});
  INFO(list.err);
  CHECK(list.code == 0);
  CHECK(list.out.find("tx-pg-1") != std::string::npos);
  CHECK(list.out.find("tx-pg-2") != std::string::npos);

  const CliRun show = events({"show", std::to_string(first), "--db", url});
  CHECK(show.code == 0);
  CHECK(show.out.find(deliveries[0].body) != std::string::npos);
  CHECK(events({"show", "999999", "--db", url}).code == 1);

  const CliRun stats = events({"stats", "--db", url, "--json"});
  CHECK(stats.code == 0);
  CHECK(stats.out.find("\"dead\"") != std::string::npos);

  const CliRun retry = events({"retry", "--dead", "--db", url});
  CHECK(retry.code == 0);
  CHECK(retry.out == "1 event back to pending\n");
  CHECK(inbox.find_event(stored[1].event_id)->status == "pending");

  const CliRun purge = events({"purge", "--older-than", "30d", "--dry-run", "--db", url});
  CHECK(purge.code == 0);
  CHECK(purge.out.find("would delete") == 0);

  // replay reads the same database (named without the password).
  const CliRun replay = webhook::testing::run_cli([&](webhook::cli::Io io) {
    return webhook::cli::run({"replay", "--from-db", url, "--dry-run"}, io);
  });
  INFO(replay.err);
  CHECK(replay.code == 0);
  CHECK(replay.out.find(parsed.url->describe() + " event " + std::to_string(first)) !=
        std::string::npos);
  CHECK(replay.out.find("dry run: 2 deliveries would be sent") != std::string::npos);

  for (const CliRun* r : {&list, &show, &stats, &retry, &purge, &replay}) {
    CHECK(r->out.find(parsed.url->password) == std::string::npos);
    CHECK(r->err.find(parsed.url->password) == std::string::npos);
  }
}

TEST_CASE("events on an unmigrated PostgreSQL database says to migrate, without the password",
          "[cli][postgres]") {
  const std::string url = webhook::testing::test_postgres().create_database();
  const auto parsed = webhook::storage::parse_pg_url(url);
  REQUIRE(parsed.url);
  const CliRun r = events({"list", "--db", url});
  CHECK(r.code == 1);
  CHECK(r.err.find("migrate") != std::string::npos);
  CHECK(r.err.find(parsed.url->password) == std::string::npos);
}

TEST_CASE("payments, reviews, customers and compare read a PostgreSQL database",
          "[cli][postgres]") {
  const std::string url = webhook::testing::test_postgres().create_database();
  webhook::storage::PgConnection db = webhook::storage::PgConnection::connect(url);
  webhook::storage::migrate_postgres(db, webhook::storage::embedded_postgres_migrations());
  {
    webhook::storage::PgTransaction tx(db);
    webhook::storage::PgProjectionStore store(db);
    webhook::core::StoredEvent e;
    e.id = 7;
    e.key.source = "production";
    e.event_type = "payment.requiresReview";
    e.received_at_ms = 1'777'803'151'000;
    e.scheme = "header";
    webhook::core::PaymentFacts f;
    f.transaction_id = "tx-pg-review";
    f.status = "REQUIRES_REVIEW";
    f.total_amount = "2500.00";
    f.currency = "ARS";
    f.occurred_at_ms = 1'777'803'150'000;
    store.apply_payment(e, f);
    store.apply_review(e, f, false);
    webhook::core::StoredEvent c = e;
    c.id = 8;
    c.event_type = "customer.levelChanged";
    webhook::core::CustomerFacts cf;
    cf.customer_id = "cus-pg";
    cf.operation_level = "FULL";
    cf.documents_count = 2;
    store.apply_customer(c, cf);
    tx.commit();
  }
  const auto run = [&](std::vector<std::string> args) {
    return webhook::testing::run_cli(
        [&](webhook::cli::Io io) { return webhook::cli::run(args, io); });
  };
  const CliRun payment = run({"payments", "show", "tx-pg-review", "--db", url});
  INFO(payment.err);
  CHECK(payment.code == 0);
  CHECK(payment.out.find("REQUIRES_REVIEW") != std::string::npos);
  CHECK(payment.out.find("2500.00 ARS") != std::string::npos);
  const CliRun reviews = run({"reviews", "list", "--db", url, "--json"});
  CHECK(reviews.code == 0);
  CHECK(reviews.out.find("tx-pg-review") != std::string::npos);
  const CliRun customer = run({"customers", "show", "cus-pg", "--db", url});
  CHECK(customer.code == 0);
  CHECK(customer.out.find("FULL") != std::string::npos);
  CHECK(run({"customers", "show", "cus-none", "--db", url}).code == 1);
  const CliRun summary = run({"summary", "--db", url, "--json"});
  INFO(summary.err);
  CHECK(summary.code == 0);
  rapidjson::Document doc;
  doc.Parse(summary.out.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc["sources"].Size() == 1);
  CHECK(std::string(doc["sources"][0]["source"].GetString()) == "production");
  CHECK(doc["sources"][0]["reviews"]["open"].GetInt64() == 1);
  CHECK(doc["sources"][0]["settlement"]["awaiting"].GetInt64() == 0);
  const CliRun compare = run({"compare", "--db", url, "--json"});
  CHECK(compare.code == 0);
  CHECK(compare.out.find("\"a\":\"production\",\"b\":\"sandbox\"") != std::string::npos);
}
