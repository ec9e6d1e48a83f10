#pragma once
// PgConnection: one libpq connection to PostgreSQL, the base of the PostgreSQL backend (issue 13).
//  1. connect(url): parses the URL (pg_url.hpp), connects with a bounded connect timeout.
//  2. exec(sql): statements without parameters (several separated by ';' are allowed);
//     query(sql, params): one statement with $1.. parameters sent apart from the SQL, as text
//     (or binary for bytes), returning the rows as text.
//  3. PgTransaction: BEGIN, ROLLBACK in its destructor unless commit() succeeded.
// Every error is a PgError (a StorageError) whose message names the server as
// "postgres HOST:PORT/DATABASE" and never contains the password: libpq's and the server's text
// pass through PgUrl::scrub(). A PgConnection is used by one thread at a time.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "webhook/storage/database.hpp"
#include "webhook/storage/pg_url.hpp"

struct pg_conn;
struct pg_result;

namespace webhook::storage {

// A PostgreSQL error. sqlite_code() is 1 (a generic error: the SQLite-shaped slot has no
// PostgreSQL meaning); sqlstate() is the server's five-character code ("23505" unique
// violation, "08006" connection failure, ...) or "" when the error came from the client side.
class PgError : public StorageError {
 public:
  PgError(std::string what, std::string sqlstate)
      : StorageError(std::move(what), 1), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// One statement parameter. Named constructors: text and integers are sent as text; bytes
// (a BYTEA column) in binary format, byte-exact; null as SQL NULL.
class PgParam {
 public:
  static PgParam text(std::string_view value) { return PgParam(std::string(value), false, false); }
  static PgParam integer(std::int64_t value) {
    return PgParam(std::to_string(value), false, false);
  }
  static PgParam bytes(std::string_view value) { return PgParam(std::string(value), false, true); }
  static PgParam null() { return PgParam({}, true, false); }
  // "" becomes NULL (the SQLite backend's optional_text).
  static PgParam optional_text(std::string_view value) {
    return value.empty() ? null() : text(value);
  }

  const std::string& value() const { return value_; }
  bool is_null() const { return is_null_; }
  bool is_binary() const { return binary_; }

 private:
  PgParam(std::string value, bool is_null, bool binary)
      : value_(std::move(value)), is_null_(is_null), binary_(binary) {}
  std::string value_;
  bool is_null_;
  bool binary_;
};

// The rows of one statement, in text format; owns the libpq result.
class PgResult {
 public:
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  int columns() const;
  // The command tag ("INSERT 0 1", "COMMIT", "ROLLBACK", ...).
  std::string_view command() const;
  // Rows affected by INSERT/UPDATE/DELETE (0 for others).
  std::int64_t affected() const;
  bool is_null(int row, int column) const;
  // The value as the server sent it in text ("" for NULL); valid while this result lives.
  std::string_view text(int row, int column) const;
  // The value as an integer; throws PgError when it is NULL or not an integer.
  std::int64_t integer(int row, int column) const;
  // A BYTEA value decoded from the text format's hex form ("\x..."), byte-exact.
  std::string bytes(int row, int column) const;

 private:
  pg_result* result_;
};

class PgConnection {
 public:
  static constexpr int kDefaultConnectTimeoutSeconds = 10;

  // Connects to `url` (postgres:// or postgresql://). `connect_timeout_seconds` applies unless
  // the URL has its own connect_timeout parameter. Throws PgError (a bad URL, an unreachable
  // server, authentication refused), naming the server and never the password.
  static PgConnection connect(std::string_view url,
                              int connect_timeout_seconds = kDefaultConnectTimeoutSeconds);

  PgConnection(PgConnection&&) noexcept;
  PgConnection& operator=(PgConnection&&) noexcept;
  ~PgConnection();  // closes the connection

  // Executes `sql` (one or more statements, no parameters); throws PgError.
  void exec(std::string_view sql);
  // Executes one statement with `params` as $1, $2, ...; throws PgError (also, before sending,
  // for a text parameter holding a NUL byte: sqlstate 22021).
  PgResult query(std::string_view sql, std::span<const PgParam> params = {});
  PgResult query(std::string_view sql, std::initializer_list<PgParam> params) {
    return query(sql, std::span<const PgParam>(params.begin(), params.size()));
  }

  // True while a transaction (possibly a failed one) is open on this connection.
  bool in_transaction() const;
  // True when the connection is still usable (libpq's status is OK).
  bool ok() const;
  // Closes the connection and opens it again with the same parameters (libpq's PQreset): after
  // the server restarted or the connection was lost. Blocks for the connect (bounded by the
  // connect timeout). Returns ok().
  bool reset();

  // "postgres HOST:PORT/DATABASE": what messages about this connection print.
  const std::string& describe() const { return describe_; }
  pg_conn* handle() const { return conn_; }

 private:
  PgConnection(pg_conn* conn, PgUrl url);
  [[noreturn]] void fail(std::string_view what, pg_result* result) const;

  pg_conn* conn_ = nullptr;
  PgUrl url_;  // for scrub(): the password is only ever used to remove it from messages
  std::string describe_;
};

// A transaction on `connection` that rolls back in its destructor unless commit() succeeded.
// `connection` must outlive it; same thread.
class PgTransaction {
 public:
  // BEGIN; throws PgError.
  explicit PgTransaction(PgConnection& connection);
  ~PgTransaction();  // ROLLBACK unless committed; never throws
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  // COMMIT; throws PgError, also when a statement had failed inside the transaction (PostgreSQL
  // then answers COMMIT with ROLLBACK). Either way the transaction is over.
  void commit();

 private:
  PgConnection& connection_;
  bool done_ = false;
};

}  // namespace webhook::storage
