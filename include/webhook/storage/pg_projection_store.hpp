#pragma once
// PgProjectionStore: the projections (payments, reviews, customers; migrations/postgres/0002 and
// 0003) on PostgreSQL, with the rules of core/projection.hpp and exactly the behaviour of
// storage::ProjectionStore in writer mode (issue 13):
//  1. Works inside the caller's transaction on the caller's connection (PgInbox::write_batch()
//     opens it, and a SAVEPOINT per work item): no BEGIN/COMMIT of its own.
//  2. Each apply reads the current row with SELECT ... FOR UPDATE (replicas apply concurrently);
//     while the row does not exist yet it takes a transaction-scoped advisory lock on the entity
//     (table, source, id) and reads again, so two replicas never both decide on "no row". Then
//     it decides with core, inserts the history row (ON CONFLICT DO NOTHING: an event applied
//     before, on any replica, changes nothing) with its origin (webhook | api), then upserts.
//     Expects READ COMMITTED (PostgreSQL's default): the second read must see a row another
//     replica committed while this one waited.
//  3. A review opened or reopened with notify owes one notification (notify_state 'pending');
//     mark_notified() settles it.
// Throws PgError (the caller rolls back the item's savepoint and records its fallback).
// Not thread-safe: the connection's owner calls it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/inbox.hpp"
#include "webhook/core/projection.hpp"
#include "webhook/core/work.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/projection_store.hpp"

namespace webhook::storage {

class PgProjectionStore {
 public:
  // `db` must outlive the store; every call runs in the transaction open on it.
  explicit PgProjectionStore(PgConnection& db);

  PaymentApplied apply_payment(const core::StoredEvent& event, const core::PaymentFacts& facts);
  CustomerApplied apply_customer(const core::StoredEvent& event, const core::CustomerFacts& facts);
  ReviewApplied apply_review(const core::StoredEvent& event, const core::PaymentFacts& facts,
                             bool notify);
  bool mark_notified(const std::string& source, const std::string& transaction_id,
                     std::int64_t event_id, std::int64_t now_ms);

  // As ProjectionStore::apply(): one change decided by a handler; the notification owed.
  std::optional<core::ReviewNotice> apply(const core::StoredEvent& event,
                                          const core::ProjectionChange& change);

 private:
  // Runs `select_for_update` ($1 source, $2 id); when it finds no row, takes the advisory lock
  // of (`table`, source, id) and runs it again. Returns the rows of the last run.
  PgResult lock_row(const char* select_for_update, std::string_view table,
                    const std::string& source, const std::string& id);

  PgConnection& db_;
};

}  // namespace webhook::storage
