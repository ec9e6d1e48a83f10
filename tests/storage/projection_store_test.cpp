// Tests storage::ProjectionStore (SQLite) and storage::PgProjectionStore (a real PostgreSQL 15)
// as twins: every scenario runs against both stores (TEMPLATE_TEST_CASE) with the same inputs and
// the same expected rows (this file is the projection store's only scenario suite); one test
// replays every arrival order of a transaction's events on both and compares all projection tables;
// the last ones race two connections (two replicas) on the same entity. Table contents are read
// back with plain SQL that both databases understand (column lists, joined by '|' here rather than
// by SQL string operators).
#include "webhook/storage/pg_projection_store.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "support/conomy_payloads.hpp"
#include "support/postgres_server.hpp"
#include "support/sql_rows.hpp"
#include "support/wait.hpp"
#include "webhook/core/envelope.hpp"
#include "webhook/core/reconcile.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_migrate.hpp"
#include "webhook/storage/projection_store.hpp"

using namespace webhook;
using core::CustomerEffect;
using core::ReviewAction;
using core::StatusEffect;
using storage::PgConnection;
using storage::PgTransaction;
using testing::conomy_example;
using testing::customer_body;
using testing::Rows;
using testing::tx_body;

namespace {

constexpr std::int64_t kReceived = 1'800'000'000'000;  // receipt times: after every event time

const std::string kParent = "66a2b3c4d5e6f70812345601";    // samples 04 and 05
const std::string kReviewed = "66a2b3c4d5e6f70812345602";  // samples 06, 07 and 08

constexpr std::int64_t kT1 = 1'777'803'150'000;  // 2026-05-03T10:12:30Z: sample 06 (opens)
constexpr std::int64_t kT2 = 1'777'816'929'000;  // 2026-05-03T14:02:09Z: sample 07 (approved)

PgConnection migrated_postgres(const std::string& url) {
  PgConnection db = PgConnection::connect(url);
  storage::migrate_postgres(db, storage::embedded_postgres_migrations());
  return db;
}

// Every row of `sql`, each column as text ("NULL" for NULL), as testing::rows() reads SQLite.
Rows pg_rows(PgConnection& db, const std::string& sql) {
  const storage::PgResult result = db.query(sql);
  Rows out;
  for (int r = 0; r < result.rows(); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < result.columns(); ++c) {
      row.emplace_back(result.is_null(r, c) ? "NULL" : std::string(result.text(r, c)));
    }
    out.push_back(std::move(row));
  }
  return out;
}

// ---- the two stores, behind one face ----------------------------------------------------------

// storage::ProjectionStore on a fresh SQLite file; each apply is its own transaction.
struct SqliteStore {
  test::TempDir dir;
  storage::ProjectionStore store{test::open_migrated(dir.file("projections.db"))};

  template <typename Apply>
  auto run(Apply&& apply) {
    return apply(store);
  }
  Rows rows(const std::string& sql) { return testing::rows(store.database(), sql); }
};

// storage::PgProjectionStore on a fresh database; each apply runs in a transaction of its own, as
// PgInbox::write_batch() would hold one.
struct PgStore {
  PgConnection db = migrated_postgres(testing::test_postgres().create_database());
  storage::PgProjectionStore store{db};

  template <typename Apply>
  auto run(Apply&& apply) {
    PgTransaction tx(db);
    auto result = apply(store);
    tx.commit();
    return result;
  }
  Rows rows(const std::string& sql) { return pg_rows(db, sql); }
};

// The event type and entity kind as ingest() reads them.
core::Envelope envelope_of(const std::string& body) {
  auto envelope = core::parse_envelope(body);
  REQUIRE(envelope.ok());
  return *envelope;
}

// A store on a fresh database, and events numbered in arrival order.
template <typename Store>
struct Rig {
  Store backend;
  std::int64_t next_id = 1;
  std::int64_t now = kReceived;

  core::StoredEvent event(const std::string& body, const std::string& source = "production") {
    core::StoredEvent e;
    e.id = next_id++;
    const core::Envelope envelope = envelope_of(body);
    e.event_type = envelope.event_name;
    e.entity_kind = std::string(core::to_string(envelope.entity_kind));
    e.entity_id = envelope.entity_id;
    e.key = {source, e.event_type, e.entity_kind, e.entity_id, envelope.status};
    e.body = body;
    e.received_at_ms = now;
    e.scheme = "header";
    now += 1000;
    return e;
  }

  storage::PaymentApplied pay(const core::StoredEvent& e) {
    const auto facts = core::payment_facts(e.body);
    REQUIRE(facts.has_value());
    return backend.run([&](auto& store) { return store.apply_payment(e, *facts); });
  }
  storage::CustomerApplied customer(const core::StoredEvent& e) {
    const auto facts = core::customer_facts(e.body);
    REQUIRE(facts.has_value());
    return backend.run([&](auto& store) { return store.apply_customer(e, *facts); });
  }
  storage::ReviewApplied review(const core::StoredEvent& e, bool notify = true) {
    const auto facts = core::payment_facts(e.body);
    REQUIRE(facts.has_value());
    return backend.run([&](auto& store) { return store.apply_review(e, *facts, notify); });
  }
  bool mark_notified(const std::string& source, const std::string& id, std::int64_t event_id,
                     std::int64_t now_ms) {
    return backend.run(
        [&](auto& store) { return store.mark_notified(source, id, event_id, now_ms); });
  }

  Rows rows(const std::string& sql) { return backend.rows(sql); }
  // The single value of a one-row, one-column query.
  std::string value(const std::string& sql) {
    const Rows r = rows(sql);
    REQUIRE(r.size() == 1);
    REQUIRE(r[0].size() == 1);
    return r[0][0];
  }
  // The columns of the single row of `sql`, joined by '|'.
  std::string row(const std::string& sql) {
    const Rows r = rows(sql);
    REQUIRE(r.size() == 1);
    std::string joined;
    for (std::size_t i = 0; i < r[0].size(); ++i) joined += (i == 0 ? "" : "|") + r[0][i];
    return joined;
  }

  // Every row of every projection table, sorted here (not by the database's collation).
  Rows snapshot() {
    Rows all;
    for (const char* table : {"payments", "payment_history", "reviews", "review_history",
                              "customers", "customer_history"}) {
      Rows table_rows = rows(std::string("SELECT * FROM ") + table);
      std::sort(table_rows.begin(), table_rows.end());
      all.push_back({table});
      all.insert(all.end(), table_rows.begin(), table_rows.end());
    }
    return all;
  }
};

template <typename Store>
std::string payment_row(Rig<Store>& rig, const std::string& id, const std::string& columns) {
  return rig.row("SELECT " + columns + " FROM payments WHERE transaction_id = '" + id + "'");
}

template <typename Store>
std::string review_row(Rig<Store>& rig, const std::string& columns,
                       const std::string& id = kReviewed) {
  return rig.row("SELECT " + columns + " FROM reviews WHERE transaction_id = '" + id + "'");
}

template <typename Store>
Rows review_history(Rig<Store>& rig, const std::string& id = kReviewed) {
  return rig.rows("SELECT event_id, action FROM review_history WHERE transaction_id = '" + id +
                  "' ORDER BY event_id");
}

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

