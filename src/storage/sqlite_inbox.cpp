// SqliteInbox: prepared statements (cached for the connection's life), the group-commit batch,
// the reads and the worker pool's queue. Every SQLite error inside store_batch() becomes a failed
// result for the whole batch; the queue methods let StorageError out to their caller.

#include "webhook/storage/sqlite_inbox.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhook/core/signature.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/projection_store.hpp"
#include "webhook/storage/statement.hpp"

namespace webhook::storage {
namespace {

// Dedup is the statement itself: a conflicting key changes no row (sqlite3_changes() == 0).
constexpr const char* kInsertEvent = R"sql(
INSERT INTO events (source, event_name, entity_kind, entity_id, state_token, event_type, status,
                    quarantine_reason, body, request_id, received_at_ms, scheme, candidate,
                    key_slot, updated_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?11)
ON CONFLICT (source, event_name, entity_kind, entity_id, state_token) DO NOTHING
)sql";

constexpr const char* kSelectIdByKey = R"sql(
SELECT id FROM events
WHERE source = ?1 AND event_name = ?2 AND entity_kind = ?3 AND entity_id = ?4 AND state_token = ?5
)sql";

constexpr const char* kSelectEventById = R"sql(
SELECT id, source, event_name, entity_kind, entity_id, state_token, event_type, status,
       quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot,
       attempts, next_attempt_at_ms, last_error, updated_at_ms
FROM events WHERE id = ?1
)sql";

constexpr const char* kSelectEventByKey = R"sql(
SELECT id, source, event_name, entity_kind, entity_id, state_token, event_type, status,
       quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot,
       attempts, next_attempt_at_ms, last_error, updated_at_ms
FROM events
WHERE source = ?1 AND event_name = ?2 AND entity_kind = ?3 AND entity_id = ?4 AND state_token = ?5
)sql";

constexpr const char* kCountEvents = "SELECT count(*) FROM events";

// ---- the worker pool's queue (the claim rule lives in this SQL) ----------------------------

// The claimable events (include/webhook/core/inbox.hpp, claim_due): pending and due, with no
// older pending-or-processing event of their entity and no event of their entity processing.
// Outer rows walk events_pending (migrations/0004) in id order, so the scan stops at the LIMIT
// instead of sorting every due event (the planner would pick events_status_due and sort, hence
// INDEXED BY); both subqueries probe events_entity. A round costs O(batch + pending events
// skipped: not due yet, or behind an older event of their entity).
constexpr const char* kSelectClaimable = R"sql(
SELECT e.id FROM events AS e INDEXED BY events_pending
WHERE e.status = 'pending' AND e.next_attempt_at_ms <= ?1
  AND NOT EXISTS (
    SELECT 1 FROM events AS o
    WHERE o.source = e.source AND o.entity_kind = e.entity_kind AND o.entity_id = e.entity_id
      AND o.id < e.id AND o.status IN ('pending', 'processing'))
  AND NOT EXISTS (
    SELECT 1 FROM events AS o
    WHERE o.source = e.source AND o.entity_kind = e.entity_kind AND o.entity_id = e.entity_id
      AND o.status = 'processing')
ORDER BY e.id
LIMIT ?2
)sql";

// Claims one selected event and returns it as now stored (same columns as kSelectEventById).
constexpr const char* kClaimEvent = R"sql(
UPDATE events SET status = 'processing', attempts = attempts + 1, updated_at_ms = ?2
WHERE id = ?1 AND status = 'pending'
RETURNING id, source, event_name, entity_kind, entity_id, state_token, event_type, status,
          quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot,
          attempts, next_attempt_at_ms, last_error, updated_at_ms
)sql";

// The outcome of a claimed event: ?2 is 'done' or 'unhandled'.
constexpr const char* kMarkFinished = R"sql(
UPDATE events SET status = ?2, updated_at_ms = ?3
WHERE id = ?1 AND status = 'processing'
)sql";

