// Tests include/webhook/storage/projection_store.hpp on a real SQLite file migrated to the
// embedded schema. Table contents are asserted with plain SQL reads.
#include "webhook/storage/projection_store.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "support/conomy_payloads.hpp"
#include "support/sql_rows.hpp"
#include "webhook/core/envelope.hpp"

using namespace webhook;
using core::CustomerEffect;
using core::ReviewAction;
using core::StatusEffect;
using testing::conomy_example;
using testing::customer_body;
using testing::rows;
using testing::Rows;
using testing::tx_body;
using testing::value;

namespace {

// The event type and entity kind as ingest() reads them.
core::Envelope envelope_of(const std::string& body) {
  auto envelope = core::parse_envelope(body);
  REQUIRE(envelope.ok());
  return *envelope;
}

constexpr std::int64_t kReceived = 1'800'000'000'000;  // receipt times: after every event time

// A store on a fresh database, and events numbered in arrival order.
struct Rig {
  test::TempDir dir;
  storage::ProjectionStore store{test::open_migrated(dir.file("projections.db"))};
  std::int64_t next_id = 1;
  std::int64_t now = kReceived;

  storage::Database& db() { return store.database(); }

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
    now += 1000;
    return e;
  }

  storage::PaymentApplied pay(const core::StoredEvent& e) {
    const auto facts = core::payment_facts(e.body);
    REQUIRE(facts.has_value());
    return store.apply_payment(e, *facts);
  }
  storage::CustomerApplied customer(const core::StoredEvent& e) {
    const auto facts = core::customer_facts(e.body);
    REQUIRE(facts.has_value());
    return store.apply_customer(e, *facts);
  }
  storage::ReviewApplied review(const core::StoredEvent& e, bool notify = true) {
    const auto facts = core::payment_facts(e.body);
    REQUIRE(facts.has_value());
    return store.apply_review(e, *facts, notify);
  }

  // Every row of every projection table, for "nothing changed" comparisons.
  Rows snapshot() {
    Rows all;
    for (const char* table : {"payments", "payment_history", "reviews", "review_history",
                              "customers", "customer_history"}) {
      all.push_back({table});
      for (auto& row : rows(db(), std::string("SELECT * FROM ") + table + " ORDER BY 1, 2, 3")) {
        all.push_back(std::move(row));
      }
    }
    return all;
  }
};

const std::string kParent = "66a2b3c4d5e6f70812345601";    // samples 04 and 05
const std::string kReviewed = "66a2b3c4d5e6f70812345602";  // samples 06, 07 and 08

constexpr std::int64_t kT1 = 1'777'803'150'000;  // 2026-05-03T10:12:30Z: sample 06 (opens)
constexpr std::int64_t kT2 = 1'777'816'929'000;  // 2026-05-03T14:02:09Z: sample 07 (approved)

std::string payment_row(Rig& rig, const std::string& id, const std::string& columns) {
  return value(rig.db(),
               "SELECT " + columns + " FROM payments WHERE transaction_id = '" + id + "'");
}

std::string review_row(Rig& rig, const std::string& columns, const std::string& id = kReviewed) {
  const Rows r =
      rows(rig.db(), "SELECT " + columns + " FROM reviews WHERE transaction_id = '" + id + "'");
  REQUIRE(r.size() == 1);
  std::string joined;
  for (const auto& v : r[0]) joined += (joined.empty() ? "" : "|") + v;
  return joined;
}

Rows review_history(Rig& rig, const std::string& id = kReviewed) {
  return rows(rig.db(), "SELECT event_id, action FROM review_history WHERE transaction_id = '" +
                            id + "' ORDER BY event_id");
}

}  // namespace

// ---- idempotency ------------------------------------------------------------------------------

TEST_CASE("applying the same event twice changes nothing", "[projection_store]") {
  Rig rig;
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
  CHECK(value(rig.db(), "SELECT count(*) FROM payment_history") == "2");
  CHECK(value(rig.db(), "SELECT count(*) FROM review_history") == "1");
  CHECK(value(rig.db(), "SELECT count(*) FROM customer_history") == "1");
}

