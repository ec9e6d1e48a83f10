// Tests the read side on PostgreSQL (include/webhook/storage/pg_event_queries.hpp and
// pg_projection_queries.hpp) as the twin of the SQLite one: a Twin stores the same deliveries in
// a SQLite file (SqliteInbox + ProjectionStore, tests/support/projection_fixture.hpp) and in a
// PostgreSQL database (PgInbox + PgProjectionStore), with the same ids, statuses and times; then
// every query is asked of both and the answers, printed field by field, must be equal. Key
// scenarios of event_queries_test.cpp and projection_queries_test.cpp also check the PostgreSQL
// answer itself, so a mistake shared by both backends still fails.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "support/conomy_payloads.hpp"
#include "support/postgres_server.hpp"
#include "support/projection_fixture.hpp"
#include "webhook/storage/event_queries.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_event_queries.hpp"
#include "webhook/storage/pg_inbox.hpp"
#include "webhook/storage/pg_migrate.hpp"
#include "webhook/storage/pg_projection_queries.hpp"
#include "webhook/storage/pg_projection_store.hpp"
#include "webhook/storage/projection_queries.hpp"

using namespace webhook;
using storage::EventFilter;
using storage::PgConnection;
using storage::PgEventQueries;
using storage::PgProjectionQueries;
using storage::ProjectionQueries;
using storage::ReviewFilter;
using storage::SqliteEventQueries;
using testing::conomy_example;
using testing::customer_body;
using testing::tx_body;

namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kHour = 3600 * kSecond;
constexpr std::int64_t kMay3 = 1777766400000;  // 2026-05-03T00:00:00Z

PgConnection migrated_postgres(const std::string& url) {
  PgConnection db = PgConnection::connect(url);
  storage::migrate_postgres(db, storage::embedded_postgres_migrations());
  return db;
}

// ---- printing results field by field (the structs have no operator==) --------------------------

std::string opt(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "-"; }
std::string opt(const std::optional<std::string>& v) { return v ? "'" + *v + "'" : "-"; }

struct Line {
  std::ostringstream out;
  template <typename T>
  Line& operator<<(const T& v) {
    out << v << '|';
    return *this;
  }
  std::string str() const { return out.str(); }
};

std::string show(const storage::EventSummary& e) {
  return (Line() << e.id << e.source << e.event_type << e.entity_kind << e.entity_id << e.status
                 << e.attempts << e.received_at_ms << e.next_attempt_at_ms << opt(e.last_error)
                 << e.request_id)
      .str();
}
std::string show(const storage::EventRecord& e) {
  return (Line() << e.id << e.source << e.event_name << e.entity_kind << e.entity_id
                 << e.state_token << e.event_type << e.status << opt(e.quarantine_reason) << e.body
                 << e.request_id << e.received_at_ms << e.scheme << e.candidate << e.key_slot
                 << e.attempts << e.next_attempt_at_ms << opt(e.last_error) << e.updated_at_ms)
      .str();
}
std::string show(const storage::EventTypeStatusCount& c) {
  return (Line() << c.event_type << c.status << c.count << c.oldest_received_at_ms).str();
}
std::string show(const storage::ReplayEvent& e) {
  return (Line() << e.id << e.source << e.event_type << e.status << e.body << e.request_id
                 << e.received_at_ms << e.scheme)
      .str();
}
std::string show(const storage::PaymentRow& p) {
  return (Line() << p.source << p.transaction_id << p.status << opt(p.status_at_ms)
                 << p.status_event_id << p.external_id << p.type << p.total_amount << p.currency
                 << p.customer_id << p.parent_payment_id << p.related_payment_id
                 << p.settlement_batch_id << p.documentation_status << p.settled_at << p.expired_at
                 << p.unsettled_at << p.unsettled_reason << opt(p.captured_at_ms) << p.first_seen_ms
                 << p.last_seen_ms << opt(p.latest_at_ms) << p.status_origin)
      .str();
}
std::string show(const storage::PaymentHistoryEntry& h) {
  return (Line() << h.event_id << h.event_type << h.status << opt(h.occurred_at_ms)
                 << h.received_at_ms << h.effect << h.origin)
      .str();
}
std::string show(const storage::ReviewRow& r) {
  return (Line() << r.source << r.transaction_id << r.state << r.outcome << r.cycle << r.external_id
                 << r.total_amount << r.currency << r.customer_id << r.documentation_status
                 << opt(r.opened_event_id) << opt(r.opened_at_ms) << opt(r.opened_received_ms)
                 << opt(r.closed_event_id) << opt(r.closed_at_ms) << r.notify_state
                 << opt(r.notify_event_id) << opt(r.notified_at_ms) << r.updated_at_ms)
      .str();
}
std::string show(const storage::ReviewHistoryEntry& h) {
  return (Line() << h.event_id << h.event_type << h.action << opt(h.occurred_at_ms)
                 << h.received_at_ms << h.origin)
      .str();
}
std::string show(const storage::CustomerRow& c) {
  return (Line() << c.source << c.customer_id << c.client_id << c.operation_level
                 << opt(c.documents_count) << c.documented
                 << (c.auto_created ? (*c.auto_created ? "yes" : "no") : "-") << opt(c.state_at_ms)
                 << c.state_event_id << c.first_seen_ms << c.last_seen_ms)
      .str();
}
std::string show(const storage::CustomerHistoryEntry& h) {
  return (Line() << h.event_id << h.event_type << h.operation_level << opt(h.documents_count)
                 << opt(h.occurred_at_ms) << h.received_at_ms << h.effect << h.origin)
      .str();
}
std::string show(const storage::SourceEventStats& s) {
  return (Line() << s.received << s.done << s.unhandled << s.dead << s.pending << s.quarantined
                 << s.retried << opt(s.p50_ms) << opt(s.p95_ms) << opt(s.max_ms))
      .str();
}

