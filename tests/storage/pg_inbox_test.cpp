// PgInbox beyond the shared Inbox contract (tests/storage/inbox_contract_test.cpp): the one write
// path (write_batch: work items, a failing projection change rolled back to its savepoint,
// observed items, synchronous_commit per batch, a failed batch storing nothing, never throwing),
// load_pending(), changed_elsewhere(), and what several replicas on one database must get right:
// one row per key when two store it at once, and never two events of one entity claimed.
// The projection changes go through an injected applier that writes a table of its own, so these
// tests do not need PgProjectionStore.

#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "storage_test_support.hpp"
#include "support/postgres_server.hpp"
#include "support/wait.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_inbox.hpp"
#include "webhook/storage/pg_migrate.hpp"

namespace {

using webhook::core::BatchWritten;
using webhook::core::Delivery;
using webhook::core::ProjectionChange;
using webhook::core::ReviewNotice;
using webhook::core::StoredEvent;
using webhook::core::StoreResult;
using webhook::core::WorkItem;
using webhook::core::WorkKind;
using webhook::storage::PgConnection;
using webhook::storage::PgInbox;
using webhook::storage::PgParam;
using webhook::storage::PgProjectionApplier;
using webhook::storage::StorageError;
using webhook::test::make_delivery;
using webhook::testing::PostgresServer;
using webhook::testing::test_postgres;
using webhook::testing::wait_until;
using Kind = StoreResult::Kind;
using Ids = std::vector<std::int64_t>;

// A migrated database of its own; connect() opens more connections to it (replicas).
struct PgDatabase {
  std::string url = test_postgres().create_database();
  PgDatabase() {
    PgConnection db = PgConnection::connect(url);
    webhook::storage::migrate_postgres(db, webhook::storage::embedded_postgres_migrations());
    db.exec("CREATE TABLE applied_for_test (event_id BIGINT NOT NULL, transaction_id TEXT)");
  }
  PgConnection connect() const { return PgConnection::connect(url); }
};

// The test's projection: one row per change in applied_for_test; transaction "POISON" fails
// with a server-side error (which leaves the transaction failed until ROLLBACK TO), and a
// review change with notify owes a notice.
std::optional<ReviewNotice> test_applier(PgConnection& db, const StoredEvent& event,
                                         const ProjectionChange& change) {
  if (change.payment.transaction_id == "POISON") {
    db.exec("DO $$ BEGIN RAISE EXCEPTION 'poisoned for the test'; END $$");
  }
  db.query("INSERT INTO applied_for_test (event_id, transaction_id) VALUES ($1, $2)",
           {PgParam::integer(event.id), PgParam::text(change.payment.transaction_id)});
  if (!change.notify) return std::nullopt;
  ReviewNotice notice;
  notice.transaction_id = change.payment.transaction_id;
  return notice;
}

std::int64_t count(PgConnection& db, const std::string& sql) { return db.query(sql).integer(0, 0); }

std::shared_ptr<const StoredEvent> event_of(PgInbox& inbox, std::int64_t id) {
  return std::make_shared<const StoredEvent>(inbox.find_event(id).value());
}

WorkItem item(std::shared_ptr<const StoredEvent> event, WorkKind kind, int attempts = 1) {
  WorkItem w;
  w.event = std::move(event);
  w.kind = kind;
  w.attempts = attempts;
  w.at_ms = 1000;
  return w;
}

WorkItem paid(std::shared_ptr<const StoredEvent> event, const std::string& transaction,
              WorkKind kind = WorkKind::done) {
  WorkItem w = item(std::move(event), kind);
  ProjectionChange change;
  change.kind = ProjectionChange::Kind::payment;
  change.payment.transaction_id = transaction;
  change.payment.status = "SETTLED";
  w.changes.push_back(change);
  w.fallback = WorkKind::retry;
  w.next_attempt_at_ms = 5000;
  return w;
}

Ids stored_ids(const BatchWritten& written) {
  Ids ids;
  for (const StoreResult& r : written.stored) ids.push_back(r.event_id);
  return ids;
}

Ids claim_ids(PgInbox& inbox, std::int64_t now_ms, std::size_t limit = 100) {
  Ids ids;
  for (const StoredEvent& e : inbox.claim_due(now_ms, limit)) ids.push_back(e.id);
  return ids;
}

}  // namespace