// ---- payments ---------------------------------------------------------------------------------

SCENARIO("a transaction moves through CAPTURED, RECEIVED, SETTLED and keeps SETTLED",
         "[projection_store][payments]") {
  Rig rig;
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
      CHECK(payment_row(rig, id, "status || '@' || status_at_ms || '#' || status_event_id") ==
            "SETTLED@1777740000000#" + std::to_string(settled.id));
      CHECK(rows(rig.db(),
                 "SELECT event_id, status, effect FROM payment_history "
                 "WHERE transaction_id = 'tx-flow' ORDER BY event_id") ==
            Rows{{std::to_string(captured.id), "CAPTURED", "applied"},
                 {std::to_string(received.id), "RECEIVED", "applied"},
                 {std::to_string(settled.id), "SETTLED", "applied"},
                 {std::to_string(late.id), "CAPTURED", "stale"}});
    }
  }
  WHEN("a late CAPTURED without a timestamp arrives") {
    const auto late = rig.event(tx_body("transaction.status_changed", id, "CAPTURED", ""));
    CHECK(rig.pay(late).effect == StatusEffect::terminal_kept);
    THEN("SETTLED is kept and the history says terminal_kept") {
      CHECK(payment_row(rig, id, "status") == "SETTLED");
      CHECK(value(rig.db(), "SELECT effect FROM payment_history WHERE event_id = " +
                                std::to_string(late.id)) == "terminal_kept");
    }
  }
  WHEN("a CAPTURED stamped after the settlement arrives") {
    const auto late =
        rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T17:00:00Z"));
    CHECK(rig.pay(late).effect == StatusEffect::terminal_kept);
    THEN("SETTLED is kept") {
      CHECK(payment_row(rig, id, "status || '@' || status_at_ms") == "SETTLED@1777740000000");
      CHECK(value(rig.db(), "SELECT effect FROM payment_history WHERE event_id = " +
                                std::to_string(late.id)) == "terminal_kept");
    }
  }
  // Whatever happened, the settlement's facts remain.
  CHECK(payment_row(rig, id, "settlement_batch_id || ' ' || settled_at") ==
        "settlement-ARS-1 2026-05-02T16:40:00Z");
}

TEST_CASE("a refund child is linked to its parent", "[projection_store][payments]") {
  Rig rig;
  rig.pay(rig.event(conomy_example("04-status-changed-captured.json")));
  rig.pay(rig.event(conomy_example("05-status-changed-settled.json")));
  rig.pay(rig.event(conomy_example("09-payment-refund-created.json")));

  CHECK(rows(rig.db(),
             "SELECT transaction_id, status, type, total_amount FROM payments "
             "WHERE parent_payment_id = '" +
                 kParent + "'") ==
        Rows{{"66a2b3c4d5e6f70812345699", "RECEIVED", "REFUND", "1500.00"}});
  // The parent does not move.
  CHECK(payment_row(rig, kParent, "status") == "SETTLED");
  CHECK(payment_row(rig, kParent, "parent_payment_id") == "NULL");
}

TEST_CASE("an under/overpaid companion is linked", "[projection_store][payments]") {
  Rig rig;
  rig.pay(rig.event(conomy_example("11-purchase-underpaid.json")));
  CHECK(payment_row(rig, "66a2b3c4d5e6f70812345603", "related_payment_id") ==
        "66a2b3c4d5e6f70812345604");
}

TEST_CASE("the settlement batch id is kept when a later event has null",
          "[projection_store][payments]") {
  Rig rig;
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
  CHECK(payment_row(rig, kParent, "settlement_batch_id || ' ' || settled_at || ' ' || status") ==
        "settlement-ARS-1777740000 2026-05-02T16:40:00Z SETTLED");
  CHECK(payment_row(rig, kParent, "status_event_id") == std::to_string(again.id));
}

