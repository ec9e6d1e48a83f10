// Tests for include/webhook/core/envelope.hpp: every Conomy example parses to the documented
// routing fields (WEBHOOKS.md 3-4); bad input gives an error value, never an exception.

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>

#include "webhook/core/envelope.hpp"

namespace {

using webhook::core::EntityKind;
using webhook::core::EnvelopeError;
using webhook::core::parse_envelope;
using webhook::core::PayloadShape;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Expected {
  PayloadShape shape;
  std::string event_name;
  EntityKind kind;
  std::string entity_id;
  std::string status;
  std::string timestamp;
};

// One row per file in tests/fixtures/conomy (the test fails if a file has no row).
const std::map<std::string, Expected>& expected_fixtures() {
  static const std::map<std::string, Expected> table = {
      {"01-legacy-transaction-captured.json",
       {PayloadShape::legacy, "Transaction.Captured", EntityKind::transaction,
        "65f1a0c2b7e4d9a1c3e5f701", "CAPTURED", ""}},
      {"02-legacy-transaction-received.json",
       {PayloadShape::legacy, "Transaction.Received", EntityKind::transaction,
        "65f1a0c2b7e4d9a1c3e5f701", "RECEIVED", ""}},
      {"03-legacy-transaction-failed.json",
       {PayloadShape::legacy, "Transaction.Failed", EntityKind::transaction,
        "65f1a0c2b7e4d9a1c3e5f702", "FAILED", ""}},
      {"04-status-changed-captured.json",
       {PayloadShape::event_type, "transaction.status_changed", EntityKind::transaction,
        "66a2b3c4d5e6f70812345601", "CAPTURED", "2026-05-02T13:05:11Z"}},
      {"05-status-changed-settled.json",
       {PayloadShape::event_type, "transaction.status_changed", EntityKind::transaction,
        "66a2b3c4d5e6f70812345601", "SETTLED", "2026-05-02T16:40:00Z"}},
      {"06-payment-requires-review.json",
       {PayloadShape::event_type, "payment.requiresReview", EntityKind::transaction,
        "66a2b3c4d5e6f70812345602", "REQUIRES_REVIEW", "2026-05-03T10:12:30Z"}},
      {"07-payment-review-approved.json",
       {PayloadShape::event_type, "payment.reviewApproved", EntityKind::transaction,
        "66a2b3c4d5e6f70812345602", "CAPTURED", "2026-05-03T14:02:09Z"}},
      {"08-payment-settled.json",
       {PayloadShape::event_type, "payment.settled", EntityKind::transaction,
        "66a2b3c4d5e6f70812345602", "SETTLED", "2026-05-03T18:30:00Z"}},
      {"09-payment-refund-created.json",
       {PayloadShape::event_type, "payment.refund.created", EntityKind::transaction,
        "66a2b3c4d5e6f70812345699", "RECEIVED", "2026-05-04T09:00:41Z"}},
      {"10-customer-level-changed.json",
       {PayloadShape::event_type, "customer.levelChanged", EntityKind::customer,
        "66a2b3c4d5e6f70899990002", "", "2026-05-03T13:58:02Z"}},
      {"11-purchase-underpaid.json",
       {PayloadShape::event_type, "purchase.underpaid", EntityKind::transaction,
        "66a2b3c4d5e6f70812345603", "SETTLED", "2026-05-05T11:20:17Z"}},
      {"12-unknown-future-event.json",
       {PayloadShape::event_type, "payment.chargebackOpened", EntityKind::transaction,
        "66a2b3c4d5e6f70812345605", "SETTLED", "2026-05-06T07:45:00Z"}},
  };
  return table;
}

}  // namespace

TEST_CASE("parses every Conomy example into its event name, entity and status", "[envelope]") {
  std::size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(WEBHOOK_EXAMPLES_DIR)) {
    if (entry.path().extension() != ".json") continue;
    const std::string name = entry.path().filename().string();
    INFO("fixture " << name);
    const auto row = expected_fixtures().find(name);
    REQUIRE(row != expected_fixtures().end());
    const Expected& want = row->second;

    const auto parsed = parse_envelope(read_file(entry.path()));
    REQUIRE(parsed.ok());
    CHECK(parsed->shape == want.shape);
    CHECK(parsed->event_name == want.event_name);
    CHECK(parsed->entity_kind == want.kind);
    CHECK(parsed->entity_id == want.entity_id);
    CHECK(parsed->status == want.status);
    CHECK(parsed->timestamp == want.timestamp);
    ++seen;
  }
  CHECK(seen == expected_fixtures().size());
}

