// Signature schemes (conomy/WEBHOOKS.md 2.1-2.3). This file owns the scheme logic and the
// OpenSSL primitives; core/json_text.* owns reading JSON (offsets and compact form).

#include "webhook/core/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <stdexcept>
#include <vector>

#include "core/json_text.hpp"

namespace webhook::core {
namespace {

constexpr std::string_view kSha256Prefix = "sha256=";
constexpr std::string_view kAsciiWhitespace = " \t\n\r\f\v";

const unsigned char* bytes_of(std::string_view s) {
  static const unsigned char kNoBytes = 0;  // OpenSSL wants a valid pointer even for length 0
  return s.empty() ? &kNoBytes : reinterpret_cast<const unsigned char*>(s.data());
}

// HMAC-SHA256 that reports failure instead of throwing; verification treats failure as "no match"
// so an all-zero digest can never verify.
std::optional<Digest> try_hmac(std::string_view key, std::string_view message) {
  if (key.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  Digest d{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(message),
           message.size(), d.data(), &len) == nullptr ||
      len != d.size()) {
    return std::nullopt;
  }
  return d;
}

// Index of the first key whose HMAC of `message` equals `expected`; -1 when none does.
int matching_slot(std::span<const std::string> keys, std::string_view message,
                  const Digest& expected) {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto d = try_hmac(keys[i], message);
    if (d && constant_time_equal(*d, expected)) return static_cast<int>(i);
  }
  return -1;
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(kAsciiWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kAsciiWhitespace);
  return s.substr(first, last - first + 1);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Indices of the top-level members named `name` (compared after unescaping, as JSON.parse does).
std::vector<std::size_t> members_named(const json_text::ObjectLayout& layout,
                                       std::string_view name) {
  const std::string key = json_text::quoted(name);
  std::vector<std::size_t> found;
  for (std::size_t i = 0; i < layout.members.size(); ++i) {
    if (layout.members[i].key == key) found.push_back(i);
  }
  return found;
}

// `body` without member `index`: the member, one adjacent comma and the whitespace between the
// member and the neighbour on that comma's side. A sole member leaves the whitespace around it.
std::string strip_member(std::string_view body, const json_text::ObjectLayout& layout,
                         std::size_t index) {
  const auto& members = layout.members;
  std::size_t begin = members[index].key_begin;
  std::size_t end = members[index].value_end;
  if (index > 0) {
    begin = members[index - 1].value_end;
  } else if (members.size() > 1) {
    end = members[1].key_begin;
  }
  std::string out;
  out.reserve(body.size() - (end - begin));
  out.append(body.substr(0, begin));
  out.append(body.substr(end));
  return out;
}

// B2 from a scanned body: compact members in received order, optionally without "signature".
std::string compact_members(const json_text::ObjectLayout& layout, bool drop_signature) {
  const std::string signature_key = json_text::quoted(kSignatureMember);
  std::string out = "{";
  for (const auto& m : layout.members) {
    if (drop_signature && m.key == signature_key) continue;
    if (out.size() > 1) out.push_back(',');
    out += m.key;
    out.push_back(':');
    out += m.value;
  }
  out.push_back('}');
  return out;
}

// B3 from a scanned body; nullopt unless "event" and "data" each appear exactly once.
std::optional<std::string> event_data(const json_text::ObjectLayout& layout) {
  const auto event = members_named(layout, "event");
  const auto data = members_named(layout, "data");
  if (event.size() != 1 || data.size() != 1) return std::nullopt;
  return "{\"event\":" + layout.members[event[0]].value +
         ",\"data\":" + layout.members[data[0]].value + "}";
}

// True when the body has no top-level member but "event", "data" and "signature": the only
// bodies B3 may verify, since B3 signs nothing else (DESIGN.md 2: a candidate that covers part of
// the body accepts no other members).
bool only_event_data(const json_text::ObjectLayout& layout) {
  const std::string event = json_text::quoted("event");
  const std::string data = json_text::quoted("data");
  const std::string signature = json_text::quoted(kSignatureMember);
  for (const auto& m : layout.members) {
    if (m.key != event && m.key != data && m.key != signature) return false;
  }
  return true;
}

struct SchemeCheck {
  bool verified = false;
  int slot = -1;
  BodyCandidate candidate = BodyCandidate::none;
  bool unsigned_members = false;  // B3 matched, but the body carries members B3 does not sign
};

SchemeCheck check_header(std::span<const std::string> keys, std::string_view value,
                         std::string_view body, const VerifyPolicy& policy) {
  std::string_view hex = trim(value);
  if (policy.allow_sha256_prefix && hex.starts_with(kSha256Prefix)) {
    hex.remove_prefix(kSha256Prefix.size());
  }
  const auto expected = parse_hex_digest(hex);
  if (!expected) return {};
  const int slot = matching_slot(keys, body, *expected);
  return {slot >= 0, slot, BodyCandidate::none};
}

// Precondition: `layout` describes `body` and has at least one top-level "signature".
SchemeCheck check_body(std::span<const std::string> keys, std::string_view body,
                       const json_text::ObjectLayout& layout) {
  const auto found = members_named(layout, kSignatureMember);
  if (found.size() != 1) return {};
  // A JSON string of 64 hex digits has exactly that compact form: quote, digits, quote.
  const std::string& value = layout.members[found[0]].value;
  if (value.size() != 66 || value.front() != '"' || value.back() != '"') return {};
  const auto expected = parse_hex_digest(std::string_view(value).substr(1, 64));
  if (!expected) return {};

  auto attempt = [&](BodyCandidate candidate, std::string_view message) -> SchemeCheck {
    const int slot = matching_slot(keys, message, *expected);
    return {slot >= 0, slot, candidate};
  };
  if (auto r = attempt(BodyCandidate::raw_strip, strip_member(body, layout, found[0]));
      r.verified) {
    return r;
  }
  if (auto r = attempt(BodyCandidate::compact_ordered, compact_members(layout, true)); r.verified) {
    return r;
  }
  if (const auto b3 = event_data(layout)) {
    if (auto r = attempt(BodyCandidate::compact_event_data, *b3); r.verified) {
      if (only_event_data(layout)) return r;
      return {.unsigned_members = true};  // a signed {event, data} with unsigned members added
    }
  }
  return {};
}

}  // namespace

std::string_view to_string(SchemeSetting s) {
  switch (s) {
    case SchemeSetting::automatic:
      return "auto";
    case SchemeSetting::header:
      return "header";
    case SchemeSetting::body:
      return "body";
  }
  return "unknown";
}

std::string_view to_string(Scheme s) {
  switch (s) {
    case Scheme::none:
      return "none";
    case Scheme::header:
      return "header";
    case Scheme::body:
      return "body";
  }
  return "unknown";
}

std::string_view to_string(BodyCandidate c) {
  switch (c) {
    case BodyCandidate::none:
      return "none";
    case BodyCandidate::raw_strip:
      return "raw_strip";
    case BodyCandidate::compact_ordered:
      return "compact_ordered";
    case BodyCandidate::compact_event_data:
      return "compact_event_data";
  }
  return "unknown";
}

std::string_view to_string(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::verified:
      return "verified";
    case VerifyStatus::missing_signature:
      return "missing_signature";
    case VerifyStatus::bad_signature:
      return "bad_signature";
    case VerifyStatus::duplicate_header:
      return "duplicate_header";
    case VerifyStatus::malformed_json:
      return "malformed_json";
    case VerifyStatus::unsigned_members:
      return "unsigned_members";
  }
  return "unknown";
}

