// Tests include/webhook/core/projection.hpp: the facts read from every sample delivery
// (tests/fixtures/conomy) and the pure rules that move payments, reviews and customers.
#include "webhook/core/projection.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "support/conomy_payloads.hpp"

using namespace webhook::core;
using webhook::testing::conomy_example;

namespace {

PaymentFacts payment_of(const std::string& name) {
  const auto facts = payment_facts(conomy_example(name));
  REQUIRE(facts.has_value());
  return *facts;
}

constexpr std::int64_t kT1 = 1'777'803'150'000;  // 2026-05-03T10:12:30Z (the review opens)
constexpr std::int64_t kT2 = 1'777'816'929'000;  // 2026-05-03T14:02:09Z (approved)
constexpr std::int64_t kT3 = 1'777'833'000'000;  // 2026-05-03T18:30:00Z (settled)

KnownStatus known(std::string status, std::optional<std::int64_t> at = std::nullopt) {
  return KnownStatus{std::move(status), at};
}

ReviewState open_review(std::optional<std::int64_t> opened_at) {
  ReviewState s;
  s.open = true;
  s.has_opening = true;
  s.opened_at_ms = opened_at;
  return s;
}

ReviewState closed_review(std::string outcome, bool has_opening,
                          std::optional<std::int64_t> opened_at,
                          std::optional<std::int64_t> closed_at) {
  ReviewState s;
  s.open = false;
  s.has_opening = has_opening;
  s.opened_at_ms = opened_at;
  s.closed_at_ms = closed_at;
  s.outcome = std::move(outcome);
  return s;
}

}  // namespace

// ---- facts ------------------------------------------------------------------------------------

TEST_CASE("payment facts of the legacy samples come from data.transaction", "[projection][facts]") {
  const PaymentFacts captured = payment_of("01-legacy-transaction-captured.json");
  CHECK(captured.transaction_id == "65f1a0c2b7e4d9a1c3e5f701");
  CHECK(captured.status == "CAPTURED");
  CHECK(captured.external_id == "order-20260501-0001");
  CHECK(captured.total_amount == "125000");
  CHECK(captured.currency == "COP");
  CHECK(captured.type.empty());  // not in the legacy shape
  CHECK(captured.customer_id.empty());
  CHECK_FALSE(captured.occurred_at_ms.has_value());  // the legacy shape has no timestamp

  CHECK(payment_of("02-legacy-transaction-received.json").status == "RECEIVED");

  const PaymentFacts failed = payment_of("03-legacy-transaction-failed.json");
  CHECK(failed.transaction_id == "65f1a0c2b7e4d9a1c3e5f702");
  CHECK(failed.status == "FAILED");
  CHECK(failed.total_amount == "91490");
  CHECK(failed.currency == "CLP");
}

TEST_CASE("payment facts of an eventType sample keep strings as sent and nulls as empty",
          "[projection][facts]") {
  const PaymentFacts f = payment_of("04-status-changed-captured.json");
  CHECK(f.transaction_id == "66a2b3c4d5e6f70812345601");
  CHECK(f.status == "CAPTURED");
  CHECK(f.external_id == "inv-7781");
  CHECK(f.type == "TOPUP_ACCOUNT");
  CHECK(f.total_amount == "48000.00");
  CHECK(f.currency == "ARS");
  CHECK(f.customer_id == "66a2b3c4d5e6f70899990001");
  CHECK(f.parent_payment_id.empty());
  CHECK(f.related_payment_id.empty());
  CHECK(f.settlement_batch_id.empty());
  CHECK(f.documentation_status.empty());
  CHECK(f.settled_at.empty());
  CHECK(f.expired_at.empty());
  CHECK(f.unsettled_at.empty());
  CHECK(f.unsettled_reason.empty());
  CHECK(f.occurred_at_ms == 1'777'727'111'000);
}

