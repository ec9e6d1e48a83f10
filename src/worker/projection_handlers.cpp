// The projection handlers (include/webhook/worker/projection_handlers.hpp).

#include "webhook/worker/projection_handlers.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "webhook/log/log.hpp"

namespace webhook::worker {
namespace {

// The projections change nothing on a worker: they read the facts and hand the writer a change
// (HandlerContext::change) that it applies in the transaction recording the event's result.
// Called without a context (outside the worker pool) they have nowhere to write.
class ProjectionHandler : public Handler {
 public:
  HandlerResult handle(const core::StoredEvent& /*event*/) override {
    return HandlerResult::fail("a projection handler runs only in the worker pool");
  }
};

class PaymentsHandler final : public ProjectionHandler {
 public:
  HandlerResult handle_in(const core::StoredEvent& event, HandlerContext& context) override {
    if (event.entity_kind != "transaction") return HandlerResult::success();
    const auto& facts = context.payment_facts();
    if (!facts) return HandlerResult::success();  // no transaction object: nothing to keep
    context.change({.kind = core::ProjectionChange::Kind::payment, .payment = *facts});
    return HandlerResult::success();
  }
};

class CustomersHandler final : public ProjectionHandler {
 public:
  HandlerResult handle_in(const core::StoredEvent& event, HandlerContext& context) override {
    if (event.entity_kind != "customer") return HandlerResult::success();
    auto facts = core::customer_facts(event.body);
    if (!facts) return HandlerResult::success();
    context.change({.kind = core::ProjectionChange::Kind::customer, .customer = std::move(*facts)});
    return HandlerResult::success();
  }
};

class ReviewsHandler final : public ProjectionHandler {
 public:
  ReviewsHandler(ReviewsOptions options, const core::Clock& clock)
      : options_(std::move(options)), clock_(clock) {}

  HandlerResult handle_in(const core::StoredEvent& event, HandlerContext& context) override {
    if (event.entity_kind != "transaction") return HandlerResult::success();
    std::optional<core::PaymentFacts> facts = context.payment_facts();
    if (!facts) return HandlerResult::success();
    const bool notify = options_.notify != nullptr;
    const bool may_open =
        core::review_signal(event.event_type, facts->status) == core::ReviewSignal::opens;
    if (!notify || !may_open) {
      context.change({.kind = core::ProjectionChange::Kind::review, .payment = std::move(*facts)});
      return HandlerResult::success();
    }
    // Whether a notification is owed depends on the review as stored: apply the opening now
    // (its own commit; applying it again changes nothing), then notify, then mark it notified
    // with the event's result.
    const std::string transaction_id = facts->transaction_id;
    const auto applied = context.apply_now({.kind = core::ProjectionChange::Kind::review,
                                            .payment = std::move(*facts),
                                            .notify = true},
                                           clock_.now_ms());
    if (!applied) return HandlerResult::retry("review: the projection could not be recorded");
    if (!applied->error.empty()) return HandlerResult::retry("review: " + applied->error);
    if (!applied->notification_owed) return HandlerResult::success();
    return notify_operator(event, *applied->notification_owed, transaction_id, context);
  }

 private:
  HandlerResult notify_operator(const core::StoredEvent& event, const core::ReviewNotice& review,
                                const std::string& transaction_id, HandlerContext& context) {
    const std::string body = review_notification(review);
    // Stable per opening, so a retried notification can be deduplicated downstream.
    HandlerResult result =
        options_.notify->send({message_id("review", review.source, event.id),
                               std::to_string(event.id), "review.opened", review.source, body});
    const std::int64_t now = clock_.now_ms();
    const bool sent = result.kind == HandlerResult::Kind::ok;
    if (sent) {
      core::ProjectionChange notified{.kind = core::ProjectionChange::Kind::review_notified,
                                      .at_ms = now};
      notified.payment.transaction_id = transaction_id;
      context.change(std::move(notified));
    }
    if (options_.on_notify) {
      options_.on_notify(
          {review, sent, static_cast<double>(now - review.opened_received_ms) / 1000.0});
    }
    if (!sent) result.error = "review notification: " + result.error;
    return result;
  }

  ReviewsOptions options_;
  const core::Clock& clock_;
};

}  // namespace

std::string review_notification(const core::ReviewNotice& r) {
  const std::string opened = log::format_timestamp(r.opened_at_ms);
  std::string text = "Payment " + r.transaction_id + " requires review";
  if (!r.total_amount.empty()) text += ": " + r.currency + " " + r.total_amount;
  if (!r.customer_id.empty()) text += ", customer " + r.customer_id;
  if (!r.documentation_status.empty()) text += ", documentation " + r.documentation_status;
  text += " (" + r.source + ", opened " + opened;
  if (r.cycle > 1) text += ", review #" + std::to_string(r.cycle);
  text += ")";

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto field = [&w](const char* name, const std::string& value) {
    w.Key(name);
    if (value.empty()) {
      w.Null();
    } else {
      w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    }
  };
  w.StartObject();
  field("type", "review.opened");
  field("text", text);
  w.Key("review");
  w.StartObject();
  field("source", r.source);
  field("transactionId", r.transaction_id);
  field("externalId", r.external_id);
  field("totalAmount", r.total_amount);
  field("currency", r.currency);
  field("customerId", r.customer_id);
  field("documentationStatus", r.documentation_status);
  w.Key("cycle");
  w.Int64(r.cycle);
  field("openedAt", opened);
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::unique_ptr<Handler> make_payments_handler() { return std::make_unique<PaymentsHandler>(); }

std::unique_ptr<Handler> make_customers_handler() { return std::make_unique<CustomersHandler>(); }

std::unique_ptr<Handler> make_reviews_handler(ReviewsOptions options, const core::Clock& clock) {
  return std::make_unique<ReviewsHandler>(std::move(options), clock);
}

}  // namespace webhook::worker