TEST_CASE("a non-applied event only fills missing fields", "[projection_store][payments]") {
  Rig rig;
  const std::string id = "tx-fill";
  rig.pay(rig.event(
      tx_body("payment.settled", id, "SETTLED", "2026-05-02T16:40:00Z", R"(,"currency":"ARS")")));
  const auto late =
      rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z",
                        R"(,"currency":"USD","externalId":"inv-1")"));
  CHECK(rig.pay(late).effect == StatusEffect::stale);
  CHECK(payment_row(rig, id, "currency || ' ' || external_id") == "ARS inv-1");
}

TEST_CASE("captured_at_ms is the first capture", "[projection_store][payments]") {
  Rig rig;
  const std::string id = "tx-capture";
  const auto received =
      rig.event(tx_body("transaction.status_changed", id, "RECEIVED", "2026-05-02T14:00:00Z"));
  rig.pay(received);
  CHECK(payment_row(rig, id, "captured_at_ms") == "1777730400000");
  // The CAPTURED that happened before it arrives after it.
  rig.pay(rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z")));
  CHECK(payment_row(rig, id, "captured_at_ms") == "1777727111000");
  // Later captures (a review sends it back to CAPTURED) do not move it.
  rig.pay(rig.event(tx_body("payment.reviewApproved", id, "CAPTURED", "2026-05-03T14:02:09Z")));
  rig.pay(rig.event(tx_body("payment.settled", id, "SETTLED", "2026-05-03T18:30:00Z")));
  CHECK(payment_row(rig, id, "captured_at_ms || ' ' || status") == "1777727111000 SETTLED");
}

TEST_CASE("without timestamps captured_at_ms is the receipt of the first capture",
          "[projection_store][payments]") {
  Rig rig;
  const auto captured = rig.event(conomy_example("01-legacy-transaction-captured.json"));
  rig.pay(captured);
  rig.pay(rig.event(conomy_example("02-legacy-transaction-received.json")));
  const std::string id = "65f1a0c2b7e4d9a1c3e5f701";
  CHECK(payment_row(rig, id, "captured_at_ms") == std::to_string(captured.received_at_ms));
  CHECK(payment_row(rig, id, "status || ' ' || coalesce(status_at_ms, 'none')") == "RECEIVED none");
  CHECK(payment_row(rig, id, "first_seen_ms") == std::to_string(captured.received_at_ms));
  CHECK(payment_row(rig, id, "last_seen_ms") == std::to_string(captured.received_at_ms + 1000));
}

TEST_CASE(
    "regression (issue 6): a first event without a status does not make a later status "
    "stale",
    "[projection_store][payments][regression]") {
  Rig rig;
  const std::string id = "tx-no-status";
  // An event about the transaction that carries no status, stamped after the capture.
  const auto note = rig.event(
      tx_body("payment.noteAdded", id, "", "2026-05-02T14:00:00Z", R"(,"externalId":"inv-9")"));
  CHECK(rig.pay(note).effect == StatusEffect::no_status);
  const auto captured =
      rig.event(tx_body("transaction.status_changed", id, "CAPTURED", "2026-05-02T13:05:11Z"));
  CHECK(rig.pay(captured).effect == StatusEffect::applied);
  CHECK(payment_row(rig, id, "status || ' ' || status_event_id || ' ' || external_id") ==
        "CAPTURED " + std::to_string(captured.id) + " inv-9");
}

TEST_CASE("payments of two sources live side by side", "[projection_store][payments]") {
  Rig rig;
  rig.pay(rig.event(conomy_example("04-status-changed-captured.json"), "sandbox"));
  rig.pay(rig.event(conomy_example("05-status-changed-settled.json"), "production"));
  CHECK(rows(rig.db(), "SELECT source, status FROM payments ORDER BY source") ==
        Rows{{"production", "SETTLED"}, {"sandbox", "CAPTURED"}});
}

// ---- customers --------------------------------------------------------------------------------

SCENARIO("a customer goes from BASIC to documented to STANDARD, with a late stale delivery",
         "[projection_store][customers]") {
  Rig rig;
  const std::string id = "cust-1";
  const auto basic = rig.event(customer_body(id, "BASIC", 0, "2026-05-01T10:00:00Z"));
  const auto documented = rig.event(customer_body(id, "BASIC", 1, "2026-05-02T10:00:00Z"));
  const auto standard = rig.event(customer_body(id, "STANDARD", 2, "2026-05-04T10:00:00Z"));
  // A level change between the second and the third, delivered last.
  const auto late = rig.event(customer_body(id, "BASIC", 1, "2026-05-03T10:00:00Z"));

  CHECK(rig.customer(basic).effect == CustomerEffect::applied);
  CHECK(value(rig.db(), "SELECT documented FROM customers") == "0");
  CHECK(rig.customer(documented).effect == CustomerEffect::applied);
  CHECK(value(rig.db(), "SELECT documented FROM customers") == "1");
  CHECK(rig.customer(standard).effect == CustomerEffect::applied);
  CHECK(rig.customer(late).effect == CustomerEffect::stale);

  THEN("the record shows the latest state and the history shows the stale one") {
    CHECK(rows(rig.db(),
               "SELECT operation_level, documents_count, documented, auto_created, "
               "state_at_ms, state_event_id, client_id, first_seen_ms, last_seen_ms "
               "FROM customers") ==
          Rows{{"STANDARD", "2", "1", "1", "1777888800000", std::to_string(standard.id),
                "demo-client-ar", std::to_string(basic.received_at_ms),
                std::to_string(late.received_at_ms)}});
    CHECK(rows(rig.db(),
               "SELECT event_id, operation_level, documents_count, effect "
               "FROM customer_history ORDER BY event_id") ==
          Rows{{std::to_string(basic.id), "BASIC", "0", "applied"},
               {std::to_string(documented.id), "BASIC", "1", "applied"},
               {std::to_string(standard.id), "STANDARD", "2", "applied"},
               {std::to_string(late.id), "BASIC", "1", "stale"}});
  }
}

TEST_CASE("a customer level change without timestamps follows arrival order",
          "[projection_store][customers]") {
  Rig rig;
  rig.customer(rig.event(customer_body("cust-2", "STANDARD", 1, "")));
  rig.customer(rig.event(customer_body("cust-2", "BASIC", std::nullopt, "")));
  CHECK(rows(rig.db(),
             "SELECT operation_level, documents_count, documented, state_at_ms "
             "FROM customers") == Rows{{"BASIC", "1", "1", "NULL"}});
  CHECK(rows(rig.db(), "SELECT occurred_at_ms, effect FROM customer_history ORDER BY event_id") ==
        Rows{{"NULL", "applied"}, {"NULL", "applied"}});
}

TEST_CASE(
    "regression (issue 6): a stale delivery that shows approved documents still marks the "
    "customer documented",
    "[projection_store][customers][regression]") {
  // Documented is a one-way flag: arrival order must not decide it. The later event (a limit
  // warning) carries no documentsCount; the earlier one, delivered last, shows the document.
  Rig rig;
  const std::string id = "cust-3";
  rig.customer(rig.event(customer_body(id, "BASIC", 0, "2026-05-01T10:00:00Z")));
  rig.customer(rig.event(customer_body(id, "BASIC", std::nullopt, "2026-05-03T10:00:00Z")));
  CHECK(value(rig.db(), "SELECT documented FROM customers") == "0");
  const auto late = rig.event(customer_body(id, "BASIC", 1, "2026-05-02T10:00:00Z"));
  CHECK(rig.customer(late).effect == CustomerEffect::stale);
  CHECK(rows(rig.db(), "SELECT documented, documents_count, state_at_ms FROM customers") ==
        Rows{{"1", "0", "1777802400000"}});
}

// ---- reviews ----------------------------------------------------------------------------------

TEST_CASE("a review is opened then approved", "[projection_store][reviews]") {
  Rig rig;
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
                   "notify_state, notify_event_id, outcome") ==
        "open|1|" + std::to_string(opens.id) + "|1777803150000|" +
            std::to_string(opens.received_at_ms) + "|pending|" + std::to_string(opens.id) +
            "|NULL");

  CHECK(rig.store.mark_notified("production", kReviewed, opens.id, kReceived + 5000));
  const auto closed = rig.review(approved);
  CHECK(closed.action == ReviewAction::close);
  CHECK_FALSE(closed.notification_owed.has_value());
  CHECK(review_row(rig,
                   "state, outcome, closed_event_id, closed_at_ms, documentation_status, "
                   "notify_state, notified_at_ms") ==
        "closed|approved|" + std::to_string(approved.id) +
            "|1777816929000|APPROVED|sent|1800000005000");
  CHECK(review_history(rig) ==
        Rows{{std::to_string(opens.id), "opened"}, {std::to_string(approved.id), "closed"}});
}

