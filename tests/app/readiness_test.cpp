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

TEST_CASE("a backlog older than the bound makes the service not ready; 0 means no bound",
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
