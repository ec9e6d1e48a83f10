// Dispatcher (include/webhook/worker/dispatcher.hpp).
// Threads: one dispatcher thread claims due events into `ready_`; options.threads workers take
// them one at a time, run the route and record the result. Locks: `mutex_` guards the hand-off
// state (ready_, in_flight_, notified_, stopping_, stats_), `queue_mutex_` every call on `queue_`.
// The two are never held together, so there is no lock order to get wrong, and a slow storage
// call never blocks a worker that is only handing back an event.

#include "webhook/worker/dispatcher.hpp"

#include <algorithm>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

#include "webhook/log/log.hpp"

namespace webhook::worker {
namespace {

using std::chrono::milliseconds;

// last_error and log details are cut to this size (a downstream may answer with a whole page).
constexpr std::size_t kMaxErrorBytes = 4096;
// Recording a result is tried this many times before the event is left claimed (see process()).
constexpr int kRecordAttempts = 3;
constexpr milliseconds kRecordBackoff{100};

std::string truncate_error(std::string_view error) {
  if (error.size() <= kMaxErrorBytes) return std::string(error);
  constexpr std::string_view kMark = " [truncated]";
  std::size_t cut = kMaxErrorBytes - kMark.size();
  // Do not split a UTF-8 sequence: back up over continuation bytes.
  while (cut > 0 && (static_cast<unsigned char>(error[cut]) & 0xC0U) == 0x80U) --cut;
  std::string out(error.substr(0, cut));
  out += kMark;
  return out;
}

log::Fields fields_of(const core::StoredEvent& event, std::string_view result,
                      std::string_view detail) {
  return {.request_id = event.request_id,
          .source = event.key.source,
          .event_type = event.event_type,
          .entity_id = event.entity_id,
          .event_id = event.id,
          .result = result,
          .detail = detail};
}

// Runs every handler of `route` in order and stops at the first failure. Never throws for a
// handler's sake: an escaping exception becomes a retryable failure. `failed` names the handler
// that failed (empty when all succeeded).
HandlerResult run_route(const core::RouteRule& route, const HandlerRegistry& handlers,
                        const core::StoredEvent& event, std::string& failed) {
  for (const std::string& name : route.handlers) {
    Handler* handler = handlers.find(name);
    HandlerResult result;
    if (handler == nullptr) {
      result = HandlerResult::fail("unknown handler " + name);
    } else {
      try {
        result = handler->handle(event);
      } catch (const std::exception& e) {
        result = HandlerResult::retry(e.what());
      } catch (...) {
        result = HandlerResult::retry("handler threw a non-standard exception");
      }
    }
    if (result.kind != HandlerResult::Kind::ok) {
      failed = name;
      return result;
    }
  }
  return HandlerResult::success();
}

}  // namespace

Dispatcher::Dispatcher(core::Inbox& queue, core::RouteTable routes, const HandlerRegistry& handlers,
                       core::RetryPolicy default_retry, const core::Clock& clock,
                       std::function<double()> jitter, DispatcherOptions options,
                       DispatchObserver observer)
    : queue_(queue),
      routes_(std::move(routes)),
      handlers_(handlers),
      default_retry_(default_retry),
      clock_(clock),
      jitter_(std::move(jitter)),
      options_(options),
      observer_(std::move(observer)) {}

Dispatcher::~Dispatcher() {
  stop();
  if (running_) {
    // A handler is still running past stop_timeout. Its thread uses this object, so it is not
    // detached: wait for the handler to return (its own timeout bounds this).
    log::warn("waiting for handlers that outlived stop_timeout before destroying the pool");
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
    running_ = false;
  }
}

void Dispatcher::start() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || running_)
      throw std::logic_error("Dispatcher::start() called twice or after stop()");
  }
  std::size_t released = 0;
  {
    std::lock_guard queue_lock(queue_mutex_);
    released = queue_.release_claims(clock_.now_ms());
  }
  const int threads = std::max(1, options_.threads);
  log::info("worker pool starting",
            {.detail = "threads=" + std::to_string(threads) +
                       " stale claims released=" + std::to_string(released)});
  running_ = true;
  try {
    dispatcher_ = std::thread([this] { dispatch_loop(); });
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {
    stop();
    throw;
  }
}

void Dispatcher::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_dispatcher_.notify_one();
}

