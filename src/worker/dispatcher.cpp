// Dispatcher (include/webhook/worker/dispatcher.hpp).
// Threads: the writer's thread hands over stored events and recorded work (events_stored,
// work_recorded: they only queue and wake); one dispatcher thread settles recorded work (moves
// entities on, reports, logs), fires retry timers and reads events back from the database;
// options.threads workers run attempts. One mutex guards the in-memory state; no storage call,
// handler or log line runs under it.

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

// A worker takes at most this many ready events at once; their results go to the writer
// together unless handlers take longer than kFlushAfter.
constexpr std::size_t kMaxBatch = 16;
constexpr auto kFlushAfter = std::chrono::milliseconds(2);

// last_error and log details are cut to this size (a downstream may answer with a whole page).
constexpr std::size_t kMaxErrorBytes = 4096;

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

// The entity's key: (source, kind, id) with separators no part contains.
std::string entity_key(const core::StoredEvent& e) {
  std::string key;
  key.reserve(e.key.source.size() + e.key.entity_kind.size() + e.key.entity_id.size() + 2);
  key += e.key.source;
  key += '\x1f';
  key += e.key.entity_kind;
  key += '\x1f';
  key += e.key.entity_id;
  return key;
}

// Runs every handler of `route` in order and stops at the first failure. Never throws for a
// handler's sake: an escaping exception becomes a retryable failure. `failed` names the handler
// that failed (empty when all succeeded).
HandlerResult run_route(const core::RouteRule& route, const HandlerRegistry& handlers,
                        const core::StoredEvent& event, HandlerContext& context,
                        std::string& failed) {
  for (const std::string& name : route.handlers) {
    Handler* handler = handlers.find(name);
    HandlerResult result;
    if (handler == nullptr) {
      result = HandlerResult::fail("unknown handler " + name);
    } else {
      try {
        result = handler->handle_in(event, context);
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

std::string_view outcome_of(core::WorkKind kind) {
  switch (kind) {
    case core::WorkKind::done:
      return "done";
    case core::WorkKind::unhandled:
      return "unhandled";
    case core::WorkKind::retry:
      return "retried";
    case core::WorkKind::dead:
      return "dead";
    case core::WorkKind::started:
    case core::WorkKind::apply:
    case core::WorkKind::released:
    case core::WorkKind::observed:
      break;
  }
  return "";
}

}  // namespace

Dispatcher::Dispatcher(core::WorkQueue& queue, core::RouteTable routes,
                       const HandlerRegistry& handlers, core::RetryPolicy default_retry,
                       const core::Clock& clock, std::function<double()> jitter,
                       DispatcherOptions options, DispatchObserver observer)
    : queue_(queue),
      routes_(std::move(routes)),
      handlers_(handlers),
      default_retry_(default_retry),
      clock_(clock),
      jitter_(std::move(jitter)),
      options_(options),
      observer_(std::move(observer)) {
  queue_.set_listener(this);
}

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
  queue_.set_listener(nullptr);
}

void Dispatcher::start() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || running_)
      throw std::logic_error("Dispatcher::start() called twice or after stop()");
  }
  const int threads = std::max(1, options_.threads);
  log::info("worker pool starting", {.detail = "threads=" + std::to_string(threads)});
  running_ = true;
  try {
    dispatcher_ = std::thread([this] { dispatch_loop(); });
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {
    stop();
    throw;
  }
}

void Dispatcher::stop() {
  std::size_t dropped = 0;
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      first = true;
      stopping_ = true;
      dropped = ready_.size();  // ready but not started: they stay pending in the database
      ready_.clear();
    }
  }
  if (!running_) return;  // never started (run_once mode), or already stopped and joined
  wake_dispatcher_.notify_all();
  wake_workers_.notify_all();
  if (first) {
    log::info("worker pool stopping: no new attempts",
              {.detail = "ready but not started=" + std::to_string(dropped)});
  }
  std::size_t still_running = 0;
  {
    std::unique_lock lock(mutex_);
    idle_.wait_for(lock, options_.stop_timeout, [this] { return in_flight_ == 0; });
    still_running = in_flight_;
  }
  if (dispatcher_.joinable()) dispatcher_.join();
  if (still_running > 0) {
    log::error("handlers still running after stop_timeout; their events run again after restart",
               {.detail = "running=" + std::to_string(still_running) +
                          "; worker threads are joined when the handlers return"});
    return;
  }
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  running_ = false;
  log::info("worker pool stopped");
}

DispatcherStats Dispatcher::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t Dispatcher::held() const {
  std::lock_guard lock(mutex_);
  return held_;
}

