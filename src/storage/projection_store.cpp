// ProjectionStore (include/webhook/storage/projection_store.hpp). The rules are in
// core/projection.cpp; this file only reads the current row, records the history row (which
// makes a repeated event a no-op) and writes what the rule decided.
// Field updates follow one rule: an event that moved the state wins with its non-null values
// (coalesce(new, old)); any other event only fills gaps (coalesce(old, new)).

#include "webhook/storage/projection_store.hpp"

#include <optional>
#include <utility>

#include "webhook/core/reconcile.hpp"
#include "webhook/storage/statement.hpp"

namespace webhook::storage {
namespace {

// ---- payments ---------------------------------------------------------------------------------

constexpr const char* kSelectPayment = R"sql(
SELECT status, status_at_ms, status_event_id, latest_at_ms FROM payments
WHERE source = ?1 AND transaction_id = ?2
)sql";

constexpr const char* kInsertPaymentHistory = R"sql(
INSERT INTO payment_history (source, transaction_id, event_id, event_type, status,
                             occurred_at_ms, received_at_ms, effect, origin)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT DO NOTHING
)sql";

// ?21: 1 when the event's status was applied.
constexpr const char* kUpsertPayment = R"sql(
INSERT INTO payments (source, transaction_id, status, status_at_ms, status_event_id, external_id,
                      type, total_amount, currency, customer_id, parent_payment_id,
                      related_payment_id, settlement_batch_id, documentation_status, settled_at,
                      expired_at, unsettled_at, unsettled_reason, captured_at_ms, first_seen_ms,
                      last_seen_ms, latest_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
        ?20, ?4)
ON CONFLICT (source, transaction_id) DO UPDATE SET
  status          = CASE WHEN ?21 THEN excluded.status ELSE status END,
  status_at_ms    = CASE WHEN ?21 THEN excluded.status_at_ms ELSE status_at_ms END,
  status_event_id = CASE WHEN ?21 THEN excluded.status_event_id ELSE status_event_id END,
  latest_at_ms    = CASE WHEN ?21 THEN max(coalesce(excluded.latest_at_ms, latest_at_ms),
                                           coalesce(latest_at_ms, excluded.latest_at_ms))
                    ELSE latest_at_ms END,
  external_id = CASE WHEN ?21 THEN coalesce(excluded.external_id, external_id)
                ELSE coalesce(external_id, excluded.external_id) END,
  type = CASE WHEN ?21 THEN coalesce(excluded.type, type) ELSE coalesce(type, excluded.type) END,
  total_amount = CASE WHEN ?21 THEN coalesce(excluded.total_amount, total_amount)
                 ELSE coalesce(total_amount, excluded.total_amount) END,
  currency = CASE WHEN ?21 THEN coalesce(excluded.currency, currency)
             ELSE coalesce(currency, excluded.currency) END,
  customer_id = CASE WHEN ?21 THEN coalesce(excluded.customer_id, customer_id)
                ELSE coalesce(customer_id, excluded.customer_id) END,
  parent_payment_id = CASE WHEN ?21 THEN coalesce(excluded.parent_payment_id, parent_payment_id)
                      ELSE coalesce(parent_payment_id, excluded.parent_payment_id) END,
  related_payment_id = CASE WHEN ?21 THEN coalesce(excluded.related_payment_id, related_payment_id)
                       ELSE coalesce(related_payment_id, excluded.related_payment_id) END,
  settlement_batch_id = CASE WHEN ?21
                        THEN coalesce(excluded.settlement_batch_id, settlement_batch_id)
                        ELSE coalesce(settlement_batch_id, excluded.settlement_batch_id) END,
  documentation_status = CASE WHEN ?21
                         THEN coalesce(excluded.documentation_status, documentation_status)
                         ELSE coalesce(documentation_status, excluded.documentation_status) END,
  settled_at = CASE WHEN ?21 THEN coalesce(excluded.settled_at, settled_at)
               ELSE coalesce(settled_at, excluded.settled_at) END,
  expired_at = CASE WHEN ?21 THEN coalesce(excluded.expired_at, expired_at)
               ELSE coalesce(expired_at, excluded.expired_at) END,
  unsettled_at = CASE WHEN ?21 THEN coalesce(excluded.unsettled_at, unsettled_at)
                 ELSE coalesce(unsettled_at, excluded.unsettled_at) END,
  unsettled_reason = CASE WHEN ?21 THEN coalesce(excluded.unsettled_reason, unsettled_reason)
                     ELSE coalesce(unsettled_reason, excluded.unsettled_reason) END,
  captured_at_ms = CASE WHEN excluded.captured_at_ms IS NULL THEN captured_at_ms
                        WHEN captured_at_ms IS NULL THEN excluded.captured_at_ms
                        ELSE min(captured_at_ms, excluded.captured_at_ms) END,
  first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
  last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)
)sql";

