// migrate_postgres() and pg_schema_version() (include/webhook/storage/pg_migrate.hpp).

#include "webhook/storage/pg_migrate.hpp"

#include <string>

namespace webhook::storage {
namespace {

constexpr const char* kLock = "SELECT pg_advisory_xact_lock($1)";
constexpr const char* kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version    INTEGER PRIMARY KEY,"
    " name       TEXT NOT NULL,"
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";
constexpr const char* kCurrentVersion = "SELECT coalesce(max(version), 0) FROM schema_version";
// to_regclass(): NULL when the table does not exist (where naming it in a query would fail).
constexpr const char* kHasVersionTable = "SELECT to_regclass('schema_version') IS NOT NULL";
constexpr const char* kRecordVersion = "INSERT INTO schema_version (version, name) VALUES ($1, $2)";

}  // namespace

int pg_schema_version(PgConnection& connection) {
  if (connection.query(kHasVersionTable).text(0, 0) != "t") return 0;
  return static_cast<int>(connection.query(kCurrentVersion).integer(0, 0));
}

MigrationReport migrate_postgres(PgConnection& connection,
                                 const std::vector<Migration>& migrations) {
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      throw PgError(connection.describe() + ": migrations out of order at " + m.name, "");
    }
    previous = m.version;
  }
  const int latest = Database::latest_version(migrations);

  MigrationReport report;
  PgTransaction tx(connection);
  // Serialize with every other process migrating this database, until COMMIT.
  connection.query(kLock, {PgParam::integer(kPgMigrationLock)});
  connection.exec(kCreateVersionTable);
  report.from_version = static_cast<int>(connection.query(kCurrentVersion).integer(0, 0));
  if (report.from_version > latest) {
    throw PgError(connection.describe() + ": schema version " +
                      std::to_string(report.from_version) +
                      " is newer than this binary supports (" + std::to_string(latest) +
                      "); run a newer webhook-receiver",
                  "");
  }
  for (const Migration& m : migrations) {
    if (m.version <= report.from_version) continue;
    try {
      connection.exec(m.sql);
    } catch (const PgError& e) {
      throw PgError(std::string(e.what()) + " (migration " + m.name + ")", e.sqlstate());
    }
    connection.query(kRecordVersion, {PgParam::integer(m.version), PgParam::text(m.name)});
    report.applied.push_back(m.name);
  }
  tx.commit();
  report.to_version = report.applied.empty() ? report.from_version : previous;
  return report;
}

}  // namespace webhook::storage