TEST_CASE("reads operationLevel and documentsCount of a customer event", "[envelope]") {
  const auto parsed = parse_envelope(
      read_file(std::filesystem::path(WEBHOOK_EXAMPLES_DIR) / "10-customer-level-changed.json"));
  REQUIRE(parsed.ok());
  CHECK(parsed->operation_level == std::optional<std::string>("BASIC"));
  CHECK(parsed->documents_count == std::optional<std::int64_t>(1));
}

TEST_CASE("leaves customer fields empty on a transaction event", "[envelope]") {
  const auto parsed = parse_envelope(
      read_file(std::filesystem::path(WEBHOOK_EXAMPLES_DIR) / "08-payment-settled.json"));
  REQUIRE(parsed.ok());
  CHECK_FALSE(parsed->operation_level.has_value());
  CHECK_FALSE(parsed->documents_count.has_value());
}

TEST_CASE("parses an unknown event type like any other", "[envelope]") {
  const auto parsed =
      parse_envelope(R"({"eventType":"payment.somethingNew","futureField":{"x":[1,2,{"y":null}]},)"
                     R"("transaction":{"id":"t-1","status":"WHATEVER","newThing":true}})");
  REQUIRE(parsed.ok());
  CHECK(parsed->shape == PayloadShape::event_type);
  CHECK(parsed->event_name == "payment.somethingNew");
  CHECK(parsed->entity_id == "t-1");
  CHECK(parsed->status == "WHATEVER");
}

TEST_CASE("keeps ids and counts as their source text, never through a double", "[envelope]") {
  SECTION("a numeric id keeps all its digits") {
    const auto parsed = parse_envelope(
        R"({"eventType":"payment.settled","transaction":{"id":66000000000000000000000001,"totalAmount":2500000.10}})");
    REQUIRE(parsed.ok());
    CHECK(parsed->entity_id == "66000000000000000000000001");
  }
  SECTION("a decimal id keeps its trailing zero") {
    const auto parsed =
        parse_envelope(R"({"event":"Transaction.Captured","data":{"transaction":{"id":1.10}}})");
    REQUIRE(parsed.ok());
    CHECK(parsed->entity_id == "1.10");
  }
  SECTION("documentsCount accepts a number or its text, and nothing fractional") {
    const auto count_of = [](const std::string& value) {
      const auto parsed = parse_envelope(
          R"({"eventType":"customer.levelChanged","customer":{"id":"c","documentsCount":)" + value +
          "}}");
      REQUIRE(parsed.ok());
      return parsed->documents_count;
    };
    CHECK(count_of("3") == std::optional<std::int64_t>(3));
    CHECK(count_of(R"("4")") == std::optional<std::int64_t>(4));
    CHECK_FALSE(count_of("1.5").has_value());
    CHECK_FALSE(count_of("null").has_value());
    CHECK_FALSE(count_of("99999999999999999999999").has_value());
  }
}

TEST_CASE("chooses the entity by the eventType prefix when both objects are present",
          "[envelope]") {
  const std::string objects =
      R"("transaction":{"id":"t-9","status":"SETTLED"},"customer":{"id":"c-9","operationLevel":"FULL"})";
  const auto customer = parse_envelope(R"({"eventType":"customer.levelChanged",)" + objects + "}");
  REQUIRE(customer.ok());
  CHECK(customer->entity_kind == EntityKind::customer);
  CHECK(customer->entity_id == "c-9");
  CHECK(customer->operation_level == std::optional<std::string>("FULL"));

  const auto transaction = parse_envelope(R"({"eventType":"payment.settled",)" + objects + "}");
  REQUIRE(transaction.ok());
  CHECK(transaction->entity_kind == EntityKind::transaction);
  CHECK(transaction->entity_id == "t-9");
  CHECK(transaction->status == "SETTLED");
}

TEST_CASE("leaves the entity id empty when the body has no usable id", "[envelope]") {
  for (const std::string id_member :
       {"", R"("id":"",)", R"("id":null,)", R"("id":true,)", R"("id":{},)"}) {
    INFO("id member: " << id_member);
    const auto parsed = parse_envelope(R"({"eventType":"payment.settled","transaction":{)" +
                                       id_member + R"("status":"SETTLED"}})");
    REQUIRE(parsed.ok());
    CHECK(parsed->event_name == "payment.settled");
    CHECK(parsed->entity_kind == EntityKind::transaction);
    CHECK(parsed->entity_id.empty());
    CHECK(parsed->status == "SETTLED");
  }
  SECTION("a legacy body without data.transaction has no entity") {
    const auto parsed = parse_envelope(R"({"event":"Transaction.Captured","data":{}})");
    REQUIRE(parsed.ok());
    CHECK(parsed->shape == PayloadShape::legacy);
    CHECK(parsed->entity_kind == EntityKind::none);
    CHECK(parsed->entity_id.empty());
  }
  SECTION("an object with neither eventType nor event has an unknown shape") {
    const auto parsed = parse_envelope(R"({"type":"x","transaction":{"id":"t-1"}})");
    REQUIRE(parsed.ok());
    CHECK(parsed->shape == PayloadShape::unknown);
    CHECK(parsed->event_name.empty());
    CHECK(parsed->entity_id.empty());
  }
}

