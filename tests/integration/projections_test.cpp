// Issue 6 scenarios end to end: signed deliveries over HTTP (with duplicates and out-of-order
// arrival) into the real application with its default routes, then the projection tables read
// back from the real SQLite file, /metrics, /readyz and the `compare` command.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "integration/exposition.hpp"
#include "integration/http_client.hpp"
#include "integration/receiver_fixture.hpp"
#include "support/cli_run.hpp"
#include "support/wait.hpp"
#include "webhook/core/signature.hpp"
#include "worker/downstream_fixture.hpp"

using namespace webhook::testing;

namespace {

// A transaction as the platform sends it; empty strings are sent as null.
struct Tx {
  std::string id;
  std::string status;
  std::string external_id = "inv-1";
  std::string type = "LOCAL_DEPOSIT";
  std::string amount = "2500000.00";
  std::string parent;
  std::string related;
  std::string customer = "66a2b3c4d5e6f70899990002";
  std::string batch;
  std::string documentation;
};

std::string json_or_null(const std::string& s) { return s.empty() ? "null" : "\"" + s + "\""; }

std::string tx_event(const std::string& event_type, const std::string& timestamp, const Tx& t) {
  return R"({"eventType":")" + event_type + R"(","timestamp":")" + timestamp +
         R"(","transaction":{"id":")" + t.id + R"(","externalId":)" + json_or_null(t.external_id) +
         R"(,"status":")" + t.status + R"(","totalAmount":)" + json_or_null(t.amount) +
         R"(,"currency":"ARS","type":)" + json_or_null(t.type) + R"(,"parentPaymentId":)" +
         json_or_null(t.parent) + R"(,"relatedPaymentId":)" + json_or_null(t.related) +
         R"(,"customerId":)" + json_or_null(t.customer) + R"(,"settlementBatchId":)" +
         json_or_null(t.batch) + R"(,"documentationStatus":)" + json_or_null(t.documentation) +
         R"(},"identity":{"id":"66a2b3c4d5e6f708aaaa0001","email":"treasury@merchant-demo.example"}})";
}

std::string customer_event(const std::string& timestamp, const std::string& level, int documents,
                           const std::string& id = "66a2b3c4d5e6f70899990002") {
  return R"({"eventType":"customer.levelChanged","timestamp":")" + timestamp +
         R"(","customer":{"id":")" + id +
         R"(","clientId":"demo-client-ar","firstName":"Lucía","lastName":"Ferreyra",)"
         R"("documentNumber":"27333444559","operationLevel":")" +
         level + R"(","autoCreated":true,"documentsCount":)" + std::to_string(documents) + "}}";
}

// POSTs `body` signed for the source at `path`; returns the reply's status and body.
HttpReply deliver(HttpClient& client, const std::string& body,
                  const std::string& path = "/webhooks", const std::string& key = kKey) {
  return client.post(path, body, {{"X-Webhook-Signature", webhook::core::sign_header(key, body)}});
}

// Delivers every body in order and checks each answer is a 2xx "accepted" or "duplicate".
void deliver_all(HttpClient& client, const std::vector<std::string>& bodies,
                 const std::string& path = "/webhooks", const std::string& key = kKey) {
  for (const std::string& body : bodies) {
    const HttpReply reply = deliver(client, body, path, key);
    INFO(body);
    REQUIRE(reply.status == 200);
  }
}

// Waits until every event is finished (done, unhandled or dead).
bool all_finished(const Receiver& r) {
  return wait_until([&] { return r.count("status IN ('pending', 'processing')") == 0; });
}

// Fast retries so retry scenarios finish in well under a second.
const std::string kFastRetry =
    R"("workers": {"threads": 2, "retry": {"initial_ms": 50, "max_ms": 100, "max_attempts": 3}})";

