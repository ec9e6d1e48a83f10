// PgInbox: the batch (deliveries and work in one transaction), the reads and the worker pool's
// queue on PostgreSQL. Every error inside write_batch()/store_batch() becomes a failed result for
// the whole batch; the queue methods let PgError out to their caller.

#include "webhook/storage/pg_inbox.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhook/log/log.hpp"

namespace webhook::storage {
namespace {

// The columns every read returns, in read_event()'s order.
#define WEBHOOK_PG_EVENT_COLUMNS                                                                 \
  "id, source, event_name, entity_kind, entity_id, state_token, event_type, status, "            \
  "quarantine_reason, body, request_id, received_at_ms, scheme, candidate, key_slot, attempts, " \
  "next_attempt_at_ms, last_error, updated_at_ms"

// Dedup is the statement itself: a conflicting key returns no row.
constexpr const char* kInsertEvent = R"sql(
INSERT INTO events (source, event_name, entity_kind, entity_id, state_token, event_type, status,
                    quarantine_reason, body, request_id, received_at_ms, scheme, candidate,
                    key_slot, updated_at_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $11)
ON CONFLICT ON CONSTRAINT events_dedup DO NOTHING
RETURNING id
)sql";

#define WEBHOOK_PG_KEY_IS \
  "source = $1 AND event_name = $2 AND entity_kind = $3 AND entity_id = $4 AND state_token = $5"

constexpr const char* kSelectIdByKey = "SELECT id FROM events WHERE " WEBHOOK_PG_KEY_IS;
constexpr const char* kSelectEventById =
    "SELECT " WEBHOOK_PG_EVENT_COLUMNS " FROM events WHERE id = $1";
constexpr const char* kSelectEventByKey =
    "SELECT " WEBHOOK_PG_EVENT_COLUMNS " FROM events WHERE " WEBHOOK_PG_KEY_IS;
constexpr const char* kCountEvents = "SELECT count(*) FROM events";

// ---- the worker pool's queue (the claim rule lives in this SQL) ------------------------------

// The claim rule (core/inbox.hpp, claim_due), for `e`: no older pending-or-processing event of
// its entity and none of its entity processing. Both probe events_entity.
#define WEBHOOK_PG_CLAIM_RULE                                     \
  "NOT EXISTS (SELECT 1 FROM events AS o"                         \
  "  WHERE o.source = e.source AND o.entity_kind = e.entity_kind" \
  "    AND o.entity_id = e.entity_id AND o.id < e.id"             \
  "    AND o.status IN ('pending', 'processing'))"                \
  " AND NOT EXISTS (SELECT 1 FROM events AS o"                    \
  "  WHERE o.source = e.source AND o.entity_kind = e.entity_kind" \
  "    AND o.entity_id = e.entity_id AND o.status = 'processing')"

// Claim, step 1: the candidates in id order (events_pending), rows other claimers hold skipped,
// and of those the ones whose entity lock this transaction got. The CTE is materialized, so the
// lock is tried once per candidate and only for candidates. 2003329893 = kClaimLockClass.
constexpr const char* kLockCandidates =
    "WITH candidate AS MATERIALIZED ("
    " SELECT e.id, e.source, e.entity_kind, e.entity_id FROM events AS e"
    " WHERE e.status = 'pending' AND e.next_attempt_at_ms <= $1 AND " WEBHOOK_PG_CLAIM_RULE
    " ORDER BY e.id LIMIT $2"
    " FOR UPDATE OF e SKIP LOCKED)"
    " SELECT id FROM candidate"
    " WHERE pg_try_advisory_xact_lock(2003329893,"
    "   hashtext(source || chr(31) || entity_kind || chr(31) || entity_id))"
    " ORDER BY id";
static_assert(kClaimLockClass == 2003329893);

// Claim, step 2: the rule again, in a snapshot taken after the entity locks were granted.
constexpr const char* kClaimLocked =
    "UPDATE events AS e SET status = 'processing', attempts = e.attempts + 1, updated_at_ms = $2"
    " WHERE e.id = ANY($1::bigint[]) AND e.status = 'pending' AND e.next_attempt_at_ms <= $2"
    " AND " WEBHOOK_PG_CLAIM_RULE " RETURNING " WEBHOOK_PG_EVENT_COLUMNS;

// The outcome of a claimed event: $2 is 'done' or 'unhandled'.
constexpr const char* kMarkFinished =
    "UPDATE events SET status = $2, updated_at_ms = $3 WHERE id = $1 AND status = 'processing'";

constexpr const char* kScheduleRetry =
    "UPDATE events SET status = 'pending', next_attempt_at_ms = $2, last_error = $3,"
    " updated_at_ms = $4 WHERE id = $1 AND status = 'processing'";

// attempts is kept: it tells how many runs the dead event had.
constexpr const char* kMarkDead =
    "UPDATE events SET status = 'dead', last_error = $2, updated_at_ms = $3"
    " WHERE id = $1 AND status = 'processing'";

constexpr const char* kReleaseClaims =
    "UPDATE events SET status = 'pending', next_attempt_at_ms = $1, updated_at_ms = $1"
    " WHERE status = 'processing'";

// last_error is kept, so an operator still sees why the event died before.
constexpr const char* kRedriveIds =
    "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = $2,"
    " updated_at_ms = $2 WHERE id = ANY($1::bigint[]) AND status = 'dead'";

constexpr const char* kRedriveAll =
    "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = $1,"
    " updated_at_ms = $1 WHERE status = 'dead'";

constexpr const char* kNextDue =
    "SELECT min(next_attempt_at_ms) FROM events WHERE status = 'pending'";

// ---- the one write path (core/work.hpp) ------------------------------------------------------

// An attempt begins. $2 is the attempt's number as the pool counts it.
constexpr const char* kStartAttempt =
    "UPDATE events SET status = 'processing', attempts = $2, updated_at_ms = $3"
    " WHERE id = $1 AND status IN ('pending', 'processing')";

// An attempt marked started that never ran (the pool stopped first).
constexpr const char* kReleaseAttempt =
    "UPDATE events SET status = 'pending', attempts = $2, updated_at_ms = $3"
    " WHERE id = $1 AND status = 'processing'";

// Recovery and catch-up: pending events after an id, in id order (events_pending walks them).
// Like SqliteInbox's, it reads only: what a crash left processing is put back by
// release_claims() at start-up, before the pool loads.
constexpr const char* kLoadPending = "SELECT " WEBHOOK_PG_EVENT_COLUMNS
                                     " FROM events WHERE status = 'pending' AND id > $1"
                                     " ORDER BY id LIMIT $2";

// The key's entity_kind for a delivery quarantined under core::quarantine_key().
constexpr std::string_view kQuarantineEntityKind = "quarantine";

// Attempts of a batch that lost a deadlock or a serialization conflict.
// A lost connection is opened again at most this often (each try may block for a connect).
constexpr auto kReconnectEvery = std::chrono::seconds(1);

constexpr int kBatchAttempts = 3;

// A size for a LIMIT: a signed 64-bit value.
std::int64_t sql_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(limit < kMax ? limit : kMax);
}

