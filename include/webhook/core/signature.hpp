#pragma once
// Signature schemes of the Conomy platform (conomy/WEBHOOKS.md section 2). Pure functions: no I/O.
//  1. verify_signature() picks the scheme (header, body field, or both) from the source's policy
//     and what the delivery carries.
//  2. Header scheme H: hex HMAC-SHA256 of the raw body in `X-Webhook-Signature`.
//  3. Body scheme B: top-level "signature" member; candidates B1 raw-strip, B2 compact ordered
//     re-serialisation, B3 compact {event, data}, tried in that order. Every byte that decides
//     anything is covered: B1 and B2 cover every member but "signature"; B3 covers only "event"
//     and "data", so it verifies only bodies that have no other member.
//  4. Every comparison is constant-time; the result names the scheme, candidate and key slot that
//     matched, never the key.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace webhook::core {

inline constexpr std::string_view kSignatureHeader = "X-Webhook-Signature";
inline constexpr std::string_view kSignatureMember = "signature";

// Where a source expects its signature (config `sources[].scheme`).
enum class SchemeSetting { automatic, header, body };

// The scheme that verified a delivery.
enum class Scheme { none, header, body };

// Body-field candidates of WEBHOOKS.md 2.2 (B1..B3), in the order they are tried.
enum class BodyCandidate { none, raw_strip, compact_ordered, compact_event_data };

std::string_view to_string(SchemeSetting s);
std::string_view to_string(Scheme s);
std::string_view to_string(BodyCandidate c);
std::optional<SchemeSetting> parse_scheme_setting(std::string_view text);

struct VerifyPolicy {
  SchemeSetting scheme = SchemeSetting::automatic;
  // When both a header and a body signature are present: false = either may verify (default),
  // true = every present scheme must verify ("require_all").
  bool require_all_when_both = false;
  // Accept a "sha256=" prefix on the header value (off: not documented by the platform).
  bool allow_sha256_prefix = false;
};

// What a delivery carries that matters for verification. Views must outlive the call.
struct SignedDelivery {
  std::string_view body;  // raw bytes exactly as received
  // Every X-Webhook-Signature header value present, in order (empty: none; two or more: rejected).
  std::span<const std::string_view> signature_headers;
};

enum class VerifyStatus {
  verified,
  missing_signature,  // the policy's scheme(s) found no signature to check
  bad_signature,      // a signature was present and no key matched (or it was not 64 hex chars)
  duplicate_header,   // X-Webhook-Signature appeared more than once
  malformed_json,     // the body scheme was required and the body is not a JSON object
  unsigned_members,   // B3 matched, but the body has members B3 does not sign (a forgery, or a
                      // platform that signs less than it sends): rejected like a bad signature
};
std::string_view to_string(VerifyStatus s);

struct VerifyResult {
  VerifyStatus status = VerifyStatus::missing_signature;
  Scheme scheme = Scheme::none;                   // which scheme verified (when verified)
  BodyCandidate candidate = BodyCandidate::none;  // which B candidate matched (body scheme)
  int key_slot = -1;                              // index of the matching key; -1 when none
  bool both_present = false;                      // header and body signature were both present
  bool partial_match = false;                     // both present, only one verified (warn)

  bool ok() const { return status == VerifyStatus::verified; }
};

// Verifies `delivery` against `keys` (current key first; slot = index). Never throws on input.
VerifyResult verify_signature(std::span<const std::string> keys, const SignedDelivery& delivery,
                              const VerifyPolicy& policy);

// ---- primitives -----------------------------------------------------------------------------

using Digest = std::array<std::uint8_t, 32>;

Digest hmac_sha256(std::string_view key, std::string_view message);
Digest sha256(std::string_view message);
std::string to_hex(std::span<const std::uint8_t> bytes);  // lowercase
// Decodes exactly 64 hex digits (either case) into a digest; nullopt otherwise.
std::optional<Digest> parse_hex_digest(std::string_view hex);
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// ---- signing (tests, the `sign` subcommand, replay) -----------------------------------------

// Lowercase hex HMAC-SHA256 of `body`: the X-Webhook-Signature value for that body.
std::string sign_header(std::string_view key, std::string_view body);

// Returns `body` with its top-level "signature" member set to the HMAC of the body without it
// (B1: the bytes are not re-serialised; an existing member is replaced). The new member is
// inserted right after the last member's value, so raw_strip() of the result is exactly
// raw_strip(body) (or `body` itself when it had no signature). nullopt when `body` is not a JSON
// object or has more than one top-level "signature".
std::optional<std::string> sign_body(std::string_view key, std::string_view body);

// ---- body-scheme message candidates (exposed for tests and the verify subcommand) ------------

// B1: the raw body with the top-level "signature" member, one adjacent comma and the whitespace
// between them removed; every other byte untouched. nullopt when the body is not a JSON object,
// or has no (or more than one) top-level "signature".
std::optional<std::string> raw_strip(std::string_view body);

// Compact JSON of `body` in received key order with JavaScript JSON.stringify escaping; with
// `drop_top_level_signature` the top-level "signature" member is left out. nullopt on bad JSON.
std::optional<std::string> compact_json(std::string_view body, bool drop_top_level_signature);

// B3: compact {"event":..., "data":...} built from the body's top-level members; nullopt when
// the body has no "event" or no "data". (verify_signature() accepts a B3 match only when the body
// has no other member than these and "signature".)
std::optional<std::string> compact_event_data(std::string_view body);

}  // namespace webhook::core