TEST_CASE("payment facts of the settlement, review and refund samples", "[projection][facts]") {
  const PaymentFacts settled = payment_of("05-status-changed-settled.json");
  CHECK(settled.status == "SETTLED");
  CHECK(settled.settled_at == "2026-05-02T16:40:00Z");
  CHECK(settled.settlement_batch_id == "settlement-ARS-1777740000");
  CHECK(settled.occurred_at_ms == 1'777'740'000'000);

  const PaymentFacts review = payment_of("06-payment-requires-review.json");
  CHECK(review.transaction_id == "66a2b3c4d5e6f70812345602");
  CHECK(review.status == "REQUIRES_REVIEW");
  CHECK(review.documentation_status == "PENDING_UPLOAD");
  CHECK(review.external_id == "vitawallet:dep-553201");
  CHECK(review.total_amount == "2500000.00");
  CHECK(review.type == "LOCAL_DEPOSIT");
  CHECK(review.customer_id == "66a2b3c4d5e6f70899990002");
  CHECK(review.occurred_at_ms == kT1);

  const PaymentFacts approved = payment_of("07-payment-review-approved.json");
  CHECK(approved.status == "CAPTURED");
  CHECK(approved.documentation_status == "APPROVED");
  CHECK(approved.occurred_at_ms == kT2);

  const PaymentFacts paid = payment_of("08-payment-settled.json");
  CHECK(paid.status == "SETTLED");
  CHECK(paid.settlement_batch_id == "settlement-ARS-1777833000");
  CHECK(paid.occurred_at_ms == kT3);

  const PaymentFacts refund = payment_of("09-payment-refund-created.json");
  CHECK(refund.transaction_id == "66a2b3c4d5e6f70812345699");  // the child
  CHECK(refund.parent_payment_id == "66a2b3c4d5e6f70812345601");
  CHECK(refund.type == "REFUND");
  CHECK(refund.status == "RECEIVED");
  CHECK(refund.total_amount == "1500.00");

  const PaymentFacts underpaid = payment_of("11-purchase-underpaid.json");
  CHECK(underpaid.transaction_id == "66a2b3c4d5e6f70812345603");
  CHECK(underpaid.related_payment_id == "66a2b3c4d5e6f70812345604");
  CHECK(underpaid.settlement_batch_id == "settlement-ARS-1777980000");
  CHECK(underpaid.settled_at == "2026-05-05T11:20:16Z");

  const PaymentFacts unknown = payment_of("12-unknown-future-event.json");
  CHECK(unknown.transaction_id == "66a2b3c4d5e6f70812345605");
  CHECK(unknown.status == "SETTLED");
  CHECK(unknown.currency == "BRL");
}

TEST_CASE("the customer sample has customer facts and no payment facts", "[projection][facts]") {
  const std::string body = conomy_example("10-customer-level-changed.json");
  CHECK_FALSE(payment_facts(body).has_value());
  const auto f = customer_facts(body);
  REQUIRE(f.has_value());
  CHECK(f->customer_id == "66a2b3c4d5e6f70899990002");
  CHECK(f->client_id == "demo-client-ar");
  CHECK(f->operation_level == "BASIC");
  CHECK(f->documents_count == 1);
  CHECK(f->auto_created == true);
  CHECK(f->occurred_at_ms == 1'777'816'682'000);
}

TEST_CASE("transaction samples have no customer facts", "[projection][facts]") {
  for (const char* name :
       {"01-legacy-transaction-captured.json", "02-legacy-transaction-received.json",
        "03-legacy-transaction-failed.json", "04-status-changed-captured.json",
        "05-status-changed-settled.json", "06-payment-requires-review.json",
        "07-payment-review-approved.json", "08-payment-settled.json",
        "09-payment-refund-created.json", "11-purchase-underpaid.json",
        "12-unknown-future-event.json"}) {
    INFO(name);
    const std::string body = conomy_example(name);
    CHECK(payment_facts(body).has_value());
    CHECK_FALSE(customer_facts(body).has_value());
  }
}

TEST_CASE("payment facts treat absent, null and mistyped fields as empty", "[projection][facts]") {
  const auto f = payment_facts(
      R"({"eventType":"transaction.status_changed","transaction":{"id":"tx-1","status":null,)"
      R"("currency":7,"customerId":false,"totalAmount":2000.50,"settledAt":{}}})");
  REQUIRE(f.has_value());
  CHECK(f->transaction_id == "tx-1");
  CHECK(f->status.empty());
  CHECK(f->customer_id.empty());
  CHECK(f->settled_at.empty());
  CHECK(f->total_amount == "2000.50");  // a number keeps its text, never a double
  CHECK_FALSE(f->occurred_at_ms.has_value());
  // A numeric id is its text.
  CHECK(payment_facts(R"({"transaction":{"id":123456789012345678901234}})")->transaction_id ==
        "123456789012345678901234");
}

