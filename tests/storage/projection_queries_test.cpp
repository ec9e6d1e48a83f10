// Tests include/webhook/storage/projection_queries.hpp on a real database file filled through
// the real write path (SqliteInbox::store_batch, ProjectionStore, core::*_facts), with the
// sample payloads of tests/fixtures/conomy where they fit.
#include "webhook/storage/projection_queries.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "support/projection_fixture.hpp"

using namespace webhook;
using storage::ProjectionQueries;
using storage::ReviewFilter;
using testing::conomy_example;
using testing::customer_body;
using testing::ProjectionFixture;
using testing::tx_body;

namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kHour = 3600 * kSecond;

// Event times of the sample payloads (their "timestamp").
constexpr std::int64_t kCaptured601 = 1777727111000;  // 04: 2026-05-02T13:05:11Z
constexpr std::int64_t kSettled601 = 1777740000000;   // 05: 2026-05-02T16:40:00Z
constexpr std::int64_t kRefund699 = 1777885241000;    // 09: 2026-05-04T09:00:41Z
constexpr std::int64_t kMay3 = 1777766400000;         // 2026-05-03T00:00:00Z

const std::string kParent = "66a2b3c4d5e6f70812345601";
const std::string kRefund = "66a2b3c4d5e6f70812345699";

std::vector<std::string> ids(const std::vector<storage::ReviewRow>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.source + "/" + r.transaction_id);
  return out;
}

// 04 and 05 (the parent, captured then settled) and 09 (its refund child) from production.
void parent_and_refund(ProjectionFixture& f) {
  f.deliver("production", conomy_example("04-status-changed-captured.json"), kCaptured601 + 1000);
  f.deliver("production", conomy_example("05-status-changed-settled.json"), kSettled601 + 1000);
  f.deliver("production", conomy_example("09-payment-refund-created.json"), kRefund699 + 1000);
}

}  // namespace

TEST_CASE("a payment view links a refund parent to its children and a child to its parent",
          "[projection_queries]") {
  ProjectionFixture f;
  parent_and_refund(f);
  ProjectionQueries q(f.store.database());

  const auto parent = q.payment(kParent, std::nullopt);
  REQUIRE(parent.size() == 1);
  const auto& p = parent[0];
  CHECK(p.payment.source == "production");
  CHECK(p.payment.status == "SETTLED");
  CHECK(p.payment.status_at_ms == kSettled601);
  CHECK(p.payment.total_amount == "48000.00");
  CHECK(p.payment.currency == "ARS");
  CHECK(p.payment.external_id == "inv-7781");
  CHECK(p.payment.settlement_batch_id == "settlement-ARS-1777740000");
  CHECK(p.payment.settled_at == "2026-05-02T16:40:00Z");
  CHECK(p.payment.captured_at_ms == kCaptured601);
  CHECK(p.payment.first_seen_ms == kCaptured601 + 1000);
  CHECK(p.payment.last_seen_ms == kSettled601 + 1000);
  CHECK_FALSE(p.parent);
  REQUIRE(p.children.size() == 1);
  CHECK(p.children[0].transaction_id == kRefund);
  CHECK(p.children[0].status == "RECEIVED");
  CHECK(p.children[0].type == "REFUND");
  CHECK(p.children[0].total_amount == "1500.00");
  CHECK(p.companions.empty());
  REQUIRE(p.history.size() == 2);
  CHECK(p.history[0].status == "CAPTURED");
  CHECK(p.history[0].event_type == "transaction.status_changed");
  CHECK(p.history[0].occurred_at_ms == kCaptured601);
  CHECK(p.history[0].effect == "applied");
  CHECK(p.history[1].status == "SETTLED");
  CHECK(p.history[1].effect == "applied");

  const auto child = q.payment(kRefund, std::nullopt);
  REQUIRE(child.size() == 1);
  CHECK(child[0].payment.parent_payment_id == kParent);
  REQUIRE(child[0].parent);
  CHECK(child[0].parent->transaction_id == kParent);
  CHECK(child[0].parent->status == "SETTLED");
  CHECK(child[0].children.empty());
}

