#pragma once
// Private to storage: the rows of payments, reviews and customers read from one result row, the
// same for both backends. `Row` has column_bytes(i) ("" for NULL), column_int(i) and
// column_optional_int(i): Statement::Use (SQLite) does, and PgRow (pg_projection_queries.cpp)
// adapts a PgResult row. The column order is the queries' WEBHOOK_*_COLUMNS.

#include "webhook/storage/projection_queries.hpp"

namespace webhook::storage::projection_rows {

template <typename Row>
PaymentRow payment(const Row& q) {
  PaymentRow p;
  p.source = q.column_bytes(0);
  p.transaction_id = q.column_bytes(1);
  p.status = q.column_bytes(2);
  p.status_at_ms = q.column_optional_int(3);
  p.status_event_id = q.column_int(4);
  p.external_id = q.column_bytes(5);
  p.type = q.column_bytes(6);
  p.total_amount = q.column_bytes(7);
  p.currency = q.column_bytes(8);
  p.customer_id = q.column_bytes(9);
  p.parent_payment_id = q.column_bytes(10);
  p.related_payment_id = q.column_bytes(11);
  p.settlement_batch_id = q.column_bytes(12);
  p.documentation_status = q.column_bytes(13);
  p.settled_at = q.column_bytes(14);
  p.expired_at = q.column_bytes(15);
  p.unsettled_at = q.column_bytes(16);
  p.unsettled_reason = q.column_bytes(17);
  p.captured_at_ms = q.column_optional_int(18);
  p.first_seen_ms = q.column_int(19);
  p.last_seen_ms = q.column_int(20);
  p.latest_at_ms = q.column_optional_int(21);
  p.status_origin = q.column_bytes(22);
  return p;
}

template <typename Row>
ReviewRow review(const Row& q) {
  ReviewRow r;
  r.source = q.column_bytes(0);
  r.transaction_id = q.column_bytes(1);
  r.state = q.column_bytes(2);
  r.outcome = q.column_bytes(3);
  r.cycle = q.column_int(4);
  r.external_id = q.column_bytes(5);
  r.total_amount = q.column_bytes(6);
  r.currency = q.column_bytes(7);
  r.customer_id = q.column_bytes(8);
  r.documentation_status = q.column_bytes(9);
  r.opened_event_id = q.column_optional_int(10);
  r.opened_at_ms = q.column_optional_int(11);
  r.opened_received_ms = q.column_optional_int(12);
  r.closed_event_id = q.column_optional_int(13);
  r.closed_at_ms = q.column_optional_int(14);
  r.notify_state = q.column_bytes(15);
  r.notify_event_id = q.column_optional_int(16);
  r.notified_at_ms = q.column_optional_int(17);
  r.updated_at_ms = q.column_int(18);
  return r;
}

template <typename Row>
CustomerRow customer(const Row& q) {
  CustomerRow c;
  c.source = q.column_bytes(0);
  c.customer_id = q.column_bytes(1);
  c.client_id = q.column_bytes(2);
  c.operation_level = q.column_bytes(3);
  c.documents_count = q.column_optional_int(4);
  c.documented = q.column_int(5) != 0;
  if (const auto auto_created = q.column_optional_int(6)) c.auto_created = *auto_created != 0;
  c.state_at_ms = q.column_optional_int(7);
  c.state_event_id = q.column_int(8);
  c.first_seen_ms = q.column_int(9);
  c.last_seen_ms = q.column_int(10);
  return c;
}

}  // namespace webhook::storage::projection_rows
