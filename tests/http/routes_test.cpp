// The HTTP contract table: every outcome's status code and body.
#include <catch2/catch.hpp>

#include "webhook/http/routes.hpp"

using namespace webhook;
using http::RouteKind;

TEST_CASE("the router matches webhook paths exactly and ignores the query string", "[routes]") {
  const http::Router router({"/webhooks", "/webhooks/sandbox"});
  CHECK(router.match("/webhooks").kind == RouteKind::webhook);
  CHECK(router.match("/webhooks").source == 0);
  CHECK(router.match("/webhooks/sandbox?x=1").source == 1);
  CHECK(router.match("/webhooks/").kind == RouteKind::not_found);
  CHECK(router.match("/webhooksX").kind == RouteKind::not_found);
  CHECK(router.match("/healthz").kind == RouteKind::healthz);
  CHECK(router.match("/readyz?verbose").kind == RouteKind::readyz);
  CHECK(router.match("/").kind == RouteKind::not_found);
}

TEST_CASE("stored outcomes are 200 with their status and event id", "[routes]") {
  CHECK(http::to_response(core::Accepted{7}).status == 200);
  CHECK(http::to_response(core::Accepted{7}).body == R"({"status":"accepted","eventId":7})");
  CHECK(http::to_response(core::Duplicate{7}).body == R"({"status":"duplicate","eventId":7})");
  CHECK(http::to_response(core::Quarantined{9, false}).body ==
        R"({"status":"quarantined","eventId":9})");
}

TEST_CASE("a quarantined delivery is 400 when the source's malformed_reply says so", "[routes]") {
  const auto r = http::to_response(core::Quarantined{9, true});
  CHECK(r.status == 400);
  CHECK(r.body == R"({"error":"unusable_payload","eventId":9,"status":"quarantined"})");
}

TEST_CASE("rejections are 401 and 400 with a JSON reason", "[routes]") {
  using R = core::Rejected::Reason;
  CHECK(http::to_response(core::Rejected{R::invalid_signature}).status == 401);
  CHECK(http::to_response(core::Rejected{R::invalid_signature}).body ==
        R"({"error":"invalid_signature"})");
  CHECK(http::to_response(core::Rejected{R::malformed_json}).status == 400);
  CHECK(http::to_response(core::Rejected{R::malformed_json}).body ==
        R"({"error":"malformed_json"})");
  CHECK(http::to_response(core::Rejected{R::too_large}).status == 413);
}

TEST_CASE("every unavailable reason is 503 with Retry-After", "[routes]") {
  using U = core::Unavailable::Reason;
  for (U reason : {U::storage_error, U::ack_budget_exceeded, U::overloaded, U::shutting_down}) {
    const auto r = http::to_response(core::Unavailable{reason});
    CHECK(r.status == 503);
    REQUIRE(r.retry_after_seconds);
    CHECK(*r.retry_after_seconds == http::kRetryAfterSeconds);
    CHECK(r.body.find(std::string(core::to_string(reason))) != std::string::npos);
  }
}

TEST_CASE("413 closes the connection and names the limit", "[routes]") {
  const auto r = http::payload_too_large(1048576);
  CHECK(r.status == 413);
  CHECK(r.close);
  CHECK(r.body == R"({"error":"payload_too_large","limit_bytes":"1048576"})");
}

TEST_CASE("405 names the allowed methods and readiness explains itself", "[routes]") {
  const auto r = http::method_not_allowed("POST");
  CHECK(r.status == 405);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0] == std::pair<std::string, std::string>{"Allow", "POST"});
  CHECK(http::readiness(true, "").status == 200);
  const auto not_ready = http::readiness(false, "storage: the last commit failed");
  CHECK(not_ready.status == 503);
  CHECK(not_ready.body == R"({"status":"not_ready","reason":"storage: the last commit failed"})");
}

TEST_CASE("result labels match the metric vocabulary", "[routes]") {
  CHECK(core::result_label(core::Accepted{1}) == "accepted");
  CHECK(core::result_label(core::Duplicate{1}) == "duplicate");
  CHECK(core::result_label(core::Quarantined{1, false}) == "quarantined");
  CHECK(core::result_label(core::Rejected{core::Rejected::Reason::invalid_signature}) ==
        "invalid_signature");
  CHECK(core::result_label(core::Rejected{core::Rejected::Reason::malformed_json}) == "malformed");
  CHECK(core::result_label(core::Unavailable{core::Unavailable::Reason::overloaded}) ==
        "unavailable");
}

TEST_CASE("issue 10: every 400 and 413 answer closes the connection", "[routes]") {
  using R = core::Rejected::Reason;
  CHECK(http::to_response(core::Rejected{R::malformed_json}).close);
  CHECK(http::to_response(core::Quarantined{9, true}).close);
  CHECK(http::to_response(core::Rejected{R::too_large}).close);
  CHECK(http::bad_request("bad_request").close);
  CHECK(http::payload_too_large(1024).close);
  CHECK_FALSE(http::to_response(core::Accepted{7}).close);
  CHECK_FALSE(http::to_response(core::Quarantined{9, false}).close);
  CHECK_FALSE(http::to_response(core::Rejected{R::invalid_signature}).close);
}
