// `webhook-receiver replay` end to end: deliveries sent to receiver A over real sockets are
// replayed from A's payload log (and A's database) into a fresh receiver B over HTTP, and into
// databases with --into, and the inboxes are compared row by row.
#include <catch2/catch.hpp>

#include "support/cli_run.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "integration/http_client.hpp"
#include "integration/process.hpp"
#include "integration/receiver_fixture.hpp"
#include "webhook/core/signature.hpp"
#include "webhook/storage/payload_log.hpp"

using namespace webhook::testing;
namespace core = webhook::core;
namespace storage = webhook::storage;

namespace {

// Obviously fake: the key "production" had when the synthetic captures below were signed.
const std::string kCaptureKey = "whsec_test_only_replay_capture_0042";
const std::string kWrongKey = "whsec_test_only_wrong_0099";

using Run = webhook::testing::CliRun;

Run replay(std::vector<std::string> args) {
  args.insert(args.begin(), "replay");
  return webhook::testing::run_cli(
      [&](webhook::cli::Io io) { return webhook::cli::run(args, io); });
}

struct Summary {
  long sent = -1, accepted = -1, duplicate = -1, quarantined = -1, rejected = -1, failed = -1;
};

// The summary's first line ("sent N, accepted N, ..."), wherever it is in the output.
Summary summary_of(const std::string& out) {
  Summary s;
  std::size_t at = out.rfind("\nsent ");
  at = at == std::string::npos ? (out.rfind("sent ", 0) == 0 ? 0 : at) : at + 1;
  if (at == std::string::npos) return s;
  std::sscanf(out.c_str() + at,
              "sent %ld, accepted %ld, duplicate %ld, quarantined %ld, rejected %ld, failed %ld",
              &s.sent, &s.accepted, &s.duplicate, &s.quarantined, &s.rejected, &s.failed);
  return s;
}

struct Row {
  std::string body, scheme, candidate, request_id, status;
  long long key_slot = -2;
};

// Every event of a database by dedup key (source|event|kind|id|state).
std::map<std::string, Row> rows(const std::string& db_path) {
  std::map<std::string, Row> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return out;
  }
  sqlite3_stmt* stmt = nullptr;
  const char* sql =
      "SELECT source || '|' || event_name || '|' || entity_kind || '|' || entity_id || '|' || "
      "state_token, body, scheme, candidate, key_slot, request_id, status FROM events ORDER BY id";
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK) {
    auto text = [&](int col) {
      const auto* p = sqlite3_column_blob(stmt, col);
      return p == nullptr ? std::string()
                          : std::string(static_cast<const char*>(p),
                                        static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
    };
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      Row r;
      r.body = text(1);
      r.scheme = text(2);
      r.candidate = text(3);
      r.key_slot = sqlite3_column_int64(stmt, 4);
      r.request_id = text(5);
      r.status = text(6);
      out.emplace(text(0), std::move(r));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::set<std::string> keys_of(const std::map<std::string, Row>& r) {
  std::set<std::string> keys;
  for (const auto& [k, v] : r) keys.insert(k);
  return keys;
}

std::size_t count_lines(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string compact(const std::string& pretty) { return *core::compact_json(pretty, false); }

HeaderList header_signed(const std::string& body, const std::string& key) {
  return {{"X-Webhook-Signature", core::sign_header(key, body)}};
}

std::string url(const Receiver& r, const std::string& path = "") {
  return "http://127.0.0.1:" + std::to_string(r.port()) + path;
}

std::string db_of(const Receiver& r) { return r.config().storage.sqlite_path; }
std::string unverified_of(const Receiver& r) { return r.dir().file("payloads.unverified.jsonl"); }

// Both of a receiver's payload logs as one file, in arrival order: everything it received, as
// replay reads it (the unverified deliveries have their own file since issue 10).
std::string log_of(const Receiver& r) {
  std::vector<std::string> lines = lines_of(r.payload_log());
  for (auto& line : lines_of(read_file(unverified_of(r)))) lines.push_back(std::move(line));
  std::stable_sort(lines.begin(), lines.end(), [](const std::string& x, const std::string& y) {
    return storage::parse_payload_line(x)->received_at_ms <
           storage::parse_payload_line(y)->received_at_ms;
  });
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  const std::string path = r.dir().file("all-payloads.jsonl");
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// What A receives: both schemes, a rotated key, an unknown type, duplicates, a quarantine, a
// second source, a bad and a missing signature. 17 requests, 13 events.
constexpr long kRequests = 17;
constexpr long kEvents = 13;
const std::string kBadBody = compact(example("11-purchase-underpaid.json"));

void populate(Receiver& a) {
  HttpClient client(a.port());
  auto post = [&](const std::string& path, const std::string& body, const HeaderList& headers,
                  unsigned expected_status, const std::string& expected) {
    const auto reply = client.post(path, body, headers);
    INFO(reply.body);
    REQUIRE(reply.status == expected_status);
    if (!expected.empty()) REQUIRE(reply.body.find(expected) != std::string::npos);
  };
  for (const char* name :
       {"01-legacy-transaction-captured.json", "02-legacy-transaction-received.json",
        "03-legacy-transaction-failed.json", "04-status-changed-captured.json",
        "05-status-changed-settled.json"}) {
    const std::string body = compact(example(name));
    post("/webhooks", body, header_signed(body, kKey), 200, "accepted");
  }
  for (const char* name : {"06-payment-requires-review.json", "07-payment-review-approved.json",
                           "08-payment-settled.json", "09-payment-refund-created.json"}) {
    post("/webhooks", *core::sign_body(kKey, example(name)), {}, 200, "accepted");  // pretty
  }
  const std::string customer = compact(example("10-customer-level-changed.json"));
  post("/webhooks", customer, header_signed(customer, kOldKey), 200, "accepted");  // rotated
  const std::string unknown = compact(example("12-unknown-future-event.json"));
  post("/webhooks", unknown, header_signed(unknown, kKey), 200, "accepted");
  // Duplicates: a platform retry under each scheme.
  const std::string first = compact(example("01-legacy-transaction-captured.json"));
  post("/webhooks", first, header_signed(first, kKey), 200, "duplicate");
  post("/webhooks", *core::sign_body(kKey, example("06-payment-requires-review.json")), {}, 200,
       "duplicate");
  post("/webhooks", kBadBody, header_signed(kBadBody, kWrongKey), 401, "invalid_signature");
  const std::string no_entity = R"({"eventType":"payment.settled","transaction":{}})";
  post("/webhooks", no_entity, header_signed(no_entity, kKey), 200, "quarantined");
  const std::string settled = compact(example("08-payment-settled.json"));
  post("/webhooks/sandbox", settled, header_signed(settled, kSandboxKey), 200, "accepted");
  post("/webhooks", settled, {}, 401, "invalid_signature");  // no signature at all
  REQUIRE(a.count() == kEvents);
  // The two that did not verify are in the unverified log, apart from the verified ones.
  REQUIRE(lines_of(a.payload_log()).size() == static_cast<std::size_t>(kRequests - 2));
  REQUIRE(lines_of(read_file(unverified_of(a))).size() == 2u);
}

// A payload-log line as production would have written it.
std::string capture_line(const std::string& body, const std::string& request_id,
                         std::vector<std::pair<std::string_view, std::string_view>> headers,
                         std::string_view verification, std::int64_t at_ms = 1795890149123) {
  storage::PayloadRecord r;
  r.received_at_ms = at_ms;
  r.source = "production";
  r.request_id = request_id;
  r.remote_address = "203.0.113.7";
  r.method = "POST";
  r.target = "/webhooks";
  r.headers = std::move(headers);
  r.verification = verification;
  r.scheme = verification == "verified" ? "header" : "none";
  r.candidate = "none";
  r.key_slot = verification == "verified" ? 0 : -1;
  r.body = body;
  return storage::format_payload_line(r) + "\n";
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("replay: A's payload log into a fresh B over HTTP gives the same inbox",
          "[integration][replay]") {
  Receiver a;
  populate(a);
  // B trusts the replaying host (loopback), so the original X-Request-Id goes along.
  Receiver b(R"("trusted_proxies": ["127.0.0.1"])");
  const Run run = replay({"--from", log_of(a), "--to", url(b), "--concurrency", "4"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);  // the two rejections were rejected by A too
  const Summary s = summary_of(run.out);
  CHECK(s.sent == kRequests);
  CHECK(s.accepted == 12);
  CHECK(s.duplicate == 2);  // duplicates stay duplicates
  CHECK(s.quarantined == 1);
  CHECK(s.rejected == 2);
  CHECK(s.failed == 0);
  CHECK(run.out.find("rejected as expected (the source had not verified them either): 2") !=
        std::string::npos);

  const auto rows_a = rows(db_of(a));
  const auto rows_b = rows(db_of(b));
  REQUIRE(rows_a.size() == static_cast<std::size_t>(kEvents));
  REQUIRE(keys_of(rows_b) == keys_of(rows_a));
  for (const auto& [key, row] : rows_a) {
    INFO(key);
    const Row& other = rows_b.at(key);
    CHECK(other.body == row.body);  // byte-identical
    CHECK(other.scheme == row.scheme);
    CHECK(other.candidate == row.candidate);
    CHECK(other.key_slot == row.key_slot);
    CHECK(other.request_id == row.request_id);  // the original X-Request-Id went along
    CHECK(other.body != kBadBody);
  }
}

TEST_CASE("replay: A's payload log --into a database with the target's configuration",
          "[integration][replay]") {
  Receiver a;
  populate(a);
  TempDir dir;
  const std::string config = dir.file("b.json");
  write_file(config, R"({
    "sources": [
      {"name": "production", "path": "/webhooks"},
      {"name": "sandbox", "path": "/webhooks/sandbox",
       "secret_keys_env": "REPLAY_TEST_SANDBOX_KEYS"}
    ],
    "logging": {"level": "error"}
  })");
  const std::string db = dir.file("b.db");
  // The real binary, with the keys in its environment only.
  Process proc({WEBHOOK_RECEIVER_BIN, "replay", "--from", log_of(a), "--into", db, "--config",
                config, "--progress", "none"},
               {"WEBHOOK_RECEIVER_SECRET_KEYS=" + kKey + "," + kOldKey,
                "REPLAY_TEST_SANDBOX_KEYS=" + kSandboxKey},
               dir.file("replay.log"));
  const auto code = proc.wait(std::chrono::seconds(60));
  const std::string output = read_file(dir.file("replay.log"));
  INFO(output);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const Summary s = summary_of(output);
  CHECK(s.sent == kRequests);
  CHECK(s.accepted == 12);
  CHECK(s.duplicate == 2);
  CHECK(s.quarantined == 1);
  CHECK(s.rejected == 2);

  const auto rows_a = rows(db_of(a));
  const auto rows_b = rows(db);
  REQUIRE(keys_of(rows_b) == keys_of(rows_a));
  for (const auto& [key, row] : rows_a) {
    INFO(key);
    CHECK(rows_b.at(key).body == row.body);
    CHECK(rows_b.at(key).scheme == row.scheme);  // verified here, by the same keys
    CHECK(rows_b.at(key).candidate == row.candidate);
    CHECK(rows_b.at(key).key_slot == row.key_slot);
  }
}

TEST_CASE("replay: --into with ad-hoc keys, and without keys stores nothing as verified",
          "[integration][replay]") {
  Receiver a;
  populate(a);
  TempDir dir;
  const auto rows_a = rows(db_of(a));

  SECTION("--secret: an ad-hoc source verifies the original signatures") {
    const Run run = replay({"--from", log_of(a), "--into", dir.file("c.db"), "--secret", kKey,
                            "--secret", kOldKey, "--source", "production"});
    INFO(run.out << run.err);
    CHECK(run.code == 0);
    const Summary s = summary_of(run.out);
    CHECK(s.sent == kRequests - 1);  // the sandbox delivery is filtered out
    CHECK(s.duplicate == 2);
    CHECK(s.rejected == 2);
    const auto rows_c = rows(dir.file("c.db"));
    CHECK(rows_c.size() == static_cast<std::size_t>(kEvents - 1));
    for (const auto& [key, row] : rows_c) {
      INFO(key);
      REQUIRE(rows_a.count(key) == 1);
      CHECK(rows_a.at(key).body == row.body);
      CHECK(rows_a.at(key).key_slot == row.key_slot);
    }
  }
  SECTION("no keys: what the source verified is stored unsigned, the rest is rejected") {
    const Run run = replay({"--from", log_of(a), "--into", dir.file("d.db")});
    INFO(run.out << run.err);
    CHECK(run.code == 0);
    CHECK(run.err.find("as unsigned (scheme none)") != std::string::npos);
    const Summary s = summary_of(run.out);
    CHECK(s.accepted == 12);
    CHECK(s.duplicate == 2);
    CHECK(s.rejected == 2);
    const auto rows_d = rows(dir.file("d.db"));
    REQUIRE(keys_of(rows_d) == keys_of(rows_a));
    for (const auto& [key, row] : rows_d) {
      INFO(key);
      CHECK(row.body == rows_a.at(key).body);
      CHECK(row.scheme == "none");  // never stored as verified: nothing verified it here
      CHECK(row.key_slot == -1);
    }
  }
}

TEST_CASE("replay: re-signing with another secret verifies under both schemes",
          "[integration][replay]") {
  // Production signed with kCaptureKey; the laptop receiver has kKey. Escaped unicode, escaped
  // quotes and slashes, CRLF, tabs and spaces around colons and commas, a nested "signature".
  const std::string header_body =
      "{\r\n  \"eventType\" : \"payment.settled\" "
      ",\t\"transaction\":{\"id\":\"tx-\\u00e9\\u6f22-1\","
      "\"note\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/ \\\\\"}\n}\n";
  std::string body_body =
      "{ \"eventType\":\"payment.settled\",  \"signature\" :\t\"" + std::string(64, '0') +
      "\" ,\n \"transaction\" : {\"id\":\"tx-\\u00fc-2\",\"signature\":\"nested, not top-level\","
      "\"memo\":\"\\u2028 \\t\"}  }\r\n";
  body_body.replace(body_body.find(std::string(64, '0')), 64,
                    core::sign_header(kCaptureKey, *core::raw_strip(body_body)));
  const std::string unverified_body =
      R"({"eventType":"payment.settled","transaction":{"id":"tx-3"}})";
  const std::string header_sig = core::sign_header(kCaptureKey, header_body);
  const std::string bad_sig = core::sign_header(kWrongKey, unverified_body);

  TempDir dir;
  const std::string log = dir.file("captured.jsonl");
  write_file(log,
             capture_line(header_body, "req-h", {{"X-Webhook-Signature", header_sig}}, "verified") +
                 capture_line(body_body, "req-b", {}, "verified") +
                 capture_line(unverified_body, "req-x", {{"X-Webhook-Signature", bad_sig}},
                              "bad_signature"));

  SECTION("as captured, the target's key verifies nothing") {
    Receiver b;
    const Run run = replay({"--from", log, "--to", url(b)});
    INFO(run.out << run.err);
    CHECK(run.code == 1);  // verified in the source, rejected here
    CHECK(summary_of(run.out).rejected == 3);
    CHECK(b.count() == 0);
  }
  SECTION("--scheme header: the exact bytes, a new X-Webhook-Signature") {
    Receiver b;
    const Run run = replay({"--from", log, "--to", url(b), "--secret", kKey, "--scheme", "header"});
    INFO(run.out << run.err);
    CHECK(run.code == 0);
    const Summary s = summary_of(run.out);
    CHECK(s.accepted == 2);
    CHECK(s.rejected == 1);  // the unverified capture is never re-signed
    CHECK(b.count() == 2);
    CHECK(b.count("scheme = 'header'") == 2);
    std::set<std::string> bodies;
    for (const auto& [key, row] : rows(db_of(b))) bodies.insert(row.body);
    CHECK(bodies == std::set<std::string>{header_body, body_body});
  }
  SECTION("--scheme body: only the signature member is rebuilt") {
    Receiver b;
    const Run run = replay({"--from", log, "--to", url(b), "--secret", kKey, "--scheme", "body"});
    INFO(run.out << run.err);
    CHECK(run.code == 0);
    CHECK(summary_of(run.out).accepted == 2);
    CHECK(b.count("scheme = 'body' AND candidate = 'raw_strip'") == 2);
    for (const auto& [key, row] : rows(db_of(b))) {
      INFO(key);
      if (row.body.find("tx-\\u00fc-2") != std::string::npos) {
        // Replaced in place: same length, differences only inside the old signature's value.
        REQUIRE(row.body.size() == body_body.size());
        const auto at = body_body.find(core::sign_header(kCaptureKey, *core::raw_strip(body_body)));
        REQUIRE(at != std::string::npos);
        std::size_t outside = 0;
        for (std::size_t i = 0; i < row.body.size(); ++i) {
          if ((i < at || i >= at + 64) && row.body[i] != body_body[i]) ++outside;
        }
        CHECK(outside == 0);
        CHECK(row.body != body_body);
      } else {
        // No signature member before: one is appended, every original byte kept.
        CHECK(*core::raw_strip(row.body) == header_body);
      }
      const std::vector<std::string> keys{kKey};
      const auto v = core::verify_signature(keys, {row.body, {}}, {});
      CHECK(v.ok());
    }
  }
  SECTION("--into a database, re-signed and verified with the same ad-hoc key") {
    for (const char* scheme : {"header", "body"}) {
      INFO(scheme);
      const std::string db = dir.file(std::string("e-") + scheme + ".db");
      const Run run = replay({"--from", log, "--into", db, "--secret", kKey, "--scheme", scheme});
      INFO(run.out << run.err);
      CHECK(run.code == 0);
      const auto stored = rows(db);
      CHECK(stored.size() == 2);
      for (const auto& [key, row] : stored) CHECK(row.scheme == scheme);
    }
  }
}

TEST_CASE("replay: filters on a payload log and on a database", "[integration][replay]") {
  Receiver a;
  populate(a);
  const std::string log = log_of(a);
  auto listed = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--from", log, "--dry-run"});
    const Run run = replay(args);
    INFO(run.out << run.err);
    REQUIRE(run.code == 0);
    return count_lines(run.out, log + ":");
  };
  CHECK(listed({}) == static_cast<std::size_t>(kRequests));
  CHECK(listed({"--source", "sandbox"}) == 1);
  CHECK(listed({"--verification", "verified"}) == static_cast<std::size_t>(kRequests - 2));
  CHECK(listed({"--verification", "bad_signature", "--verification", "missing_signature"}) == 2);
  CHECK(listed({"--type", "Transaction.*"}) == 4);  // 01-03 and the duplicate of 01
  CHECK(listed({"--type", "customer.levelChanged", "--type", "payment.refund.created"}) == 2);

  // Times and request ids, taken from the log itself.
  std::vector<storage::PayloadLine> records;
  for (const auto& line : lines_of(read_file(log)))
    records.push_back(*storage::parse_payload_line(line));
  CHECK(listed({"--request-id", records[4].request_id}) == 1);
  const std::int64_t since = records[8].received_at_ms;
  const std::int64_t until = records[12].received_at_ms;
  std::size_t expected = 0;
  for (const auto& r : records) expected += r.received_at_ms >= since && r.received_at_ms < until;
  CHECK(listed({"--since", std::to_string(since), "--until", std::to_string(until)}) == expected);
  CHECK(listed({"--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02"}) == 0);

  // The database source: ids, ranges, status, type; then a real replay of a range.
  auto listed_db = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--from-db", db_of(a), "--dry-run"});
    const Run run = replay(args);
    INFO(run.out << run.err);
    REQUIRE(run.code == 0);
    return count_lines(run.out, db_of(a) + " event ");
  };
  CHECK(listed_db({}) == static_cast<std::size_t>(kEvents));
  CHECK(listed_db({"--event-id", "1", "--event-id", "3"}) == 2);
  CHECK(listed_db({"--id-range", "2-4"}) == 3);
  CHECK(listed_db({"--status", "quarantined"}) == 1);
  CHECK(listed_db({"--type", "Transaction.*", "--source", "production"}) == 3);

  TempDir dir;
  const Run run = replay({"--from-db", db_of(a), "--id-range", "1-5", "--into", dir.file("f.db")});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(summary_of(run.out).accepted == 5);
  const auto rows_a = rows(db_of(a));
  for (const auto& [key, row] : rows(dir.file("f.db"))) CHECK(rows_a.at(key).body == row.body);
}

TEST_CASE("replay: a live log replayed into its own receiver stops where it started",
          "[integration][replay]") {
  Receiver a;
  populate(a);
  // A appends a line for every replayed delivery; the replay reads only the lines that were there.
  const Run run = replay({"--from", a.dir().file("payloads.jsonl"), "--to", url(a)});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  const Summary s = summary_of(run.out);
  constexpr long kVerified = kRequests - 2;  // the live log holds the verified deliveries
  CHECK(s.sent == kVerified);
  CHECK(s.duplicate == kVerified);  // everything A stored, quarantine included
  CHECK(s.rejected == 0);
  CHECK(a.count() == kEvents);
  CHECK(lines_of(a.payload_log()).size() == static_cast<std::size_t>(2 * kVerified));
}

TEST_CASE("replay: --rate paces the deliveries", "[integration][replay]") {
  TempDir dir;
  const std::string log = dir.file("twenty.jsonl");
  std::string text;
  for (int i = 0; i < 20; ++i) {
    const std::string body = R"({"eventType":"payment.settled","transaction":{"id":"rate-)" +
                             std::to_string(i) + R"("}})";
    const std::string sig = core::sign_header(kKey, body);
    text +=
        capture_line(body, "req-" + std::to_string(i), {{"X-Webhook-Signature", sig}}, "verified");
  }
  write_file(log, text);
  constexpr double kRate = 50;
  const double minimum = 19 / kRate;  // the first goes at once

  auto timed = [&](std::vector<std::string> args) {
    const auto start = std::chrono::steady_clock::now();
    const Run run = replay(std::move(args));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(run.out << run.err);
    CHECK(run.code == 0);
    CHECK(summary_of(run.out).accepted == 20);
    CHECK(seconds >= minimum * 0.95);     // never faster than the rate
    CHECK(19 / seconds <= kRate * 1.05);  // measured rate within tolerance
    CHECK(seconds < minimum + 5.0);       // and not absurdly slower (bounded)
  };
  Receiver b;
  timed({"--from", log, "--to", url(b), "--rate", "50", "--concurrency", "4"});
  CHECK(b.count() == 20);
  timed({"--from", log, "--into", dir.file("rate.db"), "--secret", kKey, "--rate", "50"});
  CHECK(rows(dir.file("rate.db")).size() == 20);
}

