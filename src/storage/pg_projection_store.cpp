// PgProjectionStore (include/webhook/storage/pg_projection_store.hpp): the SQL of
// projection_store.cpp translated to PostgreSQL, with the same decisions (core/projection.cpp)
// and the same field rule: an event that moved the state wins with its non-null values
// (coalesce(new, old)); any other event only fills gaps (coalesce(old, new)).
// Translation notes: SQLite's scalar max()/min() become GREATEST/LEAST only where both sides
// are NOT NULL or the NULL case is handled first (GREATEST ignores NULLs, SQLite's max() returns
// NULL); the existing row is named by the table's alias in ON CONFLICT DO UPDATE.

#include "webhook/storage/pg_projection_store.hpp"

#include <optional>
#include <string_view>
#include <utility>

#include "webhook/core/reconcile.hpp"

namespace webhook::storage {
namespace {

// ---- locking ----------------------------------------------------------------------------------

// One transaction-scoped advisory lock per projected entity, taken only while its row does not
// exist yet (FOR UPDATE has no row to lock then). The key names the table, so the payment, the
// review and the customer of one id are locked apart.
constexpr const char* kLockEntity = R"sql(
SELECT pg_advisory_xact_lock(hashtextextended($1, 0))
)sql";

// ---- payments ---------------------------------------------------------------------------------

constexpr const char* kSelectPayment = R"sql(
SELECT status, status_at_ms, status_event_id, latest_at_ms FROM payments
WHERE source = $1 AND transaction_id = $2
)sql";

constexpr const char* kLockPayment = R"sql(
SELECT status, status_at_ms, status_event_id, latest_at_ms FROM payments
WHERE source = $1 AND transaction_id = $2
FOR UPDATE
)sql";

constexpr const char* kInsertPaymentHistory = R"sql(
INSERT INTO payment_history (source, transaction_id, event_id, event_type, status,
                             occurred_at_ms, received_at_ms, effect, origin)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING
)sql";

// $21: true when the event's status was applied. latest_at_ms: GREATEST ignores a NULL side,
// which is what SQLite's max(coalesce(new, old), coalesce(old, new)) computes.
constexpr const char* kUpsertPayment = R"sql(
INSERT INTO payments AS p (source, transaction_id, status, status_at_ms, status_event_id,
                           external_id, type, total_amount, currency, customer_id,
                           parent_payment_id, related_payment_id, settlement_batch_id,
                           documentation_status, settled_at, expired_at, unsettled_at,
                           unsettled_reason, captured_at_ms, first_seen_ms, last_seen_ms,
                           latest_at_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
        $20, $4)