TEST_CASE("an unparsable timestamp leaves the event time unknown", "[projection][facts]") {
  CHECK_FALSE(payment_facts(R"({"timestamp":"yesterday","transaction":{"id":"tx-1"}})")
                  ->occurred_at_ms.has_value());
  CHECK_FALSE(payment_facts(R"({"timestamp":1777727111,"transaction":{"id":"tx-1"}})")
                  ->occurred_at_ms.has_value());
  CHECK_FALSE(
      customer_facts(R"({"timestamp":null,"customer":{"id":"c-1"}})")->occurred_at_ms.has_value());
}

TEST_CASE("malformed bodies have no facts and never throw", "[projection][facts]") {
  for (const std::string& body :
       {std::string(), std::string("not json"), std::string("[]"), std::string("\"x\""),
        std::string("{}"), std::string("{"), std::string(R"({"transaction":null})"),
        std::string(R"({"transaction":[]})"), std::string(R"({"transaction":{}})"),
        std::string(R"({"transaction":{"id":""}})"), std::string(R"({"transaction":{"id":null}})"),
        std::string(R"({"transaction":{"id":true}})"), std::string(R"({"data":{"transaction":1}})"),
        std::string(R"({"data":[{"transaction":{"id":"x"}}]})"),
        std::string(R"({"customer":{"id":"c-1"}})"),
        std::string("{\"transaction\":{\"id\":\"t\"}}\0x", 28), std::string(100000, '['),
        std::string("\xff\xfe{}")}) {
    INFO(body.substr(0, 60));
    CHECK_NOTHROW(payment_facts(body));
    CHECK_FALSE(payment_facts(body).has_value());
  }
  for (const std::string& body :
       {std::string(), std::string("null"), std::string(R"({"customer":null})"),
        std::string(R"({"customer":{"clientId":"x"}})"), std::string(R"({"customer":{"id":""}})"),
        std::string(R"({"data":{"customer":{"id":"c-1"}}})"),
        std::string(R"({"transaction":{"id":"t"}})"), std::string(100000, '{')}) {
    INFO(body.substr(0, 60));
    CHECK_NOTHROW(customer_facts(body));
    CHECK_FALSE(customer_facts(body).has_value());
  }
}

TEST_CASE("an empty view with no bytes behind it has no facts", "[projection][facts]") {
  CHECK_FALSE(payment_facts(std::string_view{}).has_value());
  CHECK_FALSE(customer_facts(std::string_view{}).has_value());
}

TEST_CASE("a customer's count is kept only as a whole number and autoCreated only as a bool",
          "[projection][facts]") {
  const auto f = customer_facts(
      R"({"customer":{"id":"c-1","documentsCount":"2","autoCreated":"true","operationLevel":null}})");
  REQUIRE(f.has_value());
  CHECK(f->documents_count == 2);  // numbers arrive as text: a quoted one reads the same
  CHECK_FALSE(f->auto_created.has_value());
  CHECK(f->operation_level.empty());
  CHECK_FALSE(customer_facts(R"({"customer":{"id":"c-1","documentsCount":1.0}})")
                  ->documents_count.has_value());
  CHECK_FALSE(customer_facts(R"({"customer":{"id":"c-1","documentsCount":1e0}})")
                  ->documents_count.has_value());
  CHECK_FALSE(customer_facts(R"({"customer":{"id":"c-1","documentsCount":99999999999999999999}})")
                  ->documents_count.has_value());
  CHECK(customer_facts(R"({"customer":{"id":"c-1","documentsCount":-1}})")->documents_count == -1);
  CHECK(customer_facts(R"({"customer":{"id":"c-1","autoCreated":false}})")->auto_created == false);
  CHECK_FALSE(customer_facts(R"({"customer":{"id":"c-1"}})")->documents_count.has_value());
}

// ---- payments ---------------------------------------------------------------------------------

TEST_CASE("terminal statuses are the documented five", "[projection][status]") {
  for (const char* s : {"SETTLED", "FAILED", "EXPIRED", "UNSETTLED", "REFUNDED"}) {
    CHECK(is_terminal_payment_status(s));
  }
  for (const char* s : {"ATTEMPT", "PENDING", "CREATED", "AUTHORIZED", "REQUIRES_REVIEW",
                        "CAPTURED", "RECEIVED", "DISPUTED", "REVERSED", "", "settled"}) {
    CHECK_FALSE(is_terminal_payment_status(s));
  }
}