TEST_CASE(
    "a transaction known to two sources is one view per source, and a source filter picks one",
    "[projection_queries]") {
  ProjectionFixture f;
  parent_and_refund(f);
  f.deliver("sandbox", conomy_example("04-status-changed-captured.json"), kCaptured601 + 2000);
  ProjectionQueries q(f.store.database());

  const auto both = q.payment(kParent, std::nullopt);
  REQUIRE(both.size() == 2);
  CHECK(both[0].payment.source == "production");
  CHECK(both[0].payment.status == "SETTLED");
  CHECK(both[0].children.size() == 1);
  CHECK(both[1].payment.source == "sandbox");
  CHECK(both[1].payment.status == "CAPTURED");
  CHECK(both[1].children.empty());  // the refund was production's

  const auto sandbox = q.payment(kParent, std::string("sandbox"));
  REQUIRE(sandbox.size() == 1);
  CHECK(sandbox[0].payment.source == "sandbox");
  CHECK(q.payment(kParent, std::string("staging")).empty());
  CHECK(q.payment("no-such-transaction", std::nullopt).empty());
}

TEST_CASE("payment history keeps stale, terminal_kept and no_status events in receipt order",
          "[projection_queries]") {
  ProjectionFixture f;
  const std::int64_t r = kMay3;
  f.deliver("production", tx_body("payment.settled", "tx-1", "SETTLED", "2026-05-03T10:00:00Z"),
            r + 1);
  f.deliver("production",
            tx_body("transaction.status_changed", "tx-1", "CAPTURED", "2026-05-03T09:00:00Z"),
            r + 2);
  f.deliver("production", tx_body("transaction.status_changed", "tx-1", "CAPTURED", ""), r + 3);
  f.deliver("production", tx_body("purchase.attempted", "tx-1", "", "2026-05-03T11:00:00Z"), r + 4);
  ProjectionQueries q(f.store.database());

  const auto views = q.payment("tx-1", std::string("production"));
  REQUIRE(views.size() == 1);
  CHECK(views[0].payment.status == "SETTLED");
  std::vector<std::string> effects;
  for (const auto& h : views[0].history) effects.push_back(h.status + " " + h.effect);
  CHECK(effects == std::vector<std::string>{"SETTLED applied", "CAPTURED stale",
                                            "CAPTURED terminal_kept", " no_status"});
  CHECK_FALSE(views[0].history[2].occurred_at_ms);
}

TEST_CASE("under and overpaid companions are linked both ways, each once", "[projection_queries]") {
  ProjectionFixture f;
  const std::int64_t r = kMay3;
  // 11: the parent 603 names its companion 604; 604 names 603 back; 605 names 603 only.
  f.deliver("production", conomy_example("11-purchase-underpaid.json"), r + 1);
  f.deliver(
      "production",
      tx_body("purchase.underpaid", "66a2b3c4d5e6f70812345604", "SETTLED", "2026-05-05T11:20:17Z",
              R"(,"relatedPaymentId":"66a2b3c4d5e6f70812345603","totalAmount":"500.00")"),
      r + 2);
  f.deliver("production",
            tx_body("purchase.overpaid", "tx-605", "SETTLED", "2026-05-05T11:21:00Z",
                    R"(,"relatedPaymentId":"66a2b3c4d5e6f70812345603")"),
            r + 3);
  ProjectionQueries q(f.store.database());

  const auto parent = q.payment("66a2b3c4d5e6f70812345603", std::nullopt);
  REQUIRE(parent.size() == 1);
  std::vector<std::string> companions;
  for (const auto& c : parent[0].companions) companions.push_back(c.transaction_id);
  CHECK(companions == std::vector<std::string>{"66a2b3c4d5e6f70812345604", "tx-605"});

  const auto child = q.payment("66a2b3c4d5e6f70812345604", std::nullopt);
  REQUIRE(child.size() == 1);
  REQUIRE(child[0].companions.size() == 1);
  CHECK(child[0].companions[0].transaction_id == "66a2b3c4d5e6f70812345603");
  CHECK(child[0].companions[0].total_amount == "7500.00");
}

