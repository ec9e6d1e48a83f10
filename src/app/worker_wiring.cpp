#include "app/worker_wiring.hpp"

#include "webhook/worker/exec_handler.hpp"
#include "webhook/worker/forward_handler.hpp"

namespace webhook::app {

namespace {

void add_handler(worker::HandlerRegistry& registry, const HandlerConfig& h,
                 const core::Clock& clock) {
  const auto timeout = std::chrono::milliseconds(h.timeout_ms);
  if (h.type == "forward") {
    worker::ForwardOptions options;
    options.url = h.url;
    options.secret = h.secret;
    options.timeout = timeout;
    options.connect_timeout = std::chrono::milliseconds(h.connect_timeout_ms);
    options.ca_file = h.ca_file;
    options.retry_4xx = h.retry_4xx;
    registry.add(h.name, worker::make_forward_handler(std::move(options), clock));
  } else if (h.type == "exec") {
    registry.add(h.name, worker::make_exec_handler(worker::ExecOptions{h.command, timeout}));
  } else {
    registry.add(h.name, worker::make_log_handler());
  }
}

}  // namespace

core::RetryPolicy to_retry_policy(const RetryConfig& retry) {
  core::RetryPolicy policy;
  policy.initial = std::chrono::milliseconds(retry.initial_ms);
  policy.multiplier = retry.multiplier;
  policy.max = std::chrono::milliseconds(retry.max_ms);
  policy.max_attempts = retry.max_attempts;
  return policy;
}

core::RouteTable build_routes(const Config& config) {
  std::vector<core::RouteRule> rules;
  for (const auto& route : config.routes) {
    core::RouteRule rule{route.match, route.handlers, std::nullopt};
    if (route.retry) rule.retry = to_retry_policy(*route.retry);
    rules.push_back(std::move(rule));
  }
  return core::RouteTable(std::move(rules));
}

std::unique_ptr<worker::HandlerRegistry> build_handlers(const Config& config,
                                                        const core::Clock& clock) {
  auto registry = std::make_unique<worker::HandlerRegistry>();
  for (const auto& h : config.handlers) {
    try {
      add_handler(*registry, h, clock);
    } catch (const std::invalid_argument& e) {
      // The handler's own message names neither the URL nor the secret; add the key path.
      throw ConfigError("handlers." + h.name + ": " + e.what());
    }
  }
  return registry;
}

}  // namespace webhook::app
