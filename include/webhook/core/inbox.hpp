#pragma once
// Inbox: the durable store of deliveries. SqliteInbox (storage) is the real one;
// tests/support/memory_inbox.hpp is the fake; tests/storage/inbox_contract_test.cpp runs one
// contract against both.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "webhook/core/delivery.hpp"

namespace webhook::core {

struct StoreResult {
  enum class Kind { inserted, duplicate, failed };
  Kind kind = Kind::failed;
  std::int64_t event_id = 0;  // the new row, or the row the duplicate collided with
  std::string error;          // for failed: a short reason, never payload or secrets

  static StoreResult inserted(std::int64_t id) { return {Kind::inserted, id, {}}; }
  static StoreResult duplicate(std::int64_t id) { return {Kind::duplicate, id, {}}; }
  static StoreResult failed(std::string why) { return {Kind::failed, 0, std::move(why)}; }
};

// Event status values as stored. pending -> processing -> done | unhandled | dead, or back to
// pending for a retry; quarantined events are never dispatched. Terminal: done, unhandled, dead,
// quarantined.
inline constexpr std::string_view kStatusPending = "pending";
inline constexpr std::string_view kStatusProcessing = "processing";
inline constexpr std::string_view kStatusDone = "done";
inline constexpr std::string_view kStatusUnhandled = "unhandled";
inline constexpr std::string_view kStatusDead = "dead";
inline constexpr std::string_view kStatusQuarantined = "quarantined";

struct StoredEvent {
  std::int64_t id = 0;
  DedupKey key;
  std::string event_type;
  std::string entity_kind;
  std::string entity_id;
  std::string status;
  std::string quarantine_reason;
  std::string body;
  std::string request_id;
  std::int64_t received_at_ms = 0;
  std::string scheme;     // to_string(Scheme)
  std::string candidate;  // to_string(BodyCandidate)
  int key_slot = -1;
  int attempts = 0;                     // handler runs started (claims)
  std::int64_t next_attempt_at_ms = 0;  // when a pending event is due
  std::string last_error;               // the last failure, empty when none
  std::int64_t updated_at_ms = 0;
};

class Inbox {
 public:
  virtual ~Inbox() = default;

  // Stores `batch` in one atomic, durable transaction; one result per delivery, in order. A
  // delivery whose key is already stored (or appears earlier in the same batch) is a duplicate.
  // On any storage error nothing is stored and every result is failed.
  // Thread: one caller at a time (the InboxWriter thread).
  virtual std::vector<StoreResult> store_batch(std::span<const Delivery> batch) = 0;

  // Reads. Thread-compatible with store_batch only through the implementation's own locking.
  virtual std::optional<StoredEvent> find_event(std::int64_t id) = 0;
  virtual std::optional<StoredEvent> find_by_key(const DedupKey& key) = 0;
  virtual std::int64_t count_events() = 0;

  // ---- the worker pool's queue ------------------------------------------------------------
  // An event's entity is (source, entity_kind, entity_id). Each call is one transaction.
  // Implementations may throw storage errors from these (the dispatcher catches and backs off).

  // Claims up to `limit` events, in id order, that are: pending, due (next_attempt_at_ms <=
  // now_ms), the oldest pending-or-processing event of their entity, and of an entity with no
  // event processing. Each becomes processing with attempts + 1; returned as now stored.
  virtual std::vector<StoredEvent> claim_due(std::int64_t now_ms, std::size_t limit) = 0;

  // Records the result of a claimed (processing) event. Each returns false when the event is not
  // processing (nothing changes then).
  virtual bool mark_done(std::int64_t id, std::int64_t now_ms) = 0;
  virtual bool mark_unhandled(std::int64_t id, std::int64_t now_ms) = 0;
  // Back to pending, due at `next_attempt_at_ms`, with `error` kept as last_error.
  virtual bool schedule_retry(std::int64_t id, std::int64_t next_attempt_at_ms,
                              std::string_view error, std::int64_t now_ms) = 0;
  virtual bool mark_dead(std::int64_t id, std::string_view error, std::int64_t now_ms) = 0;

  // Every processing event back to pending, due now (start-up after a crash, or stop()).
  // Returns how many.
  virtual std::size_t release_claims(std::int64_t now_ms) = 0;
  // Dead events back to pending with attempts reset to 0, due now: the given ids (others are
  // ignored), or every dead event when `ids` is empty. Returns how many.
  virtual std::size_t redrive(std::span<const std::int64_t> ids, std::int64_t now_ms) = 0;
  // The earliest next_attempt_at_ms among pending events, or nullopt when none is pending.
  virtual std::optional<std::int64_t> next_due_ms() = 0;
};

}  // namespace webhook::core