TEST_CASE("decide_status: the first status of a transaction is applied", "[projection][status]") {
  CHECK(decide_status(std::nullopt, "CAPTURED", kT1) == StatusEffect::applied);
  CHECK(decide_status(std::nullopt, "SETTLED", std::nullopt) == StatusEffect::applied);
}

TEST_CASE("decide_status: an event without a status only fills gaps", "[projection][status]") {
  CHECK(decide_status(std::nullopt, "", kT1) == StatusEffect::no_status);
  CHECK(decide_status(known("CAPTURED", kT1), "", kT2) == StatusEffect::no_status);
  CHECK(decide_status(known("SETTLED", kT1), "", std::nullopt) == StatusEffect::no_status);
}

TEST_CASE("decide_status: an event older than the state is stale", "[projection][status]") {
  CHECK(decide_status(known("RECEIVED", kT2), "CAPTURED", kT1) == StatusEffect::stale);
  CHECK(decide_status(known("CAPTURED", kT2), "CAPTURED", kT1) == StatusEffect::stale);
  CHECK(decide_status(known("SETTLED", kT3), "CAPTURED", kT1) == StatusEffect::stale);
  // The same instant is not older.
  CHECK(decide_status(known("CAPTURED", kT2), "RECEIVED", kT2) == StatusEffect::applied);
}

TEST_CASE("decide_status: without both timestamps arrival order decides", "[projection][status]") {
  CHECK(decide_status(known("CAPTURED", kT2), "RECEIVED", std::nullopt) == StatusEffect::applied);
  CHECK(decide_status(known("RECEIVED"), "CAPTURED", kT1) == StatusEffect::applied);
  CHECK(decide_status(known("CAPTURED"), "RECEIVED", std::nullopt) == StatusEffect::applied);
}

TEST_CASE("decide_status: statuses do not only move forward", "[projection][status]") {
  CHECK(decide_status(known("REQUIRES_REVIEW", kT1), "CAPTURED", kT2) == StatusEffect::applied);
  CHECK(decide_status(known("CAPTURED", kT1), "REQUIRES_REVIEW", kT2) == StatusEffect::applied);
}

TEST_CASE("decide_status: a terminal status is kept against a late non-terminal one",
          "[projection][status]") {
  CHECK(decide_status(known("SETTLED", kT2), "CAPTURED", kT3) == StatusEffect::terminal_kept);
  CHECK(decide_status(known("SETTLED", kT2), "CAPTURED", std::nullopt) ==
        StatusEffect::terminal_kept);
  CHECK(decide_status(known("FAILED"), "RECEIVED", kT3) == StatusEffect::terminal_kept);
  CHECK(decide_status(known("EXPIRED", kT1), "REQUIRES_REVIEW", kT2) ==
        StatusEffect::terminal_kept);
  CHECK(decide_status(known("UNSETTLED", kT1), "RECEIVED", kT2) == StatusEffect::terminal_kept);
  CHECK(decide_status(known("REFUNDED", kT1), "CAPTURED", kT2) == StatusEffect::terminal_kept);
}

TEST_CASE("decide_status: a terminal status replaces another only when both are timed and later",
          "[projection][status]") {
  CHECK(decide_status(known("SETTLED", kT2), "FAILED", kT3) == StatusEffect::applied);
  CHECK(decide_status(known("SETTLED", kT2), "FAILED", kT2) == StatusEffect::terminal_kept);
  CHECK(decide_status(known("SETTLED", kT2), "FAILED", kT1) == StatusEffect::stale);
  CHECK(decide_status(known("SETTLED", kT2), "FAILED", std::nullopt) ==
        StatusEffect::terminal_kept);
  CHECK(decide_status(known("SETTLED"), "FAILED", kT3) == StatusEffect::terminal_kept);
  CHECK(decide_status(known("SETTLED"), "FAILED", std::nullopt) == StatusEffect::terminal_kept);
}

TEST_CASE("decide_status: the same status again is applied", "[projection][status]") {
  CHECK(decide_status(known("SETTLED", kT2), "SETTLED", kT2) == StatusEffect::applied);
  CHECK(decide_status(known("SETTLED", kT2), "SETTLED", std::nullopt) == StatusEffect::applied);
  CHECK(decide_status(known("CAPTURED"), "CAPTURED", kT3) == StatusEffect::applied);
}

