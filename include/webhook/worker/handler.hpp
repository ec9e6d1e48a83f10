#pragma once
// Handler: one action run on an accepted event (log, forward, exec, projections later).
// A handler is called on worker threads, possibly for several events at once (never for two
// events of the same entity at once): it must be thread-safe and idempotent, since after a crash
// mid-handler the event runs again (at-least-once).

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhook/core/inbox.hpp"
#include "webhook/core/work.hpp"

namespace webhook::worker {

struct HandlerResult {
  enum class Kind { ok, retryable, permanent };
  Kind kind = Kind::ok;
  std::string error;  // short, for last_error; never secrets, at most a few KiB
  std::optional<std::chrono::milliseconds> retry_after;  // honoured for retryable (429, 503)

  static HandlerResult success() { return {}; }
  static HandlerResult retry(std::string why,
                             std::optional<std::chrono::milliseconds> after = std::nullopt) {
    return {Kind::retryable, std::move(why), after};
  }
  static HandlerResult fail(std::string why) { return {Kind::permanent, std::move(why), {}}; }
};

// What a handler may ask of the write path while it runs (the built-in projections).
class HandlerContext {
 public:
  HandlerContext(core::WorkQueue& queue, std::shared_ptr<const core::StoredEvent> event)
      : queue_(queue), event_(std::move(event)) {}
  // Applied by the writer in the transaction that records the event's result, only when the
  // whole route succeeds; a change that fails there turns the result into a retry.
  void change(core::ProjectionChange c) { changes_.push_back(std::move(c)); }
  // Applies `c` now (its own commit) and returns what was recorded, for a handler whose next
  // step depends on it (a review notification). nullopt: not recorded (storage failed or the
  // writer stopped); return a retry.
  std::optional<core::WorkRecorded> apply_now(core::ProjectionChange c, std::int64_t now_ms) {
    core::WorkItem item;
    item.event = event_;
    item.kind = core::WorkKind::apply;
    item.at_ms = now_ms;
    item.changes.push_back(std::move(c));
    return queue_.record_and_wait(std::move(item));
  }
  std::vector<core::ProjectionChange>& changes() { return changes_; }
  // The event's transaction facts, read from the body once per attempt however many handlers
  // of the route ask (nullopt: no transaction object).
  const std::optional<core::PaymentFacts>& payment_facts() {
    if (!facts_read_) {
      facts_ = core::payment_facts(event_->body);
      facts_read_ = true;
    }
    return facts_;
  }

 private:
  core::WorkQueue& queue_;
  std::shared_ptr<const core::StoredEvent> event_;
  std::vector<core::ProjectionChange> changes_;
  bool facts_read_ = false;
  std::optional<core::PaymentFacts> facts_;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Runs the action. Must not throw for expected failures (return retry/fail); an exception
  // escaping is treated as a retryable failure by the dispatcher. Bounded by its own timeout.
  virtual HandlerResult handle(const core::StoredEvent& event) = 0;
  // What the dispatcher calls: handle() unless the handler needs the write path (the built-in
  // projections override it).
  virtual HandlerResult handle_in(const core::StoredEvent& event, HandlerContext& /*context*/) {
    return handle(event);
  }
};

inline constexpr std::string_view kLogHandler = "log";

// Handlers by name. The built-in "log" handler is always present.
class HandlerRegistry {
 public:
  HandlerRegistry();
  void add(std::string name, std::unique_ptr<Handler> handler);
  Handler* find(std::string_view name) const;  // nullptr when unknown

 private:
  std::map<std::string, std::unique_ptr<Handler>, std::less<>> handlers_;
};

// The built-in "log" handler: writes one log line and succeeds.
std::unique_ptr<Handler> make_log_handler();

}  // namespace webhook::worker