TEST_CASE("PgInbox write_batch stores deliveries and records work in one transaction",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect(), test_applier);
  const std::vector deliveries{make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-1")};
  const auto first = inbox.write_batch(deliveries, {}, true);
  REQUIRE(first.ok);
  REQUIRE(first.stored.size() == 3);
  CHECK(first.stored[0].kind == Kind::inserted);
  CHECK(first.stored[2].kind == Kind::duplicate);
  CHECK(first.stored[2].event_id == first.stored[0].event_id);
  CHECK(first.work.empty());

  const auto e1 = event_of(inbox, first.stored[0].event_id);
  const auto e2 = event_of(inbox, first.stored[1].event_id);
  const std::vector work{item(e1, WorkKind::started, 3), item(e2, WorkKind::started),
                         item(e1, WorkKind::done)};
  const auto second = inbox.write_batch({}, work, false);
  REQUIRE(second.ok);
  REQUIRE(second.work.size() == 3);
  for (const auto& r : second.work) CHECK(r.recorded);
  CHECK(second.work[2].kind == WorkKind::done);
  CHECK(second.work[2].event_id == e1->id);
  CHECK(inbox.find_event(e1->id)->status == "done");
  CHECK(inbox.find_event(e1->id)->attempts == 3);
  CHECK(inbox.find_event(e2->id)->status == "processing");

  // A result for an event that is not processing changes nothing and says so.
  const std::vector again{item(e1, WorkKind::done)};
  const auto third = inbox.write_batch({}, again, false);
  REQUIRE(third.ok);
  CHECK_FALSE(third.work.at(0).recorded);

  // Released (the pool stopped before running it), retried, dead.
  const std::vector released{item(e2, WorkKind::released, 0)};
  REQUIRE(inbox.write_batch({}, released, false).work.at(0).recorded);
  CHECK(inbox.find_event(e2->id)->status == "pending");
  CHECK(inbox.find_event(e2->id)->attempts == 0);
  WorkItem retry = item(e2, WorkKind::retry);
  retry.next_attempt_at_ms = 7000;
  retry.error = "HTTP 503";
  const std::vector retried{item(e2, WorkKind::started), retry};
  REQUIRE(inbox.write_batch({}, retried, false).ok);
  const StoredEvent after_retry = inbox.find_event(e2->id).value();
  CHECK(after_retry.status == "pending");
  CHECK(after_retry.next_attempt_at_ms == 7000);
  CHECK(after_retry.last_error == "HTTP 503");
  WorkItem dead = item(e2, WorkKind::dead);
  dead.error = "HTTP 400";
  const std::vector died{item(e2, WorkKind::started, 2), dead};
  const auto last = inbox.write_batch({}, died, true);
  REQUIRE(last.ok);
  CHECK(last.work.at(1).recorded);
  CHECK(inbox.find_event(e2->id)->status == "dead");
  CHECK(inbox.find_event(e2->id)->last_error == "HTTP 400");
}

TEST_CASE("PgInbox a projection change that fails rolls back only its own event",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect(), test_applier);
  const std::vector deliveries{make_delivery("tx-1"), make_delivery("POISON"),
                               make_delivery("tx-3")};
  const auto stored = inbox.write_batch(deliveries, {}, true);
  REQUIRE(stored.ok);
  std::vector<std::shared_ptr<const StoredEvent>> events;
  std::vector<WorkItem> starts;
  for (const auto& r : stored.stored) {
    events.push_back(event_of(inbox, r.event_id));
    starts.push_back(item(events.back(), WorkKind::started));
  }
  REQUIRE(inbox.write_batch({}, starts, false).ok);

  std::vector results{paid(events[0], "tx-1"), paid(events[1], "POISON"),
                      paid(events[2], "tx-3", WorkKind::apply)};
  results[1].changes.insert(results[1].changes.begin(), results[0].changes[0]);  // applied, then
  results[1].changes[0].notify = true;  // taken back with the poisoned one
  results[2].changes[0].notify = true;
  const auto written = inbox.write_batch({}, results, false);
  REQUIRE(written.ok);
  REQUIRE(written.work.size() == 3);
  CHECK(written.work[0].kind == WorkKind::done);
  CHECK(written.work[1].kind == WorkKind::retry);  // the fallback
  CHECK(written.work[1].error.find("poisoned for the test") != std::string::npos);
  CHECK_FALSE(written.work[1].notification_owed);
  CHECK(written.work[2].kind == WorkKind::apply);
  REQUIRE(written.work[2].notification_owed);
  CHECK(written.work[2].notification_owed->transaction_id == "tx-3");
  for (const auto& r : written.work) CHECK(r.recorded);

  CHECK(inbox.find_event(events[0]->id)->status == "done");
  CHECK(inbox.find_event(events[2]->id)->status == "processing");  // apply: status unchanged
  const StoredEvent poisoned = inbox.find_event(events[1]->id).value();
  CHECK(poisoned.status == "pending");
  CHECK(poisoned.next_attempt_at_ms == 5000);
  CHECK(poisoned.last_error.find("poisoned for the test") != std::string::npos);
  PgConnection reader = database.connect();
  CHECK(count(reader, "SELECT count(*) FROM applied_for_test") == 2);
  CHECK(count(reader, "SELECT count(*) FROM applied_for_test WHERE event_id = " +
                          std::to_string(events[1]->id)) == 0);
}

