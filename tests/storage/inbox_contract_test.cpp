// The Inbox contract (include/webhook/core/inbox.hpp), run against SqliteInbox on a real file and
// against the MemoryInbox fake, so the fake cannot drift. SQLite-only failure tests at the end.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "storage_test_support.hpp"
#include "support/memory_inbox.hpp"
#include "webhook/core/inbox.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace {

using webhook::core::Delivery;
using webhook::core::Inbox;
using webhook::core::StoreResult;
using webhook::storage::Database;
using webhook::storage::SqliteInbox;
using webhook::test::make_delivery;
using webhook::test::make_quarantined;
using webhook::test::TempDir;
using Kind = StoreResult::Kind;

struct SqliteFixture {
  TempDir dir;
  SqliteInbox sqlite{webhook::test::open_migrated(dir.file("inbox.db"))};
  Inbox& inbox() { return sqlite; }
};

struct MemoryFixture {
  webhook::test::MemoryInbox memory;
  Inbox& inbox() { return memory; }
};

std::vector<StoreResult> store(Inbox& inbox, std::vector<Delivery> batch) {
  return inbox.store_batch(batch);
}

}  // namespace

TEMPLATE_TEST_CASE("a new key is inserted with an id", "[inbox]", SqliteFixture, MemoryFixture) {
  TestType fx;
  const auto results = store(fx.inbox(), {make_delivery("tx-1")});

  REQUIRE(results.size() == 1);
  CHECK(results[0].kind == Kind::inserted);
  CHECK(results[0].event_id > 0);
  CHECK(results[0].error.empty());
}

TEMPLATE_TEST_CASE("a stored key is a duplicate of the first row, which stays unchanged", "[inbox]",
                   SqliteFixture, MemoryFixture) {
  TestType fx;
  const auto first = store(fx.inbox(), {make_delivery("tx-1")});
  Delivery again = make_delivery("tx-1");
  again.body = "a retried copy with other bytes";
  again.request_id = "req-retry";

  const auto second = store(fx.inbox(), {again});

  REQUIRE(second.size() == 1);
  CHECK(second[0].kind == Kind::duplicate);
  CHECK(second[0].event_id == first[0].event_id);
  CHECK(fx.inbox().count_events() == 1);
  CHECK(fx.inbox().find_event(first[0].event_id)->body == make_delivery("tx-1").body);
}

