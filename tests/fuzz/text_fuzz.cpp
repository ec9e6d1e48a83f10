// core/text: strict UTF-8 and base64. utf8_sequence_length() walks exactly the strings
// is_valid_utf8() accepts; base64 round-trips both ways (strict decoding accepts only the
// canonical encoding).
#include <string>

#include "fuzz_support.hpp"
#include "webhook/core/text.hpp"

namespace core = webhook::core;
using webhook::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = webhook::fuzz::as_text(data, size);
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t length = core::utf8_sequence_length(bytes, pos);
    check(length <= 4 && pos + length <= bytes.size(), "a UTF-8 sequence lies inside the input");
    if (length == 0) break;
    pos += length;
  }
  check(core::is_valid_utf8(bytes) == (pos == bytes.size()),
        "is_valid_utf8 agrees with utf8_sequence_length");

  const std::string encoded = core::base64_encode(bytes);
  check(core::base64_decode(encoded) == std::string(bytes), "base64 decode(encode(x)) == x");
  if (const auto decoded = core::base64_decode(bytes)) {
    check(core::base64_encode(*decoded) == bytes, "base64 strict decoding is canonical");
  }
  return 0;
}