void Dispatcher::stop() {
  std::size_t dropped = 0;
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      first = true;
      stopping_ = true;
      // Claimed but not started: nobody will run them now; release_claims() below returns them.
      dropped = ready_.size();
      ready_.clear();
      in_flight_ -= dropped;
      if (in_flight_ == 0) idle_.notify_all();
    }
  }
  if (!running_) return;  // never started (run_once mode), or already stopped and joined
  wake_dispatcher_.notify_all();
  wake_workers_.notify_all();
  if (first) {
    log::info("worker pool stopping: no new claims",
              {.detail = "claimed but not started=" + std::to_string(dropped)});
  }
  if (dispatcher_.joinable()) dispatcher_.join();

  std::size_t still_running = 0;
  {
    std::unique_lock lock(mutex_);
    idle_.wait_for(lock, options_.stop_timeout, [this] { return in_flight_ == 0; });
    still_running = in_flight_;
  }

  // Every claim not recorded goes back to pending: those dropped above, any the dispatcher
  // claimed while stopping, and those of handlers still running after the timeout (a late
  // result of such a handler then finds its event pending and is discarded: at-least-once).
  std::size_t released = 0;
  try {
    std::lock_guard queue_lock(queue_mutex_);
    released = queue_.release_claims(clock_.now_ms());
  } catch (const std::exception& e) {
    log::error("releasing claims at stop failed; they are released at the next start",
               {.detail = truncate_error(e.what())});
  }

  if (still_running > 0) {
    log::error("handlers still running after stop_timeout; their events are back to pending",
               {.detail = "running=" + std::to_string(still_running) +
                          " released=" + std::to_string(released) +
                          "; worker threads are joined when the handlers return"});
    return;
  }
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  running_ = false;
  log::info("worker pool stopped", {.detail = "claims released=" + std::to_string(released)});
}

std::size_t Dispatcher::run_once() {
  std::vector<core::StoredEvent> claimed;
  try {
    std::lock_guard queue_lock(queue_mutex_);
    claimed = queue_.claim_due(clock_.now_ms(), options_.claim_batch);
  } catch (const std::exception& e) {
    log::error("claiming due events failed", {.detail = truncate_error(e.what())});
    std::lock_guard lock(mutex_);
    ++stats_.errors;
    return 0;
  }
  {
    std::lock_guard lock(mutex_);
    stats_.claimed += claimed.size();
  }
  for (const core::StoredEvent& event : claimed) process(event);
  return claimed.size();
}

DispatcherStats Dispatcher::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

// Claim, hand over, sleep until there may be more: a notify() (a commit, or a worker that
// finished and so may have unblocked the next event of its entity), the next due time, the idle
// poll, or stop().
void Dispatcher::dispatch_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    notified_ = false;  // a notify() from here on triggers another round
    const std::size_t room =
        options_.claim_batch > in_flight_ ? options_.claim_batch - in_flight_ : 0;
    lock.unlock();

    // 1. Claim what is due, up to the free room.
    const std::int64_t claim_now = clock_.now_ms();
    std::vector<core::StoredEvent> claimed;
    bool failed = false;
    if (room > 0) {
      try {
        std::lock_guard queue_lock(queue_mutex_);
        claimed = queue_.claim_due(claim_now, room);
      } catch (const std::exception& e) {
        log::error("claiming due events failed; backing off", {.detail = truncate_error(e.what())});
        failed = true;
      }
    }
    lock.lock();
    if (failed) {
      ++stats_.errors;
      wake_dispatcher_.wait_for(lock, options_.idle_poll, [this] { return stopping_; });
      continue;
    }
    if (stopping_) break;  // these claims stay processing; stop() releases them

    // 2. Hand them to the workers.
    for (core::StoredEvent& event : claimed) ready_.push_back(std::move(event));
    in_flight_ += claimed.size();
    stats_.claimed += claimed.size();
    if (!claimed.empty()) wake_workers_.notify_all();
    lock.unlock();

    // 3. How long until something may become claimable without a notify(). A due event that was
    // not claimed is blocked by its entity or by the room: a finishing worker notifies then, so
    // wait for that (or the idle poll). A later one: wake at its due time.
    milliseconds wait = options_.idle_poll;
    try {
      std::optional<std::int64_t> next_due;
      {
        std::lock_guard queue_lock(queue_mutex_);
        next_due = queue_.next_due_ms();
      }
      if (next_due && *next_due > claim_now) {
        wait = std::clamp(milliseconds(*next_due - clock_.now_ms()), milliseconds(0),
                          options_.idle_poll);
      }
    } catch (const std::exception& e) {
      log::error("reading the next due time failed", {.detail = truncate_error(e.what())});
    }
    lock.lock();
    wake_dispatcher_.wait_for(lock, wait, [this] { return stopping_ || notified_; });
  }
}