TEST_CASE("PgInbox an observed event is stored with its own status and its changes, once",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect(), test_applier);
  auto observation = std::make_shared<StoredEvent>(
      webhook::core::to_stored_event(0, make_delivery("tx-api", "payment.settled", "SETTLED")));
  observation->status = "done";
  observation->key.source = "production";
  WorkItem observed = paid(observation, "tx-api", WorkKind::observed);

  const std::vector once{observed};
  const auto first = inbox.write_batch({}, once, false);
  REQUIRE(first.ok);
  REQUIRE(first.work.size() == 1);
  CHECK(first.work[0].kind == WorkKind::observed);
  CHECK(first.work[0].recorded);
  REQUIRE(first.work[0].event_id > 0);
  const StoredEvent stored = inbox.find_event(first.work[0].event_id).value();
  CHECK(stored.status == "done");
  CHECK(stored.key == observation->key);
  CHECK(stored.body == observation->body);
  PgConnection reader = database.connect();
  CHECK(count(reader, "SELECT count(*) FROM applied_for_test WHERE event_id = " +
                          std::to_string(stored.id)) == 1);

  // The same key again records nothing and applies nothing.
  const auto again = inbox.write_batch({}, once, false);
  REQUIRE(again.ok);
  CHECK_FALSE(again.work.at(0).recorded);
  CHECK(count(reader, "SELECT count(*) FROM applied_for_test") == 1);

  // A change that fails takes the event back too; the rest of the batch commits.
  auto poisoned_event = std::make_shared<StoredEvent>(*observation);
  poisoned_event->key.entity_id = "POISON";
  const std::vector mixed{paid(poisoned_event, "POISON", WorkKind::observed)};
  const std::vector<Delivery> delivery{make_delivery("tx-9")};
  const auto third = inbox.write_batch(delivery, mixed, false);
  REQUIRE(third.ok);
  CHECK(third.stored.at(0).kind == Kind::inserted);
  CHECK_FALSE(third.work.at(0).recorded);
  CHECK(third.work.at(0).error.find("poisoned for the test") != std::string::npos);
  CHECK_FALSE(inbox.find_by_key(poisoned_event->key));
  CHECK(inbox.count_events() == 2);
}

TEST_CASE("PgInbox applies projection changes through PgProjectionStore by default",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect());  // no applier given: the real projections
  const std::vector<Delivery> deliveries{make_delivery("tx-real", "payment.settled", "SETTLED")};
  const auto stored = inbox.write_batch(deliveries, {}, true);
  REQUIRE(stored.ok);
  auto event = std::make_shared<StoredEvent>(webhook::core::to_stored_event(
      stored.stored.at(0).event_id, make_delivery("tx-real", "payment.settled", "SETTLED")));
  event->key.source = deliveries[0].key.source;
  const std::vector started{item(event, WorkKind::started)};
  REQUIRE(inbox.write_batch({}, started, false).ok);
  const std::vector done{paid(event, "tx-real")};
  const auto written = inbox.write_batch({}, done, false);
  REQUIRE(written.ok);
  CHECK(written.work.at(0).kind == WorkKind::done);
  CHECK(written.work.at(0).error.empty());
  CHECK(written.work.at(0).recorded);
  PgConnection reader = database.connect();
  CHECK(count(reader,
              "SELECT count(*) FROM payments WHERE transaction_id = 'tx-real'"
              " AND status = 'SETTLED'") == 1);
  CHECK(count(reader,
              "SELECT count(*) FROM payment_history WHERE transaction_id = 'tx-real'"
              " AND origin = 'webhook'") == 1);
  CHECK(inbox.find_event(event->id).value().status == "done");
}

