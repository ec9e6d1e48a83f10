#pragma once
// MemoryInbox: the hand-written in-memory fake of core::Inbox (STYLE.md practice 6). It keeps the
// same contract as SqliteInbox; tests/storage/inbox_contract_test.cpp runs one suite against both.
// Thread-safe (one mutex). `fail_next` simulates a storage error for the next batch.
// The queue methods scan every event: obviously right, not fast (tests only).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
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

  // ---- the worker pool's queue (same rule as SqliteInbox, by brute force) -------------------

  std::vector<core::StoredEvent> claim_due(std::int64_t now_ms, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    std::vector<core::StoredEvent> claimed;
    for (core::StoredEvent& e : events_) {  // id order
      if (claimed.size() >= limit) break;
      if (e.status != core::kStatusPending || e.next_attempt_at_ms > now_ms) continue;
      if (!first_in_line(e)) continue;
      e.status = core::kStatusProcessing;
      e.attempts += 1;
      e.updated_at_ms = now_ms;
      claimed.push_back(e);
    }
    return claimed;
  }

  bool mark_done(std::int64_t id, std::int64_t now_ms) override {
    return finish(id, core::kStatusDone, now_ms);
  }
  bool mark_unhandled(std::int64_t id, std::int64_t now_ms) override {
    return finish(id, core::kStatusUnhandled, now_ms);
  }
  bool schedule_retry(std::int64_t id, std::int64_t next_attempt_at_ms, std::string_view error,
                      std::int64_t now_ms) override {
    return finish(id, core::kStatusPending, now_ms, error, next_attempt_at_ms);
  }
  bool mark_dead(std::int64_t id, std::string_view error, std::int64_t now_ms) override {
    return finish(id, core::kStatusDead, now_ms, error);
  }

  std::size_t release_claims(std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (core::StoredEvent& e : events_) {
      if (e.status != core::kStatusProcessing) continue;
      e.status = core::kStatusPending;
      e.next_attempt_at_ms = now_ms;
      e.updated_at_ms = now_ms;
      ++n;
    }
    return n;
  }

  std::size_t redrive(std::span<const std::int64_t> ids, std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (core::StoredEvent& e : events_) {
      if (e.status != core::kStatusDead) continue;
      if (!ids.empty() && std::find(ids.begin(), ids.end(), e.id) == ids.end()) continue;
      e.status = core::kStatusPending;
      e.attempts = 0;
      e.next_attempt_at_ms = now_ms;
      e.updated_at_ms = now_ms;
      ++n;
    }
    return n;
  }

  std::optional<std::int64_t> next_due_ms() override {
    std::lock_guard lock(mutex_);
    std::optional<std::int64_t> due;
    for (const core::StoredEvent& e : events_) {
      if (e.status != core::kStatusPending) continue;
      if (!due || e.next_attempt_at_ms < *due) due = e.next_attempt_at_ms;
    }
    return due;
  }

 private:
  using KeyTuple = std::tuple<std::string, std::string, std::string, std::string, std::string>;

  static KeyTuple tuple_of(const core::DedupKey& k) {
    return {k.source, k.event_name, k.entity_kind, k.entity_id, k.state_token};
  }

  // The entity is the key's (source, entity_kind, entity_id), as SqliteInbox stores it.
  static bool same_entity(const core::StoredEvent& a, const core::StoredEvent& b) {
    return a.key.source == b.key.source && a.key.entity_kind == b.key.entity_kind &&
           a.key.entity_id == b.key.entity_id;
  }

  // True when no other event of e's entity is processing or is an older pending one.
  bool first_in_line(const core::StoredEvent& e) const {
    return std::none_of(events_.begin(), events_.end(), [&](const core::StoredEvent& other) {
      if (other.id == e.id || !same_entity(other, e)) return false;
      return other.status == core::kStatusProcessing ||
             (other.status == core::kStatusPending && other.id < e.id);
    });
  }

  // A claimed (processing) event to `status`; `error` and `due` are set when given.
  bool finish(std::int64_t id, std::string_view status, std::int64_t now_ms,
              std::optional<std::string_view> error = std::nullopt,
              std::optional<std::int64_t> due = std::nullopt) {
    std::lock_guard lock(mutex_);
    if (id < 1 || id > static_cast<std::int64_t>(events_.size())) return false;
    core::StoredEvent& e = events_[static_cast<std::size_t>(id - 1)];
    if (e.status != core::kStatusProcessing) return false;
    e.status = status;
    e.updated_at_ms = now_ms;
    if (error) e.last_error = *error;
    if (due) e.next_attempt_at_ms = *due;
    return true;
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
    e.updated_at_ms = d.received_at_ms;  // next_attempt_at_ms 0: due at once
    return e;
  }

  std::mutex mutex_;
  std::map<KeyTuple, std::int64_t> ids_;   // GUARDED_BY(mutex_)
  std::vector<core::StoredEvent> events_;  // GUARDED_BY(mutex_); id = index + 1
};

}  // namespace webhook::test
