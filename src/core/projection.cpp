// Projection rules (include/webhook/core/projection.hpp).

#include "webhook/core/projection.hpp"

#include <array>

#include "core/object_facts.hpp"
#include "core/payload.hpp"
#include "webhook/core/reconcile.hpp"
#include "webhook/core/timestamp.hpp"

namespace webhook::core {
namespace {

using json_text::Value;

constexpr std::array<std::string_view, 5> kTerminal = {"SETTLED", "FAILED", "EXPIRED", "UNSETTLED",
                                                       "REFUNDED"};

// A string (or number, as its source text) member; "" when absent, null or of another type.
std::string text(const Value* object, std::string_view name) {
  return text_of(object, name, true).value_or(std::string{});
}

std::optional<std::int64_t> timestamp_of(const Value& root) {
  return parse_iso8601_ms(text(&root, "timestamp"));
}

bool earlier(std::optional<std::int64_t> a, std::optional<std::int64_t> b) {
  return a && b && *a < *b;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_specific_outcome(std::string_view outcome) {
  return outcome == "approved" || outcome == "rejected";
}

}  // namespace

bool is_terminal_payment_status(std::string_view status) {
  for (std::string_view t : kTerminal) {
    if (status == t) return true;
  }
  return false;
}

PaymentFacts payment_object_facts(const Value& tx) {
  PaymentFacts f;
  f.transaction_id = text(&tx, "id");
  f.status = text(&tx, "status");
  f.external_id = text(&tx, "externalId");
  f.type = text(&tx, "type");
  f.total_amount = text(&tx, "totalAmount");
  f.currency = text(&tx, "currency");
  f.customer_id = text(&tx, "customerId");
  f.parent_payment_id = text(&tx, "parentPaymentId");
  f.related_payment_id = text(&tx, "relatedPaymentId");
  f.settlement_batch_id = text(&tx, "settlementBatchId");
  f.documentation_status = text(&tx, "documentationStatus");
  f.settled_at = text(&tx, "settledAt");
  f.expired_at = text(&tx, "expiredAt");
  f.unsettled_at = text(&tx, "unsettledAt");
  f.unsettled_reason = text(&tx, "unsettledReason");
  return f;
}

CustomerFacts customer_object_facts(const Value& customer) {
  CustomerFacts f;
  f.customer_id = text(&customer, "id");
  f.client_id = text(&customer, "clientId");
  f.operation_level = text(&customer, "operationLevel");
  f.documents_count = whole_number(text(&customer, "documentsCount"));
  if (const Value* v = customer.find("autoCreated");
      v != nullptr && v->kind == Value::Kind::boolean) {
    f.auto_created = v->boolean;
  }
  return f;
}

// The facts below read the same document and the same objects as the envelope (payload.hpp):
// nothing a projection keeps can come from a part of the body the envelope did not choose.
std::optional<PaymentFacts> payment_facts(std::string_view body) {
  const auto doc = json_text::parse(body);
  if (!doc || !doc->root.is_object()) return std::nullopt;
  const Value* tx = payload_parts(doc->root).transaction;
  if (tx == nullptr) return std::nullopt;
  PaymentFacts f = payment_object_facts(*tx);
  if (f.transaction_id.empty()) return std::nullopt;
  f.occurred_at_ms = timestamp_of(doc->root);
  return f;
}

std::optional<CustomerFacts> customer_facts(std::string_view body) {
  const auto doc = json_text::parse(body);
  if (!doc || !doc->root.is_object()) return std::nullopt;
  const Value* customer = payload_parts(doc->root).customer;
  if (customer == nullptr) return std::nullopt;
  CustomerFacts f = customer_object_facts(*customer);
  if (f.customer_id.empty()) return std::nullopt;
  f.occurred_at_ms = timestamp_of(doc->root);
  return f;
}

std::string_view to_string(StatusEffect e) {
  switch (e) {
    case StatusEffect::applied:
      return "applied";
    case StatusEffect::stale:
      return "stale";
    case StatusEffect::terminal_kept:
      return "terminal_kept";
    case StatusEffect::no_status:
      return "no_status";
  }
  return "applied";
}

StatusEffect decide_status(const std::optional<KnownStatus>& current, std::string_view status,
                           std::optional<std::int64_t> at_ms) {
  if (status.empty()) return StatusEffect::no_status;
  // A row created by an event without a status has no status to compare against.
  if (!current || current->status.empty()) return StatusEffect::applied;
  if (earlier(at_ms, current->latest_at_ms ? current->latest_at_ms : current->at_ms)) {
    return StatusEffect::stale;
  }
  if (status == current->status) return StatusEffect::applied;
  if (!is_terminal_payment_status(current->status)) return StatusEffect::applied;
  // The current status is terminal: only a later terminal one (both timed) replaces it.
  const bool later = at_ms && current->at_ms && *at_ms > *current->at_ms;
  return is_terminal_payment_status(status) && later ? StatusEffect::applied
                                                     : StatusEffect::terminal_kept;
}

ReviewSignal review_signal(std::string_view event_type, std::string_view status) {
  if (event_type == "payment.requiresReview" || status == "REQUIRES_REVIEW") {
    return ReviewSignal::opens;
  }
  if (event_type == "payment.reviewApproved") return ReviewSignal::approved;
  if (event_type == "payment.reviewRejected") return ReviewSignal::rejected;
  if (event_type == "payment.reviewResolved") return ReviewSignal::resolved;
  if (is_terminal_payment_status(status)) return ReviewSignal::terminal;
  // An API answer (reconciliation) with the payment out of review: its decision was made, and
  // the webhook that carried it never came.
  if (event_type == kApiPaymentEvent && !status.empty()) return ReviewSignal::resolved;
  return ReviewSignal::none;
}

std::string_view to_string(ReviewAction a) {
  switch (a) {
    case ReviewAction::open:
      return "opened";
    case ReviewAction::reopen:
      return "reopened";
    case ReviewAction::close:
      return "closed";
    case ReviewAction::refine:
      return "refined";
    case ReviewAction::stale:
      return "stale";
    case ReviewAction::none:
      return "noted";
  }
  return "noted";
}

ReviewDecision decide_review(const std::optional<ReviewState>& current, ReviewSignal signal,
                             std::string_view status, std::string_view documentation_status,
                             std::optional<std::int64_t> at_ms,
                             const std::optional<KnownStatus>& payment) {
  switch (signal) {
    case ReviewSignal::none:
      return {};
    case ReviewSignal::opens:
      if (!current) {
        if (payment && is_terminal_payment_status(payment->status) &&
            earlier(at_ms, payment->at_ms)) {
          return {ReviewAction::stale, lower(payment->status)};
        }
        return {ReviewAction::open, {}};
      }
      if (current->open) return {};
      // Closed. With both timestamps, an opening after the closing starts a new cycle and any
      // other is the late opening of the closed one. Without them: a review closed before any
      // opening arrived gets its late opening; one that had an opening is reopened.
      if (at_ms && current->closed_at_ms) {
        return *at_ms > *current->closed_at_ms ? ReviewDecision{ReviewAction::reopen, {}}
                                               : ReviewDecision{ReviewAction::stale, {}};
      }
      return current->has_opening ? ReviewDecision{ReviewAction::reopen, {}}
                                  : ReviewDecision{ReviewAction::stale, {}};
    case ReviewSignal::approved:
    case ReviewSignal::rejected:
    case ReviewSignal::resolved:
    case ReviewSignal::terminal: {
      std::string outcome;
      if (signal == ReviewSignal::approved) outcome = "approved";
      if (signal == ReviewSignal::rejected) outcome = "rejected";
      if (signal == ReviewSignal::resolved) {
        outcome = documentation_status == "APPROVED"   ? "approved"
                  : documentation_status == "REJECTED" ? "rejected"
                                                       : "resolved";
      }
      if (signal == ReviewSignal::terminal) outcome = lower(status);
      if (!current) {
        // A decision before its opening (reordered): record the review closed. A terminal
        // status alone says nothing about a review.
        if (signal == ReviewSignal::terminal) return {};
        return {ReviewAction::close, outcome};
      }
      if (current->open) {
        if (earlier(at_ms, current->opened_at_ms)) return {ReviewAction::stale, {}};
        return {ReviewAction::close, outcome};
      }
      if (is_specific_outcome(outcome) && !is_specific_outcome(current->outcome) &&
          !earlier(at_ms, current->opened_at_ms)) {
        return {ReviewAction::refine, outcome};
      }
      return {};
    }
  }
  return {};
}

std::string_view to_string(CustomerEffect e) {
  return e == CustomerEffect::applied ? "applied" : "stale";
}

CustomerEffect decide_customer(bool known, std::optional<std::int64_t> state_at_ms,
                               std::optional<std::int64_t> at_ms) {
  if (known && earlier(at_ms, state_at_ms)) return CustomerEffect::stale;
  return CustomerEffect::applied;
}

bool implies_documented(const CustomerFacts& facts) {
  return (facts.documents_count && *facts.documents_count >= 1) ||
         facts.operation_level == "STANDARD" || facts.operation_level == "FULL";
}

}  // namespace webhook::core
