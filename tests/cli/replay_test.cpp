// `replay`, the parts without a network: filters, times, re-signing, answer classification,
// summary and progress formatting, exit codes, usage errors, and the payload-log reader through
// --dry-run (src/cli/replay*.cpp).
#include <catch2/catch.hpp>

#include "support/cli_run.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/replay_capture.hpp"
#include "cli/replay_report.hpp"
#include "cli/replay_sinks.hpp"
#include "support/temp_dir.hpp"
#include "webhook/core/reconcile.hpp"
#include "webhook/core/signature.hpp"
#include "webhook/core/work.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/payload_log.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

using namespace webhook::cli::replay;
namespace core = webhook::core;
using webhook::testing::TempDir;

namespace {

// Obviously fake keys.
const std::string kKey = "whsec_test_only_replay_cli_0001";
const std::string kOtherKey = "whsec_test_only_replay_cli_0002";

using Run = webhook::testing::CliRun;

Run replay(std::vector<std::string> args) {
  return webhook::testing::run_cli(
      [&](webhook::cli::Io io) { return webhook::cli::cmd_replay(args, io); });
}

Capture capture(std::string body, std::string verification = "verified") {
  Capture c;
  c.origin = "test:1";
  c.received_at_ms = 1000;
  c.source = "production";
  c.request_id = "req-1";
  c.verification = std::move(verification);
  c.body = std::move(body);
  return c;
}

bool verifies(const std::string& key, const Outbound& out) {
  const std::vector<std::string> keys{key};
  const std::vector<std::string_view> headers(out.signature_headers.begin(),
                                              out.signature_headers.end());
  return core::verify_signature(keys, {out.body, headers}, {}).ok();
}

std::string line(const std::string& body, std::int64_t at, std::string_view source,
                 std::string_view verification) {
  const std::string request_id = "req-" + std::to_string(at);
  webhook::storage::PayloadRecord r;
  r.received_at_ms = at;
  r.source = source;
  r.request_id = request_id;
  r.method = "POST";
  r.target = "/webhooks";
  r.verification = verification;
  r.scheme = "none";
  r.candidate = "none";
  r.body = body;
  return webhook::storage::format_payload_line(r) + "\n";
}

}  // namespace

TEST_CASE("replay: times and id ranges", "[replay]") {
  CHECK(parse_time_ms("0") == 0);
  CHECK(parse_time_ms("1795890149123") == 1795890149123);
  CHECK(parse_time_ms("1970-01-01") == 0);
  CHECK(parse_time_ms("2026-11-28T18:22:29.123Z") == 1795890149123);
  CHECK(parse_time_ms("2026-11-28T18:22:29.1Z") == 1795890149100);
  CHECK(parse_time_ms("2026-11-28T18:22:29Z") == 1795890149000);
  CHECK(parse_time_ms("2026-11-28T18:22:29") == 1795890149000);  // UTC, like the log's "ts"
  CHECK(parse_time_ms("2026-11-28 18:22") == 1795890120000);
  CHECK(parse_time_ms("2026-11-28T20:22:29+02:00") == 1795890149000);
  CHECK(parse_time_ms("2026-11-28T16:22:29-0200") == 1795890149000);
  CHECK(parse_time_ms("2000-02-29") == 951782400000);
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-11-28T25:00", "2026-11-28Tx",
                          "2026-11-28T18:22:29Zjunk", "2026-11-28T18:22:29.Z", "-5"}) {
    INFO(bad);
    CHECK_FALSE(parse_time_ms(bad));
  }
  CHECK(parse_id_range("3-7") == std::pair<std::int64_t, std::int64_t>{3, 7});
  CHECK(parse_id_range("5") == std::pair<std::int64_t, std::int64_t>{5, 5});
  CHECK(parse_id_range("-4")->first == 1);
  CHECK(parse_id_range("9-")->second == std::numeric_limits<std::int64_t>::max());
  for (const char* bad : {"", "-", "7-3", "a-b", "0-3", "1-2-3"}) {
    INFO(bad);
    CHECK_FALSE(parse_id_range(bad));
  }
}

