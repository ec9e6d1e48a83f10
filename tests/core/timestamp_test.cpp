// Tests include/webhook/core/timestamp.hpp: the ISO-8601 forms Conomy sends, as epoch ms (UTC).
#include "webhook/core/timestamp.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

using webhook::core::parse_iso8601_ms;

namespace {

// 2026-05-02T13:05:11Z (tests/fixtures/conomy/04-status-changed-captured.json).
constexpr std::int64_t kCaptured = 1'777'727'111'000;
constexpr std::int64_t kHour = 3'600'000;

}  // namespace

TEST_CASE("reads a UTC timestamp with a Z suffix", "[timestamp]") {
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11Z") == kCaptured);
  CHECK(parse_iso8601_ms("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_iso8601_ms("1970-01-01T00:00:01Z") == 1000);
  CHECK(parse_iso8601_ms("2024-02-29T23:59:59Z") == 1'709'251'199'000);
}

TEST_CASE("reads a fraction of 1 to 9 digits, cut to milliseconds", "[timestamp]") {
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11.5Z") == kCaptured + 500);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11.05Z") == kCaptured + 50);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11.123Z") == kCaptured + 123);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11.1239Z") == kCaptured + 123);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11.999999Z") == kCaptured + 999);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11.000000001Z") == kCaptured);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11.987654321Z") == kCaptured + 987);
}

TEST_CASE("a numeric offset is converted to UTC", "[timestamp]") {
  // 10:05:11 at UTC-03:00 (Buenos Aires) is 13:05:11 UTC.
  CHECK(parse_iso8601_ms("2026-05-02T10:05:11-03:00") == kCaptured);
  CHECK(parse_iso8601_ms("2026-05-02T18:35:11+05:30") == kCaptured);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11+00:00") == kCaptured);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11-00:00") == kCaptured);
  CHECK(parse_iso8601_ms("2026-05-02T13:05:11.250+01:00") == kCaptured - kHour + 250);
  // An offset can move the instant across midnight.
  CHECK(parse_iso8601_ms("2026-05-01T23:30:00-02:00") == parse_iso8601_ms("2026-05-02T01:30:00Z"));
}

TEST_CASE("a date alone is midnight UTC", "[timestamp]") {
  CHECK(parse_iso8601_ms("2026-05-02") == 1'777'680'000'000);
  CHECK(parse_iso8601_ms("1970-01-01") == 0);
  CHECK(parse_iso8601_ms("2024-02-29") == 1'709'164'800'000);
}

TEST_CASE("rejects impossible dates", "[timestamp]") {
  CHECK_FALSE(parse_iso8601_ms("2026-13-01T00:00:00Z"));
  CHECK_FALSE(parse_iso8601_ms("2026-00-10T00:00:00Z"));
  CHECK_FALSE(parse_iso8601_ms("2026-02-30T00:00:00Z"));
  CHECK_FALSE(parse_iso8601_ms("2026-02-29"));  // not a leap year
  CHECK_FALSE(parse_iso8601_ms("2026-04-31"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-00"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-32T00:00:00Z"));
}

TEST_CASE("rejects impossible times and offsets", "[timestamp]") {
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T24:00:00Z"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T23:60:00Z"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T23:59:60Z"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11+24:00"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11+03:60"));
}

TEST_CASE("rejects a time without a zone", "[timestamp]") {
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11.123"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05Z"));
}

TEST_CASE("rejects malformed fractions, zones and separators", "[timestamp]") {
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11.Z"));            // no digits
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11.1234567890Z"));  // ten digits
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11z"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11ZZ"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11+0300"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11+03"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11+3:00"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02 13:05:11Z"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02t13:05:11Z"));
  CHECK_FALSE(parse_iso8601_ms("2026/05/02"));
  CHECK_FALSE(parse_iso8601_ms("2026-5-2"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02X"));
  CHECK_FALSE(parse_iso8601_ms(" 2026-05-02T13:05:11Z"));
  CHECK_FALSE(parse_iso8601_ms("2026-05-02T13:05:11Z "));
  CHECK_FALSE(parse_iso8601_ms("+2026-05-02"));
}

TEST_CASE("rejects garbage and empty text without reading past the end", "[timestamp]") {
  CHECK_FALSE(parse_iso8601_ms(""));
  CHECK_FALSE(parse_iso8601_ms(std::string_view{}));
  CHECK_FALSE(parse_iso8601_ms("now"));
  CHECK_FALSE(parse_iso8601_ms("1777727111"));
  CHECK_FALSE(parse_iso8601_ms("null"));
  // Every prefix of a valid timestamp but the date alone and the whole is rejected; under ASan a
  // read past the end of the view would fail the test.
  const std::string full = "2026-05-02T13:05:11.123+01:00";
  for (std::size_t n = 0; n < full.size(); ++n) {
    // An allocation of exactly n bytes (no terminator), so ASan sees its end.
    const auto bytes = std::make_unique<char[]>(n);
    std::memcpy(bytes.get(), full.data(), n);
    const std::string_view prefix(bytes.get(), n);
    INFO(std::string(prefix));
    if (n == 10) {
      CHECK(parse_iso8601_ms(prefix).has_value());
    } else {
      CHECK_FALSE(parse_iso8601_ms(prefix).has_value());
    }
  }
}

TEST_CASE("duration_label names a duration in its largest whole unit", "[timestamp]") {
  CHECK(webhook::core::duration_label(14400000) == "4h");
  CHECK(webhook::core::duration_label(86400000) == "24h");
  CHECK(webhook::core::duration_label(5400000) == "90m");
  CHECK(webhook::core::duration_label(45000) == "45s");
  CHECK(webhook::core::duration_label(1500) == "1500ms");
  CHECK(webhook::core::duration_label(0) == "0ms");
}
