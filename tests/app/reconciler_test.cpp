// Tests include/webhook/app/reconciler.hpp: passes against FakeConomy (a real HTTP server on
// 127.0.0.1:0) over a real, migrated SQLite file; findings recorded through SqliteInbox's write
// path, as the `reconcile` command does (serve records through the writer: the integration test).
#include "webhook/app/reconciler.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "http/fake_conomy.hpp"
#include "support/temp_dir.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/projection_queries.hpp"
#include "webhook/storage/projection_store.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

using webhook::app::CheckResult;
using webhook::app::PassReport;
using webhook::app::ReconcilerOptions;
using webhook::app::ReconcileTarget;
using webhook::core::CheckKind;
using webhook::core::Finding;
using webhook::storage::Database;
using webhook::testing::FakeAnswer;
using webhook::testing::FakeConomy;
using webhook::testing::TempDir;

namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kNow = 1'778'000'000'000;  // the clock during the passes
const std::string kSecret = "clientsecret_test_only_A_0123456789";
const std::string kApiKey = "apikey_test_only_0123456789";

std::string payment_json(const std::string& id, const std::string& status,
                         const std::string& documentation = "") {
  return R"({"id":")" + id + R"(","status":")" + status + R"(","externalId":"order-)" + id +
         R"(","totalAmount":"2000.00","currency":"ARS")" +
         (documentation.empty() ? "" : R"(,"documentationStatus":")" + documentation + "\"") +
         (status == "SETTLED" ? R"(,"settledAt":"2026-05-05T10:00:00Z")" : "") + "}";
}

// A database with projections written as the webhook handlers would, and a reconciler on it.
class World {
 public:
  World() : clock_(kNow), fake_({}, clock_) {
    {
      Database db = Database::open(dir_.file("inbox.db"), Database::Mode::read_write_create);
      db.migrate(webhook::storage::embedded_migrations());
    }
    store_ = std::make_unique<webhook::storage::ProjectionStore>(
        Database::open(dir_.file("inbox.db"), Database::Mode::read_write));
    inbox_ = std::make_unique<webhook::storage::SqliteInbox>(
        Database::open(dir_.file("inbox.db"), Database::Mode::read_write));
    webhook::http::ConomyApiOptions o;
    o.source = "production";
    o.base_url = fake_.base_url();
    o.client_id = "client-test-0001";
    o.client_secret = {kSecret, ""};
    o.api_key = {kApiKey, ""};
    o.timeout = std::chrono::milliseconds{5000};
    o.retry.max_attempts = 2;
    client_ = std::make_unique<webhook::http::ConomyApiClient>(o, clock_,
                                                               [](std::chrono::milliseconds) {});
  }

  FakeConomy& fake() { return fake_; }
  webhook::core::ManualClock& clock() { return clock_; }

  // A webhook event applied to the payments (and reviews) projection at `at_ms`.
  void webhook_payment(const std::string& id, const std::string& status, std::int64_t at_ms,
                       const std::string& type = "payment.captured") {
    webhook::core::StoredEvent e;
    e.id = ++next_event_;
    e.key.source = "production";
    e.event_type = type;
    e.received_at_ms = at_ms;
    e.scheme = "header";
    webhook::core::PaymentFacts f;
    f.transaction_id = id;
    f.status = status;
    f.occurred_at_ms = at_ms;
    store_->apply_payment(e, f);
    store_->apply_review(e, f, false);
  }
  void webhook_customer(const std::string& id, const std::string& level, std::int64_t documents,
                        std::int64_t at_ms) {
    webhook::core::StoredEvent e;
    e.id = ++next_event_;
    e.key.source = "production";
    e.event_type = "customer.levelChanged";
    e.received_at_ms = at_ms;
    e.scheme = "header";
    webhook::core::CustomerFacts f;
    f.customer_id = id;
    f.operation_level = level;
    f.documents_count = documents;
    f.occurred_at_ms = at_ms;
    store_->apply_customer(e, f);
  }

