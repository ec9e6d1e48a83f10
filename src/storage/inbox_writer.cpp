// InboxWriter: the queues, the writer thread's loop (take a batch, write it once, complete each
// submitter with its own result, hand the new events and the recorded work to the listener) and
// the stats.

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

// Writes one batch; never throws. A store that throws or answers with the wrong number of
// results fails the whole batch, so every submitter still hears back exactly once.
core::BatchWritten write(core::BatchStore& store, std::span<const core::Delivery> deliveries,
                         std::span<const core::WorkItem> work) {
  std::string why;
  try {
    core::BatchWritten written = store.write_batch(deliveries, work, !deliveries.empty());
    if (written.stored.size() == deliveries.size() &&
        (!written.ok || written.work.size() == work.size())) {
      return written;
    }
    why = "store answered " + std::to_string(written.stored.size()) + " results for " +
          std::to_string(deliveries.size()) + " deliveries";
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown exception";
  }
  log::error("writer: write_batch failed", {.detail = why});
  core::BatchWritten failed;
  failed.stored.assign(deliveries.size(), core::StoreResult::failed("storage error"));
  return failed;
}

template <typename F>
void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log::error(what, {.detail = e.what()});
  } catch (...) {
    log::error(what);
  }
}

}  // namespace

InboxWriter::InboxWriter(core::BatchStore& store, Options options, BatchObserver observer,
                         core::BatchStore* reader)
    : store_(store),
      reader_(reader != nullptr ? *reader : store),
      options_(options),
      observer_(std::move(observer)) {
  // The baseline for changed_elsewhere(): what changed before it, the pool reads at start-up.
  guarded("writer: checking for outside changes failed", [&] { store_.changed_elsewhere(); });
  thread_ = std::thread([this] { run(); });
}

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

void InboxWriter::set_listener(core::WorkListener* listener) {
  std::lock_guard lock(mutex_);
  listener_ = listener;
}

std::vector<core::StoredEvent> InboxWriter::load_pending(std::int64_t after_id, std::size_t limit) {
  return reader_.load_pending(after_id, limit);
}

bool InboxWriter::enqueue_work(Work work) {
  {
    std::lock_guard lock(mutex_);
    // Results are taken also while stopping: the pool records what its last handlers did
    // before the writer drains and exits.
    if (finished_) return false;
    work_.push_back(std::move(work));
  }
  wake_.notify_one();
  return true;
}

bool InboxWriter::record_all(std::vector<core::WorkItem> items) {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return false;
    for (core::WorkItem& item : items) work_.push_back(Work{std::move(item), {}});
  }
  wake_.notify_one();
  return true;
}

std::optional<core::WorkRecorded> InboxWriter::record_and_wait(core::WorkItem item) {
  auto waiter = std::make_shared<std::promise<std::optional<core::WorkRecorded>>>();
  std::future<std::optional<core::WorkRecorded>> answer = waiter->get_future();
  if (!enqueue_work(Work{std::move(item), waiter})) return std::nullopt;
  return answer.get();
}

void InboxWriter::check_outside_now() {
  {
    std::lock_guard lock(mutex_);
    check_outside_now_ = true;
  }
  wake_.notify_one();
}

void InboxWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // From a completion (the writer thread itself) stop() only asks; the owner's stop() joins.
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
    // Nothing records after this; anyone still waiting hears "not recorded".
    std::lock_guard lock(mutex_);
    for (Work& w : work_) {
      if (w.waiter) w.waiter->set_value(std::nullopt);
    }
    work_.clear();
  }
}

WriterStats InboxWriter::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t InboxWriter::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool InboxWriter::last_commit_ok() const {
  std::lock_guard lock(mutex_);
  return last_ok_;
}