TEST_CASE("reviews lists open reviews oldest opened first, then closed ones newest first",
          "[projection_queries]") {
  ProjectionFixture f;
  const auto open = [&](const std::string& source, const std::string& id, const std::string& at,
                        std::int64_t received) {
    f.deliver(source, tx_body("payment.requiresReview", id, "REQUIRES_REVIEW", at), received);
  };
  const std::int64_t r = kMay3;
  open("production", "rv-a", "2026-05-01T00:00:00Z", r + 1);
  open("sandbox", "rv-b", "2026-05-01T05:00:00Z", r + 2);
  open("production", "rv-c", "2026-05-01T09:00:00Z", r + 3);
  open("production", "rv-d", "2026-04-30T00:00:00Z", r + 4);
  open("production", "rv-e", "2026-05-01T08:00:00Z", r + 5);
  f.deliver("production",
            tx_body("payment.reviewApproved", "rv-d", "CAPTURED", "2026-04-30T02:00:00Z"), r + 6);
  f.deliver("production",
            tx_body("payment.reviewRejected", "rv-e", "FAILED", "2026-05-01T08:30:00Z"), r + 7);
  ProjectionQueries q(f.store.database());

  ReviewFilter filter;
  CHECK(ids(q.reviews(filter)) ==
        std::vector<std::string>{"production/rv-a", "sandbox/rv-b", "production/rv-c"});
  filter.source = "production";
  CHECK(ids(q.reviews(filter)) == std::vector<std::string>{"production/rv-a", "production/rv-c"});
  filter.source.reset();
  filter.opened_before_ms = 1777597200000;  // 2026-05-01T01:00:00Z
  CHECK(ids(q.reviews(filter)) == std::vector<std::string>{"production/rv-a"});
  filter.opened_before_ms.reset();
  filter.limit = 2;
  CHECK(ids(q.reviews(filter)) == std::vector<std::string>{"production/rv-a", "sandbox/rv-b"});

  filter = {};
  filter.state = ReviewFilter::State::closed;
  const auto closed = q.reviews(filter);
  CHECK(ids(closed) == std::vector<std::string>{"production/rv-e", "production/rv-d"});
  CHECK(closed[0].outcome == "rejected");
  CHECK(closed[1].outcome == "approved");

  filter.state = ReviewFilter::State::all;
  CHECK(ids(q.reviews(filter)) == std::vector<std::string>{"production/rv-a", "sandbox/rv-b",
                                                           "production/rv-c", "production/rv-e",
                                                           "production/rv-d"});
  filter.limit = 4;
  CHECK(q.reviews(filter).size() == 4);
}

TEST_CASE("a review view carries the review and the events that moved it", "[projection_queries]") {
  ProjectionFixture f;
  const std::int64_t opened = 1777803150000;  // 06: 2026-05-03T10:12:30Z
  f.deliver("production", conomy_example("06-payment-requires-review.json"), opened + 500, true);
  f.deliver("production", conomy_example("07-payment-review-approved.json"), opened + 4 * kHour);
  f.deliver("production", conomy_example("08-payment-settled.json"), opened + 9 * kHour);
  ProjectionQueries q(f.store.database());

  const auto views = q.review("66a2b3c4d5e6f70812345602", std::nullopt);
  REQUIRE(views.size() == 1);
  const auto& r = views[0].review;
  CHECK(r.state == "closed");
  CHECK(r.outcome == "approved");
  CHECK(r.cycle == 1);
  CHECK(r.total_amount == "2500000.00");
  CHECK(r.customer_id == "66a2b3c4d5e6f70899990002");
  CHECK(r.documentation_status == "APPROVED");
  CHECK(r.opened_at_ms == opened);
  CHECK(r.opened_received_ms == opened + 500);
  CHECK(r.closed_at_ms == 1777816929000);  // 07: 2026-05-03T14:02:09Z
  CHECK(r.notify_state == "cancelled");    // owed at the opening, closed before it was sent
  std::vector<std::string> actions;
  for (const auto& h : views[0].history) actions.push_back(h.event_type + " " + h.action);
  CHECK(actions == std::vector<std::string>{"payment.requiresReview opened",
                                            "payment.reviewApproved closed",
                                            "payment.settled noted"});
  CHECK(q.review("66a2b3c4d5e6f70812345602", std::string("sandbox")).empty());
}