template <typename T>
std::vector<std::string> show(const std::vector<T>& rows) {
  std::vector<std::string> out;
  for (const T& r : rows) out.push_back(show(r));
  return out;
}
template <typename T>
std::string show(const std::optional<T>& v) {
  return v ? show(*v) : "none";
}

std::vector<std::string> show(const storage::PaymentView& v) {
  std::vector<std::string> out{"payment " + show(v.payment), "parent " + show(v.parent)};
  for (const auto& h : v.history) out.push_back("history " + show(h));
  for (const auto& c : v.children) out.push_back("child " + show(c));
  for (const auto& c : v.companions) out.push_back("companion " + show(c));
  return out;
}
std::vector<std::string> show(const storage::ReviewView& v) {
  std::vector<std::string> out{"review " + show(v.review)};
  for (const auto& h : v.history) out.push_back("history " + show(h));
  return out;
}
std::vector<std::string> show(const storage::CustomerView& v) {
  std::vector<std::string> out{"customer " + show(v.customer)};
  for (const auto& h : v.history) out.push_back("history " + show(h));
  return out;
}
std::vector<std::string> show(const storage::Comparison& c) {
  std::vector<std::string> out{
      "a " + show(c.total_a), "b " + show(c.total_b),
      (Line() << c.shared_external_ids << c.agreeing_external_ids << c.differing_pairs).str()};
  for (const auto& t : c.by_type) out.push_back(t.event_type + " " + show(t.a) + " " + show(t.b));
  for (const auto& d : c.differences) {
    out.push_back((Line() << d.external_id << d.a_transaction_id << d.a_status << d.b_transaction_id
                          << d.b_status)
                      .str());
  }
  return out;
}
template <typename View>
std::vector<std::string> show_views(const std::vector<View>& views) {
  std::vector<std::string> out;
  for (const auto& v : views) {
    for (std::string& line : show(v)) out.push_back(std::move(line));
  }
  return out;
}

std::vector<std::string> read_all(storage::EventCursor& cursor) {
  std::vector<std::string> out;
  while (auto e = cursor.next()) out.push_back(show(*e));
  return out;
}

// ---- the twin ---------------------------------------------------------------------------------

// The same deliveries in SQLite and in PostgreSQL, applied to both projections.
struct Twin {
  testing::ProjectionFixture lite;
  std::string url = testing::test_postgres().create_database();
  PgConnection pg = migrated_postgres(url);
  storage::PgInbox pg_inbox{PgConnection::connect(url)};
  storage::PgProjectionStore pg_store{pg};

  // Stores `d` in both (same id) and applies it to both projections unless `apply` is false.
  std::int64_t store(const core::Delivery& d, bool notify = false, bool apply = true) {
    std::int64_t lite_id = 0;
    if (apply) {
      lite_id = lite.deliver(d, notify);
    } else {
      const std::vector<core::Delivery> batch = {d};
      lite_id = lite.inbox.store_batch(batch).at(0).event_id;
    }
    const std::vector<core::Delivery> batch = {d};
    const auto results = pg_inbox.store_batch(batch);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].kind == core::StoreResult::Kind::inserted);
    REQUIRE(results[0].event_id == lite_id);
    if (apply) {
      const core::StoredEvent event = pg_inbox.find_event(lite_id).value();
      storage::PgTransaction tx(pg);
      if (const auto payment = core::payment_facts(d.body)) {
        pg_store.apply_payment(event, *payment);
        pg_store.apply_review(event, *payment, notify);
      } else {
        pg_store.apply_customer(event, *core::customer_facts(d.body));
      }
      tx.commit();
    }
    return lite_id;
  }

  std::int64_t deliver(const std::string& source, const std::string& body, std::int64_t received,
                       bool notify = false) {
    return store(lite.delivery(source, body, received), notify);
  }

  // The same UPDATE of events on both.
  void update(std::int64_t id, const std::string& assignments) {
    const std::string sql =
        "UPDATE events SET " + assignments + " WHERE id = " + std::to_string(id);
    lite.store.database().exec(sql);
    pg.exec(sql);
  }
  void finish(std::int64_t id, const std::string& status, int attempts, std::int64_t latency_ms) {
    update(id, "status = '" + status + "', attempts = " + std::to_string(attempts) +
                   ", updated_at_ms = received_at_ms + " + std::to_string(latency_ms));
  }
};

