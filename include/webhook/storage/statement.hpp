#pragma once
// Statement: one prepared SQLite statement, finalized with its owner, used through
// Statement::Use, which resets it (and clears its bindings) however the scope is left, so no
// statement keeps a read lock open. Errors throw StorageError naming the database path and
// SQLite's message, never a bound value. Same thread rules as the Database it was prepared on.
// Text and blobs are bound by reference: the bytes must outlive the Use (SQLITE_STATIC).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/storage/database.hpp"

namespace webhook::storage {

class Statement {
 public:
  // Prepares `sql` on `db` for repeated use (SQLITE_PREPARE_PERSISTENT). `db` must outlive it.
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  class Use {
   public:
    explicit Use(Statement& s) : s_(s) {}
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

    // Parameters are numbered from 1.
    void text(int index, std::string_view value);
    void optional_text(int index, std::string_view value);  // "" binds NULL
    void optional_integer(int index, std::optional<std::int64_t> value);
    void blob(int index, std::string_view value);  // "" binds an empty blob, not NULL
    void integer(int index, std::int64_t value);
    void null(int index);

    // Steps once: true for a row, false when done; throws StorageError on an error.
    bool step();

    std::int64_t column_int(int col) const;
    bool column_null(int col) const;
    std::optional<std::int64_t> column_optional_int(int col) const;  // nullopt for NULL
    std::string column_bytes(int col) const;  // text or blob as stored, "" for NULL

   private:
    void check(int rc);
    Statement& s_;
  };

  // Rows changed by the last INSERT, UPDATE or DELETE on this statement's connection.
  std::int64_t changes() const;

 private:
  [[noreturn]] void fail(std::string_view what, int rc) const;
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace webhook::storage