// The application with fast retries, a quick monitor and reviews.notify -> a forward handler
// "ops" pointing at `target`.
struct NotifyingReceiver : Receiver {
  explicit NotifyingReceiver(const Downstream& target)
      : Receiver({}, {},
                 kFastRetry + R"(, "monitoring": {"backlog_sample_ms": 100},
                    "handlers": {"ops": {"type": "forward", "url": ")" +
                     target.url("/ops") + R"(", "secret_env": "OPS_FORWARD_SECRET",
                                         "timeout_ms": 2000}},
                    "reviews": {"notify": "ops"})",
                 {{"OPS_FORWARD_SECRET", "test-only-ops-secret"}}) {}
};

}  // namespace

SCENARIO("a review opened then approved ends closed as approved", "[integration][projections]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  const Tx opened{
      .id = "tx-review-1", .status = "REQUIRES_REVIEW", .documentation = "PENDING_UPLOAD"};
  Tx approved = opened;
  approved.status = "CAPTURED";
  approved.documentation = "APPROVED";

  GIVEN("payment.requiresReview, a duplicate of it, then reviewApproved and reviewResolved") {
    deliver_all(client, {tx_event("payment.requiresReview", "2026-05-03T10:12:30Z", opened),
                         tx_event("payment.requiresReview", "2026-05-03T10:12:30Z", opened)});
    REQUIRE(all_finished(receiver));
    THEN("the review is open with the payment's facts") {
      CHECK(receiver.value("SELECT state || ' ' || total_amount || ' ' || currency || ' ' || "
                           "customer_id || ' ' || documentation_status FROM reviews") ==
            "open 2500000.00 ARS 66a2b3c4d5e6f70899990002 PENDING_UPLOAD");
      CHECK(receiver.value("SELECT count(*) FROM review_history") == "1");
    }
    deliver_all(client, {tx_event("payment.reviewApproved", "2026-05-03T14:02:09Z", approved),
                         tx_event("payment.reviewResolved", "2026-05-03T14:02:09Z", approved),
                         tx_event("payment.reviewApproved", "2026-05-03T14:02:09Z", approved)});
    REQUIRE(all_finished(receiver));
    THEN("it is closed as approved, the payment is back to CAPTURED, each event counted once") {
      CHECK(receiver.value("SELECT state || ' ' || outcome || ' ' || documentation_status || ' ' "
                           "|| cycle FROM reviews WHERE transaction_id = 'tx-review-1'") ==
            "closed approved APPROVED 1");
      CHECK(receiver.value("SELECT group_concat(action, ',') FROM (SELECT action FROM "
                           "review_history ORDER BY received_at_ms, event_id)") ==
            "opened,closed,noted");
      CHECK(receiver.value("SELECT status FROM payments WHERE transaction_id = 'tx-review-1'") ==
            "CAPTURED");
      CHECK(receiver.value("SELECT count(*) FROM payment_history") == "3");
      CHECK(receiver.value("SELECT closed_at_ms FROM reviews") == "1777816929000");
    }
    AND_WHEN("a later status change puts the payment back into review") {
      Tx again = opened;
      again.documentation = "PENDING_UPLOAD";
      deliver_all(client, {tx_event("transaction.status_changed", "2026-05-05T08:00:00Z", again)});
      REQUIRE(all_finished(receiver));
      THEN("the review is reopened as its second cycle") {
        CHECK(receiver.value("SELECT state || ' ' || cycle || ' ' || coalesce(outcome, '-') || ' "
                             "' || opened_at_ms FROM reviews") == "open 2 - 1777968000000");
      }
    }
  }
}