TEST_CASE("a review is opened then rejected", "[projection_store][reviews]") {
  Rig rig;
  rig.review(rig.event(conomy_example("06-payment-requires-review.json")));
  const auto rejected =
      rig.event(tx_body("payment.reviewRejected", kReviewed, "FAILED", "2026-05-03T15:00:00Z",
                        R"(,"documentationStatus":"REJECTED")"));
  CHECK(rig.review(rejected).action == ReviewAction::close);
  CHECK(review_row(rig, "state, outcome, documentation_status, closed_event_id") ==
        "closed|rejected|REJECTED|" + std::to_string(rejected.id));
  // The umbrella event and the payment's FAILED change nothing more.
  CHECK(
      rig.review(rig.event(tx_body("payment.reviewResolved", kReviewed, "FAILED",
                                   "2026-05-03T15:00:00Z", R"(,"documentationStatus":"REJECTED")")))
          .action == ReviewAction::none);
  CHECK(
      rig.review(rig.event(tx_body("payment.failed", kReviewed, "FAILED", "2026-05-03T15:00:01Z")))
          .action == ReviewAction::none);
  CHECK(review_row(rig, "state, outcome, closed_event_id") ==
        "closed|rejected|" + std::to_string(rejected.id));
}

TEST_CASE("reviewResolved after reviewApproved keeps the outcome approved",
          "[projection_store][reviews]") {
  Rig rig;
  rig.review(rig.event(conomy_example("06-payment-requires-review.json")));
  rig.review(rig.event(conomy_example("07-payment-review-approved.json")));
  const auto resolved =
      rig.event(tx_body("payment.reviewResolved", kReviewed, "CAPTURED", "2026-05-03T14:02:09Z",
                        R"(,"documentationStatus":null)"));
  CHECK(rig.review(resolved).action == ReviewAction::none);
  CHECK(review_row(rig, "state, outcome, documentation_status") == "closed|approved|APPROVED");
  CHECK(review_history(rig).back() ==
        std::vector<std::string>{std::to_string(resolved.id), "noted"});
}

