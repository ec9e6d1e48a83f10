// /metrics parsed back, and /readyz following the storage and the backlog.
#include <sqlite3.h>
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "integration/exposition.hpp"
#include "integration/http_client.hpp"
#include "integration/receiver_fixture.hpp"
#include "support/wait.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;

namespace {

// One sample line of the text format: name{labels} value.
struct Sample {
  std::string name;
  std::string labels;
  double value;
};

std::string signed_post(HttpClient& client, const std::string& body, const std::string& key) {
  return std::to_string(
      client
          .post("/webhooks", body, {{"X-Webhook-Signature", webhook::core::sign_header(key, body)}})
          .status);
}

std::string settled(int i) {
  return R"({"eventType":"payment.settled","transaction":{"id":"tx-m-)" + std::to_string(i) +
         R"(","status":"SETTLED"}})";
}

}  // namespace

TEST_CASE("metrics are valid exposition with monotonic counters and cumulative buckets",
          "[integration][metrics]") {
  Receiver receiver;
  HttpClient client(receiver.port());
  for (int i = 0; i < 5; ++i) CHECK(signed_post(client, settled(i), kKey) == "200");
  CHECK(signed_post(client, settled(0), kKey) == "200");  // duplicate
  CHECK(signed_post(client, settled(9), "whsec_test_only_wrong") == "401");

  const auto first = client.get("/metrics");
  REQUIRE(first.status == 200);
  CHECK(first.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
  auto m = parse_exposition(first.body);
  CHECK(m["webhook_deliveries_total{source=\"production\",result=\"accepted\"}"] == 5);
  CHECK(m["webhook_deliveries_total{source=\"production\",result=\"duplicate\"}"] == 1);
  CHECK(m["webhook_deliveries_total{source=\"production\",result=\"invalid_signature\"}"] == 1);
  CHECK(m["webhook_ack_duration_seconds_count"] == 6);
  CHECK(m["webhook_commit_batch_size_count"] >= 1);
  // Buckets are cumulative: never decreasing, +Inf equals the count.
  double previous = 0;
  for (const char* le : {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                         "0.25", "0.5", "1", "2.5", "5", "10"}) {
    const double v = m["webhook_ack_duration_seconds_bucket{le=\"" + std::string(le) + "\"}"];
    CHECK(v >= previous);
    previous = v;
  }
  CHECK(m["webhook_ack_duration_seconds_bucket{le=\"+Inf\"}"] ==
        m["webhook_ack_duration_seconds_count"]);
  CHECK(m.count("webhook_backlog_events{group=\"settlement\"}") == 1);
  CHECK(m.count("webhook_dead_letters{group=\"all\"}") == 1);

  // Handled events are counted by bounded type and outcome once the log handler ran.
  REQUIRE(wait_until([&] {
    auto now = parse_exposition(client.get("/metrics").body);
    return now["webhook_events_total{source=\"production\",event_type=\"payment.settled\","
               "outcome=\"done\"}"] == 5;
  }));
  // Counters never go down between scrapes.
  CHECK(signed_post(client, settled(6), kKey) == "200");
  auto later = parse_exposition(client.get("/metrics").body);
  for (const auto& [key, value] : m) {
    if (key.rfind("webhook_deliveries_total", 0) == 0 || key.find("_count") != std::string::npos) {
      INFO(key);
      CHECK(later[key] >= value);
    }
  }
  CHECK(later["webhook_deliveries_total{source=\"production\",result=\"accepted\"}"] == 6);
}

TEST_CASE("readiness fails while another process holds the database's write lock",
          "[integration][readiness]") {
  Receiver receiver({}, {}, R"("monitoring": {"backlog_sample_ms": 200})");
  HttpClient client(receiver.port());
  REQUIRE(client.get("/readyz").status == 200);

  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(receiver.config().storage.sqlite_path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(wait_until([&] {
    const auto r = client.get("/readyz");
    return r.status == 503 && r.body.find("storage") != std::string::npos &&
           r.body.find("locked") != std::string::npos;
  }));
  // A delivery now cannot be made durable within the ack budget: 503, never a 2xx.
  const std::string body = settled(1);
  const auto reply = client.post("/webhooks", body,
                                 {{"X-Webhook-Signature", webhook::core::sign_header(kKey, body)}});
  CHECK(reply.status == 503);
  CHECK(reply.header("retry-after") == "5");

  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  CHECK(wait_until([&] { return client.get("/readyz").status == 200; }));
  // The platform's retry is then accepted.
  CHECK(client
            .post("/webhooks", body,
                  {{"X-Webhook-Signature", webhook::core::sign_header(kKey, body)}})
            .status == 200);
}

TEST_CASE("readiness fails when the backlog is older than its bound", "[integration][readiness]") {
  TempDir scripts;
  const std::string failing = scripts.file("down.sh");
  std::ofstream(failing) << "#!/bin/sh\ncat >/dev/null\nexit 1\n";
  ::chmod(failing.c_str(), 0700);
  Receiver receiver({}, {},
                    R"("monitoring": {"backlog_sample_ms": 200, "max_backlog_age_ms": 1000},
                       "workers": {"retry": {"initial_ms": 600000, "max_ms": 600000}},
                       "handlers": {"down": {"type": "exec", "command": [")" +
                        failing + R"("]}},
                       "routes": [{"match": "*", "handlers": ["down"]}])");
  HttpClient client(receiver.port());
  CHECK(client.get("/readyz").status == 200);
  CHECK(signed_post(client, settled(1), kKey) == "200");
  // The event waits ten minutes for its retry; after a second the backlog bound trips.
  CHECK(wait_until([&] {
    const auto r = client.get("/readyz");
    return r.status == 503 && r.body.find("backlog") != std::string::npos;
  }));
  auto m = parse_exposition(client.get("/metrics").body);
  CHECK(m["webhook_backlog_events{group=\"settlement\"}"] == 1);
  CHECK(m["webhook_backlog_oldest_age_seconds{group=\"all\"}"] >= 1.0);
}
