#pragma once
// Envelope: the few fields of a Conomy delivery the receiver needs to route and deduplicate
// (conomy/WEBHOOKS.md sections 3-4). Pure: parses bytes, never throws, ignores unknown fields.
//  1. Legacy shape: {"event", "data": {"transaction": {...}}}.
//  2. eventType shape: {"eventType", "timestamp", "transaction" | "customer": {...}}.
//  3. Fields are optional; a missing entity id leaves entity_id empty (the caller quarantines).
//  4. Names are JSON strings only ("eventType":1e2 names nothing); ids may be numbers (as text).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/result.hpp"

namespace webhook::core {

enum class PayloadShape { legacy, event_type, unknown };
enum class EntityKind { none, transaction, customer };

std::string_view to_string(PayloadShape s);
std::string_view to_string(EntityKind k);

struct Envelope {
  PayloadShape shape = PayloadShape::unknown;
  std::string event_name;  // "eventType", or "event" for the legacy shape, verbatim
  EntityKind entity_kind = EntityKind::none;
  std::string entity_id;  // transaction.id, data.transaction.id or customer.id; empty if absent
  std::string status;     // transaction status when present (amounts and ids stay strings)
  std::string timestamp;  // eventType shape only; empty if absent
  // customer.levelChanged state (WEBHOOKS.md 5.3).
  std::optional<std::string> operation_level;
  std::optional<std::int64_t> documents_count;
  // Why the identity above is not safe to act on (the caller quarantines): some object names a
  // member twice (readers disagree on which one counts), or a field above held an unpaired
  // surrogate escape (decoded as U+FFFD, so two different ids could read the same).
  bool duplicate_members = false;
  bool unpaired_surrogate = false;
};

enum class EnvelopeError { not_json, not_an_object };
std::string_view to_string(EnvelopeError e);

Result<Envelope, EnvelopeError> parse_envelope(std::string_view body);

}  // namespace webhook::core