// Raw deliveries of several sources, types, statuses and ages for the event queries; returns
// their ids in storage order.
struct EventSample {
  Twin twin;
  std::vector<std::int64_t> ids;

  std::int64_t add(const std::string& source, const std::string& type, const std::string& entity,
                   std::int64_t received, const std::string& body = "") {
    core::Delivery d = test::make_delivery(entity, type, std::to_string(ids.size()));
    d.key.source = source;
    d.received_at_ms = received;
    if (!body.empty()) d.body = body;
    ids.push_back(twin.store(d, false, false));
    return ids.back();
  }

  EventSample() {
    const std::int64_t now = kMay3;
    add("production", "payment.settled", "tx-1", now - 5 * kHour);
    add("production", "payment.refunded", "tx-2", now - 4 * kHour);
    add("production", "payments.batch", "tx-3", now - 3 * kHour);
    add("sandbox", "payment.settled", "tx-1", now - 2 * kHour);
    add("production", "customer.levelChanged", "cu-1", now - kHour);
    add("production", "payment.settled", "tx-4", now - kHour);  // same time as the one before
    add("production", "payment.settled", "tx-5", now - kHour);  // and again
    // A body that is not text: NUL, high bytes, a backslash and a quote.
    add("sandbox", "payment.created", "tx-6", now - 30 * 60 * kSecond,
        std::string("bin\0\xff\xfe\\x00'\"", 13));
    add("staging", "payment.settled", "tx-7", now);
    std::vector<core::Delivery> quarantined = {test::make_quarantined("ab12cd34")};
    quarantined[0].received_at_ms = now + kSecond;  // the newest
    twin.lite.inbox.store_batch(quarantined);
    const std::int64_t next = static_cast<std::int64_t>(ids.size()) + 1;
    REQUIRE(twin.pg_inbox.store_batch(quarantined).at(0).event_id == next);
    ids.push_back(next);

    twin.update(ids[0], "status = 'done', attempts = 1, updated_at_ms = received_at_ms + 40");
    twin.update(ids[1], "status = 'dead', attempts = 5, last_error = 'HTTP 500: boom'");
    twin.update(ids[2], "status = 'done', last_error = ''");  // empty, not NULL
    twin.update(ids[4], "status = 'processing', attempts = 2, next_attempt_at_ms = 77");
    twin.update(ids[5], "status = 'unhandled'");
  }
};

using Ids = std::vector<std::int64_t>;
Ids ids_of(const std::vector<storage::EventSummary>& rows) {
  Ids out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

}  // namespace

// ---- events -----------------------------------------------------------------------------------

TEST_CASE("pg event queries list the same events in the same order as SQLite for every filter",
          "[postgres][pg_queries]") {
  EventSample s;
  SqliteEventQueries lite(s.twin.lite.store.database());
  PgEventQueries pg(s.twin.pg);
  const Ids& id = s.ids;

  std::vector<EventFilter> filters;
  EventFilter all;
  all.limit = 100;
  filters.push_back(all);
  EventFilter f = all;
  f.oldest_first = true;
  filters.push_back(f);
  f.limit = 3;
  filters.push_back(f);
  f = all;
  f.statuses = {"done", "dead"};
  filters.push_back(f);
  f = all;
  f.type = "payment.settled";
  filters.push_back(f);
  f.type = "payment.";
  f.type_is_prefix = true;
  filters.push_back(f);  // payment.* but not payments.batch
  f.type = "";
  filters.push_back(f);
  f = all;
  f.source = "sandbox";
  filters.push_back(f);
  f.source.reset();
  f.entity_id = "tx-1";
  filters.push_back(f);
  f = all;
  f.since_ms = kMay3 - 3 * kHour;
  f.until_ms = kMay3 - kHour;
  filters.push_back(f);
  f.oldest_first = true;
  filters.push_back(f);
  f = all;
  f.before = storage::EventPosition{kMay3 - kHour, id[5]};
  filters.push_back(f);
  f.source = "production";
  f.statuses = {"pending", "unhandled", "processing"};
  filters.push_back(f);
  f = all;
  f.limit = -1;  // SQLite reads a negative limit as none
  filters.push_back(f);

  for (std::size_t i = 0; i < filters.size(); ++i) {
    INFO("filter " << i);
    CHECK(show(pg.list(filters[i])) == show(lite.list(filters[i])));
  }

  // The PostgreSQL answers themselves (event_queries_test.cpp's expectations).
  CHECK(ids_of(pg.list(filters[0])) ==
        Ids{id[9], id[8], id[7], id[6], id[5], id[4], id[3], id[2], id[1], id[0]});
  CHECK(ids_of(pg.list(filters[2])) == Ids{id[0], id[1], id[2]});
  CHECK(ids_of(pg.list(filters[3])) == Ids{id[2], id[1], id[0]});
  CHECK(ids_of(pg.list(filters[5])) == Ids{id[9], id[8], id[7], id[6], id[5], id[3], id[1], id[0]});
  CHECK(ids_of(pg.list(filters[6])).size() == 10);
  CHECK(ids_of(pg.list(filters[7])) == Ids{id[7], id[3]});
  CHECK(ids_of(pg.list(filters[9])) == Ids{id[3], id[2]});
  CHECK(ids_of(pg.list(filters[11])) == Ids{id[4], id[3], id[2], id[1], id[0]});
  CHECK(ids_of(pg.list(filters[12])) == Ids{id[4]});
  CHECK(pg.list(filters[13]).size() == id.size());
  const auto summaries = pg.list(filters[0]);
  CHECK(summaries[8].last_error == std::optional<std::string>("HTTP 500: boom"));
  CHECK(summaries[7].last_error == std::optional<std::string>(""));
  CHECK_FALSE(summaries[9].last_error.has_value());
  CHECK(summaries[5].next_attempt_at_ms == 77);

  // Paging with the admin cursor visits every event once, newest first, on both.
  for (const std::int64_t page : {1, 2, 3, 4}) {
    EventFilter paging = all;
    paging.limit = page;
    Ids walked;
    for (;;) {
      const auto rows = pg.list(paging);
      CHECK(show(rows) == show(lite.list(paging)));
      if (rows.empty()) break;
      for (const auto& r : rows) walked.push_back(r.id);
      paging.before = storage::EventPosition{rows.back().received_at_ms, rows.back().id};
    }
    CHECK(walked == ids_of(pg.list(all)));
  }
}

