#pragma once
// Projection rules: what the built-in "payments", "reviews" and "customers" handlers read from
// an event, and how an event moves the projected state (docs/projections.md). Pure: payloads in,
// decisions out; storage/projection_store applies the decisions in SQL.
//  1. *_facts(body) read the fields a projection keeps (all optional, strings kept as sent).
//  2. decide_status(): a terminal status (SETTLED, FAILED, EXPIRED, UNSETTLED, REFUNDED) is never
//     replaced by a non-terminal one; an event whose timestamp is older than the state's is
//     stale; without timestamps, arrival order decides (WEBHOOKS.md 4.4: statuses do not only
//     move forward, REQUIRES_REVIEW -> CAPTURED).
//  3. decide_review(): opens, closes, reopens and refines one review per transaction.
//  4. decide_customer(): a customer record never moves to an older state.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webhook::core {

bool is_terminal_payment_status(std::string_view status);

// ---- facts read from a payload ---------------------------------------------------------------

// A transaction-scoped event, either shape (data.transaction in the legacy shape). Absent and
// null fields are "".
struct PaymentFacts {
  std::string transaction_id;
  std::string status;
  std::string external_id;
  std::string type;
  std::string total_amount;
  std::string currency;
  std::string customer_id;
  std::string parent_payment_id;
  std::string related_payment_id;
  std::string settlement_batch_id;
  std::string documentation_status;
  std::string settled_at;
  std::string expired_at;
  std::string unsettled_at;
  std::string unsettled_reason;
  std::optional<std::int64_t> occurred_at_ms;  // the top-level "timestamp", when it parses
};

struct CustomerFacts {
  std::string customer_id;
  std::string client_id;
  std::string operation_level;                  // INACTIVE | BASIC | STANDARD | FULL, or ""
  std::optional<std::int64_t> documents_count;  // a whole number when sent
  std::optional<bool> auto_created;
  std::optional<std::int64_t> occurred_at_ms;
};

// nullopt when the body is not a JSON object with a transaction (customer) object that has an
// id. Never throws on any input.
std::optional<PaymentFacts> payment_facts(std::string_view body);
std::optional<CustomerFacts> customer_facts(std::string_view body);

// ---- payments --------------------------------------------------------------------------------

struct KnownStatus {
  std::string status;
  std::optional<std::int64_t> at_ms;  // event time of the event that set it
  // The latest event time of the events applied so far (an untimed event can set the status
  // after a timed one); nullopt: at_ms.
  std::optional<std::int64_t> latest_at_ms = std::nullopt;
};

enum class StatusEffect {
  applied,        // the event's status becomes the current one
  stale,          // older than the current state (by event timestamps)
  terminal_kept,  // the current status is terminal and the event does not replace it
  no_status,      // the event carries no status; only missing fields are filled in
};
std::string_view to_string(StatusEffect e);

// `current`: nullopt for a transaction seen for the first time. Stale means older than the
// state's latest event time. A terminal status replaces
// another terminal one only when both events have timestamps and the new one is later; the
// same status again is applied (it refreshes the fields).
StatusEffect decide_status(const std::optional<KnownStatus>& current, std::string_view status,
                           std::optional<std::int64_t> at_ms);

// ---- reviews ---------------------------------------------------------------------------------

// What an event means for the transaction's review.
enum class ReviewSignal {
  opens,     // payment.requiresReview, or any event with status REQUIRES_REVIEW
  approved,  // payment.reviewApproved
  rejected,  // payment.reviewRejected
  resolved,  // payment.reviewResolved (the umbrella event sent with approved or rejected), or an
             // API answer (api.payment) with a status that is neither in review nor terminal
  terminal,  // any other event with a terminal status
  none,
};
ReviewSignal review_signal(std::string_view event_type, std::string_view status);

struct ReviewState {
  bool open = false;
  bool has_opening = false;                  // an opening event has been applied
  std::optional<std::int64_t> opened_at_ms;  // event time of the current cycle's opening
  std::optional<std::int64_t> closed_at_ms;  // event time of the closing
  std::string outcome;                       // for a closed review
};

enum class ReviewAction {
  open,    // a new review (notify)
  reopen,  // a closed review opens again, cycle + 1 (notify)
  close,   // the open review (or a review not seen open yet) closes with `outcome`
  refine,  // a closed review's generic outcome becomes the specific decision
  stale,   // older than the review's current cycle: history only (fills opening fields)
  none,    // nothing changes (e.g. reviewResolved after reviewApproved)
};
std::string_view to_string(ReviewAction a);

struct ReviewDecision {
  ReviewAction action = ReviewAction::none;
  std::string outcome;  // close and refine: approved | rejected | resolved | settled | failed ...
};

// `documentation_status` decides the outcome of a reviewResolved (APPROVED -> approved,
// REJECTED -> rejected, else resolved); a terminal status closes with its lower-case name.
// `payment`: the transaction's projected status, when known. An opening of a transaction with
// no review yet that is older than a terminal status the payment reached later is `stale`, with
// that status as `outcome`: the review is recorded already closed (the payment left review
// before its requiresReview arrived).
ReviewDecision decide_review(const std::optional<ReviewState>& current, ReviewSignal signal,
                             std::string_view status, std::string_view documentation_status,
                             std::optional<std::int64_t> at_ms,
                             const std::optional<KnownStatus>& payment = std::nullopt);

// What an operator needs to act on an open review (the notification's content).
struct ReviewNotice {
  std::string source;
  std::string transaction_id;
  std::string external_id;
  std::string total_amount;
  std::string currency;
  std::string customer_id;
  std::string documentation_status;
  std::int64_t cycle = 1;
  std::int64_t opened_at_ms = 0;        // event time, else receipt
  std::int64_t opened_received_ms = 0;  // receipt of the opening event
};

// ---- customers -------------------------------------------------------------------------------

enum class CustomerEffect { applied, stale };
std::string_view to_string(CustomerEffect e);

// Stale when both the record's state and the event have timestamps and the event's is older;
// otherwise applied (without timestamps arrival order is the only order known, and the
// history says so by its missing occurred_at).
CustomerEffect decide_customer(bool known, std::optional<std::int64_t> state_at_ms,
                               std::optional<std::int64_t> at_ms);

// A customer counts as documented once a document was approved (WEBHOOKS.md 7). The payload has
// no such flag: a documentsCount of 1 or more, or a level above BASIC (which needs approved
// documentation), implies it.
bool implies_documented(const CustomerFacts& facts);

}  // namespace webhook::core