TEST_CASE("replay: filters select captures", "[replay]") {
  const Capture settled = capture(R"({"eventType":"payment.settled","transaction":{"id":"t1"}})");
  const Capture legacy =
      capture(R"({"event":"Transaction.Captured","data":{"transaction":{"id":"t2"}}})");
  Filter f;
  CHECK(f.empty());
  CHECK(f.matches(settled));

  f.types = {"payment.*"};
  CHECK(f.matches(settled));
  CHECK_FALSE(f.matches(legacy));
  f.types = {"Transaction.Captured", "customer.levelChanged"};
  CHECK(f.matches(legacy));
  f.types = {"*"};
  CHECK(f.matches(legacy));

  Filter t;
  t.since_ms = 1000;
  t.until_ms = 2000;  // half-open: [since, until)
  Capture c = settled;
  CHECK(t.matches(c));
  c.received_at_ms = 2000;
  CHECK_FALSE(t.matches(c));
  c.received_at_ms = 999;
  CHECK_FALSE(t.matches(c));
  c.received_at_ms = -1;  // unknown time never matches a time filter
  CHECK_FALSE(t.matches(c));

  Filter s;
  s.sources = {"sandbox", "production"};
  s.verifications = {"verified"};
  s.request_ids = {"req-1", "req-2"};
  CHECK(s.matches(settled));
  s.verifications = {"bad_signature"};
  CHECK_FALSE(s.matches(settled));

  Filter d;
  Capture row = settled;
  row.event_id = 7;
  row.status = "dead";
  d.event_ids = {3, 7};
  d.statuses = {"dead"};
  d.id_range = std::pair<std::int64_t, std::int64_t>{5, 9};
  CHECK(d.matches(row));
  row.event_id = 3;
  CHECK_FALSE(d.matches(row));  // outside the range
}

TEST_CASE("replay: what goes out for each verdict and scheme", "[replay]") {
  const std::string body = R"({"eventType":"payment.settled","transaction":{"id":"t1"}})";
  std::string error;
  CHECK(verdict_of("verified") == Verdict::verified);
  CHECK(verdict_of("unsigned_allowed") == Verdict::unsigned_allowed);
  CHECK(verdict_of("bad_signature") == Verdict::not_verified);
  CHECK(verdict_of("") == Verdict::none);

  SECTION("no plan: the original bytes and signature headers") {
    Capture c = capture(body);
    c.headers = {{"x-webhook-signature", "abc"}, {"Content-Type", "application/json"}};
    const auto out = prepare_outbound(c, {}, error);
    REQUIRE(out);
    CHECK(out->body == body);
    CHECK(out->signature_headers == std::vector<std::string>{"abc"});
    CHECK(out->signing == "original");
    CHECK_FALSE(out->resigned);
  }
  SECTION("header: the exact bytes, a new signature") {
    const auto out = prepare_outbound(capture(body), {ResignScheme::header, kKey}, error);
    REQUIRE(out);
    CHECK(out->body == body);
    CHECK(verifies(kKey, *out));
    CHECK(out->signing == "re-signed header");
  }
  SECTION("body: a member appended when there was none") {
    const auto out = prepare_outbound(capture(body), {ResignScheme::body, kKey}, error);
    REQUIRE(out);
    CHECK(out->signature_headers.empty());
    CHECK(*core::raw_strip(out->body) == body);
    CHECK(verifies(kKey, *out));
  }
  SECTION("files (no verdict) are re-signed; rejected or unsigned captures never are") {
    CHECK(prepare_outbound(capture(body, ""), {ResignScheme::header, kKey}, error)->resigned);
    for (const char* verdict : {"bad_signature", "missing_signature", "unsigned_allowed"}) {
      INFO(verdict);
      Capture c = capture(body, verdict);
      c.headers = {{"X-Webhook-Signature", core::sign_header(kOtherKey, body)}};
      for (const auto scheme : {ResignScheme::header, ResignScheme::body}) {
        const auto out = prepare_outbound(c, {scheme, kKey}, error);
        REQUIRE(out);
        CHECK_FALSE(out->resigned);
        CHECK(out->body == body);
        CHECK_FALSE(verifies(kKey, *out));
        CHECK(out->signing.find("not re-signed") != std::string::npos);
      }
    }
  }
  SECTION("body scheme on a body that is not an object") {
    CHECK_FALSE(prepare_outbound(capture("[1,2]"), {ResignScheme::body, kKey}, error));
    CHECK(error.find("JSON object") != std::string::npos);
    CHECK(prepare_outbound(capture("[1,2]"), {ResignScheme::header, kKey}, error));
  }
}