std::optional<SchemeSetting> parse_scheme_setting(std::string_view text) {
  if (text == "auto") return SchemeSetting::automatic;
  if (text == "header") return SchemeSetting::header;
  if (text == "body") return SchemeSetting::body;
  return std::nullopt;
}

// Scheme choice (WEBHOOKS.md 2.3): a header is looked at unless the policy says body, a body
// "signature" unless it says header. When both verify, the header is reported (it covers every
// raw byte); `candidate` is set only when the reported scheme is the body scheme.
VerifyResult verify_signature(std::span<const std::string> keys, const SignedDelivery& delivery,
                              const VerifyPolicy& policy) {
  VerifyResult result;
  const bool use_header = policy.scheme != SchemeSetting::body;
  const bool use_body = policy.scheme != SchemeSetting::header;

  if (use_header && delivery.signature_headers.size() > 1) {
    result.status = VerifyStatus::duplicate_header;
    return result;
  }
  const bool header_present = use_header && delivery.signature_headers.size() == 1;

  std::optional<json_text::ObjectLayout> layout;
  bool body_present = false;
  if (use_body) {
    layout = json_text::scan_object(delivery.body);
    if (!layout && (policy.scheme == SchemeSetting::body || !header_present)) {
      result.status = VerifyStatus::malformed_json;
      return result;
    }
    body_present = layout && !members_named(*layout, kSignatureMember).empty();
  }
  if (!header_present && !body_present) {
    result.status = VerifyStatus::missing_signature;
    return result;
  }

  SchemeCheck header;
  SchemeCheck body;
  if (header_present) {
    header = check_header(keys, delivery.signature_headers[0], delivery.body, policy);
  }
  if (body_present) body = check_body(keys, delivery.body, *layout);

  result.both_present = header_present && body_present;
  result.partial_match = result.both_present && header.verified != body.verified;
  const bool verified = result.both_present && policy.require_all_when_both
                            ? header.verified && body.verified
                            : header.verified || body.verified;
  if (!verified) {
    result.status =
        body.unsigned_members ? VerifyStatus::unsigned_members : VerifyStatus::bad_signature;
    return result;
  }
  result.status = VerifyStatus::verified;
  if (header.verified) {
    result.scheme = Scheme::header;
    result.key_slot = header.slot;
  } else {
    result.scheme = Scheme::body;
    result.key_slot = body.slot;
    result.candidate = body.candidate;
  }
  return result;
}