TEST_CASE("rejects a body that is not JSON", "[envelope]") {
  using namespace std::string_literals;
  for (const std::string& body : {""s, "   "s, "not json"s, "{"s, R"({"eventType":})"s,
                                  R"({"a":1} trailing)"s, "{\"a\":1}\0{}"s, "{\"a\":\"x\0y\"}"s}) {
    INFO("body: " << body);
    const auto parsed = parse_envelope(body);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error() == EnvelopeError::not_json);
  }
}

TEST_CASE("rejects JSON that is not an object", "[envelope]") {
  for (const std::string body :
       {R"([{"eventType":"payment.settled"}])", "[]", "42", R"("text")", "null", "true"}) {
    INFO("body: " << body);
    const auto parsed = parse_envelope(body);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error() == EnvelopeError::not_an_object);
  }
}

TEST_CASE("survives deeply nested input without exhausting the stack", "[envelope]") {
  const std::size_t depth = 200000;
  const std::string unterminated(depth, '[');
  const auto bad = parse_envelope(unterminated);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == EnvelopeError::not_json);

  // Nesting past the reader's bound is refused, exactly as the body-signature scheme refuses it,
  // so no body verifies that the envelope cannot read.
  const std::string nested = R"({"eventType":"x.y","deep":)" + std::string(depth, '[') +
                             std::string(depth, ']') + R"(,"transaction":{"id":"t"}})";
  const auto too_deep = parse_envelope(nested);
  REQUIRE_FALSE(too_deep.ok());
  CHECK(too_deep.error() == EnvelopeError::not_json);

  const std::string deep_enough = R"({"eventType":"x.y","deep":)" + std::string(200, '[') +
                                  std::string(200, ']') + R"(,"transaction":{"id":"t"}})";
  const auto good = parse_envelope(deep_enough);
  REQUIRE(good.ok());
  CHECK(good->entity_id == "t");
}

TEST_CASE("issue 10: reads every body JSON.parse accepts", "[envelope][issue10]") {
  SECTION("an unpaired surrogate in a text field (an emoji cut in half)") {
    const auto parsed = parse_envelope(
        R"({"eventType":"customer.levelChanged","customer":{"id":"c-1","firstName":"Luc\ud83d",)"
        R"("lastName":"\udc00","operationLevel":"BASIC","documentsCount":2}})");
    REQUIRE(parsed.ok());
    CHECK(parsed->entity_id == "c-1");
    CHECK(parsed->operation_level == std::optional<std::string>("BASIC"));
    CHECK_FALSE(parsed->unpaired_surrogate);
    CHECK_FALSE(parsed->duplicate_members);
  }
  SECTION("numbers no double can hold") {
    const std::string digits(100000, '7');
    const auto parsed = parse_envelope(R"({"eventType":"payment.settled","risk":1e400,"t":-1e400,)"
                                       R"("transaction":{"id":)" +
                                       digits + R"(,"status":"SETTLED","fee":1e-400}})");
    REQUIRE(parsed.ok());
    CHECK(parsed->entity_id == digits);
    CHECK(parsed->status == "SETTLED");
  }
}

TEST_CASE("issue 10: an event name must be a string", "[envelope][issue10]") {
  const auto numeric = parse_envelope(R"({"eventType":1e2,"transaction":{"id":"t"}})");
  REQUIRE(numeric.ok());
  CHECK(numeric->shape == PayloadShape::unknown);
  CHECK(numeric->event_name.empty());
  const auto legacy = parse_envelope(R"({"event":7,"data":{"transaction":{"id":"t"}}})");
  REQUIRE(legacy.ok());
  CHECK(legacy->event_name.empty());
  // A numeric name does not hide a string one of the other shape.
  const auto mixed =
      parse_envelope(R"({"eventType":1,"event":"Transaction.Captured","data":{"transaction":)"
                     R"({"id":"t","status":"CAPTURED"}}})");
  REQUIRE(mixed.ok());
  CHECK(mixed->shape == PayloadShape::legacy);
  CHECK(mixed->event_name == "Transaction.Captured");
}