TEST_CASE("replay: re-signing the body scheme rebuilds only the signature member", "[replay]") {
  // Escaped unicode, a nested "signature", odd whitespace, the member first and in the middle.
  const std::string old_sig = core::sign_header(kOtherKey, "whatever");
  for (const std::string& body :
       {"{\"signature\":\"" + old_sig + "\",\"eventType\":\"x\",\"a\":\"\\u00e9\\ud83d\\ude00\"}",
        "{ \"eventType\" : \"x\" ,\r\n\t\"signature\"  :  \"" + old_sig +
            "\" , \"data\":{\"signature\":\"inner\"} }\n",
        std::string(R"({"a":"signature","data":{"signature":"inner"},"signature":"short"})"),
        std::string("{\"a\":1,\"signature\":null}")}) {
    INFO(body);
    const auto signed_body = resign_body(kKey, body);
    REQUIRE(signed_body);
    CHECK(core::raw_strip(*signed_body) == core::raw_strip(body));
    const std::vector<std::string> keys{kKey};
    const auto v = core::verify_signature(keys, {*signed_body, {}}, {});
    CHECK(v.ok());
    CHECK(v.candidate == core::BodyCandidate::raw_strip);
    if (body.find("null") == std::string::npos) {
      // In place: everything up to the old value is unchanged.
      const auto member = signed_body->find("\"signature\"");
      CHECK(signed_body->substr(0, member) == body.substr(0, member));
    }
  }
  CHECK_FALSE(resign_body(kKey, "not json"));
  CHECK_FALSE(resign_body(kKey, R"({"signature":"a","signature":"b"})"));
}

TEST_CASE("replay: answers are classified", "[replay]") {
  auto r = classify_response(200, R"({"status":"accepted","eventId":5})", "", Verdict::verified);
  CHECK(r.kind == ResultKind::accepted);
  CHECK(r.event_id == 5);
  CHECK(
      classify_response(200, R"({"status":"duplicate","eventId":5})", "", Verdict::verified).kind ==
      ResultKind::duplicate);
  CHECK(classify_response(200, R"({"status":"quarantined","eventId":6})", "", Verdict::verified)
            .kind == ResultKind::quarantined);
  CHECK(classify_response(400, R"({"error":"unusable_payload","eventId":6,"status":"quarantined"})",
                          "", Verdict::verified)
            .kind == ResultKind::quarantined);
  CHECK(classify_response(204, "", "", Verdict::none).kind == ResultKind::accepted);  // a handler

  r = classify_response(401, R"({"error":"invalid_signature"})", "", Verdict::not_verified);
  CHECK(r.kind == ResultKind::rejected);
  CHECK(r.expected);
  CHECK(r.detail == "401 invalid_signature");
  r = classify_response(401, R"({"error":"invalid_signature"})", "", Verdict::verified);
  CHECK(r.kind == ResultKind::rejected);
  CHECK_FALSE(r.expected);
  CHECK(classify_response(413, "", "", Verdict::none).kind == ResultKind::rejected);

  CHECK(classify_response(404, R"({"error":"not_found"})", "", Verdict::verified).kind ==
        ResultKind::failed);
  CHECK(classify_response(503, "", "", Verdict::verified).kind == ResultKind::failed);
  r = classify_response(0, "", "connection refused", Verdict::verified);
  CHECK(r.kind == ResultKind::failed);
  CHECK(r.detail == "connection refused");
}