TEST_CASE("PgInbox synchronous_commit is off only for a batch that need not be durable",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  std::vector<std::string> seen;
  PgInbox inbox(database.connect(),
                [&seen](PgConnection& db, const StoredEvent&, const ProjectionChange&) {
                  seen.emplace_back(db.query("SHOW synchronous_commit").text(0, 0));
                  return std::optional<ReviewNotice>();
                });
  // A session (or server) default of off must not make a durable batch volatile.
  inbox.connection().exec("SET synchronous_commit = off");
  const std::vector<Delivery> deliveries{make_delivery("tx-1")};
  const auto stored = inbox.write_batch(deliveries, {}, true);
  REQUIRE(stored.ok);
  const std::vector work{paid(event_of(inbox, stored.stored[0].event_id), "tx-1", WorkKind::apply)};

  REQUIRE(inbox.write_batch({}, work, true).ok);
  inbox.connection().exec("SET synchronous_commit = on");
  REQUIRE(inbox.write_batch({}, work, false).ok);

  CHECK(seen == std::vector<std::string>{"on", "off"});
  CHECK(inbox.connection().query("SHOW synchronous_commit").text(0, 0) == "on");  // SET LOCAL
}

TEST_CASE("PgInbox a batch that fails stores nothing of it and does not throw",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect(), test_applier);
  const std::vector<Delivery> before{make_delivery("tx-0")};
  const std::int64_t pending = inbox.write_batch(before, {}, true).stored.at(0).event_id;
  // Stands in for an error on the third insert (disk full, a constraint, ...).
  inbox.connection().exec(R"sql(
    CREATE FUNCTION fail_on_boom() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.entity_id = 'boom' THEN RAISE EXCEPTION 'boom'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER fail_on_boom BEFORE INSERT ON events
      FOR EACH ROW EXECUTE FUNCTION fail_on_boom();
  )sql");
  const std::vector deliveries{make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("boom"),
                               make_delivery("tx-3")};
  const std::vector work{item(event_of(inbox, pending), WorkKind::started)};

  BatchWritten written;
  REQUIRE_NOTHROW(written = inbox.write_batch(deliveries, work, true));

  CHECK_FALSE(written.ok);
  CHECK(written.work.empty());
  REQUIRE(written.stored.size() == 4);
  for (const StoreResult& r : written.stored) {
    CHECK(r.kind == Kind::failed);
    CHECK(r.event_id == 0);
    CHECK_FALSE(r.error.empty());
    CHECK(r.error.find(PostgresServer::kPassword) == std::string::npos);
  }
  CHECK(inbox.count_events() == 1);
  CHECK(inbox.find_event(pending)->status == "pending");  // the started mark was rolled back
  // store_batch() fails the same way, and the connection is usable again afterwards.
  for (const StoreResult& r : inbox.store_batch(deliveries)) CHECK(r.kind == Kind::failed);
  const std::vector<Delivery> fine{make_delivery("tx-1")};
  CHECK(inbox.write_batch(fine, {}, true).stored.at(0).kind == Kind::inserted);
}

