// Statement (include/webhook/storage/statement.hpp).

#include "webhook/storage/statement.hpp"

#include <sqlite3.h>

namespace webhook::storage {
namespace {

// The bytes are bound by reference: they outlive the statement's step (SQLITE_STATIC).
const sqlite3_destructor_type kStatic = nullptr;

}  // namespace

Statement::Statement(Database& db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail("prepare", rc);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

std::int64_t Statement::changes() const { return sqlite3_changes64(db_.handle()); }

void Statement::fail(std::string_view what, int rc) const {
  throw StorageError("sqlite database " + db_.path() + ": " + std::string(what) + ": " +
                         sqlite3_errmsg(db_.handle()),
                     rc);
}

Statement::Use::~Use() {
  sqlite3_reset(s_.stmt_);
  sqlite3_clear_bindings(s_.stmt_);
}

void Statement::Use::check(int rc) {
  if (rc != SQLITE_OK) s_.fail("bind", rc);
}

void Statement::Use::text(int index, std::string_view value) {
  check(sqlite3_bind_text64(s_.stmt_, index, value.data(), value.size(), kStatic, SQLITE_UTF8));
}

void Statement::Use::optional_text(int index, std::string_view value) {
  if (value.empty()) {
    null(index);
  } else {
    text(index, value);
  }
}

void Statement::Use::optional_integer(int index, std::optional<std::int64_t> value) {
  if (value) {
    integer(index, *value);
  } else {
    null(index);
  }
}

void Statement::Use::blob(int index, std::string_view value) {
  // A non-null pointer even for an empty value: a null one would bind NULL.
  check(sqlite3_bind_blob64(s_.stmt_, index, value.empty() ? "" : value.data(), value.size(),
                            kStatic));
}

void Statement::Use::integer(int index, std::int64_t value) {
  check(sqlite3_bind_int64(s_.stmt_, index, value));
}

void Statement::Use::null(int index) { check(sqlite3_bind_null(s_.stmt_, index)); }

bool Statement::Use::step() {
  const int rc = sqlite3_step(s_.stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  s_.fail("step", rc);
}

std::int64_t Statement::Use::column_int(int col) const {
  return sqlite3_column_int64(s_.stmt_, col);
}

bool Statement::Use::column_null(int col) const {
  return sqlite3_column_type(s_.stmt_, col) == SQLITE_NULL;
}

std::optional<std::int64_t> Statement::Use::column_optional_int(int col) const {
  if (column_null(col)) return std::nullopt;
  return column_int(col);
}

std::string Statement::Use::column_bytes(int col) const {
  const void* data = sqlite3_column_blob(s_.stmt_, col);  // NULL for an empty value
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(s_.stmt_, col));
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

}  // namespace webhook::storage