// ---- idempotency ------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("projection twins: applying the same event twice changes nothing",
                   "[postgres][pg_projection_store]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto captured = rig.event(conomy_example("04-status-changed-captured.json"));
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  const auto customer = rig.event(conomy_example("10-customer-level-changed.json"));

  CHECK_FALSE(rig.pay(captured).already_applied);
  CHECK_FALSE(rig.pay(opens).already_applied);
  CHECK_FALSE(rig.review(opens, false).already_applied);
  CHECK_FALSE(rig.customer(customer).already_applied);
  const Rows before = rig.snapshot();

  const auto again_payment = rig.pay(captured);
  CHECK(again_payment.already_applied);
  const auto again_review = rig.review(opens, false);
  CHECK(again_review.already_applied);
  CHECK(again_review.action == ReviewAction::none);
  CHECK_FALSE(again_review.notification_owed.has_value());
  CHECK(rig.customer(customer).already_applied);
  CHECK(rig.snapshot() == before);
  CHECK(rig.value("SELECT count(*) FROM payment_history") == "2");
  CHECK(rig.value("SELECT count(*) FROM review_history") == "1");
  CHECK(rig.value("SELECT count(*) FROM customer_history") == "1");
}

TEMPLATE_TEST_CASE("projection twins: history rows say the origin of their event",
                   "[postgres][pg_projection_store]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  opens.scheme = std::string(core::kApiScheme);
  auto customer = rig.event(conomy_example("10-customer-level-changed.json"));
  customer.scheme = std::string(core::kApiScheme);
  const auto settled = rig.event(conomy_example("05-status-changed-settled.json"));
  rig.pay(opens);
  rig.review(opens);
  rig.customer(customer);
  rig.pay(settled);
  CHECK(rig.rows("SELECT event_id, origin FROM payment_history ORDER BY event_id") ==
        Rows{{str(opens.id), "api"}, {str(settled.id), "webhook"}});
  CHECK(rig.value("SELECT origin FROM review_history") == "api");
  CHECK(rig.value("SELECT origin FROM customer_history") == "api");
}

// ---- payments ---------------------------------------------------------------------------------

TEMPLATE_TEST_CASE(
    "projection twins: a transaction moves through CAPTURED, RECEIVED, SETTLED "
    "and keeps SETTLED",
    "[postgres][pg_projection_store][payments]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const std::string id = "tx-flow";
  const auto captured =
      rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z"));
  const auto received =
      rig.event(tx_body("transaction.status_changed", id, "RECEIVED", "2026-05-02T14:00:00Z"));
  const auto settled = rig.event(
      tx_body("transaction.status_changed", id, "SETTLED", "2026-05-02T16:40:00Z",
              R"(,"settledAt":"2026-05-02T16:40:00Z","settlementBatchId":"settlement-ARS-1")"));
  CHECK(rig.pay(captured).effect == StatusEffect::applied);
  CHECK(rig.pay(received).effect == StatusEffect::applied);
  CHECK(rig.pay(settled).effect == StatusEffect::applied);
  CHECK(payment_row(rig, id, "status") == "SETTLED");

  WHEN("the CAPTURED event is delivered again late (a new delivery, its old timestamp)") {
    const auto late =
        rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z"));
    CHECK(rig.pay(late).effect == StatusEffect::stale);
    THEN("SETTLED stays, and the history says why the late one did not apply") {
      CHECK(payment_row(rig, id, "status, status_at_ms, status_event_id") ==
            "SETTLED|1777740000000|" + str(settled.id));
      CHECK(rig.rows("SELECT event_id, status, effect FROM payment_history "
                     "WHERE transaction_id = 'tx-flow' ORDER BY event_id") ==
            Rows{{str(captured.id), "CAPTURED", "applied"},
                 {str(received.id), "RECEIVED", "applied"},
                 {str(settled.id), "SETTLED", "applied"},
                 {str(late.id), "CAPTURED", "stale"}});
    }
  }
  WHEN("a late CAPTURED without a timestamp arrives") {
    const auto late = rig.event(tx_body("transaction.status_changed", id, "CAPTURED", ""));
    CHECK(rig.pay(late).effect == StatusEffect::terminal_kept);
    THEN("SETTLED is kept and the history says terminal_kept") {
      CHECK(payment_row(rig, id, "status") == "SETTLED");
      CHECK(rig.value("SELECT effect FROM payment_history WHERE event_id = " + str(late.id)) ==
            "terminal_kept");
    }
  }
  WHEN("a CAPTURED stamped after the settlement arrives") {
    const auto late =
        rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T17:00:00Z"));
    CHECK(rig.pay(late).effect == StatusEffect::terminal_kept);
    THEN("SETTLED is kept, and so is the latest time of the applied events") {
      CHECK(payment_row(rig, id, "status, status_at_ms, latest_at_ms") ==
            "SETTLED|1777740000000|1777740000000");
      CHECK(rig.value("SELECT effect FROM payment_history WHERE event_id = " + str(late.id)) ==
            "terminal_kept");
    }
  }
  // Whatever happened, the settlement's facts remain.
  CHECK(payment_row(rig, id, "settlement_batch_id, settled_at") ==
        "settlement-ARS-1|2026-05-02T16:40:00Z");
}

TEMPLATE_TEST_CASE("projection twins: a refund child is linked to its parent",
                   "[postgres][pg_projection_store][payments]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  rig.pay(rig.event(conomy_example("04-status-changed-captured.json")));
  rig.pay(rig.event(conomy_example("05-status-changed-settled.json")));
  rig.pay(rig.event(conomy_example("09-payment-refund-created.json")));

  CHECK(rig.rows("SELECT transaction_id, status, type, total_amount FROM payments "
                 "WHERE parent_payment_id = '" +
                 kParent + "'") ==
        Rows{{"66a2b3c4d5e6f70812345699", "RECEIVED", "REFUND", "1500.00"}});
  // The parent does not move.
  CHECK(payment_row(rig, kParent, "status") == "SETTLED");
  CHECK(payment_row(rig, kParent, "parent_payment_id") == "NULL");
}

TEMPLATE_TEST_CASE("projection twins: an under/overpaid companion is linked",
                   "[postgres][pg_projection_store][payments]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  rig.pay(rig.event(conomy_example("11-purchase-underpaid.json")));
  CHECK(payment_row(rig, "66a2b3c4d5e6f70812345603", "related_payment_id") ==
        "66a2b3c4d5e6f70812345604");
}

