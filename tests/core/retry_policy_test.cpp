// Tests for include/webhook/core/retry_policy.hpp: exact delays, with the jitter and Retry-After
// passed in (defaults: 1 s, doubling, capped at 32 s, 5 attempts in all).

#include <catch2/catch.hpp>

#include <chrono>
#include <climits>
#include <optional>

#include "webhook/core/retry_policy.hpp"

namespace {

using std::chrono::milliseconds;
using webhook::core::RetryPolicy;
using Delay = std::optional<milliseconds>;

constexpr Delay ms(long long n) { return milliseconds{n}; }

}  // namespace

TEST_CASE("the default policy doubles from 1 s and gives up after 5 attempts", "[retry]") {
  const RetryPolicy policy;

  CHECK(policy.next_delay(1, 0.0) == ms(1000));
  CHECK(policy.next_delay(2, 0.0) == ms(2000));
  CHECK(policy.next_delay(3, 0.0) == ms(4000));
  CHECK(policy.next_delay(4, 0.0) == ms(8000));
  CHECK(policy.next_delay(5, 0.0) == std::nullopt);
  CHECK(policy.next_delay(6, 0.0) == std::nullopt);
}

TEST_CASE("jitter shortens a delay by up to a fifth of it", "[retry]") {
  const RetryPolicy policy;

  SECTION("jitter 0.5 takes a tenth off") {
    CHECK(policy.next_delay(1, 0.5) == ms(900));
    CHECK(policy.next_delay(2, 0.5) == ms(1800));
    CHECK(policy.next_delay(3, 0.5) == ms(3600));
    CHECK(policy.next_delay(4, 0.5) == ms(7200));
    CHECK(policy.next_delay(5, 0.5) == std::nullopt);
  }
  SECTION("jitter just below 1 takes almost a fifth off") {
    CHECK(policy.next_delay(1, 0.999) == ms(800));  // 1000 * (1 - 0.1998), rounded
  }
  SECTION("jitter out of [0, 1) is held to its nearest end") {
    CHECK(policy.next_delay(1, -3.0) == ms(1000));
    CHECK(policy.next_delay(1, 7.0) == ms(800));
  }
}

TEST_CASE("the delay is capped at max when more attempts are allowed", "[retry]") {
  RetryPolicy policy;
  policy.max_attempts = 9;

  CHECK(policy.next_delay(5, 0.0) == ms(16000));
  CHECK(policy.next_delay(6, 0.0) == ms(32000));
  CHECK(policy.next_delay(7, 0.0) == ms(32000));
  CHECK(policy.next_delay(8, 0.0) == ms(32000));
  CHECK(policy.next_delay(8, 0.5) == ms(28800));  // jitter applies to the capped delay
  CHECK(policy.next_delay(9, 0.0) == std::nullopt);
}

TEST_CASE("multiplier 1 retries at a constant delay", "[retry]") {
  RetryPolicy policy;
  policy.initial = milliseconds{250};
  policy.multiplier = 1.0;

  for (int attempt = 1; attempt < 5; ++attempt) CHECK(policy.next_delay(attempt, 0.0) == ms(250));
  CHECK(policy.next_delay(5, 0.0) == std::nullopt);
}

TEST_CASE("a Retry-After replaces the delay, capped at one hour", "[retry]") {
  const RetryPolicy policy;

  CHECK(policy.next_delay(1, 0.0, milliseconds{120'000}) == ms(120'000));
  CHECK(policy.next_delay(3, 0.5, milliseconds{5'000}) == ms(5'000));  // no jitter on it
  CHECK(policy.next_delay(2, 0.0, milliseconds{7'200'000}) == ms(3'600'000));
  CHECK(policy.next_delay(2, 0.0, milliseconds{0}) == ms(0));
  CHECK(policy.next_delay(2, 0.0, milliseconds{-5}) == ms(0));
}

TEST_CASE("a Retry-After never extends the attempt limit", "[retry]") {
  const RetryPolicy policy;

  CHECK(policy.next_delay(4, 0.0, milliseconds{1'000}) == ms(1'000));
  CHECK(policy.next_delay(5, 0.0, milliseconds{1'000}) == std::nullopt);

  RetryPolicy once;
  once.max_attempts = 1;
  CHECK(once.next_delay(1, 0.0, milliseconds{1'000}) == std::nullopt);
}

TEST_CASE("large attempt counts saturate at max instead of overflowing", "[retry]") {
  RetryPolicy policy;
  policy.max_attempts = INT_MAX;

  CHECK(policy.next_delay(64, 0.0) == ms(32000));
  CHECK(policy.next_delay(1'100, 0.0) == ms(32000));  // 2^1099 is beyond a double
  CHECK(policy.next_delay(INT_MAX - 1, 0.5) == ms(28800));

  SECTION("even with no effective cap") {
    policy.max = milliseconds::max();
    policy.multiplier = 10.0;
    CHECK(policy.next_delay(1'000, 0.0) == milliseconds::max());
    const Delay jittered = policy.next_delay(1'000, 0.5);
    REQUIRE(jittered);
    CHECK(*jittered > milliseconds::zero());
    CHECK(*jittered < milliseconds::max());
  }
}
