// parse_envelope(): reads the routing and dedup fields of a Conomy delivery (WEBHOOKS.md 3-4).
//  1. Parse the bytes with core's own JSON reader (json_text), the same one the body-signature
//     scheme verifies with, so every body that verifies is read, and read the same way (bounded
//     depth, strict UTF-8, numbers kept as their source text, unpaired surrogates as U+FFFD).
//  2. Pick the shape and the entity object (core/payload.hpp); copy the few fields out.
//  3. Flag what makes the identity unsafe to act on: a member named twice anywhere (a reader that
//     keeps the last would see another payload), or a key field holding an unpaired surrogate.
// Never throws on any input (std::bad_alloc aside).

#include "webhook/core/envelope.hpp"

#include <charconv>
#include <system_error>

#include "core/payload.hpp"

namespace webhook::core {
namespace {

using json_text::Value;

bool lossy_member(const Value* object, std::string_view name) {
  const Value* v = object != nullptr ? object->find(name) : nullptr;
  return v != nullptr && v->lossy;
}

}  // namespace

PayloadParts payload_parts(const Value& root) {
  PayloadParts parts;
  const Value* event_type = root.find("eventType");
  const Value* event = root.find("event");
  if (event_type != nullptr && event_type->is_string()) {
    parts.shape = PayloadShape::event_type;
    parts.event_name = event_type;
    parts.transaction = root.object("transaction");
    parts.customer = root.object("customer");
    return parts;
  }
  const Value* data = root.object("data");
  const Value* legacy_transaction = data != nullptr ? data->object("transaction") : nullptr;
  if (event != nullptr && event->is_string()) {
    parts.shape = PayloadShape::legacy;
    parts.event_name = event;
    parts.transaction = legacy_transaction;
    return parts;
  }
  // No name: never an event (ingest quarantines it); read leniently for the tools.
  parts.transaction = root.object("transaction");
  if (parts.transaction == nullptr) parts.transaction = legacy_transaction;
  parts.customer = root.object("customer");
  return parts;
}

std::optional<std::int64_t> whole_number(std::string_view text) {
  std::int64_t value = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  const auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || end != last || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::string> text_of(const Value* object, std::string_view name, bool numbers) {
  const Value* v = object != nullptr ? object->find(name) : nullptr;
  if (v == nullptr) return std::nullopt;
  if (v->is_string() || (numbers && v->kind == Value::Kind::number)) return v->text;
  return std::nullopt;
}

std::string_view to_string(PayloadShape s) {
  switch (s) {
    case PayloadShape::legacy:
      return "legacy";
    case PayloadShape::event_type:
      return "event_type";
    case PayloadShape::unknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view to_string(EntityKind k) {
  switch (k) {
    case EntityKind::none:
      return "none";
    case EntityKind::transaction:
      return "transaction";
    case EntityKind::customer:
      return "customer";
  }
  return "none";
}

std::string_view to_string(EnvelopeError e) {
  switch (e) {
    case EnvelopeError::not_json:
      return "not_json";
    case EnvelopeError::not_an_object:
      return "not_an_object";
  }
  return "not_json";
}

Result<Envelope, EnvelopeError> parse_envelope(std::string_view body) {
  auto doc = json_text::parse(body);
  if (!doc) return Err{EnvelopeError::not_json};
  if (!doc->root.is_object()) return Err{EnvelopeError::not_an_object};

  Envelope out;
  out.duplicate_members = doc->duplicate_keys;
  const PayloadParts parts = payload_parts(doc->root);
  out.shape = parts.shape;
  if (parts.shape == PayloadShape::unknown) return out;  // no event name: the caller quarantines
  out.event_name = parts.event_name->text;
  if (parts.shape == PayloadShape::event_type) {
    out.timestamp = text_of(&doc->root, "timestamp").value_or(std::string{});
  }

  // The entity: the only object present, or by the event name's prefix when both are.
  const Value* entity = nullptr;
  if (parts.transaction != nullptr && parts.customer != nullptr) {
    out.entity_kind =
        out.event_name.starts_with("customer.") ? EntityKind::customer : EntityKind::transaction;
  } else if (parts.transaction != nullptr) {
    out.entity_kind = EntityKind::transaction;
  } else if (parts.customer != nullptr) {
    out.entity_kind = EntityKind::customer;
  }
  if (out.entity_kind != EntityKind::none) {
    entity = out.entity_kind == EntityKind::customer ? parts.customer : parts.transaction;
    // A usable id: a non-empty string, or the text of a number. Anything else is "absent".
    out.entity_id = text_of(entity, "id", true).value_or(std::string{});
  }
  out.status = text_of(parts.transaction, "status").value_or(std::string{});
  if (parts.customer != nullptr) {
    out.operation_level = text_of(parts.customer, "operationLevel");
    if (const auto count = text_of(parts.customer, "documentsCount", true)) {
      out.documents_count = whole_number(*count);
    }
  }
  out.unpaired_surrogate = parts.event_name->lossy || lossy_member(entity, "id") ||
                           lossy_member(parts.transaction, "status") ||
                           lossy_member(parts.customer, "operationLevel") ||
                           lossy_member(&doc->root, "timestamp");
  return out;
}

}  // namespace webhook::core
