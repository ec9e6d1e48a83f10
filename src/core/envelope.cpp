// parse_envelope(): reads the routing and dedup fields of a Conomy delivery (WEBHOOKS.md 3-4).
//  1. Parse the bytes with RapidJSON (iterative, so deep nesting cannot exhaust the stack;
//     numbers kept as their source text, so ids and counts never pass through a double).
//  2. Pick the shape: a string "eventType" wins; otherwise a string "event" is the legacy shape.
//  3. Pick the entity object and copy the few fields out; everything else is ignored.
// Never throws on any input (std::bad_alloc aside).

#include "webhook/core/envelope.hpp"

#include <rapidjson/document.h>

#include <charconv>
#include <system_error>

namespace webhook::core {
namespace {

using Value = rapidjson::Value;

// The text of a string or number member (numbers arrive as strings under
// kParseNumbersAsStringsFlag); nullopt when absent or of another type.
std::optional<std::string> text_member(const Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// The member `name` of `object` when it is itself an object; nullptr otherwise.
const Value* object_member(const Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsObject()) return nullptr;
  return &it->value;
}

// Whole-text base-10 integer ("1", "-3"); nullopt for "1.0", "1e0", "", overflow, etc.
std::optional<std::int64_t> parse_int64(const std::string& text) {
  std::int64_t value = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  const auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || end != last || text.empty()) return std::nullopt;
  return value;
}

// Chooses the entity object for the eventType shape: the only one present, or by the event
// name's prefix when both "transaction" and "customer" are objects.
void pick_event_type_entity(const Value& root, Envelope& out, const Value*& transaction,
                            const Value*& customer) {
  transaction = object_member(root, "transaction");
  customer = object_member(root, "customer");
  if (transaction != nullptr && customer != nullptr) {
    out.entity_kind =
        out.event_name.starts_with("customer.") ? EntityKind::customer : EntityKind::transaction;
  } else if (transaction != nullptr) {
    out.entity_kind = EntityKind::transaction;
  } else if (customer != nullptr) {
    out.entity_kind = EntityKind::customer;
  }
}

// A usable id: a non-empty string, or the text of a number. Anything else is "absent".
std::string entity_id_of(const Value* entity) {
  if (entity == nullptr) return {};
  return text_member(*entity, "id").value_or(std::string{});
}

}  // namespace

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
  // A raw NUL byte is never valid JSON; RapidJSON would take it for the end of the input and
  // accept "{...}\0garbage", so reject it here.
  if (body.find('\0') != std::string_view::npos) return Err{EnvelopeError::not_json};

  rapidjson::Document doc;
  constexpr unsigned kFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;
  doc.Parse<kFlags>(body.data(), body.size());
  if (doc.HasParseError()) return Err{EnvelopeError::not_json};
  if (!doc.IsObject()) return Err{EnvelopeError::not_an_object};

  Envelope out;
  const Value* transaction = nullptr;
  const Value* customer = nullptr;

  const auto event_type_it = doc.FindMember("eventType");
  const auto event_it = doc.FindMember("event");
  if (event_type_it != doc.MemberEnd() && event_type_it->value.IsString()) {
    out.shape = PayloadShape::event_type;
    out.event_name.assign(event_type_it->value.GetString(), event_type_it->value.GetStringLength());
    out.timestamp = text_member(doc, "timestamp").value_or(std::string{});
    pick_event_type_entity(doc, out, transaction, customer);
  } else if (event_it != doc.MemberEnd() && event_it->value.IsString()) {
    out.shape = PayloadShape::legacy;
    out.event_name.assign(event_it->value.GetString(), event_it->value.GetStringLength());
    if (const Value* data = object_member(doc, "data"))
      transaction = object_member(*data, "transaction");
    if (transaction != nullptr) out.entity_kind = EntityKind::transaction;
  } else {
    return out;  // unknown shape: no event name, no entity; the caller quarantines it
  }

  out.entity_id = entity_id_of(out.entity_kind == EntityKind::customer ? customer : transaction);
  if (transaction != nullptr)
    out.status = text_member(*transaction, "status").value_or(std::string{});
  if (customer != nullptr) {
    out.operation_level = text_member(*customer, "operationLevel");
    if (const auto count = text_member(*customer, "documentsCount")) {
      out.documents_count = parse_int64(*count);
    }
  }
  return out;
}

}  // namespace webhook::core