constexpr const char* kScheduleRetry = R"sql(
UPDATE events SET status = 'pending', next_attempt_at_ms = ?2, last_error = ?3, updated_at_ms = ?4
WHERE id = ?1 AND status = 'processing'
)sql";

// attempts is kept: it tells how many runs the dead event had.
constexpr const char* kMarkDead = R"sql(
UPDATE events SET status = 'dead', last_error = ?2, updated_at_ms = ?3
WHERE id = ?1 AND status = 'processing'
)sql";

constexpr const char* kReleaseClaims = R"sql(
UPDATE events SET status = 'pending', next_attempt_at_ms = ?1, updated_at_ms = ?1
WHERE status = 'processing'
)sql";

// last_error is kept, so an operator still sees why the event died before.
constexpr const char* kRedriveOne = R"sql(
UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = ?2, updated_at_ms = ?2
WHERE id = ?1 AND status = 'dead'
)sql";

constexpr const char* kRedriveAll = R"sql(
UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = ?1, updated_at_ms = ?1
WHERE status = 'dead'
)sql";

// ---- the one write path (core/work.hpp) ------------------------------------------------------

// An attempt begins. ?2 is the attempt's number as the pool counts it.
constexpr const char* kStartAttempt = R"sql(
UPDATE events SET status = 'processing', attempts = ?2, updated_at_ms = ?3
WHERE id = ?1 AND status IN ('pending', 'processing')
)sql";

// An attempt marked started that never ran (the pool stopped first).
constexpr const char* kReleaseAttempt = R"sql(
UPDATE events SET status = 'pending', attempts = ?2, updated_at_ms = ?3
WHERE id = ?1 AND status = 'processing'
)sql";

// Recovery and catch-up: pending events after an id, in id order (events_pending walks them).
constexpr const char* kLoadPending = R"sql(
SELECT id, source, event_name, entity_kind, entity_id, state_token, event_type, status,
       quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot,
       attempts, next_attempt_at_ms, last_error, updated_at_ms
FROM events INDEXED BY events_pending
WHERE status = 'pending' AND id > ?1
ORDER BY id
LIMIT ?2
)sql";

// One row; NULL when nothing is pending.
constexpr const char* kNextDue = R"sql(
SELECT min(next_attempt_at_ms) FROM events WHERE status = 'pending'
)sql";

// The failed result once the database or its -wal was replaced under the connection.
constexpr const char* kFilesReplaced = "database files replaced";

// The key's entity_kind for a delivery quarantined under core::quarantine_key().
constexpr std::string_view kQuarantineEntityKind = "quarantine";

// Rows changed by the last statement on `db`.
std::size_t changed_rows(sqlite3* db) { return static_cast<std::size_t>(sqlite3_changes64(db)); }

// A size for a LIMIT: SQLite takes a signed 64-bit value.
std::int64_t sql_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(limit < kMax ? limit : kMax);
}

// A short, payload-free reason for a failed StoreResult.
std::string short_reason(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
      return "disk full";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "database is locked";
    case SQLITE_IOERR:
      return "i/o error";
    case SQLITE_READONLY:
      return "database is read-only";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "database is corrupt";
    case SQLITE_CANTOPEN:
      return "cannot open database";
    case SQLITE_NOMEM:
      return "out of memory";
    case SQLITE_CONSTRAINT:
      return "constraint violation";
    default:
      return sqlite3_errstr(code);
  }
}

void bind_key(Statement::Use& use, const core::DedupKey& key) {
  use.text(1, key.source);
  use.text(2, key.event_name);
  use.text(3, key.entity_kind);
  use.text(4, key.entity_id);
  use.text(5, key.state_token);
}

