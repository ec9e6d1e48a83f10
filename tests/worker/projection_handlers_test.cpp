// Tests include/webhook/worker/projection_handlers.hpp: the "payments", "customers" and
// "reviews" handlers run by the Dispatcher (run_once() on the test thread, a ManualClock, jitter
// 0) over a real SqliteInbox queue, with operator notifications sent to a scripted downstream
// on 127.0.0.1:0 (worker/downstream_fixture.hpp).
#include "webhook/worker/projection_handlers.hpp"

#include <rapidjson/document.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "support/conomy_payloads.hpp"
#include "support/sql_rows.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/core/dedup_key.hpp"
#include "webhook/core/envelope.hpp"
#include "webhook/storage/projection_store.hpp"
#include "webhook/storage/sqlite_inbox.hpp"
#include "webhook/worker/dispatcher.hpp"
#include "webhook/worker/inline_work_queue.hpp"
#include "worker/downstream_fixture.hpp"

using namespace webhook;
using namespace std::chrono_literals;
using webhook::testing::conomy_example;
using webhook::testing::Downstream;
using webhook::testing::rows;
using webhook::testing::Rows;
using webhook::testing::ScriptedResponse;
using webhook::testing::value;

namespace {

// The forward secret of these tests: plain text, so raw key bytes (obviously not a real one).
constexpr const char* kNotifySecret = "test-only-notify-secret-not-real";
const std::string kReviewed = "66a2b3c4d5e6f70812345602";  // samples 06 and 07

core::RetryPolicy test_policy() {
  core::RetryPolicy p;
  p.initial = 1000ms;
  p.multiplier = 2.0;
  p.max = 32000ms;
  p.max_attempts = 3;
  return p;
}

ScriptedResponse http_status(unsigned code) {
  ScriptedResponse r;
  r.status = code;
  r.body = "status " + std::to_string(code);
  return r;
}

struct Notified {
  std::string transaction_id;
  std::int64_t cycle;
  bool sent;
  double since_receipt_s;
};

// A SqliteInbox and a ProjectionStore on one database file (each its own connection), the three
// handlers under their names, routed for every event type, and a Dispatcher over them.
struct Rig {
  // `notify_url` "" runs the reviews handler without a notify target.
  explicit Rig(const std::string& notify_url) {
    worker::ReviewsOptions options;
    if (!notify_url.empty()) {
      worker::ForwardOptions forward;
      forward.url = notify_url;
      forward.secret = kNotifySecret;
      forward.timeout = 5000ms;
      forward.connect_timeout = 5000ms;
      options.notify = worker::make_forwarder(forward, clock);
    }
    options.on_notify = [this](const worker::ReviewNotifyReport& r) {
      notified.push_back({r.review.transaction_id, r.review.cycle, r.sent, r.since_receipt_s});
    };
    handlers.add(std::string(worker::kPaymentsHandler), worker::make_payments_handler());
    handlers.add(std::string(worker::kCustomersHandler), worker::make_customers_handler());
    handlers.add(std::string(worker::kReviewsHandler),
                 worker::make_reviews_handler(std::move(options), clock));
    dispatcher = std::make_unique<worker::Dispatcher>(
        queue, core::RouteTable({{"*", {"payments", "customers", "reviews"}, std::nullopt}}),
        handlers, test_policy(), clock, [] { return 0.0; }, worker::DispatcherOptions{});
  }

  // Stores `body` as ingest() would (envelope, dedup key), received now.
  std::int64_t deliver(const std::string& body, const std::string& source = "production") {
    const auto envelope = core::parse_envelope(body);
    REQUIRE(envelope.ok());
    const auto key = core::derive_dedup_key(source, *envelope, core::DedupPolicy{});
    REQUIRE(key.has_value());
    core::Delivery d;
    d.key = *key;
    d.event_type = envelope->event_name;
    d.entity_kind = std::string(core::to_string(envelope->entity_kind));
    d.entity_id = envelope->entity_id;
    d.body = body;
    d.request_id = "req-test";
    d.received_at_ms = clock.now_ms();
    d.scheme = core::Scheme::header;
    const auto results = inbox.store_batch(std::span(&d, 1));
    REQUIRE(results.at(0).kind == core::StoreResult::Kind::inserted);
    return results[0].event_id;
  }

