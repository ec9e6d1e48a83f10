// core/signature: both schemes, with the forgery invariant of issue 10 as an assertion.
//
// Body scheme: the input is a body B. Its top-level "signature" member is set (replaced, or
// inserted after the last member) to a placeholder, giving B0; for each candidate message M that
// B0 yields (B1 raw strip, B2 compact re-serialisation, B3 compact {event, data}), the
// placeholder is replaced by the HMAC of M under a test key, giving B'. Whenever B' verifies, the
// matched candidate's message must describe the same event as B' itself: same envelope (event
// name, entity kind and id, status, timestamp, operationLevel, documentsCount) and the same
// payment and customer facts. Otherwise bytes outside the signature decide something: a forgery.
//
// Header scheme: a correct X-Webhook-Signature verifies any body; a header built from the input
// is fuzzed for crashes only (the header covers every byte, nothing else to assert).
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "core/json_text.hpp"
#include "fuzz_support.hpp"
#include "webhook/core/envelope.hpp"
#include "webhook/core/projection.hpp"
#include "webhook/core/signature.hpp"

namespace core = webhook::core;
using webhook::fuzz::check;

namespace {

const std::string kKey = "whsec_test_only_fuzz_0001";
const std::vector<std::string> kKeys = {kKey};
const std::string kPlaceholder(64, '0');

// B with its top-level "signature" set to the placeholder, and where the placeholder starts;
// nullopt when B is not a JSON object or has several top-level signatures.
std::optional<std::pair<std::string, std::size_t>> with_placeholder(std::string_view body) {
  const auto layout = core::json_text::scan_object(body);
  if (!layout) return std::nullopt;
  const std::string name = core::json_text::quoted(core::kSignatureMember);
  const core::json_text::Member* existing = nullptr;
  for (const auto& member : layout->members) {
    if (member.key != name) continue;
    if (existing != nullptr) return std::nullopt;
    existing = &member;
  }
  const std::string member = name + ":\"" + kPlaceholder + "\"";
  std::string out(body);
  std::size_t at = 0;
  if (existing != nullptr) {
    at = existing->key_begin;
    out.replace(at, existing->value_end - at, member);
  } else if (layout->members.empty()) {
    at = layout->open + 1;
    out.insert(at, member);
  } else {
    at = layout->members.back().value_end;
    out.insert(at, "," + member);
    ++at;
  }
  return std::pair{out, at + name.size() + 2};
}

std::optional<std::string> candidate_message(core::BodyCandidate candidate, std::string_view body) {
  switch (candidate) {
    case core::BodyCandidate::raw_strip:
      return core::raw_strip(body);
    case core::BodyCandidate::compact_ordered:
      return core::compact_json(body, true);
    case core::BodyCandidate::compact_event_data:
      return core::compact_event_data(body);
    case core::BodyCandidate::none:
      break;
  }
  return std::nullopt;
}

bool same_payment(const core::PaymentFacts& a, const core::PaymentFacts& b) {
  return a.transaction_id == b.transaction_id && a.status == b.status &&
         a.external_id == b.external_id && a.type == b.type && a.total_amount == b.total_amount &&
         a.currency == b.currency && a.customer_id == b.customer_id &&
         a.parent_payment_id == b.parent_payment_id &&
         a.related_payment_id == b.related_payment_id &&
         a.settlement_batch_id == b.settlement_batch_id &&
         a.documentation_status == b.documentation_status && a.settled_at == b.settled_at &&
         a.expired_at == b.expired_at && a.unsettled_at == b.unsettled_at &&
         a.unsettled_reason == b.unsettled_reason && a.occurred_at_ms == b.occurred_at_ms;
}

bool same_customer(const core::CustomerFacts& a, const core::CustomerFacts& b) {
  return a.customer_id == b.customer_id && a.client_id == b.client_id &&
         a.operation_level == b.operation_level && a.documents_count == b.documents_count &&
         a.auto_created == b.auto_created && a.occurred_at_ms == b.occurred_at_ms;
}

template <typename T, typename Same>
bool same_optional(const std::optional<T>& a, const std::optional<T>& b, Same same) {
  if (a.has_value() != b.has_value()) return false;
  return !a || same(*a, *b);
}

// What the handlers would act on when `signed_body` verified through `message`.
void check_same_event(std::string_view signed_body, std::string_view message) {
  const auto delivered = core::parse_envelope(signed_body);
  const auto covered = core::parse_envelope(message);
  check(delivered.ok() == covered.ok(), "forgery: the body and its signed message both parse");
  if (delivered.ok()) {
    const core::Envelope& a = delivered.value();
    const core::Envelope& b = covered.value();
    check(a.event_name == b.event_name, "forgery: event name outside the signed bytes");
    check(a.entity_kind == b.entity_kind, "forgery: entity kind outside the signed bytes");
    check(a.entity_id == b.entity_id, "forgery: entity id outside the signed bytes");
    check(a.status == b.status, "forgery: status outside the signed bytes");
    check(a.timestamp == b.timestamp, "forgery: timestamp outside the signed bytes");
    check(a.operation_level == b.operation_level, "forgery: operationLevel outside the signature");
    check(a.documents_count == b.documents_count, "forgery: documentsCount outside the signature");
  }
  check(same_optional(core::payment_facts(signed_body), core::payment_facts(message), same_payment),
        "forgery: payment projection reads bytes outside the signature");
  check(same_optional(core::customer_facts(signed_body), core::customer_facts(message),
                      same_customer),
        "forgery: customer projection reads bytes outside the signature");
}

void fuzz_body_scheme(std::string_view body) {
  const auto prepared = with_placeholder(body);
  if (!prepared) return;
  const auto& [unsigned_body, hex_at] = *prepared;
  const core::VerifyPolicy policy{};  // scheme auto, either
  for (auto candidate : {core::BodyCandidate::raw_strip, core::BodyCandidate::compact_ordered,
                         core::BodyCandidate::compact_event_data}) {
    const auto message = candidate_message(candidate, unsigned_body);
    if (!message) continue;
    std::string signed_body = unsigned_body;
    signed_body.replace(hex_at, kPlaceholder.size(), core::sign_header(kKey, *message));
    const auto result = core::verify_signature(kKeys, {signed_body, {}}, policy);
    if (!result.ok()) continue;
    check(result.scheme == core::Scheme::body, "a body without a header verified by the body");
    const auto matched = candidate_message(result.candidate, signed_body);
    check(matched.has_value(), "the matched candidate has a message");
    check(result.candidate != candidate || *matched == *message,
          "the signature member is outside every candidate's message");
    check_same_event(signed_body, *matched);
  }
}

void fuzz_header_scheme(std::string_view body) {
  const std::string good = core::sign_header(kKey, body);
  const std::array<std::string_view, 1> headers = {good};
  core::VerifyPolicy header_only{};
  header_only.scheme = core::SchemeSetting::header;
  check(core::verify_signature(kKeys, {body, headers}, header_only).ok(),
        "a correct X-Webhook-Signature verifies any body");
  // Crash-only: the first bytes as a header value (with and without the sha256= prefix), twice.
  const std::string_view forged = body.substr(0, 80);
  const std::array<std::string_view, 2> twice = {forged, good};
  core::VerifyPolicy lenient{};
  lenient.allow_sha256_prefix = true;
  lenient.require_all_when_both = !body.empty() && (body.front() & 1) != 0;
  (void)core::verify_signature(kKeys, {body, std::span(twice).first(1)}, lenient);
  (void)core::verify_signature(kKeys, {body, twice}, lenient);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = webhook::fuzz::as_text(data, size);
  fuzz_body_scheme(body);
  fuzz_header_scheme(body);
  return 0;
}