TEST_CASE("status effects have stable names", "[projection][status]") {
  CHECK(to_string(StatusEffect::applied) == "applied");
  CHECK(to_string(StatusEffect::stale) == "stale");
  CHECK(to_string(StatusEffect::terminal_kept) == "terminal_kept");
  CHECK(to_string(StatusEffect::no_status) == "no_status");
}

// ---- reviews ----------------------------------------------------------------------------------

TEST_CASE("review_signal reads the event type first, then the status", "[projection][review]") {
  CHECK(review_signal("payment.requiresReview", "REQUIRES_REVIEW") == ReviewSignal::opens);
  CHECK(review_signal("payment.requiresReview", "") == ReviewSignal::opens);
  CHECK(review_signal("transaction.status_changed", "REQUIRES_REVIEW") == ReviewSignal::opens);
  CHECK(review_signal("payment.reviewApproved", "CAPTURED") == ReviewSignal::approved);
  CHECK(review_signal("payment.reviewRejected", "FAILED") == ReviewSignal::rejected);
  CHECK(review_signal("payment.reviewResolved", "FAILED") == ReviewSignal::resolved);
  CHECK(review_signal("payment.settled", "SETTLED") == ReviewSignal::terminal);
  CHECK(review_signal("payment.failed", "FAILED") == ReviewSignal::terminal);
  CHECK(review_signal("Transaction.Failed", "FAILED") == ReviewSignal::terminal);
  CHECK(review_signal("payment.chargebackOpened", "SETTLED") == ReviewSignal::terminal);
  CHECK(review_signal("transaction.status_changed", "CAPTURED") == ReviewSignal::none);
  CHECK(review_signal("Transaction.Captured", "CAPTURED") == ReviewSignal::none);
  CHECK(review_signal("customer.levelChanged", "") == ReviewSignal::none);
}

TEST_CASE("decide_review: an opening opens a new review", "[projection][review]") {
  const auto d =
      decide_review(std::nullopt, ReviewSignal::opens, "REQUIRES_REVIEW", "PENDING_UPLOAD", kT1);
  CHECK(d.action == ReviewAction::open);
  CHECK(d.outcome.empty());
  CHECK(decide_review(std::nullopt, ReviewSignal::opens, "", "", std::nullopt).action ==
        ReviewAction::open);
}

TEST_CASE("decide_review: a second opening of an open review changes nothing",
          "[projection][review]") {
  CHECK(decide_review(open_review(kT1), ReviewSignal::opens, "REQUIRES_REVIEW", "", kT2).action ==
        ReviewAction::none);
  CHECK(decide_review(open_review(kT1), ReviewSignal::opens, "REQUIRES_REVIEW", "", std::nullopt)
            .action == ReviewAction::none);
}

TEST_CASE("decide_review: decisions close an open review with their outcome",
          "[projection][review]") {
  const auto approved =
      decide_review(open_review(kT1), ReviewSignal::approved, "CAPTURED", "APPROVED", kT2);
  CHECK(approved.action == ReviewAction::close);
  CHECK(approved.outcome == "approved");
  const auto rejected =
      decide_review(open_review(kT1), ReviewSignal::rejected, "FAILED", "REJECTED", kT2);
  CHECK(rejected.action == ReviewAction::close);
  CHECK(rejected.outcome == "rejected");
}

TEST_CASE("decide_review: reviewResolved takes its outcome from the documentation status",
          "[projection][review]") {
  CHECK(decide_review(open_review(kT1), ReviewSignal::resolved, "CAPTURED", "APPROVED", kT2)
            .outcome == "approved");
  CHECK(
      decide_review(open_review(kT1), ReviewSignal::resolved, "FAILED", "REJECTED", kT2).outcome ==
      "rejected");
  const auto generic =
      decide_review(open_review(kT1), ReviewSignal::resolved, "CAPTURED", "UPLOADED", kT2);
  CHECK(generic.action == ReviewAction::close);
  CHECK(generic.outcome == "resolved");
}

TEST_CASE("decide_review: a terminal status closes an open review", "[projection][review]") {
  const auto settled = decide_review(open_review(kT1), ReviewSignal::terminal, "SETTLED", "", kT3);
  CHECK(settled.action == ReviewAction::close);
  CHECK(settled.outcome == "settled");
  const auto failed =
      decide_review(open_review(kT1), ReviewSignal::terminal, "FAILED", "", std::nullopt);
  CHECK(failed.action == ReviewAction::close);
  CHECK(failed.outcome == "failed");
}