ON CONFLICT (source, transaction_id) DO UPDATE SET
  status          = CASE WHEN $21::boolean THEN excluded.status ELSE p.status END,
  status_at_ms    = CASE WHEN $21::boolean THEN excluded.status_at_ms ELSE p.status_at_ms END,
  status_event_id = CASE WHEN $21::boolean THEN excluded.status_event_id
                    ELSE p.status_event_id END,
  latest_at_ms    = CASE WHEN $21::boolean THEN GREATEST(excluded.latest_at_ms, p.latest_at_ms)
                    ELSE p.latest_at_ms END,
  external_id = CASE WHEN $21::boolean THEN coalesce(excluded.external_id, p.external_id)
                ELSE coalesce(p.external_id, excluded.external_id) END,
  type = CASE WHEN $21::boolean THEN coalesce(excluded.type, p.type)
         ELSE coalesce(p.type, excluded.type) END,
  total_amount = CASE WHEN $21::boolean THEN coalesce(excluded.total_amount, p.total_amount)
                 ELSE coalesce(p.total_amount, excluded.total_amount) END,
  currency = CASE WHEN $21::boolean THEN coalesce(excluded.currency, p.currency)
             ELSE coalesce(p.currency, excluded.currency) END,
  customer_id = CASE WHEN $21::boolean THEN coalesce(excluded.customer_id, p.customer_id)
                ELSE coalesce(p.customer_id, excluded.customer_id) END,
  parent_payment_id = CASE WHEN $21::boolean
                      THEN coalesce(excluded.parent_payment_id, p.parent_payment_id)
                      ELSE coalesce(p.parent_payment_id, excluded.parent_payment_id) END,
  related_payment_id = CASE WHEN $21::boolean
                       THEN coalesce(excluded.related_payment_id, p.related_payment_id)
                       ELSE coalesce(p.related_payment_id, excluded.related_payment_id) END,
  settlement_batch_id = CASE WHEN $21::boolean
                        THEN coalesce(excluded.settlement_batch_id, p.settlement_batch_id)
                        ELSE coalesce(p.settlement_batch_id, excluded.settlement_batch_id) END,
  documentation_status = CASE WHEN $21::boolean
                         THEN coalesce(excluded.documentation_status, p.documentation_status)
                         ELSE coalesce(p.documentation_status, excluded.documentation_status)
                         END,
  settled_at = CASE WHEN $21::boolean THEN coalesce(excluded.settled_at, p.settled_at)
               ELSE coalesce(p.settled_at, excluded.settled_at) END,
  expired_at = CASE WHEN $21::boolean THEN coalesce(excluded.expired_at, p.expired_at)
               ELSE coalesce(p.expired_at, excluded.expired_at) END,
  unsettled_at = CASE WHEN $21::boolean THEN coalesce(excluded.unsettled_at, p.unsettled_at)
                 ELSE coalesce(p.unsettled_at, excluded.unsettled_at) END,
  unsettled_reason = CASE WHEN $21::boolean
                     THEN coalesce(excluded.unsettled_reason, p.unsettled_reason)
                     ELSE coalesce(p.unsettled_reason, excluded.unsettled_reason) END,
  captured_at_ms = LEAST(p.captured_at_ms, excluded.captured_at_ms),
  first_seen_ms = LEAST(p.first_seen_ms, excluded.first_seen_ms),
  last_seen_ms = GREATEST(p.last_seen_ms, excluded.last_seen_ms)
)sql";
// captured_at_ms: SQLite spells out "the other when one is NULL, else min()"; LEAST ignoring
// NULLs is exactly that. first_seen_ms and last_seen_ms are NOT NULL on both sides.

// ---- customers --------------------------------------------------------------------------------

constexpr const char* kLockCustomer = R"sql(
SELECT state_at_ms FROM customers WHERE source = $1 AND customer_id = $2
FOR UPDATE
)sql";

constexpr const char* kInsertCustomerHistory = R"sql(
INSERT INTO customer_history (source, customer_id, event_id, event_type, operation_level,
                              documents_count, occurred_at_ms, received_at_ms, effect, origin)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
)sql";

// $11: true when the event's state was applied. `documented` is a one-way flag: any event that
// implies it sets it, a stale one too, so arrival order cannot decide it (both sides NOT NULL).
constexpr const char* kUpsertCustomer = R"sql(
INSERT INTO customers AS c (source, customer_id, client_id, operation_level, documents_count,
                            documented, auto_created, state_at_ms, state_event_id,
                            first_seen_ms, last_seen_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
ON CONFLICT (source, customer_id) DO UPDATE SET
  client_id = CASE WHEN $11::boolean THEN coalesce(excluded.client_id, c.client_id)
              ELSE coalesce(c.client_id, excluded.client_id) END,
  operation_level = CASE WHEN $11::boolean
                    THEN coalesce(excluded.operation_level, c.operation_level)
                    ELSE coalesce(c.operation_level, excluded.operation_level) END,
  documents_count = CASE WHEN $11::boolean
                    THEN coalesce(excluded.documents_count, c.documents_count)
                    ELSE coalesce(c.documents_count, excluded.documents_count) END,
  auto_created = CASE WHEN $11::boolean THEN coalesce(excluded.auto_created, c.auto_created)
                 ELSE coalesce(c.auto_created, excluded.auto_created) END,
  documented = GREATEST(c.documented, excluded.documented),
  state_at_ms = CASE WHEN $11::boolean THEN coalesce(excluded.state_at_ms, c.state_at_ms)
                ELSE c.state_at_ms END,
  state_event_id = CASE WHEN $11::boolean THEN excluded.state_event_id
                   ELSE c.state_event_id END,
  first_seen_ms = LEAST(c.first_seen_ms, excluded.first_seen_ms),
  last_seen_ms = GREATEST(c.last_seen_ms, excluded.last_seen_ms)
)sql";

