#pragma once
// InboxWriter: the one thread that writes deliveries to the Inbox, with group commit.
//  1. Sessions call submit() from any thread; it queues and returns at once.
//  2. The writer thread takes everything queued (up to max_batch) and calls
//     Inbox::store_batch() once: one transaction, one fsync for the whole batch.
//  3. Each submitter's completion runs on the writer thread with its own result; it must only
//     hand the result over (post to its executor), never block.
// Modeled on spdlog's thread pool: bounded queue, explicit overflow answer, join in stop().

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "webhook/core/inbox.hpp"

namespace webhook::storage {

struct WriterStats {
  std::uint64_t batches = 0;     // transactions committed (or failed)
  std::uint64_t deliveries = 0;  // deliveries written
  std::uint64_t max_batch = 0;   // largest batch so far
  std::uint64_t failed_batches = 0;
  double last_commit_seconds = 0.0;
};

class InboxWriter {
 public:
  struct Options {
    std::size_t max_batch = 512;    // 1 switches group commit off (one commit per delivery)
    std::size_t max_queue = 10000;  // submit() refuses beyond this (overload -> 503)
  };
  using Completion = std::function<void(const core::StoreResult&)>;
  // Called on the writer thread after each batch (metrics); may be empty.
  using BatchObserver = std::function<void(std::size_t batch_size, double commit_seconds, bool ok)>;

  // `inbox` must outlive the writer. Starts the thread.
  InboxWriter(core::Inbox& inbox, Options options, BatchObserver observer = {});
  ~InboxWriter();  // stop()
  InboxWriter(const InboxWriter&) = delete;
  InboxWriter& operator=(const InboxWriter&) = delete;

  // Queues `delivery`; `done` is called exactly once on the writer thread with its result.
  // Returns false (and never calls `done`) when the queue is full or the writer is stopped.
  bool submit(core::Delivery delivery, Completion done);

  // Writes everything already queued, then joins the thread. Idempotent.
  void stop();

  WriterStats stats() const;
  std::size_t queued() const;

 private:
  struct Item {
    core::Delivery delivery;
    Completion done;
  };
  void run();

  core::Inbox& inbox_;
  const Options options_;
  BatchObserver observer_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;   // GUARDED_BY(mutex_)
  WriterStats stats_;       // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace webhook::storage
