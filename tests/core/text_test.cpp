// Tests include/webhook/core/text.hpp's percent-decoding and hex digits (the admin API's paths
// and query strings, PostgreSQL URLs, JSON \u escapes).
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "webhook/core/text.hpp"

using webhook::core::hex_digit_value;
using webhook::core::percent_decode;

TEST_CASE("hex digits in either case, -1 for anything else", "[text]") {
  CHECK(hex_digit_value('0') == 0);
  CHECK(hex_digit_value('9') == 9);
  CHECK(hex_digit_value('a') == 10);
  CHECK(hex_digit_value('F') == 15);
  CHECK(hex_digit_value('g') == -1);
  CHECK(hex_digit_value('/') == -1);
}

TEST_CASE("percent-decoding, '+' only in query strings, broken escapes refused", "[text]") {
  CHECK(percent_decode("tx%2F1%20a") == std::optional<std::string>("tx/1 a"));
  CHECK(percent_decode("%e2%82%ac") == std::optional<std::string>("\xE2\x82\xAC"));
  CHECK(percent_decode("a+b") == std::optional<std::string>("a+b"));
  CHECK(percent_decode("a+b", true) == std::optional<std::string>("a b"));
  CHECK(percent_decode("%00") == std::optional<std::string>(std::string(1, '\0')));
  CHECK(percent_decode("") == std::optional<std::string>(""));
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("ab%2"));
  CHECK_FALSE(percent_decode("%zz"));
  CHECK_FALSE(percent_decode("%2g"));
}