TEST_CASE("PgInbox a lost connection fails the batch in flight and the next call reconnects",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect());
  const auto backend_pid = [&] {
    return inbox.connection().query("SELECT pg_backend_pid()").integer(0, 0);
  };
  const std::int64_t pid = backend_pid();
  PgConnection admin = database.connect();
  REQUIRE(admin.query("SELECT pg_terminate_backend($1::int)", {PgParam::integer(pid)}).text(0, 0) ==
          "t");

  const std::vector<Delivery> deliveries{make_delivery("tx-1"), make_delivery("tx-2")};
  BatchWritten written;
  REQUIRE_NOTHROW(written = inbox.write_batch(deliveries, {}, true));
  CHECK_FALSE(written.ok);
  REQUIRE(written.stored.size() == 2);
  for (const StoreResult& r : written.stored) {
    CHECK(r.kind == Kind::failed);
    CHECK(r.error == "database unreachable");
  }
  CHECK(count(admin, "SELECT count(*) FROM events") == 0);

  // The next call opens the connection again: the platform's retry of the batch is stored.
  REQUIRE_NOTHROW(written = inbox.write_batch(deliveries, {}, true));
  CHECK(written.ok);
  CHECK(count(admin, "SELECT count(*) FROM events") == 2);
  CHECK(backend_pid() != pid);
  CHECK(inbox.claim_due(1'000'000'000'000'000, 10).size() == 2);
  // ... and it LISTENs again: another connection's change is noticed.
  CHECK_FALSE(inbox.changed_elsewhere());
  admin.exec("NOTIFY " + std::string(webhook::storage::kChangeChannel));
  CHECK(wait_until([&] { return inbox.changed_elsewhere(); }));
}

TEST_CASE("PgInbox a database that stays down fails every call at once, tried once a second",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect());
  const std::int64_t pid = inbox.connection().query("SELECT pg_backend_pid()").integer(0, 0);
  const std::string name(inbox.connection().query("SELECT current_database()").text(0, 0));
  // From the maintenance database: refuse new connections to this one, then cut the inbox's.
  PgConnection admin = PgConnection::connect(test_postgres().url("postgres"));
  admin.exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false");
  admin.query("SELECT pg_terminate_backend($1::int)", {PgParam::integer(pid)});

  const std::vector<Delivery> deliveries{make_delivery("tx-1")};
  CHECK_FALSE(inbox.write_batch(deliveries, {}, true).ok);  // in flight: lost
  CHECK_FALSE(inbox.write_batch(deliveries, {}, true).ok);  // reconnect refused
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    const BatchWritten w = inbox.write_batch(deliveries, {}, true);
    CHECK_FALSE(w.ok);
    CHECK(w.stored.at(0).error == "database unreachable");
  }
  CHECK_THROWS_AS(inbox.claim_due(1000, 10), StorageError);
  CHECK_FALSE(inbox.changed_elsewhere());
  // Twenty calls within the second: no connect attempt among them, so they took no time.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));

  admin.exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true");
  CHECK(wait_until([&] { return inbox.write_batch(deliveries, {}, true).ok; },
                   std::chrono::seconds(10)));
  PgConnection reader = database.connect();
  CHECK(count(reader, "SELECT count(*) FROM events") == 1);
}

TEST_CASE("PgInbox load_pending reads pending events after an id, in id order",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect());
  std::vector<Delivery> deliveries;
  for (int i = 0; i < 5; ++i) deliveries.push_back(make_delivery("tx-" + std::to_string(i)));
  deliveries.push_back(webhook::test::make_quarantined("ab12"));
  const auto stored = inbox.write_batch(deliveries, {}, true);
  REQUIRE(stored.ok);
  const Ids ids = stored_ids(stored);
  const std::vector work{item(event_of(inbox, ids[1]), WorkKind::started)};
  REQUIRE(inbox.write_batch({}, work, false).ok);  // 2 is processing, not pending

  const auto all = inbox.load_pending(0, 10);
  REQUIRE(all.size() == 4);  // neither the processing one nor the quarantined one
  CHECK(all[0].id == ids[0]);
  CHECK(all[1].id == ids[2]);
  CHECK(all[3].id == ids[4]);
  const auto page = inbox.load_pending(ids[2], 1);
  REQUIRE(page.size() == 1);
  CHECK(page[0].id == ids[3]);
  CHECK(page[0].body == deliveries[3].body);
  CHECK(page[0].entity_id == "tx-3");
  CHECK(inbox.load_pending(0, 0).empty());
}