TEST_CASE("pg event queries find, count and read id ranges as SQLite does",
          "[postgres][pg_queries]") {
  EventSample s;
  SqliteEventQueries lite(s.twin.lite.store.database());
  PgEventQueries pg(s.twin.pg, 2);  // pages of two: the range crosses page ends
  const Ids& id = s.ids;

  for (const std::int64_t i : id) {
    INFO("event " << i);
    CHECK(show(pg.find(i)) == show(lite.find(i)));
  }
  CHECK_FALSE(pg.find(id.back() + 1).has_value());
  const auto binary = pg.find(id[7]);
  REQUIRE(binary.has_value());
  CHECK(binary->body == std::string("bin\0\xff\xfe\\x00'\"", 13));
  const auto quarantined = pg.find(id[9]);
  REQUIRE(quarantined.has_value());
  CHECK(quarantined->quarantine_reason == std::optional<std::string>("no_entity_id"));
  CHECK(quarantined->status == "quarantined");

  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto counts = sorted(show(pg.count_by_type_and_status()));
  CHECK(counts == sorted(show(lite.count_by_type_and_status())));
  CHECK(std::count_if(counts.begin(), counts.end(), [](const std::string& line) {
          return line.rfind("payment.settled|pending|", 0) == 0;
        }) == 1);

  for (const auto& [first, last] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{id[0], id.back()},
                                                          {id[1], id[4]},
                                                          {id[2], id[2]},
                                                          {id[3], id[6]},
                                                          {0, 1'000},
                                                          {id.back() + 1, id.back() + 9},
                                                          {id[5], id[4]}}) {
    INFO("range " << first << ".." << last);
    CHECK(pg.count_in_id_range(first, last) == lite.count_in_id_range(first, last));
    const auto pg_read = read_all(*pg.events_in_id_range(first, last));
    CHECK(pg_read == read_all(*lite.events_in_id_range(first, last)));
    CHECK(static_cast<std::int64_t>(pg_read.size()) == pg.count_in_id_range(first, last));
  }
  CHECK(pg.count_in_id_range(id[1], id[4]) == 4);

  // A cursor reads page by page: rows deleted behind it do not matter, the rest still come.
  auto cursor = pg.events_in_id_range(id[0], id.back());
  REQUIRE(cursor->next().has_value());
  s.twin.pg.exec("DELETE FROM events WHERE id = " + std::to_string(id[0]));
  std::int64_t rest = 0;
  while (cursor->next()) ++rest;
  CHECK(rest == static_cast<std::int64_t>(id.size()) - 1);
}

TEST_CASE("pg event queries purge what they count, as SQLite does, and nothing else",
          "[postgres][pg_queries]") {
  EventSample s;
  SqliteEventQueries lite(s.twin.lite.store.database());
  PgEventQueries pg(s.twin.pg);

  const std::vector<std::string> finished = {"done", "unhandled", "dead"};
  const std::int64_t cutoff = kMay3 - 2 * kHour;
  CHECK(pg.count_purgeable(cutoff, finished) == 3);
  CHECK(pg.count_purgeable(cutoff, finished) == lite.count_purgeable(cutoff, finished));
  CHECK(pg.count_purgeable(kMay3 + 1, {"pending"}) == lite.count_purgeable(kMay3 + 1, {"pending"}));
  CHECK(pg.purge_events(cutoff, finished) == 3);
  CHECK(lite.purge_events(cutoff, finished) == 3);
  EventFilter all;
  all.limit = 100;
  CHECK(show(pg.list(all)) == show(lite.list(all)));
  CHECK(pg.list(all).size() == s.ids.size() - 3);
  CHECK(pg.count_purgeable(cutoff, finished) == 0);
  CHECK(pg.purge_events(kMay3 + 1, {"unhandled"}) == 1);  // the one after the cutoff
  CHECK(pg.purge_events(kMay3 + 1, {}) == 0);
}