  PassReport pass(const ReconcileTarget& target = {}, ReconcilerOptions options = defaults()) {
    if (!reconciler_ || options_changed(options)) {
      last_options_ = options;
      reconciler_ = std::make_unique<webhook::app::Reconciler>(
          std::vector<webhook::app::Reconciler::Source>{{"production", client_.get()}},
          inbox_->database(),
          [this](webhook::core::WorkItem item) -> std::optional<webhook::core::WorkRecorded> {
            auto written =
                inbox_->write_batch({}, std::span<const webhook::core::WorkItem>(&item, 1), true);
            if (!written.ok) return std::nullopt;
            return written.work.front();
          },
          clock_, options,
          [this](const CheckResult& r) {
            ++metric_[std::string(webhook::core::to_string(r.finding))];
          });
    }
    return reconciler_->run_pass(target);
  }

  static ReconcilerOptions defaults() {
    ReconcilerOptions o;
    o.settlement_overdue_ms = kDay;
    o.customer_max_age_ms = 7 * kDay;
    o.recheck_after_ms = 3'600'000;
    o.max_requests_per_pass = 100;
    return o;
  }

  webhook::storage::PaymentView payment(const std::string& id) {
    Database db = Database::open(dir_.file("inbox.db"), Database::Mode::read_only);
    auto views = webhook::storage::ProjectionQueries(db).payment(id, "production");
    REQUIRE(views.size() == 1);
    return views.front();
  }
  webhook::storage::ReviewView review(const std::string& id) {
    Database db = Database::open(dir_.file("inbox.db"), Database::Mode::read_only);
    auto views = webhook::storage::ProjectionQueries(db).review(id, "production");
    REQUIRE(views.size() == 1);
    return views.front();
  }
  webhook::storage::CustomerView customer(const std::string& id) {
    Database db = Database::open(dir_.file("inbox.db"), Database::Mode::read_only);
    auto views = webhook::storage::ProjectionQueries(db).customer(id, "production");
    REQUIRE(views.size() == 1);
    return views.front();
  }
  std::int64_t events() { return inbox_->count_events(); }
  std::map<std::string, int>& metric() { return metric_; }

 private:
  bool options_changed(const ReconcilerOptions& o) const {
    return o.max_requests_per_pass != last_options_.max_requests_per_pass ||
           o.recheck_after_ms != last_options_.recheck_after_ms;
  }

  TempDir dir_;
  webhook::core::ManualClock clock_;
  FakeConomy fake_;
  std::unique_ptr<webhook::storage::ProjectionStore> store_;
  std::unique_ptr<webhook::storage::SqliteInbox> inbox_;
  std::unique_ptr<webhook::http::ConomyApiClient> client_;
  std::unique_ptr<webhook::app::Reconciler> reconciler_;
  ReconcilerOptions last_options_;
  std::map<std::string, int> metric_;
  // Webhook events are applied without an events row here; their ids stay clear of the rows the
  // reconciler stores (1, 2, ...).
  std::int64_t next_event_ = 1000000;
};

CheckResult only(const PassReport& r) {
  REQUIRE(r.checks.size() == 1);
  return r.checks.front();
}

}  // namespace

