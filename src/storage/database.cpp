// Database: connection, pragmas, migrations and the rollback-unless-committed Transaction.
// Errors carry the database path and SQLite's own message, never SQL parameters or payloads.

#include "webhook/storage/database.hpp"

#include "storage/database_files.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace webhook::storage {
namespace {

constexpr const char* kJournalModeWal = "PRAGMA journal_mode=WAL";
constexpr const char* kSynchronousFull = "PRAGMA synchronous=FULL";
constexpr const char* kForeignKeysOn = "PRAGMA foreign_keys=ON";
constexpr const char* kUserVersion = "PRAGMA user_version";
// A read: the first read transaction in WAL mode opens the -wal file.
constexpr const char* kTouchSchema = "SELECT count(*) FROM sqlite_schema";

// The busy handler: waits for another connection's lock in short, fixed steps until the
// connection's busy timeout has passed. SQLite's own busy_timeout handler sleeps 1, 2, 5, 10,
// 15, 20, 25, 25, 25, 50, 50, then 100 ms per retry, so a waiter can sleep 100 ms for a lock
// freed after one; with ingest, claims and projections writing on three connections the write
// lock then sits idle while they sleep (bench/results/2026-11-28-projections.md).
constexpr auto kBusyStep = std::chrono::microseconds(500);

// `timeout` carries the timeout in ms as the pointer's value (no storage to outlive the handle).
// `count` is 0 on the first call of each wait, on the thread that waits.
int busy_wait(void* timeout, int count) {
  thread_local std::chrono::steady_clock::time_point started;
  const auto now = std::chrono::steady_clock::now();
  if (count == 0) started = now;
  const auto limit = std::chrono::milliseconds(reinterpret_cast<std::intptr_t>(timeout));
  if (now - started >= limit) return 0;  // give up: SQLITE_BUSY
  std::this_thread::sleep_for(kBusyStep);
  return 1;
}

[[noreturn]] void fail(sqlite3* db, const std::string& path, std::string_view what, int code) {
  std::string message = "sqlite database " + path + ": " + std::string(what) + ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  throw StorageError(std::move(message), code);
}

// Paths SQLite does not map to one plain file (in-memory databases, URI names).
bool is_plain_file(const std::string& path) {
  return !path.empty() && path != ":memory:" && !path.starts_with("file:");
}

// Creates the parent directory and an empty file with mode 0600, so SQLite (which copies the
// database file's mode to its -wal and -shm files) never creates it with the umask's mode.
void create_private_file(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw StorageError("sqlite database " + path + ": cannot create directory " +
                             parent.string() + ": " + ec.message(),
                         SQLITE_CANTOPEN);
    }
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return;  // an existing database keeps its mode
    throw StorageError("sqlite database " + path + ": cannot create file: " + std::strerror(errno),
                       SQLITE_CANTOPEN);
  }
  ::close(fd);
}

// Runs a one-row, one-column query and returns the text of that column.
std::string query_text(sqlite3* db, const std::string& path, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(db, path, sql, rc);
  std::string value;
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text != nullptr) value = reinterpret_cast<const char*>(text);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    sqlite3_finalize(stmt);
    fail(db, path, sql, rc);
  }
  sqlite3_finalize(stmt);
  return value;
}

}  // namespace

Database Database::open(const std::string& path, Mode mode, int busy_timeout_ms) {
  int flags = SQLITE_OPEN_NOMUTEX;  // one thread at a time per connection (see header)
  switch (mode) {
    case Mode::read_write_create:
      if (is_plain_file(path)) create_private_file(path);
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  if (path.starts_with("file:")) flags |= SQLITE_OPEN_URI;
  // Before SQLite touches anything: it would open an unwritable database read-only and leave
  // a -shm with the database's mode behind, which blocks every later start.
  if (mode != Mode::read_only && is_plain_file(path)) files::require_writable(path);

  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw, path);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) fail(raw, path, "open", rc);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_handler(raw, busy_wait,
                       reinterpret_cast<void*>(static_cast<std::intptr_t>(busy_timeout_ms)));

  // A read-only connection cannot switch the journal mode; it reads whatever the file uses.
  if (mode != Mode::read_only) {
    const std::string journal = query_text(raw, path, kJournalModeWal);
    if (journal != "wal" && path != ":memory:") {
      throw StorageError(
          "sqlite database " + path + ": cannot enable WAL (journal mode is " + journal + ")",
          SQLITE_ERROR);
    }
  }
  db.exec(kSynchronousFull);
  db.exec(kForeignKeysOn);
  if (mode != Mode::read_only && is_plain_file(path)) {
    query_text(raw, path, kTouchSchema);  // opens the -wal, so the one watched is ours
    if (const auto wal = files::id_of(path + "-wal")) {
      db.wal_watched_ = true;
      db.wal_device_ = wal->device;
      db.wal_inode_ = wal->inode;
    }
  }
  return db;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      wal_watched_(std::exchange(other.wal_watched_, false)),
      wal_device_(other.wal_device_),
      wal_inode_(other.wal_inode_) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    wal_watched_ = std::exchange(other.wal_watched_, false);
    wal_device_ = other.wal_device_;
    wal_inode_ = other.wal_inode_;
  }
  return *this;
}

std::string Database::files_problem() const {
  if (!wal_watched_ || db_ == nullptr) return {};
  // SQLite compares the inode of its open database descriptor with what the path names now.
  int db_moved = 0;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &db_moved) == SQLITE_OK &&
      db_moved != 0) {
    return path_ + " was deleted or replaced by another file";
  }
  return files::moved(path_ + "-wal", files::FileId{static_cast<dev_t>(wal_device_),
                                                    static_cast<ino_t>(wal_inode_)});
}

Database::~Database() {
  // close_v2: a statement still alive elsewhere keeps the connection until it is finalized.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

void Database::exec(std::string_view sql) {
  const std::string text(sql);  // sqlite3_exec needs a terminated string
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(db_, path_, "exec", rc);
}

int Database::schema_version() { return std::stoi(query_text(db_, path_, kUserVersion)); }

int Database::latest_version(const std::vector<Migration>& migrations) {
  int latest = 0;
  for (const Migration& m : migrations) latest = std::max(latest, m.version);
  return latest;
}

MigrationReport Database::migrate(const std::vector<Migration>& migrations) {
  MigrationReport report;
  report.from_version = schema_version();
  const int latest = latest_version(migrations);
  if (report.from_version > latest) {
    throw StorageError("sqlite database " + path_ + ": schema version " +
                           std::to_string(report.from_version) +
                           " is newer than this binary supports (" + std::to_string(latest) +
                           "); run a newer webhook-receiver",
                       SQLITE_ERROR);
  }
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      throw StorageError("migrations out of order at " + m.name, SQLITE_MISUSE);
    }
    previous = m.version;
    if (m.version <= report.from_version) continue;

    Transaction tx(*this);
    // Re-read under the write lock: another process may have migrated in the meantime.
    if (schema_version() >= m.version) continue;
    const int rc = sqlite3_exec(db_, m.sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(db_, path_, "migration " + m.name, rc);
    exec("PRAGMA user_version = " + std::to_string(m.version));
    tx.commit();
    report.applied.push_back(m.name);
  }
  report.to_version = schema_version();
  return report;
}

Transaction::Transaction(Database& db, Kind kind) : db_(db) {
  db_.exec(kind == Kind::immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
  // After some errors (SQLITE_FULL, SQLITE_IOERR, ...) SQLite has already rolled back.
  if (!committed_ && sqlite3_get_autocommit(db_.handle()) == 0) {
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  committed_ = true;
}

}  // namespace webhook::storage