TEST_CASE("replay: summary, progress and exit code", "[replay]") {
  Counts c;
  c.accepted = 8;
  c.duplicate = 2;
  c.quarantined = 1;
  c.rejected = 1;
  c.rejected_expected = 1;
  c.skipped = 1;
  c.filtered = 4;
  CHECK(c.sent() == 12);
  CHECK(exit_code(c, false) == 0);
  CHECK(exit_code(c, true) == 1);  // --strict: skipped input fails
  const std::string summary = format_summary(c, 2.0, false);
  CHECK(summary.rfind("sent 12, accepted 8, duplicate 2, quarantined 1, rejected 1, failed 0\n",
                      0) == 0);
  CHECK(summary.find("rejected as expected (the source had not verified them either): 1") !=
        std::string::npos);
  CHECK(summary.find("skipped unreadable input (see the lines above): 1") != std::string::npos);
  CHECK(summary.find("not selected by the filters: 4") != std::string::npos);
  CHECK(summary.find("12 in 2.00 s (6.0/s)") != std::string::npos);

  Counts unexpected = c;
  ++unexpected.rejected;  // a delivery the source verified, rejected by the target
  CHECK(exit_code(unexpected, false) == 1);
  Counts failed;
  failed.failed = 1;
  CHECK(exit_code(failed, false) == 1);
  CHECK(exit_code(Counts{}, false) == 0);

  Counts dry;
  dry.dry_run = 3;
  CHECK(format_summary(dry, 0, true)
            .rfind("dry run: 3 deliveries would be sent, nothing was sent\n", 0) == 0);

  CHECK(format_progress_line(c, 0.415, 812.4) ==
        "replay: 12 sent (accepted 8, duplicate 2, quarantined 1, rejected 1, failed 0), 41%, "
        "812/s");
  CHECK(format_progress_line(c, -1, 2.5) ==
        "replay: 12 sent (accepted 8, duplicate 2, quarantined 1, rejected 1, failed 0), 2.5/s");
  CHECK(format_progress_bar(c, 0.5, 20, 10) ==
        "[#####-----]  50%  12 sent  11 ok  1 rejected  0 failed  20/s");
  CHECK(format_progress_bar(c, 1.0, 20, 4) ==
        "[####] 100%  12 sent  11 ok  1 rejected  0 failed  20/s");
  CHECK(format_progress_bar(c, -1, 20, 10) == "12 sent  11 ok  1 rejected  0 failed  20/s");
}

