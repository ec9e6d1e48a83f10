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

// Event status values as stored ("pending", "quarantined"; the worker pool adds the rest).
inline constexpr std::string_view kStatusPending = "pending";
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
};

}  // namespace webhook::core
