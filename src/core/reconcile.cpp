// Reconciliation rules: see include/webhook/core/reconcile.hpp.

#include "webhook/core/reconcile.hpp"

#include <utility>

namespace webhook::core {

std::string_view origin_of_scheme(std::string_view scheme) {
  return scheme == kApiScheme ? "api" : "webhook";
}

std::string_view to_string(CheckKind k) {
  switch (k) {
    case CheckKind::payment:
      return "payment";
    case CheckKind::review:
      return "review";
    case CheckKind::customer:
      return "customer";
  }
  return "payment";
}

std::string_view to_string(Finding f) {
  switch (f) {
    case Finding::none:
      return "none";
    case Finding::missed_event:
      return "missed_event";
    case Finding::state_differs:
      return "state_differs";
    case Finding::not_found:
      return "not_found";
    case Finding::failed:
      return "failed";
  }
  return "none";
}

Finding judge_payment(const std::optional<KnownStatus>& known, std::string_view api_status,
                      std::int64_t asked_at_ms) {
  if (api_status.empty()) return Finding::none;
  if (known && known->status == api_status) return Finding::none;
  return decide_status(known, api_status, asked_at_ms) == StatusEffect::applied
             ? Finding::missed_event
             : Finding::state_differs;
}

Finding judge_review(std::optional<std::int64_t> opened_at_ms, std::string_view api_status,
                     std::int64_t asked_at_ms) {
  if (api_status.empty() || api_status == "REQUIRES_REVIEW") return Finding::none;
  if (opened_at_ms && asked_at_ms < *opened_at_ms) return Finding::state_differs;
  return Finding::missed_event;
}

Finding judge_customer(const std::optional<KnownCustomer>& known, const CustomerFacts& api,
                       std::int64_t asked_at_ms) {
  if (known) {
    const bool level_same =
        api.operation_level.empty() || api.operation_level == known->operation_level;
    const bool count_same = !api.documents_count || api.documents_count == known->documents_count;
    if (level_same && count_same) return Finding::none;
  }
  const CustomerEffect effect =
      decide_customer(known.has_value(), known ? known->state_at_ms : std::nullopt, asked_at_ms);
  return effect == CustomerEffect::applied ? Finding::missed_event : Finding::state_differs;
}

bool is_missed_settlement(Finding f, std::string_view api_status) {
  return f == Finding::missed_event && api_status == "SETTLED";
}

StoredEvent api_observation(std::string_view source, CheckKind kind, std::string_view entity_id,
                            std::string_view state, std::string body, std::string_view trace_id,
                            std::int64_t asked_at_ms) {
  const bool customer = kind == CheckKind::customer;
  StoredEvent e;
  e.key.source = std::string(source);
  e.key.event_name = std::string(customer ? kApiCustomerEvent : kApiPaymentEvent);
  e.key.entity_kind = customer ? "customer" : "transaction";
  e.key.entity_id = std::string(entity_id);
  e.key.state_token = std::string(state) + "@" + std::to_string(asked_at_ms);
  e.event_type = e.key.event_name;
  e.entity_kind = e.key.entity_kind;
  e.entity_id = e.key.entity_id;
  e.status = std::string(kStatusDone);
  e.body = std::move(body);
  e.request_id = std::string(trace_id);
  e.received_at_ms = asked_at_ms;
  e.scheme = std::string(kApiScheme);
  e.candidate = "none";
  e.key_slot = -1;
  e.updated_at_ms = asked_at_ms;
  return e;
}

}  // namespace webhook::core