TEST_CASE("replay: usage errors exit 2 naming the flag", "[replay]") {
  TempDir dir;
  const std::string log = dir.file("p.jsonl");
  std::ofstream(log) << line(R"({"eventType":"a.b","transaction":{"id":"1"}})", 1000, "production",
                             "verified");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--to", "http://127.0.0.1:9"}, "needs a source"},
      {{"--from", log}, "needs a target"},
      {{"--from", log, "--from-json", log, "--dry-run"}, "one kind of source"},
      {{"--from", log, "--to", "http://127.0.0.1:9", "--into", "x.db"}, "not both"},
      {{"--from", log, "--to", "ftp://x"}, "--to"},
      {{"--from", log, "--dry-run", "--scheme", "header"}, "--scheme re-signs"},
      {{"--from", log, "--dry-run", "--scheme", "both", "--secret", "s"}, "--scheme must be"},
      {{"--from", log, "--to", "http://127.0.0.1:9", "--secret", "s"}, "give --scheme"},
      {{"--from", log, "--dry-run", "--rate", "0"}, "--rate"},
      {{"--from", log, "--dry-run", "--rate", "fast"}, "--rate"},
      {{"--from", log, "--dry-run", "--since", "yesterday"}, "--since"},
      {{"--from", log, "--dry-run", "--status", "dead"}, "--status needs --from-db"},
      {{"--from-json", log, "--dry-run", "--since", "2026-01-01"}, "--since needs"},
      {{"--from", log, "--dry-run", "--concurrency", "2"}, "--concurrency needs --to"},
      {{"--from", log, "--to", "http://127.0.0.1:9", "--config", "c.json"},
       "--config needs --into"},
      {{"--from", log, "--dry-run", "--progress", "fancy"}, "--progress"},
      {{"--from", log, "--dry-run", "--bogus"}, "unknown option --bogus"},
      {{"--from-db", log, "--into", log, "--dry-run"}, "same database"},
  };
  for (const auto& [args, message] : cases) {
    INFO(message);
    const Run r = replay(args);
    CHECK(r.code == 2);
    CHECK(r.err.find(message) != std::string::npos);
    CHECK(r.err.find("(see --help)") != std::string::npos);
  }
  const Run help = replay({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("usage: webhook-receiver replay") != std::string::npos);
  const Run missing = replay({"--from", dir.file("nope.jsonl"), "--dry-run"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("nope.jsonl") != std::string::npos);
}

TEST_CASE("replay: --dry-run lists a payload log, skipping malformed lines", "[replay]") {
  TempDir dir;
  const std::string log = dir.file("p.jsonl");
  const std::string body = R"({"eventType":"payment.settled","transaction":{"id":"1"}})";
  std::ofstream(log, std::ios::binary)
      << line(body, 1000, "production", "verified") << "{\"truncated\":\n"
      << "\n"  // blank lines carry nothing and are passed over silently
      << line(body, 2000, "sandbox", "bad_signature") << "[1,2,3]\n"
      << line(body, 3000, "production", "verified").substr(0, 40);  // cut off, no newline

  Run r = replay({"--from", log, "--dry-run"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find(log +
                   ":1 request_id=req-1000 source=production type=payment.settled "
                   "verification=verified signing=original bytes=" +
                   std::to_string(body.size())) != std::string::npos);
  CHECK(r.out.find(log + ":4 request_id=req-2000 source=sandbox") != std::string::npos);
  CHECK(r.err.find(log + ":2: skipped: not valid JSON") != std::string::npos);
  CHECK(r.err.find(log + ":5: skipped: not a payload-log record") != std::string::npos);
  CHECK(r.err.find(log + ":6: skipped: not valid JSON") != std::string::npos);
  CHECK(r.out.find("dry run: 2 deliveries would be sent") != std::string::npos);
  CHECK(r.out.find("skipped unreadable input (see the lines above): 3") != std::string::npos);
  CHECK(replay({"--from", log, "--dry-run", "--strict"}).code == 1);

  r = replay({"--from", log, "--dry-run", "--verification", "verified", "--secret", kKey,
              "--scheme", "body"});
  CHECK(r.out.find("signing=re-signed body") != std::string::npos);
  CHECK(r.out.find("not selected by the filters: 1") != std::string::npos);
}

TEST_CASE("replay: --from-db skips the answers reconciliation recorded from the API", "[replay]") {
  TempDir dir;
  const std::string db = dir.file("inbox.db");
  {
    auto database =
        webhook::storage::Database::open(db, webhook::storage::Database::Mode::read_write_create);
    database.migrate(webhook::storage::embedded_migrations());
    webhook::storage::SqliteInbox inbox(std::move(database));
    core::Delivery d;
    d.key = {"production", "payment.captured", "transaction", "p-1", "CAPTURED"};
    d.event_type = "payment.captured";
    d.entity_kind = "transaction";
    d.entity_id = "p-1";
    d.body = R"({"eventType":"payment.captured","transaction":{"id":"p-1"}})";
    d.request_id = "req-1";
    d.received_at_ms = 1000;
    core::WorkItem observed;
    observed.kind = core::WorkKind::observed;
    observed.event = std::make_shared<const core::StoredEvent>(core::api_observation(
        "production", core::CheckKind::payment, "p-1", "SETTLED", R"({"id":"p-1"})", "t-1", 2000));
    const auto written = inbox.write_batch(std::span<const core::Delivery>(&d, 1),
                                           std::span<const core::WorkItem>(&observed, 1), true);
    REQUIRE(written.ok);
    REQUIRE(written.work.at(0).recorded);
    REQUIRE(inbox.count_events() == 2);
  }
  const Run r = replay({"--from-db", db, "--dry-run"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("type=payment.captured") != std::string::npos);
  CHECK(r.out.find("api.payment") == std::string::npos);
  CHECK(r.out.find("dry run: 1 delivery would be sent") != std::string::npos);
}

TEST_CASE("replay: plain progress lines when stderr is not a terminal", "[replay]") {
  // 12 files at 20/s take about 0.55 s; a line every 100 ms.
  const Run r = replay({"--from-json", WEBHOOK_EXAMPLES_DIR, "--dry-run", "--rate", "20",
                        "--progress-interval", "100"});
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find(
            "replay: 0 sent (accepted 0, duplicate 0, quarantined 0, rejected 0, failed 0), ") !=
        std::string::npos);
  CHECK(r.err.find('\r') == std::string::npos);  // never the bar
  CHECK(r.out.find("dry run: 12 deliveries would be sent") != std::string::npos);
  CHECK(
      replay({"--from-json", WEBHOOK_EXAMPLES_DIR, "--dry-run", "--progress", "none"}).err.empty());
}
