// core/timestamp: parse_iso8601_ms on any bytes; duration_label on any int64 (the first 8 bytes).
#include <cstring>

#include "fuzz_support.hpp"
#include "webhook/core/timestamp.hpp"

namespace core = webhook::core;
using webhook::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = webhook::fuzz::as_text(data, size);
  if (const auto ms = core::parse_iso8601_ms(text)) {
    // Every accepted form starts with a full date: "YYYY-MM-DD".
    check(text.size() >= 10 && text[4] == '-' && text[7] == '-', "an accepted timestamp is a date");
  }
  std::int64_t value = 0;
  std::memcpy(&value, data, size < sizeof value ? size : sizeof value);
  check(!core::duration_label(value).empty(), "a duration always has a label");
  return 0;
}