void InboxWriter::run() {
  using Clock = std::chrono::steady_clock;
  const std::size_t max_batch = std::max<std::size_t>(1, options_.max_batch);
  const std::size_t work_budget = std::max<std::size_t>(1, options_.work_budget);
  std::vector<core::Delivery> deliveries;
  std::vector<Completion> completions;
  std::vector<core::WorkItem> work;
  std::vector<std::shared_ptr<std::promise<std::optional<core::WorkRecorded>>>> waiters;
  std::vector<std::shared_ptr<const core::StoredEvent>> stored;
  std::string payload_lines;  // reused: one write per batch
  deliveries.reserve(max_batch);
  completions.reserve(max_batch);
  auto next_outside_check = Clock::now() + options_.outside_check;
  bool pause = false;  // the last transaction failed with work in it
  for (;;) {
    core::WorkListener* listener = nullptr;
    // 1. Wait for work; take up to max_batch deliveries and work_budget items. Exit only once
    // stopping and drained (work that keeps failing while stopping is dropped: its events run
    // again at the next start).
    {
      std::unique_lock lock(mutex_);
      if (pause) {
        wake_.wait_for(lock, options_.failure_pause, [this] { return stopping_; });
        if (stopping_) work_.clear();
        pause = false;
      }
      wake_.wait_until(lock, next_outside_check, [this] {
        return stopping_ || !queue_.empty() || !work_.empty() || check_outside_now_;
      });
      if (check_outside_now_) {
        check_outside_now_ = false;
        next_outside_check = Clock::now();
      }
      if (stopping_ && queue_.empty() && work_.empty()) {
        finished_ = true;
        return;
      }
      listener = listener_;
      const std::size_t n = std::min(max_batch, queue_.size());
      for (std::size_t i = 0; i < n; ++i) {
        deliveries.push_back(std::move(queue_.front().delivery));
        completions.push_back(std::move(queue_.front().done));
        queue_.pop_front();
      }
      const std::size_t budget =
          n > 0 ? std::max<std::size_t>(1, options_.work_budget_with_deliveries) : work_budget;
      const std::size_t m = std::min(budget, work_.size());
      for (std::size_t i = 0; i < m; ++i) {
        work.push_back(std::move(work_.front().item));
        waiters.push_back(std::move(work_.front().waiter));
        work_.pop_front();
      }
    }

    // 2. The payload log, then one transaction for the whole batch, outside the lock so
    // submitters keep queueing.
    if (!deliveries.empty() && options_.write_payload_lines) {
      payload_lines.clear();
      for (core::Delivery& d : deliveries) {
        payload_lines += d.payload_log_line;
        std::string().swap(d.payload_log_line);
      }
      if (!payload_lines.empty()) {
        guarded("writer: payload log threw", [&] { options_.write_payload_lines(payload_lines); });
      }
      if (payload_lines.capacity() > (1U << 20)) std::string().swap(payload_lines);
    }
    if (!deliveries.empty() || !work.empty()) {
      const auto started = Clock::now();
      core::BatchWritten written = write(store_, deliveries, work);
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

      // 3. Stats first, so a submitter that has its answer also sees its batch counted.
      {
        std::lock_guard lock(mutex_);
        ++stats_.batches;
        if (written.ok) {
          stats_.deliveries += deliveries.size();
          stats_.work_items += work.size();
        } else {
          ++stats_.failed_batches;
          // Work is retried: back to the front, in its order, after a pause.
          for (std::size_t i = work.size(); i-- > 0;) {
            work_.push_front(Work{std::move(work[i]), std::move(waiters[i])});
          }
          pause = !work.empty();
        }
        last_ok_ = written.ok;
        stats_.max_batch = std::max<std::uint64_t>(stats_.max_batch, deliveries.size());
        stats_.last_commit_seconds = seconds;
      }

      // 4. Each submitter gets its own result; a throwing completion harms no one else.
      for (std::size_t i = 0; i < completions.size(); ++i) {
        if (!completions[i]) continue;
        guarded("writer: completion threw", [&] { completions[i](written.stored[i]); });
      }

      // 5. The pool: new events (bodies moved, not copied), then what was recorded.
      if (written.ok) {
        for (std::size_t i = 0; i < deliveries.size(); ++i) {
          const core::StoreResult& r = written.stored[i];
          if (r.kind != core::StoreResult::Kind::inserted || deliveries[i].quarantined) continue;
          stored.push_back(std::make_shared<const core::StoredEvent>(
              core::to_stored_event(r.event_id, std::move(deliveries[i]))));
        }
        if (listener != nullptr) {
          if (!stored.empty()) {
            guarded("writer: events_stored threw",
                    [&] { listener->events_stored(std::move(stored)); });
          }
          if (!written.work.empty()) {
            guarded("writer: work_recorded threw", [&] { listener->work_recorded(written.work); });
          }
        }
        for (std::size_t i = 0; i < waiters.size(); ++i) {
          if (waiters[i]) waiters[i]->set_value(written.work[i]);
        }
      }

      // 6. Metrics.
      if (observer_) {
        guarded("writer: batch observer threw",
                [&] { observer_(deliveries.size(), seconds, written.ok); });
      }
      // Release bodies and completion state now, not when the next batch arrives.
      deliveries.clear();
      completions.clear();
      work.clear();
      waiters.clear();
      stored.clear();
    }

    // 7. Another process's commit (an `events retry`): the pool may be missing pending events.
    if (Clock::now() >= next_outside_check) {
      next_outside_check = Clock::now() + options_.outside_check;
      bool changed = false;
      guarded("writer: checking for outside changes failed",
              [&] { changed = store_.changed_elsewhere(); });
      if (changed && listener != nullptr) {
        guarded("writer: outside_change threw", [&] { listener->outside_change(); });
      }
    }
  }
}

}  // namespace webhook::storage
