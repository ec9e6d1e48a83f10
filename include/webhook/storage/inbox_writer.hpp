#pragma once
// InboxWriter: the one thread that writes to the database (the one write path, core/work.hpp).
//  1. Sessions submit() deliveries and the worker pool record_all()s work items (attempt started,
//     results with their projection changes) from any thread; both queue and return at once.
//  2. The writer thread takes what is waiting (deliveries first, up to max_batch; work items up
//     to work_budget, so a burst of results never delays acknowledgements much) and calls
//     BatchStore::write_batch() once: one transaction, one fsync when it holds deliveries.
//  3. After the commit: each submitter's completion runs with its own result (it must only hand
//     the result over, never block); the listener gets the new events (in memory, bodies moved,
//     not copied) and the recorded work. A failed transaction fails its deliveries (503) and
//     puts its work items back at the front of the queue, retried after a short pause.
//  Before each transaction the payload-log lines of its deliveries go out in one write.
//  4. About once a second it asks the store whether another process changed the database (an
//     `events retry`), and tells the listener.
// Modeled on spdlog's thread pool and LevelDB's writer queue: bounded queue, explicit overflow
// answer, join in stop().

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "webhook/core/work.hpp"

namespace webhook::storage {

struct WriterStats {
  std::uint64_t batches = 0;     // transactions committed (or failed)
  std::uint64_t deliveries = 0;  // deliveries written
  std::uint64_t work_items = 0;  // work items written
  std::uint64_t max_batch = 0;   // most deliveries in one batch so far
  std::uint64_t failed_batches = 0;
  double last_commit_seconds = 0.0;
};

class InboxWriter final : public core::DeliverySink, public core::WorkQueue {
 public:
  struct Options {
    std::size_t max_batch = 512;     // 1 switches group commit off (one commit per delivery)
    std::size_t max_queue = 10000;   // submit() refuses beyond this (overload -> 503)
    std::size_t work_budget = 1024;  // most work items per transaction
    // ... when deliveries are waiting too: acknowledgements come first, results get this much.
    std::size_t work_budget_with_deliveries = 128;
    std::chrono::milliseconds outside_check{1000};  // how often changed_elsewhere() is asked
    std::chrono::milliseconds failure_pause{100};   // after a failed transaction with work
    // Receives the payload-log lines of each batch's deliveries (Delivery::payload_log_line),
    // concatenated, once per batch just before its transaction (the payload log's one write).
    std::function<void(std::string_view lines)> write_payload_lines;
  };
  using Completion = core::DeliverySink::Completion;
  // Called on the writer thread after each batch (metrics); may be empty. `batch_size` counts
  // deliveries.
  using BatchObserver = std::function<void(std::size_t batch_size, double commit_seconds, bool ok)>;

  // `store` must outlive the writer; `reader` (may be null: `store`) answers load_pending() on
  // its own connection, so the pool's reads never wait for a transaction. Starts the thread.
  InboxWriter(core::BatchStore& store, Options options, BatchObserver observer = {},
              core::BatchStore* reader = nullptr);
  ~InboxWriter() override;  // stop()
  InboxWriter(const InboxWriter&) = delete;
  InboxWriter& operator=(const InboxWriter&) = delete;

  // core::DeliverySink
  bool submit(core::Delivery delivery, Completion done) override;

  // core::WorkQueue
  void set_listener(core::WorkListener* listener) override;
  std::vector<core::StoredEvent> load_pending(std::int64_t after_id, std::size_t limit) override;
  bool record_all(std::vector<core::WorkItem> items) override;
  std::optional<core::WorkRecorded> record_and_wait(core::WorkItem item) override;

  // Asks the store whether another connection changed the database (a redrive) at the next
  // loop instead of at the next outside_check; from any thread.
  void check_outside_now();

  // Writes everything already queued, then joins the thread. Idempotent.
  void stop();

  WriterStats stats() const;
  std::size_t queued() const;  // deliveries waiting
  // Whether the last transaction committed.
  bool last_commit_ok() const;

 private:
  struct Item {
    core::Delivery delivery;
    Completion done;
  };
  struct Work {
    core::WorkItem item;
    std::shared_ptr<std::promise<std::optional<core::WorkRecorded>>> waiter;  // record_and_wait
  };
  void run();
  bool enqueue_work(Work work);

  core::BatchStore& store_;
  core::BatchStore& reader_;
  const Options options_;
  BatchObserver observer_;
  core::WorkListener* listener_ = nullptr;  // set before start-up delivers anything
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;          // GUARDED_BY(mutex_)
  std::deque<Work> work_;           // GUARDED_BY(mutex_)
  bool stopping_ = false;           // GUARDED_BY(mutex_)
  bool check_outside_now_ = false;  // GUARDED_BY(mutex_)
  bool finished_ = false;           // GUARDED_BY(mutex_): the thread has exited; record() refuses
  bool last_ok_ = true;             // GUARDED_BY(mutex_)
  WriterStats stats_;               // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace webhook::storage
