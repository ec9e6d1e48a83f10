#include "webhook/core/ingest.hpp"

#include "webhook/core/envelope.hpp"

namespace webhook::core {
namespace {

Delivery base_delivery(const SourceSpec& source, const RawDelivery& raw, const VerifyResult& v) {
  Delivery d;
  d.body.assign(raw.body);
  d.request_id.assign(raw.request_id);
  d.received_at_ms = raw.received_at_ms;
  d.scheme = v.scheme;
  d.candidate = v.candidate;
  d.key_slot = v.key_slot;
  d.key.source = source.name;
  return d;
}

Delivery quarantined(Delivery d, std::string_view source, std::string_view body,
                     std::string_view reason, std::string event_type) {
  d.key = quarantine_key(source, body);
  d.key.event_name = event_type;
  d.event_type = std::move(event_type);
  d.quarantined = true;
  d.quarantine_reason.assign(reason);
  return d;
}

}  // namespace

IngestDecision ingest(const SourceSpec& source, const RawDelivery& raw) {
  IngestDecision decision;
  // 1. Verify before trusting a single byte of the body.
  decision.verification =
      verify_signature(source.keys, SignedDelivery{raw.body, raw.signature_headers}, source.verify);
  const VerifyResult& v = decision.verification;
  const bool unsigned_allowed =
      source.allow_unsigned && v.status == VerifyStatus::missing_signature;
  if (v.status == VerifyStatus::malformed_json) {
    decision.kind = IngestDecision::Kind::reject_malformed_json;
    return decision;
  }
  if (!v.ok() && !unsigned_allowed) {
    decision.kind = IngestDecision::Kind::reject_signature;
    return decision;
  }

  // 2. Authentic (or allowed unsigned): parse the envelope and derive the identity.
  decision.kind = IngestDecision::Kind::store;
  Delivery d = base_delivery(source, raw, v);
  auto envelope = parse_envelope(raw.body);
  if (!envelope) {
    // Only reachable under the header scheme (or unsigned): the body scheme verifies with the
    // same JSON reader, so a body it verified always parses.
    decision.delivery = quarantined(std::move(d), source.name, raw.body, "not_json", {});
    return decision;
  }
  // Signed, but ambiguous: never act on what two readers could read differently.
  if (envelope->duplicate_members || envelope->unpaired_surrogate) {
    const std::string_view reason =
        envelope->duplicate_members ? "duplicate_member" : "unpaired_surrogate";
    decision.delivery =
        quarantined(std::move(d), source.name, raw.body, reason, envelope->event_name);
    return decision;
  }
  auto key = derive_dedup_key(source.name, *envelope, source.dedup);
  if (!key) {
    const std::string_view reason = envelope->event_name.empty() ? "no_event_name" : "no_entity_id";
    decision.delivery =
        quarantined(std::move(d), source.name, raw.body, reason, envelope->event_name);
    return decision;
  }

  // 3. A usable event.
  d.key = std::move(*key);
  d.event_type = envelope->event_name;
  d.entity_kind.assign(to_string(envelope->entity_kind));
  d.entity_id = envelope->entity_id;
  decision.delivery = std::move(d);
  return decision;
}

}  // namespace webhook::core
