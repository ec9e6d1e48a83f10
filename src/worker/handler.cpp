// HandlerRegistry and the built-in "log" handler (include/webhook/worker/handler.hpp).

#include "webhook/worker/handler.hpp"

#include <stdexcept>
#include <utility>

#include "webhook/log/log.hpp"

namespace webhook::worker {
namespace {

// Writes one info line with the event's identity (never its body) and succeeds. Stateless, so
// thread-safe; idempotent apart from the repeated line.
class LogHandler final : public Handler {
 public:
  HandlerResult handle(const core::StoredEvent& event) override {
    log::info("event handled", {.request_id = event.request_id,
                                .source = event.key.source,
                                .event_type = event.event_type,
                                .entity_id = event.entity_id,
                                .event_id = event.id});
    return HandlerResult::success();
  }
};

}  // namespace

HandlerRegistry::HandlerRegistry() { add(std::string(kLogHandler), make_log_handler()); }

// Start-up only (not thread-safe against find()). A later handler of the same name replaces the
// earlier one, so configuration may override "log". A null handler is a programming error.
void HandlerRegistry::add(std::string name, std::unique_ptr<Handler> handler) {
  if (!handler) throw std::invalid_argument("handler '" + name + "' is null");
  handlers_.insert_or_assign(std::move(name), std::move(handler));
}

Handler* HandlerRegistry::find(std::string_view name) const {
  const auto it = handlers_.find(name);
  return it == handlers_.end() ? nullptr : it->second.get();
}

std::unique_ptr<Handler> make_log_handler() { return std::make_unique<LogHandler>(); }

}  // namespace webhook::worker