  core::StoredEvent event(std::int64_t id) { return inbox.find_event(id).value(); }

  // Runs one handler on `e` outside the pool, as the pool would: the changes it decides are
  // applied (without changing the event's status) when it succeeds.
  worker::HandlerResult run(worker::Handler& handler, const core::StoredEvent& e) {
    auto event = std::make_shared<const core::StoredEvent>(e);
    worker::HandlerContext context(queue, event);
    worker::HandlerResult result = handler.handle_in(e, context);
    if (result.kind == worker::HandlerResult::Kind::ok && !context.changes().empty()) {
      core::WorkItem item;
      item.event = event;
      item.kind = core::WorkKind::apply;
      item.at_ms = clock.now_ms();
      item.changes = std::move(context.changes());
      const auto recorded = queue.record_and_wait(std::move(item));
      REQUIRE(recorded.has_value());
      CHECK(recorded->error.empty());
    }
    return result;
  }
  storage::Database& db() { return store.database(); }

  webhook::test::TempDir dir;
  storage::SqliteInbox inbox{webhook::test::open_migrated(dir.file("receiver.db"))};
  storage::ProjectionStore store{webhook::test::open_migrated(dir.file("receiver.db"))};
  worker::InlineWorkQueue queue{inbox};
  core::ManualClock clock;
  worker::HandlerRegistry handlers;
  std::vector<Notified> notified;
  std::unique_ptr<worker::Dispatcher> dispatcher;
};

}  // namespace

SCENARIO("a notification target that fails twice then succeeds", "[projection_handlers][notify]") {
  GIVEN("a target answering 500, 500, then 200") {
    Downstream target({http_status(500), http_status(500), http_status(200)});
    Rig rig(target.url("/operators"));
    const std::int64_t t0 = rig.clock.now_ms();
    const auto id = rig.deliver(conomy_example("06-payment-requires-review.json"));

    WHEN("the opening is handled") {
      REQUIRE(rig.dispatcher->run_once() == 1);
      THEN("the first failure schedules a retry after the policy's first delay") {
        const auto e = rig.event(id);
        CHECK(e.status == "pending");
        CHECK(e.next_attempt_at_ms == t0 + 1000);
        CHECK(e.last_error.starts_with("review notification: "));
        CHECK(value(rig.db(), "SELECT notify_state FROM reviews") == "pending");
      }
      rig.clock.advance(999ms);
      CHECK(rig.dispatcher->run_once() == 0);
      rig.clock.advance(1ms);
      REQUIRE(rig.dispatcher->run_once() == 1);
      CHECK(rig.event(id).next_attempt_at_ms == t0 + 1000 + 2000);
      rig.clock.advance(2000ms);
      REQUIRE(rig.dispatcher->run_once() == 1);

      THEN("the third attempt delivers it and the event is done") {
        const auto e = rig.event(id);
        CHECK(e.status == "done");
        CHECK(e.attempts == 3);
        CHECK(rig.dispatcher->stats().retried == 2);
        CHECK(rig.dispatcher->stats().done == 1);

        const auto requests = target.requests();
        REQUIRE(requests.size() == 3);
        for (const auto& r : requests) {
          CHECK(r.target == "/operators");
          CHECK(r.header("webhook-id") == "review_production_" + std::to_string(id));
          CHECK(r.header("x-webhook-event-type") == "review.opened");
          CHECK(r.header("x-webhook-event-id") == std::to_string(id));
          CHECK(r.header("x-webhook-source") == "production");
          CHECK(r.body == requests[0].body);
        }

        // The projection was applied once; only the notification was sent again.
        CHECK(value(rig.db(), "SELECT count(*) FROM review_history") == "1");
        CHECK(value(rig.db(), "SELECT count(*) FROM payment_history") == "1");
        CHECK(rows(rig.db(),
                   "SELECT state, cycle, notify_state, notify_event_id, notified_at_ms "
                   "FROM reviews") ==
              Rows{{"open", "1", "sent", std::to_string(id), std::to_string(t0 + 3000)}});
        CHECK(value(rig.db(), "SELECT status FROM payments") == "REQUIRES_REVIEW");

        REQUIRE(rig.notified.size() == 3);
        CHECK_FALSE(rig.notified[0].sent);
        CHECK_FALSE(rig.notified[1].sent);
        CHECK(rig.notified[2].sent);
        CHECK(rig.notified[0].since_receipt_s == Approx(0.0));
        CHECK(rig.notified[1].since_receipt_s == Approx(1.0));
        CHECK(rig.notified[2].since_receipt_s == Approx(3.0));
        CHECK(rig.notified[2].transaction_id == kReviewed);
        CHECK(rig.notified[2].cycle == 1);
      }
      AND_WHEN("the event runs again (a redelivery to the handler)") {
        rig.clock.advance(1h);
        auto& reviews = *rig.handlers.find("reviews");
        const auto result = rig.run(reviews, rig.event(id));
        THEN("nothing is sent again") {
          CHECK(result.kind == worker::HandlerResult::Kind::ok);
          CHECK(target.requests().size() == 3);
          CHECK(rig.notified.size() == 3);
        }
      }
    }
  }
}

