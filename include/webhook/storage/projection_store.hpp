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

// What an operator needs to act on an open review (the notification's content).
struct ReviewNotice {
  std::string source;
  std::string transaction_id;
  std::string external_id;
  std::string total_amount;
  std::string currency;
  std::string customer_id;
  std::string documentation_status;
  std::int64_t cycle = 1;
  std::int64_t opened_at_ms = 0;        // event time, else receipt
  std::int64_t opened_received_ms = 0;  // receipt of the opening event
};

struct ReviewApplied {
  bool already_applied = false;
  core::ReviewAction action = core::ReviewAction::none;
  // Set when this event opened the review and its notification is still owed (also when the
  // event runs again after a failed notification).
  std::optional<ReviewNotice> notification_owed;
};

class ProjectionStore {
 public:
  // Takes ownership of an open, migrated database (give it its own connection).
  explicit ProjectionStore(Database db);
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

  Database& database() { return db_; }

 private:
  struct Statements;
  std::mutex mutex_;  // serialises use of the connection
  Database db_;
  std::unique_ptr<Statements> stmts_;
};

}  // namespace webhook::storage
