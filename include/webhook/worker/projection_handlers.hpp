#pragma once
// The built-in projection handlers (docs/projections.md), available by name in routes without
// configuration, like "log":
//  - "payments": latest status per transaction (transaction-scoped events; others succeed
//    untouched);
//  - "customers": one record per customer (customer-scoped events);
//  - "reviews": the review queue (payment.requiresReview opens, decisions and terminal statuses
//    close), and, with a notify target, one operator notification per opening.
// The handlers only read the facts; the writer applies them (storage::ProjectionStore, idempotent)
// in the transaction that records the event's result, so a projection and its event's status
// commit together. A change that fails there rolls back only its event, which is retried like
// any failure. With a notify target, an opening review is applied at once (the notification
// depends on it), then the operator is notified, and the notification is marked sent with the
// result. A review whose notification fails is retried by the worker pool like any failure of
// its event: the projection is not applied twice, only the notification is sent again; once the
// attempts are exhausted the event is a dead letter, and a redrive sends the notification again.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "webhook/core/clock.hpp"
#include "webhook/core/projection.hpp"
#include "webhook/worker/forward_handler.hpp"
#include "webhook/worker/handler.hpp"

namespace webhook::worker {

inline constexpr std::string_view kPaymentsHandler = "payments";
inline constexpr std::string_view kCustomersHandler = "customers";
inline constexpr std::string_view kReviewsHandler = "reviews";
// Every handler that exists without configuration ("log" and the projections), in the order the
// configuration's messages list them.
inline constexpr std::array<std::string_view, 4> kBuiltinHandlers = {
    kLogHandler, kPaymentsHandler, kReviewsHandler, kCustomersHandler};

// One notification attempt, for metrics. Called on a worker thread.
struct ReviewNotifyReport {
  const core::ReviewNotice& review;
  bool sent;               // false: the attempt failed (it will be retried or dead-lettered)
  double since_receipt_s;  // now - receipt of the opening event
};

struct ReviewsOptions {
  std::unique_ptr<Forwarder> notify;  // the notify target; no notification when null
  std::function<void(const ReviewNotifyReport&)> on_notify;
};

// `clock` must outlive the handlers.
std::unique_ptr<Handler> make_payments_handler();
std::unique_ptr<Handler> make_customers_handler();
std::unique_ptr<Handler> make_reviews_handler(ReviewsOptions options, const core::Clock& clock);

// The JSON body of an operator notification: {"type":"review.opened","text":...,"review":{...}}.
// "text" is a one-line summary, so chat incoming webhooks can take the message as it is.
std::string review_notification(const core::ReviewNotice& review);

}  // namespace webhook::worker