SCENARIO("a review opened and rejected, with a refund child created and settled",
         "[integration][projections]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  const Tx parent{.id = "tx-parent-2",
                  .status = "REQUIRES_REVIEW",
                  .external_id = "dep-2",
                  .documentation = "PENDING_UPLOAD"};
  Tx rejected = parent;
  rejected.status = "FAILED";
  rejected.documentation = "REJECTED";
  const Tx child{.id = "tx-child-2",
                 .status = "RECEIVED",
                 .external_id = "refund-dep-2",
                 .type = "REFUND",
                 .amount = "2500000.00",
                 .parent = "tx-parent-2"};
  Tx child_settled = child;
  child_settled.status = "SETTLED";
  child_settled.batch = "settlement-ARS-1777900000";

  WHEN("the events arrive with the umbrella event first and a duplicate rejection") {
    deliver_all(client,
                {tx_event("payment.requiresReview", "2026-05-03T10:00:00Z", parent),
                 tx_event("payment.reviewResolved", "2026-05-03T11:00:00Z", rejected),
                 tx_event("payment.reviewRejected", "2026-05-03T11:00:00Z", rejected),
                 tx_event("payment.reviewRejected", "2026-05-03T11:00:00Z", rejected),
                 tx_event("payment.refund.created", "2026-05-03T11:00:01Z", child),
                 tx_event("payment.refund.settled", "2026-05-04T09:00:00Z", child_settled)});
    REQUIRE(all_finished(receiver));
    THEN("the review is closed as rejected, the parent FAILED, the child SETTLED and linked") {
      CHECK(receiver.value("SELECT state || ' ' || outcome FROM reviews") == "closed rejected");
      CHECK(receiver.value("SELECT status FROM payments WHERE transaction_id = 'tx-parent-2'") ==
            "FAILED");
      CHECK(receiver.value("SELECT status || ' ' || parent_payment_id || ' ' || type || ' ' || "
                           "settlement_batch_id FROM payments WHERE transaction_id = "
                           "'tx-child-2'") ==
            "SETTLED tx-parent-2 REFUND settlement-ARS-1777900000");
      CHECK(receiver.value("SELECT count(*) FROM payments WHERE parent_payment_id = "
                           "'tx-parent-2'") == "1");
      // opened, closed (by the umbrella event, outcome from REJECTED), noted (the rejection).
      // Refund events are about the child, which has no review: they leave no review history.
      CHECK(receiver.value("SELECT group_concat(action, ',') FROM (SELECT action FROM "
                           "review_history ORDER BY received_at_ms, event_id)") ==
            "opened,closed,noted");
      CHECK(receiver.count("status = 'done'") == 5);
    }
  }
}

SCENARIO("a customer goes BASIC, documented, STANDARD, and a stale delivery arrives late",
         "[integration][projections]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  WHEN("BASIC/0 and STANDARD/1 arrive, then the older 'became documented' BASIC/1 event") {
    deliver_all(client, {customer_event("2026-05-01T09:00:00Z", "BASIC", 0),
                         customer_event("2026-05-03T09:00:00Z", "STANDARD", 1),
                         customer_event("2026-05-03T09:00:00Z", "STANDARD", 1),  // duplicate
                         customer_event("2026-05-02T09:00:00Z", "BASIC", 1)});
    REQUIRE(all_finished(receiver));
    THEN("the record stays STANDARD and documented, and the history marks the late one stale") {
      CHECK(receiver.value("SELECT operation_level || ' ' || documents_count || ' ' || "
                           "documented || ' ' || auto_created || ' ' || state_at_ms FROM "
                           "customers") == "STANDARD 1 1 1 1777798800000");
      CHECK(receiver.value("SELECT group_concat(operation_level || '/' || documents_count || '=' "
                           "|| effect, ',') FROM (SELECT * FROM customer_history ORDER BY "
                           "received_at_ms, event_id)") ==
            "BASIC/0=applied,STANDARD/1=applied,BASIC/1=stale");
      CHECK(receiver.value("SELECT count(*) FROM customers") == "1");
    }
  }
}