// ---- reviews ----------------------------------------------------------------------------------

// opened_at_ms and closed_at_ms fall back to receipt times; the rule compares event times
// only, so those come from the history rows of the opening and closing events (NULL when the
// payload had no timestamp).
constexpr const char* kLockReview = R"sql(
SELECT r.state, r.outcome, r.cycle, r.opened_event_id, r.opened_at_ms,
       CASE WHEN EXISTS (SELECT 1 FROM review_history h
                         WHERE h.source = r.source AND h.transaction_id = r.transaction_id
                           AND h.event_id = r.closed_event_id)
            THEN (SELECT h.occurred_at_ms FROM review_history h
                  WHERE h.source = r.source AND h.transaction_id = r.transaction_id
                    AND h.event_id = r.closed_event_id)
            ELSE r.closed_at_ms END,
       r.notify_state, r.notify_event_id, r.external_id, r.total_amount, r.currency,
       r.customer_id, r.documentation_status, r.opened_received_ms,
       (SELECT h.occurred_at_ms FROM review_history h
        WHERE h.source = r.source AND h.transaction_id = r.transaction_id
          AND h.event_id = r.opened_event_id)
FROM reviews r WHERE r.source = $1 AND r.transaction_id = $2
FOR UPDATE OF r
)sql";

constexpr const char* kSelectReviewHistory = R"sql(
SELECT 1 FROM review_history WHERE source = $1 AND transaction_id = $2 AND event_id = $3
)sql";

// The review lock makes the row above the truth; ON CONFLICT is the backstop of that.
constexpr const char* kInsertReviewHistory = R"sql(
INSERT INTO review_history (source, transaction_id, event_id, event_type, action, occurred_at_ms,
                            received_at_ms, origin)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING
)sql";

// A review seen for the first time: open ($3 = 'open', opening columns set) or closed by a
// decision that arrived before its opening ($3 = 'closed', closing columns set).
constexpr const char* kInsertReview = R"sql(
INSERT INTO reviews (source, transaction_id, state, outcome, cycle, external_id, total_amount,
                     currency, customer_id, documentation_status, opened_event_id, opened_at_ms,
                     opened_received_ms, closed_event_id, closed_at_ms, notify_state,
                     notify_event_id, updated_at_ms)
VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $10, $16)
)sql";

constexpr const char* kReopenReview = R"sql(
UPDATE reviews SET state = 'open', outcome = NULL, cycle = cycle + 1,
  external_id = coalesce($3, external_id), total_amount = coalesce($4, total_amount),
  currency = coalesce($5, currency), customer_id = coalesce($6, customer_id),
  documentation_status = coalesce($7, documentation_status),
  opened_event_id = $8, opened_at_ms = $9, opened_received_ms = $10,
  closed_event_id = NULL, closed_at_ms = NULL,
  notify_state = $11, notify_event_id = $8, notified_at_ms = NULL, updated_at_ms = $12
WHERE source = $1 AND transaction_id = $2
)sql";

// A notification still owed when the review closes is no longer needed.
constexpr const char* kCloseReview = R"sql(
UPDATE reviews SET state = 'closed', outcome = $3, closed_event_id = $4, closed_at_ms = $5,
  documentation_status = coalesce($6, documentation_status),
  notify_state = CASE WHEN notify_state = 'pending' THEN 'cancelled' ELSE notify_state END,
  updated_at_ms = $7
