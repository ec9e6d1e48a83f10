// derive_dedup_key() and quarantine_key(): the event identity of WEBHOOKS.md 5.3 / DESIGN.md 3.
// Pure and total: any Envelope gives a key or nullopt, never an exception (std::bad_alloc aside).

#include "webhook/core/dedup_key.hpp"

#include "webhook/core/signature.hpp"

namespace webhook::core {
namespace {

constexpr std::string_view kStatusChanged = "transaction.status_changed";
constexpr std::string_view kCustomerLevelChanged = "customer.levelChanged";
constexpr std::string_view kRequiresReview = "payment.requiresReview";

// operationLevel + "|" + documentsCount; a missing part is the empty string ("BASIC|", "|2").
std::string customer_state_token(const Envelope& envelope) {
  std::string token = envelope.operation_level.value_or(std::string{});
  token += '|';
  if (envelope.documents_count) token += std::to_string(*envelope.documents_count);
  return token;
}

// The state token of WEBHOOKS.md 5.3: which state of the entity this event announces, for the
// events whose name alone does not tell transitions apart.
std::string state_token(const Envelope& envelope, const DedupPolicy& policy) {
  if (envelope.shape == PayloadShape::legacy) return envelope.status;
  if (envelope.event_name == kStatusChanged) return envelope.status;
  if (envelope.event_name == kCustomerLevelChanged && policy.customer_state) {
    return customer_state_token(envelope);
  }
  if (envelope.event_name == kRequiresReview && policy.review_cycles) return envelope.timestamp;
  if (policy.include_state_everywhere) return envelope.status;
  return {};
}

}  // namespace

std::optional<DedupKey> derive_dedup_key(std::string_view source, const Envelope& envelope,
                                         const DedupPolicy& policy) {
  if (envelope.event_name.empty() || envelope.entity_id.empty()) return std::nullopt;
  if (envelope.entity_kind == EntityKind::none) return std::nullopt;
  DedupKey key;
  key.source = std::string(source);
  key.event_name = envelope.event_name;
  key.entity_kind = std::string(to_string(envelope.entity_kind));
  key.entity_id = envelope.entity_id;
  key.state_token = state_token(envelope, policy);
  return key;
}

DedupKey quarantine_key(std::string_view source, std::string_view body) {
  const Digest digest = sha256(body);
  DedupKey key;
  key.source = std::string(source);
  key.entity_kind = "quarantine";
  key.entity_id = to_hex(digest);
  return key;
}

}  // namespace webhook::core