// A bigint[] literal: {1,2,3}.
std::string id_array(std::span<const std::int64_t> ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  out += '}';
  return out;
}

// True for errors a second attempt of the same transaction can get past.
bool is_transient(const StorageError& e) {
  const auto* pg = dynamic_cast<const PgError*>(&e);
  return pg != nullptr && (pg->sqlstate() == "40P01" || pg->sqlstate() == "40001");
}

// A short, payload-free reason for a failed StoreResult, from the SQLSTATE.
std::string short_reason(const StorageError& e, const PgConnection& db) {
  const auto* pg = dynamic_cast<const PgError*>(&e);
  const std::string state = pg != nullptr ? pg->sqlstate() : std::string();
  if (state.empty()) return db.ok() ? "database error" : "database unreachable";
  if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03") {
    return "database unreachable";
  }
  if (state == "53100") return "disk full";
  if (state == "53200") return "out of memory";
  if (state.starts_with("53")) return "database out of resources";
  if (state == "57014") return "statement timeout";
  if (state == "40P01") return "deadlock";
  if (state == "40001") return "serialization failure";
  if (state == "25006") return "database is read-only";
  if (state.starts_with("23")) return "constraint violation";
  if (state.starts_with("28")) return "authentication failed";
  if (state.starts_with("42")) return "schema mismatch";
  return "database error " + state;
}