TEMPLATE_TEST_CASE("two different keys in one batch are both inserted", "[inbox]", SqliteFixture,
                   MemoryFixture) {
  TestType fx;
  const auto results = store(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2")});

  REQUIRE(results.size() == 2);
  CHECK(results[0].kind == Kind::inserted);
  CHECK(results[1].kind == Kind::inserted);
  CHECK(results[0].event_id != results[1].event_id);
  CHECK(fx.inbox().count_events() == 2);
}

TEMPLATE_TEST_CASE("keys differing only in state token or source are distinct", "[inbox]",
                   SqliteFixture, MemoryFixture) {
  TestType fx;
  Delivery sandbox = make_delivery("tx-1", "transaction.status_changed", "captured");
  sandbox.key.source = "sandbox";
  const auto results =
      store(fx.inbox(), {
                            make_delivery("tx-1", "transaction.status_changed", "captured"),
                            make_delivery("tx-1", "transaction.status_changed", "settled"),
                            sandbox,
                        });

  REQUIRE(results.size() == 3);
  for (const auto& r : results) CHECK(r.kind == Kind::inserted);
}

TEMPLATE_TEST_CASE("the same key twice in one batch is inserted, then a duplicate", "[inbox]",
                   SqliteFixture, MemoryFixture) {
  TestType fx;
  const auto results = store(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-1")});

  REQUIRE(results.size() == 2);
  CHECK(results[0].kind == Kind::inserted);
  CHECK(results[1].kind == Kind::duplicate);
  CHECK(results[1].event_id == results[0].event_id);
  CHECK(fx.inbox().count_events() == 1);
}

TEMPLATE_TEST_CASE("a quarantined delivery is stored as quarantined, others as pending", "[inbox]",
                   SqliteFixture, MemoryFixture) {
  TestType fx;
  const auto results = store(fx.inbox(), {make_quarantined("ab12"), make_delivery("tx-1")});

  const auto quarantined = fx.inbox().find_event(results[0].event_id);
  REQUIRE(quarantined);
  CHECK(quarantined->status == "quarantined");
  CHECK(quarantined->quarantine_reason == "no_entity_id");
  CHECK(quarantined->key.entity_kind == "quarantine");
  CHECK(quarantined->entity_kind.empty());
  CHECK(quarantined->entity_id.empty());
  const auto pending = fx.inbox().find_event(results[1].event_id);
  REQUIRE(pending);
  CHECK(pending->status == "pending");
  CHECK(pending->quarantine_reason.empty());
}

TEMPLATE_TEST_CASE("find_event returns the body byte-exact and every field", "[inbox]",
                   SqliteFixture, MemoryFixture) {
  TestType fx;
  Delivery d = make_delivery("tx-7", "transaction.status_changed", "captured");
  using namespace std::string_literals;
  d.body = "{\"a\":\"\0\xff\xfe\xc3\x28\"}\n\0tail"s;  // NULs and invalid UTF-8
  d.request_id = "req-42";
  d.received_at_ms = 1'712'345'678'901;
  d.scheme = webhook::core::Scheme::body;
  d.candidate = webhook::core::BodyCandidate::compact_event_data;
  d.key_slot = 2;

  const auto results = store(fx.inbox(), {d});
  const auto by_id = fx.inbox().find_event(results.at(0).event_id);
  const auto by_key = fx.inbox().find_by_key(d.key);

  REQUIRE(by_id);
  REQUIRE(by_key);
  for (const auto& e : {*by_id, *by_key}) {
    CHECK(e.id == results[0].event_id);
    CHECK(e.key == d.key);
    CHECK(e.body.size() == d.body.size());
    CHECK(e.body == d.body);
    CHECK(e.event_type == "transaction.status_changed");
    CHECK(e.entity_kind == "transaction");
    CHECK(e.entity_id == "tx-7");
    CHECK(e.status == "pending");
    CHECK(e.request_id == "req-42");
    CHECK(e.received_at_ms == 1'712'345'678'901);
    CHECK(e.scheme == webhook::core::to_string(webhook::core::Scheme::body));
    CHECK(e.candidate ==
          webhook::core::to_string(webhook::core::BodyCandidate::compact_event_data));
    CHECK(e.key_slot == 2);
  }
}

TEMPLATE_TEST_CASE("an empty body is stored as an empty body", "[inbox]", SqliteFixture,
                   MemoryFixture) {
  TestType fx;
  Delivery d = make_quarantined("e3b0c442");
  d.body.clear();
  const auto results = store(fx.inbox(), {d});

  REQUIRE(results.at(0).kind == Kind::inserted);
  CHECK(fx.inbox().find_event(results[0].event_id)->body.empty());
}

TEMPLATE_TEST_CASE("unknown ids and keys are not found", "[inbox]", SqliteFixture, MemoryFixture) {
  TestType fx;
  store(fx.inbox(), {make_delivery("tx-1")});

  CHECK_FALSE(fx.inbox().find_event(9999));
  CHECK_FALSE(fx.inbox().find_event(0));
  CHECK_FALSE(fx.inbox().find_by_key(make_delivery("tx-2").key));
}

TEMPLATE_TEST_CASE("count_events counts distinct events", "[inbox]", SqliteFixture, MemoryFixture) {
  TestType fx;
  CHECK(fx.inbox().count_events() == 0);
  CHECK(store(fx.inbox(), {}).empty());
  store(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-1")});
  store(fx.inbox(), {make_delivery("tx-2"), make_delivery("tx-3")});

  CHECK(fx.inbox().count_events() == 3);
}

// ---- SQLite only: what a real storage failure looks like to the caller ----------------------

TEST_CASE("a read-only database fails the whole batch instead of throwing", "[inbox][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  SqliteInbox writable(webhook::test::open_migrated(path));
  const auto stored = writable.store_batch(std::vector<Delivery>{make_delivery("tx-1")});
  REQUIRE(stored.at(0).kind == Kind::inserted);
  SqliteInbox read_only(Database::open(path, Database::Mode::read_only));

  std::vector<StoreResult> results;
  REQUIRE_NOTHROW(results = read_only.store_batch(
                      std::vector<Delivery>{make_delivery("tx-2"), make_delivery("tx-1")}));

  REQUIRE(results.size() == 2);
  for (const auto& r : results) {
    CHECK(r.kind == Kind::failed);
    CHECK(r.error == "database is read-only");
    CHECK(r.event_id == 0);
  }
  CHECK(writable.count_events() == 1);
  CHECK(read_only.count_events() == 1);  // reads still work
}

TEST_CASE("a failure in the middle of a batch stores none of it", "[inbox][sqlite]") {
  TempDir dir;
  Database db = webhook::test::open_migrated(dir.file("inbox.db"));
  // Stands in for an error on the third insert (disk full, I/O error, ...).
  db.exec(
      "CREATE TRIGGER fail_on_boom BEFORE INSERT ON events WHEN NEW.entity_id = 'boom' "
      "BEGIN SELECT RAISE(ABORT, 'boom'); END");
  SqliteInbox inbox(std::move(db));

  const auto results = inbox.store_batch(std::vector<Delivery>{
      make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("boom"), make_delivery("tx-3")});

  REQUIRE(results.size() == 4);
  for (const auto& r : results) CHECK(r.kind == Kind::failed);
  CHECK(inbox.count_events() == 0);
  // The connection is usable again afterwards.
  CHECK(inbox.store_batch(std::vector<Delivery>{make_delivery("tx-1")}).at(0).kind ==
        Kind::inserted);
}

TEST_CASE("a committed batch is there for a new connection", "[inbox][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  std::int64_t id = 0;
  {
    SqliteInbox inbox(webhook::test::open_migrated(path));
    id = inbox.store_batch(std::vector<Delivery>{make_delivery("tx-1")}).at(0).event_id;
  }

  SqliteInbox reopened(Database::open(path, Database::Mode::read_write));
  const auto event = reopened.find_event(id);
  REQUIRE(event);
  CHECK(event->entity_id == "tx-1");
}
