#pragma once
// Dispatcher: runs the handlers of accepted events, in memory (the one write path, core/work.hpp).
//  1. Events arrive from the writer after their commit (events_stored) and, at start-up or when
//     memory was full, from the database (WorkQueue::load_pending, in id order). Each entity
//     (source, kind, id) has a FIFO in id order; only its head may run, and only one at a time.
//  2. A pool of worker threads runs each ready event's route: every handler in order. An attempt
//     is marked started through the writer (attempts counted, no fsync), and the result goes back
//     through the writer with the projection changes the handlers decided: done; unhandled (no
//     route); retry at now + RetryPolicy delay; dead when attempts are exhausted or the failure
//     is permanent. A projection change that fails makes the result its fallback (a retry).
//  3. Only once the result has committed (work_recorded) does the entity move on: its next event
//     becomes ready, or the head waits in a timer queue for its retry time.
//  4. Memory is bounded: past max_events_in_memory the dispatcher stops taking events from the
//     writer and reads them back from the database in id order once it has room again; the
//     database stays the source of truth.
//  5. stop(): no new attempts; running handlers get stop_timeout to finish and record their
//     results; what is left is pending or processing in the database and runs after a restart.
// A handler that does not return within stop_timeout: stop() still returns after the timeout, but
// its worker thread is not detached (it uses this object): it is joined by a later stop() call or
// by the destructor, which waits for the handler to return (its own timeout bounds that wait).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "webhook/core/clock.hpp"
#include "webhook/core/inbox.hpp"
#include "webhook/core/retry_policy.hpp"
#include "webhook/core/routing.hpp"
#include "webhook/core/work.hpp"
#include "webhook/worker/handler.hpp"

namespace webhook::worker {

struct DispatcherOptions {
  int threads = 4;
  std::size_t max_events_in_memory = 20000;       // held with their bodies; beyond: database
  std::size_t load_batch = 1000;                  // events per read from the database
  std::chrono::milliseconds idle_poll{1000};      // wake up at least this often
  std::chrono::milliseconds stop_timeout{10000};  // how long stop() lets handlers finish
};

// What became of one handled event, for metrics and logs. Called on the dispatcher's thread
// once the result has committed.
struct DispatchReport {
  const core::StoredEvent& event;
  std::string_view outcome;    // done | retried | dead | unhandled
  double handler_seconds;      // all handlers of the route together
  std::int64_t started_at_ms;  // when the first handler started
};
using DispatchObserver = std::function<void(const DispatchReport&)>;

struct DispatcherStats {
  std::uint64_t started = 0, done = 0, retried = 0, dead = 0, unhandled = 0, errors = 0;
  std::uint64_t loaded = 0;  // events read back from the database
};

class Dispatcher final : public core::WorkListener {
 public:
  // `queue`, `handlers` and `clock` must outlive the dispatcher; the constructor makes it the
  // queue's listener. `jitter` returns values in [0, 1).
  Dispatcher(core::WorkQueue& queue, core::RouteTable routes, const HandlerRegistry& handlers,
             core::RetryPolicy default_retry, const core::Clock& clock,
             std::function<double()> jitter, DispatcherOptions options,
             DispatchObserver observer = {});
  ~Dispatcher() override;  // stop(), then waits for any handler still running (see above)
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the threads; the dispatcher thread first reads back what the database holds pending.
  // At most once (std::logic_error otherwise). start(), stop() and the destructor: from the
  // owning thread.
  void start();
  // As described above (step 5). Idempotent.
  void stop();
  // True from start() until every thread has been joined.
  bool running() const { return running_; }

  // Tests without threads (with a WorkQueue that records inline, worker/inline_work_queue.hpp):
  // reads what is new in the database, then runs every event that is ready now on the calling
  // thread, including the successors its results unblock. Returns the number of attempts run.
  // Do not mix with start().
  std::size_t run_once();

  DispatcherStats stats() const;
  std::size_t held() const;  // events in memory

  // core::WorkListener (the writer's thread)
  void events_stored(std::vector<std::shared_ptr<const core::StoredEvent>> events) override;
  void work_recorded(std::span<const core::WorkRecorded> recorded) override;
  void outside_change() override;

 private:
  using EventPtr = std::shared_ptr<const core::StoredEvent>;
  struct Slot {
    EventPtr event;
    int attempts = 0;         // attempts so far
    std::int64_t due_ms = 0;  // when it may run
  };
  struct Entity {
    std::deque<Slot> slots;  // id order; the head runs first
    bool busy = false;       // the head is ready, running, or its result not yet committed
  };
  struct Running {  // an attempt from its start until its result commits
    std::string entity;
    int attempts = 0;
    std::string_view outcome;  // as decided; the committed one may be the fallback
    std::string error;
    std::int64_t delay_ms = 0;
    double handler_seconds = 0.0;
    std::int64_t started_at_ms = 0;
    std::string failed_handler;
  };
  struct Ready {
    std::string entity;
    Slot slot;
  };
  struct Settled {  // a committed result, to report and log outside the lock
    Running attempt;
    EventPtr event;
    std::string_view outcome;  // "" when the database no longer held the event
  };

  void dispatch_loop();
  void worker_loop();
  void run_batch(std::vector<Ready>& batch);
  core::WorkItem attempt(Ready ready, std::int64_t started_at_ms);
  // Under mutex_:
  void add_locked(EventPtr event, int attempts, std::int64_t due_ms, std::int64_t now_ms);
  void schedule_locked(const std::string& key, Entity& entity, std::int64_t now_ms);
  void fire_timers_locked(std::int64_t now_ms);
  std::vector<Settled> settle_locked(std::int64_t now_ms);
  void report(const std::vector<Settled>& settled);
  bool settle_and_fire(std::unique_lock<std::mutex>& lock);
  std::size_t catch_up(std::unique_lock<std::mutex>& lock);
  void rescan(std::unique_lock<std::mutex>& lock);

  core::WorkQueue& queue_;
  const core::RouteTable routes_;
  const HandlerRegistry& handlers_;
  const core::RetryPolicy default_retry_;
  const core::Clock& clock_;
  std::function<double()> jitter_;
  const DispatcherOptions options_;
  DispatchObserver observer_;

  mutable std::mutex mutex_;
  std::condition_variable wake_dispatcher_;
  std::condition_variable wake_workers_;
  std::condition_variable idle_;
  // GUARDED_BY(mutex_) from here:
  std::unordered_map<std::string, Entity> entities_;
  std::size_t held_ = 0;
  std::deque<Ready> ready_;
  std::priority_queue<std::pair<std::int64_t, std::string>,
                      std::vector<std::pair<std::int64_t, std::string>>, std::greater<>>
      timers_;
  std::unordered_map<std::int64_t, Running> running_attempts_;
  std::vector<core::WorkRecorded> recorded_;  // committed, not yet settled
  std::size_t in_flight_ = 0;                 // attempts started and not yet recorded
  std::int64_t horizon_ = 0;                  // every pending event <= this id is held
  bool live_ = false;                // taking events from the writer (else: reading the database)
  std::int64_t dropped_max_id_ = 0;  // newest event not taken while !live_
  bool rescan_ = false;
  bool notified_ = false;
  bool stopping_ = false;
  DispatcherStats stats_;
  // (end GUARDED_BY)
  std::atomic<bool> running_{false};
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
};

}  // namespace webhook::worker