// ---- from the writer's thread ---------------------------------------------------------------

void Dispatcher::events_stored(std::vector<EventPtr> events) {
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now = clock_.now_ms();
    for (EventPtr& event : events) {
      if (event->id <= horizon_) continue;  // already read back from the database
      if (!live_ || held_ >= options_.max_events_in_memory) {
        // Not held: it waits in the database until catch_up() reads it back in id order.
        live_ = false;
        dropped_max_id_ = std::max(dropped_max_id_, event->id);
        continue;
      }
      horizon_ = event->id;
      add_locked(std::move(event), 0, 0, now);
    }
    if (!live_) notified_ = true;
    // Live, the workers were woken for what became ready; the dispatcher thread need not be.
    if (live_) return;
  }
  wake_dispatcher_.notify_one();
}

void Dispatcher::work_recorded(std::span<const core::WorkRecorded> recorded) {
  bool any = false;
  {
    std::lock_guard lock(mutex_);
    for (const core::WorkRecorded& r : recorded) {
      if (r.kind == core::WorkKind::started || r.kind == core::WorkKind::apply ||
          r.kind == core::WorkKind::released || r.kind == core::WorkKind::observed) {
        // Nothing to settle: a released event stays held, pending, for the restart; an observed
        // one (an API answer) was stored done and never ran here.
        continue;
      }
      recorded_.push_back(r);
      any = true;
    }
    if (any) notified_ = true;
  }
  if (any) wake_dispatcher_.notify_one();
}

void Dispatcher::outside_change() {
  {
    std::lock_guard lock(mutex_);
    rescan_ = true;
    notified_ = true;
  }
  wake_dispatcher_.notify_one();
}

// ---- the in-memory queue (mutex_ held) -------------------------------------------------------

// Holds `event` in its entity's queue (one key built, one map look-up) and makes the head ready
// when it may run.
void Dispatcher::add_locked(EventPtr event, int attempts, std::int64_t due_ms,
                            std::int64_t now_ms) {
  const auto it = entities_.try_emplace(entity_key(*event)).first;
  Entity& entity = it->second;
  Slot slot{std::move(event), attempts, due_ms};
  // Id order; a redriven older event goes before the others but never before a busy head.
  auto at = entity.slots.end();
  const auto first = entity.slots.begin() + (entity.busy && !entity.slots.empty() ? 1 : 0);
  while (at != first && std::prev(at)->event->id > slot.event->id) --at;
  entity.slots.insert(at, std::move(slot));
  ++held_;
  schedule_locked(it->first, entity, now_ms);
}

void Dispatcher::schedule_locked(const std::string& key, Entity& entity, std::int64_t now_ms) {
  if (entity.busy || entity.slots.empty() || stopping_) return;
  const Slot& head = entity.slots.front();
  if (head.due_ms > now_ms) {
    timers_.emplace(head.due_ms, key);
    return;
  }
  entity.busy = true;
  ready_.push_back(Ready{key, head});
  wake_workers_.notify_one();
}

void Dispatcher::fire_timers_locked(std::int64_t now_ms) {
  while (!timers_.empty() && timers_.top().first <= now_ms) {
    const std::string key = timers_.top().second;
    timers_.pop();
    const auto it = entities_.find(key);
    if (it != entities_.end()) schedule_locked(key, it->second, now_ms);
  }
}

// Moves entities on for every committed result: the entity's next event becomes ready (or its
// head waits for its retry time). Returns what to report and log, outside the lock.
std::vector<Dispatcher::Settled> Dispatcher::settle_locked(std::int64_t now_ms) {
  std::vector<Settled> settled;
  std::vector<core::WorkRecorded> recorded;
  recorded.swap(recorded_);
  settled.reserve(recorded.size());
  for (core::WorkRecorded& r : recorded) {
    const auto run = running_attempts_.find(r.event_id);
    if (run == running_attempts_.end()) continue;
    Settled s{std::move(run->second), nullptr, ""};
    running_attempts_.erase(run);
    const auto it = entities_.find(s.attempt.entity);
    if (it == entities_.end() || it->second.slots.empty()) continue;
    Entity& entity = it->second;
    Slot& head = entity.slots.front();
    s.event = head.event;
    entity.busy = false;
    // Not recorded: the database no longer holds it as pending or processing (another process
    // changed it); nothing to run any more.
    s.outcome = r.recorded ? outcome_of(r.kind) : "";
    if (!r.error.empty()) s.attempt.error = truncate_error(r.error);  // a change failed
    if (r.kind == core::WorkKind::retry && r.recorded) {
      head.attempts = s.attempt.attempts;
      head.due_ms = now_ms + s.attempt.delay_ms;
    } else {
      entity.slots.pop_front();
      --held_;
    }
    if (entity.slots.empty()) {
      entities_.erase(it);
    } else {
      schedule_locked(s.attempt.entity, entity, now_ms);
    }
    if (s.outcome == "done") ++stats_.done;
    if (s.outcome == "retried") ++stats_.retried;
    if (s.outcome == "dead") ++stats_.dead;
    if (s.outcome == "unhandled") ++stats_.unhandled;
    settled.push_back(std::move(s));
  }
  if (in_flight_ == 0 && running_attempts_.empty()) idle_.notify_all();
  return settled;
}

