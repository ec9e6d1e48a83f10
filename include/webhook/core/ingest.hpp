#pragma once
// ingest(): the pure decision for one webhook POST, before any I/O.
//  1. Verify the signature with the source's keys and policy.
//  2. Parse the envelope; derive the dedup key.
//  3. Verified and usable -> a Delivery to store; verified but unusable -> a quarantined Delivery;
//     not verified -> a rejection (nothing enters the inbox).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/core/dedup_key.hpp"
#include "webhook/core/delivery.hpp"
#include "webhook/core/signature.hpp"

namespace webhook::core {

// What ingest needs to know about a configured source (built from config by app).
struct SourceSpec {
  std::string name;
  std::string path;
  VerifyPolicy verify;
  DedupPolicy dedup;
  std::vector<std::string> keys;     // current key first; never logged
  bool allow_unsigned = false;       // sandbox only: accept deliveries with no signature at all
  bool malformed_reply_400 = false;  // answer quarantined deliveries 400 instead of 200
};

// One POST as received. Views must outlive the call.
struct RawDelivery {
  std::string_view body;
  std::span<const std::string_view> signature_headers;
  std::string_view request_id;
  std::int64_t received_at_ms = 0;
};

struct IngestDecision {
  enum class Kind { store, reject_signature, reject_malformed_json };
  Kind kind = Kind::reject_signature;
  VerifyResult verification;
  std::optional<Delivery> delivery;  // set when kind == store (may be quarantined)
};

IngestDecision ingest(const SourceSpec& source, const RawDelivery& raw);

}  // namespace webhook::core