TEMPLATE_TEST_CASE("projection twins: the settlement batch id is kept when a later event has null",
                   "[postgres][pg_projection_store][payments]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  rig.pay(rig.event(conomy_example("05-status-changed-settled.json")));
  // The same status again, later, without the batch id (applied: refreshes the other fields).
  const auto again = rig.event(tx_body(
      "payment.settled", kParent, "SETTLED", "2026-05-02T16:45:00Z",
      R"(,"settlementBatchId":null,"settledAt":null,"totalAmount":"48000.00","currency":"ARS")"));
  CHECK(rig.pay(again).effect == StatusEffect::applied);
  // A late non-terminal one without it.
  const auto late = rig.event(tx_body("transaction.status_changed", kParent, "CAPTURED",
                                      "2026-05-02T13:05:11Z", R"(,"settlementBatchId":null)"));
  CHECK(rig.pay(late).effect == StatusEffect::stale);
  CHECK(payment_row(rig, kParent, "settlement_batch_id, settled_at, status, total_amount") ==
        "settlement-ARS-1777740000|2026-05-02T16:40:00Z|SETTLED|48000.00");
  CHECK(payment_row(rig, kParent, "status_event_id") == str(again.id));
}

TEMPLATE_TEST_CASE("projection twins: a non-applied event only fills missing fields",
                   "[postgres][pg_projection_store][payments]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const std::string id = "tx-fill";
  rig.pay(rig.event(
      tx_body("payment.settled", id, "SETTLED", "2026-05-02T16:40:00Z", R"(,"currency":"ARS")")));
  const auto late =
      rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z",
                        R"(,"currency":"USD","externalId":"inv-1")"));
  CHECK(rig.pay(late).effect == StatusEffect::stale);
  CHECK(payment_row(rig, id, "currency, external_id") == "ARS|inv-1");
}

TEMPLATE_TEST_CASE("projection twins: captured_at_ms is the first capture",
                   "[postgres][pg_projection_store][payments]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const std::string id = "tx-capture";
  // The first event is no capture: captured_at_ms stays NULL until one comes.
  rig.pay(
      rig.event(tx_body("transaction.status_changed", id, "AUTHORIZED", "2026-05-02T12:00:00Z")));
  CHECK(payment_row(rig, id, "captured_at_ms") == "NULL");
  rig.pay(rig.event(tx_body("transaction.status_changed", id, "RECEIVED", "2026-05-02T14:00:00Z")));
  CHECK(payment_row(rig, id, "captured_at_ms") == "1777730400000");
  // The CAPTURED that happened before it arrives after it.
  rig.pay(rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z")));
  CHECK(payment_row(rig, id, "captured_at_ms") == "1777727111000");
  // Later captures (a review sends it back to CAPTURED) do not move it, nor do other statuses.
  rig.pay(rig.event(tx_body("payment.reviewApproved", id, "CAPTURED", "2026-05-03T14:02:09Z")));
  rig.pay(rig.event(tx_body("payment.settled", id, "SETTLED", "2026-05-03T18:30:00Z")));
  CHECK(payment_row(rig, id, "captured_at_ms, status") == "1777727111000|SETTLED");
}

TEMPLATE_TEST_CASE(
    "projection twins: without timestamps captured_at_ms is the receipt of the first capture",
    "[postgres][pg_projection_store][payments]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto captured = rig.event(conomy_example("01-legacy-transaction-captured.json"));
  rig.pay(captured);
  rig.pay(rig.event(conomy_example("02-legacy-transaction-received.json")));
  const std::string id = "65f1a0c2b7e4d9a1c3e5f701";
  CHECK(payment_row(rig, id, "captured_at_ms") == str(captured.received_at_ms));
  CHECK(payment_row(rig, id, "status, status_at_ms, latest_at_ms") == "RECEIVED|NULL|NULL");
  CHECK(payment_row(rig, id, "first_seen_ms") == str(captured.received_at_ms));
  CHECK(payment_row(rig, id, "last_seen_ms") == str(captured.received_at_ms + 1000));
}

TEMPLATE_TEST_CASE(
    "projection twins: regression (issue 6): a first event without a status does not make a "
    "later status stale",
    "[postgres][pg_projection_store][payments][regression]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const std::string id = "tx-no-status";
  // An event about the transaction that carries no status, stamped after the capture.
  const auto note = rig.event(
      tx_body("payment.noteAdded", id, "", "2026-05-02T14:00:00Z", R"(,"externalId":"inv-9")"));
  CHECK(rig.pay(note).effect == StatusEffect::no_status);
  const auto captured =
      rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z"));
  CHECK(rig.pay(captured).effect == StatusEffect::applied);
  CHECK(payment_row(rig, id, "status, status_event_id, external_id") ==
        "CAPTURED|" + str(captured.id) + "|inv-9");
}

TEMPLATE_TEST_CASE("projection twins: payments of two sources live side by side",
                   "[postgres][pg_projection_store][payments]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  rig.pay(rig.event(conomy_example("04-status-changed-captured.json"), "sandbox"));
  rig.pay(rig.event(conomy_example("05-status-changed-settled.json"), "production"));
  CHECK(rig.rows("SELECT source, status FROM payments ORDER BY source") ==
        Rows{{"production", "SETTLED"}, {"sandbox", "CAPTURED"}});
}

TEMPLATE_TEST_CASE(
    "projection twins: regression (issue 6): an untimed status does not let an older timed one "
    "through",
    "[postgres][pg_projection_store][payments][regression]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  // CAPTURED at 10:00, then REQUIRES_REVIEW with no timestamp, then a late AUTHORIZED of 09:00.
  CHECK(rig.pay(rig.event(tx_body("transaction.status_changed", kParent, "CAPTURED",
                                  "2026-05-03T10:00:00Z")))
            .effect == StatusEffect::applied);
  CHECK(rig.pay(rig.event(tx_body("payment.requiresReview", kParent, "REQUIRES_REVIEW", "")))
            .effect == StatusEffect::applied);
  CHECK(rig.pay(rig.event(tx_body("transaction.status_changed", kParent, "AUTHORIZED",
                                  "2026-05-03T09:00:00Z")))
            .effect == StatusEffect::stale);
  // The status shown has no time of its own; the latest known time is kept apart.
  CHECK(payment_row(rig, kParent, "status, status_at_ms, latest_at_ms") ==
        "REQUIRES_REVIEW|NULL|1777802400000");
}

// ---- customers --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE(
    "projection twins: a customer goes from BASIC to documented to STANDARD, with "
    "a late stale delivery",
    "[postgres][pg_projection_store][customers]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const std::string id = "cust-1";
  const auto basic = rig.event(customer_body(id, "BASIC", 0, "2026-05-01T10:00:00Z"));
  const auto documented = rig.event(customer_body(id, "BASIC", 1, "2026-05-02T10:00:00Z"));
  const auto standard = rig.event(customer_body(id, "STANDARD", 2, "2026-05-04T10:00:00Z"));
  // A level change between the second and the third, delivered last.
  const auto late = rig.event(customer_body(id, "BASIC", 1, "2026-05-03T10:00:00Z"));

  CHECK(rig.customer(basic).effect == CustomerEffect::applied);
  CHECK(rig.value("SELECT documented FROM customers") == "0");
  CHECK(rig.customer(documented).effect == CustomerEffect::applied);
  CHECK(rig.value("SELECT documented FROM customers") == "1");
  CHECK(rig.customer(standard).effect == CustomerEffect::applied);
  CHECK(rig.customer(late).effect == CustomerEffect::stale);

  THEN("the record shows the latest state and the history shows the stale one") {
    CHECK(rig.rows("SELECT operation_level, documents_count, documented, auto_created, "
                   "state_at_ms, state_event_id, client_id, first_seen_ms, last_seen_ms "
                   "FROM customers") ==
          Rows{{"STANDARD", "2", "1", "1", "1777888800000", str(standard.id), "demo-client-ar",
                str(basic.received_at_ms), str(late.received_at_ms)}});
    CHECK(rig.rows("SELECT event_id, operation_level, documents_count, effect "
                   "FROM customer_history ORDER BY event_id") ==
          Rows{{str(basic.id), "BASIC", "0", "applied"},
               {str(documented.id), "BASIC", "1", "applied"},
               {str(standard.id), "STANDARD", "2", "applied"},
               {str(late.id), "BASIC", "1", "stale"}});
  }
}