TEST_CASE("a generic resolution is refined by the specific decision",
          "[projection_store][reviews]") {
  Rig rig;
  rig.review(rig.event(conomy_example("06-payment-requires-review.json")));
  rig.review(
      rig.event(tx_body("payment.reviewResolved", kReviewed, "CAPTURED", "2026-05-03T14:02:09Z")));
  CHECK(review_row(rig, "outcome") == "resolved");
  CHECK(rig.review(rig.event(conomy_example("07-payment-review-approved.json"))).action ==
        ReviewAction::refine);
  CHECK(review_row(rig, "state, outcome, documentation_status") == "closed|approved|APPROVED");
}

SCENARIO("a decision that arrives before its opening", "[projection_store][reviews]") {
  Rig rig;
  const auto approved = rig.event(conomy_example("07-payment-review-approved.json"));
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));

  const auto closed = rig.review(approved);
  CHECK(closed.action == ReviewAction::close);
  CHECK_FALSE(closed.notification_owed.has_value());
  CHECK(review_row(rig,
                   "state, outcome, cycle, opened_event_id, closed_event_id, closed_at_ms, "
                   "notify_state") ==
        "closed|approved|1|NULL|" + std::to_string(approved.id) + "|1777816929000|NULL");

  WHEN("the late opening arrives") {
    const auto late = rig.review(opens);
    THEN("the review stays closed, owes nothing, and gets its opening fields") {
      CHECK(late.action == ReviewAction::stale);
      CHECK_FALSE(late.notification_owed.has_value());
      CHECK(review_row(rig,
                       "state, outcome, cycle, opened_event_id, opened_at_ms, "
                       "opened_received_ms, external_id, total_amount, currency, "
                       "customer_id, documentation_status, notify_state") ==
            "closed|approved|1|" + std::to_string(opens.id) + "|1777803150000|" +
                std::to_string(opens.received_at_ms) +
                "|vitawallet:dep-553201|2500000.00|ARS|66a2b3c4d5e6f70899990002|APPROVED|NULL");
      CHECK(review_history(rig) ==
            Rows{{std::to_string(approved.id), "closed"}, {std::to_string(opens.id), "stale"}});
    }
  }
}

