// Standard Webhooks signing and verification (see the header for the scheme).

#include "webhook/core/standard_webhooks.hpp"

#include <algorithm>
#include <array>
#include <exception>

#include "webhook/core/signature.hpp"

namespace webhook::core {
namespace {

constexpr std::string_view kVersion = "v1";

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