TEST_CASE("decide_review: a terminal status alone says nothing about a review",
          "[projection][review]") {
  CHECK(decide_review(std::nullopt, ReviewSignal::terminal, "SETTLED", "", kT3).action ==
        ReviewAction::none);
}

TEST_CASE("decide_review: a signal of no review changes nothing", "[projection][review]") {
  CHECK(decide_review(std::nullopt, ReviewSignal::none, "CAPTURED", "", kT1).action ==
        ReviewAction::none);
  CHECK(decide_review(open_review(kT1), ReviewSignal::none, "CAPTURED", "", kT2).action ==
        ReviewAction::none);
}

TEST_CASE("decide_review: a decision older than the open cycle is stale", "[projection][review]") {
  CHECK(
      decide_review(open_review(kT2), ReviewSignal::approved, "CAPTURED", "APPROVED", kT1).action ==
      ReviewAction::stale);
  CHECK(decide_review(open_review(kT2), ReviewSignal::terminal, "FAILED", "", kT1).action ==
        ReviewAction::stale);
  // Without timestamps it closes.
  CHECK(decide_review(open_review(std::nullopt), ReviewSignal::approved, "CAPTURED", "", kT1)
            .action == ReviewAction::close);
  CHECK(decide_review(open_review(kT2), ReviewSignal::approved, "CAPTURED", "", std::nullopt)
            .action == ReviewAction::close);
}

SCENARIO("decide_review: a decision that arrives before its opening", "[projection][review]") {
  GIVEN("no review yet") {
    WHEN("the approval arrives first") {
      const auto d =
          decide_review(std::nullopt, ReviewSignal::approved, "CAPTURED", "APPROVED", kT2);
      THEN("the review is recorded closed with the outcome") {
        CHECK(d.action == ReviewAction::close);
        CHECK(d.outcome == "approved");
      }
    }
    WHEN("the umbrella reviewResolved arrives first") {
      const auto d = decide_review(std::nullopt, ReviewSignal::resolved, "FAILED", "REJECTED", kT2);
      THEN("it closes with the specific outcome") {
        CHECK(d.action == ReviewAction::close);
        CHECK(d.outcome == "rejected");
      }
    }
  }
  GIVEN("a review closed by a decision, with no opening seen") {
    const ReviewState closed = closed_review("approved", false, std::nullopt, kT2);
    WHEN("the late opening arrives, older than the closing") {
      THEN("it is stale: the review stays closed") {
        CHECK(decide_review(closed, ReviewSignal::opens, "REQUIRES_REVIEW", "PENDING_UPLOAD", kT1)
                  .action == ReviewAction::stale);
      }
    }
    WHEN("the late opening has no timestamp") {
      THEN("it is still taken as the late opening") {
        CHECK(decide_review(closed, ReviewSignal::opens, "REQUIRES_REVIEW", "", std::nullopt)
                  .action == ReviewAction::stale);
        const ReviewState untimed = closed_review("approved", false, std::nullopt, std::nullopt);
        CHECK(decide_review(untimed, ReviewSignal::opens, "REQUIRES_REVIEW", "", kT1).action ==
              ReviewAction::stale);
      }
    }
  }
}

SCENARIO("decide_review: a closed review reopens on a later opening", "[projection][review]") {
  GIVEN("a review opened and approved") {
    const ReviewState closed = closed_review("approved", true, kT1, kT2);
    THEN("an opening after the closing reopens it") {
      CHECK(decide_review(closed, ReviewSignal::opens, "REQUIRES_REVIEW", "", kT3).action ==
            ReviewAction::reopen);
    }
    THEN("an opening at or before the closing is stale (the first cycle's, again)") {
      CHECK(decide_review(closed, ReviewSignal::opens, "REQUIRES_REVIEW", "", kT1).action ==
            ReviewAction::stale);
      CHECK(decide_review(closed, ReviewSignal::opens, "REQUIRES_REVIEW", "", kT2).action ==
            ReviewAction::stale);
    }
    THEN("an untimed opening reopens it (arrival order)") {
      CHECK(
          decide_review(closed, ReviewSignal::opens, "REQUIRES_REVIEW", "", std::nullopt).action ==
          ReviewAction::reopen);
    }
  }
  GIVEN("a review closed by an untimed event") {
    const ReviewState closed = closed_review("failed", true, kT1, std::nullopt);
    THEN("a new opening reopens it") {
      CHECK(decide_review(closed, ReviewSignal::opens, "REQUIRES_REVIEW", "", kT3).action ==
            ReviewAction::reopen);
    }
  }
}