SCENARIO("a notification target that always fails", "[projection_handlers][notify]") {
  GIVEN("a target answering 500 every time") {
    Downstream target({http_status(500), http_status(500), http_status(500), http_status(500)});
    Rig rig(target.url());
    const auto id = rig.deliver(conomy_example("06-payment-requires-review.json"));

    WHEN("the attempts run out") {
      REQUIRE(rig.dispatcher->run_once() == 1);
      rig.clock.advance(1000ms);
      REQUIRE(rig.dispatcher->run_once() == 1);
      rig.clock.advance(2000ms);
      REQUIRE(rig.dispatcher->run_once() == 1);

      THEN("the event is a dead letter and the notification is still owed") {
        const auto e = rig.event(id);
        CHECK(e.status == "dead");
        CHECK(e.attempts == 3);
        CHECK(e.last_error.find("review notification: forward: HTTP 500") != std::string::npos);
        CHECK(rig.dispatcher->stats().dead == 1);
        CHECK(target.requests().size() == 3);
        CHECK(rows(rig.db(), "SELECT state, notify_state, notified_at_ms FROM reviews") ==
              Rows{{"open", "pending", "NULL"}});
        CHECK(value(rig.db(), "SELECT count(*) FROM review_history") == "1");
        REQUIRE(rig.notified.size() == 3);
        for (const auto& n : rig.notified) CHECK_FALSE(n.sent);
      }
      AND_WHEN("it is redriven once the target recovers") {
        REQUIRE(rig.inbox.redrive({}, rig.clock.now_ms()) == 1);
        REQUIRE(rig.dispatcher->run_once() == 1);  // the 4th scripted 500
        rig.clock.advance(1000ms);
        REQUIRE(rig.dispatcher->run_once() == 1);  // then 200
        THEN("the notification is delivered and recorded") {
          CHECK(rig.event(id).status == "done");
          CHECK(value(rig.db(), "SELECT notify_state FROM reviews") == "sent");
          CHECK(target.requests().size() == 5);
          CHECK(rig.notified.back().sent);
        }
      }
    }
  }
}

