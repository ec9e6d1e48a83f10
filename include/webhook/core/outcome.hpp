#pragma once
// Outcome: what became of a request, in domain terms. Only src/http/routes.cpp maps an Outcome
// to a status code and body, so the whole HTTP contract lives in one file.

#include <cstdint>
#include <string_view>
#include <variant>

#include "webhook/core/inbox.hpp"

namespace webhook::core {

struct Accepted {
  std::int64_t event_id;
};
struct Duplicate {
  std::int64_t event_id;
};
struct Quarantined {
  std::int64_t event_id;
  bool reply_400;  // the source's malformed_reply is 400
};
struct Rejected {
  enum class Reason { invalid_signature, malformed_json, too_large };
  Reason reason;
};
struct Unavailable {
  enum class Reason { storage_error, ack_budget_exceeded, overloaded, shutting_down };
  Reason reason;
};

using Outcome = std::variant<Accepted, Duplicate, Quarantined, Rejected, Unavailable>;

std::string_view to_string(Rejected::Reason r);
std::string_view to_string(Unavailable::Reason r);
// The metric/log label of an outcome: accepted, duplicate, quarantined, invalid_signature,
// malformed, too_large, unavailable.
std::string_view result_label(const Outcome& outcome);

// The outcome of storing a delivery: inserted -> Accepted (Quarantined when `quarantined`),
// duplicate -> Duplicate, failed -> Unavailable{storage_error}.
Outcome to_outcome(bool quarantined, const StoreResult& stored, bool malformed_reply_400);

}  // namespace webhook::core