SCENARIO("an opening that arrives after the payment's terminal status",
         "[projection_store][reviews]") {
  Rig rig;
  // payment.failed at 11:00 is delivered first; the requiresReview of 10:12:30 arrives late.
  const auto failed =
      rig.event(tx_body("payment.failed", kReviewed, "FAILED", "2026-05-03T11:00:00Z"));
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  rig.pay(failed);
  CHECK(rig.review(failed).action == ReviewAction::none);  // no review yet: nothing recorded
  rig.pay(opens);
  const auto late = rig.review(opens);
  THEN("the review is recorded already closed with the payment's outcome, and owes nothing") {
    CHECK(late.action == ReviewAction::stale);
    CHECK_FALSE(late.notification_owed.has_value());
    CHECK(review_row(rig,
                     "state, outcome, opened_event_id, opened_at_ms, closed_event_id, "
                     "closed_at_ms, notify_state") ==
          "closed|failed|" + std::to_string(opens.id) + "|" + std::to_string(kT1) + "|" +
              std::to_string(failed.id) + "|1777806000000|NULL");
    CHECK(review_history(rig) == Rows{{std::to_string(opens.id), "stale"}});
  }
}

SCENARIO("an opening after a terminal status without timestamps still opens",
         "[projection_store][reviews]") {
  Rig rig;
  const auto failed = rig.event(tx_body("payment.failed", kReviewed, "FAILED", ""));
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  rig.pay(failed);
  rig.pay(opens);
  // The order cannot be told: the operator sees the review rather than miss it.
  CHECK(rig.review(opens).action == ReviewAction::open);
  CHECK(review_row(rig, "state") == "open");
}

SCENARIO("a review reopens after it was closed", "[projection_store][reviews]") {
  Rig rig;
  const auto first = rig.event(conomy_example("06-payment-requires-review.json"));
  rig.review(first);
  rig.store.mark_notified("production", kReviewed, first.id, kReceived + 1);
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
            "open|2|NULL|" + std::to_string(second.id) + "|1777885200000|NULL|NULL|pending|" +
                std::to_string(second.id) + "|NULL|PENDING_UPLOAD");
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

TEST_CASE("the opening's notification is owed on every re-run until mark_notified",
          "[projection_store][reviews]") {
  Rig rig;
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

  CHECK_FALSE(rig.store.mark_notified("production", kReviewed, opens.id + 1, kReceived));
  CHECK_FALSE(rig.store.mark_notified("sandbox", kReviewed, opens.id, kReceived));
  CHECK(rig.store.mark_notified("production", kReviewed, opens.id, kReceived + 42));
  CHECK_FALSE(rig.store.mark_notified("production", kReviewed, opens.id, kReceived + 43));

  const auto after = rig.review(opens);
  CHECK(after.already_applied);
  CHECK_FALSE(after.notification_owed.has_value());
  CHECK(review_row(rig, "notify_state, notified_at_ms") == "sent|1800000000042");
  CHECK(review_history(rig).size() == 1);
}

TEST_CASE("a closing event turns a pending notification into cancelled",
          "[projection_store][reviews]") {
  Rig rig;
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  REQUIRE(rig.review(opens).notification_owed.has_value());
  rig.review(rig.event(conomy_example("07-payment-review-approved.json")));
  CHECK(review_row(rig, "notify_state, notified_at_ms") == "cancelled|NULL");
  // The opening, run again, no longer owes it.
  CHECK_FALSE(rig.review(opens).notification_owed.has_value());
  CHECK_FALSE(rig.store.mark_notified("production", kReviewed, opens.id, kReceived));
  CHECK(review_row(rig, "notify_state") == "cancelled");
}

