#pragma once
// SqliteInbox: the Inbox on SQLite. Dedup is a property of the SQL: INSERT ... ON CONFLICT DO
// NOTHING on the UNIQUE dedup key, and the changed-row count tells new from duplicate.
// store_batch() runs one BEGIN IMMEDIATE ... COMMIT per batch (group commit); with
// synchronous=FULL the COMMIT returns only once the batch is on disk.
// The entity is stored once, in the key columns: a StoredEvent's entity_kind/entity_id are the
// key's, and empty for a quarantined event (key entity_kind "quarantine"), as ingest() builds it.
// After each committed batch store_batch() checks that the database and its -wal on disk are
// still the files the connection writes (Database::files_problem()). If not, that batch and every
// later one fail ("database files replaced", so 503) until the process restarts: reopening alone
// is not safe while the process's other connections still write the old -wal. What the old -wal
// holds is first checkpointed into the database file, so acknowledged deliveries survive (and
// so may the refused batch: the platform's retry of it is then a duplicate).
// The queue methods are single statements or one BEGIN IMMEDIATE transaction each (claim_due,
// redrive by ids); they throw StorageError, which the dispatcher and the CLI catch.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "webhook/core/inbox.hpp"
#include "webhook/core/work.hpp"
#include "webhook/storage/database.hpp"

namespace webhook::storage {

class ProjectionStore;

class SqliteInbox final : public core::Inbox, public core::BatchStore {
 public:
  // Takes ownership of an open, migrated database.
  explicit SqliteInbox(Database db);
  ~SqliteInbox() override;

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

  // The one write path (core/work.hpp): deliveries, started marks, results and their projection
  // changes in one transaction; synchronous=FULL only when `durable`. A projection change that
  // throws rolls back its item's savepoint, and the item's fallback (retry or dead, with the
  // error) is recorded instead; the rest of the batch commits.
  core::BatchWritten write_batch(std::span<const core::Delivery> deliveries,
                                 std::span<const core::WorkItem> work, bool durable) override;
  std::vector<core::StoredEvent> load_pending(std::int64_t after_id, std::size_t limit) override;
  bool changed_elsewhere() override;

  Database& database() { return db_; }

  // Why commits on this connection are no longer acknowledged, for /readyz ("" while they are).
  // Once set it stays until the process restarts. Any thread; no SQLite or file work.
  std::string fault() const;
  // The check store_batch() makes after each commit, without a commit (the monitor calls it, so
  // an idle receiver notices too). Returns fault().
  std::string check_files();

 private:
  struct Statements;
  bool files_intact_locked();  // false (and fault set) once the files were replaced
  core::WorkRecorded apply_locked(const core::WorkItem& item);
  core::WorkRecorded observe_locked(const core::WorkItem& item);
  ProjectionStore& projections_locked();
  void set_synchronous_locked(bool full);

  std::mutex mutex_;  // serialises use of the one connection (writer thread vs. readers)
  Database db_;
  std::unique_ptr<Statements> stmts_;
  std::unique_ptr<ProjectionStore> projections_;  // on db_, made at the first change
  bool synchronous_full_ = true;                  // as Database::open() sets it
  std::int64_t data_version_ = -1;
  std::atomic<bool> faulted_{false};
  mutable std::mutex fault_mutex_;
  std::string fault_;  // GUARDED_BY(fault_mutex_)
};

}  // namespace webhook::storage