core::StoredEvent read_event(const Statement::Use& row) {
  core::StoredEvent e;
  e.id = row.column_int(0);
  e.key.source = row.column_bytes(1);
  e.key.event_name = row.column_bytes(2);
  e.key.entity_kind = row.column_bytes(3);
  e.key.entity_id = row.column_bytes(4);
  e.key.state_token = row.column_bytes(5);
  e.event_type = row.column_bytes(6);
  e.status = row.column_bytes(7);
  e.quarantine_reason = row.column_bytes(8);
  e.body = row.column_bytes(9);
  e.request_id = row.column_bytes(10);
  e.received_at_ms = row.column_int(11);
  e.scheme = row.column_bytes(12);
  e.candidate = row.column_bytes(13);
  e.key_slot = static_cast<int>(row.column_int(14));
  e.attempts = static_cast<int>(row.column_int(15));
  e.next_attempt_at_ms = row.column_int(16);
  e.last_error = row.column_bytes(17);
  e.updated_at_ms = row.column_int(18);
  // The entity is stored once, as part of the key; a quarantined delivery has none of its own.
  if (e.key.entity_kind != kQuarantineEntityKind) {
    e.entity_kind = e.key.entity_kind;
    e.entity_id = e.key.entity_id;
  }
  return e;
}

}  // namespace

// The connection's cached statements. Used only with SqliteInbox::mutex_ held.
struct SqliteInbox::Statements {
  explicit Statements(Database& database)
      : db_(database.handle()),
        insert_event(database, kInsertEvent),
        select_id_by_key(database, kSelectIdByKey),
        select_event_by_id(database, kSelectEventById),
        select_event_by_key(database, kSelectEventByKey),
        count_events(database, kCountEvents),
        claim_event(database, kClaimEvent),
        mark_finished(database, kMarkFinished),
        schedule_retry(database, kScheduleRetry),
        mark_dead(database, kMarkDead),
        release_claims(database, kReleaseClaims),
        redrive_one(database, kRedriveOne),
        redrive_all(database, kRedriveAll),
        next_due(database, kNextDue),
        start_attempt(database, kStartAttempt),
        release_attempt(database, kReleaseAttempt),
        savepoint(database, "SAVEPOINT item"),
        release(database, "RELEASE item"),
        rollback_to(database, "ROLLBACK TO item"),
        data_version(database, "PRAGMA data_version") {}

  // Inside the batch's transaction; throws StorageError.
  core::StoreResult store(const core::Delivery& d) {
    {
      Statement::Use insert(insert_event);
      bind_key(insert, d.key);
      insert.text(6, d.event_type);
      insert.text(7, d.quarantined ? core::kStatusQuarantined : core::kStatusPending);
      insert.optional_text(8, d.quarantine_reason);
      insert.blob(9, d.body);
      insert.text(10, d.request_id);
      insert.integer(11, d.received_at_ms);
      insert.text(12, core::to_string(d.scheme));
      insert.text(13, core::to_string(d.candidate));
      insert.integer(14, d.key_slot);
      insert.step();
      if (sqlite3_changes(db_) == 1) {
        return core::StoreResult::inserted(sqlite3_last_insert_rowid(db_));
      }
    }
    // The key is taken: by an earlier batch, or earlier in this one.
    Statement::Use select(select_id_by_key);
    bind_key(select, d.key);
    if (!select.step()) {
      throw StorageError("sqlite database: insert conflicted but the key was not found",
                         SQLITE_INTERNAL);
    }
    return core::StoreResult::duplicate(select.column_int(0));
  }

  // An event made here rather than received (an API answer, WorkKind::observed), with its own
  // status; its id, or nullopt when its key is stored already.
  std::optional<std::int64_t> insert_made(const core::StoredEvent& e) {
    Statement::Use insert(insert_event);
    bind_key(insert, e.key);
    insert.text(6, e.event_type);
    insert.text(7, e.status);
    insert.optional_text(8, e.quarantine_reason);
    insert.blob(9, e.body);
    insert.text(10, e.request_id);
    insert.integer(11, e.received_at_ms);
    insert.text(12, e.scheme);
    insert.text(13, e.candidate);
    insert.integer(14, e.key_slot);
    insert.step();
    if (sqlite3_changes(db_) != 1) return std::nullopt;
    return sqlite3_last_insert_rowid(db_);
  }

