#pragma once
// Reconciliation rules (issue 14; docs/reconciliation.md): what an answer of the Conomy API means
// for the projected state, from plain values. app/reconciler does the calls and the writes.
//  1. The answer's time is when its request was sent (`asked_at_ms`). It goes through
//     decide_status() / decide_customer() as a webhook's timestamp would, so a terminal status
//     stays and an answer older than an event already applied never moves a record back.
//  2. judge_*() say what a check found: nothing; a missed event (the API is ahead of us: the
//     answer is applied); a state that differs (the API disagrees and the rules keep ours); or,
//     from the call itself, not found and failed.
//  3. An answer that changes a projection is recorded as an event of its own
//     (api_observation()): origin "api" (scheme "api"), type api.payment or api.customer, status
//     done from the start (never run by handlers), the API's body as its payload, and a dedup
//     key whose state token is the status seen and the time asked. The projections' history
//     rows of such an event say origin "api"; every other event's say "webhook".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/inbox.hpp"
#include "webhook/core/projection.hpp"

namespace webhook::core {

inline constexpr std::string_view kApiScheme = "api";
inline constexpr std::string_view kApiPaymentEvent = "api.payment";
inline constexpr std::string_view kApiCustomerEvent = "api.customer";

// "api" for an event recorded from an API answer (scheme kApiScheme), else "webhook".
std::string_view origin_of_scheme(std::string_view scheme);

// What a check re-reads: a payment awaiting settlement, an open review (its payment), a customer.
enum class CheckKind { payment, review, customer };
std::string_view to_string(CheckKind k);

enum class Finding {
  none,           // the API agrees with the projection
  missed_event,   // the API is ahead: a webhook never came; the answer was (or would be) applied
  state_differs,  // the API disagrees and the rules keep the projection (terminal, or newer)
  not_found,      // the API does not know the payment or customer (404)
  failed,         // the call failed (after its retries)
};
std::string_view to_string(Finding f);

// A payment as projected (`known`; nullopt: never seen) against the status the API answered.
// none when the statuses are equal or the answer has none; otherwise missed_event when
// decide_status() applies the answer at `asked_at_ms`, state_differs when it does not.
Finding judge_payment(const std::optional<KnownStatus>& known, std::string_view api_status,
                      std::int64_t asked_at_ms);

// An open review (opened at `opened_at_ms`, event time or receipt) against its payment's status
// in the API: none while the API still says REQUIRES_REVIEW (or nothing); state_differs when the
// answer was asked before the review opened; otherwise missed_event (the decision never came:
// the review closes, its outcome from documentationStatus).
Finding judge_review(std::optional<std::int64_t> opened_at_ms, std::string_view api_status,
                     std::int64_t asked_at_ms);

// A customer record as projected (`known`: nullopt when never seen).
struct KnownCustomer {
  std::string operation_level;
  std::optional<std::int64_t> documents_count;
  std::optional<std::int64_t> state_at_ms;
};
// none when the level and the documents count the API sent equal the record's (a field the API
// did not send is not compared); otherwise missed_event when decide_customer() applies the
// answer at `asked_at_ms`, state_differs when the record is newer.
Finding judge_customer(const std::optional<KnownCustomer>& known, const CustomerFacts& api,
                       std::int64_t asked_at_ms);

// The headline case: the API reports SETTLED and the projection did not have it.
bool is_missed_settlement(Finding f, std::string_view api_status);

// The event that records an API answer which changes a projection (see 3. above). `state` is the
// status (payments) or the operation level (customers) the API answered; `trace_id` goes into
// request_id. The id is 0 until stored.
StoredEvent api_observation(std::string_view source, CheckKind kind, std::string_view entity_id,
                            std::string_view state, std::string body, std::string_view trace_id,
                            std::int64_t asked_at_ms);

}  // namespace webhook::core
