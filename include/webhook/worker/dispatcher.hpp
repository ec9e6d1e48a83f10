#pragma once
// Dispatcher: runs the handlers of accepted events.
//  1. A dispatcher thread claims due events from the queue (pending, next_attempt_at <= now, the
//     oldest unfinished event of its entity, none of that entity in flight) when woken by
//     notify() after a commit, when a retry falls due, or at the idle poll interval.
//  2. A pool of worker threads runs each claimed event's route: every handler in order.
//  3. The result is recorded: done; unhandled (no route); retry at now + RetryPolicy delay;
//     dead when attempts are exhausted or the failure is permanent.
//  4. stop(): no new claims; running handlers get stop_timeout to finish; claims not finished
//     go back to pending.
// A handler that does not return within stop_timeout: stop() still returns after the timeout,
// with its event back to pending (it runs again after a restart: at-least-once), but its worker
// thread is not detached (it uses this object): it is joined by a later stop() call or by the
// destructor, which waits for the handler to return. Handlers bound their own run time
// (forward/exec timeout_ms), which bounds that wait; a late result is discarded.
// Per-entity order comes from the claim rule, so events of one entity run one at a time in
// arrival order, while different entities run in parallel.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "webhook/core/clock.hpp"
#include "webhook/core/inbox.hpp"
#include "webhook/core/retry_policy.hpp"
#include "webhook/core/routing.hpp"
#include "webhook/worker/handler.hpp"

namespace webhook::worker {

struct DispatcherOptions {
  int threads = 4;
  std::size_t claim_batch = 64;                   // at most this many claims in flight
  std::chrono::milliseconds idle_poll{1000};      // wake up at least this often
  std::chrono::milliseconds stop_timeout{10000};  // how long stop() lets handlers finish
};

// What became of one handled event, for metrics and logs. Called on a worker thread.
struct DispatchReport {
  const core::StoredEvent& event;
  std::string_view outcome;    // done | retried | dead | unhandled
  double handler_seconds;      // all handlers of the route together
  std::int64_t started_at_ms;  // when the first handler started
};
using DispatchObserver = std::function<void(const DispatchReport&)>;

struct DispatcherStats {
  std::uint64_t claimed = 0, done = 0, retried = 0, dead = 0, unhandled = 0, errors = 0;
};

class Dispatcher {
 public:
  // `queue`, `handlers` and `clock` must outlive the dispatcher. `queue` is used only from the
  // dispatcher's threads (give it its own connection). `jitter` returns values in [0, 1).
  Dispatcher(core::Inbox& queue, core::RouteTable routes, const HandlerRegistry& handlers,
             core::RetryPolicy default_retry, const core::Clock& clock,
             std::function<double()> jitter, DispatcherOptions options,
             DispatchObserver observer = {});
  ~Dispatcher();  // stop(), then waits for any handler still running (see above)
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Returns claims left `processing` by a crash to pending, then starts the threads. At most
  // once (std::logic_error otherwise); a storage error from release_claims() propagates and then
  // no thread is started. start(), stop() and the destructor: from the owning thread.
  void start();
  // New work may be due (called by the writer's observer after each commit). Cheap, any thread.
  void notify();
  // As described above (step 4). Idempotent: a later call, once stuck handlers have returned,
  // joins their threads.
  void stop();
  // True from start() until every thread has been joined.
  bool running() const { return running_; }

  // Tests without threads: claims what is due now and runs it on the calling thread. Returns the
  // number of events handled. Do not mix with start().
  std::size_t run_once();

  DispatcherStats stats() const;

 private:
  void dispatch_loop();
  void worker_loop();
  void process(const core::StoredEvent& event);

  core::Inbox& queue_;
  const core::RouteTable routes_;
  const HandlerRegistry& handlers_;
  const core::RetryPolicy default_retry_;
  const core::Clock& clock_;
  std::function<double()> jitter_;
  const DispatcherOptions options_;
  DispatchObserver observer_;

  std::mutex queue_mutex_;  // serialises use of `queue_` across threads
  mutable std::mutex mutex_;
  std::condition_variable wake_dispatcher_;
  std::condition_variable wake_workers_;
  std::condition_variable idle_;
  std::deque<core::StoredEvent> ready_;  // GUARDED_BY(mutex_): claimed, not yet started
  std::size_t in_flight_ = 0;            // GUARDED_BY(mutex_): claimed and not yet recorded
  bool notified_ = false;                // GUARDED_BY(mutex_)
  bool stopping_ = false;                // GUARDED_BY(mutex_)
  DispatcherStats stats_;                // GUARDED_BY(mutex_)
  std::atomic<bool> running_{false};
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
};

}  // namespace webhook::worker
