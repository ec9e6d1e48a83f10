// Tests include/webhook/core/reconcile.hpp: what an answer of the Conomy API means for the
// projected state, and the event that records it.
#include "webhook/core/reconcile.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>

using namespace webhook::core;

namespace {

constexpr std::int64_t kCaptured = 1'777'803'150'000;  // 2026-05-03T10:12:30Z
constexpr std::int64_t kAsked = 1'777'900'000'000;     // a day later

KnownStatus status(std::string s, std::optional<std::int64_t> at = kCaptured) {
  return KnownStatus{std::move(s), at, at};
}

}  // namespace

TEST_CASE("a payment the API reports settled is a missed event, and the same status is nothing",
          "[reconcile]") {
  CHECK(judge_payment(status("CAPTURED"), "SETTLED", kAsked) == Finding::missed_event);
  CHECK(is_missed_settlement(Finding::missed_event, "SETTLED"));
  CHECK(judge_payment(status("SETTLED"), "SETTLED", kAsked) == Finding::none);
  CHECK(judge_payment(status("CAPTURED"), "", kAsked) == Finding::none);
  // Never seen by webhook at all: the API's answer is news.
  CHECK(judge_payment(std::nullopt, "CAPTURED", kAsked) == Finding::missed_event);
  CHECK_FALSE(is_missed_settlement(Finding::missed_event, "CAPTURED"));
  CHECK_FALSE(is_missed_settlement(Finding::state_differs, "SETTLED"));
}

TEST_CASE("the API never moves a terminal status or a newer one back", "[reconcile]") {
  // FAILED is terminal: an API saying CAPTURED is reported, not applied.
  CHECK(judge_payment(status("FAILED"), "CAPTURED", kAsked) == Finding::state_differs);
  // A webhook newer than the moment the API was asked wins.
  CHECK(judge_payment(status("REQUIRES_REVIEW", kAsked + 1000), "CAPTURED", kAsked) ==
        Finding::state_differs);
  // A terminal status replaces another one only when the answer is later.
  CHECK(judge_payment(status("UNSETTLED"), "SETTLED", kAsked) == Finding::missed_event);
  CHECK(judge_payment(status("UNSETTLED", kAsked + 1), "SETTLED", kAsked) ==
        Finding::state_differs);
}

TEST_CASE("an open review whose payment left review in the API lost its decision", "[reconcile]") {
  CHECK(judge_review(kCaptured, "REQUIRES_REVIEW", kAsked) == Finding::none);
  CHECK(judge_review(kCaptured, "", kAsked) == Finding::none);
  CHECK(judge_review(kCaptured, "CAPTURED", kAsked) == Finding::missed_event);
  CHECK(judge_review(std::nullopt, "FAILED", kAsked) == Finding::missed_event);
  // Asked before the review (re)opened: the answer is older than what we know.
  CHECK(judge_review(kAsked + 5, "CAPTURED", kAsked) == Finding::state_differs);
  // The answer closes the review as a reviewResolved would, its outcome from the documentation.
  CHECK(review_signal(kApiPaymentEvent, "CAPTURED") == ReviewSignal::resolved);
  CHECK(review_signal(kApiPaymentEvent, "REQUIRES_REVIEW") == ReviewSignal::opens);
  CHECK(review_signal(kApiPaymentEvent, "SETTLED") == ReviewSignal::terminal);
  CHECK(review_signal("payment.captured", "CAPTURED") == ReviewSignal::none);
  const ReviewDecision d = decide_review(ReviewState{true, true, kCaptured, std::nullopt, ""},
                                         ReviewSignal::resolved, "CAPTURED", "APPROVED", kAsked);
  CHECK(d.action == ReviewAction::close);
  CHECK(d.outcome == "approved");
}

TEST_CASE("a customer is compared on the fields the API sent", "[reconcile]") {
  const KnownCustomer known{"BASIC", 1, kCaptured};
  CustomerFacts api;
  api.customer_id = "c-1";
  api.operation_level = "BASIC";
  api.documents_count = 1;
  CHECK(judge_customer(known, api, kAsked) == Finding::none);
  api.documents_count.reset();  // not sent: not compared
  CHECK(judge_customer(known, api, kAsked) == Finding::none);
  api.operation_level = "FULL";
  CHECK(judge_customer(known, api, kAsked) == Finding::missed_event);
  // The record is newer than the question: kept.
  CHECK(judge_customer(KnownCustomer{"BASIC", 1, kAsked + 1}, api, kAsked) ==
        Finding::state_differs);
  CHECK(judge_customer(std::nullopt, api, kAsked) == Finding::missed_event);
}

TEST_CASE("an API answer is recorded as a done event of origin api with its own key",
          "[reconcile]") {
  const StoredEvent e = api_observation("production", CheckKind::payment, "p-1", "SETTLED",
                                        R"({"id":"p-1"})", "trace-9", kAsked);
  CHECK(e.id == 0);
  CHECK(e.key.source == "production");
  CHECK(e.key.event_name == "api.payment");
  CHECK(e.key.entity_kind == "transaction");
  CHECK(e.key.entity_id == "p-1");
  CHECK(e.key.state_token == "SETTLED@" + std::to_string(kAsked));
  CHECK(e.event_type == "api.payment");
  CHECK(e.status == "done");
  CHECK(e.scheme == "api");
  CHECK(e.request_id == "trace-9");
  CHECK(e.received_at_ms == kAsked);
  CHECK(e.body == R"({"id":"p-1"})");
  CHECK(origin_of_scheme(e.scheme) == "api");
  CHECK(origin_of_scheme("header") == "webhook");

  const StoredEvent c =
      api_observation("sandbox", CheckKind::customer, "c-1", "FULL/2", "{}", "", kAsked);
  CHECK(c.key.event_name == "api.customer");
  CHECK(c.key.entity_kind == "customer");
  CHECK(to_string(CheckKind::review) == "review");
  CHECK(to_string(Finding::missed_event) == "missed_event");
}