SCENARIO("status_changed through CAPTURED, RECEIVED, SETTLED with a late CAPTURED",
         "[integration][projections]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  Tx tx{.id = "tx-status-4",
        .status = "CAPTURED",
        .external_id = "inv-7781",
        .type = "TOPUP_ACCOUNT",
        .amount = "48000.00"};
  auto at = [&](const std::string& status, const std::string& batch = "") {
    Tx t = tx;
    t.status = status;
    t.batch = batch;
    return t;
  };
  WHEN("RECEIVED and SETTLED arrive (with duplicates) before the CAPTURED they followed") {
    deliver_all(client,
                {tx_event("transaction.status_changed", "2026-05-02T14:00:00Z", at("RECEIVED")),
                 tx_event("transaction.status_changed", "2026-05-02T16:40:00Z",
                          at("SETTLED", "settlement-ARS-1777740000")),
                 tx_event("transaction.status_changed", "2026-05-02T14:00:00Z", at("RECEIVED")),
                 tx_event("transaction.status_changed", "2026-05-02T13:05:11Z", at("CAPTURED"))});
    REQUIRE(all_finished(receiver));
    // And the legacy shape's Transaction.Captured for the same id, with no timestamp at all.
    const std::string legacy =
        R"({"event":"Transaction.Captured","data":{"transaction":{"id":"tx-status-4",)"
        R"("purchaseAmount":"48000.00","totalAmount":"48000.00","externalId":"inv-7781",)"
        R"("currency":"ARS","status":"CAPTURED"}}})";
    deliver_all(client, {legacy});
    REQUIRE(all_finished(receiver));
    THEN("the payment stays SETTLED with its batch, and each late event is recorded as such") {
      CHECK(receiver.value("SELECT status || ' ' || settlement_batch_id || ' ' || status_at_ms "
                           "FROM payments") == "SETTLED settlement-ARS-1777740000 1777740000000");
      CHECK(receiver.value("SELECT group_concat(status || '=' || effect, ',') FROM (SELECT * "
                           "FROM payment_history ORDER BY received_at_ms, event_id)") ==
            "RECEIVED=applied,SETTLED=applied,CAPTURED=stale,CAPTURED=terminal_kept");
      // The first capture time comes from the late CAPTURED's timestamp.
      CHECK(receiver.value("SELECT captured_at_ms FROM payments") == "1777727111000");
      CHECK(receiver.value("SELECT count(*) FROM payments") == "1");
    }
  }
}

SCENARIO("a notification target that fails twice and then succeeds", "[integration][projections]") {
  Downstream ops({{500, {}, "down"}, {503, {}, "still down"}});
  NotifyingReceiver receiver(ops);
  HttpClient client(receiver.port());
  const Tx opened{.id = "tx-notify-5",
                  .status = "REQUIRES_REVIEW",
                  .external_id = "dep-5",
                  .documentation = "PENDING_UPLOAD"};

  deliver_all(client, {tx_event("payment.requiresReview", "2026-05-03T10:12:30Z", opened)});
  REQUIRE(wait_until([&] { return receiver.count("status = 'done'") == 1; }));

  // Three attempts, one message id: the target can deduplicate the retries.
  const auto requests = ops.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].header("webhook-id") == requests[2].header("webhook-id"));
  CHECK(requests[2].header("x-webhook-event-type") == "review.opened");
  CHECK_THAT(requests[2].body, Catch::Contains(R"("type":"review.opened")"));
  CHECK_THAT(requests[2].body, Catch::Contains(R"("transactionId":"tx-notify-5")"));
  CHECK_THAT(requests[2].body, Catch::Contains("requires review: ARS 2500000.00"));
  CHECK(!requests[2].header("webhook-signature").empty());
  CHECK(receiver.value("SELECT attempts FROM events") == "3");
  CHECK(receiver.value("SELECT notify_state FROM reviews") == "sent");
  CHECK(receiver.value("SELECT notified_at_ms >= opened_received_ms FROM reviews") == "1");
  CHECK(receiver.value("SELECT count(*) FROM review_history") == "1");

  auto m = parse_exposition(client.get("/metrics").body);
  CHECK(m["webhook_review_notifications_total{source=\"production\",result=\"failed\"}"] == 2);
  CHECK(m["webhook_review_notifications_total{source=\"production\",result=\"sent\"}"] == 1);
  CHECK(m["webhook_review_notify_seconds_count{source=\"production\"}"] == 1);
  CHECK(m["webhook_review_notify_sla_seconds"] == 300);
  // The monitor sees the open review.
  CHECK(wait_until([&] {
    auto now = parse_exposition(client.get("/metrics").body);
    return now["webhook_reviews_open{source=\"production\"}"] == 1;
  }));
  const HttpReply ready = client.get("/readyz");
  CHECK(ready.status == 200);
  CHECK_THAT(ready.body, Catch::Contains(R"("reviews":{"production":{"open":1,)"));
}