std::vector<PgParam> key_params(const core::DedupKey& key) {
  return {PgParam::text(key.source), PgParam::text(key.event_name), PgParam::text(key.entity_kind),
          PgParam::text(key.entity_id), PgParam::text(key.state_token)};
}

core::StoredEvent read_event(const PgResult& rows, int row) {
  core::StoredEvent e;
  e.id = rows.integer(row, 0);
  e.key.source = rows.text(row, 1);
  e.key.event_name = rows.text(row, 2);
  e.key.entity_kind = rows.text(row, 3);
  e.key.entity_id = rows.text(row, 4);
  e.key.state_token = rows.text(row, 5);
  e.event_type = rows.text(row, 6);
  e.status = rows.text(row, 7);
  e.quarantine_reason = rows.text(row, 8);  // "" for NULL
  e.body = rows.bytes(row, 9);
  e.request_id = rows.text(row, 10);
  e.received_at_ms = rows.integer(row, 11);
  e.scheme = rows.text(row, 12);
  e.candidate = rows.text(row, 13);
  e.key_slot = static_cast<int>(rows.integer(row, 14));
  e.attempts = static_cast<int>(rows.integer(row, 15));
  e.next_attempt_at_ms = rows.integer(row, 16);
  e.last_error = rows.text(row, 17);
  e.updated_at_ms = rows.integer(row, 18);
  // The entity is stored once, as part of the key; a quarantined delivery has none of its own.
  if (e.key.entity_kind != kQuarantineEntityKind) {
    e.entity_kind = e.key.entity_kind;
    e.entity_id = e.key.entity_id;
  }
  return e;
}

std::vector<core::StoredEvent> read_events(const PgResult& rows) {
  std::vector<core::StoredEvent> events;
  events.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) events.push_back(read_event(rows, r));
  return events;
}

// INSERT ... ON CONFLICT DO NOTHING RETURNING id with `status`; the new id, or nullopt when the
// key is stored already.
std::optional<std::int64_t> insert_event(PgConnection& db, const core::DedupKey& key,
                                         std::string_view event_type, std::string_view status,
                                         std::string_view quarantine_reason, std::string_view body,
                                         std::string_view request_id, std::int64_t received_at_ms,
                                         std::string_view scheme, std::string_view candidate,
                                         int key_slot) {
  std::vector<PgParam> params = key_params(key);
  params.push_back(PgParam::text(event_type));
  params.push_back(PgParam::text(status));
  params.push_back(PgParam::optional_text(quarantine_reason));
  params.push_back(PgParam::bytes(body));
  params.push_back(PgParam::text(request_id));
  params.push_back(PgParam::integer(received_at_ms));
  params.push_back(PgParam::text(scheme));
  params.push_back(PgParam::text(candidate));
  params.push_back(PgParam::integer(key_slot));
  const PgResult inserted = db.query(kInsertEvent, params);
  if (inserted.rows() == 1) return inserted.integer(0, 0);
  return std::nullopt;
}

// Inside the batch's transaction; throws PgError.
core::StoreResult store(PgConnection& db, const core::Delivery& d) {
  const std::optional<std::int64_t> id = insert_event(
      db, d.key, d.event_type, d.quarantined ? core::kStatusQuarantined : core::kStatusPending,
      d.quarantine_reason, d.body, d.request_id, d.received_at_ms, core::to_string(d.scheme),
      core::to_string(d.candidate), d.key_slot);
  if (id) return core::StoreResult::inserted(*id);
  // The key is taken: earlier in this batch, or by a committed row of any connection (ON
  // CONFLICT waited for it). This statement's snapshot is newer than that commit.
  const std::vector<PgParam> params = key_params(d.key);
  const PgResult found = db.query(kSelectIdByKey, params);
  if (found.rows() != 1) {
    throw PgError(db.describe() + ": insert conflicted but the key was not found", "");
  }
  return core::StoreResult::duplicate(found.integer(0, 0));
}

}  // namespace

PgInbox::PgInbox(PgConnection db, PgProjectionApplier applier)
    : db_(std::move(db)), applier_(std::move(applier)) {
  if (!applier_) applier_ = apply_pg_projection;
  db_.exec("LISTEN " + std::string(kChangeChannel));
  backend_pid_ = PQbackendPID(db_.handle());
}

PgInbox::~PgInbox() = default;

