// ingest(): verify, parse, key — the pure decision for one POST.
#include <catch2/catch.hpp>

#include "webhook/core/ingest.hpp"
#include "webhook/core/outcome.hpp"

#include <vector>

using namespace webhook::core;

namespace {

const std::string kKey = "whsec_test_only_ingest_01";

SourceSpec source() {
  SourceSpec s;
  s.name = "production";
  s.path = "/webhooks";
  s.keys = {kKey};
  return s;
}

IngestDecision ingest_with_header(const SourceSpec& src, const std::string& body,
                                  const std::string& signature) {
  const std::string_view headers[] = {signature};
  return ingest(src, RawDelivery{body, headers, "req-1", 1700000000000});
}

}  // namespace

TEST_CASE("a verified delivery becomes a delivery to store with its identity", "[ingest]") {
  const std::string body =
      R"({"eventType":"payment.settled","transaction":{"id":"tx-1","status":"SETTLED"}})";
  const auto d = ingest_with_header(source(), body, sign_header(kKey, body));
  REQUIRE(d.kind == IngestDecision::Kind::store);
  REQUIRE(d.delivery);
  CHECK_FALSE(d.delivery->quarantined);
  CHECK(d.delivery->event_type == "payment.settled");
  CHECK(d.delivery->entity_kind == "transaction");
  CHECK(d.delivery->entity_id == "tx-1");
  CHECK(d.delivery->key.source == "production");
  CHECK(d.delivery->body == body);
  CHECK(d.delivery->request_id == "req-1");
  CHECK(d.delivery->received_at_ms == 1700000000000);
  CHECK(d.delivery->scheme == Scheme::header);
  CHECK(d.delivery->key_slot == 0);
}

TEST_CASE("an unverified delivery is rejected and carries no delivery", "[ingest]") {
  const std::string body = R"({"eventType":"payment.settled","transaction":{"id":"tx-1"}})";
  const auto d = ingest_with_header(source(), body, sign_header("whsec_test_only_other", body));
  CHECK(d.kind == IngestDecision::Kind::reject_signature);
  CHECK_FALSE(d.delivery);
  const auto none = ingest(source(), RawDelivery{body, {}, "r", 0});
  CHECK(none.kind == IngestDecision::Kind::reject_signature);
  CHECK(none.verification.status == VerifyStatus::missing_signature);
}

TEST_CASE("allow_unsigned accepts a delivery with no signature but never a wrong one", "[ingest]") {
  SourceSpec src = source();
  src.allow_unsigned = true;
  const std::string body = R"({"eventType":"payment.settled","transaction":{"id":"tx-1"}})";
  CHECK(ingest(src, RawDelivery{body, {}, "r", 0}).kind == IngestDecision::Kind::store);
  CHECK(ingest_with_header(src, body, std::string(64, '0')).kind ==
        IngestDecision::Kind::reject_signature);
}

TEST_CASE("a verified delivery without entity id or event name is quarantined", "[ingest]") {
  for (const std::string& body :
       std::vector<std::string>{R"({"eventType":"payment.settled"})",
                                R"({"transaction":{"id":"tx-1"}})", std::string("not json")}) {
    INFO(body);
    const auto d = ingest_with_header(source(), body, sign_header(kKey, body));
    REQUIRE(d.kind == IngestDecision::Kind::store);
    REQUIRE(d.delivery);
    CHECK(d.delivery->quarantined);
    CHECK(d.delivery->key.entity_kind == "quarantine");
    CHECK(d.delivery->key.entity_id == to_hex(sha256(body)));
  }
}

TEST_CASE("a body-scheme delivery that is not JSON is malformed, not unauthenticated", "[ingest]") {
  SourceSpec src = source();
  src.verify.scheme = SchemeSetting::body;
  const auto d = ingest(src, RawDelivery{"{oops", {}, "r", 0});
  CHECK(d.kind == IngestDecision::Kind::reject_malformed_json);
}

TEST_CASE("storage results map to outcomes", "[ingest]") {
  CHECK(std::holds_alternative<Accepted>(to_outcome(false, StoreResult::inserted(3), false)));
  CHECK(std::holds_alternative<Quarantined>(to_outcome(true, StoreResult::inserted(3), false)));
  CHECK(std::holds_alternative<Duplicate>(to_outcome(true, StoreResult::duplicate(3), false)));
  const auto failed = to_outcome(false, StoreResult::failed("disk full"), false);
  REQUIRE(std::holds_alternative<Unavailable>(failed));
  CHECK(std::get<Unavailable>(failed).reason == Unavailable::Reason::storage_error);
}

TEST_CASE("issue 10: ingest refuses a body-signed delivery extended with unsigned members",
          "[ingest][forgery]") {
  const std::string message =
      R"({"event":"Transaction.Captured","data":{"transaction":{"id":"tx-1","status":"CAPTURED"}}})";
  const std::string captured = *sign_body(kKey, message);
  REQUIRE(ingest(source(), RawDelivery{captured, {}, "r", 0}).kind == IngestDecision::Kind::store);

  std::string forged = captured;
  forged.insert(forged.find(R"(,"signature")"),
                R"(,"eventType":"transaction.status_changed","transaction":{"id":"VICTIM",)"
                R"("status":"SETTLED"})");
  const auto d = ingest(source(), RawDelivery{forged, {}, "r", 0});
  CHECK(d.kind == IngestDecision::Kind::reject_signature);
  CHECK(d.verification.status == VerifyStatus::unsigned_members);
  CHECK_FALSE(d.delivery);
}

TEST_CASE("issue 10: an ambiguous verified delivery is quarantined with its reason",
          "[ingest][issue10]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"eventType":"payment.settled","transaction":{"id":"a","id":"b"}})", "duplicate_member"},
      {R"({"eventType":"payment.settled","transaction":{"id":"\udc00"}})", "unpaired_surrogate"},
      {R"({"eventType":1e2,"transaction":{"id":"a"}})", "no_event_name"},
  };
  for (const auto& [body, reason] : cases) {
    INFO(body);
    const auto d = ingest_with_header(source(), body, sign_header(kKey, body));
    REQUIRE(d.kind == IngestDecision::Kind::store);
    REQUIRE(d.delivery);
    CHECK(d.delivery->quarantined);
    CHECK(d.delivery->quarantine_reason == reason);
    CHECK(d.delivery->key.entity_id == to_hex(sha256(body)));
  }
}

TEST_CASE("issue 10: a lone surrogate or a huge number in a payload field is a normal event",
          "[ingest][issue10]") {
  const std::string body = R"({"eventType":"payment.settled","note":"\ud83d","big":1e400,)"
                           R"("transaction":{"id":"tx-9","status":"SETTLED"}})";
  const auto d = ingest_with_header(source(), body, sign_header(kKey, body));
  REQUIRE(d.kind == IngestDecision::Kind::store);
  REQUIRE(d.delivery);
  CHECK_FALSE(d.delivery->quarantined);
  CHECK(d.delivery->entity_id == "tx-9");
  CHECK(d.delivery->body == body);  // the original bytes are kept
}