// ---- customers --------------------------------------------------------------------------------

constexpr const char* kSelectCustomer = R"sql(
SELECT state_at_ms FROM customers WHERE source = ?1 AND customer_id = ?2
)sql";

constexpr const char* kInsertCustomerHistory = R"sql(
INSERT INTO customer_history (source, customer_id, event_id, event_type, operation_level,
                              documents_count, occurred_at_ms, received_at_ms, effect, origin)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT DO NOTHING
)sql";

// ?11: 1 when the event's state was applied. `documented` is a one-way flag: any event that
// implies it sets it, a stale one too, so arrival order cannot decide it.
constexpr const char* kUpsertCustomer = R"sql(
INSERT INTO customers (source, customer_id, client_id, operation_level, documents_count,
                       documented, auto_created, state_at_ms, state_event_id, first_seen_ms,
                       last_seen_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
ON CONFLICT (source, customer_id) DO UPDATE SET
  client_id = CASE WHEN ?11 THEN coalesce(excluded.client_id, client_id)
              ELSE coalesce(client_id, excluded.client_id) END,
  operation_level = CASE WHEN ?11 THEN coalesce(excluded.operation_level, operation_level)
                    ELSE coalesce(operation_level, excluded.operation_level) END,
  documents_count = CASE WHEN ?11 THEN coalesce(excluded.documents_count, documents_count)
                    ELSE coalesce(documents_count, excluded.documents_count) END,
  auto_created = CASE WHEN ?11 THEN coalesce(excluded.auto_created, auto_created)
                 ELSE coalesce(auto_created, excluded.auto_created) END,
  documented = max(documented, excluded.documented),
  state_at_ms = CASE WHEN ?11 THEN coalesce(excluded.state_at_ms, state_at_ms)
                ELSE state_at_ms END,
  state_event_id = CASE WHEN ?11 THEN excluded.state_event_id ELSE state_event_id END,
  first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
  last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)
)sql";

// ---- reviews ----------------------------------------------------------------------------------

// opened_at_ms and closed_at_ms fall back to receipt times; the rule compares event times
// only, so those come from the history rows of the opening and closing events (NULL when the
// payload had no timestamp). A review recorded closed when its late opening arrived was closed
// by the payment's terminal event, which has no review history row: its closed_at_ms is that
// event's time (or NULL) already.
constexpr const char* kSelectReview = R"sql(
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
FROM reviews r WHERE r.source = ?1 AND r.transaction_id = ?2
)sql";

constexpr const char* kReviewExists = R"sql(
SELECT 1 FROM reviews WHERE source = ?1 AND transaction_id = ?2
)sql";

constexpr const char* kSelectReviewHistory = R"sql(
SELECT 1 FROM review_history WHERE source = ?1 AND transaction_id = ?2 AND event_id = ?3
)sql";

constexpr const char* kInsertReviewHistory = R"sql(
INSERT INTO review_history (source, transaction_id, event_id, event_type, action, occurred_at_ms,
                            received_at_ms, origin)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
)sql";

// A review seen for the first time: open (?3 = 'open', opening columns set) or closed by a
// decision that arrived before its opening (?3 = 'closed', closing columns set).
constexpr const char* kInsertReview = R"sql(
INSERT INTO reviews (source, transaction_id, state, outcome, cycle, external_id, total_amount,
                     currency, customer_id, documentation_status, opened_event_id, opened_at_ms,
                     opened_received_ms, closed_event_id, closed_at_ms, notify_state,
                     notify_event_id, updated_at_ms)
VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?10, ?16)
)sql";

