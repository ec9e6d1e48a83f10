// SqliteInbox: prepared statements (cached for the connection's life), the group-commit batch and
// the reads. Every SQLite error inside store_batch() becomes a failed result for the whole batch.

#include "webhook/storage/sqlite_inbox.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "webhook/core/signature.hpp"
#include "webhook/log/log.hpp"

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
       quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot
FROM events WHERE id = ?1
)sql";

constexpr const char* kSelectEventByKey = R"sql(
SELECT id, source, event_name, entity_kind, entity_id, state_token, event_type, status,
       quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot
FROM events
WHERE source = ?1 AND event_name = ?2 AND entity_kind = ?3 AND entity_id = ?4 AND state_token = ?5
)sql";

constexpr const char* kCountEvents = "SELECT count(*) FROM events";

// The key's entity_kind for a delivery quarantined under core::quarantine_key().
constexpr std::string_view kQuarantineEntityKind = "quarantine";

// The bytes are bound by reference: they outlive the statement's step (SQLITE_STATIC).
const sqlite3_destructor_type kStatic = nullptr;

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

// One prepared statement, finalized with its owner. Use it through Use, which resets it (and
// clears its bindings) however the scope is left, so no statement keeps a read lock open.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) fail("prepare", rc);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  class Use {
   public:
    explicit Use(Statement& s) : s_(s) {}
    ~Use() {
      sqlite3_reset(s_.stmt_);
      sqlite3_clear_bindings(s_.stmt_);
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

    void text(int index, std::string_view value) {
      check(sqlite3_bind_text64(s_.stmt_, index, value.data(), value.size(), kStatic, SQLITE_UTF8));
    }
    void optional_text(int index, std::string_view value) {
      if (value.empty()) {
        check(sqlite3_bind_null(s_.stmt_, index));
      } else {
        text(index, value);
      }
    }
    void blob(int index, std::string_view value) {
      // A non-null pointer even for an empty body: a null one would bind NULL.
      check(sqlite3_bind_blob64(s_.stmt_, index, value.empty() ? "" : value.data(), value.size(),
                                kStatic));
    }
    void integer(int index, std::int64_t value) {
      check(sqlite3_bind_int64(s_.stmt_, index, value));
    }
    void key(const core::DedupKey& key) {
      text(1, key.source);
      text(2, key.event_name);
      text(3, key.entity_kind);
      text(4, key.entity_id);
      text(5, key.state_token);
    }

    // Steps once: true for a row, false when done; throws StorageError on an error.
    bool step() {
      const int rc = sqlite3_step(s_.stmt_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      s_.fail("step", rc);
    }

    std::int64_t column_int(int col) const { return sqlite3_column_int64(s_.stmt_, col); }
    std::string column_bytes(int col) const {
      const void* data = sqlite3_column_blob(s_.stmt_, col);  // NULL for an empty value
      const auto size = static_cast<std::size_t>(sqlite3_column_bytes(s_.stmt_, col));
      return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
    }

   private:
    void check(int rc) {
      if (rc != SQLITE_OK) s_.fail("bind", rc);
    }
    Statement& s_;
  };

 private:
  [[noreturn]] void fail(std::string_view what, int rc) const {
    throw StorageError(
        "sqlite database " + path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_), rc);
  }
  sqlite3* db_;
  std::string path_;  // for error messages
  sqlite3_stmt* stmt_ = nullptr;
};

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
  Statements(sqlite3* db, const std::string& path)
      : db_(db),
        insert_event(db, path, kInsertEvent),
        select_id_by_key(db, path, kSelectIdByKey),
        select_event_by_id(db, path, kSelectEventById),
        select_event_by_key(db, path, kSelectEventByKey),
        count_events(db, path, kCountEvents) {}

  // Inside the batch's transaction; throws StorageError.
  core::StoreResult store(const core::Delivery& d) {
    {
      Statement::Use insert(insert_event);
      insert.key(d.key);
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
    select.key(d.key);
    if (!select.step()) {
      throw StorageError("sqlite database: insert conflicted but the key was not found",
                         SQLITE_INTERNAL);
    }
    return core::StoreResult::duplicate(select.column_int(0));
  }

  sqlite3* db_;
  Statement insert_event;
  Statement select_id_by_key;
  Statement select_event_by_id;
  Statement select_event_by_key;
  Statement count_events;
};

SqliteInbox::SqliteInbox(Database db)
    : db_(std::move(db)), stmts_(std::make_unique<Statements>(db_.handle(), db_.path())) {}

// stmts_ is destroyed (finalized) before db_ closes the connection: reverse member order.
SqliteInbox::~SqliteInbox() = default;

std::vector<core::StoreResult> SqliteInbox::store_batch(std::span<const core::Delivery> batch) {
  std::vector<core::StoreResult> results;
  if (batch.empty()) return results;
  results.reserve(batch.size());
  std::lock_guard lock(mutex_);
  try {
    Transaction tx(db_, Transaction::Kind::immediate);
    for (const core::Delivery& d : batch) results.push_back(stmts_->store(d));
    tx.commit();  // synchronous=FULL: returns once the batch is on disk
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
  select.key(key);
  if (!select.step()) return std::nullopt;
  return read_event(select);
}

std::int64_t SqliteInbox::count_events() {
  std::lock_guard lock(mutex_);
  Statement::Use select(stmts_->count_events);
  select.step();
  return select.column_int(0);
}

}  // namespace webhook::storage