Digest hmac_sha256(std::string_view key, std::string_view message) {
  const auto d = try_hmac(key, message);
  if (!d) throw std::runtime_error("HMAC-SHA256 failed (OpenSSL)");
  return *d;
}

Digest sha256(std::string_view message) {
  Digest d{};
  unsigned int len = 0;
  if (EVP_Digest(bytes_of(message), message.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != d.size()) {
    throw std::runtime_error("SHA-256 failed (OpenSSL)");
  }
  return d;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0F]);
  }
  return out;
}

std::optional<Digest> parse_hex_digest(std::string_view hex) {
  Digest d{};
  if (hex.size() != d.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const int hi = hex_digit(hex[2 * i]);
    const int lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return d;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string sign_header(std::string_view key, std::string_view body) {
  return to_hex(hmac_sha256(key, body));
}

std::optional<std::string> sign_body(std::string_view key, std::string_view body) {
  auto layout = json_text::scan_object(body);
  if (!layout) return std::nullopt;
  const auto found = members_named(*layout, kSignatureMember);
  if (found.size() > 1) return std::nullopt;
  std::string unsigned_body(body);
  if (found.size() == 1) {
    unsigned_body = strip_member(body, *layout, found[0]);
    layout = json_text::scan_object(unsigned_body);
    if (!layout) return std::nullopt;  // unreachable: stripping keeps the document valid
  }
  const std::string hex = sign_header(key, unsigned_body);
  std::string member = "\"signature\":\"" + hex + "\"";
  std::size_t at = layout->open + 1;
  if (!layout->members.empty()) {
    at = layout->members.back().value_end;
    member.insert(0, 1, ',');
  }
  unsigned_body.insert(at, member);
  return unsigned_body;
}

std::optional<std::string> raw_strip(std::string_view body) {
  const auto layout = json_text::scan_object(body);
  if (!layout) return std::nullopt;
  const auto found = members_named(*layout, kSignatureMember);
  if (found.size() != 1) return std::nullopt;
  return strip_member(body, *layout, found[0]);
}

std::optional<std::string> compact_json(std::string_view body, bool drop_top_level_signature) {
  if (drop_top_level_signature) {
    if (const auto layout = json_text::scan_object(body)) return compact_members(*layout, true);
  }
  return json_text::compact(body);
}

std::optional<std::string> compact_event_data(std::string_view body) {
  const auto layout = json_text::scan_object(body);
  if (!layout) return std::nullopt;
  return event_data(*layout);
}

}  // namespace webhook::core
