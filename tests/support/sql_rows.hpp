#pragma once
// rows()/value(): read back what the code under test wrote, with plain SQL on its connection.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "webhook/storage/database.hpp"

namespace webhook::testing {

using Rows = std::vector<std::vector<std::string>>;

// Every row of `sql`, each column as text ("NULL" for NULL).
inline Rows rows(storage::Database& db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  Rows out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      row.emplace_back(text == nullptr ? "NULL" : reinterpret_cast<const char*>(text));
    }
    out.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  return out;
}

// The single value of a one-row, one-column query.
inline std::string value(storage::Database& db, const std::string& sql) {
  const Rows r = rows(db, sql);
  REQUIRE(r.size() == 1);
  REQUIRE(r[0].size() == 1);
  return r[0][0];
}

}  // namespace webhook::testing