TEMPLATE_TEST_CASE("projection twins: a documentsCount beyond 32 bits is kept",
                   "[postgres][pg_projection_store][customers]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto e = rig.event(
      R"({"eventType":"customer.levelChanged","timestamp":"2026-05-01T10:00:00Z",)"
      R"("customer":{"id":"cust-big","operationLevel":"FULL","documentsCount":5000000000}})");
  CHECK(rig.customer(e).effect == CustomerEffect::applied);
  CHECK(rig.value("SELECT documents_count FROM customers") == "5000000000");
  CHECK(rig.value("SELECT documents_count FROM customer_history") == "5000000000");
}

TEMPLATE_TEST_CASE(
    "projection twins: a customer level change without timestamps follows "
    "arrival order",
    "[postgres][pg_projection_store][customers]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  rig.customer(rig.event(customer_body("cust-2", "STANDARD", 1, "")));
  rig.customer(rig.event(customer_body("cust-2", "BASIC", std::nullopt, "")));
  CHECK(rig.rows("SELECT operation_level, documents_count, documented, state_at_ms "
                 "FROM customers") == Rows{{"BASIC", "1", "1", "NULL"}});
  CHECK(rig.rows("SELECT occurred_at_ms, effect FROM customer_history ORDER BY event_id") ==
        Rows{{"NULL", "applied"}, {"NULL", "applied"}});
}

TEMPLATE_TEST_CASE(
    "projection twins: regression (issue 6): a stale delivery that shows approved documents "
    "still marks the customer documented",
    "[postgres][pg_projection_store][customers][regression]", SqliteStore, PgStore) {
  // Documented is a one-way flag: arrival order must not decide it. The later event (a limit
  // warning) carries no documentsCount; the earlier one, delivered last, shows the document.
  Rig<TestType> rig;
  const std::string id = "cust-3";
  rig.customer(rig.event(customer_body(id, "BASIC", 0, "2026-05-01T10:00:00Z")));
  rig.customer(rig.event(customer_body(id, "BASIC", std::nullopt, "2026-05-03T10:00:00Z")));
  CHECK(rig.value("SELECT documented FROM customers") == "0");
  const auto late = rig.event(customer_body(id, "BASIC", 1, "2026-05-02T10:00:00Z"));
  CHECK(rig.customer(late).effect == CustomerEffect::stale);
  CHECK(rig.rows("SELECT documented, documents_count, state_at_ms FROM customers") ==
        Rows{{"1", "0", "1777802400000"}});
  // And nothing unsets it: a later event that implies nothing leaves it at 1.
  rig.customer(rig.event(customer_body(id, "BASIC", 0, "2026-05-05T10:00:00Z")));
  CHECK(rig.rows("SELECT documented, documents_count FROM customers") == Rows{{"1", "0"}});
}

// ---- reviews ----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("projection twins: a review is opened then approved",
                   "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  const auto approved = rig.event(conomy_example("07-payment-review-approved.json"));

  const auto opened = rig.review(opens);
  CHECK(opened.action == ReviewAction::open);
  REQUIRE(opened.notification_owed.has_value());
  const storage::ReviewNotice& n = *opened.notification_owed;
  CHECK(n.source == "production");
  CHECK(n.transaction_id == kReviewed);
  CHECK(n.external_id == "vitawallet:dep-553201");
  CHECK(n.total_amount == "2500000.00");
  CHECK(n.currency == "ARS");
  CHECK(n.customer_id == "66a2b3c4d5e6f70899990002");
  CHECK(n.documentation_status == "PENDING_UPLOAD");
  CHECK(n.cycle == 1);
  CHECK(n.opened_at_ms == kT1);
  CHECK(n.opened_received_ms == opens.received_at_ms);
  CHECK(review_row(rig,
                   "state, cycle, opened_event_id, opened_at_ms, opened_received_ms, "
                   "notify_state, notify_event_id, outcome, updated_at_ms") ==
        "open|1|" + str(opens.id) + "|1777803150000|" + str(opens.received_at_ms) + "|pending|" +
            str(opens.id) + "|NULL|" + str(opens.received_at_ms));

  CHECK(rig.mark_notified("production", kReviewed, opens.id, kReceived + 5000));
  const auto closed = rig.review(approved);
  CHECK(closed.action == ReviewAction::close);
  CHECK_FALSE(closed.notification_owed.has_value());
  CHECK(review_row(rig,
                   "state, outcome, closed_event_id, closed_at_ms, documentation_status, "
                   "notify_state, notified_at_ms, updated_at_ms") ==
        "closed|approved|" + str(approved.id) + "|1777816929000|APPROVED|sent|1800000005000|" +
            str(approved.received_at_ms));
  CHECK(review_history(rig) == Rows{{str(opens.id), "opened"}, {str(approved.id), "closed"}});
}

TEMPLATE_TEST_CASE("projection twins: a review is opened then rejected",
                   "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  rig.review(rig.event(conomy_example("06-payment-requires-review.json")));
  const auto rejected =
      rig.event(tx_body("payment.reviewRejected", kReviewed, "FAILED", "2026-05-03T15:00:00Z",
                        R"(,"documentationStatus":"REJECTED")"));
  CHECK(rig.review(rejected).action == ReviewAction::close);
  CHECK(review_row(rig, "state, outcome, documentation_status, closed_event_id") ==
        "closed|rejected|REJECTED|" + str(rejected.id));
  // The umbrella event and the payment's FAILED change nothing more.
  CHECK(
      rig.review(rig.event(tx_body("payment.reviewResolved", kReviewed, "FAILED",
                                   "2026-05-03T15:00:00Z", R"(,"documentationStatus":"REJECTED")")))
          .action == ReviewAction::none);
  CHECK(
      rig.review(rig.event(tx_body("payment.failed", kReviewed, "FAILED", "2026-05-03T15:00:01Z")))
          .action == ReviewAction::none);
  CHECK(review_row(rig, "state, outcome, closed_event_id") ==
        "closed|rejected|" + str(rejected.id));
}

TEMPLATE_TEST_CASE(
    "projection twins: reviewResolved after reviewApproved keeps the outcome "
    "approved",
    "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  rig.review(rig.event(conomy_example("06-payment-requires-review.json")));
  rig.review(rig.event(conomy_example("07-payment-review-approved.json")));
  const auto resolved =
      rig.event(tx_body("payment.reviewResolved", kReviewed, "CAPTURED", "2026-05-03T14:02:09Z",
                        R"(,"documentationStatus":null)"));
  CHECK(rig.review(resolved).action == ReviewAction::none);
  CHECK(review_row(rig, "state, outcome, documentation_status") == "closed|approved|APPROVED");
  CHECK(review_history(rig).back() == std::vector<std::string>{str(resolved.id), "noted"});
}