void Dispatcher::report(const std::vector<Settled>& settled) {
  for (const Settled& s : settled) {
    const core::StoredEvent& event = *s.event;
    if (s.outcome.empty()) {
      log::warn("result discarded: the event is no longer pending", fields_of(event, "", ""));
      continue;
    }
    if (observer_) {
      try {
        observer_(
            DispatchReport{event, s.outcome, s.attempt.handler_seconds, s.attempt.started_at_ms});
      } catch (const std::exception& e) {
        log::error("dispatch observer threw", fields_of(event, s.outcome, e.what()));
      }
    }
    // A done event is logged at debug: the "log" handler and the metrics already account for it,
    // and a line per event is a large share of a busy receiver's work.
    if (s.outcome == "done" && !log::enabled(log::Level::debug)) continue;
    const std::string attempt = "attempt " + std::to_string(s.attempt.attempts);
    const std::string by =
        s.attempt.failed_handler.empty() ? "" : " (handler " + s.attempt.failed_handler + ")";
    if (s.outcome == "retried") {
      log::warn("event failed, retry scheduled",
                fields_of(event, s.outcome,
                          attempt + by + ", retry in " + std::to_string(s.attempt.delay_ms) +
                              " ms: " + s.attempt.error));
    } else if (s.outcome == "dead") {
      log::warn("event dead", fields_of(event, s.outcome, attempt + by + ": " + s.attempt.error));
    } else if (s.outcome == "unhandled") {
      log::info("event unhandled: no route for its type", fields_of(event, s.outcome, ""));
    } else {
      log::debug("event done", fields_of(event, s.outcome, attempt));
    }
  }
}

// Reads pending events after the horizon back from the database, in id order, while there is
// room; live again once it has caught up with what the writer handed over meanwhile. Returns the
// number read. Called with `lock` held; releases it around the read.
// Why that is exact: the writer hands an event over only after its commit, so an event dropped
// before a read began is visible to that read; a read that returns less than it asked for has
// seen every pending event it could, and when nothing was dropped while it ran, nothing pending
// is missing from memory.
std::size_t Dispatcher::catch_up(std::unique_lock<std::mutex>& lock) {
  std::size_t read = 0;
  while (!live_ && !stopping_ && held_ < options_.max_events_in_memory) {
    const std::int64_t after = horizon_;
    const std::int64_t dropped_before = dropped_max_id_;
    const std::size_t room = std::min(options_.load_batch, options_.max_events_in_memory - held_);
    lock.unlock();
    std::vector<core::StoredEvent> events;
    bool failed = false;
    try {
      events = queue_.load_pending(after, room);
    } catch (const std::exception& e) {
      log::error("reading pending events failed; retrying", {.detail = truncate_error(e.what())});
      failed = true;
    }
    lock.lock();
    if (failed) {
      ++stats_.errors;
      return read;
    }
    const std::int64_t now = clock_.now_ms();
    for (core::StoredEvent& e : events) {
      if (e.id <= horizon_) continue;
      horizon_ = e.id;
      const int attempts = e.attempts;
      const std::int64_t due = e.next_attempt_at_ms;
      add_locked(std::make_shared<const core::StoredEvent>(std::move(e)), attempts, due, now);
      ++read;
    }
    stats_.loaded += events.size();
    if (events.size() < room && dropped_max_id_ == dropped_before) {
      horizon_ = std::max(horizon_, dropped_before);
      live_ = true;
    }
  }
  return read;
}