TEST_CASE("the entity handlers ignore events of the other entity kind", "[projection_handlers]") {
  Rig rig("");
  auto& payments = *rig.handlers.find("payments");
  auto& customers = *rig.handlers.find("customers");
  const auto customer = rig.event(rig.deliver(conomy_example("10-customer-level-changed.json")));
  const auto payment = rig.event(rig.deliver(conomy_example("04-status-changed-captured.json")));

  CHECK(rig.run(payments, customer).kind == worker::HandlerResult::Kind::ok);
  CHECK(rig.run(customers, payment).kind == worker::HandlerResult::Kind::ok);
  CHECK(value(rig.db(), "SELECT count(*) FROM payments") == "0");
  CHECK(value(rig.db(), "SELECT count(*) FROM customers") == "0");

  CHECK(rig.run(payments, payment).kind == worker::HandlerResult::Kind::ok);
  CHECK(rig.run(customers, customer).kind == worker::HandlerResult::Kind::ok);
  CHECK(value(rig.db(), "SELECT count(*) FROM payments") == "1");
  CHECK(value(rig.db(), "SELECT count(*) FROM customers") == "1");
}

TEST_CASE("every sample delivery is handled by the three handlers", "[projection_handlers]") {
  Rig rig("");
  for (const char* name :
       {"01-legacy-transaction-captured.json", "02-legacy-transaction-received.json",
        "03-legacy-transaction-failed.json", "04-status-changed-captured.json",
        "05-status-changed-settled.json", "06-payment-requires-review.json",
        "07-payment-review-approved.json", "08-payment-settled.json",
        "09-payment-refund-created.json", "10-customer-level-changed.json",
        "11-purchase-underpaid.json", "12-unknown-future-event.json"}) {
    rig.deliver(conomy_example(name));
  }
  // One event per entity at a time: each pass takes the next event of every transaction.
  std::size_t handled = 0;
  for (std::size_t n = rig.dispatcher->run_once(); n > 0; n = rig.dispatcher->run_once()) {
    handled += n;
  }
  CHECK(handled == 12);
  CHECK(rig.dispatcher->stats().done == 12);
  CHECK(value(rig.db(), "SELECT count(*) FROM payments") == "7");
  CHECK(value(rig.db(), "SELECT count(*) FROM customers") == "1");
  CHECK(rows(rig.db(), "SELECT transaction_id, state, outcome, notify_state FROM reviews") ==
        Rows{{kReviewed, "closed", "approved", "skipped"}});
}

