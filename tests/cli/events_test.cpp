// Tests `webhook-receiver events` (src/cli/events*.cpp) through cmd_events / cmd_events_at,
// against a real database file: deliveries stored with SqliteInbox, their status set with the
// queue methods or SQL, then listed, shown, counted, purged and redriven.

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include "support/cli_run.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "storage/storage_test_support.hpp"
#include "webhook/core/text.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace {

using webhook::cli::ArgList;
using webhook::cli::cmd_events;
using webhook::cli::Io;
using webhook::storage::SqliteInbox;
using webhook::test::make_delivery;
using webhook::test::TempDir;

constexpr std::int64_t kFarFuture = std::numeric_limits<std::int64_t>::max();

using Run = webhook::testing::CliRun;

Run events(const ArgList& args) {
  return webhook::testing::run_cli([&](Io io) { return cmd_events(args, io); });
}

// A database with five events: three dead (ids[0..2]), one done (ids[3]), one pending (ids[4]).
struct DeadLetters {
  TempDir dir;
  std::string path = dir.file("inbox.db");
  SqliteInbox inbox{webhook::test::open_migrated(path)};
  std::vector<std::int64_t> ids;

  DeadLetters() {
    const std::vector<webhook::core::Delivery> batch = {
        make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-3"), make_delivery("tx-4"),
        make_delivery("tx-5")};
    for (const auto& r : inbox.store_batch(batch)) ids.push_back(r.event_id);
    REQUIRE(inbox.claim_due(1000, 4).size() == 4);
    REQUIRE(inbox.mark_dead(ids[0], "HTTP 400", 1001));
    REQUIRE(inbox.mark_dead(ids[1], "gave up after 5 attempts: timeout", 1001));
    REQUIRE(inbox.mark_dead(ids[2], "HTTP 410", 1001));
    REQUIRE(inbox.mark_done(ids[3], 1001));
  }

  std::string status(std::int64_t id) { return inbox.find_event(id).value().status; }
  std::string id(std::size_t i) const { return std::to_string(ids.at(i)); }
};

}  // namespace

TEST_CASE("events retry puts the given dead events back to pending", "[cli][events]") {
  DeadLetters db;

  const Run r = events({"retry", db.id(0), db.id(2), "--db", db.path});

  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out == "2 events back to pending\n");
  CHECK(r.err.empty());
  for (const std::size_t i : {0U, 2U}) {
    const auto e = db.inbox.find_event(db.ids[i]);
    CHECK(e->status == "pending");
    CHECK(e->attempts == 0);
    CHECK(e->next_attempt_at_ms > 1001);  // due now (the wall clock)
  }
  CHECK(db.inbox.find_event(db.ids[0])->last_error == "HTTP 400");  // kept for the operator
  CHECK(db.status(db.ids[1]) == "dead");
  CHECK(db.inbox.claim_due(kFarFuture, 10).size() == 3);  // with the pending ids[4]
}

TEST_CASE("events retry reports ids that are not dead as skipped", "[cli][events]") {
  DeadLetters db;

  const Run r = events({"retry", db.id(3), db.id(1), db.id(4), "9999", "--db", db.path});

  CHECK(r.code == 0);
  CHECK(r.out == "skipped event " + db.id(3) +
                     ": it is done, not dead\n"
                     "skipped event " +
                     db.id(4) +
                     ": it is pending, not dead\n"
                     "skipped event 9999: no such event\n"
                     "1 event back to pending\n");
  CHECK(db.status(db.ids[1]) == "pending");
  CHECK(db.status(db.ids[3]) == "done");
  CHECK(db.status(db.ids[0]) == "dead");
}

TEST_CASE("events retry --dead puts every dead event back", "[cli][events]") {
  DeadLetters db;

  const Run r = events({"retry", "--dead", "--db", db.path});

  CHECK(r.code == 0);
  CHECK(r.out == "3 events back to pending\n");
  for (const std::size_t i : {0U, 1U, 2U}) CHECK(db.status(db.ids[i]) == "pending");
  CHECK(db.status(db.ids[3]) == "done");
  CHECK(events({"retry", "--dead", "--db", db.path}).out == "0 events back to pending\n");
}

TEST_CASE("events retry reads the database path from --config", "[cli][events]") {
  DeadLetters db;
  const std::string config = db.dir.file("config.json");
  std::ofstream(config) << R"({ "storage": { "sqlite_path": ")" << db.path << R"(" } })";

  const Run r = events({"retry", db.id(1), "--config", config});

  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out == "1 event back to pending\n");
  CHECK(db.status(db.ids[1]) == "pending");
}