TEST_CASE("replay: --dry-run prints what would be sent and sends nothing",
          "[integration][replay]") {
  Receiver a;
  populate(a);
  Receiver b;
  const Run run = replay({"--from", log_of(a), "--to", url(b), "--dry-run"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(count_lines(run.out, "POST " + url(b) + "/webhooks ") ==
        static_cast<std::size_t>(kRequests - 1));
  CHECK(count_lines(run.out, "POST " + url(b) + "/webhooks/sandbox ") == 1);
  CHECK(run.out.find("signing=original") != std::string::npos);
  CHECK(run.out.find("dry run: 17 deliveries would be sent, nothing was sent") !=
        std::string::npos);
  CHECK(b.count() == 0);
  CHECK(b.payload_log().empty());

  TempDir dir;
  const Run into = replay({"--from", log_of(a), "--into", dir.file("never.db"), "--secret", kKey,
                           "--secret", kOldKey, "--dry-run"});
  INFO(into.out << into.err);
  CHECK(into.code == 0);
  CHECK(count_lines(into.out, "would store ") == 14);  // 12 + 2 duplicates (dedup needs the db)
  CHECK(count_lines(into.out, "would reject ") == 3);  // bad, missing, and sandbox's other key
  CHECK_FALSE(std::filesystem::exists(dir.file("never.db")));
}

TEST_CASE("replay: a corrupted payload-log line is reported and skipped", "[integration][replay]") {
  Receiver a;
  populate(a);
  auto lines = lines_of(read_file(log_of(a)));
  lines[2] = lines[2].substr(0, lines[2].size() / 2);  // truncated mid-record
  lines.insert(lines.begin() + 5, R"({"hello":"not a record"})");
  lines.insert(lines.begin() + 6, "\x01garbage\xff");
  TempDir dir;
  const std::string log = dir.file("corrupted.jsonl");
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  write_file(log, text);

  Receiver b;
  const Run run = replay({"--from", log, "--to", url(b)});
  INFO(run.out << run.err);
  CHECK(run.code == 0);  // never fatal to the run
  CHECK(run.err.find(log + ":3: skipped: not valid JSON") != std::string::npos);
  CHECK(run.err.find(log + ":6: skipped: not a payload-log record") != std::string::npos);
  CHECK(run.err.find(log + ":7: skipped: not valid JSON") != std::string::npos);
  CHECK(run.out.find("skipped unreadable input (see the lines above): 3") != std::string::npos);
  const Summary s = summary_of(run.out);
  CHECK(s.sent == kRequests - 1);
  CHECK(b.count() == kEvents - 1);  // line 3 was 03-legacy-transaction-failed

  Receiver c;
  CHECK(replay({"--from", log, "--to", url(c), "--strict"}).code == 1);
}

TEST_CASE("replay: JSON files and database events need re-signing", "[integration][replay]") {
  Receiver b;
  SECTION("a directory of payload files") {
    const Run unsigned_run =
        replay({"--from-json", WEBHOOK_EXAMPLES_DIR, "--to", url(b, "/webhooks")});
    CHECK(unsigned_run.code == 1);  // hand-made payloads have no signature: unexpected rejections
    CHECK(summary_of(unsigned_run.out).rejected == 12);
    const Run run = replay({"--from-json", WEBHOOK_EXAMPLES_DIR, "--to", url(b, "/webhooks"),
                            "--secret", kKey, "--scheme", "header"});
    INFO(run.out << run.err);
    CHECK(run.code == 0);
    CHECK(summary_of(run.out).accepted == 12);
    CHECK(b.count() == 12);
    std::set<std::string> bodies;
    for (const auto& [key, row] : rows(db_of(b))) bodies.insert(row.body);
    CHECK(bodies.count(example("08-payment-settled.json")) == 1);  // byte-exact, pretty
  }
  SECTION("the inbox of another database") {
    Receiver a;
    populate(a);
    const Run run = replay({"--from-db", db_of(a), "--source", "production", "--to",
                            url(b, "/webhooks"), "--secret", kKey, "--scheme", "body"});
    INFO(run.out << run.err);
    CHECK(run.code == 0);
    const Summary s = summary_of(run.out);
    CHECK(s.accepted == 11);
    CHECK(s.quarantined == 1);
    CHECK(b.count() == kEvents - 1);
  }
}

TEST_CASE("replay: an unreachable target fails the run", "[integration][replay]") {
  TempDir dir;
  const std::string body = R"({"eventType":"payment.settled","transaction":{"id":"down-1"}})";
  const std::string log = dir.file("one.jsonl");
  write_file(
      log, capture_line(body, "req-down", {{"X-Webhook-Signature", core::sign_header(kKey, body)}},
                        "verified"));
  const Run run = replay({"--from", log, "--to", "http://127.0.0.1:1/webhooks", "--retries", "0",
                          "--timeout", "2000"});
  INFO(run.out << run.err);
  CHECK(run.code == 1);
  CHECK(summary_of(run.out).failed == 1);
  CHECK(run.err.find("req-down: failed") != std::string::npos);
}