TEMPLATE_TEST_CASE("projection twins: a generic resolution is refined by the specific decision",
                   "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  rig.review(rig.event(conomy_example("06-payment-requires-review.json")));
  rig.review(
      rig.event(tx_body("payment.reviewResolved", kReviewed, "CAPTURED", "2026-05-03T14:02:09Z")));
  CHECK(review_row(rig, "outcome") == "resolved");
  CHECK(rig.review(rig.event(conomy_example("07-payment-review-approved.json"))).action ==
        ReviewAction::refine);
  CHECK(review_row(rig, "state, outcome, documentation_status") == "closed|approved|APPROVED");
}

TEMPLATE_TEST_CASE("projection twins: a decision that arrives before its opening",
                   "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto approved = rig.event(conomy_example("07-payment-review-approved.json"));
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));

  const auto closed = rig.review(approved);
  CHECK(closed.action == ReviewAction::close);
  CHECK_FALSE(closed.notification_owed.has_value());
  CHECK(review_row(rig,
                   "state, outcome, cycle, opened_event_id, closed_event_id, closed_at_ms, "
                   "notify_state") ==
        "closed|approved|1|NULL|" + str(approved.id) + "|1777816929000|NULL");

  WHEN("the late opening arrives") {
    const auto late = rig.review(opens);
    THEN("the review stays closed, owes nothing, and gets its opening fields") {
      CHECK(late.action == ReviewAction::stale);
      CHECK_FALSE(late.notification_owed.has_value());
      CHECK(review_row(rig,
                       "state, outcome, cycle, opened_event_id, opened_at_ms, "
                       "opened_received_ms, external_id, total_amount, currency, "
                       "customer_id, documentation_status, notify_state") ==
            "closed|approved|1|" + str(opens.id) + "|1777803150000|" + str(opens.received_at_ms) +
                "|vitawallet:dep-553201|2500000.00|ARS|66a2b3c4d5e6f70899990002|APPROVED|NULL");
      CHECK(review_history(rig) == Rows{{str(approved.id), "closed"}, {str(opens.id), "stale"}});
    }
  }
}

TEMPLATE_TEST_CASE(
    "projection twins: an opening that arrives after the payment's terminal "
    "status",
    "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  // payment.failed at 11:00 is delivered first; the requiresReview of 10:12:30 arrives late.
  const auto failed =
      rig.event(tx_body("payment.failed", kReviewed, "FAILED", "2026-05-03T11:00:00Z"));
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  rig.pay(failed);
  CHECK(rig.review(failed).action == ReviewAction::none);  // no review yet: nothing recorded
  CHECK(rig.value("SELECT count(*) FROM review_history") == "0");
  rig.pay(opens);
  const auto late = rig.review(opens);
  THEN("the review is recorded already closed with the payment's outcome, and owes nothing") {
    CHECK(late.action == ReviewAction::stale);
    CHECK_FALSE(late.notification_owed.has_value());
    CHECK(review_row(rig,
                     "state, outcome, opened_event_id, opened_at_ms, closed_event_id, "
                     "closed_at_ms, notify_state") == "closed|failed|" + str(opens.id) + "|" +
                                                          str(kT1) + "|" + str(failed.id) +
                                                          "|1777806000000|NULL");
    CHECK(review_history(rig) == Rows{{str(opens.id), "stale"}});
  }
  THEN("a second opening as old as the first does not reopen it") {
    const auto again = rig.event(tx_body("transaction.status_changed", kReviewed, "REQUIRES_REVIEW",
                                         "2026-05-03T10:12:30Z"));
    rig.pay(again);
    const auto second = rig.review(again);
    CHECK(second.action == ReviewAction::stale);
    CHECK_FALSE(second.notification_owed.has_value());
    CHECK(review_row(rig, "state, outcome, cycle, notify_state") == "closed|failed|1|NULL");
  }
}

TEMPLATE_TEST_CASE(
    "projection twins: an opening after a terminal status without timestamps "
    "still opens",
    "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto failed = rig.event(tx_body("payment.failed", kReviewed, "FAILED", ""));
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  rig.pay(failed);
  rig.pay(opens);
  // The order cannot be told: the operator sees the review rather than miss it.
  CHECK(rig.review(opens).action == ReviewAction::open);
  CHECK(review_row(rig, "state, notify_state") == "open|pending");
}

TEMPLATE_TEST_CASE("projection twins: a review reopens after it was closed",
                   "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto first = rig.event(conomy_example("06-payment-requires-review.json"));
  rig.review(first);
  rig.mark_notified("production", kReviewed, first.id, kReceived + 1);
  rig.review(rig.event(conomy_example("07-payment-review-approved.json")));

  WHEN("a second requiresReview arrives") {
    const auto second =
        rig.event(tx_body("payment.requiresReview", kReviewed, "REQUIRES_REVIEW",
                          "2026-05-04T09:00:00Z", R"(,"documentationStatus":"PENDING_UPLOAD")"));
    const auto reopened = rig.review(second);
    THEN("the cycle counts up and a new notification is owed") {
      CHECK(reopened.action == ReviewAction::reopen);
      REQUIRE(reopened.notification_owed.has_value());
      CHECK(reopened.notification_owed->cycle == 2);
      CHECK(reopened.notification_owed->opened_at_ms == 1'777'885'200'000);
      CHECK(reopened.notification_owed->opened_received_ms == second.received_at_ms);
      // Fields this payload left out come from the review.
      CHECK(reopened.notification_owed->total_amount == "2500000.00");
      CHECK(reopened.notification_owed->documentation_status == "PENDING_UPLOAD");
      CHECK(review_row(rig,
                       "state, cycle, outcome, opened_event_id, opened_at_ms, "
                       "closed_event_id, closed_at_ms, notify_state, notify_event_id, "
                       "notified_at_ms, documentation_status") ==
            "open|2|NULL|" + str(second.id) + "|1777885200000|NULL|NULL|pending|" + str(second.id) +
                "|NULL|PENDING_UPLOAD");
    }
    AND_WHEN("it is settled") {
      const auto settled =
          rig.event(tx_body("payment.settled", kReviewed, "SETTLED", "2026-05-04T12:00:00Z"));
      CHECK(rig.review(settled).action == ReviewAction::close);
      THEN("the second cycle closes with the terminal status") {
        CHECK(review_row(rig, "state, cycle, outcome, notify_state") ==
              "closed|2|settled|cancelled");
      }
    }
  }
}