TEST_CASE("events retry rejects a bad id with exit 2 and changes nothing", "[cli][events]") {
  DeadLetters db;

  for (const std::string bad : {"abc", "0", "-3", "12x", "99999999999999999999"}) {
    const Run r = events({"retry", db.id(0), bad, "--db", db.path});
    INFO(bad);
    CHECK(r.code == 2);
    CHECK(r.err.find("'" + bad + "'") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
  }
  CHECK(db.status(db.ids[0]) == "dead");
}

TEST_CASE("events retry usage errors exit 2 with one line", "[cli][events]") {
  DeadLetters db;
  const std::vector<std::pair<ArgList, std::string>> cases = {
      {{}, "action"},
      {{"resurrect", "--db", db.path}, "resurrect"},
      {{"retry", "--db", db.path}, "--dead"},
      {{"retry", db.id(0), "--dead", "--db", db.path}, "--dead"},
      {{"retry", db.id(0), "--db", db.path, "--config", "x.json"}, "--config"},
      {{"retry", db.id(0), "--bogus", "--db", db.path}, "--bogus"},
  };
  for (const auto& [args, mentions] : cases) {
    const Run r = events(args);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("webhook-receiver events: ", 0) == 0);
    CHECK(r.err.find(mentions) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(db.status(db.ids[0]) == "dead");
}

TEST_CASE("events retry on a missing database exits 1 and creates nothing", "[cli][events]") {
  TempDir dir;
  const std::string path = dir.file("typo.db");

  const Run r = events({"retry", "--dead", "--db", path});

  CHECK(r.code == 1);
  CHECK(r.err.find(path) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("events and events retry answer --help", "[cli][events]") {
  const Run top = events({"--help"});
  CHECK(top.code == 0);
  CHECK(top.out.find("retry ID...") != std::string::npos);
  const Run retry = events({"retry", "--help"});
  CHECK(retry.code == 0);
  CHECK(retry.out.find("--dead") != std::string::npos);
  CHECK(retry.err.empty());
}

TEST_CASE("webhook-receiver dispatches the events command", "[cli][events]") {
  DeadLetters db;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;

  CHECK(webhook::cli::run({"events", "retry", "--dead", "--db", db.path}, Io{in, out, err}) == 0);
  CHECK(out.str() == "3 events back to pending\n");
  std::ostringstream help;
  CHECK(webhook::cli::run({"--help"}, Io{in, help, err}) == 0);
  CHECK(help.str().find("events list|show ID|stats|retry") != std::string::npos);
}

// ---- list, show, stats, purge --------------------------------------------------------------
// A fixed "now" (2026-05-03T10:00:00Z) passed to cmd_events_at(); rows are stored with
// received_at_ms relative to it and their status, attempts and last error set by SQL.

namespace {

using webhook::cli::cmd_events_at;

constexpr std::int64_t kNow = 1'777'802'400'000;  // 2026-05-03T10:00:00.000Z
constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

Run events_at(const ArgList& args, std::int64_t now_ms = kNow) {
  return webhook::testing::run_cli([&](Io io) { return cmd_events_at(args, io, now_ms); });
}

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  INFO(text);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

std::string json_string(const rapidjson::Value& v, const char* key) {
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return std::string(v[key].GetString(), v[key].GetStringLength());
}

std::int64_t json_int(const rapidjson::Value& v, const char* key) {
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsInt64());
  return v[key].GetInt64();
}

// An inbox of events of several types, sources, ages and statuses.
struct Events {
  TempDir dir;
  std::string path = dir.file("inbox.db");
  SqliteInbox inbox{webhook::test::open_migrated(path)};

  // Stores one delivery received `age_ms` before kNow and gives it `status`.
  std::int64_t add(webhook::core::Delivery d, std::int64_t age_ms, const std::string& status,
                   int attempts = 0, const std::string& last_error = "") {
    d.received_at_ms = kNow - age_ms;
    const std::vector<webhook::core::Delivery> batch = {d};
    const auto results = inbox.store_batch(batch);
    REQUIRE(results.at(0).kind == webhook::core::StoreResult::Kind::inserted);
    const std::int64_t id = results[0].event_id;
    inbox.database().exec("UPDATE events SET status = '" + status +
                          "', attempts = " + std::to_string(attempts) +
                          (last_error.empty() ? "" : ", last_error = '" + last_error + "'") +
                          " WHERE id = " + std::to_string(id));
    return id;
  }

  std::int64_t add(const std::string& entity, const std::string& type, std::int64_t age_ms,
                   const std::string& status, int attempts = 0,
                   const std::string& last_error = "") {
    return add(make_delivery(entity, type), age_ms, status, attempts, last_error);
  }

  bool exists(std::int64_t id) { return inbox.find_event(id).has_value(); }
};

// The standard set: seven events, newest first: customer (30m, processing, sandbox),
// batch (1h, done), refund (2h, pending), dead (3h), done (10d), unhandled (40d),
// quarantined (50d).
struct Sample : Events {
  std::int64_t done_10d = add("tx-1", "payment.settled", 10 * kDay, "done", 1);
  std::int64_t dead_3h = add("tx-2", "payment.settled", 3 * kHour, "dead", 5, "HTTP 400");
  std::int64_t pending_2h = add("tx-3", "payment.refunded", 2 * kHour, "pending");
  std::int64_t processing_30m = add(customer(), 30 * kMinute, "processing", 1);
  std::int64_t unhandled_40d = add("tx-2", "transaction.status_changed", 40 * kDay, "unhandled", 1);
  std::int64_t quarantined_50d =
      add(webhook::test::make_quarantined("ab12"), 50 * kDay, "quarantined");
  std::int64_t batch_1h = add("tx-4", "payments.batch", kHour, "done", 1);

  static webhook::core::Delivery customer() {
    webhook::core::Delivery d = make_delivery("cu-1", "customer.levelChanged");
    d.key = {"sandbox", "customer.levelChanged", "customer", "cu-1", "2|3"};
    d.entity_kind = "customer";
    return d;
  }
};

// The ids of a `list --json` answer, in order.
std::vector<std::int64_t> listed(const ArgList& args) {
  const Run r = events_at(args);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const rapidjson::Document doc = parse_json(r.out);
  REQUIRE(doc.IsArray());
  std::vector<std::int64_t> ids;
  for (const auto& e : doc.GetArray()) ids.push_back(json_int(e, "id"));
  return ids;
}

using Ids = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("events list --json lists every event newest first, field by field", "[cli][events]") {
  Sample db;

  const Run r = events_at({"list", "--json", "--db", db.path});

  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  const rapidjson::Document doc = parse_json(r.out);
  REQUIRE(doc.IsArray());
  REQUIRE(doc.Size() == 7);
  Ids ids;
  for (const auto& e : doc.GetArray()) ids.push_back(json_int(e, "id"));
  CHECK(ids == Ids{db.processing_30m, db.batch_1h, db.pending_2h, db.dead_3h, db.done_10d,
                   db.unhandled_40d, db.quarantined_50d});

  const rapidjson::Value& dead = doc[3];
  CHECK(json_int(dead, "id") == db.dead_3h);
  CHECK(json_string(dead, "source") == "production");
  CHECK(json_string(dead, "event_type") == "payment.settled");
  CHECK(json_string(dead, "entity_kind") == "transaction");
  CHECK(json_string(dead, "entity_id") == "tx-2");
  CHECK(json_string(dead, "status") == "dead");
  CHECK(json_int(dead, "attempts") == 5);
  CHECK(json_string(dead, "received_at") == "2026-05-03T07:00:00.000Z");
  CHECK(json_int(dead, "received_at_ms") == kNow - 3 * kHour);
  CHECK(json_int(dead, "next_attempt_at_ms") == 0);
  CHECK(json_string(dead, "last_error") == "HTTP 400");
  CHECK(json_string(dead, "request_id") == "req-tx-2");
  CHECK_FALSE(dead.HasMember("body"));
  CHECK(dead.MemberCount() == 12);

  const rapidjson::Value& customer = doc[0];
  CHECK(json_string(customer, "source") == "sandbox");
  CHECK(json_string(customer, "entity_kind") == "customer");
  CHECK(json_string(customer, "status") == "processing");
  REQUIRE(customer.HasMember("last_error"));
  CHECK(customer["last_error"].IsNull());
  const rapidjson::Value& quarantined = doc[6];
  CHECK(json_string(quarantined, "entity_kind") == "quarantine");  // the dedup key's columns
  CHECK(json_string(quarantined, "entity_id") == "ab12");
}

TEST_CASE("events list prints an aligned table without --json", "[cli][events]") {
  Sample db;

  const Run r = events_at({"list", "--db", db.path});

  INFO(r.out);
  REQUIRE(r.code == 0);
  std::vector<std::string> lines;
  std::istringstream text(r.out);
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  REQUIRE(lines.size() == 8);  // header + 7 events
  CHECK(lines[0].rfind("ID  ", 0) == 0);
  for (const char* column : {"RECEIVED", "STATUS", "ATTEMPTS", "TYPE", "SOURCE", "ENTITY"}) {
    const std::size_t at = lines[0].find(column);
    REQUIRE(at != std::string::npos);
    for (std::size_t i = 1; i < lines.size(); ++i) {
      INFO(column << " in " << lines[i]);
      CHECK(lines[i][at - 1] == ' ');  // every cell starts under its header
      CHECK(lines[i][at] != ' ');
    }
  }
  CHECK(lines[0].find("LAST ERROR") != std::string::npos);
  CHECK(lines[1].rfind(std::to_string(db.processing_30m) + " ", 0) == 0);
  CHECK(lines[4].find("2026-05-03T07:00:00.000Z") != std::string::npos);
  CHECK(lines[4].find("dead") != std::string::npos);
  CHECK(lines[4].find("transaction:tx-2") != std::string::npos);
  CHECK(lines[4].find("HTTP 400") != std::string::npos);
  CHECK(r.err.empty());

  Events empty;
  const Run none = events_at({"list", "--db", empty.path});
  CHECK(none.code == 0);
  CHECK(none.out == "no matching events\n");
  CHECK(events_at({"list", "--json", "--db", empty.path}).out == "[]\n");
}

TEST_CASE("events list filters by status, type, source, entity and time", "[cli][events]") {
  Sample db;
  const std::string path = db.path;

  CHECK(listed({"list", "--status", "dead", "--json", "--db", path}) == Ids{db.dead_3h});
  CHECK(listed({"list", "--status", "dead", "--status", "pending", "--json", "--db", path}) ==
        Ids{db.pending_2h, db.dead_3h});
  CHECK(listed({"list", "--status=dead,pending", "--json", "--db", path}) ==
        Ids{db.pending_2h, db.dead_3h});
  // A prefix keeps its dot: payment.* is not payments.batch.
  CHECK(listed({"list", "--type", "payment.*", "--json", "--db", path}) ==
        Ids{db.pending_2h, db.dead_3h, db.done_10d, db.quarantined_50d});
  CHECK(listed({"list", "--type", "payment.settled", "--json", "--db", path}) ==
        Ids{db.dead_3h, db.done_10d, db.quarantined_50d});
  CHECK(listed({"list", "--type", "payment", "--json", "--db", path}).empty());
  CHECK(listed({"list", "--source", "sandbox", "--json", "--db", path}) == Ids{db.processing_30m});
  CHECK(listed({"list", "--entity", "tx-2", "--json", "--db", path}) ==
        Ids{db.dead_3h, db.unhandled_40d});
  CHECK(listed({"list", "--since", "2h", "--json", "--db", path}) ==
        Ids{db.processing_30m, db.batch_1h, db.pending_2h});  // at or after now - 2h
  CHECK(listed({"list", "--until", "1d", "--json", "--db", path}) ==
        Ids{db.done_10d, db.unhandled_40d, db.quarantined_50d});
  // --until is exclusive: pending_2h was received at 08:00:00.000.
  CHECK(listed({"list", "--since", "2026-04-01T00:00:00Z", "--until", "2026-05-03T08:00:00Z",
                "--json", "--db", path}) == Ids{db.dead_3h, db.done_10d});
  CHECK(listed({"list", "--since", "2026-04-01T00:00:00Z", "--until", "2026-05-03T08:00:00.001Z",
                "--json", "--db", path}) == Ids{db.pending_2h, db.dead_3h, db.done_10d});
  CHECK(listed({"list", "--since", "2026-04-01", "--type", "payment.*", "--status", "done",
                "--json", "--db", path}) == Ids{db.done_10d});
  CHECK(listed({"list", "--limit", "2", "--json", "--db", path}) ==
        Ids{db.processing_30m, db.batch_1h});
  CHECK(listed({"list", "--oldest-first", "--limit", "2", "--json", "--db", path}) ==
        Ids{db.quarantined_50d, db.unhandled_40d});
  CHECK(listed({"list", "--status", "quarantined", "--source", "sandbox", "--json", "--db", path})
            .empty());

  const Run limited = events_at({"list", "--limit", "2", "--db", path});
  CHECK(limited.code == 0);
  CHECK(limited.err.find("--limit") != std::string::npos);  // a hint that more may match
}

TEST_CASE("events show prints every column, the dedup key and the raw body last", "[cli][events]") {
  Sample db;

  const Run r = events_at({"show", std::to_string(db.dead_3h), "--db", db.path});

  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string body = make_delivery("tx-2").body;
  const std::string tail = "body:\n" + body;
  REQUIRE(r.out.size() > tail.size());
  CHECK(r.out.substr(r.out.size() - tail.size()) == tail);  // byte-exact, nothing after it
  // One "name  value" line per column, values aligned after the longest name
  // (quarantine_reason, 17 characters).
  const auto line = [](const std::string& name, const std::string& value) {
    return "\n" + name + std::string(19 - name.size(), ' ') + value + "\n";
  };
  for (const std::string& expected :
       {line("id", std::to_string(db.dead_3h)), line("status", "dead"),
        line("event_type", "payment.settled"), line("state_token", R"("")"),
        line("received_at", "2026-05-03T07:00:00.000Z (1777791600000)"),
        line("next_attempt_at", "1970-01-01T00:00:00.000Z (0)"), line("attempts", "5"),
        line("last_error", "HTTP 400"), line("quarantine_reason", "-"),
        line("request_id", "req-tx-2"),
        line("dedup_key", R"(["production","payment.settled","transaction","tx-2",""])"),
        line("body_bytes", std::to_string(body.size()))}) {
    CHECK(("\n" + r.out).find(expected) != std::string::npos);
  }
  CHECK(r.out.rfind("id ", 0) == 0);
  for (const char* name : {"source", "event_name", "entity_kind", "entity_id", "state_token",
                           "scheme", "candidate", "key_slot", "next_attempt_at", "updated_at"}) {
    CHECK(r.out.find(std::string("\n") + name + " ") != std::string::npos);
  }
}

TEST_CASE("events show --json has every column and the body as a string", "[cli][events]") {
  Sample db;

  const Run r = events_at({"show", std::to_string(db.processing_30m), "--json", "--db", db.path});

  INFO(r.err);
  REQUIRE(r.code == 0);
  const rapidjson::Document e = parse_json(r.out);
  REQUIRE(e.IsObject());
  CHECK(json_int(e, "id") == db.processing_30m);
  CHECK(json_string(e, "source") == "sandbox");
  CHECK(json_string(e, "event_name") == "customer.levelChanged");
  CHECK(json_string(e, "entity_kind") == "customer");
  CHECK(json_string(e, "entity_id") == "cu-1");
  CHECK(json_string(e, "state_token") == "2|3");
  CHECK(json_string(e, "event_type") == "customer.levelChanged");
  CHECK(json_string(e, "status") == "processing");
  CHECK(e["quarantine_reason"].IsNull());
  CHECK(json_string(e, "request_id") == "req-cu-1");
  CHECK(json_int(e, "received_at_ms") == kNow - 30 * kMinute);
  CHECK(json_string(e, "received_at") == "2026-05-03T09:30:00.000Z");
  CHECK(json_string(e, "scheme") == "header");
  CHECK(json_int(e, "key_slot") == 0);
  CHECK(json_int(e, "attempts") == 1);
  CHECK(json_int(e, "next_attempt_at_ms") == 0);
  CHECK(json_string(e, "next_attempt_at") == "1970-01-01T00:00:00.000Z");
  CHECK(e["last_error"].IsNull());
  CHECK(json_int(e, "updated_at_ms") == kNow - 30 * kMinute);
  const rapidjson::Value& key = e["dedup_key"];
  CHECK(json_string(key, "source") == "sandbox");
  CHECK(json_string(key, "event_name") == "customer.levelChanged");
  CHECK(json_string(key, "entity_kind") == "customer");
  CHECK(json_string(key, "entity_id") == "cu-1");
  CHECK(json_string(key, "state_token") == "2|3");
  CHECK(json_string(e, "body") == make_delivery("cu-1", "customer.levelChanged").body);
  CHECK(json_int(e, "body_bytes") == static_cast<std::int64_t>(json_string(e, "body").size()));
  CHECK_FALSE(e.HasMember("body_base64"));
}

TEST_CASE("events show gives a body that is not UTF-8 as body_base64", "[cli][events]") {
  Events db;
  webhook::core::Delivery d = make_delivery("tx-bin");
  d.body = std::string("{\"a\":\"\xff\xfe\"}\0tail\x80", 15);
  const std::int64_t id = db.add(d, kHour, "quarantined");

  const Run json = events_at({"show", std::to_string(id), "--json", "--db", db.path});
  REQUIRE(json.code == 0);
  const rapidjson::Document e = parse_json(json.out);
  CHECK_FALSE(e.HasMember("body"));
  const auto decoded = webhook::core::base64_decode(json_string(e, "body_base64"));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == d.body);
  CHECK(json_int(e, "body_bytes") == 15);

  const Run text = events_at({"show", std::to_string(id), "--db", db.path});
  REQUIRE(text.code == 0);
  CHECK(text.out.substr(text.out.size() - d.body.size()) == d.body);  // raw, NUL included
}

TEST_CASE("events show of an unknown or bad id", "[cli][events]") {
  Sample db;

  const Run missing = events_at({"show", "9999", "--db", db.path});
  CHECK(missing.code == 1);
  CHECK(missing.out.empty());
  CHECK(missing.err == "webhook-receiver events: no event 9999\n");

  const Run bad = events_at({"show", "x1", "--db", db.path});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("'x1'") != std::string::npos);
}

TEST_CASE("events stats counts by status and type, backlog age and dead letters", "[cli][events]") {
  Sample db;
  db.add("tx-5", "payment.refunded", 5 * kHour, "pending");  // the oldest unfinished

  const Run r = events_at({"stats", "--json", "--db", db.path});

  INFO(r.err);
  REQUIRE(r.code == 0);
  const rapidjson::Document s = parse_json(r.out);
  CHECK(json_int(s, "now_ms") == kNow);
  CHECK(json_int(s, "total") == 8);
  const rapidjson::Value& by_status = s["by_status"];
  CHECK(json_int(by_status, "pending") == 2);
  CHECK(json_int(by_status, "processing") == 1);
  CHECK(json_int(by_status, "done") == 2);
  CHECK(json_int(by_status, "unhandled") == 1);
  CHECK(json_int(by_status, "dead") == 1);
  CHECK(json_int(by_status, "quarantined") == 1);
  const rapidjson::Value& unfinished = s["unfinished"];
  CHECK(json_int(unfinished, "count") == 3);
  CHECK(json_int(unfinished, "oldest_received_at_ms") == kNow - 5 * kHour);
  CHECK(json_string(unfinished, "oldest_received_at") == "2026-05-03T05:00:00.000Z");
  CHECK(json_int(unfinished, "oldest_age_ms") == 5 * kHour);
  CHECK(json_int(s, "dead_letters") == 1);

  const rapidjson::Value& types = s["by_type"];
  REQUIRE(types.IsArray());
  std::vector<std::string> names;
  for (const auto& t : types.GetArray()) names.push_back(json_string(t, "event_type"));
  CHECK(names == std::vector<std::string>{"customer.levelChanged", "payment.refunded",
                                          "payment.settled", "payments.batch",
                                          "transaction.status_changed"});
  const rapidjson::Value& refunded = types[1];
  CHECK(json_int(refunded, "total") == 2);
  CHECK(json_int(refunded["by_status"], "pending") == 2);
  CHECK(json_int(refunded["unfinished"], "count") == 2);
  CHECK(json_int(refunded["unfinished"], "oldest_age_ms") == 5 * kHour);
  CHECK(json_int(refunded, "dead_letters") == 0);
  const rapidjson::Value& settled = types[2];
  CHECK(json_int(settled, "total") == 3);  // the quarantined delivery's type too
  CHECK(json_int(settled["by_status"], "done") == 1);
  CHECK(json_int(settled["by_status"], "dead") == 1);
  CHECK(json_int(settled["by_status"], "quarantined") == 1);
  CHECK(json_int(settled["unfinished"], "count") == 0);
  CHECK(settled["unfinished"]["oldest_age_ms"].IsNull());
  CHECK(json_int(settled, "dead_letters") == 1);
  CHECK(json_int(types[0]["unfinished"], "oldest_age_ms") == 30 * kMinute);

  const Run text = events_at({"stats", "--db", db.path});
  INFO(text.out);
  REQUIRE(text.code == 0);
  CHECK(text.out.rfind("events: 8 (as of 2026-05-03T10:00:00.000Z)\n", 0) == 0);
  CHECK(text.out.find("  pending      2\n") != std::string::npos);
  CHECK(text.out.find("unfinished (pending + processing): 3, oldest 5h 0m "
                      "(2026-05-03T05:00:00.000Z)\n") != std::string::npos);
  CHECK(text.out.find("dead letters: 1\n") != std::string::npos);
  CHECK(text.out.find("TYPE  ") != std::string::npos);
  CHECK(text.out.find("payment.refunded  ") != std::string::npos);
}

TEST_CASE("events stats of an empty inbox", "[cli][events]") {
  Events db;

  const Run r = events_at({"stats", "--json", "--db", db.path});

  REQUIRE(r.code == 0);
  const rapidjson::Document s = parse_json(r.out);
  CHECK(json_int(s, "total") == 0);
  CHECK(s["unfinished"]["oldest_received_at_ms"].IsNull());
  CHECK(s["by_type"].Empty());
}

TEST_CASE("events purge deletes old finished events and keeps unfinished and recent ones",
          "[cli][events]") {
  Sample db;
  const std::int64_t old_pending = db.add("tx-6", "payment.settled", 60 * kDay, "pending");
  const std::int64_t old_processing = db.add("tx-7", "payment.settled", 60 * kDay, "processing");
  const std::int64_t old_dead = db.add("tx-8", "payment.settled", 20 * kDay, "dead", 5, "gone");

  // received before 2026-04-26T10:00:00Z: done_10d, unhandled_40d, quarantined_50d, old_dead
  const Run dry = events_at({"purge", "--older-than", "7d", "--dry-run", "--db", db.path});
  INFO(dry.err);
  REQUIRE(dry.code == 0);
  CHECK(dry.out ==
        "would delete 4 events (done, unhandled, dead, quarantined) received before "
        "2026-04-26T10:00:00.000Z (dry run: nothing deleted)\n");
  CHECK(db.inbox.count_events() == 10);

  const Run dead_only =
      events_at({"purge", "--older-than", "7d", "--status", "dead", "--db", db.path});
  REQUIRE(dead_only.code == 0);
  CHECK(dead_only.out == "deleted 1 event (dead) received before 2026-04-26T10:00:00.000Z\n");
  CHECK_FALSE(db.exists(old_dead));

  const Run r = events_at({"purge", "--older-than", "7d", "--db", db.path});
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("deleted 3 events (", 0) == 0);
  for (const std::int64_t gone : {db.done_10d, db.unhandled_40d, db.quarantined_50d}) {
    CHECK_FALSE(db.exists(gone));
  }
  for (const std::int64_t kept :
       {old_pending, old_processing, db.dead_3h, db.pending_2h, db.processing_30m, db.batch_1h}) {
    CHECK(db.exists(kept));
  }
  CHECK(events_at({"purge", "--older-than", "7d", "--db", db.path})
            .out.rfind("deleted 0 events", 0) == 0);
}

TEST_CASE("events purge refuses a retention inside the platform's retry window", "[cli][events]") {
  Sample db;

  for (const char* short_retention : {"24h", "1d", "90m", "0s"}) {
    const Run r = events_at({"purge", "--older-than", short_retention, "--db", db.path});
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find("--older-than") != std::string::npos);
    CHECK(r.err.find("--force-short-retention") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(db.inbox.count_events() == 7);
  CHECK(events_at({"purge", "--older-than", "25h", "--dry-run", "--db", db.path}).code == 0);

  // Forced: done/dead/... received more than 1h before now; the 1h-old batch is on the edge.
  const Run forced =
      events_at({"purge", "--older-than", "1h", "--force-short-retention", "--db", db.path});
  INFO(forced.err);
  CHECK(forced.code == 0);
  CHECK(forced.out.rfind("deleted 4 events", 0) == 0);
  CHECK(db.exists(db.batch_1h));
  CHECK(db.exists(db.pending_2h));
  CHECK(db.exists(db.processing_30m));
  CHECK_FALSE(db.exists(db.dead_3h));
}

TEST_CASE("events purge measures age from the given now or the wall clock", "[cli][events]") {
  Sample db;  // 400 days later, every finished event is older than 2 days
  const std::int64_t now = kNow + 400 * kDay;

  const Run later = events_at({"purge", "--older-than", "2d", "--db", db.path}, now);
  INFO(later.out << later.err);
  CHECK(later.out.rfind("deleted 5 events", 0) == 0);
  // cmd_events() reads the system clock: the old fixture rows of DeadLetters (2023) go.
  DeadLetters old;
  const Run r = events({"purge", "--older-than", "30d", "--db", old.path});
  CHECK(r.code == 0);
  CHECK(r.out.rfind("deleted 4 events", 0) == 0);  // 3 dead + 1 done; the pending one stays
  CHECK(old.inbox.count_events() == 1);
}

TEST_CASE("events purge deletes more rows than one batch", "[cli][events]") {
  Sample db;
  // 12,345 old done events (the purge deletes 5,000 per transaction), by SQL.
  db.inbox.database().exec(R"sql(
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12345)
    INSERT INTO events (source, event_name, entity_kind, entity_id, state_token, event_type,
                        status, body, request_id, received_at_ms, scheme, candidate, key_slot,
                        updated_at_ms)
    SELECT 'production', 'payment.settled', 'transaction', 'bulk-' || i, '', 'payment.settled',
           'done', '{}', 'req-bulk', 1700000000000 + i, 'header', 'none', 0, 1700000000000
    FROM n)sql");
  REQUIRE(db.inbox.count_events() == 7 + 12'345);

  const Run dry = events_at({"purge", "--older-than", "30d", "--dry-run", "--db", db.path});
  CHECK(dry.out.rfind("would delete 12347 events", 0) == 0);  // + unhandled_40d, quarantined_50d
  const Run r = events_at({"purge", "--older-than", "30d", "--db", db.path});
  INFO(r.err);
  CHECK(r.out.rfind("deleted 12347 events", 0) == 0);
  CHECK(db.inbox.count_events() == 5);
}

TEST_CASE("events actions on a missing database exit 1 and create nothing", "[cli][events]") {
  TempDir dir;
  const std::string path = dir.file("typo.db");

  for (const ArgList& args : {ArgList{"list", "--db", path}, ArgList{"show", "1", "--db", path},
                              ArgList{"stats", "--db", path},
                              ArgList{"purge", "--older-than", "30d", "--dry-run", "--db", path},
                              ArgList{"purge", "--older-than", "30d", "--db", path}}) {
    const Run r = events_at(args);
    INFO(args[0]);
    CHECK(r.code == 1);
    CHECK(r.err.find("no database at " + path) != std::string::npos);
    CHECK(r.out.empty());
    CHECK_FALSE(std::filesystem::exists(path));
  }
}

TEST_CASE("events read-only actions refuse a file without the schema and never migrate",
          "[cli][events]") {
  TempDir dir;
  const std::string empty = dir.file("empty.db");
  std::ofstream(empty).close();
  const Run r = events_at({"list", "--db", empty});
  CHECK(r.code == 1);
  CHECK(r.err.find("no events table") != std::string::npos);

  // A database at schema version 1 (before the receipt-time index) is read as it is.
  const std::string v1 = dir.file("v1.db");
  {
    auto db = webhook::storage::Database::open(v1);
    db.migrate({webhook::storage::embedded_migrations().front()});
    SqliteInbox inbox(std::move(db));
    const std::vector<webhook::core::Delivery> batch = {make_delivery("tx-1")};
    REQUIRE(inbox.store_batch(batch).at(0).kind == webhook::core::StoreResult::Kind::inserted);
  }
  CHECK(listed({"list", "--json", "--db", v1}).size() == 1);
  CHECK(events_at({"stats", "--db", v1}).code == 0);
  CHECK(events_at({"show", "1", "--db", v1}).code == 0);
  CHECK(events_at({"purge", "--older-than", "30d", "--dry-run", "--db", v1}).code == 0);
  CHECK(webhook::storage::Database::open(v1).schema_version() == 1);
}

TEST_CASE("events list, show, stats and purge reject bad flags with exit 2", "[cli][events]") {
  Sample db;
  const std::string p = db.path;
  const std::vector<std::pair<ArgList, std::string>> cases = {
      {{"list", "--status", "gone", "--db", p}, "--status"},
      {{"list", "--status", "dead,", "--db", p}, "--status"},
      {{"list", "--type", "pay*", "--db", p}, "--type"},
      {{"list", "--type", "*", "--db", p}, "--type"},
      {{"list", "--since", "yesterday", "--db", p}, "--since"},
      {{"list", "--since", "2026-02-30T00:00:00Z", "--db", p}, "--since"},
      {{"list", "--until", "2026-05-03T10:00:00", "--db", p}, "--until"},
      {{"list", "--since", "1h", "--until", "2h", "--db", p}, "--since"},
      {{"list", "--limit", "0", "--db", p}, "--limit"},
      {{"list", "--limit", "ten", "--db", p}, "--limit"},
      {{"list", "--limit", "--db", p}, "--limit"},
      {{"list", "--json=yes", "--db", p}, "--json"},
      {{"list", "dead", "--db", p}, "dead"},
      {{"list", "--db", p, "--config", "x.json"}, "--config"},
      {{"list", "--bogus", "--db", p}, "--bogus"},
      {{"show", "--db", p}, "ID"},
      {{"show", "1", "2", "--db", p}, "ID"},
      {{"show", "1", "--status", "dead", "--db", p}, "--status"},
      {{"stats", "--status", "dead", "--db", p}, "--status"},
      {{"stats", "now", "--db", p}, "now"},
      {{"purge", "--db", p}, "--older-than"},
      {{"purge", "--older-than", "7 days", "--db", p}, "--older-than"},
      {{"purge", "--older-than", "30x", "--db", p}, "--older-than"},
      {{"purge", "--older-than", "-30d", "--db", p}, "--older-than"},
      {{"purge", "--older-than", "30d", "--status", "pending", "--db", p}, "--status"},
      {{"purge", "--older-than", "30d", "--status", "processing", "--db", p}, "--status"},
      {{"purge", "--older-than", "30d", "--dry-run=1", "--db", p}, "--dry-run"},
  };
  for (const auto& [args, mentions] : cases) {
    const Run r = events_at(args);
    INFO(args[0] << " " << args[1] << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("webhook-receiver events: ", 0) == 0);
    CHECK(r.err.find(mentions) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
  }
  CHECK(db.inbox.count_events() == 7);
}

TEST_CASE("every events action answers --help", "[cli][events]") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> actions = {
      {"list",
       {"--status", "--type", "payment.*", "--source", "--entity", "--since", "--until", "--limit",
        "--oldest-first", "--json", "--db", "--config"}},
      {"show", {"ID", "--json", "body_base64", "--db"}},
      {"stats", {"--json", "dead", "--db"}},
      {"retry", {"--dead", "--db"}},
      {"purge",
       {"--older-than", "25h", "--force-short-retention", "--dry-run", "--status", "VACUUM",
        "--db"}},
  };
  for (const auto& [action, mentions] : actions) {
    const Run r = events_at({action, "--help"});
    INFO(action);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK(r.out.rfind("usage: webhook-receiver events " + action, 0) == 0);
    for (const std::string& m : mentions) CHECK(r.out.find(m) != std::string::npos);
  }
  const Run top = events_at({"--help"});
  for (const char* action : {"list", "show", "stats", "retry", "purge"}) {
    CHECK(top.out.find(std::string("  ") + action + " ") != std::string::npos);
  }
}

TEST_CASE("webhook-receiver events list runs through the dispatcher", "[cli][events]") {
  Sample db;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;

  CHECK(webhook::cli::run({"events", "list", "--status", "dead", "--json", "--db", db.path},
                          Io{in, out, err}) == 0);
  const rapidjson::Document doc = parse_json(out.str());
  REQUIRE(doc.Size() == 1);
  CHECK(json_int(doc[0], "id") == db.dead_3h);
}
