#pragma once
// EventQueries: what the operator commands ask of the inbox's events table (`events list|show|
// stats|purge`, `replay --from-db`; docs/operator-commands.md, docs/replay.md). The CLI holds
// no SQL of its own: it parses flags, calls one method per question and prints plain structs.
//  1. check_inbox_schema() refuses a database without the events table (not migrated) with a
//     StorageError that says to run `webhook-receiver migrate`.
//  2. Each question is one statement over an index (tests/storage/event_queries_test.cpp checks
//     the plans): list walks events_received_at and stops at the limit (with --source or
//     --status SQLite picks events_entity or events_status_due and sorts instead), show and the
//     replay cursor use the primary key, purge searches events_status_due per status, in
//     batches; stats reads the table once (grouped).
//  3. Results are plain structs: strings as stored ("" for an empty value; nullopt only where
//     the column may be NULL), times in epoch milliseconds.
// EventQueries is an abstract interface, unlike the concrete ProjectionQueries: the commands
// take an `EventQueries&` and a second backend (PostgreSQL, DESIGN.md section 5) implements it
// beside SqliteEventQueries without touching src/cli. `events retry` still goes through
// SqliteInbox::redrive() (the write path owns it).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/storage/database.hpp"

namespace webhook::storage {

// A position in the newest-first order of `events list` (the admin API's page cursor).
struct EventPosition {
  std::int64_t received_at_ms = 0;
  std::int64_t id = 0;
};

// `events list`: conditions combine with AND; unset ones do not filter.
struct EventFilter {
  std::vector<std::string> statuses;  // empty: any
  std::optional<std::string> type;    // exact event type, or a prefix (type_is_prefix)
  // `type` is a prefix ("payment."): the types from it up to it with the last byte raised by
  // one, so a prefix should end in '.' ("" matches every type).
  bool type_is_prefix = false;
  std::optional<std::string> source;
  std::optional<std::string> entity_id;
  std::optional<std::int64_t> since_ms;  // received_at_ms >= since_ms
  std::optional<std::int64_t> until_ms;  // received_at_ms < until_ms
  // Only events after this position in newest-first order (with oldest_first unset).
  std::optional<EventPosition> before;
  std::int64_t limit = 50;
  bool oldest_first = false;  // default: newest first (received_at_ms, then id, descending)
};

// One row of `events list` (no body).
struct EventSummary {
  std::int64_t id = 0;
  std::string source;
  std::string event_type;
  std::string entity_kind;
  std::string entity_id;
  std::string status;
  std::int64_t attempts = 0;
  std::int64_t received_at_ms = 0;
  std::int64_t next_attempt_at_ms = 0;
  std::optional<std::string> last_error;  // nullopt: NULL
  std::string request_id;
};

// Every column of one event (`events show`), in table order.
struct EventRecord {
  std::int64_t id = 0;
  std::string source;  // source .. state_token: the dedup key
  std::string event_name;
  std::string entity_kind;
  std::string entity_id;
  std::string state_token;
  std::string event_type;
  std::string status;
  std::optional<std::string> quarantine_reason;  // nullopt: NULL
  std::string body;                              // byte-exact
  std::string request_id;
  std::int64_t received_at_ms = 0;
  std::string scheme;
  std::string candidate;
  std::int64_t key_slot = 0;
  std::int64_t attempts = 0;
  std::int64_t next_attempt_at_ms = 0;
  std::optional<std::string> last_error;  // nullopt: NULL
  std::int64_t updated_at_ms = 0;
};

// `events stats`: the events of one (event_type, status) pair.
struct EventTypeStatusCount {
  std::string event_type;
  std::string status;
  std::int64_t count = 0;
  std::int64_t oldest_received_at_ms = 0;  // min(received_at_ms) of those events
};

// What `replay --from-db` needs of one event.
struct ReplayEvent {
  std::int64_t id = 0;
  std::string source;
  std::string event_type;
  std::string status;
  std::string body;  // byte-exact
  std::string request_id;
  std::int64_t received_at_ms = 0;
  std::string scheme;  // "none" for a delivery accepted unsigned
};

// Events read one at a time (a database may hold more bodies than memory). Holds a read
// statement open on its EventQueries' database, which must outlive it; same thread.
class EventCursor {
 public:
  virtual ~EventCursor() = default;
  // The next event, or nullopt at the end. Throws StorageError on a read error.
  virtual std::optional<ReplayEvent> next() = 0;
};

class EventQueries {
 public:
  virtual ~EventQueries() = default;

  // Events matching `filter`, at most filter.limit, in the filter's order.
  virtual std::vector<EventSummary> list(const EventFilter& filter) = 0;

  // One event with its body; nullopt when there is no such id.
  virtual std::optional<EventRecord> find(std::int64_t id) = 0;

  // Counts per (event_type, status) pair that has events, in no particular order; one
  // consistent read.
  virtual std::vector<EventTypeStatusCount> count_by_type_and_status() = 0;

  // Events received before `cutoff_ms` whose status is one of `statuses` (non-empty): how many
  // (purge_events() would delete that many), and deleting them. The deletion runs in batches,
  // each its own short transaction, so a running service's writer is never held off for the
  // whole purge; returns how many were deleted.
  virtual std::int64_t count_purgeable(std::int64_t cutoff_ms,
                                       const std::vector<std::string>& statuses) = 0;
  virtual std::int64_t purge_events(std::int64_t cutoff_ms,
                                    const std::vector<std::string>& statuses) = 0;

  // Events with first_id <= id <= last_id: how many, and a cursor over them in id order.
  virtual std::int64_t count_in_id_range(std::int64_t first_id, std::int64_t last_id) = 0;
  virtual std::unique_ptr<EventCursor> events_in_id_range(std::int64_t first_id,
                                                          std::int64_t last_id) = 0;
};

// EventQueries over one SQLite connection. Same thread rules as the Database, which must
// outlive it (and every cursor it returned). SQLite errors throw StorageError.
class SqliteEventQueries final : public EventQueries {
 public:
  // Rows deleted per purge transaction: small enough that a batch commits well within a
  // writer's busy timeout (Database::kDefaultBusyTimeoutMs).
  static constexpr std::int64_t kPurgeBatch = 5'000;

  // Does not check the schema (see check_inbox_schema()).
  explicit SqliteEventQueries(Database& db) : db_(db) {}

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
  Database& db_;
};

// Throws StorageError "sqlite database PATH has no events table (not migrated: run
// webhook-receiver migrate)" when `db` is not migrated to the inbox schema (0001). Reads only
// PRAGMA user_version; never migrates.
void check_inbox_schema(Database& db);

// The SQLite library this binary runs with ("3.40.1"), for `version`.
std::string_view sqlite_library_version();

}  // namespace webhook::storage
