// The Inbox contract (include/webhook/core/inbox.hpp), run against SqliteInbox on a real file,
// against the MemoryInbox fake, so the fake cannot drift, and against PgInbox on a real
// PostgreSQL (its instances tagged [postgres]: CTest gives them the server fixture).
// SQLite-only failure tests at the end.

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage_test_support.hpp"
#include "support/memory_inbox.hpp"
#include "support/postgres_server.hpp"
#include "webhook/core/inbox.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_inbox.hpp"
#include "webhook/storage/pg_migrate.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace {

using webhook::core::Delivery;
using webhook::core::Inbox;
using webhook::core::StoredEvent;
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

// A database of its own on the test server, migrated.
webhook::storage::PgConnection migrated_postgres() {
  auto db =
      webhook::storage::PgConnection::connect(webhook::testing::test_postgres().create_database());
  webhook::storage::migrate_postgres(db, webhook::storage::embedded_postgres_migrations());
  return db;
}

struct PgFixture {
  webhook::storage::PgInbox pg{migrated_postgres()};
  Inbox& inbox() { return pg; }
};

std::vector<StoreResult> store(Inbox& inbox, std::vector<Delivery> batch) {
  return inbox.store_batch(batch);
}

// Stores `batch` and returns the new ids, in order.
std::vector<std::int64_t> store_ids(Inbox& inbox, std::vector<Delivery> batch) {
  std::vector<std::int64_t> ids;
  for (const StoreResult& r : inbox.store_batch(batch)) ids.push_back(r.event_id);
  return ids;
}

// The ids claim_due() returns, in its order.
std::vector<std::int64_t> claim_ids(Inbox& inbox, std::int64_t now_ms, std::size_t limit = 100) {
  std::vector<std::int64_t> ids;
  for (const StoredEvent& e : inbox.claim_due(now_ms, limit)) ids.push_back(e.id);
  return ids;
}

std::string status_of(Inbox& inbox, std::int64_t id) { return inbox.find_event(id).value().status; }

using Ids = std::vector<std::int64_t>;

}  // namespace

// One contract scenario, `fn` templated on its fixture (TestType, as in TEMPLATE_TEST_CASE):
// the test cases "NAME - SqliteFixture" and "NAME - MemoryFixture" with `tags`, and
// "NAME - PgFixture" with `tags` and [postgres]. The body follows the macro.
#define INBOX_CONTRACT_CASE(fn, name, tags)                                        \
  template <typename TestType>                                                     \
  void fn();                                                                       \
  TEMPLATE_TEST_CASE(name, tags, SqliteFixture, MemoryFixture) { fn<TestType>(); } \
  TEMPLATE_TEST_CASE(name, tags "[postgres]", PgFixture) { fn<TestType>(); }       \
  template <typename TestType>                                                     \
  void fn()

INBOX_CONTRACT_CASE(a_new_key_is_inserted_with_an_id, "a new key is inserted with an id",
                    "[inbox]") {
  TestType fx;
  const auto results = store(fx.inbox(), {make_delivery("tx-1")});

  REQUIRE(results.size() == 1);
  CHECK(results[0].kind == Kind::inserted);
  CHECK(results[0].event_id > 0);
  CHECK(results[0].error.empty());
}

