#include "webhook/storage/backlog.hpp"

#include <sqlite3.h>

namespace webhook::storage {
namespace {

constexpr const char* kSampleBacklog =
    "SELECT event_type, status, count(*), min(received_at_ms) FROM events "
    "WHERE status IN ('pending', 'processing', 'dead') GROUP BY event_type, status";

std::string column_text(sqlite3_stmt* stmt, int i) {
  const auto* text = sqlite3_column_text(stmt, i);
  return text == nullptr ? std::string()
                         : std::string(reinterpret_cast<const char*>(text),
                                       static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
}

}  // namespace

std::vector<BacklogRow> sample_backlog(Database& db) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.handle(), kSampleBacklog, -1, &stmt, nullptr) != SQLITE_OK) {
    throw StorageError(db.path() + ": backlog query: " + sqlite3_errmsg(db.handle()),
                       sqlite3_errcode(db.handle()));
  }
  std::vector<BacklogRow> rows;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    rows.push_back({column_text(stmt, 0), column_text(stmt, 1), sqlite3_column_int64(stmt, 2),
                    sqlite3_column_int64(stmt, 3)});
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    throw StorageError(db.path() + ": backlog query: " + sqlite3_errstr(rc), rc);
  }
  return rows;
}

}  // namespace webhook::storage
