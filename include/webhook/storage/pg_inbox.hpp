#pragma once
// PgInbox: the Inbox and the writer's BatchStore on PostgreSQL (issue 13), the twin of
// SqliteInbox with the same observable behaviour, on one PgConnection.
//  1. Dedup is the SQL: INSERT ... ON CONFLICT ON CONSTRAINT events_dedup DO NOTHING RETURNING
//     id; no row means the key is taken (by this batch, or by any connection's committed row:
//     ON CONFLICT waits for an uncommitted one), and the next statement's snapshot finds its id.
//  2. store_batch()/write_batch(): one BEGIN ... COMMIT per batch; write_batch() sets
//     synchronous_commit on (durable) or off with SET LOCAL. Work items as in SqliteInbox, each
//     item with projection changes in a SAVEPOINT. Any error rolls the batch back and fails it
//     (a short reason, never the password); a deadlock between replicas storing the same keys
//     in other orders (40P01) or a serialization failure (40001) is retried twice first.
//  3. claim_due(): the SQLite claim rule across connections. One transaction: (a) the first
//     `limit` claimable events in id order, FOR UPDATE SKIP LOCKED (rows another claimer holds
//     are passed over, never waited for), then pg_try_advisory_xact_lock on each candidate's
//     entity (kClaimLockClass, hashtext of the entity); (b) an UPDATE that re-checks the whole
//     rule for the locked candidates and claims them. Race-free: every claim of an entity's
//     event holds that entity's lock from before its re-check until its COMMIT, so claims of one
//     entity are serial; the re-check is a new statement (READ COMMITTED: a new snapshot) taken
//     after the lock was granted, hence after the previous holder's commit was visible (locks
//     are released after the commit is recorded), so it sees any event that claim made
//     processing. Row locks alone are not enough: a redrive or a late-committing insert can make
//     an older event pending while another connection claims a later one. A try-lock never
//     blocks, so claimers cannot deadlock; a hash collision only defers an event to the next
//     round. Claims through WorkKind::started (the pool's own path) do not take the lock, as in
//     SqliteInbox; per-entity exclusion across replicas holds for claim_due() only.
//     Identity ids are taken at INSERT, not COMMIT (migrations/postgres/0001): an event can
//     commit after a later id of its entity was claimed; it then waits for that one to finish.
//  4. changed_elsewhere(): LISTEN kChangeChannel on this connection; the Inbox write methods
//     (store_batch, the outcome marks, release_claims, redrive: what the CLI and tools call) send
//     NOTIFY after a commit that changed something. True when a notification from another
//     backend arrived since the last call. write_batch() and claim_due() send none: NOTIFY
//     serialises the commits of every notifying transaction in the database (a lock held until
//     commit), which would undo group commit across replicas; replicas find each other's work
//     through claim_due().
//  5. A lost connection (the server restarted, the network cut) fails what was in flight: the
//     batch with "database unreachable" (503), a queue call with PgError. The next call opens
//     the connection again (and LISTENs again), at most once a second, so the service recovers
//     without a restart once the database is back; until then each call fails at once.
// The queue methods throw PgError (the dispatcher and the CLI catch StorageError).
// Thread-safe: one mutex serialises use of the connection (writer thread vs. readers).

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/core/inbox.hpp"
#include "webhook/core/work.hpp"
#include "webhook/storage/pg_connection.hpp"

