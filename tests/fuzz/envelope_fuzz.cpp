// core/envelope and core/dedup_key: any bytes give an envelope or an error, never a crash; a key
// exists exactly when the envelope has an event name, entity kind and id, and carries them
// verbatim.
#include <string>

#include "fuzz_support.hpp"
#include "webhook/core/dedup_key.hpp"
#include "webhook/core/envelope.hpp"

namespace core = webhook::core;
using webhook::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = webhook::fuzz::as_text(data, size);
  const auto quarantined = core::quarantine_key("production", body);
  check(quarantined.entity_id.size() == 64, "a quarantine key is the body's SHA-256");
  const auto envelope = core::parse_envelope(body);
  if (!envelope.ok()) return 0;
  const core::Envelope& e = envelope.value();
  for (const core::DedupPolicy policy : {core::DedupPolicy{}, core::DedupPolicy{false, true, true},
                                         core::DedupPolicy{true, false, true}}) {
    const auto key = core::derive_dedup_key("production", e, policy);
    check(key.has_value() == (!e.event_name.empty() && !e.entity_id.empty() &&
                              e.entity_kind != core::EntityKind::none),
          "a dedup key exactly when there is an event name, an entity kind and an id");
    if (!key) continue;
    check(key->event_name == e.event_name && key->entity_id == e.entity_id,
          "the key carries the event name and entity id verbatim");
    check(key->entity_kind == core::to_string(e.entity_kind), "the key names the entity kind");
  }
  return 0;
}
