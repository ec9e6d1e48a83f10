// Issue 10, defects 1, 9 and 12: an attacker holding one genuine captured delivery and no key,
// against the real application with its default routes and projections. Every byte that decides
// anything must be covered by the signature; every body that verifies must be read the same way
// by everything that reads it.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/receiver_fixture.hpp"
#include "integration/signed_delivery.hpp"
#include "support/wait.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;

namespace {

// A genuine compact legacy delivery signed in its body, as the reference signer sends it: the
// signed message is exactly {event, data}, so B1, B2 and B3 all describe it.
const std::string kLegacy =
    R"({"event":"Transaction.Captured","data":{"transaction":{"id":"65f1a0c2b7e4d9a1c3e5f701",)"
    R"("purchaseAmount":"125000","totalAmount":"125000","externalId":"order-20260501-0001",)"
    R"("currency":"COP","status":"CAPTURED"}}})";

// `signed_body` with `members` (starting with a comma) inserted before its "signature" member.
std::string extend(const std::string& signed_body, const std::string& members) {
  std::string out = signed_body;
  out.insert(out.find(R"(,"signature")"), members);
  return out;
}

HeaderList header_signed(const std::string& body) { return signed_with(kKey, body); }

bool all_finished(const Receiver& r) {
  return wait_until([&] { return r.count("status IN ('pending', 'processing')") == 0; });
}

}  // namespace

TEST_CASE("issue 10: a captured body-signed delivery extended with unsigned members is 401",
          "[integration][forgery]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  const std::string captured = *webhook::core::sign_body(kKey, kLegacy);
  REQUIRE(client.post("/webhooks", captured).status == 200);
  REQUIRE(all_finished(receiver));

  // Each forgery gets a new dedup key, as the attacker would make it.
  const std::string forged_payment = extend(
      captured, R"(,"eventType":"transaction.status_changed","timestamp":"2099-01-01T00:00:00Z",)"
                R"("transaction":{"id":"VICTIM","status":"SETTLED"})");
  const std::string forged_customer =
      extend(captured,
             R"(,"eventType":"customer.levelChanged","timestamp":"2099-01-01T00:00:00Z",)"
             R"("customer":{"id":"VICTIM-CUSTOMER","operationLevel":"FULL","documentsCount":9})");
  const std::string forged_member = extend(captured, R"(,"note":"unsigned")");
  for (const std::string& forged : {forged_payment, forged_customer, forged_member}) {
    INFO(forged);
    const auto reply = client.post("/webhooks", forged);
    CHECK(reply.status == 401);
    CHECK(reply.body == R"({"error":"invalid_signature"})");
  }

  CHECK(receiver.count() == 1);
  CHECK(receiver.value("SELECT count(*) FROM payments WHERE transaction_id = 'VICTIM'") == "0");
  CHECK(receiver.value("SELECT count(*) FROM customers WHERE customer_id = 'VICTIM-CUSTOMER'") ==
        "0");
  // The payload log says why, for the operator who wonders whether the platform signs less than
  // it sends.
  CHECK(read_file(receiver.dir().file("payloads.unverified.jsonl")).find("\"unsigned_members\"") !=
        std::string::npos);
}

TEST_CASE("issue 10: JSON that JSON.parse accepts is processed, not quarantined",
          "[integration][forgery]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  // JSON.stringify of a name cut in the middle of an emoji, and numbers no double can hold.
  const std::string cut_emoji =
      R"({"eventType":"customer.levelChanged","timestamp":"2026-05-03T13:58:02Z",)"
      R"("customer":{"id":"cust-emoji-1","firstName":"Luc\ud83d","operationLevel":"BASIC",)"
      R"("documentsCount":1}})";
  const std::string huge_numbers =
      R"({"eventType":"payment.settled","timestamp":"2026-05-03T18:30:00Z","risk":1e400,)"
      R"("transaction":{"id":"tx-huge-1","status":"SETTLED","totalAmount":)" +
      std::string(100000, '9') + "}}";
  for (const std::string& body : {cut_emoji, huge_numbers}) {
    const auto reply = client.post("/webhooks", body, header_signed(body));
    CHECK(reply.status == 200);
    CHECK(json_field(reply.body, "status") == "accepted");
  }
  // The body scheme takes the same bodies (it always did; now the envelope agrees).
  const std::string body_signed = *webhook::core::sign_body(
      kKey, R"({"event":"Transaction.Captured","data":{"transaction":{"id":"tx-b-1",)"
            R"("status":"CAPTURED","note":"\udc00","fee":-1e400}}})");
  const auto reply = client.post("/webhooks", body_signed);
  CHECK(reply.status == 200);
  CHECK(json_field(reply.body, "status") == "accepted");

  REQUIRE(all_finished(receiver));
  CHECK(receiver.count("status = 'done'") == 3);
  CHECK(receiver.value("SELECT operation_level FROM customers WHERE customer_id = "
                       "'cust-emoji-1'") == "BASIC");
  CHECK(receiver.value("SELECT status FROM payments WHERE transaction_id = 'tx-huge-1'") ==
        "SETTLED");
  CHECK(receiver.value("SELECT length(total_amount) FROM payments WHERE transaction_id = "
                       "'tx-huge-1'") == "100000");
  CHECK(receiver.value("SELECT status FROM payments WHERE transaction_id = 'tx-b-1'") ==
        "CAPTURED");
}

TEST_CASE("issue 10: a signed body that is ambiguous or names no event is stored, never processed",
          "[integration][forgery]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  const std::vector<std::pair<std::string, std::string>> cases = {
      // A reader that keeps the last "status" would see SETTLED; we would see the first.
      {R"({"eventType":"transaction.status_changed","timestamp":"2026-05-03T10:00:00Z",)"
       R"("transaction":{"id":"tx-dup-1","status":"CAPTURED","status":"SETTLED"}})",
       "duplicate_member"},
      {R"({"eventType":1e2,"transaction":{"id":"tx-n-1"}})", "no_event_name"},
      {R"({"eventType":"payment.settled","transaction":{"id":"tx-\udc00","status":"SETTLED"}})",
       "unpaired_surrogate"},
  };
  for (const auto& [body, reason] : cases) {
    INFO(body);
    const auto reply = client.post("/webhooks", body, header_signed(body));
    CHECK(reply.status == 200);
    CHECK(json_field(reply.body, "status") == "quarantined");
    CHECK(receiver.count("status = 'quarantined' AND quarantine_reason = '" + reason + "'") == 1);
  }
  // No raw surrogate bytes (ED B0 80) ever reach the database.
  CHECK(receiver.value("SELECT count(*) FROM events WHERE hex(entity_id) LIKE '%EDB080%'") == "0");
  CHECK(receiver.value("SELECT count(*) FROM payments") == "0");
}