void PgInbox::notify_locked() { db_.exec("NOTIFY " + std::string(kChangeChannel)); }

bool PgInbox::connected_locked() {
  if (db_.ok()) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_reconnect_ < kReconnectEvery) return false;
  last_reconnect_ = now;
  if (!db_.reset()) {
    log::warn("postgres: still unreachable", {.detail = db_.describe()});
    return false;
  }
  try {
    db_.exec("LISTEN " + std::string(kChangeChannel));
  } catch (const StorageError& e) {
    log::warn("postgres: reconnected, but LISTEN failed", {.detail = e.what()});
    return false;
  }
  backend_pid_ = PQbackendPID(db_.handle());
  log::info("postgres: reconnected", {.detail = db_.describe()});
  return true;
}

void PgInbox::require_connection_locked() {
  if (!connected_locked()) throw PgError(db_.describe() + ": database unreachable", "08006");
}

std::int64_t PgInbox::update_and_notify_locked(std::string_view sql,
                                               std::span<const PgParam> params) {
  const std::int64_t changed = db_.query(sql, params).affected();
  if (changed > 0) notify_locked();
  return changed;
}

// ---- the one write path ------------------------------------------------------------------------

bool PgInbox::set_status_locked(const core::WorkItem& item, core::WorkKind kind,
                                std::string_view error) {
  using core::WorkKind;
  const std::int64_t id = item.event->id;
  switch (kind) {
    case WorkKind::started:
    case WorkKind::released:
      return db_.query(kind == WorkKind::started ? kStartAttempt : kReleaseAttempt,
                       {PgParam::integer(id), PgParam::integer(item.attempts),
                        PgParam::integer(item.at_ms)})
                 .affected() == 1;
    case WorkKind::apply:
      return true;
    case WorkKind::observed:  // observe_locked()
      return false;
    case WorkKind::done:
    case WorkKind::unhandled:
      return db_.query(kMarkFinished,
                       {PgParam::integer(id),
                        PgParam::text(kind == WorkKind::done ? core::kStatusDone
                                                             : core::kStatusUnhandled),
                        PgParam::integer(item.at_ms)})
                 .affected() == 1;
    case WorkKind::retry:
      return db_.query(kScheduleRetry,
                       {PgParam::integer(id), PgParam::integer(item.next_attempt_at_ms),
                        PgParam::text(error), PgParam::integer(item.at_ms)})
                 .affected() == 1;
    case WorkKind::dead:
      return db_.query(kMarkDead,
                       {PgParam::integer(id), PgParam::text(error), PgParam::integer(item.at_ms)})
                 .affected() == 1;
  }
  return false;
}

core::WorkRecorded PgInbox::apply_locked(const core::WorkItem& item) {
  if (item.kind == core::WorkKind::observed) return observe_locked(item);
  const core::StoredEvent& event = *item.event;
  core::WorkRecorded out;
  out.event_id = event.id;
  out.kind = item.kind;
  if (item.changes.empty()) {
    out.recorded = set_status_locked(item, item.kind, item.error);
    return out;
  }
  // The changes and the status commit together or not at all: a savepoint per item, so a
  // change that fails takes back only this event's writes (and clears the transaction's error
  // state: after a failed statement PostgreSQL accepts nothing but ROLLBACK TO).
  db_.exec("SAVEPOINT item");
  try {
    for (const core::ProjectionChange& change : item.changes) {
      std::optional<core::ReviewNotice> owed = applier_(db_, event, change);
      if (owed) out.notification_owed = std::move(owed);
    }
    out.recorded = set_status_locked(item, item.kind, item.error);
    db_.exec("RELEASE SAVEPOINT item");
    return out;
  } catch (const StorageError& e) {
    out.error = e.what();
  }
  db_.exec("ROLLBACK TO SAVEPOINT item; RELEASE SAVEPOINT item");
  out.notification_owed.reset();
  out.kind = item.fallback;
  out.recorded = set_status_locked(item, item.fallback, out.error);
  return out;
}