TEMPLATE_TEST_CASE(
    "projection twins: the opening's notification is owed on every re-run until "
    "mark_notified",
    "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  REQUIRE(rig.review(opens).notification_owed.has_value());

  const auto rerun = rig.review(opens);
  CHECK(rerun.already_applied);
  REQUIRE(rerun.notification_owed.has_value());
  CHECK(rerun.notification_owed->transaction_id == kReviewed);
  CHECK(rerun.notification_owed->cycle == 1);
  CHECK(rerun.notification_owed->opened_at_ms == kT1);
  CHECK(rerun.notification_owed->opened_received_ms == opens.received_at_ms);
  CHECK(rerun.notification_owed->external_id == "vitawallet:dep-553201");
  CHECK(rerun.notification_owed->documentation_status == "PENDING_UPLOAD");

  CHECK_FALSE(rig.mark_notified("production", kReviewed, opens.id + 1, kReceived));
  CHECK_FALSE(rig.mark_notified("sandbox", kReviewed, opens.id, kReceived));
  CHECK(rig.mark_notified("production", kReviewed, opens.id, kReceived + 42));
  CHECK_FALSE(rig.mark_notified("production", kReviewed, opens.id, kReceived + 43));

  const auto after = rig.review(opens);
  CHECK(after.already_applied);
  CHECK_FALSE(after.notification_owed.has_value());
  CHECK(review_row(rig, "notify_state, notified_at_ms") == "sent|1800000000042");
  CHECK(review_history(rig).size() == 1);
}

TEMPLATE_TEST_CASE(
    "projection twins: a closing event turns a pending notification into "
    "cancelled",
    "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  REQUIRE(rig.review(opens).notification_owed.has_value());
  rig.review(rig.event(conomy_example("07-payment-review-approved.json")));
  CHECK(review_row(rig, "notify_state, notified_at_ms") == "cancelled|NULL");
  // The opening, run again, no longer owes it.
  CHECK_FALSE(rig.review(opens).notification_owed.has_value());
  CHECK_FALSE(rig.mark_notified("production", kReviewed, opens.id, kReceived));
  CHECK(review_row(rig, "notify_state") == "cancelled");
}

TEMPLATE_TEST_CASE("projection twins: without a notify target an opening owes nothing",
                   "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto opened =
      rig.review(rig.event(conomy_example("06-payment-requires-review.json")), false);
  CHECK(opened.action == ReviewAction::open);
  CHECK_FALSE(opened.notification_owed.has_value());
  CHECK(review_row(rig, "state, notify_state") == "open|skipped");
}

TEMPLATE_TEST_CASE("projection twins: events that say nothing about a review leave no review",
                   "[postgres][pg_projection_store][reviews]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  CHECK(rig.review(rig.event(conomy_example("04-status-changed-captured.json"))).action ==
        ReviewAction::none);
  CHECK(rig.review(rig.event(conomy_example("05-status-changed-settled.json"))).action ==
        ReviewAction::none);
  CHECK(rig.value("SELECT count(*) FROM reviews") == "0");
  CHECK(rig.value("SELECT count(*) FROM review_history") == "0");
}

TEMPLATE_TEST_CASE(
    "projection twins: regression (issue 6): an untimed opening does not make a timed decision "
    "stale",
    "[postgres][pg_projection_store][reviews][regression]", SqliteStore, PgStore) {
  // The opening has no timestamp, so the review's opened_at_ms is its receipt time, which is
  // after the approval's event time. Event times and receipt times must not be compared.
  Rig<TestType> rig;
  const auto opens = rig.event(tx_body("transaction.status_changed", kReviewed, "REQUIRES_REVIEW",
                                       "", R"(,"documentationStatus":"PENDING_UPLOAD")"));
  CHECK(rig.review(opens).action == ReviewAction::open);
  CHECK(review_row(rig, "opened_at_ms") == str(opens.received_at_ms));
  CHECK(opens.received_at_ms > kT2);

  const auto approved = rig.event(conomy_example("07-payment-review-approved.json"));
  CHECK(rig.review(approved).action == ReviewAction::close);
  CHECK(review_row(rig, "state, outcome") == "closed|approved");
}

TEMPLATE_TEST_CASE(
    "projection twins: regression (issue 6): an untimed closing does not make a timed reopening "
    "stale",
    "[postgres][pg_projection_store][reviews][regression]", SqliteStore, PgStore) {
  // Closed by an untimed legacy failure (closed_at_ms is its receipt time), then a new opening
  // stamped before that receipt but after the first cycle: arrival order decides, it reopens.
  Rig<TestType> rig;
  rig.review(rig.event(conomy_example("06-payment-requires-review.json")));
  rig.review(rig.event(R"({"event":"Transaction.Failed","data":{"transaction":{"id":")" +
                       kReviewed + R"(","status":"FAILED"}}})"));
  CHECK(review_row(rig, "state, outcome") == "closed|failed");
  const auto again = rig.event(
      tx_body("payment.requiresReview", kReviewed, "REQUIRES_REVIEW", "2026-05-04T09:00:00Z"));
  CHECK(rig.review(again).action == ReviewAction::reopen);
  CHECK(review_row(rig, "state, cycle") == "open|2");
}

TEMPLATE_TEST_CASE(
    "projection twins: regression (issue 6): a re-run without a notify target owes no "
    "notification",
    "[postgres][pg_projection_store][reviews][regression]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  REQUIRE(rig.review(opens, true).notification_owed.has_value());
  const auto rerun = rig.review(opens, false);
  CHECK(rerun.already_applied);
  CHECK_FALSE(rerun.notification_owed.has_value());
  // Still owed once a target is back.
  CHECK(rig.review(opens, true).notification_owed.has_value());
  CHECK(review_row(rig, "notify_state") == "pending");
}

TEMPLATE_TEST_CASE(
    "projection twins: apply() routes each change and returns the notification "
    "owed",
    "[postgres][pg_projection_store]", SqliteStore, PgStore) {
  Rig<TestType> rig;
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  core::ProjectionChange change;
  change.kind = core::ProjectionChange::Kind::payment;
  change.payment = *core::payment_facts(opens.body);
  CHECK_FALSE(rig.backend.run([&](auto& store) { return store.apply(opens, change); }));
  change.kind = core::ProjectionChange::Kind::review;
  change.notify = true;
  const auto owed = rig.backend.run([&](auto& store) { return store.apply(opens, change); });
  REQUIRE(owed.has_value());
  CHECK(owed->cycle == 1);
  change.kind = core::ProjectionChange::Kind::review_notified;
  change.at_ms = kReceived + 7;
  CHECK_FALSE(rig.backend.run([&](auto& store) { return store.apply(opens, change); }));
  const auto customer = rig.event(conomy_example("10-customer-level-changed.json"));
  change.kind = core::ProjectionChange::Kind::customer;
  change.customer = *core::customer_facts(customer.body);
  CHECK_FALSE(rig.backend.run([&](auto& store) { return store.apply(customer, change); }));
  CHECK(payment_row(rig, kReviewed, "status") == "REQUIRES_REVIEW");
  CHECK(review_row(rig, "notify_state, notified_at_ms") == "sent|1800000000007");
  CHECK(rig.value("SELECT count(*) FROM customers") == "1");
}

// ---- the same rows on both backends -----------------------------------------------------------