TEST_CASE("a settlement whose webhook never came is applied from the API, once", "[reconcile]") {
  World w;
  w.webhook_payment("p-1", "CAPTURED", kNow - 2 * kDay);
  w.webhook_payment("p-young", "CAPTURED", kNow - 1000);  // not overdue yet: not asked
  w.fake().put_payment("p-1", payment_json("p-1", "SETTLED"));

  const PassReport first = w.pass();
  const CheckResult r = only(first);
  CHECK(r.kind == CheckKind::payment);
  CHECK(r.entity_id == "p-1");
  CHECK(r.finding == Finding::missed_event);
  CHECK(r.known == "CAPTURED");
  CHECK(r.api == "SETTLED");
  CHECK(r.applied);
  CHECK(r.trace_id.rfind("fake-trace-", 0) == 0);
  CHECK(first.api_requests == 1);
  CHECK(first.anything_found());
  CHECK(w.metric()["missed_event"] == 1);

  const auto view = w.payment("p-1");
  CHECK(view.payment.status == "SETTLED");
  CHECK(view.payment.status_origin == "api");
  CHECK(view.payment.status_event_id == r.event_id);
  CHECK(view.payment.settled_at == "2026-05-05T10:00:00Z");
  REQUIRE(view.history.size() == 2);
  CHECK(view.history[0].origin == "webhook");
  CHECK(view.history[1].origin == "api");
  CHECK(view.history[1].event_type == "api.payment");
  CHECK(view.history[1].effect == "applied");
  CHECK(view.history[1].occurred_at_ms == kNow);
  CHECK(w.events() == 1);  // the API's answer, stored as an event (the webhooks were not)

  // The second pass: the payment no longer awaits settlement; asked directly, it agrees.
  w.clock().advance(std::chrono::hours(2));
  const PassReport second = w.pass();
  CHECK(second.checks.empty());
  CHECK(second.api_requests == 0);
  ReconcileTarget one;
  one.transaction_id = "p-1";
  const PassReport third = w.pass(one);
  CHECK(only(third).finding == Finding::none);
  CHECK_FALSE(third.anything_found());
  CHECK(w.payment("p-1").history.size() == 2);
  CHECK(w.events() == 1);
}

TEST_CASE("a dry run asks and compares but changes nothing", "[reconcile]") {
  World w;
  w.webhook_payment("p-1", "CAPTURED", kNow - 2 * kDay);
  w.fake().put_payment("p-1", payment_json("p-1", "SETTLED"));
  ReconcileTarget dry;
  dry.dry_run = true;
  const CheckResult r = only(w.pass(dry));
  CHECK(r.finding == Finding::missed_event);
  CHECK_FALSE(r.applied);
  CHECK(r.event_id == 0);
  CHECK(w.payment("p-1").payment.status == "CAPTURED");
  CHECK(w.events() == 0);
}

TEST_CASE("a terminal status is kept when the API disagrees, and 404s and failures are reported",
          "[reconcile]") {
  World w;
  w.webhook_payment("p-failed", "CAPTURED", kNow - 3 * kDay);
  w.webhook_payment("p-failed", "FAILED", kNow - 2 * kDay, "payment.failed");
  w.webhook_payment("p-gone", "CAPTURED", kNow - 2 * kDay);
  w.webhook_payment("p-broken", "RECEIVED", kNow - 2 * kDay);

  // p-failed is not awaiting settlement: only --transaction asks about it. FAILED is terminal;
  // an API saying CAPTURED does not move it back.
  w.fake().put_payment("p-failed", payment_json("p-failed", "CAPTURED"));
  ReconcileTarget failed;
  failed.transaction_id = "p-failed";
  const CheckResult kept = only(w.pass(failed));
  CHECK(kept.finding == Finding::state_differs);
  CHECK_FALSE(kept.applied);
  CHECK(w.payment("p-failed").payment.status == "FAILED");

  w.fake().script({FakeAnswer{404, ""}, FakeAnswer{400, ""}});
  const PassReport report = w.pass();
  REQUIRE(report.checks.size() == 2);
  std::map<std::string, Finding> by_id;
  for (const auto& c : report.checks) by_id[c.entity_id] = c.finding;
  // One answered 404, the other 400 (not retried).
  CHECK(by_id.size() == 2);
  CHECK(std::count_if(report.checks.begin(), report.checks.end(),
                      [](const CheckResult& c) { return c.finding == Finding::not_found; }) == 1);
  CHECK(std::count_if(report.checks.begin(), report.checks.end(), [](const CheckResult& c) {
          return c.finding == Finding::failed && !c.error.empty();
        }) == 1);
  CHECK(report.api_requests == 2);
  CHECK(report.anything_found());
  CHECK(w.events() == 0);
}