constexpr const char* kReopenReview = R"sql(
UPDATE reviews SET state = 'open', outcome = NULL, cycle = cycle + 1,
  external_id = coalesce(?3, external_id), total_amount = coalesce(?4, total_amount),
  currency = coalesce(?5, currency), customer_id = coalesce(?6, customer_id),
  documentation_status = coalesce(?7, documentation_status),
  opened_event_id = ?8, opened_at_ms = ?9, opened_received_ms = ?10,
  closed_event_id = NULL, closed_at_ms = NULL,
  notify_state = ?11, notify_event_id = ?8, notified_at_ms = NULL, updated_at_ms = ?12
WHERE source = ?1 AND transaction_id = ?2
)sql";

// A notification still owed when the review closes is no longer needed.
constexpr const char* kCloseReview = R"sql(
UPDATE reviews SET state = 'closed', outcome = ?3, closed_event_id = ?4, closed_at_ms = ?5,
  documentation_status = coalesce(?6, documentation_status),
  notify_state = CASE WHEN notify_state = 'pending' THEN 'cancelled' ELSE notify_state END,
  updated_at_ms = ?7
WHERE source = ?1 AND transaction_id = ?2
)sql";

constexpr const char* kRefineReview = R"sql(
UPDATE reviews SET outcome = ?3, documentation_status = coalesce(?4, documentation_status),
  updated_at_ms = ?5
WHERE source = ?1 AND transaction_id = ?2
)sql";

// Stale and no-op events fill gaps; a late opening (?7..?9 set) becomes the review's opening
// when it has none. SET expressions see the row as it was before the update.
constexpr const char* kFillReview = R"sql(
UPDATE reviews SET
  external_id = coalesce(external_id, ?3), total_amount = coalesce(total_amount, ?4),
  currency = coalesce(currency, ?5), customer_id = coalesce(customer_id, ?6),
  opened_event_id = coalesce(opened_event_id, ?7),
  opened_at_ms = CASE WHEN opened_event_id IS NULL THEN ?8 ELSE opened_at_ms END,
  opened_received_ms = CASE WHEN opened_event_id IS NULL THEN ?9 ELSE opened_received_ms END,
  updated_at_ms = ?10
WHERE source = ?1 AND transaction_id = ?2
)sql";

constexpr const char* kMarkNotified = R"sql(
UPDATE reviews SET notify_state = 'sent', notified_at_ms = ?4
WHERE source = ?1 AND transaction_id = ?2 AND notify_event_id = ?3 AND notify_state = 'pending'
  AND state = 'open'
)sql";

// The event time when the payload has one, else the receipt time.
std::int64_t event_time(const core::StoredEvent& event, std::optional<std::int64_t> at_ms) {
  return at_ms.value_or(event.received_at_ms);
}

bool is_capture_status(std::string_view status) {
  return status == "CAPTURED" || status == "RECEIVED";
}

}  // namespace

struct ProjectionStore::Statements {
  explicit Statements(Database& db)
      : select_payment(db, kSelectPayment),
        insert_payment_history(db, kInsertPaymentHistory),
        upsert_payment(db, kUpsertPayment),
        select_customer(db, kSelectCustomer),
        insert_customer_history(db, kInsertCustomerHistory),
        upsert_customer(db, kUpsertCustomer),
        select_review(db, kSelectReview),
        select_review_history(db, kSelectReviewHistory),
        review_exists(db, kReviewExists),
        insert_review_history(db, kInsertReviewHistory),
        insert_review(db, kInsertReview),
        reopen_review(db, kReopenReview),
        close_review(db, kCloseReview),
        refine_review(db, kRefineReview),
        fill_review(db, kFillReview),
        mark_notified(db, kMarkNotified) {}

  Statement select_payment, insert_payment_history, upsert_payment;
  Statement select_customer, insert_customer_history, upsert_customer;
  Statement select_review, select_review_history, review_exists, insert_review_history,
      insert_review, reopen_review, close_review, refine_review, fill_review, mark_notified;
};

ProjectionStore::ProjectionStore(Database db)
    : owned_(std::move(db)), db_(*owned_), stmts_(std::make_unique<Statements>(db_)) {}

ProjectionStore::ProjectionStore(Database& db, InCallerTransaction)
    : db_(db), stmts_(std::make_unique<Statements>(db_)) {}

