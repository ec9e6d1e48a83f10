#pragma once
// PgEventQueries: storage::EventQueries (event_queries.hpp) on PostgreSQL (issue 13), with the
// same results as SqliteEventQueries for the same rows:
//  1. check_pg_inbox_schema() refuses a database without the events table (not migrated) with a
//     StorageError that says to run `webhook-receiver migrate`.
//  2. Text comparisons and orders use COLLATE "C" (byte order, as SQLite compares), whatever the
//     database's collation; the type prefix is the same byte range as on SQLite.
//  3. purge deletes in batches of kPurgeBatch, each its own (autocommit) transaction.
//  4. events_in_id_range() reads the range in pages of `replay_page` events by primary key
//     (id > last seen), so a large range never loads at once and no transaction stays open
//     between next() calls. Unlike SQLite's cursor it is not one snapshot: an event inserted into
//     the range after the cursor passed its id is not seen, one inserted ahead of it is.
// Same thread rules as the PgConnection, which must outlive this object and its cursors.
// Errors throw PgError (a StorageError).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "webhook/storage/event_queries.hpp"
#include "webhook/storage/pg_connection.hpp"

namespace webhook::storage {

class PgEventQueries final : public EventQueries {
 public:
  // Rows deleted per purge transaction (as SqliteEventQueries::kPurgeBatch).
  static constexpr std::int64_t kPurgeBatch = 5'000;
  // Events read per page by an id-range cursor.
  static constexpr std::int64_t kReplayPage = 500;

  // Does not check the schema (see check_pg_inbox_schema()). `replay_page` >= 1.
  explicit PgEventQueries(PgConnection& db, std::int64_t replay_page = kReplayPage);

  std::vector<EventSummary> list(const EventFilter& filter) override;
  std::optional<EventRecord> find(std::int64_t id) override;
  std::vector<EventTypeStatusCount> count_by_type_and_status() override;
  std::int64_t count_purgeable(std::int64_t cutoff_ms,
                               const std::vector<std::string>& statuses) override;
  std::int64_t purge_events(std::int64_t cutoff_ms,
                            const std::vector<std::string>& statuses) override;
  std::int64_t count_in_id_range(std::int64_t first_id, std::int64_t last_id) override;
  std::unique_ptr<EventCursor> events_in_id_range(std::int64_t first_id,
                                                  std::int64_t last_id) override;

 private:
  PgConnection& db_;
  std::int64_t replay_page_;
};

// Throws StorageError "postgres HOST:PORT/DATABASE has no events table (not migrated: run
// webhook-receiver migrate)" when `db` is not migrated to the inbox schema
// (migrations/postgres/0001). Reads only schema_version; never migrates.
void check_pg_inbox_schema(PgConnection& db);

}  // namespace webhook::storage