// The event and its projection changes in one savepoint: both or neither. A key stored already
// records nothing (the same answer recorded twice); a change that fails takes the event back too.
core::WorkRecorded PgInbox::observe_locked(const core::WorkItem& item) {
  core::WorkRecorded out;
  out.kind = core::WorkKind::observed;
  const core::StoredEvent& given = *item.event;
  db_.exec("SAVEPOINT item");
  try {
    const std::optional<std::int64_t> id = insert_event(
        db_, given.key, given.event_type, given.status, given.quarantine_reason, given.body,
        given.request_id, given.received_at_ms, given.scheme, given.candidate, given.key_slot);
    if (id) {
      core::StoredEvent event = given;
      event.id = *id;
      for (const core::ProjectionChange& change : item.changes) applier_(db_, event, change);
      out.event_id = *id;
      out.recorded = true;
    }
    db_.exec("RELEASE SAVEPOINT item");
    return out;
  } catch (const StorageError& e) {
    out.error = e.what();
  }
  db_.exec("ROLLBACK TO SAVEPOINT item; RELEASE SAVEPOINT item");
  return out;
}

core::BatchWritten PgInbox::write_batch_locked(std::span<const core::Delivery> deliveries,
                                               std::span<const core::WorkItem> work, bool durable,
                                               bool notify_inserted) {
  core::BatchWritten out;
  PgTransaction tx(db_);
  // SET LOCAL: for this transaction only. "on" even though it is the server's default, so a
  // server configured otherwise cannot make an acknowledged batch volatile.
  db_.exec(durable ? "SET LOCAL synchronous_commit = on" : "SET LOCAL synchronous_commit = off");
  out.stored.reserve(deliveries.size());
  for (const core::Delivery& d : deliveries) out.stored.push_back(store(db_, d));
  out.work.reserve(work.size());
  for (const core::WorkItem& item : work) out.work.push_back(apply_locked(item));
  if (notify_inserted && std::any_of(out.stored.begin(), out.stored.end(), [](const auto& r) {
        return r.kind == core::StoreResult::Kind::inserted;
      })) {
    notify_locked();  // delivered to listeners at the COMMIT, and only if it commits
  }
  tx.commit();  // synchronous_commit on: returns once the batch's WAL is flushed
  out.ok = true;
  return out;
}

core::BatchWritten PgInbox::write_batch(std::span<const core::Delivery> deliveries,
                                        std::span<const core::WorkItem> work, bool durable) {
  return write_batch_retrying(deliveries, work, durable, false);
}

core::BatchWritten PgInbox::write_batch_retrying(std::span<const core::Delivery> deliveries,
                                                 std::span<const core::WorkItem> work, bool durable,
                                                 bool notify_inserted) {
  const auto failed = [&](std::string why) {
    core::BatchWritten out;
    out.stored.assign(deliveries.size(), core::StoreResult::failed(std::move(why)));
    return out;
  };
  if (deliveries.empty() && work.empty()) {
    core::BatchWritten out;
    out.ok = true;
    return out;
  }
  std::lock_guard lock(mutex_);
  if (!connected_locked()) return failed("database unreachable");
  for (int attempt = 1;; ++attempt) {
    try {
      return write_batch_locked(deliveries, work, durable, notify_inserted);
    } catch (const StorageError& e) {
      // The PgTransaction has rolled back: nothing of this batch is stored.
      if (attempt < kBatchAttempts && is_transient(e) && db_.ok()) {
        log::warn("batch not stored, trying again", {.detail = e.what()});
        continue;
      }
      log::error("batch not stored", {.detail = e.what()});
      return failed(short_reason(e, db_));
    } catch (const std::exception& e) {  // std::bad_alloc and the like
      log::error("batch not stored", {.detail = e.what()});
      return failed("internal error");
    }
  }
}

std::vector<core::StoreResult> PgInbox::store_batch(std::span<const core::Delivery> batch) {
  if (batch.empty()) return {};
  return write_batch_retrying(batch, {}, true, true).stored;
}

std::vector<core::StoredEvent> PgInbox::load_pending(std::int64_t after_id, std::size_t limit) {
  if (limit == 0) return {};
  std::lock_guard lock(mutex_);
  require_connection_locked();
  return read_events(
      db_.query(kLoadPending, {PgParam::integer(after_id), PgParam::integer(sql_limit(limit))}));
}

bool PgInbox::changed_elsewhere() {
  std::lock_guard lock(mutex_);
  if (!connected_locked()) return false;
  pg_conn* conn = db_.handle();
  if (conn == nullptr) return false;
  // Notifications that came with earlier results are queued in libpq already; this reads any
  // that arrived since, without blocking.
  PQconsumeInput(conn);
  bool changed = false;
  while (PGnotify* notify = PQnotifies(conn)) {
    if (notify->be_pid != backend_pid_) changed = true;
    PQfreemem(notify);
  }
  return changed;
}

