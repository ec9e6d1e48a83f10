#pragma once
// DedupKey: the identity of an event (DESIGN.md section 3, WEBHOOKS.md 5.3). Two deliveries with
// equal keys are one event; the inbox enforces it with a UNIQUE constraint.

#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/envelope.hpp"

namespace webhook::core {

struct DedupKey {
  std::string source;       // configured source name ("production", "sandbox")
  std::string event_name;   // verbatim
  std::string entity_kind;  // "transaction" | "customer" | "quarantine"
  std::string entity_id;    // for quarantine: hex SHA-256 of the raw body
  std::string state_token;  // see derive_dedup_key

  friend bool operator==(const DedupKey&, const DedupKey&) = default;
};

struct DedupPolicy {
  bool customer_state = true;             // customer.levelChanged: operationLevel|documentsCount
  bool include_state_everywhere = false;  // status in the key of every transaction event
  // payment.requiresReview: the payload's timestamp in the key, so an operator's second review of
  // a payment is a new event (a byte-identical retry still is not).
  bool review_cycles = false;
};

// The key for a parsed delivery. State token: the status for the legacy shape and for
// transaction.status_changed (always); operationLevel|documentsCount for customer.levelChanged
// (when customer_state); the timestamp for payment.requiresReview (when review_cycles, before
// include_state_everywhere); the status everywhere else only with include_state_everywhere.
// nullopt when there is no event name or no entity id: such a delivery is quarantined.
std::optional<DedupKey> derive_dedup_key(std::string_view source, const Envelope& envelope,
                                         const DedupPolicy& policy);

// The key under which an unusable verified delivery is quarantined: entity_kind "quarantine",
// entity_id = hex SHA-256 of the body, so a retried copy of it is a duplicate.
DedupKey quarantine_key(std::string_view source, std::string_view body);

}  // namespace webhook::core