  // Takes back what the current work item wrote (its savepoint) and ends the savepoint.
  void undo_item() {
    Statement::Use(rollback_to).step();
    Statement::Use(release).step();
  }

  // A processing event back to pending, due at `due_ms`; false when it was not processing.
  bool retry(std::int64_t id, std::int64_t due_ms, std::string_view error, std::int64_t now_ms) {
    Statement::Use update(schedule_retry);
    update.integer(1, id);
    update.integer(2, due_ms);
    update.text(3, error);
    update.integer(4, now_ms);
    update.step();
    return changed_rows(db_) == 1;
  }

  // A processing event to dead with `error`; false when it was not processing.
  bool dead(std::int64_t id, std::string_view error, std::int64_t now_ms) {
    Statement::Use update(mark_dead);
    update.integer(1, id);
    update.text(2, error);
    update.integer(3, now_ms);
    update.step();
    return changed_rows(db_) == 1;
  }

  // A processing event to `status` (done or unhandled); false when it was not processing.
  bool finish(std::int64_t id, std::string_view status, std::int64_t now_ms) {
    Statement::Use update(mark_finished);
    update.integer(1, id);
    update.text(2, status);
    update.integer(3, now_ms);
    update.step();
    return changed_rows(db_) == 1;
  }

  sqlite3* db_;
  Statement insert_event;
  Statement select_id_by_key;
  Statement select_event_by_id;
  Statement select_event_by_key;
  Statement count_events;
  // Prepared at the first claim: it names an index of migrations/0004, and a connection that only
  // stores or reads (the CLI on an older file) must not need it.
  std::unique_ptr<Statement> select_claimable;
  Statement claim_event;
  Statement mark_finished;
  Statement schedule_retry;
  Statement mark_dead;
  Statement release_claims;
  Statement redrive_one;
  Statement redrive_all;
  Statement next_due;
  Statement start_attempt;
  Statement release_attempt;
  Statement savepoint;
  Statement release;
  Statement rollback_to;
  Statement data_version;
  std::unique_ptr<Statement> load_pending;  // names events_pending (0004): prepared at first use
};

SqliteInbox::SqliteInbox(Database db)
    : db_(std::move(db)), stmts_(std::make_unique<Statements>(db_)) {}

// projections_ and stmts_ are destroyed (finalized) before db_ closes the connection: reverse
// member order.
SqliteInbox::~SqliteInbox() = default;

void SqliteInbox::set_synchronous_locked(bool full) {
  if (full == synchronous_full_) return;
  db_.exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  synchronous_full_ = full;
}