TEST_CASE("PgInbox changed_elsewhere notices another connection's change, not its own",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox inbox(database.connect());
  PgInbox other(database.connect());
  CHECK_FALSE(inbox.changed_elsewhere());
  const std::vector<Delivery> own{make_delivery("tx-1")};
  REQUIRE(inbox.store_batch(own).at(0).kind == Kind::inserted);  // NOTIFY, from itself
  const std::int64_t id = inbox.claim_due(1000, 1).at(0).id;
  REQUIRE(inbox.mark_dead(id, "HTTP 400", 1001));
  CHECK_FALSE(inbox.changed_elsewhere());

  // An operator's `events retry` on another connection.
  const Ids ids{id};
  REQUIRE(other.redrive(ids, 2000) == 1);
  CHECK(wait_until([&] { return inbox.changed_elsewhere(); }));
  CHECK_FALSE(inbox.changed_elsewhere());  // told once

  // Another connection's store_batch (a replay) too.
  const std::vector<Delivery> theirs{make_delivery("tx-2")};
  REQUIRE(other.store_batch(theirs).at(0).kind == Kind::inserted);
  CHECK(wait_until([&] { return inbox.changed_elsewhere(); }));

  // What sends nothing: a duplicate-only store_batch, updates that change no row, and the
  // writer's own path (see pg_inbox.hpp). A listener of its own sees only the marker sent
  // after them (notifications arrive in commit order).
  PgConnection listener = database.connect();
  listener.exec("LISTEN " + std::string(webhook::storage::kChangeChannel));
  REQUIRE(other.store_batch(theirs).at(0).kind == Kind::duplicate);
  REQUIRE(other.redrive({}, 3000) == 0);
  REQUIRE(other.release_claims(3000) == 0);
  REQUIRE(other.write_batch(std::vector<Delivery>{make_delivery("tx-3")}, {}, true).ok);
  PgConnection marker = database.connect();
  marker.exec("NOTIFY " + std::string(webhook::storage::kChangeChannel) + ", 'marker'");
  std::vector<std::string> payloads;
  CHECK(wait_until([&] {
    PQconsumeInput(listener.handle());
    while (PGnotify* n = PQnotifies(listener.handle())) {
      payloads.emplace_back(n->extra);
      PQfreemem(n);
    }
    return !payloads.empty();
  }));
  CHECK(payloads == std::vector<std::string>{"marker"});
  CHECK(wait_until([&] { return inbox.changed_elsewhere(); }));  // the marker, from elsewhere
}

// ---- replicas: several connections on one database ---------------------------------------------

TEST_CASE("two PgInbox connections storing one key at once store one row and agree on its id",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox a(database.connect());
  PgInbox b(database.connect());
  const std::int64_t a_pid = a.connection().query("SELECT pg_backend_pid()").integer(0, 0);
  const std::int64_t b_pid = b.connection().query("SELECT pg_backend_pid()").integer(0, 0);
  PgConnection gate = database.connect();
  PgConnection observer = database.connect();
  const auto both_waiting = [&] {
    return observer
               .query(
                   "SELECT count(*) FROM pg_stat_activity WHERE pid IN ($1::int, $2::int)"
                   " AND wait_event_type = 'Lock'",
                   {PgParam::integer(a_pid), PgParam::integer(b_pid)})
               .integer(0, 0) == 2;
  };

  SECTION("one key") {
    // Both inserts wait behind the gate's table lock, then race for the key.
    gate.exec("BEGIN; LOCK TABLE events IN SHARE MODE");
    const std::vector<Delivery> one{make_delivery("tx-1")};
    auto from_a = std::async(std::launch::async, [&] { return a.store_batch(one); });
    auto from_b = std::async(std::launch::async, [&] { return b.store_batch(one); });
    REQUIRE(wait_until(both_waiting));
    gate.exec("COMMIT");
    const auto ra = from_a.get();
    const auto rb = from_b.get();

    REQUIRE(ra.size() == 1);
    REQUIRE(rb.size() == 1);
    CHECK(std::multiset<Kind>{ra[0].kind, rb[0].kind} ==
          std::multiset<Kind>{Kind::inserted, Kind::duplicate});
    CHECK(ra[0].event_id == rb[0].event_id);
    CHECK(ra[0].event_id > 0);
    CHECK(count(observer, "SELECT count(*) FROM events") == 1);
  }
  SECTION("two keys in opposite orders: a deadlock is retried, not failed") {
    gate.exec("BEGIN; LOCK TABLE events IN SHARE MODE");
    const std::vector<Delivery> forward{make_delivery("tx-1"), make_delivery("tx-2")};
    const std::vector<Delivery> backward{make_delivery("tx-2"), make_delivery("tx-1")};
    auto from_a = std::async(std::launch::async, [&] { return a.write_batch(forward, {}, true); });
    auto from_b = std::async(std::launch::async, [&] { return b.write_batch(backward, {}, true); });
    REQUIRE(wait_until(both_waiting));
    gate.exec("COMMIT");
    const auto ra = from_a.get();
    const auto rb = from_b.get();

    REQUIRE(ra.ok);
    REQUIRE(rb.ok);
    CHECK(ra.stored.at(0).event_id == rb.stored.at(1).event_id);  // tx-1
    CHECK(ra.stored.at(1).event_id == rb.stored.at(0).event_id);  // tx-2
    std::size_t inserted = 0;
    for (const auto* r : {&ra, &rb}) {
      for (const StoreResult& s : r->stored) inserted += s.kind == Kind::inserted ? 1 : 0;
    }
    CHECK(inserted == 2);
    CHECK(count(observer, "SELECT count(*) FROM events") == 2);
  }
}

