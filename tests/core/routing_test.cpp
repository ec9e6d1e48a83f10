// Tests for include/webhook/core/routing.hpp: exact types, "prefix.*" globs, "*", first match wins.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "webhook/core/routing.hpp"

namespace {

using webhook::core::RouteRule;
using webhook::core::RouteTable;

RouteRule rule(std::string match, std::string handler) {
  return RouteRule{std::move(match), {std::move(handler)}, std::nullopt};
}

}  // namespace

TEST_CASE("an exact pattern matches only that type", "[routing]") {
  CHECK(RouteTable::matches("payment.settled", "payment.settled"));
  CHECK_FALSE(RouteTable::matches("payment.settled", "payment.settled.late"));
  CHECK_FALSE(RouteTable::matches("payment.settled", "payment"));
  CHECK_FALSE(RouteTable::matches("payment.settled", "Payment.Settled"));
}

TEST_CASE("a prefix glob matches every type under the prefix, nested too", "[routing]") {
  CHECK(RouteTable::matches("payment.*", "payment.settled"));
  CHECK(RouteTable::matches("payment.*", "payment.refund.created"));
  CHECK(RouteTable::matches("payment.refund.*", "payment.refund.created"));
  CHECK_FALSE(RouteTable::matches("payment.refund.*", "payment.settled"));
}

TEST_CASE("a prefix glob matches neither the bare prefix nor a longer word", "[routing]") {
  CHECK_FALSE(RouteTable::matches("payment.*", "payment"));
  CHECK_FALSE(RouteTable::matches("payment.*", "payment."));
  CHECK_FALSE(RouteTable::matches("payment.*", "paymentX.y"));
  CHECK_FALSE(RouteTable::matches("payment.*", "payments.settled"));
  CHECK_FALSE(RouteTable::matches("payment.*", "transaction.payment.settled"));
}

TEST_CASE("the catch-all matches every type", "[routing]") {
  CHECK(RouteTable::matches("*", "payment.settled"));
  CHECK(RouteTable::matches("*", "anything"));
  CHECK(RouteTable::matches("*", ""));
}

TEST_CASE("the first matching rule wins", "[routing]") {
  const RouteTable table({rule("payment.refund.created", "refunds"), rule("payment.*", "app"),
                          rule("*", "log"), rule("payment.settled", "never")});

  const RouteRule* refund = table.match("payment.refund.created");
  REQUIRE(refund != nullptr);
  CHECK(refund->handlers == std::vector<std::string>{"refunds"});
  const RouteRule* settled = table.match("payment.settled");
  REQUIRE(settled != nullptr);
  CHECK(settled->handlers == std::vector<std::string>{"app"});
  const RouteRule* other = table.match("customer.levelChanged");
  REQUIRE(other != nullptr);
  CHECK(other->handlers == std::vector<std::string>{"log"});
  CHECK(other == &table.rules()[2]);  // points into the table
}

TEST_CASE("a type no rule matches has no route", "[routing]") {
  const RouteTable table({rule("payment.*", "app"), rule("customer.levelChanged", "kyc")});

  CHECK(table.match("transaction.status_changed") == nullptr);
  CHECK(table.match("payment") == nullptr);
  CHECK(RouteTable().match("payment.settled") == nullptr);
}

TEST_CASE("a rule keeps its own retry policy", "[routing]") {
  webhook::core::RetryPolicy fast;
  fast.max_attempts = 2;
  const RouteTable table({RouteRule{"payment.*", {"app", "audit"}, fast}, rule("*", "log")});

  const RouteRule* r = table.match("payment.settled");
  REQUIRE(r != nullptr);
  REQUIRE(r->retry);
  CHECK(r->retry->max_attempts == 2);
  CHECK_FALSE(table.match("other")->retry);
}
