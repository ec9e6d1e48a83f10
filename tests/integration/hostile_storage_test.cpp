// Issue 10, hostile clients and a hostile disk, against the real binary: the -wal deleted under a
// running receiver (then kill -9), the payload log on a full device, and unsigned floods that
// must not rotate verified captures out of the payload log.
#include <catch2/catch.hpp>

#include <signal.h>

#include <rapidjson/document.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "integration/durability_check.hpp"
#include "integration/http_client.hpp"
#include "integration/process.hpp"
#include "integration/served_binary.hpp"
#include "support/temp_dir.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;

namespace {

const std::string kKey = "whsec_test_only_hostile_storage_0001";

// The config of these tests: `payload_log` is the JSON object of the "payload_log" key; the
// monitor samples rarely, so what a test sees comes from the request path, not from the
// background probe.
std::string config_with(const TempDir& dir, const std::string& payload_log) {
  return R"({
    "server": {"listen": "127.0.0.1:0", "io_threads": 2},
    "storage": {"sqlite_path": ")" +
         dir.file("inbox.db") + R"("},
    "payload_log": )" +
         payload_log + R"(,
    "monitoring": {"backlog_sample_ms": 600000},
    "logging": {"level": "warn"}
  })";
}

std::string signed_body(int i) {
  return R"({"eventType":"transaction.status_changed","transaction":{"id":"tx-)" +
         std::to_string(i) + R"(","status":"CAPTURED","totalAmount":"100.00"}})";
}

HttpReply post_signed(HttpClient& client, const std::string& body) {
  return client.post("/webhooks", body,
                     {{"X-Webhook-Signature", webhook::core::sign_header(kKey, body)}});
}

long long event_id_of(const std::string& reply) {
  rapidjson::Document d;
  d.Parse(reply.c_str());
  return d.HasParseError() || !d.HasMember("eventId") ? -1 : d["eventId"].GetInt64();
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("issue 10: once the -wal is deleted nothing is acknowledged, and kill -9 loses no 2xx",
          "[integration][hostile][storage]") {
  TempDir dir;
  Served receiver(dir, config_with(dir, R"({"path": ""})"), kKey);
  std::vector<std::pair<long long, std::string>> acknowledged;
  HttpClient client(receiver.port());
  for (int i = 0; i < 20; ++i) {
    const std::string body = signed_body(i);
    const HttpReply reply = post_signed(client, body);
    REQUIRE(reply.status == 200);
    acknowledged.emplace_back(event_id_of(reply.body), body);
  }

  // An operator (or a cleanup script) removes the -wal under the running receiver.
  REQUIRE(std::filesystem::remove(dir.file("inbox.db-wal")));
  int refused = 0;
  for (int i = 20; i < 40; ++i) {
    const std::string body = signed_body(i);
    const HttpReply reply = post_signed(client, body);
    if (reply.status == 200) acknowledged.emplace_back(event_id_of(reply.body), body);
    if (reply.status == 503) ++refused;
  }
  CHECK(refused == 20);
  const HttpReply ready = client.get("/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.body.find("inbox.db-wal was deleted") != std::string::npos);

  receiver.process().signal(SIGKILL);
  REQUIRE(receiver.process().wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  receiver.start();  // a restart serves again on the same files
  HttpClient after(receiver.port());
  CHECK(after.get("/readyz").status == 200);
  CHECK(post_signed(after, signed_body(1000)).status == 200);
  receiver.process().signal(SIGTERM);
  CHECK(receiver.process().wait(std::chrono::seconds(30)) == 0);

  const DurabilityReport report = check_acknowledged(dir.file("inbox.db"), acknowledged);
  REQUIRE(report.opened);
  CHECK(report.missing == 0);
  CHECK(report.altered == 0);
}

TEST_CASE("issue 10: a payload log on a full device is counted, logged once and fails readiness",
          "[integration][hostile][payload_log]") {
  TempDir dir;
  Served receiver(dir,
                  config_with(dir, R"({"path": "/dev/full", "unverified_path": ")" +
                                       dir.file("unverified.jsonl") + R"("})"),
                  kKey);
  HttpClient client(receiver.port());
  constexpr int kDeliveries = 30;
  for (int i = 0; i < kDeliveries; ++i) {
    // The inbox holds the raw body too, so a durable commit is still acknowledged.
    CHECK(post_signed(client, signed_body(i)).status == 200);
  }

  const HttpReply metrics = client.get("/metrics");
  CHECK(metrics.body.find("webhook_payload_log_errors_total{log=\"verified\"} " +
                          std::to_string(kDeliveries) + "\n") != std::string::npos);
  const HttpReply ready = client.get("/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.body.find("payload log: cannot write /dev/full: No space left on device") !=
        std::string::npos);
  // One line for the whole run of failures (the next may come a minute later), not one each.
  CHECK(count_of(read_all(receiver.log_path()), "payload log: cannot write /dev/full") == 1);
}

TEST_CASE("issue 10: unsigned floods cannot rotate a verified capture out of the payload log",
          "[integration][hostile][payload_log]") {
  TempDir dir;
  const std::string log = dir.file("payloads.jsonl");
  // The smallest budget the config allows, so that before the fix two lines rotated it away.
  Served receiver(
      dir, config_with(dir, R"({"path": ")" + log + R"(", "max_bytes": 65536, "max_files": 2})"),
      kKey);
  HttpClient client(receiver.port());
  const std::string verified = signed_body(1);
  REQUIRE(post_signed(client, verified).status == 200);

  // 101 unsigned bodies of 256 KiB of control bytes: each is about 1.5 MiB once escaped.
  const std::string hostile(256 * 1024, '\x01');
  for (int i = 0; i < 101; ++i) {
    const unsigned status = client.post("/webhooks", hostile).status;
    REQUIRE((status == 400 || status == 401));  // not JSON, no signature: refused either way
  }

  const std::string kept = read_all(log) + read_all(log + ".1");
  CHECK(kept.find("tx-1") != std::string::npos);
  CHECK(kept.find("\\u0001") == std::string::npos);
  // The unverified log has its own budget and keeps excerpts with the length and digest.
  const std::string unverified = read_all(dir.file("payloads.unverified.jsonl"));
  CHECK(unverified.find("\"body_bytes\":262144") != std::string::npos);
  CHECK(unverified.size() <= 16u * 1024 * 1024);
}
