// RouteTable: first-match lookup over the configured rules (include/webhook/core/routing.hpp).

#include "webhook/core/routing.hpp"

#include <utility>

namespace webhook::core {
namespace {

constexpr std::string_view kMatchAll = "*";
constexpr std::string_view kPrefixGlobSuffix = ".*";

}  // namespace

RouteTable::RouteTable(std::vector<RouteRule> rules) : rules_(std::move(rules)) {}

const RouteRule* RouteTable::match(std::string_view event_type) const {
  for (const RouteRule& rule : rules_) {
    if (matches(rule.match, event_type)) return &rule;
  }
  return nullptr;
}

bool RouteTable::matches(std::string_view pattern, std::string_view event_type) {
  if (pattern == kMatchAll) return true;
  if (pattern.ends_with(kPrefixGlobSuffix)) {
    // "payment.*": "payment." and at least one more character ("payment." itself is no type).
    const std::string_view prefix = pattern.substr(0, pattern.size() - 1);
    return event_type.size() > prefix.size() && event_type.starts_with(prefix);
  }
  return pattern == event_type;
}

}  // namespace webhook::core