TEST_CASE("pg event queries purge more than one batch", "[postgres][pg_queries]") {
  const std::string url = testing::test_postgres().create_database();
  PgConnection db = migrated_postgres(url);
  const std::int64_t n = PgEventQueries::kPurgeBatch * 2 + 17;
  db.query(
      "INSERT INTO events (source, event_name, entity_kind, entity_id, state_token, event_type,"
      " status, body, request_id, received_at_ms, scheme, candidate, key_slot, updated_at_ms)"
      " SELECT 'production', 'payment.settled', 'transaction', 'tx-' || g, '', 'payment.settled',"
      " CASE WHEN g % 2 = 0 THEN 'done' ELSE 'dead' END, '\\x7b7d'::bytea, 'req', g, 'header',"
      " 'none', 0, g FROM generate_series(1, $1::bigint) AS g",
      {storage::PgParam::integer(n + 5)});
  db.exec("UPDATE events SET status = 'pending' WHERE received_at_ms > " + std::to_string(n));
  PgEventQueries q(db);
  CHECK(q.count_purgeable(n + 1'000, {"done", "dead"}) == n);
  CHECK(q.purge_events(n + 1'000, {"done", "dead"}) == n);
  CHECK(db.query("SELECT count(*) FROM events").integer(0, 0) == 5);
}

TEST_CASE("pg queries refuse an unmigrated database and name the fix", "[postgres][pg_queries]") {
  const std::string url = testing::test_postgres().create_database();
  PgConnection db = PgConnection::connect(url);
  CHECK_THROWS_WITH(storage::check_pg_inbox_schema(db),
                    Catch::Contains("run webhook-receiver migrate") &&
                        Catch::Contains("has no events table") && Catch::StartsWith("postgres "));
  CHECK_THROWS_WITH(PgProjectionQueries(db), Catch::Contains("run webhook-receiver migrate"));

  std::vector<storage::Migration> inbox_only;
  for (const auto& m : storage::embedded_postgres_migrations()) {
    if (m.version < 2) inbox_only.push_back(m);
  }
  storage::migrate_postgres(db, inbox_only);
  CHECK_NOTHROW(storage::check_pg_inbox_schema(db));
  CHECK_THROWS_WITH(PgProjectionQueries(db), Catch::Contains("schema version 1"));
  storage::migrate_postgres(db, storage::embedded_postgres_migrations());
  CHECK_NOTHROW(PgProjectionQueries(db));
}

// ---- projections ------------------------------------------------------------------------------

namespace {

constexpr std::int64_t kCaptured601 = 1777727111000;  // 04: 2026-05-02T13:05:11Z
constexpr std::int64_t kSettled601 = 1777740000000;   // 05: 2026-05-02T16:40:00Z
constexpr std::int64_t kRefund699 = 1777885241000;    // 09: 2026-05-04T09:00:41Z
const std::string kParent = "66a2b3c4d5e6f70812345601";
const std::string kRefund = "66a2b3c4d5e6f70812345699";
const std::string kReviewed = "66a2b3c4d5e6f70812345602";
const std::string kUnderpaid = "66a2b3c4d5e6f70812345603";
const std::string kCustomer = "66a2b3c4d5e6f70899990002";

// A varied data set: a refund parent and child in two sources, companions, a review cycle with
// a notification, open and closed reviews (one closed without an opening), customers with stale
// and untimed events, payments sharing externalIds between sources, finished events.
struct ProjectionSample {
  Twin twin;

  ProjectionSample() {
    Twin& t = twin;
    t.deliver("production", conomy_example("04-status-changed-captured.json"), kCaptured601 + 1000);
    t.deliver("production", conomy_example("05-status-changed-settled.json"), kSettled601 + 1000);
    t.deliver("production", conomy_example("09-payment-refund-created.json"), kRefund699 + 1000);
    t.deliver("sandbox", conomy_example("04-status-changed-captured.json"), kCaptured601 + 2000);

    const std::int64_t r = kMay3;
    t.deliver("production", tx_body("payment.settled", "tx-1", "SETTLED", "2026-05-03T10:00:00Z"),
              r + 1);
    t.deliver("production",
              tx_body("transaction.status_changed", "tx-1", "CAPTURED", "2026-05-03T09:00:00Z"),
              r + 2);
    t.deliver("production", tx_body("transaction.status_changed", "tx-1", "CAPTURED", ""), r + 3);
    t.deliver("production", tx_body("purchase.attempted", "tx-1", "", "2026-05-03T11:00:00Z"),
              r + 4);

    t.deliver("production", conomy_example("11-purchase-underpaid.json"), r + 5);
    t.deliver(
        "production",
        tx_body("purchase.underpaid", "66a2b3c4d5e6f70812345604", "SETTLED", "2026-05-05T11:20:17Z",
                R"(,"relatedPaymentId":"66a2b3c4d5e6f70812345603","totalAmount":"500.00")"),
        r + 6);
    t.deliver("production",
              tx_body("purchase.overpaid", "tx-605", "SETTLED", "2026-05-05T11:21:00Z",
                      R"(,"relatedPaymentId":"66a2b3c4d5e6f70812345603")"),
              r + 7);

    const std::int64_t opened = 1777803150000;  // 06: 2026-05-03T10:12:30Z
    t.deliver("production", conomy_example("06-payment-requires-review.json"), opened + 500, true);
    t.deliver("production", conomy_example("07-payment-review-approved.json"), opened + 4 * kHour);
    t.deliver("production", conomy_example("08-payment-settled.json"), opened + 9 * kHour);

    const auto open = [&](const std::string& source, const std::string& id, const std::string& at,
                          std::int64_t received) {
      t.deliver(source, tx_body("payment.requiresReview", id, "REQUIRES_REVIEW", at), received);
    };
    open("production", "rv-a", "2026-05-01T00:00:00Z", r + 11);
    open("sandbox", "rv-b", "2026-05-01T05:00:00Z", r + 12);
    open("production", "rv-c", "2026-05-01T09:00:00Z", r + 13);
    open("production", "rv-d", "2026-04-30T00:00:00Z", r + 14);
    open("production", "rv-e", "2026-05-01T08:00:00Z", r + 15);
    t.deliver("production",
              tx_body("payment.reviewApproved", "rv-d", "CAPTURED", "2026-04-30T02:00:00Z"),
              r + 16);
    t.deliver("production",
              tx_body("payment.reviewRejected", "rv-e", "FAILED", "2026-05-01T08:30:00Z"), r + 17);
    // Closed without an opening ever seen (opened_at_ms NULL).
    t.deliver("sandbox",
              tx_body("payment.reviewApproved", "rv-f", "CAPTURED", "2026-05-01T03:00:00Z"),
              r + 18);

    const std::int64_t c = kMay3 + 14 * kHour;
    t.deliver("production", conomy_example("10-customer-level-changed.json"), c);
    t.deliver("production", customer_body(kCustomer, "INACTIVE", 0, "2026-05-03T09:00:00Z"),
              c + kHour);
    t.deliver("production", customer_body(kCustomer, "STANDARD", 2, ""), c + 2 * kHour);
    t.deliver("sandbox", customer_body(kCustomer, "BASIC", std::nullopt, "2026-05-03T08:00:00Z"),
              c + 3 * kHour);
    t.deliver("sandbox", customer_body("cu-other", "BASIC", 1, ""), c + 4 * kHour);

    const auto pay = [&](const std::string& source, const std::string& id,
                         const std::string& status, const std::string& external, std::int64_t at) {
      return t.deliver(source,
                       tx_body("transaction.status_changed", id, status, "",
                               R"(,"externalId":")" + external + '"'),
                       at);
    };
    const std::int64_t since = kMay3 + 2 * 24 * kHour;
    t.finish(pay("production", "p-1", "SETTLED", "inv-1", since + 1), "done", 1, 100);
    t.finish(pay("sandbox", "s-1", "SETTLED", "inv-1", since + 2), "done", 2, 50);
    t.finish(pay("production", "p-2", "FAILED", "inv-2", since + 3), "done", 1, 300);
    t.finish(pay("sandbox", "s-2", "CAPTURED", "inv-2", since + 4), "unhandled", 3, 70);
    t.finish(pay("sandbox", "s-2", "SETTLED", "inv-2", since + 5), "dead", 5, 9000);
    pay("production", "p-3", "SETTLED", "inv-3", since + 6);
    pay("sandbox", "s-4", "SETTLED", "inv-4", since + 7);
    t.finish(pay("production", "p-9", "FAILED", "inv-9", since - 10), "done", 1, 1);
    t.finish(pay("sandbox", "s-9", "SETTLED", "inv-9", since - 9), "quarantined", 0, 0);
    pay("production", "p-10", "CAPTURED", "inv-10", since + 8);
    pay("sandbox", "s-10", "RECEIVED", "inv-10", since + 9);
    pay("sandbox", "s-11", "EXPIRED", "inv-10", since + 10);  // a second pair for inv-10
  }
};

}  // namespace

TEST_CASE("pg projection queries show payments, reviews and customers as SQLite does",
          "[postgres][pg_queries]") {
  ProjectionSample s;
  ProjectionQueries lite(s.twin.lite.store.database());
  PgProjectionQueries pg(s.twin.pg);

  for (const std::string& id :
       {kParent, kRefund, kReviewed, kUnderpaid, std::string("66a2b3c4d5e6f70812345604"),
        std::string("tx-605"), std::string("tx-1"), std::string("rv-d"), std::string("s-2"),
        std::string("unknown")}) {
    INFO("payment " << id);
    CHECK(show_views(pg.payment(id, std::nullopt)) == show_views(lite.payment(id, std::nullopt)));
    for (const std::string source : {"production", "sandbox", "nowhere"}) {
      CHECK(show_views(pg.payment(id, source)) == show_views(lite.payment(id, source)));
    }
  }
  const auto parent = pg.payment(kParent, std::nullopt);
  REQUIRE(parent.size() == 2);
  CHECK(parent[0].payment.source == "production");
  CHECK(parent[1].payment.source == "sandbox");
  REQUIRE(parent[0].children.size() == 1);
  CHECK(parent[0].children[0].transaction_id == kRefund);
  CHECK(parent[1].children.empty());
  const auto child = pg.payment(kRefund, std::string("production"));
  REQUIRE(child.size() == 1);
  REQUIRE(child[0].parent.has_value());
  CHECK(child[0].parent->transaction_id == kParent);
  const auto underpaid = pg.payment(kUnderpaid, std::nullopt);
  REQUIRE(underpaid.size() == 1);
  std::vector<std::string> companions;
  for (const auto& c : underpaid[0].companions) companions.push_back(c.transaction_id);
  CHECK(companions == std::vector<std::string>{"66a2b3c4d5e6f70812345604", "tx-605"});
  const auto history = pg.payment("tx-1", std::string("production"));
  REQUIRE(history.size() == 1);
  std::vector<std::string> effects;
  for (const auto& h : history[0].history) effects.push_back(h.status + " " + h.effect);
  CHECK(effects == std::vector<std::string>{"SETTLED applied", "CAPTURED stale",
                                            "CAPTURED terminal_kept", " no_status"});
  CHECK(history[0].payment.status_origin == "webhook");

  for (const std::string& id :
       {kReviewed, std::string("rv-a"), std::string("rv-f"), std::string("unknown")}) {
    INFO("review " << id);
    CHECK(show_views(pg.review(id, std::nullopt)) == show_views(lite.review(id, std::nullopt)));
    CHECK(show_views(pg.review(id, std::string("sandbox"))) ==
          show_views(lite.review(id, std::string("sandbox"))));
  }
  const auto reviewed = pg.review(kReviewed, std::nullopt);
  REQUIRE(reviewed.size() == 1);
  CHECK(reviewed[0].review.notify_state == "cancelled");  // closed before it was sent
  CHECK(reviewed[0].history.size() == 3);

  for (const std::string& id : {kCustomer, std::string("cu-other"), std::string("unknown")}) {
    INFO("customer " << id);
    CHECK(show_views(pg.customer(id, std::nullopt)) == show_views(lite.customer(id, std::nullopt)));
    CHECK(show_views(pg.customer(id, std::string("production"))) ==
          show_views(lite.customer(id, std::string("production"))));
  }
  const auto customer = pg.customer(kCustomer, std::nullopt);
  REQUIRE(customer.size() == 2);
  CHECK(customer[0].customer.operation_level == "STANDARD");
  CHECK_FALSE(customer[1].customer.documents_count.has_value());
  CHECK(customer[0].history.size() == 3);
}

TEST_CASE("pg projection queries list reviews in the same order as SQLite",
          "[postgres][pg_queries]") {
  ProjectionSample s;
  ProjectionQueries lite(s.twin.lite.store.database());
  PgProjectionQueries pg(s.twin.pg);
  const auto ids = [](const std::vector<storage::ReviewRow>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.source + "/" + r.transaction_id);
    return out;
  };

  std::vector<ReviewFilter> filters;
  for (const auto state :
       {ReviewFilter::State::open, ReviewFilter::State::closed, ReviewFilter::State::all}) {
    ReviewFilter f;
    f.state = state;
    filters.push_back(f);
    f.source = "production";
    filters.push_back(f);
    f.source.reset();
    f.opened_before_ms = 1777597200000;  // 2026-05-01T01:00:00Z
    filters.push_back(f);
    f.opened_before_ms.reset();
    for (const std::int64_t limit : {1, 2, 4, 6}) {
      f.limit = limit;
      filters.push_back(f);
    }
  }
  for (std::size_t i = 0; i < filters.size(); ++i) {
    INFO("filter " << i);
    CHECK(show(pg.reviews(filters[i])) == show(lite.reviews(filters[i])));
  }
  ReviewFilter all;
  all.state = ReviewFilter::State::all;
  CHECK(ids(pg.reviews(all)) ==
        std::vector<std::string>{"production/rv-a", "sandbox/rv-b", "production/rv-c",
                                 "production/" + kReviewed, "production/rv-e", "production/rv-d",
                                 "sandbox/rv-f"});
}

TEST_CASE("pg projection queries compare two sources as SQLite does", "[postgres][pg_queries]") {
  ProjectionSample s;
  ProjectionQueries lite(s.twin.lite.store.database());
  PgProjectionQueries pg(s.twin.pg);
  const std::int64_t since = kMay3 + 2 * 24 * kHour;
  const std::int64_t until = since + 24 * kHour;

  for (const auto& [from, to, limit] :
       std::vector<std::tuple<std::int64_t, std::int64_t, int>>{{since, until, 100},
                                                                {since - kHour, until, 100},
                                                                {since - kHour, until, 1},
                                                                {since, until, 0},
                                                                {0, until * 2, 100},
                                                                {since + 5, since + 6, 100}}) {
    INFO("window " << from << ".." << to << " limit " << limit);
    CHECK(show(pg.compare("production", "sandbox", from, to, limit)) ==
          show(lite.compare("production", "sandbox", from, to, limit)));
    CHECK(show(pg.compare("sandbox", "production", from, to, limit)) ==
          show(lite.compare("sandbox", "production", from, to, limit)));
    CHECK(show(pg.compare("production", "staging", from, to, limit)) ==
          show(lite.compare("production", "staging", from, to, limit)));
  }

  const auto c = pg.compare("production", "sandbox", since, until, 100);
  CHECK(c.total_a.received == 4);
  CHECK(c.total_a.done == 2);
  CHECK(c.total_a.p50_ms == 100);
  CHECK(c.total_a.max_ms == 300);
  CHECK(c.total_b.received == 6);
  CHECK(c.total_b.dead == 1);
  CHECK(c.total_b.unhandled == 1);
  CHECK(c.total_b.retried == 3);
  CHECK(c.shared_external_ids == 3);    // inv-1, inv-2, inv-10
  CHECK(c.agreeing_external_ids == 1);  // inv-1
  CHECK(c.differing_pairs == 3);        // inv-2, and both pairs of inv-10
  REQUIRE(c.differences.size() == 3);
  CHECK(c.differences[0].external_id == "inv-10");  // byte order: "inv-10" < "inv-2"
  CHECK(c.differences[2].external_id == "inv-2");
  const auto wider = pg.compare("production", "sandbox", since - kHour, until, 100);
  CHECK(wider.differing_pairs == 4);  // inv-9 too
}

TEST_CASE("pg reconciliation queries pick the same payments and customers as SQLite",
          "[postgres][pg_queries]") {
  ProjectionSample s;
  ProjectionQueries lite(s.twin.lite.store.database());
  PgProjectionQueries pg(s.twin.pg);
  const std::int64_t far = kMay3 + 365 * 24 * kHour;

  for (const std::string source : {"production", "sandbox", "nowhere"}) {
    INFO("source " << source);
    for (const std::int64_t limit : {1, 2, 100}) {
      CHECK(show(pg.payments_awaiting_settlement(source, far, limit)) ==
            show(lite.payments_awaiting_settlement(source, far, limit)));
      CHECK(show(pg.payments_open_since(source, 0, -limit)) ==
            show(lite.payments_open_since(source, 0, -limit)));
      CHECK(show(pg.payments_open_since(source, 0, limit)) ==
            show(lite.payments_open_since(source, 0, limit)));
      CHECK(show(pg.payments_open_since(source, kMay3 + 2 * 24 * kHour + 8, limit)) ==
            show(lite.payments_open_since(source, kMay3 + 2 * 24 * kHour + 8, limit)));
      CHECK(show(pg.customers_seen(source, 0, far, limit)) ==
            show(lite.customers_seen(source, 0, far, limit)));
      CHECK(show(pg.customers_seen(source, kMay3 + 15 * kHour, kMay3 + 17 * kHour, limit)) ==
            show(lite.customers_seen(source, kMay3 + 15 * kHour, kMay3 + 17 * kHour, limit)));
    }
  }
  const auto awaiting = pg.payments_awaiting_settlement("sandbox", far, 100);
  std::vector<std::string> ids;
  for (const auto& p : awaiting) ids.push_back(p.transaction_id);
  CHECK(ids == std::vector<std::string>{"rv-f", kParent, "s-10"});  // oldest captured first
  CHECK(pg.payments_awaiting_settlement("sandbox", far, 1).size() == 1);
  CHECK(pg.customers_seen("sandbox", 0, far, 100).size() == 2);
}

TEST_CASE("pg reviews list breaks ties of the opening time by source and transaction id",
          "[postgres][pg_queries]") {
  // SQLite breaks such ties by rowid (arrival); PostgreSQL has none, so these differ by design
  // (pg_projection_queries.hpp) and only the PostgreSQL order is checked.
  Twin t;
  const std::string at = "2026-05-01T06:00:00Z";
  for (const auto& [source, id] : std::vector<std::pair<std::string, std::string>>{
           {"sandbox", "rv-a"}, {"production", "rv-z"}, {"production", "rv-y"}}) {
    t.deliver(source, tx_body("payment.requiresReview", id, "REQUIRES_REVIEW", at), kMay3);
  }
  t.deliver("production", tx_body("payment.reviewApproved", "rv-z", "CAPTURED", at), kMay3 + 1);
  t.deliver("production", tx_body("payment.reviewApproved", "rv-y", "CAPTURED", at), kMay3 + 2);
  PgProjectionQueries pg(t.pg);
  const auto ids = [](const std::vector<storage::ReviewRow>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.source + "/" + r.transaction_id + "/" + r.state);
    return out;
  };
  t.deliver("production", tx_body("payment.requiresReview", "rv-b", "REQUIRES_REVIEW", at), kMay3);
  ReviewFilter all;
  all.state = ReviewFilter::State::all;
  CHECK(ids(pg.reviews(all)) ==
        std::vector<std::string>{"production/rv-b/open", "sandbox/rv-a/open",
                                 "production/rv-z/closed", "production/rv-y/closed"});
}