namespace webhook::storage {

// The advisory lock class of claim_due()'s entity locks ("whce"); the object is the entity's
// hashtext. The two-int key space is apart from kPgMigrationLock's one-bigint space.
inline constexpr std::int32_t kClaimLockClass = 0x77686365;
// The LISTEN/NOTIFY channel of changed_elsewhere().
inline constexpr std::string_view kChangeChannel = "webhook_inbox_changed";

// Applies one projection change to `event` inside the transaction open on `db` (a savepoint
// per item); throws StorageError to fail the item (its fallback is recorded instead). Returns
// the operator notification owed, if any.
using PgProjectionApplier = std::function<std::optional<core::ReviewNotice>(
    PgConnection& db, const core::StoredEvent& event, const core::ProjectionChange& change)>;

// The default applier: PgProjectionStore(db).apply(event, change). Defined in
// src/storage/pg_inbox_projections.cpp.
std::optional<core::ReviewNotice> apply_pg_projection(PgConnection& db,
                                                      const core::StoredEvent& event,
                                                      const core::ProjectionChange& change);

class PgInbox final : public core::Inbox, public core::BatchStore {
 public:
  // Takes ownership of a connection to a migrated database (outside any transaction) and
  // LISTENs on it; throws PgError. `applier` empty: apply_pg_projection.
  explicit PgInbox(PgConnection db, PgProjectionApplier applier = {});
  ~PgInbox() override;

  std::vector<core::StoreResult> store_batch(std::span<const core::Delivery> batch) override;
  std::optional<core::StoredEvent> find_event(std::int64_t id) override;
  std::optional<core::StoredEvent> find_by_key(const core::DedupKey& key) override;
  std::int64_t count_events() override;

  std::vector<core::StoredEvent> claim_due(std::int64_t now_ms, std::size_t limit) override;
  bool mark_done(std::int64_t id, std::int64_t now_ms) override;
  bool mark_unhandled(std::int64_t id, std::int64_t now_ms) override;
  bool schedule_retry(std::int64_t id, std::int64_t next_attempt_at_ms, std::string_view error,
                      std::int64_t now_ms) override;
  bool mark_dead(std::int64_t id, std::string_view error, std::int64_t now_ms) override;
  std::size_t release_claims(std::int64_t now_ms) override;
  std::size_t redrive(std::span<const std::int64_t> ids, std::int64_t now_ms) override;
  std::optional<std::int64_t> next_due_ms() override;

  // Never throws; see the file comment.
  core::BatchWritten write_batch(std::span<const core::Delivery> deliveries,
                                 std::span<const core::WorkItem> work, bool durable) override;
  std::vector<core::StoredEvent> load_pending(std::int64_t after_id, std::size_t limit) override;
  bool changed_elsewhere() override;

  // The connection, for tests and tools; not while another thread uses this inbox.
  PgConnection& connection() { return db_; }

 private:
  // write_batch(); `notify_inserted`: NOTIFY in the transaction when a delivery was inserted.
  core::BatchWritten write_batch_retrying(std::span<const core::Delivery> deliveries,
                                          std::span<const core::WorkItem> work, bool durable,
                                          bool notify_inserted);
  core::BatchWritten write_batch_locked(std::span<const core::Delivery> deliveries,
                                        std::span<const core::WorkItem> work, bool durable,
                                        bool notify_inserted);
  core::WorkRecorded apply_locked(const core::WorkItem& item);
  core::WorkRecorded observe_locked(const core::WorkItem& item);
  bool set_status_locked(const core::WorkItem& item, core::WorkKind kind, std::string_view error);
  // One UPDATE of the queue; NOTIFY after it when it changed a row. Returns the rows changed.
  std::int64_t update_and_notify_locked(std::string_view sql, std::span<const PgParam> params);
  void notify_locked();
  // Reconnects when the connection is lost (see 5.); false when it is still down.
  bool connected_locked();
  // connected_locked(), or PgError "database unreachable" (sqlstate 08006).
  void require_connection_locked();

  std::mutex mutex_;  // serialises use of db_
  PgConnection db_;   // GUARDED_BY(mutex_)
  PgProjectionApplier applier_;
  int backend_pid_ = 0;  // this connection's server process: its own NOTIFYs are not "elsewhere"
  std::chrono::steady_clock::time_point last_reconnect_{};  // GUARDED_BY(mutex_)
};

}  // namespace webhook::storage