TEST_CASE("an open review whose decision never came is closed from the API", "[reconcile]") {
  World w;
  w.webhook_payment("p-review", "REQUIRES_REVIEW", kNow - 5 * 3'600'000, "payment.requiresReview");
  REQUIRE(w.review("p-review").review.state == "open");
  w.fake().put_payment("p-review", payment_json("p-review", "CAPTURED", "APPROVED"));

  const CheckResult r = only(w.pass());
  CHECK(r.kind == CheckKind::review);
  CHECK(r.finding == Finding::missed_event);
  CHECK(r.applied);
  const auto review = w.review("p-review");
  CHECK(review.review.state == "closed");
  CHECK(review.review.outcome == "approved");
  REQUIRE(review.history.size() == 2);
  CHECK(review.history[1].origin == "api");
  CHECK(review.history[1].action == "closed");
  CHECK(w.payment("p-review").payment.status == "CAPTURED");

  // Still in review at the API: nothing to do.
  w.webhook_payment("p-still", "REQUIRES_REVIEW", kNow - 3'600'000, "payment.requiresReview");
  w.fake().put_payment("p-still", payment_json("p-still", "REQUIRES_REVIEW"));
  const CheckResult still = only(w.pass());
  CHECK(still.entity_id == "p-still");
  CHECK(still.finding == Finding::none);
  CHECK(w.review("p-still").review.state == "open");
}

TEST_CASE("a stale customer record is refreshed from the API when its level moved", "[reconcile]") {
  World w;
  w.webhook_customer("c-old", "BASIC", 1, kNow - 10 * kDay);
  w.webhook_customer("c-same", "STANDARD", 2, kNow - 9 * kDay);
  w.webhook_customer("c-fresh", "BASIC", 0, kNow - kDay);  // younger than 7 days: not asked
  w.fake().put_customer("c-old", R"({"id":"c-old","operationLevel":"FULL","documentsCount":3})");
  w.fake().put_customer("c-same",
                        R"({"id":"c-same","operationLevel":"STANDARD","documentsCount":2})");

  const PassReport report = w.pass();
  REQUIRE(report.checks.size() == 2);
  CHECK(report.checks[0].entity_id == "c-old");
  CHECK(report.checks[0].finding == Finding::missed_event);
  CHECK(report.checks[0].known == "BASIC/1");
  CHECK(report.checks[0].api == "FULL/3");
  CHECK(report.checks[1].entity_id == "c-same");
  CHECK(report.checks[1].finding == Finding::none);
  const auto c = w.customer("c-old");
  CHECK(c.customer.operation_level == "FULL");
  CHECK(c.customer.documents_count == 3);
  CHECK(c.customer.documented);
  REQUIRE(c.history.size() == 2);
  CHECK(c.history[1].origin == "api");
  CHECK(c.history[1].event_type == "api.customer");
}

TEST_CASE("the budget bounds a pass, and the next pass asks first about those not asked yet",
          "[reconcile]") {
  World w;
  for (int i = 0; i < 5; ++i) {
    const std::string id = "p-" + std::to_string(i);
    w.webhook_payment(id, "CAPTURED", kNow - 2 * kDay + i);
    w.fake().put_payment(id, payment_json(id, "CAPTURED"));
  }
  ReconcilerOptions two = World::defaults();
  two.max_requests_per_pass = 2;
  const PassReport first = w.pass({}, two);
  CHECK(first.budget_spent);
  REQUIRE(first.checks.size() == 2);
  CHECK(first.checks[0].entity_id == "p-0");  // oldest first
  CHECK(first.checks[1].entity_id == "p-1");
  w.clock().advance(std::chrono::minutes(1));
  const PassReport second = w.pass({}, two);
  REQUIRE(second.checks.size() == 2);
  CHECK(second.checks[0].entity_id == "p-2");  // never checked before those checked recently
  CHECK(second.checks[1].entity_id == "p-3");
  w.clock().advance(std::chrono::minutes(1));
  const PassReport third = w.pass({}, two);
  REQUIRE(third.checks.size() == 1);  // p-0 .. p-3 were checked within recheck_after_ms
  CHECK(third.checks[0].entity_id == "p-4");
  CHECK_FALSE(third.budget_spent);
  CHECK(w.fake().api_requests() == 5);
}