TEST_CASE("without a notify target an opening owes nothing", "[projection_store][reviews]") {
  Rig rig;
  const auto opened =
      rig.review(rig.event(conomy_example("06-payment-requires-review.json")), false);
  CHECK(opened.action == ReviewAction::open);
  CHECK_FALSE(opened.notification_owed.has_value());
  CHECK(review_row(rig, "state, notify_state") == "open|skipped");
}

TEST_CASE("events that say nothing about a review leave no review", "[projection_store][reviews]") {
  Rig rig;
  CHECK(rig.review(rig.event(conomy_example("04-status-changed-captured.json"))).action ==
        ReviewAction::none);
  CHECK(rig.review(rig.event(conomy_example("05-status-changed-settled.json"))).action ==
        ReviewAction::none);
  CHECK(value(rig.db(), "SELECT count(*) FROM reviews") == "0");
}

TEST_CASE("regression (issue 6): an untimed opening does not make a timed decision stale",
          "[projection_store][reviews][regression]") {
  // The opening has no timestamp, so the review's opened_at_ms is its receipt time, which is
  // after the approval's event time. Event times and receipt times must not be compared.
  Rig rig;
  const auto opens = rig.event(tx_body("transaction.status_changed", kReviewed, "REQUIRES_REVIEW",
                                       "", R"(,"documentationStatus":"PENDING_UPLOAD")"));
  CHECK(rig.review(opens).action == ReviewAction::open);
  CHECK(review_row(rig, "opened_at_ms") == std::to_string(opens.received_at_ms));
  CHECK(opens.received_at_ms > kT2);

  const auto approved = rig.event(conomy_example("07-payment-review-approved.json"));
  CHECK(rig.review(approved).action == ReviewAction::close);
  CHECK(review_row(rig, "state, outcome") == "closed|approved");
}

TEST_CASE("regression (issue 6): an untimed closing does not make a timed reopening stale",
          "[projection_store][reviews][regression]") {
  // Closed by an untimed legacy failure (closed_at_ms is its receipt time), then a new opening
  // stamped before that receipt but after the first cycle: arrival order decides, it reopens.
  Rig rig;
  rig.review(rig.event(conomy_example("06-payment-requires-review.json")));
  rig.review(rig.event(R"({"event":"Transaction.Failed","data":{"transaction":{"id":")" +
                       kReviewed + R"(","status":"FAILED"}}})"));
  CHECK(review_row(rig, "state, outcome") == "closed|failed");
  const auto again = rig.event(
      tx_body("payment.requiresReview", kReviewed, "REQUIRES_REVIEW", "2026-05-04T09:00:00Z"));
  CHECK(rig.review(again).action == ReviewAction::reopen);
  CHECK(review_row(rig, "state, cycle") == "open|2");
}

TEST_CASE("regression (issue 6): a re-run without a notify target owes no notification",
          "[projection_store][reviews][regression]") {
  Rig rig;
  const auto opens = rig.event(conomy_example("06-payment-requires-review.json"));
  REQUIRE(rig.review(opens, true).notification_owed.has_value());
  const auto rerun = rig.review(opens, false);
  CHECK(rerun.already_applied);
  CHECK_FALSE(rerun.notification_owed.has_value());
  // Still owed once a target is back.
  CHECK(rig.review(opens, true).notification_owed.has_value());
  CHECK(review_row(rig, "notify_state") == "pending");
}

TEST_CASE("regression (issue 6): an untimed status does not let an older timed one through",
          "[projection_store][payments]") {
  Rig rig;
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
  CHECK(payment_row(rig, kParent,
                    "status || '|' || coalesce(status_at_ms, 'NULL') || '|' || "
                    "latest_at_ms") == "REQUIRES_REVIEW|NULL|1777802400000");
}