TEST_CASE("a customer view shows stale history entries and entries without a timestamp",
          "[projection_queries]") {
  ProjectionFixture f;
  const std::int64_t r = kMay3 + 14 * kHour;
  f.deliver("production", conomy_example("10-customer-level-changed.json"), r);
  f.deliver("production",
            customer_body("66a2b3c4d5e6f70899990002", "INACTIVE", 0, "2026-05-03T09:00:00Z"),
            r + kHour);
  f.deliver("production", customer_body("66a2b3c4d5e6f70899990002", "STANDARD", 2, ""),
            r + 2 * kHour);
  ProjectionQueries q(f.store.database());

  const auto views = q.customer("66a2b3c4d5e6f70899990002", std::nullopt);
  REQUIRE(views.size() == 1);
  const auto& c = views[0].customer;
  CHECK(c.operation_level == "STANDARD");
  CHECK(c.documents_count == 2);
  CHECK(c.documented);
  CHECK(c.auto_created == true);
  CHECK(c.client_id == "demo-client-ar");
  CHECK(c.first_seen_ms == r);
  CHECK(c.last_seen_ms == r + 2 * kHour);
  REQUIRE(views[0].history.size() == 3);
  CHECK(views[0].history[0].operation_level == "BASIC");
  CHECK(views[0].history[0].effect == "applied");
  CHECK(views[0].history[0].occurred_at_ms == 1777816682000);  // 2026-05-03T13:58:02Z
  CHECK(views[0].history[1].operation_level == "INACTIVE");
  CHECK(views[0].history[1].effect == "stale");
  CHECK(views[0].history[2].operation_level == "STANDARD");
  CHECK(views[0].history[2].effect == "applied");
  CHECK_FALSE(views[0].history[2].occurred_at_ms);
  CHECK(q.customer("66a2b3c4d5e6f70899990002", std::string("sandbox")).empty());
}

TEST_CASE("compare counts outcomes, retries and latency per event type and source",
          "[projection_queries][compare]") {
  ProjectionFixture f;
  const std::int64_t since = kMay3;
  const std::int64_t until = kMay3 + 24 * kHour;
  const auto settled = [&](const std::string& source, const std::string& id, std::int64_t at) {
    return f.deliver(source, tx_body("payment.settled", id, "SETTLED", ""), at);
  };
  f.finish(settled("production", "p-1", since), "done", 1, 100);
  f.finish(settled("production", "p-2", since + kHour), "done", 2, 300);
  f.finish(settled("production", "p-3", since + 2 * kHour), "dead", 5, 9000);
  f.deliver("production", tx_body("payment.requiresReview", "p-4", "REQUIRES_REVIEW", ""),
            since + 3 * kHour);                                       // still pending
  f.finish(settled("production", "p-old", since - 1), "done", 1, 1);  // before the window
  f.finish(settled("production", "p-new", until), "done", 1, 1);      // at its end: outside
  f.finish(settled("sandbox", "s-1", since + kHour), "done", 1, 50);
  f.finish(settled("sandbox", "s-2", since + kHour), "unhandled", 3, 70);
  f.finish(f.deliver("sandbox", customer_body("c-1", "BASIC", 1, ""), since + kHour), "quarantined",
           0, 0);
  ProjectionQueries q(f.store.database());

  const auto c = q.compare("production", "sandbox", since, until, 100);
  REQUIRE(c.by_type.size() == 3);
  CHECK(c.by_type[0].event_type == "customer.levelChanged");
  CHECK(c.by_type[0].a.received == 0);
  CHECK(c.by_type[0].b.quarantined == 1);
  CHECK(c.by_type[1].event_type == "payment.requiresReview");
  CHECK(c.by_type[1].a.pending == 1);
  CHECK_FALSE(c.by_type[1].a.p50_ms);
  const auto& settled_a = c.by_type[2].a;
  CHECK(c.by_type[2].event_type == "payment.settled");
  CHECK(settled_a.received == 3);
  CHECK(settled_a.done == 2);
  CHECK(settled_a.dead == 1);
  CHECK(settled_a.retried == 2);
  CHECK(settled_a.p50_ms == 100);  // nearest rank of {100, 300}; the dead one never finished
  CHECK(settled_a.p95_ms == 300);
  CHECK(settled_a.max_ms == 300);
  const auto& settled_b = c.by_type[2].b;
  CHECK(settled_b.received == 2);
  CHECK(settled_b.done == 1);
  CHECK(settled_b.unhandled == 1);
  CHECK(settled_b.retried == 1);
  CHECK(settled_b.p50_ms == 50);
  CHECK(settled_b.max_ms == 70);
  CHECK(c.total_a.received == 4);
  CHECK(c.total_a.pending == 1);
  CHECK(c.total_b.received == 3);

  const auto unknown = q.compare("production", "staging", since, until, 100);
  CHECK(unknown.total_a.received == 4);
  CHECK(unknown.total_b.received == 0);
  CHECK_FALSE(unknown.total_b.p50_ms);
  CHECK(unknown.shared_external_ids == 0);
}