INBOX_CONTRACT_CASE(a_stored_key_is_a_duplicate_of_the,
                    "a stored key is a duplicate of the first row, which stays unchanged",
                    "[inbox]") {
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

INBOX_CONTRACT_CASE(two_different_keys_in_one_batch_are_both,
                    "two different keys in one batch are both inserted", "[inbox]") {
  TestType fx;
  const auto results = store(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2")});

  REQUIRE(results.size() == 2);
  CHECK(results[0].kind == Kind::inserted);
  CHECK(results[1].kind == Kind::inserted);
  CHECK(results[0].event_id != results[1].event_id);
  CHECK(fx.inbox().count_events() == 2);
}

INBOX_CONTRACT_CASE(keys_differing_only_in_state_token_or_source,
                    "keys differing only in state token or source are distinct", "[inbox]") {
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

INBOX_CONTRACT_CASE(the_same_key_twice_in_one_batch_is,
                    "the same key twice in one batch is inserted, then a duplicate", "[inbox]") {
  TestType fx;
  const auto results = store(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-1")});

  REQUIRE(results.size() == 2);
  CHECK(results[0].kind == Kind::inserted);
  CHECK(results[1].kind == Kind::duplicate);
  CHECK(results[1].event_id == results[0].event_id);
  CHECK(fx.inbox().count_events() == 1);
}

INBOX_CONTRACT_CASE(a_quarantined_delivery_is_stored_as_quarantined_others,
                    "a quarantined delivery is stored as quarantined, others as pending",
                    "[inbox]") {
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

INBOX_CONTRACT_CASE(find_event_returns_the_body_byte_exact_and,
                    "find_event returns the body byte-exact and every field", "[inbox]") {
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

INBOX_CONTRACT_CASE(an_empty_body_is_stored_as_an_empty, "an empty body is stored as an empty body",
                    "[inbox]") {
  TestType fx;
  Delivery d = make_quarantined("e3b0c442");
  d.body.clear();
  const auto results = store(fx.inbox(), {d});

  REQUIRE(results.at(0).kind == Kind::inserted);
  CHECK(fx.inbox().find_event(results[0].event_id)->body.empty());
}

INBOX_CONTRACT_CASE(unknown_ids_and_keys_are_not_found, "unknown ids and keys are not found",
                    "[inbox]") {
  TestType fx;
  store(fx.inbox(), {make_delivery("tx-1")});

  CHECK_FALSE(fx.inbox().find_event(9999));
  CHECK_FALSE(fx.inbox().find_event(0));
  CHECK_FALSE(fx.inbox().find_by_key(make_delivery("tx-2").key));
}

INBOX_CONTRACT_CASE(count_events_counts_distinct_events, "count_events counts distinct events",
                    "[inbox]") {
  TestType fx;
  CHECK(fx.inbox().count_events() == 0);
  CHECK(store(fx.inbox(), {}).empty());
  store(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-1")});
  store(fx.inbox(), {make_delivery("tx-2"), make_delivery("tx-3")});

  CHECK(fx.inbox().count_events() == 3);
}

// ---- the worker pool's queue: claims, outcomes, release, redrive --------------------------------

INBOX_CONTRACT_CASE(a_claim_takes_pending_events_and_returns_them,
                    "a claim takes pending events and returns them as now stored",
                    "[inbox][queue]") {
  TestType fx;
  const Ids ids = store_ids(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2")});

  const auto claimed = fx.inbox().claim_due(1000, 10);

  REQUIRE(claimed.size() == 2);
  CHECK(claimed[0].id == ids[0]);
  CHECK(claimed[1].id == ids[1]);
  for (const StoredEvent& e : claimed) {
    CHECK(e.status == "processing");
    CHECK(e.attempts == 1);
    CHECK(e.updated_at_ms == 1000);
    CHECK(e.last_error.empty());
    CHECK(e.entity_kind == "transaction");
    const auto stored = fx.inbox().find_event(e.id);
    REQUIRE(stored);
    CHECK(e.body == stored->body);
    CHECK(e.key == stored->key);
    CHECK(stored->status == "processing");
    CHECK(stored->attempts == 1);
    CHECK(stored->updated_at_ms == 1000);
  }
  CHECK(claimed[0].body == make_delivery("tx-1").body);
  CHECK(fx.inbox().claim_due(1000, 10).empty());  // claimed once only
}

INBOX_CONTRACT_CASE(a_claim_takes_only_events_that_are_due,
                    "a claim takes only events that are due", "[inbox][queue]") {
  TestType fx;
  const Ids ids = store_ids(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2")});
  REQUIRE(claim_ids(fx.inbox(), 1000) == ids);
  REQUIRE(fx.inbox().schedule_retry(ids[0], 5000, "timeout", 1000));
  REQUIRE(fx.inbox().schedule_retry(ids[1], 3000, "timeout", 1000));

  CHECK(claim_ids(fx.inbox(), 2999).empty());
  CHECK(claim_ids(fx.inbox(), 3000) == Ids{ids[1]});
  CHECK(claim_ids(fx.inbox(), 4999).empty());
  CHECK(claim_ids(fx.inbox(), 5000) == Ids{ids[0]});
}

INBOX_CONTRACT_CASE(a_claim_respects_its_limit_in_id_order,
                    "a claim respects its limit, in id order", "[inbox][queue]") {
  TestType fx;
  const Ids ids =
      store_ids(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-3")});

  CHECK(claim_ids(fx.inbox(), 1000, 0).empty());
  CHECK(claim_ids(fx.inbox(), 1000, 2) == Ids{ids[0], ids[1]});
  CHECK(claim_ids(fx.inbox(), 1000, 2) == Ids{ids[2]});
  CHECK(status_of(fx.inbox(), ids[2]) == "processing");
}

INBOX_CONTRACT_CASE(events_of_different_entities_are_claimed_together,
                    "events of different entities are claimed together", "[inbox][queue]") {
  TestType fx;
  Delivery customer = make_delivery("tx-1", "customer.levelChanged");
  customer.key.entity_kind = "customer";
  customer.entity_kind = "customer";
  const Ids ids = store_ids(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2"), customer});

  CHECK(claim_ids(fx.inbox(), 1000) == ids);  // "tx-1" as a customer is another entity
}

INBOX_CONTRACT_CASE(the_same_entity_id_under_two_sources_is,
                    "the same entity id under two sources is two entities", "[inbox][queue]") {
  TestType fx;
  Delivery sandbox = make_delivery("tx-1");
  sandbox.key.source = "sandbox";
  const Ids ids = store_ids(fx.inbox(), {make_delivery("tx-1"), sandbox});

  CHECK(claim_ids(fx.inbox(), 1000) == ids);
}

INBOX_CONTRACT_CASE(scenario_one_entity_s_events_are_claimed_one,
                    "Scenario: one entity's events are claimed one at a time, in order",
                    "[inbox][queue]") {
  TestType fx;
  GIVEN("two events of one entity") {
    const Ids ids = store_ids(fx.inbox(), {make_delivery("tx-1", "payment.authorized"),
                                           make_delivery("tx-1", "payment.settled")});
    WHEN("the first is claimed") {
      REQUIRE(claim_ids(fx.inbox(), 1000) == Ids{ids[0]});
      THEN("the second is not claimable while the first is processing") {
        CHECK(claim_ids(fx.inbox(), 1000).empty());
      }
      AND_WHEN("the first is done") {
        REQUIRE(fx.inbox().mark_done(ids[0], 1100));
        THEN("the second is claimable") { CHECK(claim_ids(fx.inbox(), 1100) == Ids{ids[1]}); }
      }
      AND_WHEN("the first waits in backoff (pending, not yet due)") {
        REQUIRE(fx.inbox().schedule_retry(ids[0], 9000, "503", 1100));
        THEN("the second is still not claimable, and the first is once due") {
          CHECK(claim_ids(fx.inbox(), 8999).empty());
          CHECK(claim_ids(fx.inbox(), 9000) == Ids{ids[0]});
        }
      }
      AND_WHEN("the first is dead") {
        REQUIRE(fx.inbox().mark_dead(ids[0], "gave up", 1100));
        THEN("it does not block the second") { CHECK(claim_ids(fx.inbox(), 1100) == Ids{ids[1]}); }
      }
      AND_WHEN("the first is unhandled") {
        REQUIRE(fx.inbox().mark_unhandled(ids[0], 1100));
        THEN("the second is claimable") { CHECK(claim_ids(fx.inbox(), 1100) == Ids{ids[1]}); }
      }
    }
  }
}

INBOX_CONTRACT_CASE(quarantined_events_are_never_claimed_and_block_nothing,
                    "quarantined events are never claimed and block nothing", "[inbox][queue]") {
  TestType fx;
  const Ids ids = store_ids(fx.inbox(), {make_quarantined("ab12"), make_delivery("tx-1")});

  CHECK(claim_ids(fx.inbox(), 1000) == Ids{ids[1]});
  CHECK(claim_ids(fx.inbox(), 1'000'000).empty());
  CHECK(status_of(fx.inbox(), ids[0]) == "quarantined");
}

INBOX_CONTRACT_CASE(each_claim_counts_an_attempt_and_a_retry,
                    "each claim counts an attempt and a retry keeps the error", "[inbox][queue]") {
  TestType fx;
  const std::int64_t id = store_ids(fx.inbox(), {make_delivery("tx-1")}).at(0);

  REQUIRE(claim_ids(fx.inbox(), 1000) == Ids{id});
  REQUIRE(fx.inbox().schedule_retry(id, 2000, "connection refused", 1001));
  const auto retried = fx.inbox().find_event(id);
  CHECK(retried->status == "pending");
  CHECK(retried->attempts == 1);
  CHECK(retried->next_attempt_at_ms == 2000);
  CHECK(retried->last_error == "connection refused");
  CHECK(retried->updated_at_ms == 1001);

  const auto second = fx.inbox().claim_due(2000, 10);
  REQUIRE(second.size() == 1);
  CHECK(second[0].attempts == 2);
  CHECK(second[0].last_error == "connection refused");
  REQUIRE(fx.inbox().schedule_retry(id, 4000, "HTTP 500", 2001));
  CHECK(fx.inbox().claim_due(4000, 10).at(0).attempts == 3);
}

INBOX_CONTRACT_CASE(outcomes_of_a_claimed_event, "outcomes of a claimed event", "[inbox][queue]") {
  TestType fx;
  const Ids ids =
      store_ids(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-3")});
  REQUIRE(claim_ids(fx.inbox(), 1000) == ids);
  REQUIRE(fx.inbox().schedule_retry(ids[0], 1500, "first failure", 1001));
  REQUIRE(claim_ids(fx.inbox(), 1500) == Ids{ids[0]});

  REQUIRE(fx.inbox().mark_done(ids[0], 1600));
  REQUIRE(fx.inbox().mark_unhandled(ids[1], 1601));
  REQUIRE(fx.inbox().mark_dead(ids[2], "HTTP 400", 1602));

  const auto done = fx.inbox().find_event(ids[0]);
  CHECK(done->status == "done");
  CHECK(done->attempts == 2);
  CHECK(done->last_error == "first failure");  // mark_done changes nothing but the status
  CHECK(done->next_attempt_at_ms == 1500);
  CHECK(done->updated_at_ms == 1600);
  const auto unhandled = fx.inbox().find_event(ids[1]);
  CHECK(unhandled->status == "unhandled");
  CHECK(unhandled->updated_at_ms == 1601);
  const auto dead = fx.inbox().find_event(ids[2]);
  CHECK(dead->status == "dead");
  CHECK(dead->attempts == 1);
  CHECK(dead->last_error == "HTTP 400");
  CHECK(dead->updated_at_ms == 1602);
}

INBOX_CONTRACT_CASE(outcomes_for_an_event_that_is_not_processing,
                    "outcomes for an event that is not processing change nothing",
                    "[inbox][queue]") {
  TestType fx;
  const Ids ids = store_ids(
      fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2"), make_quarantined("ab12")});
  REQUIRE(claim_ids(fx.inbox(), 1000) == Ids{ids[0], ids[1]});
  REQUIRE(fx.inbox().mark_done(ids[0], 1001));                     // done
  REQUIRE(fx.inbox().schedule_retry(ids[1], 5000, "busy", 1001));  // pending, in backoff
  const auto done_before = fx.inbox().find_event(ids[0]);
  const auto pending_before = fx.inbox().find_event(ids[1]);
  const auto quarantined_before = fx.inbox().find_event(ids[2]);

  for (const std::int64_t id : {ids[0], ids[1], ids[2], std::int64_t{9999}}) {
    CHECK_FALSE(fx.inbox().mark_done(id, 2000));
    CHECK_FALSE(fx.inbox().mark_unhandled(id, 2000));
    CHECK_FALSE(fx.inbox().schedule_retry(id, 3000, "late", 2000));
    CHECK_FALSE(fx.inbox().mark_dead(id, "late", 2000));
  }

  for (const auto& before : {done_before, pending_before, quarantined_before}) {
    const auto after = fx.inbox().find_event(before->id);
    CHECK(after->status == before->status);
    CHECK(after->attempts == before->attempts);
    CHECK(after->next_attempt_at_ms == before->next_attempt_at_ms);
    CHECK(after->last_error == before->last_error);
    CHECK(after->updated_at_ms == before->updated_at_ms);
  }
  CHECK_FALSE(fx.inbox().find_event(9999));
}

INBOX_CONTRACT_CASE(release_claims_puts_every_processing_event_back_due,
                    "release_claims puts every processing event back, due now", "[inbox][queue]") {
  TestType fx;
  const Ids ids =
      store_ids(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-3")});
  REQUIRE(claim_ids(fx.inbox(), 1000) == ids);
  REQUIRE(fx.inbox().mark_done(ids[2], 1001));

  CHECK(fx.inbox().release_claims(2000) == 2);

  for (const std::int64_t id : {ids[0], ids[1]}) {
    const auto e = fx.inbox().find_event(id);
    CHECK(e->status == "pending");
    CHECK(e->next_attempt_at_ms == 2000);
    CHECK(e->updated_at_ms == 2000);
    CHECK(e->attempts == 1);
  }
  CHECK(status_of(fx.inbox(), ids[2]) == "done");
  CHECK(fx.inbox().release_claims(2001) == 0);
  CHECK(claim_ids(fx.inbox(), 2000) == Ids{ids[0], ids[1]});
}

INBOX_CONTRACT_CASE(redrive_puts_dead_events_back_with_attempts_reset,
                    "redrive puts dead events back with attempts reset", "[inbox][queue]") {
  TestType fx;
  const Ids ids = store_ids(fx.inbox(), {make_delivery("tx-1"), make_delivery("tx-2"),
                                         make_delivery("tx-3"), make_delivery("tx-4")});
  REQUIRE(claim_ids(fx.inbox(), 1000) == ids);
  REQUIRE(fx.inbox().mark_dead(ids[0], "HTTP 400", 1001));
  REQUIRE(fx.inbox().mark_dead(ids[1], "HTTP 410", 1001));
  REQUIRE(fx.inbox().mark_dead(ids[2], "HTTP 422", 1001));
  REQUIRE(fx.inbox().mark_done(ids[3], 1001));

  SECTION("by id: only the given dead events; other ids are ignored") {
    const Ids wanted{ids[1], ids[3], 9999};
    CHECK(fx.inbox().redrive(wanted, 2000) == 1);

    const auto e = fx.inbox().find_event(ids[1]);
    CHECK(e->status == "pending");
    CHECK(e->attempts == 0);
    CHECK(e->next_attempt_at_ms == 2000);
    CHECK(e->updated_at_ms == 2000);
    CHECK(e->last_error == "HTTP 410");  // kept for the operator
    CHECK(status_of(fx.inbox(), ids[0]) == "dead");
    CHECK(status_of(fx.inbox(), ids[2]) == "dead");
    CHECK(status_of(fx.inbox(), ids[3]) == "done");
    CHECK(fx.inbox().redrive(wanted, 2001) == 0);  // no longer dead
    CHECK(claim_ids(fx.inbox(), 2000) == Ids{ids[1]});
  }
  SECTION("all: every dead event, nothing else") {
    CHECK(fx.inbox().redrive({}, 2000) == 3);

    CHECK(status_of(fx.inbox(), ids[3]) == "done");
    const auto claimed = fx.inbox().claim_due(2000, 10);
    REQUIRE(claimed.size() == 3);
    for (const StoredEvent& e : claimed) CHECK(e.attempts == 1);
    CHECK(fx.inbox().redrive({}, 2001) == 0);
  }
}

INBOX_CONTRACT_CASE(next_due_ms_is_the_earliest_due_time,
                    "next_due_ms is the earliest due time among pending events", "[inbox][queue]") {
  TestType fx;
  CHECK_FALSE(fx.inbox().next_due_ms());
  const Ids ids = store_ids(
      fx.inbox(), {make_quarantined("ab12"), make_delivery("tx-1"), make_delivery("tx-2")});
  CHECK(fx.inbox().next_due_ms() == std::optional<std::int64_t>(0));  // stored: due at once

  REQUIRE(claim_ids(fx.inbox(), 1000) == Ids{ids[1], ids[2]});
  CHECK_FALSE(fx.inbox().next_due_ms());  // processing and quarantined are not pending
  REQUIRE(fx.inbox().schedule_retry(ids[1], 7000, "x", 1000));
  REQUIRE(fx.inbox().schedule_retry(ids[2], 4000, "x", 1000));
  CHECK(fx.inbox().next_due_ms() == std::optional<std::int64_t>(4000));

  REQUIRE(claim_ids(fx.inbox(), 4000) == Ids{ids[2]});
  REQUIRE(fx.inbox().mark_done(ids[2], 4001));
  CHECK(fx.inbox().next_due_ms() == std::optional<std::int64_t>(7000));
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

TEST_CASE("two connections to one file never claim the same entity twice", "[inbox][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  SqliteInbox first(webhook::test::open_migrated(path));
  SqliteInbox second(Database::open(path, Database::Mode::read_write));
  const Ids ids = store_ids(
      first,
      {make_delivery("tx-1"), make_delivery("tx-1", "payment.refunded"), make_delivery("tx-2")});

  CHECK(claim_ids(first, 1000, 1) == Ids{ids[0]});
  CHECK(claim_ids(second, 1000) == Ids{ids[2]});
  CHECK(claim_ids(first, 1000).empty());
}

TEST_CASE("queue calls on a read-only database throw StorageError", "[inbox][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  SqliteInbox writable(webhook::test::open_migrated(path));
  const Ids ids = store_ids(writable, {make_delivery("tx-1"), make_delivery("tx-2")});
  REQUIRE(claim_ids(writable, 1000, 1) == Ids{ids[0]});
  SqliteInbox read_only(Database::open(path, Database::Mode::read_only));

  CHECK_THROWS_AS(read_only.claim_due(1000, 10), webhook::storage::StorageError);
  CHECK_THROWS_AS(read_only.mark_done(ids[0], 1001), webhook::storage::StorageError);
  CHECK_THROWS_AS(read_only.release_claims(1001), webhook::storage::StorageError);
  CHECK(read_only.next_due_ms() == std::optional<std::int64_t>(0));  // reads still work
  CHECK(status_of(writable, ids[0]) == "processing");
  CHECK(status_of(writable, ids[1]) == "pending");
}