WHERE source = $1 AND transaction_id = $2
)sql";

constexpr const char* kRefineReview = R"sql(
UPDATE reviews SET outcome = $3, documentation_status = coalesce($4, documentation_status),
  updated_at_ms = $5
WHERE source = $1 AND transaction_id = $2
)sql";

// Stale and no-op events fill gaps; a late opening ($7..$9 set) becomes the review's opening
// when it has none. SET expressions see the row as it was before the update.
constexpr const char* kFillReview = R"sql(
UPDATE reviews SET
  external_id = coalesce(external_id, $3), total_amount = coalesce(total_amount, $4),
  currency = coalesce(currency, $5), customer_id = coalesce(customer_id, $6),
  opened_event_id = coalesce(opened_event_id, $7::bigint),
  opened_at_ms = CASE WHEN opened_event_id IS NULL THEN $8::bigint ELSE opened_at_ms END,
  opened_received_ms = CASE WHEN opened_event_id IS NULL THEN $9::bigint
                       ELSE opened_received_ms END,
  updated_at_ms = $10
WHERE source = $1 AND transaction_id = $2
)sql";

constexpr const char* kMarkNotified = R"sql(
UPDATE reviews SET notify_state = 'sent', notified_at_ms = $4
WHERE source = $1 AND transaction_id = $2 AND notify_event_id = $3 AND notify_state = 'pending'
  AND state = 'open'
)sql";

// ---- helpers ----------------------------------------------------------------------------------

PgParam text(std::string_view value) { return PgParam::text(value); }
PgParam optional_text(std::string_view value) { return PgParam::optional_text(value); }
PgParam integer(std::int64_t value) { return PgParam::integer(value); }
PgParam optional_integer(std::optional<std::int64_t> value) {
  return value ? PgParam::integer(*value) : PgParam::null();
}
PgParam flag(bool value) { return PgParam::text(value ? "true" : "false"); }

std::optional<std::int64_t> optional_int(const PgResult& r, int row, int column) {
  if (r.is_null(row, column)) return std::nullopt;
  return r.integer(row, column);
}

// The event time when the payload has one, else the receipt time.
std::int64_t event_time(const core::StoredEvent& event, std::optional<std::int64_t> at_ms) {
  return at_ms.value_or(event.received_at_ms);
}

bool is_capture_status(std::string_view status) {
  return status == "CAPTURED" || status == "RECEIVED";
}

}  // namespace

PgProjectionStore::PgProjectionStore(PgConnection& db) : db_(db) {}

PgResult PgProjectionStore::lock_row(const char* select_for_update, std::string_view table,
                                     const std::string& source, const std::string& id) {
  const PgParam key[] = {text(source), text(id)};
  PgResult row = db_.query(select_for_update, key);
  if (row.rows() > 0) return row;
  // No row to lock: serialise on the entity instead, then read again (under READ COMMITTED the
  // new statement sees a row another replica committed while this one waited).
  std::string lock_key = "webhook.projection:";
  lock_key.append(table).append(1, '\x1f').append(source).append(1, '\x1f').append(id);
  db_.query(kLockEntity, {text(lock_key)});
  return db_.query(select_for_update, key);
}

std::optional<ReviewNotice> PgProjectionStore::apply(const core::StoredEvent& event,
                                                     const core::ProjectionChange& change) {
  using Kind = core::ProjectionChange::Kind;
  switch (change.kind) {
    case Kind::payment:
      apply_payment(event, change.payment);
      return std::nullopt;
    case Kind::customer:
      apply_customer(event, change.customer);
      return std::nullopt;
    case Kind::review:
      return apply_review(event, change.payment, change.notify).notification_owed;
    case Kind::review_notified:
      mark_notified(event.key.source, change.payment.transaction_id, event.id, change.at_ms);
      return std::nullopt;
  }
  return std::nullopt;
}