// Another process changed the database (`events retry`): pending events at or below the horizon
// that are not held (a redriven dead letter) join their entity's queue in id order.
void Dispatcher::rescan(std::unique_lock<std::mutex>& lock) {
  rescan_ = false;
  std::int64_t after = 0;
  const std::int64_t until = horizon_;
  while (!stopping_ && after < until) {
    lock.unlock();
    std::vector<core::StoredEvent> events;
    try {
      events = queue_.load_pending(after, options_.load_batch);
    } catch (const std::exception& e) {
      log::error("reading pending events failed", {.detail = truncate_error(e.what())});
      lock.lock();
      rescan_ = true;
      return;
    }
    lock.lock();
    const std::int64_t now = clock_.now_ms();
    for (core::StoredEvent& e : events) {
      after = e.id;
      if (e.id > until) break;
      const std::string key = entity_key(e);
      const auto it = entities_.find(key);
      if (it != entities_.end() &&
          std::any_of(it->second.slots.begin(), it->second.slots.end(),
                      [&e](const Slot& s) { return s.event->id == e.id; })) {
        continue;  // held already
      }
      if (running_attempts_.count(e.id) > 0) continue;
      const int attempts = e.attempts;
      const std::int64_t due = e.next_attempt_at_ms;
      add_locked(std::make_shared<const core::StoredEvent>(std::move(e)), attempts, due, now);
      ++stats_.loaded;
    }
    if (events.size() < options_.load_batch) break;
  }
}

// Settles what committed and fires due retries under `lock`, then reports the settled results
// with the lock released. True when anything was settled.
bool Dispatcher::settle_and_fire(std::unique_lock<std::mutex>& lock) {
  const std::int64_t now = clock_.now_ms();
  const std::vector<Settled> settled = settle_locked(now);
  fire_timers_locked(now);
  if (settled.empty()) return false;
  lock.unlock();
  report(settled);
  lock.lock();
  return true;
}

// Settle what committed, fire due retries, read back from the database when behind, then sleep
// until something happens or the next retry falls due.
void Dispatcher::dispatch_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    notified_ = false;
    settle_and_fire(lock);
    if (rescan_) rescan(lock);
    // Behind the writer: read back once half the room is free again (not one event at a time).
    if (!live_ && held_ <= options_.max_events_in_memory / 2) catch_up(lock);
    if (notified_ || stopping_) continue;
    milliseconds wait = options_.idle_poll;
    if (!timers_.empty()) {
      wait = std::clamp(milliseconds(timers_.top().first - clock_.now_ms()), milliseconds(0),
                        options_.idle_poll);
    }
    // Behind and out of room, or a failed read: try again at the idle poll.
    wake_dispatcher_.wait_for(lock, wait, [this] { return stopping_ || notified_; });
  }
  // Results that commit while stop() waits for the handlers still settle (for the idle wait).
  settle_locked(clock_.now_ms());
}

// Takes a share of the ready events (at most kMaxBatch) per wake-up and runs them in order, so
// that a burst costs one hand-off to the writer per batch, not two per event.
void Dispatcher::worker_loop() {
  std::vector<Ready> batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_workers_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping
    const auto threads = static_cast<std::size_t>(std::max(1, options_.threads));
    const std::size_t take =
        std::clamp<std::size_t>((ready_.size() + threads - 1) / threads, 1, kMaxBatch);
    for (std::size_t i = 0; i < take && !ready_.empty(); ++i) {
      batch.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    in_flight_ += batch.size();
    if (!ready_.empty()) wake_workers_.notify_one();  // more for another worker
    lock.unlock();
    try {
      run_batch(batch);
    } catch (const std::exception& e) {  // allocation failure and the like: keep the thread
      log::error("running events failed", {.detail = e.what()});
    } catch (...) {
      log::error("running events failed", {.detail = "non-standard exception"});
    }
    lock.lock();
    in_flight_ -= batch.size();
    batch.clear();
    if (in_flight_ == 0) idle_.notify_all();
  }
}

