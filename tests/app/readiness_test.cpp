// /readyz's verdict over cached facts.
#include <catch2/catch.hpp>

#include "webhook/app/readiness.hpp"

using webhook::app::judge_readiness;
using webhook::app::ReadinessFacts;

TEST_CASE("ready when workers run, storage is writable and the backlog is fresh", "[readiness]") {
  const auto v = judge_readiness({});
  CHECK(v.ready);
  CHECK(v.reason.empty());
}

TEST_CASE("stopped workers make the service not ready", "[readiness]") {
  ReadinessFacts f;
  f.workers_running = false;
  CHECK(judge_readiness(f).reason == "workers: not running");
}

TEST_CASE("a failed storage probe or commit makes the service not ready", "[readiness]") {
  ReadinessFacts f;
  f.storage_problem = "storage: /x.db: database is locked";
  CHECK_FALSE(judge_readiness(f).ready);
  CHECK(judge_readiness(f).reason == f.storage_problem);
  ReadinessFacts g;
  g.last_commit_ok = false;
  CHECK(judge_readiness(g).reason == "storage: the last commit failed");
}

TEST_CASE("issue 10: replaced storage files and a failing payload log make the service not ready",
          "[readiness]") {
  ReadinessFacts f;
  f.payload_log_problem =
      "payload log: cannot write /dev/full: No space left on device (3 writes failed)";
  CHECK(judge_readiness(f).reason == f.payload_log_problem);
  // Replaced files come first: no delivery is acknowledged until restart.
  f.storage_fault = "storage: /x.db-wal was deleted while the service had it open";
  f.storage_problem = "storage: /x.db: disk I/O error";
  CHECK(judge_readiness(f).reason == f.storage_fault);
}

TEST_CASE("a backlog older than the bound makes the service not ready, and 0 means no bound",
          "[readiness]") {
  ReadinessFacts f;
  f.oldest_unfinished_age_s = 120.5;
  CHECK(judge_readiness(f).ready);  // no bound configured
  f.max_backlog_age_ms = 60000;
  const auto v = judge_readiness(f);
  CHECK_FALSE(v.ready);
  CHECK(v.reason == "backlog: the oldest unfinished event is 120 s old (bound 60 s)");
  f.oldest_unfinished_age_s = 59.9;
  CHECK(judge_readiness(f).ready);
}

TEST_CASE("readiness details list settlement and review figures per source, ages at now",
          "[readiness]") {
  webhook::storage::ProjectionSample production;
  production.source = "production";
  webhook::storage::ProjectionSample sandbox;
  sandbox.source = "sandbox";
  sandbox.open_reviews = 3;
  sandbox.oldest_open_review_ms = 1'000'000;  // 100 000 s before now
  sandbox.open_reviews_older = {2, 1};
  sandbox.awaiting_settlement = 5;
  sandbox.oldest_awaiting_ms = 91'000'000;  // 10 000 s before now
  sandbox.overdue_settlement = 0;
  const webhook::app::ProjectionBounds bounds{300000, {14400000, 86400000}, 3600000};
  const std::string details =
      webhook::app::readiness_details({production, sandbox}, 42.7, bounds, 101'000'000);
  CHECK(details ==
        R"({"settlement":{"oldest_unprocessed_event_age_s":42,"overdue_after_s":3600,"sources":{)"
        R"("production":{"awaiting":0,"oldest_awaiting_age_s":0,"overdue":0},)"
        R"("sandbox":{"awaiting":5,"oldest_awaiting_age_s":10000,"overdue":0}}},)"
        R"("reviews":{"production":{"open":0,"oldest_open_age_s":0,"over_4h":0,"over_24h":0},)"
        R"("sandbox":{"open":3,"oldest_open_age_s":100000,"over_4h":2,"over_24h":1}}})");
}
