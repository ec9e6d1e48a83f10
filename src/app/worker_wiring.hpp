#pragma once
// Builds the worker pool's pieces from configuration: the handler registry, the route table and
// the default retry policy. Start-up only; throws ConfigError or std::invalid_argument.

#include <functional>
#include <memory>

#include "webhook/app/config.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/core/retry_policy.hpp"
#include "webhook/core/routing.hpp"
#include "webhook/worker/handler.hpp"
#include "webhook/worker/projection_handlers.hpp"

namespace webhook::app {

core::RetryPolicy to_retry_policy(const RetryConfig& retry);
core::RouteTable build_routes(const Config& config);
// The configured handlers plus the built-in projections ("payments", "reviews", "customers").
// `clock` must outlive the registry (forward handlers stamp their signatures with the clock).
// `on_review_notify` sees every notification attempt.
std::unique_ptr<worker::HandlerRegistry> build_handlers(
    const Config& config, const core::Clock& clock,
    std::function<void(const worker::ReviewNotifyReport&)> on_review_notify = {});

}  // namespace webhook::app
