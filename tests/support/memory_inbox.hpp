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
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "webhook/core/inbox.hpp"
#include "webhook/core/work.hpp"

namespace webhook::test {

class MemoryInbox final : public core::Inbox, public core::BatchStore {
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
      events_.push_back(core::to_stored_event(next_id, d));
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

  // ---- the one write path (core/work.hpp) ----------------------------------------------------
  // Projection changes are recorded in changes_applied() (the fake has no projections); a
  // change of an event in `fail_changes_of` throws, so the item's fallback is recorded.

  core::BatchWritten write_batch(std::span<const core::Delivery> deliveries,
                                 std::span<const core::WorkItem> work, bool durable) override {
    core::BatchWritten out;
    out.stored = store_batch(deliveries);
    for (const core::StoreResult& r : out.stored) {
      if (r.kind == core::StoreResult::Kind::failed) return out;
    }
    if (fail_work_next.exchange(false)) {
      out.stored.assign(deliveries.size(), core::StoreResult::failed("simulated storage failure"));
      return out;
    }
    last_durable = durable;
    for (const core::WorkItem& item : work) out.work.push_back(apply(item));
    out.ok = true;
    return out;
  }

  std::vector<core::StoredEvent> load_pending(std::int64_t after_id, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    std::vector<core::StoredEvent> out;
    for (const core::StoredEvent& e : events_) {
      if (out.size() >= limit) break;
      if (e.id > after_id && e.status == core::kStatusPending) out.push_back(e);
    }
    return out;
  }

  bool changed_elsewhere() override { return outside_change.exchange(false); }

  // When set, the next write_batch() fails as a whole (after the deliveries; they are failed too).
  std::atomic<bool> fail_work_next{false};
  // Set by a test to play another process changing the database.
  std::atomic<bool> outside_change{false};
  std::atomic<bool> last_durable{false};
  std::set<std::int64_t> fail_changes_of;  // set before the dispatcher starts

  std::vector<std::pair<std::int64_t, core::ProjectionChange::Kind>> changes_applied() {
    std::lock_guard lock(mutex_);
    return changes_;
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

  core::WorkRecorded apply(const core::WorkItem& item) {
    using core::WorkKind;
    core::WorkRecorded out;
    out.event_id = item.event->id;
    out.kind = item.kind;
    if (!item.changes.empty() && fail_changes_of.count(item.event->id) > 0) {
      out.kind = item.fallback;
      out.error = "simulated projection failure";
    } else {
      std::lock_guard lock(mutex_);
      for (const core::ProjectionChange& c : item.changes)
        changes_.emplace_back(out.event_id, c.kind);
    }
    const std::string_view error = out.error.empty() ? std::string_view(item.error) : out.error;
    switch (out.kind) {
      case WorkKind::started: {
        std::lock_guard lock(mutex_);
        core::StoredEvent& e = events_.at(static_cast<std::size_t>(out.event_id - 1));
        out.recorded = e.status == core::kStatusPending || e.status == core::kStatusProcessing;
        if (out.recorded) {
          e.status = core::kStatusProcessing;
          e.attempts = item.attempts;
          e.updated_at_ms = item.at_ms;
        }
        break;
      }
      case WorkKind::released: {
        std::lock_guard lock(mutex_);
        core::StoredEvent& e = events_.at(static_cast<std::size_t>(out.event_id - 1));
        out.recorded = e.status == core::kStatusProcessing;
        if (out.recorded) {
          e.status = core::kStatusPending;
          e.attempts = item.attempts;
          e.updated_at_ms = item.at_ms;
        }
        break;
      }
      case WorkKind::apply:
        out.recorded = true;
        break;
      case WorkKind::done:
        out.recorded = mark_done(out.event_id, item.at_ms);
        break;
      case WorkKind::unhandled:
        out.recorded = mark_unhandled(out.event_id, item.at_ms);
        break;
      case WorkKind::retry:
        out.recorded = schedule_retry(out.event_id, item.next_attempt_at_ms, error, item.at_ms);
        break;
      case WorkKind::dead:
        out.recorded = mark_dead(out.event_id, error, item.at_ms);
        break;
      case WorkKind::observed: {
        std::lock_guard lock(mutex_);
        const auto [at, inserted] =
            ids_.emplace(tuple_of(item.event->key), static_cast<std::int64_t>(events_.size()) + 1);
        out.recorded = inserted;
        out.event_id = at->second;
        if (inserted) {
          events_.push_back(*item.event);
          events_.back().id = out.event_id;
        }
        break;
      }
    }
    return out;
  }

  std::mutex mutex_;
  std::vector<std::pair<std::int64_t, core::ProjectionChange::Kind>>
      changes_;                            // GUARDED_BY(mutex_)
  std::map<KeyTuple, std::int64_t> ids_;   // GUARDED_BY(mutex_)
  std::vector<core::StoredEvent> events_;  // GUARDED_BY(mutex_); id = index + 1
};

}  // namespace webhook::test
