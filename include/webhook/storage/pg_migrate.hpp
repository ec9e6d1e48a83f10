#pragma once
// Migrations for PostgreSQL (migrations/postgres/NNNN_name.sql, embedded at build time).
//  1. One transaction: pg_advisory_xact_lock(kPgMigrationLock) first, so replicas starting
//     together take turns; the second finds the work done and applies nothing.
//  2. schema_version (version, name, applied_at) is created if missing and read under the lock;
//     each newer migration runs, in version order, and records its row.
//  3. COMMIT releases the lock. Any failure rolls back everything: the schema is at the old
//     version or the new one, never in between (PostgreSQL's DDL is transactional).
// A database whose schema is newer than this binary's migrations is refused.

#include <cstdint>
#include <vector>

#include "webhook/storage/database.hpp"
#include "webhook/storage/pg_connection.hpp"

namespace webhook::storage {

// The advisory lock key the migration holds ("whrcvmig" as ASCII bytes); other advisory locks
// of this service must use other keys.
inline constexpr std::int64_t kPgMigrationLock = 0x776872'63766d6967;

// The PostgreSQL migrations compiled into this binary (generated from migrations/postgres/*.sql).
const std::vector<Migration>& embedded_postgres_migrations();

// The version recorded in schema_version (0 when the table is missing or empty).
int pg_schema_version(PgConnection& connection);

// Applies `migrations` (sorted by version, strictly increasing) newer than the recorded version,
// as described above. Throws PgError (also for a schema newer than `migrations`, and for
// migrations out of order); `connection` must not be inside a transaction.
MigrationReport migrate_postgres(PgConnection& connection,
                                 const std::vector<Migration>& migrations);

}  // namespace webhook::storage