core::WorkRecorded SqliteInbox::apply_locked(const core::WorkItem& item) {
  using core::WorkKind;
  const core::StoredEvent& event = *item.event;
  core::WorkRecorded out;
  out.event_id = event.id;
  out.kind = item.kind;
  const auto set_status = [&](WorkKind kind, std::string_view error) -> bool {
    switch (kind) {
      case WorkKind::started:
      case WorkKind::released: {
        Statement::Use update(kind == WorkKind::started ? stmts_->start_attempt
                                                        : stmts_->release_attempt);
        update.integer(1, event.id);
        update.integer(2, item.attempts);
        update.integer(3, item.at_ms);
        update.step();
        return changed_rows(db_.handle()) == 1;
      }
      case WorkKind::apply:
        return true;
      case WorkKind::observed:  // observe_locked()
        return false;
      case WorkKind::done:
        return stmts_->finish(event.id, core::kStatusDone, item.at_ms);
      case WorkKind::unhandled:
        return stmts_->finish(event.id, core::kStatusUnhandled, item.at_ms);
      case WorkKind::retry:
        return stmts_->retry(event.id, item.next_attempt_at_ms, error, item.at_ms);
      case WorkKind::dead:
        return stmts_->dead(event.id, error, item.at_ms);
    }
    return false;
  };
  if (item.kind == WorkKind::observed) return observe_locked(item);
  if (item.changes.empty()) {
    out.recorded = set_status(item.kind, item.error);
    return out;
  }
  // The changes and the status commit together or not at all: a savepoint per item, so a
  // change that fails takes back only this event's writes.
  ProjectionStore& projections = projections_locked();
  Statement::Use(stmts_->savepoint).step();
  try {
    for (const core::ProjectionChange& change : item.changes) {
      std::optional<core::ReviewNotice> owed = projections.apply(event, change);
      if (owed) out.notification_owed = std::move(owed);
    }
    out.recorded = set_status(item.kind, item.error);
    Statement::Use(stmts_->release).step();
    return out;
  } catch (const StorageError& e) {
    out.error = e.what();
  }
  stmts_->undo_item();
  out.notification_owed.reset();
  out.kind = item.fallback;
  out.recorded = set_status(item.fallback, out.error);
  return out;
}

ProjectionStore& SqliteInbox::projections_locked() {
  if (!projections_) {
    projections_ = std::make_unique<ProjectionStore>(db_, ProjectionStore::InCallerTransaction{});
  }
  return *projections_;
}

// The event and its projection changes in one savepoint: both or neither. A key stored already
// records nothing (the same answer recorded twice); a change that fails takes the event back too.
core::WorkRecorded SqliteInbox::observe_locked(const core::WorkItem& item) {
  core::WorkRecorded out;
  out.kind = core::WorkKind::observed;
  ProjectionStore& projections = projections_locked();
  Statement::Use(stmts_->savepoint).step();
  try {
    const std::optional<std::int64_t> id = stmts_->insert_made(*item.event);
    if (id) {
      core::StoredEvent event = *item.event;
      event.id = *id;
      for (const core::ProjectionChange& change : item.changes) projections.apply(event, change);
      out.event_id = *id;
      out.recorded = true;
    }
    Statement::Use(stmts_->release).step();
    return out;
  } catch (const StorageError& e) {
    out.error = e.what();
  }
  stmts_->undo_item();
  return out;
}

core::BatchWritten SqliteInbox::write_batch(std::span<const core::Delivery> deliveries,
                                            std::span<const core::WorkItem> work, bool durable) {
  core::BatchWritten out;
  const auto failed = [&](std::string why) {
    out.ok = false;
    out.work.clear();
    out.stored.assign(deliveries.size(), core::StoreResult::failed(std::move(why)));
    return out;
  };
  if (deliveries.empty() && work.empty()) {
    out.ok = true;
    return out;
  }
  std::lock_guard lock(mutex_);
  if (faulted_.load(std::memory_order_acquire)) return failed(kFilesReplaced);
  try {
    set_synchronous_locked(durable);
    Transaction tx(db_, Transaction::Kind::immediate);
    out.stored.reserve(deliveries.size());
    for (const core::Delivery& d : deliveries) out.stored.push_back(stmts_->store(d));
    out.work.reserve(work.size());
    for (const core::WorkItem& item : work) out.work.push_back(apply_locked(item));
    tx.commit();
    // ... on the disk of the files this connection opened: are they still the database's?
    if (durable && !files_intact_locked()) return failed(kFilesReplaced);
    out.ok = true;
    return out;
  } catch (const StorageError& e) {
    // The Transaction has rolled back: nothing of this batch is stored.
    log::error("batch not stored", {.detail = e.what()});
    return failed(short_reason(e.sqlite_code()));
  } catch (const std::exception& e) {  // std::bad_alloc and the like
    log::error("batch not stored", {.detail = e.what()});
    return failed("internal error");
  }
}

