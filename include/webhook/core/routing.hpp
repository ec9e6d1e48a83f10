#pragma once
// RouteTable: which handlers run for an event type (config `routes`). The first rule whose
// pattern matches wins. Patterns: an exact type ("payment.settled"), a prefix glob ending in ".*"
// ("payment.*" matches "payment.settled" and "payment.refund.created", not "payment"), or "*".
// An event type no rule matches is "unhandled": stored, acknowledged, never retried.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/core/retry_policy.hpp"

namespace webhook::core {

struct RouteRule {
  std::string match;
  std::vector<std::string> handlers;  // run in order; all must succeed
  std::optional<RetryPolicy> retry;   // per-route override of the default policy
};

class RouteTable {
 public:
  RouteTable() = default;
  explicit RouteTable(std::vector<RouteRule> rules);

  // The first matching rule, or nullptr. The pointer lives as long as the table.
  const RouteRule* match(std::string_view event_type) const;
  const std::vector<RouteRule>& rules() const { return rules_; }

  static bool matches(std::string_view pattern, std::string_view event_type);

 private:
  std::vector<RouteRule> rules_;
};

}  // namespace webhook::core
