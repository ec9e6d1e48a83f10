#pragma once
// InlineWorkQueue: a core::WorkQueue that writes each item at once, on the calling thread, in a
// transaction of its own, and tells the listener before record() returns. For
// Dispatcher::run_once() in tests and for one-shot tools; the service uses the writer
// (storage/inbox_writer.hpp).

#include <mutex>
#include <optional>
#include <span>

#include "webhook/core/work.hpp"

namespace webhook::worker {

class InlineWorkQueue final : public core::WorkQueue {
 public:
  // `store` must outlive the queue.
  explicit InlineWorkQueue(core::BatchStore& store) : store_(store) {}

  void set_listener(core::WorkListener* listener) override { listener_ = listener; }
  std::vector<core::StoredEvent> load_pending(std::int64_t after_id, std::size_t limit) override {
    return store_.load_pending(after_id, limit);
  }
  bool record_all(std::vector<core::WorkItem> items) override {
    for (const core::WorkItem& item : items) {
      if (!write(item)) return false;
    }
    return true;
  }
  std::optional<core::WorkRecorded> record_and_wait(core::WorkItem item) override {
    return write(item);
  }

 private:
  std::optional<core::WorkRecorded> write(const core::WorkItem& item) {
    std::optional<core::WorkRecorded> out;
    {
      std::lock_guard lock(mutex_);  // one writer at a time, as the store requires
      core::BatchWritten written = store_.write_batch({}, std::span(&item, 1), false);
      if (!written.ok || written.work.size() != 1) return std::nullopt;
      out = written.work.front();
    }
    if (listener_ != nullptr) listener_->work_recorded(std::span(&*out, 1));
    return out;
  }

  core::BatchStore& store_;
  core::WorkListener* listener_ = nullptr;
  std::mutex mutex_;
};

}  // namespace webhook::worker
