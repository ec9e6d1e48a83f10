// Tests for include/webhook/core/dedup_key.hpp: retries collapse, distinct transitions do not
// (WEBHOOKS.md 5.3, DESIGN.md 3).

#include <catch2/catch.hpp>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "webhook/core/dedup_key.hpp"

namespace {

using webhook::core::DedupKey;
using webhook::core::DedupPolicy;
using webhook::core::derive_dedup_key;
using webhook::core::parse_envelope;
using webhook::core::quarantine_key;

std::string fixture(const std::string& name) {
  std::ifstream in(std::filesystem::path(WEBHOOK_EXAMPLES_DIR) / name, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::optional<DedupKey> key_of(const std::string& body, const DedupPolicy& policy = {},
                               const std::string& source = "production") {
  const auto envelope = parse_envelope(body);
  REQUIRE(envelope.ok());
  return derive_dedup_key(source, envelope.value(), policy);
}

DedupKey key_of_fixture(const std::string& name, const DedupPolicy& policy = {}) {
  const auto key = key_of(fixture(name), policy);
  REQUIRE(key.has_value());
  return *key;
}

// The same JSON value written compactly, or pretty-printed with 4-space indentation.
std::string reserialise(const std::string& body, bool pretty) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  REQUIRE_FALSE(doc.HasParseError());
  rapidjson::StringBuffer buffer;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    writer.SetIndent(' ', 4);
    doc.Accept(writer);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    doc.Accept(writer);
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

// `body` with the first occurrence of `from` replaced by `to` (which must be present).
std::string replaced(std::string body, const std::string& from, const std::string& to) {
  const auto at = body.find(from);
  REQUIRE(at != std::string::npos);
  return body.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("builds the documented key fields for a status change", "[dedup]") {
  const DedupKey key = key_of_fixture("04-status-changed-captured.json");
  CHECK(key.source == "production");
  CHECK(key.event_name == "transaction.status_changed");
  CHECK(key.entity_kind == "transaction");
  CHECK(key.entity_id == "66a2b3c4d5e6f70812345601");
  CHECK(key.state_token == "CAPTURED");
}

TEST_CASE("gives a retried delivery the same key", "[dedup]") {
  for (const char* name : {"01-legacy-transaction-captured.json", "05-status-changed-settled.json",
                           "08-payment-settled.json", "10-customer-level-changed.json",
                           "12-unknown-future-event.json"}) {
    INFO("fixture " << name);
    const std::string body = fixture(name);
    const std::string compact = reserialise(body, false);
    const std::string indented = reserialise(body, true);
    REQUIRE(compact != body);
    REQUIRE(indented != body);
    CHECK(key_of(body) == key_of(body));
    CHECK(key_of(compact) == key_of(body));
    CHECK(key_of(indented) == key_of(body));
  }
}

TEST_CASE("keeps two legacy transitions of one transaction apart", "[dedup]") {
  const DedupKey captured = key_of_fixture("01-legacy-transaction-captured.json");
  const DedupKey received = key_of_fixture("02-legacy-transaction-received.json");
  CHECK(captured.entity_id == received.entity_id);
  CHECK(captured.state_token == "CAPTURED");
  CHECK(received.state_token == "RECEIVED");
  CHECK(captured != received);
}

TEST_CASE("keeps transaction.status_changed CAPTURED and SETTLED apart", "[dedup]") {
  const DedupKey captured = key_of_fixture("04-status-changed-captured.json");
  const DedupKey settled = key_of_fixture("05-status-changed-settled.json");
  CHECK(captured.event_name == settled.event_name);
  CHECK(captured.entity_id == settled.entity_id);
  CHECK(captured != settled);
  SECTION("even when the policy keeps the state out of other events") {
    const DedupPolicy off{false, false};
    CHECK(key_of_fixture("04-status-changed-captured.json", off) !=
          key_of_fixture("05-status-changed-settled.json", off));
  }
}

TEST_CASE("tells specific events of one transaction apart by their name", "[dedup]") {
  const DedupKey review = key_of_fixture("06-payment-requires-review.json");
  const DedupKey approved = key_of_fixture("07-payment-review-approved.json");
  const DedupKey settled = key_of_fixture("08-payment-settled.json");
  CHECK(review.entity_id == approved.entity_id);
  CHECK(approved.entity_id == settled.entity_id);
  CHECK(review.state_token.empty());
  CHECK(approved.state_token.empty());
  CHECK(settled.state_token.empty());
  CHECK(review != approved);
  CHECK(approved != settled);
  CHECK(review != settled);
}

TEST_CASE("keeps the status out of a specific event's key unless include_state_everywhere",
          "[dedup]") {
  const std::string original = fixture("08-payment-settled.json");
  const std::string resent =
      replaced(original, R"("status": "SETTLED")", R"("status": "UNSETTLED")");
  CHECK(key_of(resent) == key_of(original));

  const DedupPolicy everywhere{true, true};
  const auto a = key_of(original, everywhere);
  const auto b = key_of(resent, everywhere);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->state_token == "SETTLED");
  CHECK(b->state_token == "UNSETTLED");
  CHECK(a != b);
}

TEST_CASE("review_cycles puts the timestamp in a payment.requiresReview key", "[dedup]") {
  const std::string first = fixture("06-payment-requires-review.json");
  const std::string second = replaced(first, R"("timestamp": "2026-05-03T10:12:30Z")",
                                      R"("timestamp": "2026-05-09T08:00:00Z")");
  REQUIRE(second != first);
  // Off by default: the documented key, so a second review is a duplicate of the first.
  CHECK(key_of(first) == key_of(second));
  DedupPolicy cycles;
  cycles.review_cycles = true;
  CHECK(key_of(first, cycles)->state_token == "2026-05-03T10:12:30Z");
  CHECK(key_of(first, cycles) != key_of(second, cycles));
  CHECK(key_of(first, cycles) == key_of(first, cycles));  // a byte-identical retry still is one
  // Other events are not affected.
  CHECK(key_of(fixture("07-payment-review-approved.json"), cycles)->state_token.empty());
}

TEST_CASE("puts operationLevel and documentsCount in a customer.levelChanged key", "[dedup]") {
  const std::string one_document = fixture("10-customer-level-changed.json");
  const std::string two_documents =
      replaced(one_document, R"("documentsCount": 1)", R"("documentsCount": 2)");
  CHECK(key_of_fixture("10-customer-level-changed.json").entity_kind == "customer");
  CHECK(key_of(one_document)->state_token == "BASIC|1");
  CHECK(key_of(two_documents)->state_token == "BASIC|2");
  CHECK(key_of(one_document) != key_of(two_documents));

  SECTION("not with customer_state off") {
    const DedupPolicy off{false, false};
    CHECK(key_of(one_document, off)->state_token.empty());
    CHECK(key_of(one_document, off) == key_of(two_documents, off));
  }
  SECTION("a missing part is an empty string") {
    CHECK(
        key_of(
            R"({"eventType":"customer.levelChanged","customer":{"id":"c","operationLevel":"FULL"}})")
            ->state_token == "FULL|");
    CHECK(
        key_of(R"({"eventType":"customer.levelChanged","customer":{"id":"c","documentsCount":0}})")
            ->state_token == "|0");
    CHECK(key_of(R"({"eventType":"customer.levelChanged","customer":{"id":"c"}})")->state_token ==
          "|");
  }
}

TEST_CASE("keeps production and sandbox deliveries apart", "[dedup]") {
  const std::string body = fixture("08-payment-settled.json");
  const auto production = key_of(body, {}, "production");
  const auto sandbox = key_of(body, {}, "sandbox");
  REQUIRE(production.has_value());
  REQUIRE(sandbox.has_value());
  CHECK(sandbox->source == "sandbox");
  CHECK(production != sandbox);
}

TEST_CASE("gives no key to a delivery without an entity id or event name", "[dedup]") {
  CHECK_FALSE(
      key_of(R"({"eventType":"payment.settled","transaction":{"status":"SETTLED"}})").has_value());
  CHECK_FALSE(key_of(R"({"eventType":"payment.settled","transaction":{"id":""}})").has_value());
  CHECK_FALSE(key_of(R"({"eventType":"customer.levelChanged"})").has_value());
  CHECK_FALSE(
      key_of(R"({"event":"Transaction.Captured","data":{"transaction":{"status":"CAPTURED"}}})")
          .has_value());
  CHECK_FALSE(key_of(R"({"eventType":"","transaction":{"id":"t-1"}})").has_value());
  CHECK_FALSE(key_of(R"({"transaction":{"id":"t-1"}})").has_value());
}

TEST_CASE("quarantines by a stable hash of the body bytes", "[dedup]") {
  const DedupKey key = quarantine_key("production", "abc");
  CHECK(key.source == "production");
  CHECK(key.event_name.empty());
  CHECK(key.entity_kind == "quarantine");
  CHECK(key.entity_id == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(key.state_token.empty());

  const std::string body = R"({"eventType":"payment.settled","transaction":{}})";
  CHECK(quarantine_key("production", body) == quarantine_key("production", body));
  CHECK(quarantine_key("production", body) != quarantine_key("production", body + " "));
  CHECK(quarantine_key("production", body) != quarantine_key("sandbox", body));
}
