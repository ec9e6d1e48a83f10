// Tests for include/webhook/core/conomy_api.hpp: token answers and refresh times, the retry
// decision (5xx backoff, 429 Retry-After, no retry on other 4xx), both documented error shapes
// and the payment and customer objects, all with plain values.

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "webhook/core/conomy_api.hpp"

namespace {

using std::chrono::milliseconds;
using namespace webhook::core;
using Delay = std::optional<milliseconds>;

constexpr Delay ms(long long n) { return milliseconds{n}; }
constexpr std::int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

}  // namespace

TEST_CASE("a token answer gives the token and its lifetime", "[conomy_api]") {
  auto t = parse_access_token(R"({"accessToken":"eyJ.a.b","tokenType":"Bearer","expiresIn":3600})");
  REQUIRE(t.ok());
  CHECK(t->token == "eyJ.a.b");
  CHECK(t->expires_in_s == 3600);

  SECTION("under a data wrapper, with expiresIn as a string") {
    auto d = parse_access_token(R"({"data":{"accessToken":"tok-1","expiresIn":"86400"}})");
    REQUIRE(d.ok());
    CHECK(d->token == "tok-1");
    CHECK(d->expires_in_s == 86400);
  }
  SECTION("a missing or unusable expiresIn is a short default lifetime") {
    CHECK(parse_access_token(R"({"accessToken":"t"})")->expires_in_s == kDefaultTokenLifetimeS);
    CHECK(parse_access_token(R"({"accessToken":"t","expiresIn":-5})")->expires_in_s ==
          kDefaultTokenLifetimeS);
    CHECK(parse_access_token(R"({"accessToken":"t","expiresIn":1.5})")->expires_in_s ==
          kDefaultTokenLifetimeS);
  }
}

TEST_CASE("a token answer without a usable token is an error that does not echo the body",
          "[conomy_api]") {
  for (const char* body :
       {"", "[]", "not json", R"({"token":"x"})", R"({"accessToken":""})", R"({"accessToken":42})",
        R"({"accessToken":"a\r\nX-Evil: 1"})", R"({"accessToken":"has space"})"}) {
    INFO(body);
    auto t = parse_access_token(body);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().find("X-Evil") == std::string::npos);
  }
}