std::optional<ReviewNotice> ProjectionStore::apply(const core::StoredEvent& event,
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

ProjectionStore::~ProjectionStore() = default;

PaymentApplied ProjectionStore::apply_payment(const core::StoredEvent& event,
                                              const core::PaymentFacts& f) {
  std::lock_guard lock(mutex_);
  std::optional<Transaction> tx;  // none in writer mode: the caller's transaction
  if (owned_) tx.emplace(db_);
  std::optional<core::KnownStatus> current;
  {
    Statement::Use select(stmts_->select_payment);
    select.text(1, event.key.source);
    select.text(2, f.transaction_id);
    if (select.step())
      current = core::KnownStatus{select.column_bytes(0), select.column_optional_int(1),
                                  select.column_optional_int(3)};
  }
  const core::StatusEffect effect = core::decide_status(current, f.status, f.occurred_at_ms);
  {
    Statement::Use insert(stmts_->insert_payment_history);
    insert.text(1, event.key.source);
    insert.text(2, f.transaction_id);
    insert.integer(3, event.id);
    insert.text(4, event.event_type);
    insert.text(5, f.status);
    insert.optional_integer(6, f.occurred_at_ms);
    insert.integer(7, event.received_at_ms);
    insert.text(8, core::to_string(effect));
    insert.text(9, core::origin_of_scheme(event.scheme));
    insert.step();
    if (stmts_->insert_payment_history.changes() == 0) return {true, effect};
  }
  {
    Statement::Use upsert(stmts_->upsert_payment);
    upsert.text(1, event.key.source);
    upsert.text(2, f.transaction_id);
    upsert.text(3, f.status);
    upsert.optional_integer(4, f.occurred_at_ms);
    upsert.integer(5, event.id);
    upsert.optional_text(6, f.external_id);
    upsert.optional_text(7, f.type);
    upsert.optional_text(8, f.total_amount);
    upsert.optional_text(9, f.currency);
    upsert.optional_text(10, f.customer_id);
    upsert.optional_text(11, f.parent_payment_id);
    upsert.optional_text(12, f.related_payment_id);
    upsert.optional_text(13, f.settlement_batch_id);
    upsert.optional_text(14, f.documentation_status);
    upsert.optional_text(15, f.settled_at);
    upsert.optional_text(16, f.expired_at);
    upsert.optional_text(17, f.unsettled_at);
    upsert.optional_text(18, f.unsettled_reason);
    if (is_capture_status(f.status)) {
      upsert.integer(19, event_time(event, f.occurred_at_ms));
    } else {
      upsert.null(19);
    }
    upsert.integer(20, event.received_at_ms);
    upsert.integer(21, effect == core::StatusEffect::applied ? 1 : 0);
    upsert.step();
  }
  if (tx) tx->commit();
  return {false, effect};
}

CustomerApplied ProjectionStore::apply_customer(const core::StoredEvent& event,
                                                const core::CustomerFacts& f) {
  std::lock_guard lock(mutex_);
  std::optional<Transaction> tx;  // none in writer mode: the caller's transaction
  if (owned_) tx.emplace(db_);
  bool known = false;
  std::optional<std::int64_t> state_at_ms;
  {
    Statement::Use select(stmts_->select_customer);
    select.text(1, event.key.source);
    select.text(2, f.customer_id);
    if (select.step()) {
      known = true;
      state_at_ms = select.column_optional_int(0);
    }
  }
  const core::CustomerEffect effect = core::decide_customer(known, state_at_ms, f.occurred_at_ms);
  {
    Statement::Use insert(stmts_->insert_customer_history);
    insert.text(1, event.key.source);
    insert.text(2, f.customer_id);
    insert.integer(3, event.id);
    insert.text(4, event.event_type);
    insert.optional_text(5, f.operation_level);
    insert.optional_integer(6, f.documents_count);
    insert.optional_integer(7, f.occurred_at_ms);
    insert.integer(8, event.received_at_ms);
    insert.text(9, core::to_string(effect));
    insert.text(10, core::origin_of_scheme(event.scheme));
    insert.step();
    if (stmts_->insert_customer_history.changes() == 0) return {true, effect};
  }
  {
    Statement::Use upsert(stmts_->upsert_customer);
    upsert.text(1, event.key.source);
    upsert.text(2, f.customer_id);
    upsert.optional_text(3, f.client_id);
    upsert.optional_text(4, f.operation_level);
    upsert.optional_integer(5, f.documents_count);
    // Once set, documented stays set (max()), whichever event implied it.
    upsert.integer(6, core::implies_documented(f) ? 1 : 0);
    if (f.auto_created) {
      upsert.integer(7, *f.auto_created ? 1 : 0);
    } else {
      upsert.null(7);
    }
    upsert.optional_integer(8, f.occurred_at_ms);
    upsert.integer(9, event.id);
    upsert.integer(10, event.received_at_ms);
    upsert.integer(11, effect == core::CustomerEffect::applied ? 1 : 0);
    upsert.step();
  }
  if (tx) tx->commit();
  return {false, effect};
}

ReviewApplied ProjectionStore::apply_review(const core::StoredEvent& event,
                                            const core::PaymentFacts& f, bool notify) {
  const core::ReviewSignal signal = core::review_signal(event.event_type, f.status);
  if (signal == core::ReviewSignal::none) return {};  // nothing to record, nothing to repeat

  std::lock_guard lock(mutex_);
  const std::string& source = event.key.source;
  const std::string& id = f.transaction_id;
  if (signal == core::ReviewSignal::terminal) {
    // Most events of a payment's life end here: a terminal status of a transaction that never
    // had a review changes nothing, so it is answered without taking the write lock. (Events of
    // one transaction never run concurrently, and this connection is the only writer of reviews.)
    Statement::Use exists(stmts_->review_exists);
    exists.text(1, source);
    exists.text(2, id);
    if (!exists.step()) return {};
  }
  std::optional<Transaction> tx;  // none in writer mode: the caller's transaction
  if (owned_) tx.emplace(db_);

  // The current review, as the rule and the notification see it.
  std::optional<core::ReviewState> current;
  ReviewNotice notice;
  std::string notify_state;
  std::optional<std::int64_t> notify_event_id;
  {
    Statement::Use select(stmts_->select_review);
    select.text(1, source);
    select.text(2, id);
    if (select.step()) {
      core::ReviewState s;
      s.open = select.column_bytes(0) == "open";
      s.outcome = select.column_bytes(1);
      s.has_opening = !select.column_null(3);
      s.opened_at_ms = select.column_optional_int(14);  // event times (see kSelectReview)
      s.closed_at_ms = select.column_optional_int(5);
      current = s;
      notice.cycle = select.column_int(2);
      notice.opened_at_ms = select.column_optional_int(4).value_or(0);
      notify_state = select.column_bytes(6);
      notify_event_id = select.column_optional_int(7);
      notice.external_id = select.column_bytes(8);
      notice.total_amount = select.column_bytes(9);
      notice.currency = select.column_bytes(10);
      notice.customer_id = select.column_bytes(11);
      notice.documentation_status = select.column_bytes(12);
      notice.opened_received_ms = select.column_int(13);
    }
  }
  notice.source = source;
  notice.transaction_id = id;

  bool seen = false;
  {
    Statement::Use select(stmts_->select_review_history);
    select.text(1, source);
    select.text(2, id);
    select.integer(3, event.id);
    seen = select.step();
  }
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
    Statement::Use select(stmts_->select_payment);
    select.text(1, source);
    select.text(2, id);
    if (select.step()) {
      payment = core::KnownStatus{select.column_bytes(0), select.column_optional_int(1)};
      payment_event_id = select.column_int(2);
    }
  }
  const core::ReviewDecision decision = core::decide_review(
      current, signal, f.status, f.documentation_status, f.occurred_at_ms, payment);
  // A terminal status of a transaction that never had a review: nothing to record.
  if (!current && decision.action == core::ReviewAction::none) return {};
  {
    Statement::Use insert(stmts_->insert_review_history);
    insert.text(1, source);
    insert.text(2, id);
    insert.integer(3, event.id);
    insert.text(4, event.event_type);
    insert.text(5, core::to_string(decision.action));
    insert.optional_integer(6, f.occurred_at_ms);
    insert.integer(7, event.received_at_ms);
    insert.text(8, core::origin_of_scheme(event.scheme));
    insert.step();
  }

  const std::int64_t at = event_time(event, f.occurred_at_ms);
  const std::int64_t now = event.received_at_ms;  // updated_at: the receipt that caused it
  ReviewApplied result{false, decision.action, std::nullopt};
  // Stale and no-op events fill what the review still lacks (a late opening: its opening).
  auto fill_gaps = [&] {
    const bool opening = signal == core::ReviewSignal::opens;
    Statement::Use fill(stmts_->fill_review);
    fill.text(1, source);
    fill.text(2, id);
    fill.optional_text(3, f.external_id);
    fill.optional_text(4, f.total_amount);
    fill.optional_text(5, f.currency);
    fill.optional_text(6, f.customer_id);
    if (opening) {
      fill.integer(7, event.id);
      fill.integer(8, at);
      fill.integer(9, event.received_at_ms);
    } else {
      fill.null(7);
      fill.null(8);
      fill.null(9);
    }
    fill.integer(10, now);
    fill.step();
  };
  switch (decision.action) {
    case core::ReviewAction::open:
    case core::ReviewAction::close:
    case core::ReviewAction::stale:
      if (!current) {
        const bool open = decision.action == core::ReviewAction::open;
        // stale without a review: this opening arrived after the payment's terminal status.
        const bool late_opening = decision.action == core::ReviewAction::stale;
        Statement::Use insert(stmts_->insert_review);
        insert.text(1, source);
        insert.text(2, id);
        insert.text(3, open ? "open" : "closed");
        insert.optional_text(4, decision.outcome);
        insert.optional_text(5, f.external_id);
        insert.optional_text(6, f.total_amount);
        insert.optional_text(7, f.currency);
        insert.optional_text(8, f.customer_id);
        insert.optional_text(9, f.documentation_status);
        if (open) {
          insert.integer(10, event.id);
          insert.integer(11, at);
          insert.integer(12, event.received_at_ms);
          insert.null(13);
          insert.null(14);
          insert.text(15, notify ? "pending" : "skipped");
        } else if (late_opening) {
          insert.integer(10, event.id);
          insert.integer(11, at);
          insert.integer(12, event.received_at_ms);
          insert.integer(13, payment_event_id);
          insert.optional_integer(14, payment ? payment->at_ms : std::nullopt);
          insert.null(15);
        } else {
          insert.null(10);
          insert.null(11);
          insert.null(12);
          insert.integer(13, event.id);
          insert.integer(14, at);
          insert.null(15);
        }
        insert.integer(16, now);
        insert.step();
        break;
      }
      if (decision.action == core::ReviewAction::stale) {
        fill_gaps();
      } else if (decision.action == core::ReviewAction::close) {
        Statement::Use close(stmts_->close_review);
        close.text(1, source);
        close.text(2, id);
        close.text(3, decision.outcome);
        close.integer(4, event.id);
        close.integer(5, at);
        close.optional_text(6, f.documentation_status);
        close.integer(7, now);
        close.step();
      }
      break;
    case core::ReviewAction::reopen: {
      Statement::Use reopen(stmts_->reopen_review);
      reopen.text(1, source);
      reopen.text(2, id);
      reopen.optional_text(3, f.external_id);
      reopen.optional_text(4, f.total_amount);
      reopen.optional_text(5, f.currency);
      reopen.optional_text(6, f.customer_id);
      reopen.optional_text(7, f.documentation_status);
      reopen.integer(8, event.id);
      reopen.integer(9, at);
      reopen.integer(10, event.received_at_ms);
      reopen.text(11, notify ? "pending" : "skipped");
      reopen.integer(12, now);
      reopen.step();
      break;
    }
    case core::ReviewAction::refine: {
      Statement::Use refine(stmts_->refine_review);
      refine.text(1, source);
      refine.text(2, id);
      refine.text(3, decision.outcome);
      refine.optional_text(4, f.documentation_status);
      refine.integer(5, now);
      refine.step();
      break;
    }
    case core::ReviewAction::none:
      if (current) fill_gaps();
      break;
  }
  if (tx) tx->commit();

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

bool ProjectionStore::mark_notified(const std::string& source, const std::string& transaction_id,
                                    std::int64_t event_id, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Statement::Use update(stmts_->mark_notified);
  update.text(1, source);
  update.text(2, transaction_id);
  update.integer(3, event_id);
  update.integer(4, now_ms);
  update.step();
  return stmts_->mark_notified.changes() == 1;
}

}  // namespace webhook::storage