TEST_CASE("an unknown event type with a transaction object is handled without error",
          "[projection_handlers]") {
  Rig rig("");
  const auto id = rig.deliver(conomy_example("12-unknown-future-event.json"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  const auto e = rig.event(id);
  CHECK(e.status == "done");
  CHECK(e.last_error.empty());
  CHECK(rows(rig.db(), "SELECT transaction_id, status, currency FROM payments") ==
        Rows{{"66a2b3c4d5e6f70812345605", "SETTLED", "BRL"}});
  CHECK(value(rig.db(), "SELECT count(*) FROM reviews") == "0");
}

TEST_CASE("a body the projections cannot read succeeds untouched", "[projection_handlers]") {
  Rig rig("");
  core::StoredEvent e;
  e.id = 99;
  e.key = {"production", "payment.settled", "transaction", "x", ""};
  e.event_type = "payment.settled";
  e.entity_kind = "transaction";
  e.body = "not json";
  for (const char* name : {"payments", "customers", "reviews"}) {
    CHECK(rig.run(*rig.handlers.find(name), e).kind == worker::HandlerResult::Kind::ok);
  }
  e.entity_kind = "customer";
  CHECK(rig.run(*rig.handlers.find("customers"), e).kind == worker::HandlerResult::Kind::ok);
  CHECK(value(rig.db(), "SELECT count(*) FROM payment_history") == "0");
}

TEST_CASE("the operator notification carries the review's facts", "[projection_handlers][notify]") {
  core::ReviewNotice n;
  n.source = "production";
  n.transaction_id = kReviewed;
  n.external_id = "vitawallet:dep-553201";
  n.total_amount = "2500000.00";
  n.currency = "ARS";
  n.customer_id = "66a2b3c4d5e6f70899990002";
  n.documentation_status = "PENDING_UPLOAD";
  n.cycle = 1;
  n.opened_at_ms = 1'777'803'150'000;  // 2026-05-03T10:12:30Z

  const std::string body = worker::review_notification(n);
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(std::string(doc["type"].GetString()) == "review.opened");
  CHECK(std::string(doc["text"].GetString()) ==
        "Payment 66a2b3c4d5e6f70812345602 requires review: ARS 2500000.00, customer "
        "66a2b3c4d5e6f70899990002, documentation PENDING_UPLOAD (production, opened "
        "2026-05-03T10:12:30.000Z)");
  const auto& r = doc["review"];
  CHECK(std::string(r["source"].GetString()) == "production");
  CHECK(std::string(r["transactionId"].GetString()) == kReviewed);
  CHECK(std::string(r["externalId"].GetString()) == "vitawallet:dep-553201");
  CHECK(std::string(r["totalAmount"].GetString()) == "2500000.00");
  CHECK(std::string(r["currency"].GetString()) == "ARS");
  CHECK(std::string(r["customerId"].GetString()) == "66a2b3c4d5e6f70899990002");
  CHECK(std::string(r["documentationStatus"].GetString()) == "PENDING_UPLOAD");
  CHECK(r["cycle"].GetInt64() == 1);
  CHECK(std::string(r["openedAt"].GetString()) == "2026-05-03T10:12:30.000Z");
}

TEST_CASE("the operator notification of a bare reopened review", "[projection_handlers][notify]") {
  core::ReviewNotice n;
  n.source = "sandbox";
  n.transaction_id = "tx-\"quoted\"";
  n.cycle = 3;
  n.opened_at_ms = 0;

  const std::string body = worker::review_notification(n);
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(std::string(doc["text"].GetString()) ==
        "Payment tx-\"quoted\" requires review (sandbox, opened 1970-01-01T00:00:00.000Z, "
        "review #3)");
  const auto& r = doc["review"];
  CHECK(std::string(r["transactionId"].GetString()) == "tx-\"quoted\"");
  for (const char* absent :
       {"externalId", "totalAmount", "currency", "customerId", "documentationStatus"}) {
    INFO(absent);
    REQUIRE(r.HasMember(absent));
    CHECK(r[absent].IsNull());
  }
  CHECK(r["cycle"].GetInt64() == 3);
}

TEST_CASE("the notification the handler sends is the review's", "[projection_handlers][notify]") {
  Downstream target({});
  Rig rig(target.url());
  const auto id = rig.deliver(conomy_example("06-payment-requires-review.json"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  CHECK(rig.event(id).status == "done");
  const auto requests = target.requests();
  REQUIRE(requests.size() == 1);
  core::ReviewNotice expected;
  expected.source = "production";
  expected.transaction_id = kReviewed;
  expected.external_id = "vitawallet:dep-553201";
  expected.total_amount = "2500000.00";
  expected.currency = "ARS";
  expected.customer_id = "66a2b3c4d5e6f70899990002";
  expected.documentation_status = "PENDING_UPLOAD";
  expected.cycle = 1;
  expected.opened_at_ms = 1'777'803'150'000;
  CHECK(requests[0].body == worker::review_notification(expected));
  CHECK(value(rig.db(), "SELECT notify_state FROM reviews") == "sent");
  REQUIRE(rig.notified.size() == 1);
  CHECK(rig.notified[0].sent);
  CHECK(rig.notified[0].since_receipt_s == Approx(0.0));
}

TEST_CASE(
    "regression (issue 6): a notification still owed when the notify target is removed "
    "is not sent",
    "[projection_handlers][notify][regression]") {
  // The opening's notification failed, then the receiver restarts without reviews.notify; the
  // retried event must not use the missing target.
  Downstream target({http_status(500)});
  Rig rig(target.url());
  const auto id = rig.deliver(conomy_example("06-payment-requires-review.json"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  REQUIRE(rig.event(id).status == "pending");

  auto without_target = worker::make_reviews_handler(worker::ReviewsOptions{}, rig.clock);
  CHECK(rig.run(*without_target, rig.event(id)).kind == worker::HandlerResult::Kind::ok);
  CHECK(target.requests().size() == 1);
  CHECK(value(rig.db(), "SELECT count(*) FROM review_history") == "1");
}