std::vector<core::StoredEvent> SqliteInbox::load_pending(std::int64_t after_id, std::size_t limit) {
  std::vector<core::StoredEvent> events;
  if (limit == 0) return events;
  std::lock_guard lock(mutex_);
  if (!stmts_->load_pending) {
    stmts_->load_pending = std::make_unique<Statement>(db_, kLoadPending);
  }
  Statement::Use select(*stmts_->load_pending);
  select.integer(1, after_id);
  select.integer(2, sql_limit(limit));
  while (select.step()) events.push_back(read_event(select));
  return events;
}

bool SqliteInbox::changed_elsewhere() {
  std::lock_guard lock(mutex_);
  try {
    Statement::Use select(stmts_->data_version);
    if (!select.step()) return false;
    const std::int64_t version = select.column_int(0);
    const bool changed = data_version_ >= 0 && version != data_version_;
    data_version_ = version;
    return changed;
  } catch (const StorageError&) {
    return false;
  }
}

std::vector<core::StoreResult> SqliteInbox::store_batch(std::span<const core::Delivery> batch) {
  std::vector<core::StoreResult> results;
  if (batch.empty()) return results;
  results.reserve(batch.size());
  const auto replaced = [&batch] {
    return std::vector<core::StoreResult>(batch.size(), core::StoreResult::failed(kFilesReplaced));
  };
  std::lock_guard lock(mutex_);
  if (faulted_.load(std::memory_order_acquire)) return replaced();
  try {
    Transaction tx(db_, Transaction::Kind::immediate);
    for (const core::Delivery& d : batch) results.push_back(stmts_->store(d));
    tx.commit();  // synchronous=FULL: returns once the batch is on disk
    // ... on the disk of the files this connection opened: are they still the database's?
    if (!files_intact_locked()) return replaced();
    return results;
  } catch (const StorageError& e) {
    // The Transaction has rolled back: nothing of this batch is stored.
    log::Fields fields;
    fields.detail = e.what();
    log::error("inbox batch not stored", fields);
    return std::vector<core::StoreResult>(batch.size(),
                                          core::StoreResult::failed(short_reason(e.sqlite_code())));
  } catch (const std::exception& e) {  // std::bad_alloc and the like
    log::Fields fields;
    fields.detail = e.what();
    log::error("inbox batch not stored", fields);
    return std::vector<core::StoreResult>(batch.size(),
                                          core::StoreResult::failed("internal error"));
  }
}

std::string SqliteInbox::fault() const {
  if (!faulted_.load(std::memory_order_acquire)) return {};
  std::lock_guard lock(fault_mutex_);
  return fault_;
}

std::string SqliteInbox::check_files() {
  {
    std::lock_guard lock(mutex_);
    if (!faulted_.load(std::memory_order_acquire)) files_intact_locked();
  }
  return fault();
}

bool SqliteInbox::files_intact_locked() {
  const std::string problem = db_.files_problem();
  if (problem.empty()) return true;
  {
    std::lock_guard lock(fault_mutex_);
    fault_ = "storage: " + problem +
             " while the service had it open; deliveries are refused (503) until restart";
  }
  faulted_.store(true, std::memory_order_release);
  // Whatever this connection committed is still in the -wal it holds open: copy it into the
  // database file now (and fsync it), so that a crash or kill -9 before the restart loses none
  // of the deliveries acknowledged before the files were replaced.
  int wal_frames = -1;
  int copied = -1;
  const int rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_FULL,
                                           &wal_frames, &copied);
  const std::string detail = problem + "; checkpoint of the open -wal into the database: " +
                             (rc == SQLITE_OK ? "copied " + std::to_string(copied) + " of " +
                                                    std::to_string(wal_frames) + " frames"
                                              : std::string("failed: ") + sqlite3_errstr(rc)) +
                             "; restart the service";
  log::error("storage files replaced while open: refusing deliveries until restart",
             {.detail = detail});
  return false;
}