// Each round races two claimers on fresh entities: four "x" entities have a dead first event
// that one side redrives just before it claims while the other claims their second events (row
// locks alone let both through), and "y" has three pending events both claim at once.
TEST_CASE("two PgInbox connections claiming at once never hold two events of one entity",
          "[pg_inbox][postgres]") {
  PgDatabase database;
  PgInbox a(database.connect());
  PgInbox b(database.connect());
  PgConnection check = database.connect();
  constexpr int kRounds = 300;
  constexpr int kXs = 4;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int rounds = 0;
  int violations = 0;
  int both_claimed = 0;  // rounds where each side got something (the claims overlapped)
  for (; rounds < kRounds && std::chrono::steady_clock::now() < deadline; ++rounds) {
    std::vector<Delivery> setup;
    std::vector<std::string> entity_of_index;
    for (int k = 0; k < kXs; ++k) {
      const std::string x = "x" + std::to_string(k) + "-" + std::to_string(rounds);
      setup.push_back(make_delivery(x, "payment.authorized"));
      setup.push_back(make_delivery(x, "payment.settled"));
      entity_of_index.insert(entity_of_index.end(), {x, x});
    }
    const std::string y = "y-" + std::to_string(rounds);
    for (const char* event : {"payment.authorized", "payment.captured", "payment.settled"}) {
      setup.push_back(make_delivery(y, event));
      entity_of_index.push_back(y);
    }
    const Ids ids = stored_ids(a.write_batch(setup, {}, true));
    REQUIRE(ids.size() == setup.size());
    std::map<std::int64_t, std::string> entity_of;
    for (std::size_t i = 0; i < ids.size(); ++i) entity_of[ids[i]] = entity_of_index[i];
    // Each x's first event is claimed and dies; y's first is claimed and released again.
    Ids firsts;
    for (int k = 0; k <= kXs; ++k) firsts.push_back(ids[static_cast<std::size_t>(2 * k)]);
    REQUIRE(claim_ids(a, 1000) == firsts);
    Ids dead(firsts.begin(), firsts.end() - 1);
    for (const std::int64_t id : dead) REQUIRE(a.mark_dead(id, "HTTP 400", 1001));
    REQUIRE(a.release_claims(1001) == 1);

    std::latch start(2);
    auto from_a = std::async(std::launch::async, [&] {
      start.arrive_and_wait();
      return claim_ids(a, 2000);
    });
    auto from_b = std::async(std::launch::async, [&] {
      start.arrive_and_wait();
      b.redrive(dead, 2000);
      return claim_ids(b, 2000);
    });
    const Ids got_a = from_a.get();
    const Ids got_b = from_b.get();

    std::map<std::string, int> claimed_per_entity;
    std::set<std::int64_t> claimed;
    for (const Ids* got : {&got_a, &got_b}) {
      for (const std::int64_t id : *got) {
        CHECK(claimed.insert(id).second);  // never claimed twice
        ++claimed_per_entity[entity_of.at(id)];
        CHECK(id != ids.back());  // y's last waits behind its second
      }
    }
    for (const auto& [entity, n] : claimed_per_entity) violations += n > 1 ? 1 : 0;
    violations += count(check,
                        "SELECT count(*) FROM (SELECT entity_id FROM events WHERE status = "
                        "'processing' GROUP BY entity_id HAVING count(*) > 1) AS t") > 0
                      ? 1
                      : 0;
    both_claimed += !got_a.empty() && !got_b.empty() ? 1 : 0;
    // Settle the round, so the next one's claims see only its own events.
    check.exec("UPDATE events SET status = 'done' WHERE status IN ('pending', 'processing')");
  }
  CHECK(violations == 0);
  CHECK(rounds >= 50);  // enough rounds ran within the time bound to mean something
  CHECK(both_claimed > 0);
}
