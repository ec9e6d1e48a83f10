#include "app/worker_wiring.hpp"

#include "webhook/worker/exec_handler.hpp"
#include "webhook/worker/forward_handler.hpp"

namespace webhook::app {

namespace {

worker::ForwardOptions forward_options(const HandlerConfig& h) {
  worker::ForwardOptions options;
  options.url = h.url;
  options.secret = h.secret;
  options.timeout = std::chrono::milliseconds(h.timeout_ms);
  options.connect_timeout = std::chrono::milliseconds(h.connect_timeout_ms);
  options.ca_file = h.ca_file;
  options.retry_4xx = h.retry_4xx;
  return options;
}

void add_handler(worker::HandlerRegistry& registry, const HandlerConfig& h,
                 const core::Clock& clock) {
  if (h.type == "forward") {
    registry.add(h.name, worker::make_forward_handler(forward_options(h), clock));
  } else if (h.type == "exec") {
    registry.add(h.name, worker::make_exec_handler(worker::ExecOptions{
                             h.command, std::chrono::milliseconds(h.timeout_ms)}));
  } else {
    registry.add(h.name, worker::make_log_handler());
  }
}

// The key path of configuration errors raised while building `h`.
template <typename Build>
auto blaming(const std::string& path, Build&& build) {
  try {
    return build();
  } catch (const std::invalid_argument& e) {
    // The handler's own message names neither the URL nor the secret; add the key path.
    throw ConfigError(path + ": " + e.what());
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

std::unique_ptr<worker::HandlerRegistry> build_handlers(
    const Config& config, const core::Clock& clock,
    std::function<void(const worker::ReviewNotifyReport&)> on_review_notify) {
  auto registry = std::make_unique<worker::HandlerRegistry>();
  for (const auto& h : config.handlers) {
    blaming("handlers." + h.name, [&] {
      add_handler(*registry, h, clock);
      return true;
    });
  }
  worker::ReviewsOptions reviews;
  reviews.on_notify = std::move(on_review_notify);
  for (const auto& h : config.handlers) {
    if (h.name != config.reviews.notify) continue;
    // Its own connection pool: notifications never queue behind forwarded events.
    reviews.notify = blaming("reviews.notify",
                             [&] { return worker::make_forwarder(forward_options(h), clock); });
  }
  registry->add(std::string(worker::kPaymentsHandler), worker::make_payments_handler());
  registry->add(std::string(worker::kCustomersHandler), worker::make_customers_handler());
  registry->add(std::string(worker::kReviewsHandler),
                worker::make_reviews_handler(std::move(reviews), clock));
  return registry;
}

}  // namespace webhook::app
