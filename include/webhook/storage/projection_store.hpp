#pragma once
// ProjectionStore: applies events to the projection tables of migrations/0003_projections.sql
// (payments, reviews, customers) with the rules of core/projection.hpp.
//  1. Each apply_*() is one BEGIN IMMEDIATE transaction: read the current row, decide, insert the
//     event's history row, change the projection.
//  2. The history row's primary key includes the event id, so an event applied before changes
//     nothing (already_applied): handlers may run an event any number of times.
//  3. A review opened or reopened with notification on owes one notification, recorded on the
//     review (notify_state 'pending', notify_event_id); mark_notified() settles it.
// Thread-safe: one connection behind a mutex. Throws StorageError (the handler turns it into a
// retry).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "webhook/core/inbox.hpp"
#include "webhook/core/projection.hpp"
#include "webhook/core/work.hpp"
#include "webhook/storage/database.hpp"

namespace webhook::storage {

struct PaymentApplied {
  bool already_applied = false;
  core::StatusEffect effect = core::StatusEffect::applied;
};

struct CustomerApplied {
  bool already_applied = false;
  core::CustomerEffect effect = core::CustomerEffect::applied;
};

using ReviewNotice = core::ReviewNotice;

struct ReviewApplied {
  bool already_applied = false;
  core::ReviewAction action = core::ReviewAction::none;
  // Set when this event opened the review and its notification is still owed (also when the
  // event runs again after a failed notification).
  std::optional<ReviewNotice> notification_owed;
};

class ProjectionStore {
 public:
  // Takes ownership of an open, migrated database (give it its own connection). Each apply_*()
  // is its own transaction.
  explicit ProjectionStore(Database db);
  // Writer mode: works on `db` (which must outlive it) inside the caller's transaction, with no
  // BEGIN/COMMIT of its own (the one write path: SqliteInbox::write_batch()).
  struct InCallerTransaction {};
  ProjectionStore(Database& db, InCallerTransaction);
  ~ProjectionStore();
  ProjectionStore(const ProjectionStore&) = delete;
  ProjectionStore& operator=(const ProjectionStore&) = delete;

  PaymentApplied apply_payment(const core::StoredEvent& event, const core::PaymentFacts& facts);
  CustomerApplied apply_customer(const core::StoredEvent& event, const core::CustomerFacts& facts);
  // `notify`: whether openings owe a notification (a notify target is configured).
  ReviewApplied apply_review(const core::StoredEvent& event, const core::PaymentFacts& facts,
                             bool notify);
  // The notification owed by `event_id` for the review was delivered at `now_ms`. False when
  // it is no longer owed (already sent, or the review moved on).
  bool mark_notified(const std::string& source, const std::string& transaction_id,
                     std::int64_t event_id, std::int64_t now_ms);

  // Applies one change decided by a handler (core/work.hpp). Returns the notification the event
  // owes for a review change with notify set. Throws StorageError.
  std::optional<ReviewNotice> apply(const core::StoredEvent& event,
                                    const core::ProjectionChange& change);

  Database& database() { return db_; }

 private:
  struct Statements;
  std::mutex mutex_;               // serialises use of the connection
  std::optional<Database> owned_;  // engaged unless in writer mode
  Database& db_;
  std::unique_ptr<Statements> stmts_;
};

}  // namespace webhook::storage
