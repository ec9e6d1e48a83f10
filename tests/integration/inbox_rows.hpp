#pragma once
// Reading a receiver's SQLite file from a test, each call through its own read-only connection
// (WAL readers do not wait for the receiver's writes).
#include <sqlite3.h>

#include <cstddef>
#include <string>
#include <vector>

namespace webhook::testing {

// The first column of the first row of `sql` as text ("NULL" for NULL, "" for no row or an
// error).
inline std::string db_value(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      out = text == nullptr ? "NULL" : reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

// One row of the events table, as far as the integration tests look at it.
struct InboxRow {
  long long id = 0;
  std::string entity_id, status, body, last_error;
  long long attempts = 0;
};

// Every row of the events table in id order (empty if the file cannot be read).
inline std::vector<InboxRow> read_inbox(const std::string& db_path) {
  std::vector<InboxRow> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, entity_id, status, body, coalesce(last_error, ''), "
                           "attempts FROM events ORDER BY id",
                           -1, &stmt, nullptr) == SQLITE_OK) {
      auto text = [stmt](int column) {
        const auto* t = sqlite3_column_text(stmt, column);
        return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
      };
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        InboxRow r;
        r.id = sqlite3_column_int64(stmt, 0);
        r.entity_id = text(1);
        r.status = text(2);
        r.body.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 3)),
                      static_cast<std::size_t>(sqlite3_column_bytes(stmt, 3)));
        r.last_error = text(4);
        r.attempts = sqlite3_column_int64(stmt, 5);
        rows.push_back(std::move(r));
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return rows;
}

}  // namespace webhook::testing
