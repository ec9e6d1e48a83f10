#pragma once
// MemoryInbox: the hand-written in-memory fake of core::Inbox (STYLE.md practice 6). It keeps the
// same contract as SqliteInbox; tests/storage/inbox_contract_test.cpp runs one suite against both.
// Thread-safe (one mutex). `fail_next` simulates a storage error for the next batch.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "webhook/core/inbox.hpp"

namespace webhook::test {

class MemoryInbox final : public core::Inbox {
 public:
  // When set, the next store_batch() stores nothing and fails every result (then it clears).
  std::atomic<bool> fail_next{false};

  std::vector<core::StoreResult> store_batch(std::span<const core::Delivery> batch) override {
    std::lock_guard lock(mutex_);
    if (fail_next.exchange(false)) {
      return std::vector<core::StoreResult>(batch.size(),
                                            core::StoreResult::failed("simulated storage failure"));
    }
    std::vector<core::StoreResult> results;
    for (const core::Delivery& d : batch) {
      const auto next_id = static_cast<std::int64_t>(events_.size()) + 1;
      const auto [it, added] = ids_.try_emplace(tuple_of(d.key), next_id);
      if (!added) {
        results.push_back(core::StoreResult::duplicate(it->second));
        continue;
      }
      events_.push_back(stored(next_id, d));
      results.push_back(core::StoreResult::inserted(next_id));
    }
    return results;
  }

  std::optional<core::StoredEvent> find_event(std::int64_t id) override {
    std::lock_guard lock(mutex_);
    if (id < 1 || id > static_cast<std::int64_t>(events_.size())) return std::nullopt;
    return events_[static_cast<std::size_t>(id - 1)];
  }

  std::optional<core::StoredEvent> find_by_key(const core::DedupKey& key) override {
    std::lock_guard lock(mutex_);
    const auto it = ids_.find(tuple_of(key));
    if (it == ids_.end()) return std::nullopt;
    return events_[static_cast<std::size_t>(it->second - 1)];
  }

  std::int64_t count_events() override {
    std::lock_guard lock(mutex_);
    return static_cast<std::int64_t>(events_.size());
  }

 private:
  using KeyTuple = std::tuple<std::string, std::string, std::string, std::string, std::string>;

  static KeyTuple tuple_of(const core::DedupKey& k) {
    return {k.source, k.event_name, k.entity_kind, k.entity_id, k.state_token};
  }

  static core::StoredEvent stored(std::int64_t id, const core::Delivery& d) {
    core::StoredEvent e;
    e.id = id;
    e.key = d.key;
    e.event_type = d.event_type;
    e.entity_kind = d.entity_kind;
    e.entity_id = d.entity_id;
    e.status = d.quarantined ? core::kStatusQuarantined : core::kStatusPending;
    e.quarantine_reason = d.quarantine_reason;
    e.body = d.body;
    e.request_id = d.request_id;
    e.received_at_ms = d.received_at_ms;
    e.scheme = core::to_string(d.scheme);
    e.candidate = core::to_string(d.candidate);
    e.key_slot = d.key_slot;
    return e;
  }

  std::mutex mutex_;
  std::map<KeyTuple, std::int64_t> ids_;   // GUARDED_BY(mutex_)
  std::vector<core::StoredEvent> events_;  // GUARDED_BY(mutex_); id = index + 1
};

}  // namespace webhook::test
