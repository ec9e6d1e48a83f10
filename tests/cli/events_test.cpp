// Tests `webhook-receiver events` (src/cli/events.cpp) through cmd_events, against a real
// database file: deliveries stored with SqliteInbox, claimed and marked dead, then redriven.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "storage/storage_test_support.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace {

using webhook::cli::ArgList;
using webhook::cli::cmd_events;
using webhook::cli::Io;
using webhook::storage::SqliteInbox;
using webhook::test::make_delivery;
using webhook::test::TempDir;

constexpr std::int64_t kFarFuture = std::numeric_limits<std::int64_t>::max();

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

Run events(const ArgList& args) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Run r;
  r.code = cmd_events(args, Io{in, out, err});
  r.out = out.str();
  r.err = err.str();
  return r;
}

// A database with five events: three dead (ids[0..2]), one done (ids[3]), one pending (ids[4]).
struct DeadLetters {
  TempDir dir;
  std::string path = dir.file("inbox.db");
  SqliteInbox inbox{webhook::test::open_migrated(path)};
  std::vector<std::int64_t> ids;

  DeadLetters() {
    const std::vector<webhook::core::Delivery> batch = {
        make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-3"), make_delivery("tx-4"),
        make_delivery("tx-5")};
    for (const auto& r : inbox.store_batch(batch)) ids.push_back(r.event_id);
    REQUIRE(inbox.claim_due(1000, 4).size() == 4);
    REQUIRE(inbox.mark_dead(ids[0], "HTTP 400", 1001));
    REQUIRE(inbox.mark_dead(ids[1], "gave up after 5 attempts: timeout", 1001));
    REQUIRE(inbox.mark_dead(ids[2], "HTTP 410", 1001));
    REQUIRE(inbox.mark_done(ids[3], 1001));
  }

  std::string status(std::int64_t id) { return inbox.find_event(id).value().status; }
  std::string id(std::size_t i) const { return std::to_string(ids.at(i)); }
};

}  // namespace

TEST_CASE("events retry puts the given dead events back to pending", "[cli][events]") {
  DeadLetters db;

  const Run r = events({"retry", db.id(0), db.id(2), "--db", db.path});

  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out == "2 events back to pending\n");
  CHECK(r.err.empty());
  for (const std::size_t i : {0U, 2U}) {
    const auto e = db.inbox.find_event(db.ids[i]);
    CHECK(e->status == "pending");
    CHECK(e->attempts == 0);
    CHECK(e->next_attempt_at_ms > 1001);  // due now (the wall clock)
  }
  CHECK(db.inbox.find_event(db.ids[0])->last_error == "HTTP 400");  // kept for the operator
  CHECK(db.status(db.ids[1]) == "dead");
  CHECK(db.inbox.claim_due(kFarFuture, 10).size() == 3);  // with the pending ids[4]
}

TEST_CASE("events retry reports ids that are not dead as skipped", "[cli][events]") {
  DeadLetters db;

  const Run r = events({"retry", db.id(3), db.id(1), db.id(4), "9999", "--db", db.path});

  CHECK(r.code == 0);
  CHECK(r.out == "skipped event " + db.id(3) +
                     ": it is done, not dead\n"
                     "skipped event " +
                     db.id(4) +
                     ": it is pending, not dead\n"
                     "skipped event 9999: no such event\n"
                     "1 event back to pending\n");
  CHECK(db.status(db.ids[1]) == "pending");
  CHECK(db.status(db.ids[3]) == "done");
  CHECK(db.status(db.ids[0]) == "dead");
}

TEST_CASE("events retry --dead puts every dead event back", "[cli][events]") {
  DeadLetters db;

  const Run r = events({"retry", "--dead", "--db", db.path});

  CHECK(r.code == 0);
  CHECK(r.out == "3 events back to pending\n");
  for (const std::size_t i : {0U, 1U, 2U}) CHECK(db.status(db.ids[i]) == "pending");
  CHECK(db.status(db.ids[3]) == "done");
  CHECK(events({"retry", "--dead", "--db", db.path}).out == "0 events back to pending\n");
}

TEST_CASE("events retry reads the database path from --config", "[cli][events]") {
  DeadLetters db;
  const std::string config = db.dir.file("config.json");
  std::ofstream(config) << R"({ "storage": { "sqlite_path": ")" << db.path << R"(" } })";

  const Run r = events({"retry", db.id(1), "--config", config});

  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out == "1 event back to pending\n");
  CHECK(db.status(db.ids[1]) == "pending");
}

TEST_CASE("events retry rejects a bad id with exit 2 and changes nothing", "[cli][events]") {
  DeadLetters db;

  for (const std::string bad : {"abc", "0", "-3", "12x", "99999999999999999999"}) {
    const Run r = events({"retry", db.id(0), bad, "--db", db.path});
    INFO(bad);
    CHECK(r.code == 2);
    CHECK(r.err.find("'" + bad + "'") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
  }
  CHECK(db.status(db.ids[0]) == "dead");
}

TEST_CASE("events retry usage errors exit 2 with one line", "[cli][events]") {
  DeadLetters db;
  const std::vector<std::pair<ArgList, std::string>> cases = {
      {{}, "action"},
      {{"resurrect", "--db", db.path}, "resurrect"},
      {{"retry", "--db", db.path}, "--dead"},
      {{"retry", db.id(0), "--dead", "--db", db.path}, "--dead"},
      {{"retry", db.id(0), "--db", db.path, "--config", "x.json"}, "--config"},
      {{"retry", db.id(0), "--bogus", "--db", db.path}, "--bogus"},
  };
  for (const auto& [args, mentions] : cases) {
    const Run r = events(args);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("webhook-receiver events: ", 0) == 0);
    CHECK(r.err.find(mentions) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(db.status(db.ids[0]) == "dead");
}

TEST_CASE("events retry on a missing database exits 1 and creates nothing", "[cli][events]") {
  TempDir dir;
  const std::string path = dir.file("typo.db");

  const Run r = events({"retry", "--dead", "--db", path});

  CHECK(r.code == 1);
  CHECK(r.err.find(path) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("events and events retry answer --help", "[cli][events]") {
  const Run top = events({"--help"});
  CHECK(top.code == 0);
  CHECK(top.out.find("retry ID...") != std::string::npos);
  const Run retry = events({"retry", "--help"});
  CHECK(retry.code == 0);
  CHECK(retry.out.find("--dead") != std::string::npos);
  CHECK(retry.err.empty());
}

TEST_CASE("webhook-receiver dispatches the events command", "[cli][events]") {
  DeadLetters db;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;

  CHECK(webhook::cli::run({"events", "retry", "--dead", "--db", db.path}, Io{in, out, err}) == 0);
  CHECK(out.str() == "3 events back to pending\n");
  std::ostringstream help;
  CHECK(webhook::cli::run({"--help"}, Io{in, help, err}) == 0);
  CHECK(help.str().find("events retry") != std::string::npos);
}
