#pragma once
// Standard Webhooks signatures (https://www.standardwebhooks.com, spec "Signature scheme"): the
// headers the forward handler adds so an internal service can trust what we pass on. Pure
// functions: no I/O, no clock (the current time is an argument).
//  1. The signed content is "{msg_id}.{timestamp}.{body}", timestamp in decimal Unix seconds.
//  2. The signature is HMAC-SHA256 of that content, base64 (standard alphabet, padded), sent as
//     "v1,<base64>" in `webhook-signature`; the header may carry several space-separated
//     signatures (key rotation, other schemes such as "v1a,..."), any valid v1 one verifies.
//  3. Secrets: "whsec_<base64>" is decoded as the spec says; any other text is used as raw key
//     bytes (so an existing plain shared secret works unchanged).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/text.hpp"

namespace webhook::core {

inline constexpr std::string_view kStandardWebhooksIdHeader = "webhook-id";
inline constexpr std::string_view kStandardWebhooksTimestampHeader = "webhook-timestamp";
inline constexpr std::string_view kStandardWebhooksSignatureHeader = "webhook-signature";
inline constexpr std::string_view kStandardWebhooksSecretPrefix = "whsec_";

// base64_encode/base64_decode live in webhook/core/text.hpp.

// The HMAC key of `secret`: the base64-decoding of what follows "whsec_" when it starts with
// that prefix, otherwise the secret's own bytes. nullopt when a whsec_ secret does not decode or
// decodes to nothing (a configuration error: callers validate it at start-up).
std::optional<std::string> standard_webhooks_key(std::string_view secret);

// "v1,<base64 HMAC-SHA256 of msg_id.timestamp_s.body>" under standard_webhooks_key(secret); ""
// when the secret has no usable key (see above).
std::string standard_webhooks_signature(std::string_view secret, std::string_view msg_id,
                                        std::int64_t timestamp_s, std::string_view body);

// True when `header_value` (the webhook-signature header: space-separated "<version>,<sig>"
// entries) holds at least one "v1" signature equal (constant-time) to the one computed for
// msg_id/timestamp_s/body, and |now_s - timestamp_s| <= tolerance_s (replay protection; pass a
// non-negative tolerance). Entries of other versions or that do not decode are skipped. Never
// throws on input.
bool verify_standard_webhooks(std::string_view secret, std::string_view msg_id,
                              std::int64_t timestamp_s, std::string_view body,
                              std::string_view header_value, std::int64_t now_s,
                              std::int64_t tolerance_s = 300);

}  // namespace webhook::core
