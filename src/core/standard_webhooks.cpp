// Standard Webhooks signing and verification (see the header for the scheme).

#include "webhook/core/standard_webhooks.hpp"

#include <algorithm>
#include <array>
#include <exception>

#include "webhook/core/signature.hpp"

namespace webhook::core {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kVersion = "v1";

// The 6-bit value of a base64 character, or -1.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string signed_content(std::string_view msg_id, std::int64_t timestamp_s,
                           std::string_view body) {
  const std::string ts = std::to_string(timestamp_s);
  std::string content;
  content.reserve(msg_id.size() + ts.size() + body.size() + 2);
  content.append(msg_id).append(1, '.').append(ts).append(1, '.').append(body);
  return content;
}

// |a - b| without signed overflow (the unsigned difference is exact modulo 2^64).
std::uint64_t distance(std::int64_t a, std::int64_t b) {
  const auto ua = static_cast<std::uint64_t>(a);
  const auto ub = static_cast<std::uint64_t>(b);
  return a >= b ? ua - ub : ub - ua;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 0x3f]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    const std::uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0U);
    out.push_back(kAlphabet[(v >> 18) & 0x3f]);
    out.push_back(kAlphabet[(v >> 12) & 0x3f]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 0x3f] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    // Padding only in the last quantum: "xx==" or "xxx=".
    std::size_t pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4 - pad; ++j) {
      const int s = sextet(text[i + j]);
      if (s < 0) return std::nullopt;
      v |= static_cast<std::uint32_t>(s) << (18 - 6 * j);
    }
    // Bits below the last full byte must be zero (one canonical encoding per byte string).
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0)) return std::nullopt;
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

std::optional<std::string> standard_webhooks_key(std::string_view secret) {
  if (!secret.starts_with(kStandardWebhooksSecretPrefix)) return std::string(secret);
  auto key = base64_decode(secret.substr(kStandardWebhooksSecretPrefix.size()));
  if (!key || key->empty()) return std::nullopt;
  return key;
}

std::string standard_webhooks_signature(std::string_view secret, std::string_view msg_id,
                                        std::int64_t timestamp_s, std::string_view body) {
  const auto key = standard_webhooks_key(secret);
  if (!key) return {};
  const Digest mac = hmac_sha256(*key, signed_content(msg_id, timestamp_s, body));
  const std::string_view raw(reinterpret_cast<const char*>(mac.data()), mac.size());
  return std::string(kVersion) + "," + base64_encode(raw);
}

bool verify_standard_webhooks(std::string_view secret, std::string_view msg_id,
                              std::int64_t timestamp_s, std::string_view body,
                              std::string_view header_value, std::int64_t now_s,
                              std::int64_t tolerance_s) {
  if (tolerance_s < 0 || distance(now_s, timestamp_s) > static_cast<std::uint64_t>(tolerance_s)) {
    return false;
  }
  const auto key = standard_webhooks_key(secret);
  if (!key) return false;
  Digest expected{};
  try {
    expected = hmac_sha256(*key, signed_content(msg_id, timestamp_s, body));
  } catch (const std::exception&) {
    return false;  // OpenSSL failure: nothing can verify
  }
  bool matched = false;
  std::size_t pos = 0;
  while (pos <= header_value.size()) {
    const std::size_t end = std::min(header_value.find(' ', pos), header_value.size());
    const std::string_view entry = header_value.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t comma = entry.find(',');
    if (comma == std::string_view::npos || entry.substr(0, comma) != kVersion) continue;
    const auto decoded = base64_decode(entry.substr(comma + 1));
    if (!decoded || decoded->size() != expected.size()) continue;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(decoded->data());
    // Every entry is checked (no early exit), so timing does not tell which one matched.
    if (constant_time_equal({bytes, decoded->size()}, expected)) matched = true;
  }
  return matched;
}

}  // namespace webhook::core