void Dispatcher::run_batch(std::vector<Ready>& batch) {
  // 1. The attempts are counted before any handler runs (a crash mid-handler still counts).
  const std::int64_t started_at_ms = clock_.now_ms();
  std::vector<core::WorkItem> items;
  items.reserve(batch.size());
  for (const Ready& ready : batch) {
    core::WorkItem start;
    start.event = ready.slot.event;
    start.kind = core::WorkKind::started;
    start.attempts = ready.slot.attempts + 1;
    start.at_ms = started_at_ms;
    items.push_back(std::move(start));
  }
  if (!queue_.record_all(std::move(items))) return;  // the writer stopped: run after restart
  {
    std::lock_guard lock(mutex_);
    stats_.started += batch.size();
  }
  // 2. Run them; the results go to the writer together, or sooner once handlers take time, so
  // a slow handler does not hold back the results of the fast ones before it.
  std::vector<core::WorkItem> results;
  std::vector<std::int64_t> ids;
  auto oldest = std::chrono::steady_clock::now();
  const auto flush = [&] {
    if (results.empty()) return;
    if (!queue_.record_all(std::move(results))) {
      std::lock_guard lock(mutex_);
      for (const std::int64_t id : ids) running_attempts_.erase(id);  // runs after restart
    }
    results.clear();
    ids.clear();
  };
  for (Ready& ready : batch) {
    bool stopping = false;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
    }
    if (stopping) {
      // stop() came while this batch ran: the rest never runs here; its attempts are taken back.
      core::WorkItem release;
      release.event = ready.slot.event;
      release.kind = core::WorkKind::released;
      release.attempts = ready.slot.attempts;
      release.at_ms = clock_.now_ms();
      results.push_back(std::move(release));
      continue;
    }
    if (results.empty()) oldest = std::chrono::steady_clock::now();
    ids.push_back(ready.slot.event->id);
    results.push_back(attempt(std::move(ready), started_at_ms));
    if (std::chrono::steady_clock::now() - oldest > kFlushAfter) flush();
  }
  flush();
}

core::WorkItem Dispatcher::attempt(Ready ready, std::int64_t started_at_ms) {
  const EventPtr& event = ready.slot.event;
  const int attempts = ready.slot.attempts + 1;

  // 1. Run the route.
  const auto started = std::chrono::steady_clock::now();
  const core::RouteRule* route = routes_.match(event->event_type);
  HandlerContext context(queue_, event);
  Running run;
  run.entity = std::move(ready.entity);
  run.attempts = attempts;
  run.started_at_ms = started_at_ms;
  const HandlerResult result =
      route != nullptr ? run_route(*route, handlers_, *event, context, run.failed_handler)
                       : HandlerResult::success();
  run.handler_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // 2. Decide the outcome, and the fallback should a projection change fail at commit.
  const std::int64_t now = clock_.now_ms();
  core::WorkItem item;
  item.event = event;
  item.at_ms = now;
  double jitter = 0.0;
  if (jitter_) {
    std::lock_guard lock(mutex_);  // the caller's generator need not be thread-safe
    jitter = jitter_();
  }
  if (!(jitter >= 0.0 && jitter < 1.0)) jitter = 0.0;
  const core::RetryPolicy policy =
      route != nullptr ? route->retry.value_or(default_retry_) : default_retry_;
  const auto retry_or_dead = [&](std::optional<milliseconds> delay, const std::string& why) {
    if (delay) {
      run.delay_ms = delay->count();
      item.next_attempt_at_ms = now + delay->count();
      return core::WorkKind::retry;
    }
    run.error = truncate_error("gave up after " + std::to_string(attempts) + " attempts: " + why);
    return core::WorkKind::dead;
  };
  if (route == nullptr) {
    item.kind = core::WorkKind::unhandled;
  } else if (result.kind == HandlerResult::Kind::ok) {
    item.kind = core::WorkKind::done;
    item.changes = std::move(context.changes());
    if (!item.changes.empty()) {
      item.fallback =
          retry_or_dead(policy.next_delay(attempts, jitter, std::nullopt), "projection failed");
    }
  } else if (result.kind == HandlerResult::Kind::permanent) {
    item.kind = core::WorkKind::dead;
    run.error = truncate_error(result.error);
  } else {
    run.error = truncate_error(result.error);
    item.kind =
        retry_or_dead(policy.next_delay(attempts, jitter, result.retry_after), result.error);
  }
  item.error = run.error;
  run.outcome = outcome_of(item.kind);

  // 3. The entity moves on once the result has committed (work_recorded, settle_locked).
  std::lock_guard lock(mutex_);
  running_attempts_[event->id] = std::move(run);
  return item;
}

std::size_t Dispatcher::run_once() {
  std::size_t attempts = 0;
  std::unique_lock lock(mutex_);
  // Read what is new in the database, and what changed under the held ones (tests store and
  // redrive through the inbox directly).
  live_ = false;
  catch_up(lock);
  rescan(lock);
  for (;;) {
    if (settle_and_fire(lock)) continue;
    if (ready_.empty()) break;
    std::vector<Ready> batch;
    batch.push_back(std::move(ready_.front()));
    ready_.pop_front();
    ++in_flight_;
    lock.unlock();
    run_batch(batch);
    ++attempts;
    lock.lock();
    --in_flight_;
  }
  return attempts;
}

}  // namespace webhook::worker