// Takes one event at a time until stop() has emptied `ready_`. A held event is always finished,
// also when stop() was called meanwhile.
void Dispatcher::worker_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_workers_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping
    const core::StoredEvent event = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    try {
      process(event);
    } catch (const std::exception& e) {  // allocation failure and the like: keep the thread
      log::error("processing an event failed", fields_of(event, "error", e.what()));
    } catch (...) {
      log::error("processing an event failed", fields_of(event, "error", "non-standard exception"));
    }
    lock.lock();
    --in_flight_;
    notified_ = true;  // its entity's next event may be claimable now
    wake_dispatcher_.notify_one();
    if (in_flight_ == 0) idle_.notify_all();
  }
}

void Dispatcher::process(const core::StoredEvent& event) {
  // 1. Run the route.
  const std::int64_t started_at_ms = clock_.now_ms();
  const auto started = std::chrono::steady_clock::now();
  const core::RouteRule* route = routes_.match(event.event_type);
  std::string failed_handler;
  const HandlerResult result = route != nullptr
                                   ? run_route(*route, handlers_, event, failed_handler)
                                   : HandlerResult::success();
  const double handler_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // 2. Decide the outcome.
  const std::int64_t now = clock_.now_ms();
  std::string_view outcome;
  std::string error;                  // stored as last_error (retried, dead)
  std::optional<milliseconds> delay;  // retried
  if (route == nullptr) {
    outcome = "unhandled";
  } else if (result.kind == HandlerResult::Kind::ok) {
    outcome = "done";
  } else if (result.kind == HandlerResult::Kind::permanent) {
    outcome = "dead";
    error = truncate_error(result.error);
  } else {
    double jitter = 0.0;
    if (jitter_) {
      std::lock_guard lock(mutex_);  // the caller's generator need not be thread-safe
      jitter = jitter_();
    }
    if (!(jitter >= 0.0 && jitter < 1.0)) jitter = 0.0;
    const core::RetryPolicy policy = route->retry.value_or(default_retry_);
    delay = policy.next_delay(event.attempts, jitter, result.retry_after);
    if (delay) {
      outcome = "retried";
      error = truncate_error(result.error);
    } else {
      outcome = "dead";
      error = truncate_error("gave up after " + std::to_string(event.attempts) +
                             " attempts: " + result.error);
    }
  }

  // 3. Record it. A storage error is retried briefly; if it persists the event stays processing
  // (its entity blocked) until release_claims() at the next stop() or start(), then runs again.
  std::optional<bool> recorded;
  for (int attempt = 1; attempt <= kRecordAttempts && !recorded; ++attempt) {
    try {
      std::lock_guard queue_lock(queue_mutex_);
      if (outcome == "unhandled") {
        recorded = queue_.mark_unhandled(event.id, now);
      } else if (outcome == "done") {
        recorded = queue_.mark_done(event.id, now);
      } else if (outcome == "retried") {
        recorded = queue_.schedule_retry(event.id, now + delay->count(), error, now);
      } else {
        recorded = queue_.mark_dead(event.id, error, now);
      }
    } catch (const std::exception& e) {
      log::error("recording an event's result failed",
                 fields_of(event, outcome, truncate_error(e.what())));
      {
        std::lock_guard lock(mutex_);
        ++stats_.errors;
      }
      if (attempt < kRecordAttempts) std::this_thread::sleep_for(kRecordBackoff * attempt);
    }
  }
  if (!recorded) return;
  if (!*recorded) {
    // stop() released the claim while the handler ran past stop_timeout: the event is pending
    // again and runs after the restart.
    log::warn("result discarded: the event is no longer claimed", fields_of(event, outcome, ""));
    return;
  }

  // 4. Count, report, log.
  {
    std::lock_guard lock(mutex_);
    if (outcome == "done") ++stats_.done;
    if (outcome == "retried") ++stats_.retried;
    if (outcome == "dead") ++stats_.dead;
    if (outcome == "unhandled") ++stats_.unhandled;
  }
  if (observer_) {
    try {
      observer_(DispatchReport{event, outcome, handler_seconds, started_at_ms});
    } catch (const std::exception& e) {
      log::error("dispatch observer threw", fields_of(event, outcome, e.what()));
    } catch (...) {
      log::error("dispatch observer threw", fields_of(event, outcome, "non-standard exception"));
    }
  }
  const std::string attempt = "attempt " + std::to_string(event.attempts);
  const std::string by = failed_handler.empty() ? "" : " (handler " + failed_handler + ")";
  if (outcome == "retried") {
    log::warn(
        "event failed, retry scheduled",
        fields_of(event, outcome,
                  attempt + by + ", retry in " + std::to_string(delay->count()) + " ms: " + error));
  } else if (outcome == "dead") {
    log::warn("event dead", fields_of(event, outcome, attempt + by + ": " + error));
  } else if (outcome == "unhandled") {
    log::info("event unhandled: no route for its type", fields_of(event, outcome, ""));
  } else {
    log::info("event done", fields_of(event, outcome, attempt));
  }
}

}  // namespace webhook::worker
