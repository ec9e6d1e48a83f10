// The projection handlers (include/webhook/worker/projection_handlers.hpp).

#include "webhook/worker/projection_handlers.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "webhook/log/log.hpp"

namespace webhook::worker {
namespace {

class PaymentsHandler final : public Handler {
 public:
  explicit PaymentsHandler(storage::ProjectionStore& store) : store_(store) {}

  HandlerResult handle(const core::StoredEvent& event) override {
    if (event.entity_kind != "transaction") return HandlerResult::success();
    const auto facts = core::payment_facts(event.body);
    if (!facts) return HandlerResult::success();  // no transaction object: nothing to keep
    store_.apply_payment(event, *facts);
    return HandlerResult::success();
  }

 private:
  storage::ProjectionStore& store_;
};

class CustomersHandler final : public Handler {
 public:
  explicit CustomersHandler(storage::ProjectionStore& store) : store_(store) {}

  HandlerResult handle(const core::StoredEvent& event) override {
    if (event.entity_kind != "customer") return HandlerResult::success();
    const auto facts = core::customer_facts(event.body);
    if (!facts) return HandlerResult::success();
    store_.apply_customer(event, *facts);
    return HandlerResult::success();
  }

 private:
  storage::ProjectionStore& store_;
};

class ReviewsHandler final : public Handler {
 public:
  ReviewsHandler(storage::ProjectionStore& store, ReviewsOptions options, const core::Clock& clock)
      : store_(store), options_(std::move(options)), clock_(clock) {}

  HandlerResult handle(const core::StoredEvent& event) override {
    if (event.entity_kind != "transaction") return HandlerResult::success();
    const auto facts = core::payment_facts(event.body);
    if (!facts) return HandlerResult::success();
    const storage::ReviewApplied applied =
        store_.apply_review(event, *facts, options_.notify != nullptr);
    if (!applied.notification_owed || !options_.notify) return HandlerResult::success();
    return notify(event, *applied.notification_owed);
  }

 private:
  HandlerResult notify(const core::StoredEvent& event, const storage::ReviewNotice& review) {
    const std::string body = review_notification(review);
    // Stable per opening, so a retried notification can be deduplicated downstream.
    HandlerResult result =
        options_.notify->send({message_id("review", review.source, event.id),
                               std::to_string(event.id), "review.opened", review.source, body});
    const std::int64_t now = clock_.now_ms();
    const bool sent = result.kind == HandlerResult::Kind::ok;
    if (sent) store_.mark_notified(review.source, review.transaction_id, event.id, now);
    if (options_.on_notify) {
      options_.on_notify(
          {review, sent, static_cast<double>(now - review.opened_received_ms) / 1000.0});
    }
    if (!sent) result.error = "review notification: " + result.error;
    return result;
  }

  storage::ProjectionStore& store_;
  ReviewsOptions options_;
  const core::Clock& clock_;
};

}  // namespace

std::string review_notification(const storage::ReviewNotice& r) {
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

std::unique_ptr<Handler> make_payments_handler(storage::ProjectionStore& store) {
  return std::make_unique<PaymentsHandler>(store);
}

std::unique_ptr<Handler> make_customers_handler(storage::ProjectionStore& store) {
  return std::make_unique<CustomersHandler>(store);
}

std::unique_ptr<Handler> make_reviews_handler(storage::ProjectionStore& store,
                                              ReviewsOptions options, const core::Clock& clock) {
  return std::make_unique<ReviewsHandler>(store, std::move(options), clock);
}

}  // namespace webhook::worker