// ---- reads -------------------------------------------------------------------------------------

std::optional<core::StoredEvent> PgInbox::find_event(std::int64_t id) {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  const PgResult rows = db_.query(kSelectEventById, {PgParam::integer(id)});
  if (rows.rows() == 0) return std::nullopt;
  return read_event(rows, 0);
}

std::optional<core::StoredEvent> PgInbox::find_by_key(const core::DedupKey& key) {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  const std::vector<PgParam> params = key_params(key);
  const PgResult rows = db_.query(kSelectEventByKey, params);
  if (rows.rows() == 0) return std::nullopt;
  return read_event(rows, 0);
}

std::int64_t PgInbox::count_events() {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  return db_.query(kCountEvents).integer(0, 0);
}

// ---- the worker pool's queue -------------------------------------------------------------------

std::vector<core::StoredEvent> PgInbox::claim_due(std::int64_t now_ms, std::size_t limit) {
  if (limit == 0) return {};
  std::lock_guard lock(mutex_);
  require_connection_locked();
  PgTransaction tx(db_);
  const PgResult locked =
      db_.query(kLockCandidates, {PgParam::integer(now_ms), PgParam::integer(sql_limit(limit))});
  std::vector<std::int64_t> ids;
  ids.reserve(static_cast<std::size_t>(locked.rows()));
  for (int r = 0; r < locked.rows(); ++r) ids.push_back(locked.integer(r, 0));
  std::vector<core::StoredEvent> claimed;
  if (!ids.empty()) {
    claimed = read_events(
        db_.query(kClaimLocked, {PgParam::text(id_array(ids)), PgParam::integer(now_ms)}));
  }
  tx.commit();
  std::sort(claimed.begin(), claimed.end(),
            [](const core::StoredEvent& a, const core::StoredEvent& b) { return a.id < b.id; });
  return claimed;
}

bool PgInbox::mark_done(std::int64_t id, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  const PgParam params[] = {PgParam::integer(id), PgParam::text(core::kStatusDone),
                            PgParam::integer(now_ms)};
  return update_and_notify_locked(kMarkFinished, params) == 1;
}

bool PgInbox::mark_unhandled(std::int64_t id, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  const PgParam params[] = {PgParam::integer(id), PgParam::text(core::kStatusUnhandled),
                            PgParam::integer(now_ms)};
  return update_and_notify_locked(kMarkFinished, params) == 1;
}

bool PgInbox::schedule_retry(std::int64_t id, std::int64_t next_attempt_at_ms,
                             std::string_view error, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  const PgParam params[] = {PgParam::integer(id), PgParam::integer(next_attempt_at_ms),
                            PgParam::text(error), PgParam::integer(now_ms)};
  return update_and_notify_locked(kScheduleRetry, params) == 1;
}

bool PgInbox::mark_dead(std::int64_t id, std::string_view error, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  const PgParam params[] = {PgParam::integer(id), PgParam::text(error), PgParam::integer(now_ms)};
  return update_and_notify_locked(kMarkDead, params) == 1;
}

std::size_t PgInbox::release_claims(std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  const PgParam params[] = {PgParam::integer(now_ms)};
  return static_cast<std::size_t>(update_and_notify_locked(kReleaseClaims, params));
}

std::size_t PgInbox::redrive(std::span<const std::int64_t> ids, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  if (ids.empty()) {
    const PgParam params[] = {PgParam::integer(now_ms)};
    return static_cast<std::size_t>(update_and_notify_locked(kRedriveAll, params));
  }
  const PgParam params[] = {PgParam::text(id_array(ids)), PgParam::integer(now_ms)};
  return static_cast<std::size_t>(update_and_notify_locked(kRedriveIds, params));
}

std::optional<std::int64_t> PgInbox::next_due_ms() {
  std::lock_guard lock(mutex_);
  require_connection_locked();
  const PgResult rows = db_.query(kNextDue);
  if (rows.rows() == 0 || rows.is_null(0, 0)) return std::nullopt;
  return rows.integer(0, 0);
}

}  // namespace webhook::storage
