#pragma once
// The durability check shared by the crash and restart tests: every delivery that got a 2xx is
// in the database exactly once (the only row of its entity) and byte-exact.
#include <sqlite3.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace webhook::testing {

struct DurabilityReport {
  bool opened = false;
  std::size_t missing = 0;   // acknowledged, but no row with that event id
  std::size_t altered = 0;   // the row's body differs from what was sent
  std::size_t repeated = 0;  // its entity has more than one row
  long long rows = -1;       // rows in the table
};

// `acknowledged`: (event id from the 2xx, body sent). Opens `db_path` read-only.
inline DurabilityReport check_acknowledged(
    const std::string& db_path,
    const std::vector<std::pair<long long, std::string>>& acknowledged) {
  DurabilityReport r;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return r;
  }
  r.opened = true;
  sqlite3_stmt* by_id = nullptr;
  sqlite3_stmt* by_entity = nullptr;
  sqlite3_stmt* all = nullptr;
  sqlite3_prepare_v2(db, "SELECT body, entity_id FROM events WHERE id = ?", -1, &by_id, nullptr);
  sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE entity_id = ?", -1, &by_entity,
                     nullptr);
  for (const auto& [event_id, body] : acknowledged) {
    sqlite3_reset(by_id);
    sqlite3_bind_int64(by_id, 1, event_id);
    if (sqlite3_step(by_id) != SQLITE_ROW) {
      ++r.missing;
      continue;
    }
    const std::string stored(static_cast<const char*>(sqlite3_column_blob(by_id, 0)),
                             static_cast<std::size_t>(sqlite3_column_bytes(by_id, 0)));
    if (stored != body) ++r.altered;
    const std::string entity(reinterpret_cast<const char*>(sqlite3_column_text(by_id, 1)));
    sqlite3_reset(by_entity);
    sqlite3_bind_text(by_entity, 1, entity.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(by_entity);
    if (sqlite3_column_int64(by_entity, 0) != 1) ++r.repeated;
  }
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &all, nullptr) == SQLITE_OK &&
      sqlite3_step(all) == SQLITE_ROW) {
    r.rows = sqlite3_column_int64(all, 0);
  }
  sqlite3_finalize(by_id);
  sqlite3_finalize(by_entity);
  sqlite3_finalize(all);
  sqlite3_close(db);
  return r;
}

}  // namespace webhook::testing
