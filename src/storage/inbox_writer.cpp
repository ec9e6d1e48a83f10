// InboxWriter: the queue, the writer thread's loop (take a batch, store it once, complete each
// submitter with its own result) and the stats.

#include "webhook/storage/inbox_writer.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "webhook/log/log.hpp"

namespace webhook::storage {
namespace {

// Stores one batch; never throws. An inbox that throws or answers with the wrong number of
// results fails the whole batch, so every submitter still hears back exactly once.
std::vector<core::StoreResult> store(core::Inbox& inbox, std::span<const core::Delivery> batch) {
  std::string why;
  try {
    std::vector<core::StoreResult> results = inbox.store_batch(batch);
    if (results.size() == batch.size()) return results;
    why = "inbox answered " + std::to_string(results.size()) + " results for " +
          std::to_string(batch.size()) + " deliveries";
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown exception";
  }
  log::Fields fields;
  fields.detail = why;
  log::error("inbox writer: store_batch failed", fields);
  return std::vector<core::StoreResult>(batch.size(), core::StoreResult::failed("storage error"));
}

}  // namespace

InboxWriter::InboxWriter(core::Inbox& inbox, Options options, BatchObserver observer)
    : inbox_(inbox),
      options_(options),
      observer_(std::move(observer)),
      thread_([this] { run(); }) {}

InboxWriter::~InboxWriter() { stop(); }

bool InboxWriter::submit(core::Delivery delivery, Completion done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_queue) return false;
    queue_.push_back(Item{std::move(delivery), std::move(done)});
  }
  wake_.notify_one();
  return true;
}

void InboxWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // From a completion (the writer thread itself) stop() only asks; the owner's stop() joins.
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

WriterStats InboxWriter::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t InboxWriter::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void InboxWriter::run() {
  const std::size_t max_batch = std::max<std::size_t>(1, options_.max_batch);
  std::vector<core::Delivery> deliveries;
  std::vector<Completion> completions;
  deliveries.reserve(max_batch);
  completions.reserve(max_batch);
  for (;;) {
    // 1. Wait for work; take up to max_batch items. Exit only once stopping and drained.
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      const std::size_t n = std::min(max_batch, queue_.size());
      for (std::size_t i = 0; i < n; ++i) {
        deliveries.push_back(std::move(queue_.front().delivery));
        completions.push_back(std::move(queue_.front().done));
        queue_.pop_front();
      }
    }

    // 2. One transaction for the whole batch, outside the lock so submitters keep queueing.
    const auto started = std::chrono::steady_clock::now();
    const std::vector<core::StoreResult> results = store(inbox_, deliveries);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const bool ok = std::none_of(results.begin(), results.end(), [](const core::StoreResult& r) {
      return r.kind == core::StoreResult::Kind::failed;
    });

    // 3. Stats first, so a submitter that has its answer also sees its batch counted.
    {
      std::lock_guard lock(mutex_);
      ++stats_.batches;
      if (ok) {
        stats_.deliveries += deliveries.size();
      } else {
        ++stats_.failed_batches;
      }
      stats_.max_batch = std::max<std::uint64_t>(stats_.max_batch, deliveries.size());
      stats_.last_commit_seconds = seconds;
    }

    // 4. Each submitter gets its own result; a throwing completion harms no one else.
    for (std::size_t i = 0; i < completions.size(); ++i) {
      if (!completions[i]) continue;
      try {
        completions[i](results[i]);
      } catch (const std::exception& e) {
        log::Fields fields;
        fields.detail = e.what();
        log::error("inbox writer: completion threw", fields);
      } catch (...) {
        log::error("inbox writer: completion threw");
      }
    }

    // 5. Metrics.
    if (observer_) {
      try {
        observer_(deliveries.size(), seconds, ok);
      } catch (...) {
        log::error("inbox writer: batch observer threw");
      }
    }
    // Release bodies and completion state now, not when the next batch arrives.
    deliveries.clear();
    completions.clear();
  }
}

}  // namespace webhook::storage