PaymentApplied PgProjectionStore::apply_payment(const core::StoredEvent& event,
                                                const core::PaymentFacts& f) {
  const std::string& source = event.key.source;
  std::optional<core::KnownStatus> current;
  {
    const PgResult row = lock_row(kLockPayment, "payments", source, f.transaction_id);
    if (row.rows() > 0) {
      current = core::KnownStatus{std::string(row.text(0, 0)), optional_int(row, 0, 1),
                                  optional_int(row, 0, 3)};
    }
  }
  const core::StatusEffect effect = core::decide_status(current, f.status, f.occurred_at_ms);
  const PgResult history =
      db_.query(kInsertPaymentHistory,
                {text(source), text(f.transaction_id), integer(event.id), text(event.event_type),
                 text(f.status), optional_integer(f.occurred_at_ms), integer(event.received_at_ms),
                 text(core::to_string(effect)), text(core::origin_of_scheme(event.scheme))});
  if (history.affected() == 0) return {true, effect};

  const std::optional<std::int64_t> captured_at =
      is_capture_status(f.status) ? std::optional(event_time(event, f.occurred_at_ms))
                                  : std::nullopt;
  db_.query(kUpsertPayment, {text(source),
                             text(f.transaction_id),
                             text(f.status),
                             optional_integer(f.occurred_at_ms),
                             integer(event.id),
                             optional_text(f.external_id),
                             optional_text(f.type),
                             optional_text(f.total_amount),
                             optional_text(f.currency),
                             optional_text(f.customer_id),
                             optional_text(f.parent_payment_id),
                             optional_text(f.related_payment_id),
                             optional_text(f.settlement_batch_id),
                             optional_text(f.documentation_status),
                             optional_text(f.settled_at),
                             optional_text(f.expired_at),
                             optional_text(f.unsettled_at),
                             optional_text(f.unsettled_reason),
                             optional_integer(captured_at),
                             integer(event.received_at_ms),
                             flag(effect == core::StatusEffect::applied)});
  return {false, effect};
}

CustomerApplied PgProjectionStore::apply_customer(const core::StoredEvent& event,
                                                  const core::CustomerFacts& f) {
  const std::string& source = event.key.source;
  bool known = false;
  std::optional<std::int64_t> state_at_ms;
  {
    const PgResult row = lock_row(kLockCustomer, "customers", source, f.customer_id);
    if (row.rows() > 0) {
      known = true;
      state_at_ms = optional_int(row, 0, 0);
    }
  }
  const core::CustomerEffect effect = core::decide_customer(known, state_at_ms, f.occurred_at_ms);
  const PgResult history =
      db_.query(kInsertCustomerHistory,
                {text(source), text(f.customer_id), integer(event.id), text(event.event_type),
                 optional_text(f.operation_level), optional_integer(f.documents_count),
                 optional_integer(f.occurred_at_ms), integer(event.received_at_ms),
                 text(core::to_string(effect)), text(core::origin_of_scheme(event.scheme))});
  if (history.affected() == 0) return {true, effect};

  const std::optional<std::int64_t> auto_created =
      f.auto_created ? std::optional<std::int64_t>(*f.auto_created ? 1 : 0) : std::nullopt;
  db_.query(kUpsertCustomer,
            {text(source), text(f.customer_id), optional_text(f.client_id),
             optional_text(f.operation_level), optional_integer(f.documents_count),
             // Once set, documented stays set (GREATEST), whichever event implied it.
             integer(core::implies_documented(f) ? 1 : 0), optional_integer(auto_created),
             optional_integer(f.occurred_at_ms), integer(event.id), integer(event.received_at_ms),
             flag(effect == core::CustomerEffect::applied)});
  return {false, effect};
}

