#include "webhook/core/outcome.hpp"

namespace webhook::core {

std::string_view to_string(Rejected::Reason r) {
  switch (r) {
    case Rejected::Reason::invalid_signature:
      return "invalid_signature";
    case Rejected::Reason::malformed_json:
      return "malformed_json";
    case Rejected::Reason::too_large:
      return "too_large";
  }
  return "rejected";
}

std::string_view to_string(Unavailable::Reason r) {
  switch (r) {
    case Unavailable::Reason::storage_error:
      return "storage_unavailable";
    case Unavailable::Reason::ack_budget_exceeded:
      return "ack_budget_exceeded";
    case Unavailable::Reason::overloaded:
      return "overloaded";
    case Unavailable::Reason::shutting_down:
      return "shutting_down";
  }
  return "unavailable";
}

std::string_view result_label(const Outcome& outcome) {
  struct Label {
    std::string_view operator()(const Accepted&) const { return "accepted"; }
    std::string_view operator()(const Duplicate&) const { return "duplicate"; }
    std::string_view operator()(const Quarantined&) const { return "quarantined"; }
    std::string_view operator()(const Rejected& r) const {
      return r.reason == Rejected::Reason::malformed_json ? "malformed" : to_string(r.reason);
    }
    std::string_view operator()(const Unavailable&) const { return "unavailable"; }
  };
  return std::visit(Label{}, outcome);
}

Outcome to_outcome(bool quarantined, const StoreResult& stored, bool malformed_reply_400) {
  switch (stored.kind) {
    case StoreResult::Kind::inserted:
      if (quarantined) return Quarantined{stored.event_id, malformed_reply_400};
      return Accepted{stored.event_id};
    case StoreResult::Kind::duplicate:
      return Duplicate{stored.event_id};
    case StoreResult::Kind::failed:
      break;
  }
  return Unavailable{Unavailable::Reason::storage_error};
}

}  // namespace webhook::core