TEST_CASE("decide_review: reviewResolved after reviewApproved keeps the approval",
          "[projection][review]") {
  const ReviewState approved = closed_review("approved", true, kT1, kT2);
  CHECK(decide_review(approved, ReviewSignal::resolved, "CAPTURED", "APPROVED", kT2).action ==
        ReviewAction::none);
  CHECK(decide_review(approved, ReviewSignal::resolved, "CAPTURED", "", kT2).action ==
        ReviewAction::none);
  CHECK(decide_review(approved, ReviewSignal::resolved, "CAPTURED", "", std::nullopt).action ==
        ReviewAction::none);
}

TEST_CASE("decide_review: a specific decision refines a generic closing", "[projection][review]") {
  const ReviewState resolved = closed_review("resolved", true, kT1, kT2);
  const auto refined = decide_review(resolved, ReviewSignal::approved, "CAPTURED", "APPROVED", kT2);
  CHECK(refined.action == ReviewAction::refine);
  CHECK(refined.outcome == "approved");

  const ReviewState failed = closed_review("failed", true, kT1, kT2);
  const auto rejected = decide_review(failed, ReviewSignal::rejected, "FAILED", "REJECTED", kT2);
  CHECK(rejected.action == ReviewAction::refine);
  CHECK(rejected.outcome == "rejected");

  // A decision older than the cycle's opening belongs to an earlier cycle.
  const ReviewState reopened_resolved = closed_review("resolved", true, kT2, kT3);
  CHECK(decide_review(reopened_resolved, ReviewSignal::approved, "CAPTURED", "", kT1).action ==
        ReviewAction::none);
}

TEST_CASE("decide_review: a terminal status after a decision changes nothing",
          "[projection][review]") {
  const ReviewState approved = closed_review("approved", true, kT1, kT2);
  CHECK(decide_review(approved, ReviewSignal::terminal, "SETTLED", "APPROVED", kT3).action ==
        ReviewAction::none);
  const ReviewState settled = closed_review("settled", true, kT1, kT2);
  CHECK(decide_review(settled, ReviewSignal::terminal, "FAILED", "", kT3).action ==
        ReviewAction::none);
  const ReviewState rejected = closed_review("rejected", true, kT1, kT2);
  CHECK(decide_review(rejected, ReviewSignal::approved, "CAPTURED", "APPROVED", kT3).action ==
        ReviewAction::none);
}

TEST_CASE("review actions have stable names", "[projection][review]") {
  CHECK(to_string(ReviewAction::open) == "opened");
  CHECK(to_string(ReviewAction::reopen) == "reopened");
  CHECK(to_string(ReviewAction::close) == "closed");
  CHECK(to_string(ReviewAction::refine) == "refined");
  CHECK(to_string(ReviewAction::stale) == "stale");
  CHECK(to_string(ReviewAction::none) == "noted");
}

// ---- customers --------------------------------------------------------------------------------

TEST_CASE("decide_customer: only a timed event older than a timed state is stale",
          "[projection][customer]") {
  CHECK(decide_customer(false, std::nullopt, kT1) == CustomerEffect::applied);
  CHECK(decide_customer(true, kT2, kT3) == CustomerEffect::applied);
  CHECK(decide_customer(true, kT2, kT2) == CustomerEffect::applied);
  CHECK(decide_customer(true, kT2, kT1) == CustomerEffect::stale);
  CHECK(decide_customer(true, std::nullopt, kT1) == CustomerEffect::applied);
  CHECK(decide_customer(true, kT2, std::nullopt) == CustomerEffect::applied);
  CHECK(to_string(CustomerEffect::applied) == "applied");
  CHECK(to_string(CustomerEffect::stale) == "stale");
}