TEST_CASE("issue 10: an unpaired surrogate in a field of the identity is flagged, never raw bytes",
          "[envelope][issue10]") {
  for (const std::string& body : {
           std::string(R"({"eventType":"payment.settled","transaction":{"id":"tx-\udc00"}})"),
           std::string(R"({"eventType":"payment.settled","transaction":{"id":"tx-\ud83d"}})"),
           std::string(R"({"eventType":"payment.\ud83d","transaction":{"id":"tx-1"}})"),
           std::string(R"({"event":"Transaction.Captured","data":{"transaction":{"id":"t",)"
                       R"("status":"CAPTURED\udfff"}}})"),
       }) {
    INFO(body);
    const auto parsed = parse_envelope(body);
    REQUIRE(parsed.ok());
    CHECK(parsed->unpaired_surrogate);
    // Decoded as U+FFFD, never as the surrogate's CESU-8 bytes (ED A0..BF xx).
    CHECK((parsed->entity_id + parsed->event_name + parsed->status).find('\xED') ==
          std::string::npos);
  }
}

TEST_CASE("issue 10: a member named twice anywhere is flagged", "[envelope][issue10]") {
  for (const std::string& body : {
           std::string(R"({"eventType":"a.b","eventType":"c.d","transaction":{"id":"t"}})"),
           std::string(R"({"eventType":"a.b","transaction":{"id":"t","id":"u"}})"),
           std::string(R"({"eventType":"a.b","transaction":{"id":"t"},"x":[{"k":1,"k":2}]})"),
           std::string(R"({"eventType":"a.b","transaction":{"id":"t"},"\u0078":1,"x":2})"),
       }) {
    INFO(body);
    const auto parsed = parse_envelope(body);
    REQUIRE(parsed.ok());
    CHECK(parsed->duplicate_members);
  }
  const auto distinct =
      parse_envelope(R"({"eventType":"a.b","transaction":{"id":"t"},"x":{"id":"t"}})");
  REQUIRE(distinct.ok());
  CHECK_FALSE(distinct->duplicate_members);

  SECTION("in an object of many members, first and last alike") {
    std::string many = R"({"eventType":"a.b","transaction":{"id":"t"},"m":{)";
    for (int i = 0; i < 40; ++i)
      many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    const auto unique = parse_envelope(many + R"("last":0}})");
    REQUIRE(unique.ok());
    CHECK_FALSE(unique->duplicate_members);
    const auto repeated = parse_envelope(many + R"("k0":0}})");
    REQUIRE(repeated.ok());
    CHECK(repeated->duplicate_members);
  }
}

TEST_CASE("keeps non-ASCII names and ids byte-exact", "[envelope]") {
  const std::string body =
      "{\"eventType\":\"customer.levelChanged\",\"customer\":{\"id\":\"cliente-\xC3\xB1-01\","
      "\"firstName\":\"Luc\xC3\xAD"
      "a\",\"lastName\":\"Mu\xC3\xB1oz \xC3\x91"
      "and\xC3\xBA\","
      "\"operationLevel\":\"B\xC3\x81SICO\",\"documentsCount\":2}}";
  const auto parsed = parse_envelope(body);
  REQUIRE(parsed.ok());
  CHECK(parsed->entity_id == "cliente-\xC3\xB1-01");
  CHECK(parsed->operation_level == std::optional<std::string>("B\xC3\x81SICO"));

  SECTION("a \\u escape in an id decodes to UTF-8") {
    const auto escaped = parse_envelope(
        R"({"eventType":"payment.settled","transaction":{"id":"cliente-\u00f1-01"}})");
    REQUIRE(escaped.ok());
    CHECK(escaped->entity_id == "cliente-\xC3\xB1-01");
  }
}

TEST_CASE("names shapes, entity kinds and errors", "[envelope]") {
  using webhook::core::to_string;
  CHECK(to_string(PayloadShape::legacy) == "legacy");
  CHECK(to_string(PayloadShape::event_type) == "event_type");
  CHECK(to_string(PayloadShape::unknown) == "unknown");
  CHECK(to_string(EntityKind::none) == "none");
  CHECK(to_string(EntityKind::transaction) == "transaction");
  CHECK(to_string(EntityKind::customer) == "customer");
  CHECK(to_string(EnvelopeError::not_json) == "not_json");
  CHECK(to_string(EnvelopeError::not_an_object) == "not_an_object");
}