ReviewApplied PgProjectionStore::apply_review(const core::StoredEvent& event,
                                              const core::PaymentFacts& f, bool notify) {
  const core::ReviewSignal signal = core::review_signal(event.event_type, f.status);
  if (signal == core::ReviewSignal::none) return {};  // nothing to record, nothing to repeat

  const std::string& source = event.key.source;
  const std::string& id = f.transaction_id;

  // The current review, locked, as the rule and the notification see it. Unlike the SQLite
  // store, a terminal status takes the lock before it finds there is no review: an opening may
  // be committing on another replica.
  std::optional<core::ReviewState> current;
  ReviewNotice notice;
  std::string notify_state;
  std::optional<std::int64_t> notify_event_id;
  {
    const PgResult row = lock_row(kLockReview, "reviews", source, id);
    if (row.rows() > 0) {
      core::ReviewState s;
      s.open = row.text(0, 0) == "open";
      s.outcome = std::string(row.text(0, 1));
      s.has_opening = !row.is_null(0, 3);
      s.opened_at_ms = optional_int(row, 0, 14);  // event times (see kLockReview)
      s.closed_at_ms = optional_int(row, 0, 5);
      current = s;
      notice.cycle = row.integer(0, 2);
      notice.opened_at_ms = optional_int(row, 0, 4).value_or(0);
      notify_state = std::string(row.text(0, 6));
      notify_event_id = optional_int(row, 0, 7);
      notice.external_id = std::string(row.text(0, 8));
      notice.total_amount = std::string(row.text(0, 9));
      notice.currency = std::string(row.text(0, 10));
      notice.customer_id = std::string(row.text(0, 11));
      notice.documentation_status = std::string(row.text(0, 12));
      notice.opened_received_ms = optional_int(row, 0, 13).value_or(0);
    }
  }
  // A terminal status of a transaction that never had a review changes nothing.
  if (!current && signal == core::ReviewSignal::terminal) return {};
  notice.source = source;
  notice.transaction_id = id;

  const bool seen =
      db_.query(kSelectReviewHistory, {text(source), text(id), integer(event.id)}).rows() > 0;
  if (seen) {
    // Applied before; the notification this event owes may still be outstanding (and is owed
    // only while there is a notify target to send it to).
    ReviewApplied result{true, core::ReviewAction::none, std::nullopt};
    if (notify && current && current->open && notify_state == "pending" &&
        notify_event_id == event.id) {
      result.notification_owed = notice;
    }
    return result;
  }

  // An opening of a transaction without a review: the payment's projected status tells whether
  // it already left review (payments runs before reviews on the default route).
  std::optional<core::KnownStatus> payment;
  std::int64_t payment_event_id = 0;
  if (!current && signal == core::ReviewSignal::opens) {
    const PgResult row = db_.query(kSelectPayment, {text(source), text(id)});
    if (row.rows() > 0) {
      payment = core::KnownStatus{std::string(row.text(0, 0)), optional_int(row, 0, 1)};
      payment_event_id = row.integer(0, 2);
    }
  }
  const core::ReviewDecision decision = core::decide_review(
      current, signal, f.status, f.documentation_status, f.occurred_at_ms, payment);
  // A terminal status of a transaction that never had a review: nothing to record.
  if (!current && decision.action == core::ReviewAction::none) return {};
  const PgResult history =
      db_.query(kInsertReviewHistory,
                {text(source), text(id), integer(event.id), text(event.event_type),
                 text(core::to_string(decision.action)), optional_integer(f.occurred_at_ms),
                 integer(event.received_at_ms), text(core::origin_of_scheme(event.scheme))});
  if (history.affected() == 0) return {true, core::ReviewAction::none, std::nullopt};

  const std::int64_t at = event_time(event, f.occurred_at_ms);
  const std::int64_t now = event.received_at_ms;  // updated_at: the receipt that caused it
  ReviewApplied result{false, decision.action, std::nullopt};
  // Stale and no-op events fill what the review still lacks (a late opening: its opening).
  auto fill_gaps = [&] {
    const bool opening = signal == core::ReviewSignal::opens;
    db_.query(
        kFillReview,
        {text(source), text(id), optional_text(f.external_id), optional_text(f.total_amount),
         optional_text(f.currency), optional_text(f.customer_id),
         opening ? integer(event.id) : PgParam::null(), opening ? integer(at) : PgParam::null(),
         opening ? integer(event.received_at_ms) : PgParam::null(), integer(now)});
  };
  switch (decision.action) {
    case core::ReviewAction::open:
    case core::ReviewAction::close:
    case core::ReviewAction::stale:
      if (!current) {
        const bool open = decision.action == core::ReviewAction::open;
        // stale without a review: this opening arrived after the payment's terminal status.
        const bool late_opening = decision.action == core::ReviewAction::stale;
        const bool has_opening = open || late_opening;
        PgParam closed_event_id = PgParam::null();
        PgParam closed_at = PgParam::null();
        if (late_opening) {
          closed_event_id = integer(payment_event_id);
          closed_at = optional_integer(payment ? payment->at_ms : std::nullopt);
        } else if (!open) {
          closed_event_id = integer(event.id);
          closed_at = integer(at);
        }
        db_.query(kInsertReview,
                  {text(source), text(id), text(open ? "open" : "closed"),
                   optional_text(decision.outcome), optional_text(f.external_id),
                   optional_text(f.total_amount), optional_text(f.currency),
                   optional_text(f.customer_id), optional_text(f.documentation_status),
                   has_opening ? integer(event.id) : PgParam::null(),
                   has_opening ? integer(at) : PgParam::null(),
                   has_opening ? integer(event.received_at_ms) : PgParam::null(), closed_event_id,
                   closed_at, open ? text(notify ? "pending" : "skipped") : PgParam::null(),
                   integer(now)});
        break;
      }
      if (decision.action == core::ReviewAction::stale) {
        fill_gaps();
      } else if (decision.action == core::ReviewAction::close) {
        db_.query(kCloseReview, {text(source), text(id), text(decision.outcome), integer(event.id),
                                 integer(at), optional_text(f.documentation_status), integer(now)});
      }
      break;
    case core::ReviewAction::reopen:
      db_.query(kReopenReview, {text(source), text(id), optional_text(f.external_id),
                                optional_text(f.total_amount), optional_text(f.currency),
                                optional_text(f.customer_id), optional_text(f.documentation_status),
                                integer(event.id), integer(at), integer(event.received_at_ms),
                                text(notify ? "pending" : "skipped"), integer(now)});
      break;
    case core::ReviewAction::refine:
      db_.query(kRefineReview, {text(source), text(id), text(decision.outcome),
                                optional_text(f.documentation_status), integer(now)});
      break;
    case core::ReviewAction::none:
      if (current) fill_gaps();
      break;
  }

  const bool opened =
      decision.action == core::ReviewAction::open || decision.action == core::ReviewAction::reopen;
  if (opened && notify) {
    notice.external_id = f.external_id.empty() ? notice.external_id : f.external_id;
    notice.total_amount = f.total_amount.empty() ? notice.total_amount : f.total_amount;
    notice.currency = f.currency.empty() ? notice.currency : f.currency;
    notice.customer_id = f.customer_id.empty() ? notice.customer_id : f.customer_id;
    notice.documentation_status =
        f.documentation_status.empty() ? notice.documentation_status : f.documentation_status;
    notice.cycle = decision.action == core::ReviewAction::open ? 1 : notice.cycle + 1;
    notice.opened_at_ms = at;
    notice.opened_received_ms = event.received_at_ms;
    result.notification_owed = notice;
  }
  return result;
}

bool PgProjectionStore::mark_notified(const std::string& source, const std::string& transaction_id,
                                      std::int64_t event_id, std::int64_t now_ms) {
  return db_.query(kMarkNotified,
                   {text(source), text(transaction_id), integer(event_id), integer(now_ms)})
             .affected() == 1;
}

}  // namespace webhook::storage
