#pragma once
// The seams of the one write path (README.md, "Life of a webhook, through the code"):
//  - DeliverySink: what the HTTP layer submits deliveries to (the writer). http knows no SQLite.
//  - WorkQueue: what the worker pool reads events from and records results through (the
//    writer again); WorkListener: what the writer tells the pool after each commit.
//  - WorkItem: one change to an event's status, with the projection changes that commit with it.
// One writer thread owns every write: deliveries, "attempt started" marks, results and their
// projection changes go into one transaction per batch, and a projection change that fails rolls
// back only its own event (a savepoint), which then records its fallback (a retry) instead.
// A second storage backend implements Inbox::write_batch()/load_pending() and nothing else
// changes in http or worker.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "webhook/core/delivery.hpp"
#include "webhook/core/inbox.hpp"
#include "webhook/core/projection.hpp"

namespace webhook::core {

// ---- ingest ------------------------------------------------------------------------------------

class DeliverySink {
 public:
  using Completion = std::function<void(const StoreResult&)>;
  virtual ~DeliverySink() = default;
  // Queues `delivery`; `done` runs exactly once, on the writer's thread, once the transaction
  // holding it committed (or failed). It must only hand the result over, never block.
  // False (and `done` never runs) when the queue is full or the writer has stopped.
  virtual bool submit(Delivery delivery, Completion done) = 0;
};

// The event a delivery became once stored under `id`: pending (quarantined when it is), due at
// once, no attempts yet.
inline StoredEvent to_stored_event(std::int64_t id, Delivery d) {
  StoredEvent e;
  e.id = id;
  e.key = std::move(d.key);
  e.event_type = std::move(d.event_type);
  e.entity_kind = std::move(d.entity_kind);
  e.entity_id = std::move(d.entity_id);
  e.status = d.quarantined ? kStatusQuarantined : kStatusPending;
  e.quarantine_reason = std::move(d.quarantine_reason);
  e.body = std::move(d.body);
  e.request_id = std::move(d.request_id);
  e.received_at_ms = d.received_at_ms;
  e.scheme = to_string(d.scheme);
  e.candidate = to_string(d.candidate);
  e.key_slot = d.key_slot;
  e.updated_at_ms = d.received_at_ms;  // next_attempt_at_ms 0: due at once
  return e;
}

// ---- the worker pool ---------------------------------------------------------------------------

// One change to the projections, decided by a handler on a worker thread and applied by the
// writer (storage/projection_store.hpp) in the transaction that records the event's result.
struct ProjectionChange {
  enum class Kind { payment, customer, review, review_notified };
  Kind kind = Kind::payment;
  PaymentFacts payment;    // payment, review; review_notified: transaction_id
  CustomerFacts customer;  // customer
  bool notify = false;     // review: an opening owes an operator notification
  std::int64_t at_ms = 0;  // review_notified: when it was delivered
};

enum class WorkKind {
  started,    // an attempt begins: processing, attempts = WorkItem::attempts (no fsync needed)
  apply,      // apply `changes` now, status unchanged (a handler needs the answer to go on)
  done,       // the route succeeded: apply `changes`, then done
  unhandled,  // no route for the event's type
  retry,      // back to pending, due at next_attempt_at_ms, with `error`
  dead,       // a dead letter, with `error`
  released,   // started but never run (stop): pending again, attempts = WorkItem::attempts
  // An API answer (reconciliation, core/reconcile.hpp): store `event` (id 0) as a new event,
  // done, and apply `changes` to it, together. WorkRecorded::event_id is the new id; recorded is
  // false when an event with the same key is stored already (nothing is applied then).
  observed,
};

struct WorkItem {
  std::shared_ptr<const StoredEvent> event;  // the event as the pool holds it
  WorkKind kind = WorkKind::done;
  int attempts = 0;                     // started: the attempt now starting
  std::int64_t next_attempt_at_ms = 0;  // retry (and fallback retry)
  std::string error;                    // retry, dead
  std::int64_t at_ms = 0;               // updated_at_ms
  std::vector<ProjectionChange> changes;
  // done / apply: what is recorded when a change fails (its savepoint rolled back): retry at
  // next_attempt_at_ms, or dead once the attempts are used up. `error` then names the failure.
  WorkKind fallback = WorkKind::retry;
};

// What the writer committed for one WorkItem.
struct WorkRecorded {
  std::int64_t event_id = 0;
  WorkKind kind = WorkKind::done;  // as recorded: the item's kind, or its fallback
  bool recorded = false;  // false: the event was not pending or processing (nothing changed)
  std::string error;      // the projection failure that made `kind` the fallback
  // apply (review change with notify): the operator notification this event still owes.
  std::optional<ReviewNotice> notification_owed;
};

// Told by the writer after each commit, on the writer's thread; must not block.
class WorkListener {
 public:
  virtual ~WorkListener() = default;
  // New pending events, in id order (quarantined ones are never dispatched and not passed).
  virtual void events_stored(std::vector<std::shared_ptr<const StoredEvent>> events) = 0;
  // Results (and started marks) now durable in the database, in the order they were recorded.
  virtual void work_recorded(std::span<const WorkRecorded> recorded) = 0;
  // Another process changed the database (e.g. `events retry`): pending events may be there
  // that the pool does not hold.
  virtual void outside_change() = 0;
};

// The writer's storage: one transaction per batch. SqliteInbox is the real one; MemoryInbox
// (tests/support) the fake.
struct BatchWritten {
  bool ok = false;                  // false: nothing of the batch is stored
  std::vector<StoreResult> stored;  // one per delivery, in order (all failed when !ok)
  std::vector<WorkRecorded> work;   // one per work item when ok, in order; empty when !ok
};

class BatchStore {
 public:
  virtual ~BatchStore() = default;
  // Stores `deliveries` (as Inbox::store_batch), then applies `work` in order, in one
  // transaction; each item with projection changes in its own savepoint. `durable`: the commit
  // waits for the disk (synchronous=FULL); results alone need not (a lost result re-runs its
  // event). Never throws. One caller at a time (the writer thread).
  virtual BatchWritten write_batch(std::span<const Delivery> deliveries,
                                   std::span<const WorkItem> work, bool durable) = 0;
  // As WorkQueue::load_pending.
  virtual std::vector<StoredEvent> load_pending(std::int64_t after_id, std::size_t limit) = 0;
  // True when another process committed to the database since the last call (never throws).
  virtual bool changed_elsewhere() = 0;
};

class WorkQueue {
 public:
  virtual ~WorkQueue() = default;
  // Who hears about commits; set once, before start-up delivers anything.
  virtual void set_listener(WorkListener* listener) = 0;
  // Events to run, in id order: pending, id > after_id, at most `limit` (start-up first puts
  // what a crash left processing back to pending). Reads
  // committed state (its own connection); throws on a storage error.
  virtual std::vector<StoredEvent> load_pending(std::int64_t after_id, std::size_t limit) = 0;
  // Queues `items` for the writer's next transaction, in order (one hand-off for a worker's
  // batch); WorkListener::work_recorded() reports them. False when the writer has stopped (the
  // items are dropped: their events run again at start-up).
  virtual bool record_all(std::vector<WorkItem> items) = 0;
  // Records `item` (kind apply) and waits until it has committed. nullopt when it could not be
  // committed (the writer stopped, or storage failed).
  virtual std::optional<WorkRecorded> record_and_wait(WorkItem item) = 0;
};

}  // namespace webhook::core