SCENARIO("a notification that keeps failing is a dead letter and visible in /metrics",
         "[integration][projections]") {
  Downstream ops({{500}, {500}, {500}, {500}});
  NotifyingReceiver receiver(ops);
  HttpClient client(receiver.port());
  const Tx opened{.id = "tx-notify-6", .status = "REQUIRES_REVIEW"};
  deliver_all(client, {tx_event("payment.requiresReview", "2026-05-03T10:12:30Z", opened)});
  REQUIRE(wait_until([&] { return receiver.count("status = 'dead'") == 1; }));
  CHECK(ops.requests().size() == 3);
  CHECK_THAT(receiver.value("SELECT last_error FROM events"),
             Catch::Contains("review notification: forward: HTTP 500"));
  CHECK(receiver.value("SELECT state || ' ' || notify_state FROM reviews") == "open pending");
  CHECK(wait_until([&] {
    auto m = parse_exposition(client.get("/metrics").body);
    return m["webhook_dead_letters{group=\"reviews\"}"] == 1 &&
           m["webhook_review_notifications_total{source=\"production\",result=\"failed\"}"] == 3;
  }));
}

SCENARIO("sandbox and production disagree on a shared externalId and compare says so",
         "[integration][projections]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  const Tx prod{.id = "tx-prod-7",
                .status = "CAPTURED",
                .external_id = "order-shared-7",
                .type = "TOPUP_ACCOUNT",
                .amount = "1000.00"};
  Tx prod_settled = prod;
  prod_settled.status = "SETTLED";
  const Tx sandbox{.id = "tx-sbx-7",
                   .status = "CAPTURED",
                   .external_id = "order-shared-7",
                   .type = "TOPUP_ACCOUNT",
                   .amount = "1000.00"};
  Tx sandbox_failed = sandbox;
  sandbox_failed.status = "FAILED";
  // A second shared externalId on which both agree.
  const Tx prod_ok{.id = "tx-prod-8", .status = "SETTLED", .external_id = "order-shared-8"};
  const Tx sandbox_ok{.id = "tx-sbx-8", .status = "SETTLED", .external_id = "order-shared-8"};

  deliver_all(client, {tx_event("transaction.status_changed", "2026-05-02T10:00:00Z", prod),
                       tx_event("transaction.status_changed", "2026-05-02T12:00:00Z", prod_settled),
                       tx_event("payment.settled", "2026-05-02T12:00:00Z", prod_ok)});
  deliver_all(client,
              {tx_event("transaction.status_changed", "2026-05-02T10:00:00Z", sandbox),
               tx_event("transaction.status_changed", "2026-05-02T12:00:00Z", sandbox_failed),
               tx_event("payment.settled", "2026-05-02T12:00:00Z", sandbox_ok)},
              "/webhooks/sandbox", kSandboxKey);
  REQUIRE(all_finished(receiver));
  REQUIRE(receiver.value("SELECT count(*) FROM payments") == "4");

  const std::string db = receiver.config().storage.sqlite_path;
  const CliRun text = run_cli([&](webhook::cli::Io io) {
    return webhook::cli::run({"compare", "--db", db, "--since", "1d"}, io);
  });
  INFO(text.err);
  REQUIRE(text.code == 0);
  CHECK_THAT(text.out, Catch::Contains("order-shared-7"));
  CHECK_THAT(text.out, Catch::Contains("tx-prod-7"));
  CHECK_THAT(text.out, Catch::Contains("tx-sbx-7"));
  CHECK_THAT(text.out, Catch::Contains("FAILED"));
  CHECK_THAT(text.out, !Catch::Contains("order-shared-8"));
  CHECK_THAT(text.out, Catch::Contains("transaction.status_changed"));

  const CliRun json = run_cli([&](webhook::cli::Io io) {
    return webhook::cli::run({"compare", "--db", db, "--since", "1d", "--json"}, io);
  });
  REQUIRE(json.code == 0);
  CHECK_THAT(json.out, Catch::Contains("order-shared-7"));
  CHECK_THAT(json.out, !Catch::Contains("order-shared-8"));
}
