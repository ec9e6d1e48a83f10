#pragma once
// Delivery: one verified webhook as the inbox stores it. Built by ingest(), owned by value.

#include <cstdint>
#include <string>

#include "webhook/core/dedup_key.hpp"
#include "webhook/core/signature.hpp"

namespace webhook::core {

struct Delivery {
  DedupKey key;
  std::string event_type;   // verbatim event name; empty when quarantined for lack of one
  std::string entity_kind;  // "transaction" | "customer" | "" when quarantined
  std::string entity_id;
  bool quarantined = false;
  // "no_entity_id", "no_event_name", "not_json", "duplicate_member", "unpaired_surrogate"
  std::string quarantine_reason;
  std::string body;  // raw bytes, byte-exact
  std::string request_id;
  std::int64_t received_at_ms = 0;  // Unix epoch milliseconds
  Scheme scheme = Scheme::none;
  BodyCandidate candidate = BodyCandidate::none;
  int key_slot = -1;
  // The payload log's line for this delivery (storage/payload_log.hpp), ending in '\n'; the
  // writer writes the lines of a batch with one write(2) before the batch commits. Empty: none.
  std::string payload_log_line;
};

}  // namespace webhook::core