TEST_CASE("compare lists payments sharing an externalId whose final statuses differ",
          "[projection_queries][compare]") {
  ProjectionFixture f;
  const std::int64_t since = kMay3;
  const std::int64_t until = kMay3 + 24 * kHour;
  const auto pay = [&](const std::string& source, const std::string& id, const std::string& status,
                       const std::string& external, std::int64_t at) {
    f.deliver(source,
              tx_body("transaction.status_changed", id, status, "",
                      R"(,"externalId":")" + external + '"'),
              at);
  };
  pay("production", "p-1", "SETTLED", "inv-1", since + 1);
  pay("sandbox", "s-1", "SETTLED", "inv-1", since + 2);  // agrees
  pay("production", "p-2", "FAILED", "inv-2", since + 3);
  pay("sandbox", "s-2", "CAPTURED", "inv-2", since + 4);
  pay("sandbox", "s-2", "SETTLED", "inv-2", since + 5);     // differs: FAILED / SETTLED
  pay("production", "p-3", "SETTLED", "inv-3", since + 6);  // production only
  pay("sandbox", "s-4", "SETTLED", "inv-4", since + 7);     // sandbox only
  pay("production", "p-9", "FAILED", "inv-9", since - 10);  // differs, seen before the window
  pay("sandbox", "s-9", "SETTLED", "inv-9", since - 9);
  ProjectionQueries q(f.store.database());

  const auto c = q.compare("production", "sandbox", since, until, 100);
  CHECK(c.shared_external_ids == 2);
  CHECK(c.agreeing_external_ids == 1);
  CHECK(c.differing_pairs == 1);
  REQUIRE(c.differences.size() == 1);
  CHECK(c.differences[0].external_id == "inv-2");
  CHECK(c.differences[0].a_transaction_id == "p-2");
  CHECK(c.differences[0].a_status == "FAILED");
  CHECK(c.differences[0].b_transaction_id == "s-2");
  CHECK(c.differences[0].b_status == "SETTLED");

  const auto wider = q.compare("production", "sandbox", since - kHour, until, 100);
  CHECK(wider.shared_external_ids == 3);
  CHECK(wider.differing_pairs == 2);
  REQUIRE(wider.differences.size() == 2);
  CHECK(wider.differences[1].external_id == "inv-9");

  const auto capped = q.compare("production", "sandbox", since - kHour, until, 1);
  CHECK(capped.differing_pairs == 2);
  CHECK(capped.differences.size() == 1);
}

