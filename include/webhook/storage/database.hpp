#pragma once
// Database: one SQLite connection with the receiver's pragmas, and the migration runner.
//  1. open(): creates the file with mode 0600 if missing, sets WAL, synchronous=FULL,
//     foreign_keys=ON and a busy timeout.
//  2. migrate(): applies embedded migrations (migrations/NNNN_name.sql) newer than
//     PRAGMA user_version, each in its own transaction; re-running is a no-op.
//  3. files_problem(): after a commit, tells whether the database and its -wal on disk are still
//     the files this connection writes (src/storage/database_files.hpp).
// A Database is used by one thread at a time; SQLite errors become StorageError at this boundary.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace webhook::storage {

// Thrown by the storage layer only at its own boundary (open, migrate, prepare); the request
// path converts it into a failed StoreResult.
class StorageError : public std::runtime_error {
 public:
  StorageError(std::string what, int sqlite_code)
      : std::runtime_error(std::move(what)), code_(sqlite_code) {}
  int sqlite_code() const { return code_; }

 private:
  int code_;
};

struct Migration {
  int version;
  std::string name;  // "0001_inbox"
  std::string sql;
};

struct MigrationReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // names, in order
};

class Database {
 public:
  enum class Mode { read_write_create, read_write, read_only };

  static constexpr int kDefaultBusyTimeoutMs = 5000;

  // Opens (and for read_write_create creates, mode 0600, with its parent directory) the database
  // at `path`. `busy_timeout_ms`: how long a statement waits for another connection's lock.
  // Throws StorageError with the path and SQLite's message on failure. A writable open first
  // checks that the database, its -wal and -shm (those that exist) and their directory are
  // writable, and names the exact file that is not (SQLite would open read-only, leave a -shm
  // it cannot write, and fail later naming the database).
  static Database open(const std::string& path, Mode mode = Mode::read_write_create,
                       int busy_timeout_ms = kDefaultBusyTimeoutMs);

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();  // closes the connection (finalizing cached statements)

  // Applies `migrations` (sorted by version) newer than the stored version.
  MigrationReport migrate(const std::vector<Migration>& migrations);
  int schema_version();
  // The highest version in `migrations` (0 for none).
  static int latest_version(const std::vector<Migration>& migrations);

  // Executes SQL with no result rows; throws StorageError.
  void exec(std::string_view sql);

  // "" while `path()` and `path()-wal` still name the files this connection opened; otherwise
  // what happened ("<path>-wal was deleted", "... was replaced by another file"). Commits made
  // after that go to a file no later start reads, so they must not be acknowledged. Costs one
  // file control and one stat(2). Always "" for in-memory, URI and read-only databases.
  std::string files_problem() const;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
  // The -wal this connection opened (device, inode); watched only when wal_watched_.
  bool wal_watched_ = false;
  std::uint64_t wal_device_ = 0;
  std::uint64_t wal_inode_ = 0;
};

// A transaction on `db` that rolls back in its destructor unless commit() succeeded, so every
// early return or exception leaves the database as it was. `db` must outlive it; same thread.
class Transaction {
 public:
  enum class Kind { deferred, immediate };
  // BEGIN (IMMEDIATE takes the write lock now, so a busy database fails here, not mid-batch).
  // Throws StorageError.
  explicit Transaction(Database& db, Kind kind = Kind::immediate);
  ~Transaction();  // ROLLBACK unless committed; never throws
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // COMMIT; throws StorageError (the destructor then rolls back whatever is still open).
  void commit();

 private:
  Database& db_;
  bool committed_ = false;
};

// The migrations compiled into this binary from migrations/*.sql (generated at build time).
const std::vector<Migration>& embedded_migrations();

}  // namespace webhook::storage
