#pragma once
// Byte-level text helpers shared by every module: strict UTF-8 validation (RFC 3629 / Unicode
// table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF) and standard base64
// (RFC 4648 section 4, '=' padded). Pure; never throw.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace webhook::core {

// Length (1-4) of the valid UTF-8 sequence starting at s[pos], or 0 when none starts there
// (pos < s.size()).
std::size_t utf8_sequence_length(std::string_view s, std::size_t pos);
bool is_valid_utf8(std::string_view s);
// `s` with every byte that starts no valid sequence replaced by U+FFFD (for JSON documents).
std::string replace_invalid_utf8(std::string_view s);

// The value (0-15) of a hexadecimal digit, -1 for any other character.
int hex_digit_value(char c);

// RFC 3986 percent-decoding ("%2F" -> "/"); with plus_is_space also '+' -> ' ' (form-encoded
// query strings). nullopt for a '%' not followed by two hexadecimal digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

std::string base64_encode(std::string_view bytes);
// Strict decoding of standard, padded base64: nullopt for a length that is not a multiple of 4,
// a character outside the alphabet, misplaced padding, or non-zero unused bits.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace webhook::core
