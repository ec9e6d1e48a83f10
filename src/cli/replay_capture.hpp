#pragma once
// `replay`, the pure part: what a captured delivery is, which ones a run selects, and what is
// sent for each (byte-exact with its original signature, or re-signed). No I/O here; the sources
// (replay_sources.hpp) produce Captures and the sinks (replay_sinks.hpp) consume Outbounds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webhook::cli::replay {

// What the source said about a capture's signature when it was received.
enum class Verdict {
  verified,          // payload log "verified"; a database event with a scheme
  unsigned_allowed,  // accepted without a signature (a source with allow_unsigned)
  not_verified,      // any other payload-log result: the receiver rejected it
  none,              // no verdict at all: a JSON file written or exported by hand
};
Verdict verdict_of(std::string_view verification);  // "" -> none
std::string_view to_string(Verdict v);

// One delivery as a source captured it. Unknown members stay empty (time: -1).
struct Capture {
  std::string origin;  // for messages: "payloads.jsonl:17", "dir/08.json", "old.db event 42"
  std::int64_t received_at_ms = -1;
  std::string source;                                        // configured source name
  std::string request_id;                                    // X-Request-Id the receiver gave it
  std::string target;                                        // request target it was posted to
  std::vector<std::pair<std::string, std::string>> headers;  // as captured
  std::string verification;                                  // "" for files
  std::string body;                                          // raw bytes, byte-exact
  std::int64_t event_id = 0;                                 // database source
  std::string status;                                        // database source
  std::string event_type;  // database source: as stored; otherwise from the body on demand

  Verdict verdict() const { return verdict_of(verification); }
  // Every captured value of a header (any case), in captured order.
  std::vector<std::string> header_values(std::string_view name) const;
};

// The event name in the body ("eventType", or the legacy "event"); "" when there is none.
std::string event_type_of(const Capture& capture);
// Deliveries with equal keys are about the same entity and keep their relative order.
std::string ordering_key(const Capture& capture);

// ---- selection ------------------------------------------------------------------------------

struct Filter {
  std::optional<std::int64_t> since_ms;  // received_at_ms >= since
  std::optional<std::int64_t> until_ms;  // received_at_ms < until
  std::vector<std::string> sources;      // any of; empty = all
  std::vector<std::string> types;        // exact, "prefix.*" or "*"
  std::vector<std::string> verifications;
  std::vector<std::string> request_ids;
  std::vector<std::string> statuses;  // database source
  std::vector<std::int64_t> event_ids;
  std::optional<std::pair<std::int64_t, std::int64_t>> id_range;  // inclusive

  bool matches(const Capture& capture) const;
  bool empty() const;
};

// "2026-11-28T18:22:29.123Z", "2026-11-28T18:22:29+02:00", "2026-11-28T18:22" (UTC),
// "2026-11-28" (midnight UTC) or Unix epoch milliseconds; nullopt otherwise.
std::optional<std::int64_t> parse_time_ms(std::string_view text);
// "A-B", "A-" or "-B" (inclusive event ids); nullopt otherwise.
std::optional<std::pair<std::int64_t, std::int64_t>> parse_id_range(std::string_view text);

// ---- what is sent -----------------------------------------------------------------------------

enum class ResignScheme { none, header, body };

struct SignPlan {
  ResignScheme scheme = ResignScheme::none;
  std::string secret;  // never printed
};

// The bytes and signature headers that go out for one capture.
struct Outbound {
  std::string body;
  std::vector<std::string> signature_headers;  // X-Webhook-Signature values
  // "original", "re-signed header", "re-signed body", or why it went out as captured.
  std::string signing;
  bool resigned = false;
};

// Re-signs only what the source verified (or what has no verdict: hand-made files). A capture the
// receiver rejected, or accepted unsigned, goes out exactly as captured, so a replay can never
// turn an unverified delivery into a verified one. nullopt (with `error`) when the body cannot
// carry the requested signature (the body scheme needs a JSON object).
std::optional<Outbound> prepare_outbound(const Capture& capture, const SignPlan& plan,
                                         std::string& error);

// The body scheme, re-signed: the value of the existing top-level "signature" member is replaced
// in place, every other byte untouched; a body without one gets it appended (core::sign_body).
// nullopt when the body is not a JSON object or has several top-level "signature" members.
std::optional<std::string> resign_body(std::string_view key, std::string_view body);

}  // namespace webhook::cli::replay