std::optional<core::StoredEvent> SqliteInbox::find_event(std::int64_t id) {
  std::lock_guard lock(mutex_);
  Statement::Use select(stmts_->select_event_by_id);
  select.integer(1, id);
  if (!select.step()) return std::nullopt;
  return read_event(select);
}

std::optional<core::StoredEvent> SqliteInbox::find_by_key(const core::DedupKey& key) {
  std::lock_guard lock(mutex_);
  Statement::Use select(stmts_->select_event_by_key);
  bind_key(select, key);
  if (!select.step()) return std::nullopt;
  return read_event(select);
}

std::int64_t SqliteInbox::count_events() {
  std::lock_guard lock(mutex_);
  Statement::Use select(stmts_->count_events);
  select.step();
  return select.column_int(0);
}

// ---- the worker pool's queue -----------------------------------------------------------------

std::vector<core::StoredEvent> SqliteInbox::claim_due(std::int64_t now_ms, std::size_t limit) {
  std::vector<core::StoredEvent> claimed;
  if (limit == 0) return claimed;
  std::lock_guard lock(mutex_);
  // The write lock first, so no other connection claims between our SELECT and UPDATEs.
  Transaction tx(db_, Transaction::Kind::immediate);
  std::vector<std::int64_t> ids;
  {
    if (!stmts_->select_claimable) {
      stmts_->select_claimable = std::make_unique<Statement>(db_, kSelectClaimable);
    }
    Statement::Use select(*stmts_->select_claimable);
    select.integer(1, now_ms);
    select.integer(2, sql_limit(limit));
    while (select.step()) ids.push_back(select.column_int(0));
  }
  claimed.reserve(ids.size());
  for (const std::int64_t id : ids) {
    Statement::Use update(stmts_->claim_event);
    update.integer(1, id);
    update.integer(2, now_ms);
    if (!update.step()) continue;  // not pending any more: cannot happen under the write lock
    claimed.push_back(read_event(update));
    update.step();  // to SQLITE_DONE, so the UPDATE has run to its end before the next one
  }
  tx.commit();
  return claimed;
}

bool SqliteInbox::mark_done(std::int64_t id, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  return stmts_->finish(id, core::kStatusDone, now_ms);
}

bool SqliteInbox::mark_unhandled(std::int64_t id, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  return stmts_->finish(id, core::kStatusUnhandled, now_ms);
}

bool SqliteInbox::schedule_retry(std::int64_t id, std::int64_t next_attempt_at_ms,
                                 std::string_view error, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  return stmts_->retry(id, next_attempt_at_ms, error, now_ms);
}

bool SqliteInbox::mark_dead(std::int64_t id, std::string_view error, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  return stmts_->dead(id, error, now_ms);
}

std::size_t SqliteInbox::release_claims(std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Statement::Use update(stmts_->release_claims);
  update.integer(1, now_ms);
  update.step();
  return changed_rows(db_.handle());
}

std::size_t SqliteInbox::redrive(std::span<const std::int64_t> ids, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (ids.empty()) {
    Statement::Use update(stmts_->redrive_all);
    update.integer(1, now_ms);
    update.step();
    return changed_rows(db_.handle());
  }
  Transaction tx(db_, Transaction::Kind::immediate);
  std::size_t redriven = 0;
  for (const std::int64_t id : ids) {
    Statement::Use update(stmts_->redrive_one);
    update.integer(1, id);
    update.integer(2, now_ms);
    update.step();
    redriven += changed_rows(db_.handle());
  }
  tx.commit();
  return redriven;
}

std::optional<std::int64_t> SqliteInbox::next_due_ms() {
  std::lock_guard lock(mutex_);
  Statement::Use select(stmts_->next_due);
  if (!select.step() || select.column_null(0)) return std::nullopt;
  return select.column_int(0);
}

}  // namespace webhook::storage