TEST_CASE("a token is replaced a minute before it expires, or halfway through a short life",
          "[conomy_api]") {
  CHECK(token_refresh_at(kNow, 3600) == kNow + 3'540'000);
  CHECK(token_expires_at(kNow, 3600) == kNow + 3'600'000);
  CHECK(token_refresh_at(kNow, 60) == kNow + 30'000);
  CHECK(token_refresh_at(kNow, 2) == kNow + 1'000);
  CHECK(token_refresh_at(kNow, 100, 10'000) == kNow + 90'000);
}

TEST_CASE("statuses are classified for retrying", "[conomy_api]") {
  CHECK(classify_api_status(200) == ApiStatusClass::success);
  CHECK(classify_api_status(204) == ApiStatusClass::success);
  CHECK(classify_api_status(0) == ApiStatusClass::retryable);
  CHECK(classify_api_status(500) == ApiStatusClass::retryable);
  CHECK(classify_api_status(503) == ApiStatusClass::retryable);
  CHECK(classify_api_status(404) == ApiStatusClass::not_found);
  CHECK(classify_api_status(401) == ApiStatusClass::unauthorized);
  CHECK(classify_api_status(429) == ApiStatusClass::rate_limited);
  CHECK(classify_api_status(400) == ApiStatusClass::permanent);
  CHECK(classify_api_status(403) == ApiStatusClass::permanent);
  CHECK(classify_api_status(422) == ApiStatusClass::permanent);
  CHECK(classify_api_status(301) == ApiStatusClass::permanent);
  CHECK(to_string(ApiStatusClass::rate_limited) == "rate_limited");
}

TEST_CASE("5xx and transport failures back off from 1 s, doubling, capped, 5 attempts",
          "[conomy_api]") {
  const RetryPolicy policy{milliseconds{1000}, 2.0, milliseconds{32000}, 5};
  CHECK(api_retry_delay(policy, 1, 500, "", kNow) == ms(1000));
  CHECK(api_retry_delay(policy, 2, 503, "", kNow) == ms(2000));
  CHECK(api_retry_delay(policy, 3, 0, "", kNow) == ms(4000));
  CHECK(api_retry_delay(policy, 4, 502, "", kNow) == ms(8000));
  CHECK(api_retry_delay(policy, 5, 500, "", kNow) == std::nullopt);

  SECTION("the cap holds when more attempts are configured") {
    const RetryPolicy long_policy{milliseconds{1000}, 2.0, milliseconds{32000}, 9};
    CHECK(api_retry_delay(long_policy, 6, 500, "", kNow) == ms(32000));
    CHECK(api_retry_delay(long_policy, 8, 500, "", kNow) == ms(32000));
  }
  SECTION("a Retry-After on a 5xx is not what decides") {
    CHECK(api_retry_delay(policy, 1, 503, "7", kNow) == ms(1000));
  }
}

TEST_CASE("429 waits for Retry-After or else the backoff, and other 4xx are never retried",
          "[conomy_api]") {
  const RetryPolicy policy;
  CHECK(api_retry_delay(policy, 1, 429, "3", kNow) == ms(3000));
  CHECK(api_retry_delay(policy, 1, 429, " 0 ", kNow) == ms(0));
  CHECK(api_retry_delay(policy, 2, 429, "", kNow) == ms(2000));
  CHECK(api_retry_delay(policy, 2, 429, "soon", kNow) == ms(2000));
  CHECK(api_retry_delay(policy, 5, 429, "1", kNow) == std::nullopt);
  // Longer than policy.max (32 s): the call ends rather than hold a thread.
  CHECK(api_retry_delay(policy, 1, 429, "120", kNow) == std::nullopt);
  for (unsigned status : {400u, 401u, 403u, 404u, 409u, 422u}) {
    INFO(status);
    CHECK(api_retry_delay(policy, 1, status, "1", kNow) == std::nullopt);
  }
}

TEST_CASE("Retry-After is delta-seconds or an IMF-fixdate", "[conomy_api]") {
  CHECK(parse_retry_after("120", kNow) == ms(120000));
  CHECK(parse_retry_after("Tue, 14 Nov 2023 22:13:25 GMT", kNow) == ms(5000));
  CHECK(parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", kNow) == ms(0));  // past
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000) == ms(0));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111776000) == ms(1000));
  for (const char* bad :
       {"", "-1", "1.5", "99999999999999999999", "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "86401"}) {
    INFO(bad);
    CHECK(parse_retry_after(bad, kNow) == std::nullopt);
  }
}

TEST_CASE("the documented error shape gives code, type, detail and traceId", "[conomy_api]") {
  const ApiError e = parse_api_error(
      400, R"({"status":400,"code":"11","type":"invalidParam","detail":"id is malformed",)"
           R"("traceId":"0f8e2b1c-aaaa-4bbb-8ccc-123456789abc"})");
  CHECK(e.status == 400);
  CHECK(e.code == "11");
  CHECK(e.type == "invalidParam");
  CHECK(e.message == "id is malformed");
  CHECK(e.trace_id == "0f8e2b1c-aaaa-4bbb-8ccc-123456789abc");
}

TEST_CASE("the OpenAPI and nested error shapes are read leniently", "[conomy_api]") {
  SECTION("statusCode, error, message") {
    const ApiError e = parse_api_error(
        503, R"({"statusCode":503,"error":"Service Unavailable","message":"try later"})");
    CHECK(e.type == "Service Unavailable");
    CHECK(e.message == "try later");
    CHECK(e.trace_id.empty());
  }
  SECTION("error object with a null message, traceId inside it") {
    const ApiError e = parse_api_error(
        400, R"({"error":{"type":"bad_request","info":null,"traceId":"t-9"},"message":null})");
    CHECK(e.type == "bad_request");
    CHECK(e.message == "HTTP 400");
    CHECK(e.trace_id == "t-9");
  }
  SECTION("a numeric code is kept as its text") {
    CHECK(parse_api_error(500, R"({"code":1,"type":"serverError"})").code == "1");
  }
  SECTION("a body that is not JSON falls back to the status") {
    const ApiError e = parse_api_error(502, "<html>bad gateway</html>");
    CHECK(e.message == "HTTP 502");
    CHECK(e.code.empty());
    CHECK(parse_api_error(0, "").message == "no response");
  }
  SECTION("fields are cut and cannot break a log line") {
    const ApiError e = parse_api_error(
        400, R"({"detail":"line1\nline2","traceId":")" + std::string(500, 'a') + R"("})");
    CHECK(e.message == "line1?line2");
    CHECK(e.trace_id.size() == 200);
  }
}

TEST_CASE("a traceId is found at the top level or under data", "[conomy_api]") {
  CHECK(trace_id_of(R"({"id":"p1","traceId":"t-1"})") == "t-1");
  CHECK(trace_id_of(R"({"data":{"id":"p1","traceId":"t-2"}})") == "t-2");
  CHECK(trace_id_of(R"({"id":"p1"})").empty());
  CHECK(trace_id_of("nope").empty());
}

TEST_CASE("a payment object is read at the top level or under data", "[conomy_api]") {
  const std::string object =
      R"({"id":"65f1a0c2b7e4d9a1c3e5f701","externalId":"order-1","status":"SETTLED",)"
      R"("totalAmount":"2000.00","purchaseAmount":"2000.00","currency":"ARS","type":"PURCHASE",)"
      R"("customerId":"cus-1","parentPaymentId":null,"relatedPaymentId":"rel-1",)"
      R"("settledAt":"2026-05-03T14:00:00Z","settlementBatchId":"settlement-ARS-1",)"
      R"("documentationStatus":"APPROVED","unknownFutureField":{"x":1}})";
  for (const std::string& body : {object, R"({"data":)" + object + "}"}) {
    INFO(body);
    const auto p = parse_api_payment(body);
    REQUIRE(p);
    CHECK(p->facts.transaction_id == "65f1a0c2b7e4d9a1c3e5f701");
    CHECK(p->facts.external_id == "order-1");
    CHECK(p->facts.status == "SETTLED");
    CHECK(p->facts.total_amount == "2000.00");
    CHECK(p->purchase_amount == "2000.00");
    CHECK(p->facts.currency == "ARS");
    CHECK(p->facts.type == "PURCHASE");
    CHECK(p->facts.customer_id == "cus-1");
    CHECK(p->facts.parent_payment_id.empty());
    CHECK(p->facts.related_payment_id == "rel-1");
    CHECK(p->facts.settled_at == "2026-05-03T14:00:00Z");
    CHECK(p->facts.settlement_batch_id == "settlement-ARS-1");
    CHECK(p->facts.documentation_status == "APPROVED");
    CHECK_FALSE(p->facts.occurred_at_ms);
  }
}

TEST_CASE("a payment answer without an object id is not a payment", "[conomy_api]") {
  for (const char* body : {"", "null", "[]", R"({"status":"SETTLED"})", R"({"id":""})",
                           R"({"id":17})", R"({"data":{"status":"SETTLED"}})", R"({"data":[]})"}) {
    INFO(body);
    CHECK_FALSE(parse_api_payment(body));
  }
}

TEST_CASE("a customer object gives level, documents and the documented flag", "[conomy_api]") {
  const std::string object =
      R"({"id":"66a2b3c4d5e6f70899990002","clientId":"demo-client-ar","operationLevel":"STANDARD",)"
      R"("documentsCount":2,"autoCreated":true,"isDocumented":true,"firstName":"Lucía"})";
  for (const std::string& body : {object, R"({"data":)" + object + "}"}) {
    const auto c = parse_api_customer(body);
    REQUIRE(c);
    CHECK(c->facts.customer_id == "66a2b3c4d5e6f70899990002");
    CHECK(c->facts.client_id == "demo-client-ar");
    CHECK(c->facts.operation_level == "STANDARD");
    CHECK(c->facts.documents_count == 2);
    CHECK(c->facts.auto_created == true);
    CHECK(c->is_documented == true);
  }
  const auto bare = parse_api_customer(R"({"id":"c-1"})");
  REQUIRE(bare);
  CHECK_FALSE(bare->facts.documents_count);
  CHECK_FALSE(bare->is_documented);
  CHECK_FALSE(parse_api_customer(R"({"customer":{"id":"c-1"}})"));
}

TEST_CASE("the auth body is JSON with the client id and secret escaped", "[conomy_api]") {
  CHECK(auth_request_body("client-1", "s3cr\"et\\x") ==
        R"({"clientId":"client-1","clientSecret":"s3cr\"et\\x"})");
  CHECK(auth_request_body("c", std::string("a\nb\x01", 4)) ==
        R"({"clientId":"c","clientSecret":"a\u000ab\u0001"})");
}

TEST_CASE("a resource target percent-encodes the id under the base path", "[conomy_api]") {
  CHECK(api_target("/sandbox", "payments", "65f1a0c2") == "/sandbox/payments/65f1a0c2");
  CHECK(api_target("/", "customers", "c-1_x.y~z") == "/customers/c-1_x.y~z");
  CHECK(api_target("", "payments", "a/../b?c=d#e f") == "/payments/a%2F..%2Fb%3Fc%3Dd%23e%20f");
  CHECK(api_target("/v1/", "payments", "\xC3\xA9") == "/v1/payments/%C3%A9");
}