namespace {

// Applies `bodies` in the order of `order` to both rigs the way the default route does
// (payments then reviews for a transaction, customers for a customer), then applies them all
// again (every one already applied).
void apply_both(Rig<SqliteStore>& sqlite, Rig<PgStore>& pg, const std::vector<std::string>& bodies,
                const std::vector<int>& order) {
  auto apply = [&](auto& rig, const std::string& body) {
    const auto e = rig.event(body);
    if (core::payment_facts(body)) {
      rig.pay(e);
      rig.review(e, true);
    } else {
      rig.customer(e);
    }
    return e;
  };
  std::vector<core::StoredEvent> applied;
  for (int i : order) {
    const auto a = apply(sqlite, bodies[static_cast<std::size_t>(i)]);
    const auto b = apply(pg, bodies[static_cast<std::size_t>(i)]);
    REQUIRE(a.id == b.id);
    applied.push_back(a);
  }
  for (const auto& e : applied) {
    if (core::payment_facts(e.body)) {
      CHECK(pg.pay(e).already_applied);
      CHECK(pg.review(e, true).already_applied == sqlite.review(e, true).already_applied);
    } else {
      CHECK(pg.customer(e).already_applied);
    }
  }
}

}  // namespace

TEST_CASE(
    "projection twins: every arrival order of a transaction's events leaves the same rows "
    "on both backends",
    "[postgres][pg_projection_store]") {
  Rig<SqliteStore> sqlite;
  Rig<PgStore> pg;
  std::vector<int> order = {0, 1, 2, 3, 4};
  int permutations = 0;
  do {
    // A transaction of its own per order, so one database holds them all.
    const std::string id = "tx-order-" + std::to_string(permutations);
    const std::vector<std::string> bodies = {
        tx_body("payment.requiresReview", id, "REQUIRES_REVIEW", "2026-05-03T10:12:30Z",
                R"(,"documentationStatus":"PENDING_UPLOAD","totalAmount":"10.00")"),
        tx_body("payment.reviewResolved", id, "CAPTURED", "2026-05-03T14:02:09Z"),
        tx_body("payment.reviewApproved", id, "CAPTURED", "2026-05-03T14:02:09Z",
                R"(,"documentationStatus":"APPROVED","currency":"ARS")"),
        tx_body("payment.settled", id, "SETTLED", "2026-05-03T18:00:00Z",
                R"(,"settlementBatchId":"batch-1","settledAt":"2026-05-03T18:00:00Z")"),
        tx_body("transaction.status_changed", id, "CAPTURED", "", R"(,"externalId":"inv-7")"),
    };
    apply_both(sqlite, pg, bodies, order);
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  CHECK(permutations == 120);
  const Rows expected = sqlite.snapshot();
  CHECK(expected.size() > 6 + 120 * 2);  // the rows are there to compare
  CHECK(pg.snapshot() == expected);
}

TEST_CASE(
    "projection twins: every arrival order of a customer's events leaves the same rows on "
    "both backends",
    "[postgres][pg_projection_store][customers]") {
  Rig<SqliteStore> sqlite;
  Rig<PgStore> pg;
  std::vector<int> order = {0, 1, 2, 3};
  int permutations = 0;
  do {
    const std::string id = "cust-order-" + std::to_string(permutations);
    const std::vector<std::string> bodies = {
        customer_body(id, "BASIC", 0, "2026-05-01T10:00:00Z"),
        customer_body(id, "BASIC", 1, "2026-05-02T10:00:00Z"),
        customer_body(id, "STANDARD", std::nullopt, "2026-05-04T10:00:00Z"),
        customer_body(id, "BASIC", std::nullopt, ""),
    };
    apply_both(sqlite, pg, bodies, order);
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  CHECK(permutations == 24);
  const Rows expected = sqlite.snapshot();
  CHECK(pg.snapshot() == expected);
}

// ---- two replicas -----------------------------------------------------------------------------

namespace {

// Two connections to one database (two replicas), each with its store, and a third to watch.
struct Replicas {
  std::string url = testing::test_postgres().create_database();
  PgConnection a = migrated_postgres(url);
  PgConnection b = PgConnection::connect(url);
  PgConnection watcher = PgConnection::connect(url);
  storage::PgProjectionStore store_a{a};
  storage::PgProjectionStore store_b{b};
  std::int64_t b_pid = b.query("SELECT pg_backend_pid()").integer(0, 0);

  // Whether b's session is waiting for a lock.
  bool b_waits() {
    const auto r = watcher.query("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                                 {storage::PgParam::integer(b_pid)});
    return r.rows() == 1 && r.text(0, 0) == "Lock";
  }

  // Runs apply_a in a transaction on a and leaves it open; runs apply_b in a transaction on b
  // on another thread, waits until b blocks on a's locks, ends a's transaction (COMMIT, or
  // ROLLBACK when `commit_a` is false), then commits b. Returns both results.
  template <typename A, typename B>
  auto race(A&& apply_a, B&& apply_b, bool commit_a = true) {
    a.exec("BEGIN");
    auto result_a = apply_a(store_a);
    b.exec("BEGIN");
    auto pending_b = std::async(std::launch::async, [&] { return apply_b(store_b); });
    const bool blocked = testing::wait_until([&] { return b_waits(); });
    a.exec(commit_a ? "COMMIT" : "ROLLBACK");
    auto result_b = pending_b.get();
    b.exec("COMMIT");
    CHECK(blocked);  // b had to wait for a: the race was a real one
    return std::pair(result_a, result_b);
  }

  std::string count(const std::string& sql) { return pg_rows(watcher, sql).at(0).at(0); }
};

core::StoredEvent stored(std::int64_t id, const std::string& body, std::int64_t received_at_ms) {
  core::StoredEvent e;
  e.id = id;
  const core::Envelope envelope = envelope_of(body);
  e.event_type = envelope.event_name;
  e.key = {"production", e.event_type, std::string(core::to_string(envelope.entity_kind)),
           envelope.entity_id, envelope.status};
  e.body = body;
  e.received_at_ms = received_at_ms;
  e.scheme = "header";
  return e;
}

}  // namespace

TEST_CASE("two replicas applying the same payment event at once apply it once",
          "[postgres][pg_projection_store][replicas]") {
  Replicas r;
  const std::string id = "tx-race";
  const auto captured = stored(
      1, tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z"), kReceived);
  const auto facts_captured = *core::payment_facts(captured.body);

  SECTION("the first event of a transaction (no row to lock yet)") {
    const auto [first, second] =
        r.race([&](auto& s) { return s.apply_payment(captured, facts_captured); },
               [&](auto& s) { return s.apply_payment(captured, facts_captured); });
    CHECK_FALSE(first.already_applied);
    CHECK(second.already_applied);
    CHECK(r.count("SELECT count(*) FROM payment_history") == "1");
    CHECK(pg_rows(r.watcher, "SELECT status, status_event_id, first_seen_ms FROM payments") ==
          Rows{{"CAPTURED", "1", str(kReceived)}});
  }
  SECTION("a later event of a known transaction (its row locked)") {
    {
      PgTransaction tx(r.a);
      r.store_a.apply_payment(captured, facts_captured);
      tx.commit();
    }
    const auto settled = stored(
        2, tx_body("payment.settled", id, "SETTLED", "2026-05-02T16:40:00Z"), kReceived + 1000);
    const auto facts = *core::payment_facts(settled.body);
    const auto [first, second] = r.race([&](auto& s) { return s.apply_payment(settled, facts); },
                                        [&](auto& s) { return s.apply_payment(settled, facts); });
    CHECK_FALSE(first.already_applied);
    CHECK(second.already_applied);
    CHECK(r.count("SELECT count(*) FROM payment_history WHERE event_id = 2") == "1");
    CHECK(pg_rows(r.watcher, "SELECT status, status_event_id, last_seen_ms FROM payments") ==
          Rows{{"SETTLED", "2", str(kReceived + 1000)}});
  }
  SECTION("the first replica rolls back: the second one applies it") {
    const auto [first, second] =
        r.race([&](auto& s) { return s.apply_payment(captured, facts_captured); },
               [&](auto& s) { return s.apply_payment(captured, facts_captured); },
               /*commit_a=*/false);
    CHECK_FALSE(first.already_applied);
    CHECK_FALSE(second.already_applied);
    CHECK(r.count("SELECT count(*) FROM payment_history") == "1");
    CHECK(r.count("SELECT count(*) FROM payments") == "1");
  }
}

TEST_CASE("two replicas applying the same customer or review event at once apply it once",
          "[postgres][pg_projection_store][replicas]") {
  Replicas r;
  SECTION("a customer") {
    const auto event =
        stored(1, customer_body("cust-race", "BASIC", 1, "2026-05-01T10:00:00Z"), kReceived);
    const auto facts = *core::customer_facts(event.body);
    const auto [first, second] = r.race([&](auto& s) { return s.apply_customer(event, facts); },
                                        [&](auto& s) { return s.apply_customer(event, facts); });
    CHECK_FALSE(first.already_applied);
    CHECK(second.already_applied);
    CHECK(r.count("SELECT count(*) FROM customer_history") == "1");
    CHECK(pg_rows(r.watcher, "SELECT documented, state_event_id FROM customers") ==
          Rows{{"1", "1"}});
  }
  SECTION("a review opening") {
    const auto event = stored(1, conomy_example("06-payment-requires-review.json"), kReceived);
    const auto facts = *core::payment_facts(event.body);
    const auto [first, second] =
        r.race([&](auto& s) { return s.apply_review(event, facts, true); },
               [&](auto& s) { return s.apply_review(event, facts, true); });
    CHECK(first.action == ReviewAction::open);
    CHECK(first.notification_owed.has_value());
    CHECK(second.already_applied);
    CHECK(second.action == ReviewAction::none);
    // A re-run owes the notification until it is marked sent, as on one replica.
    CHECK(second.notification_owed.has_value());
    CHECK(r.count("SELECT count(*) FROM review_history") == "1");
    CHECK(pg_rows(r.watcher, "SELECT state, cycle, notify_state FROM reviews") ==
          Rows{{"open", "1", "pending"}});
  }
}

TEST_CASE("two replicas applying different events of a new transaction decide one after the other",
          "[postgres][pg_projection_store][replicas]") {
  // Neither replica finds a row; the second must still see what the first committed, or it
  // would decide as if the transaction were new.
  Replicas r;
  const std::string id = kReviewed;
  SECTION("payments: a late CAPTURED does not overwrite a SETTLED being committed") {
    const auto settled =
        stored(1, tx_body("payment.settled", id, "SETTLED", "2026-05-02T16:40:00Z"), kReceived);
    const auto captured =
        stored(2, tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z"),
               kReceived + 1000);
    const auto facts_settled = *core::payment_facts(settled.body);
    const auto facts_captured = *core::payment_facts(captured.body);
    const auto [first, second] =
        r.race([&](auto& s) { return s.apply_payment(settled, facts_settled); },
               [&](auto& s) { return s.apply_payment(captured, facts_captured); });
    CHECK(first.effect == StatusEffect::applied);
    CHECK(second.effect == StatusEffect::stale);
    CHECK(pg_rows(r.watcher, "SELECT status, status_event_id, captured_at_ms FROM payments") ==
          Rows{{"SETTLED", "1", "1777727111000"}});
  }
  SECTION("payments, a known transaction: a late RECEIVED does not overwrite a SETTLED") {
    const auto captured =
        stored(1, tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z"),
               kReceived);
    {
      PgTransaction tx(r.a);
      r.store_a.apply_payment(captured, *core::payment_facts(captured.body));
      tx.commit();
    }
    const auto settled = stored(
        2, tx_body("payment.settled", id, "SETTLED", "2026-05-02T16:40:00Z"), kReceived + 1000);
    const auto received =
        stored(3, tx_body("transaction.status_changed", id, "RECEIVED", "2026-05-02T14:00:00Z"),
               kReceived + 2000);
    const auto facts_settled = *core::payment_facts(settled.body);
    const auto facts_received = *core::payment_facts(received.body);
    const auto [first, second] =
        r.race([&](auto& s) { return s.apply_payment(settled, facts_settled); },
               [&](auto& s) { return s.apply_payment(received, facts_received); });
    CHECK(first.effect == StatusEffect::applied);
    CHECK(second.effect == StatusEffect::stale);
    CHECK(pg_rows(r.watcher, "SELECT status, status_event_id, last_seen_ms FROM payments") ==
          Rows{{"SETTLED", "2", str(kReceived + 2000)}});
  }
  SECTION("reviews: a terminal status closes a review whose opening is being committed") {
    const auto opens = stored(1, conomy_example("06-payment-requires-review.json"), kReceived);
    const auto settled = stored(
        2, tx_body("payment.settled", id, "SETTLED", "2026-05-04T12:00:00Z"), kReceived + 1000);
    const auto facts_opens = *core::payment_facts(opens.body);
    const auto facts_settled = *core::payment_facts(settled.body);
    const auto [first, second] =
        r.race([&](auto& s) { return s.apply_review(opens, facts_opens, true); },
               [&](auto& s) { return s.apply_review(settled, facts_settled, true); });
    CHECK(first.action == ReviewAction::open);
    CHECK(second.action == ReviewAction::close);
    CHECK(pg_rows(r.watcher, "SELECT state, outcome, notify_state FROM reviews") ==
          Rows{{"closed", "settled", "cancelled"}});
  }
  SECTION("customers: a stale level change does not overwrite a newer one being committed") {
    const auto newer =
        stored(1, customer_body("cust-race", "STANDARD", 2, "2026-05-04T10:00:00Z"), kReceived);
    const auto older =
        stored(2, customer_body("cust-race", "BASIC", 0, "2026-05-01T10:00:00Z"), kReceived + 1000);
    const auto facts_newer = *core::customer_facts(newer.body);
    const auto facts_older = *core::customer_facts(older.body);
    const auto [first, second] =
        r.race([&](auto& s) { return s.apply_customer(newer, facts_newer); },
               [&](auto& s) { return s.apply_customer(older, facts_older); });
    CHECK(first.effect == CustomerEffect::applied);
    CHECK(second.effect == CustomerEffect::stale);
    CHECK(pg_rows(r.watcher, "SELECT operation_level, state_event_id FROM customers") ==
          Rows{{"STANDARD", "1"}});
  }
}