TEST_CASE("implies_documented: an approved document or a level above BASIC",
          "[projection][customer]") {
  CustomerFacts f;
  f.customer_id = "c-1";
  f.operation_level = "BASIC";
  CHECK_FALSE(implies_documented(f));
  f.documents_count = 0;
  CHECK_FALSE(implies_documented(f));
  f.documents_count = 1;
  CHECK(implies_documented(f));
  f.documents_count = 3;
  CHECK(implies_documented(f));
  f.documents_count = -1;
  CHECK_FALSE(implies_documented(f));
  f.documents_count.reset();
  f.operation_level = "STANDARD";
  CHECK(implies_documented(f));
  f.operation_level = "FULL";
  CHECK(implies_documented(f));
  f.operation_level = "INACTIVE";
  CHECK_FALSE(implies_documented(f));
  f.operation_level = "";
  CHECK_FALSE(implies_documented(f));
  CHECK(implies_documented(*customer_facts(conomy_example("10-customer-level-changed.json"))));
}

TEST_CASE("regression (issue 6): a state without a status takes the first status",
          "[projection][status][regression]") {
  // A transaction first seen through an event without a status has status "" and that event's
  // time; a status stamped earlier is still the first one known, not stale.
  CHECK(decide_status(known("", kT2), "CAPTURED", kT1) == StatusEffect::applied);
  CHECK(decide_status(known("", kT2), "SETTLED", std::nullopt) == StatusEffect::applied);
  CHECK(decide_status(known(""), "CAPTURED", kT1) == StatusEffect::applied);
}

TEST_CASE("an opening older than the payment's later terminal status is recorded closed",
          "[projection][reviews]") {
  const KnownStatus failed_later{"FAILED", kT2};
  const auto late = decide_review(std::nullopt, ReviewSignal::opens, "REQUIRES_REVIEW",
                                  "PENDING_UPLOAD", kT1, failed_later);
  CHECK(late.action == ReviewAction::stale);
  CHECK(late.outcome == "failed");
  // A terminal status from before the opening, a non-terminal one, or unknown times: it opens.
  CHECK(decide_review(std::nullopt, ReviewSignal::opens, "REQUIRES_REVIEW", "", kT3, failed_later)
            .action == ReviewAction::open);
  CHECK(decide_review(std::nullopt, ReviewSignal::opens, "REQUIRES_REVIEW", "", kT1,
                      KnownStatus{"CAPTURED", kT2})
            .action == ReviewAction::open);
  CHECK(decide_review(std::nullopt, ReviewSignal::opens, "REQUIRES_REVIEW", "", std::nullopt,
                      failed_later)
            .action == ReviewAction::open);
  CHECK(decide_review(std::nullopt, ReviewSignal::opens, "REQUIRES_REVIEW", "", kT1,
                      KnownStatus{"FAILED", std::nullopt})
            .action == ReviewAction::open);
}

TEST_CASE("staleness is judged against the state's latest event time", "[projection]") {
  // The status was set by an untimed event after a timed one of kT2.
  const KnownStatus untimed{"REQUIRES_REVIEW", std::nullopt, kT2};
  CHECK(decide_status(untimed, "AUTHORIZED", kT1) == StatusEffect::stale);
  CHECK(decide_status(untimed, "CAPTURED", kT3) == StatusEffect::applied);
}

TEST_CASE("issue 10: facts come from the objects the envelope chose, of any body it reads",
          "[projection][facts][issue10]") {
  SECTION("a legacy body reads data.transaction even beside a top-level transaction") {
    const auto f = payment_facts(
        R"({"event":"Transaction.Captured","transaction":{"id":"VICTIM","status":"SETTLED"},)"
        R"("data":{"transaction":{"id":"tx-1","status":"CAPTURED"}}})");
    REQUIRE(f.has_value());
    CHECK(f->transaction_id == "tx-1");
    CHECK(f->status == "CAPTURED");
    CHECK_FALSE(customer_facts(R"({"event":"Transaction.Captured","customer":{"id":"c-1"},)"
                               R"("data":{"transaction":{"id":"tx-1"}}})")
                    .has_value());
  }
  SECTION("an unpaired surrogate reads as U+FFFD and a huge number as its text") {
    const auto f = payment_facts(
        R"({"eventType":"payment.settled","transaction":{"id":"tx-2","externalId":"inv-\ud83d",)"
        R"("totalAmount":1e400,"status":"SETTLED"}})");
    REQUIRE(f.has_value());
    CHECK(f->external_id == "inv-\xEF\xBF\xBD");
    CHECK(f->total_amount == "1e400");
  }
}