TEST_CASE("a database without the projection tables is refused with a hint to migrate",
          "[projection_queries]") {
  webhook::test::TempDir dir;
  storage::Database db = storage::Database::open(dir.file("old.db"));
  std::vector<storage::Migration> inbox_only;
  for (const auto& m : storage::embedded_migrations()) {
    if (m.version < 3) inbox_only.push_back(m);
  }
  db.migrate(inbox_only);

  CHECK_THROWS_WITH(ProjectionQueries(db), Catch::Contains("no projection tables") &&
                                               Catch::Contains("run webhook-receiver migrate"));
}

TEST_CASE("nearest-rank percentiles", "[projection_queries]") {
  std::vector<std::int64_t> none;
  CHECK_FALSE(storage::nearest_rank_percentile(none, 50));
  std::vector<std::int64_t> one = {7};
  CHECK(storage::nearest_rank_percentile(one, 95) == 7);
  std::vector<std::int64_t> values;
  for (std::int64_t v = 100; v >= 1; --v) values.push_back(v);  // 1..100, reversed
  CHECK(storage::nearest_rank_percentile(values, 50) == 50);
  CHECK(storage::nearest_rank_percentile(values, 95) == 95);
  CHECK(storage::nearest_rank_percentile(values, 100) == 100);
  std::vector<std::int64_t> three = {30, 10, 20};
  CHECK(storage::nearest_rank_percentile(three, 50) == 20);
  CHECK(storage::nearest_rank_percentile(three, 95) == 30);
}

namespace {

// The SQL of every statement run on `db` while tracing.
int trace_statement(unsigned /*type*/, void* context, void* statement, void* /*sql*/) {
  auto* seen = static_cast<std::set<std::string>*>(context);
  if (const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(statement))) seen->insert(sql);
  return 0;
}

std::vector<std::string> query_plan(storage::Database& db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const std::string explain = "EXPLAIN QUERY PLAN " + sql;
  REQUIRE(sqlite3_prepare_v2(db.handle(), explain.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::vector<std::string> details;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    details.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)));
  }
  sqlite3_finalize(stmt);
  return details;
}

}  // namespace

TEST_CASE("every projection query walks an index instead of scanning a table",
          "[projection_queries][plan]") {
  ProjectionFixture f;
  parent_and_refund(f);
  storage::Database& db = f.store.database();
  std::set<std::string> statements;
  sqlite3_trace_v2(db.handle(), SQLITE_TRACE_STMT, trace_statement, &statements);
  {
    ProjectionQueries q(db);
    q.payment(kParent, std::nullopt);
    q.payment(kRefund, std::string("production"));
    q.review("tx", std::nullopt);
    q.review("tx", std::string("production"));
    q.customer("c", std::nullopt);
    q.customer("c", std::string("production"));
    for (const auto state :
         {ReviewFilter::State::open, ReviewFilter::State::closed, ReviewFilter::State::all}) {
      ReviewFilter filter;
      filter.state = state;
      q.reviews(filter);
      filter.source = "production";
      filter.opened_before_ms = kMay3;
      q.reviews(filter);
    }
    q.compare("production", "sandbox", kMay3, kMay3 + kHour, 10);
  }
  sqlite3_trace_v2(db.handle(), 0, nullptr, nullptr);

  bool compare_uses_receipt_index = false;
  for (const std::string& sql : statements) {
    if (sql.find("SELECT") == std::string::npos) continue;  // BEGIN, COMMIT, PRAGMA
    for (const std::string& step : query_plan(db, sql)) {
      INFO(sql);
      INFO(step);
      // Full scans only of the recursive CTE's rows, of compare's candidate externalIds (read
      // from the window through payments_seen) and of sqlite_master (the schema check).
      if (step.rfind("SCAN ", 0) == 0) {
        CHECK((step == "SCAN s" || step == "SCAN ids" ||
               step.find("sqlite_master") != std::string::npos));
      }
      // A look-up that uses no more of an index than the source reads every payment of it.
      CHECK(step.find("(source=?)") == std::string::npos);
      if (step.find("events_received_at") != std::string::npos) {
        compare_uses_receipt_index = true;
      }
    }
  }
  CHECK(compare_uses_receipt_index);
  CHECK(statements.size() > 10);
}
