// Crash safety of the real binary: kill -9 at a random moment under load, restart, and check
// that every delivery that got a 2xx is in the database exactly once, byte-exact.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <rapidjson/document.h>
#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "integration/durability_check.hpp"
#include "integration/http_client.hpp"
#include "integration/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;

namespace {

const std::string kKey = "whsec_test_only_crash_0001";

struct Acked {
  long long event_id;
  std::string body;
};

long long event_id_of(const std::string& reply) {
  rapidjson::Document d;
  d.Parse(reply.c_str());
  return d.HasParseError() || !d.HasMember("eventId") ? -1 : d["eventId"].GetInt64();
}

std::string write_config(const TempDir& dir) {
  const std::string path = dir.file("config.json");
  std::ofstream(path) << R"({
    "server": {"listen": "127.0.0.1:0", "io_threads": 2},
    "storage": {"sqlite_path": ")"
                      << dir.file("inbox.db") << R"("},
    "payload_log": {"path": ")"
                      << dir.file("payloads.jsonl") << R"("},
    "logging": {"level": "warn"}
  })";
  return path;
}

std::uint16_t start_and_wait(std::unique_ptr<Process>& proc, const TempDir& dir,
                             const std::string& config, const std::string& port_file) {
  const auto port = start_serving(proc, config, {"WEBHOOK_RECEIVER_SECRET_KEYS=" + kKey},
                                  dir.file("receiver.log"), port_file);
  REQUIRE(port);
  return *port;
}

}  // namespace

TEST_CASE("after kill -9 under load, every acknowledged delivery is stored exactly once",
          "[integration][crash]") {
  TempDir dir;
  const std::string config = write_config(dir);
  const std::string port_file = dir.file("port");
  std::unique_ptr<Process> receiver;
  const std::uint16_t port = start_and_wait(receiver, dir, config, port_file);

  std::random_device rd;
  const unsigned seed = rd();
  std::mt19937 rng(seed);
  const std::size_t kill_after = std::uniform_int_distribution<std::size_t>(300, 2000)(rng);
  std::cout << "crash test: seed " << seed << ", kill -9 after " << kill_after << " acks\n";

  constexpr int kConnections = 16;
  constexpr int kPerConnection = 250;  // 4000 deliveries at most
  std::mutex mutex;
  std::vector<Acked> acked;
  std::atomic<int> duplicate_mismatch{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(port, std::chrono::seconds(5));
      std::string previous;
      long long previous_id = -1;
      for (int i = 0; i < kPerConnection; ++i) {
        // One in ten requests repeats the previous delivery, as a platform retry would.
        const bool resend = previous_id > 0 && i % 10 == 0;
        const std::string body =
            resend ? previous
                   : R"({"eventType":"transaction.status_changed","transaction":{"id":"tx-)" +
                         std::to_string(c) + "-" + std::to_string(i) +
                         R"(","status":"CAPTURED","totalAmount":"100.00"}})";
        const auto reply = client.post(
            "/webhooks", body, {{"X-Webhook-Signature", webhook::core::sign_header(kKey, body)}});
        if (reply.status == 0) return;  // the process is gone
        if (reply.status != 200) continue;
        const long long id = event_id_of(reply.body);
        if (resend) {
          if (id != previous_id) ++duplicate_mismatch;
          continue;
        }
        std::lock_guard lock(mutex);
        acked.push_back({id, body});
        previous = body;
        previous_id = id;
      }
    });
  }
  const bool reached = wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return acked.size() >= kill_after;
      },
      std::chrono::seconds(120));
  receiver->signal(SIGKILL);
  REQUIRE(receiver->wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  for (auto& t : clients) t.join();
  REQUIRE(reached);
  CHECK(duplicate_mismatch == 0);

  // The binary restarts on the crashed database and serves again; then stops cleanly.
  const std::uint16_t port2 = start_and_wait(receiver, dir, config, port_file);
  HttpClient probe(port2);
  CHECK(probe.get("/readyz").status == 200);
  receiver->signal(SIGTERM);
  CHECK(receiver->wait(std::chrono::seconds(30)) == 0);

  // Every 2xx is there exactly once, byte-exact.
  std::vector<std::pair<long long, std::string>> sent;
  for (const auto& a : acked) sent.emplace_back(a.event_id, a.body);
  const DurabilityReport report = check_acknowledged(dir.file("inbox.db"), sent);
  REQUIRE(report.opened);
  INFO("acknowledged " << acked.size() << ", seed " << seed);
  CHECK(acked.size() >= kill_after);
  CHECK(report.missing == 0);
  CHECK(report.altered == 0);
  CHECK(report.repeated == 0);
}

TEST_CASE("after kill -9 while handlers run, every accepted event reaches a terminal state",
          "[integration][crash][worker]") {
  TempDir dir;
  const std::string handled = dir.file("handled.txt");
  const std::string script = dir.file("slow-handler.sh");
  std::ofstream(script) << "#!/bin/sh\ncat > /dev/null\nsleep 0.05\necho \"$WEBHOOK_EVENT_ID\" >> "
                        << handled << "\n";
  ::chmod(script.c_str(), 0700);
  const std::string config = dir.file("config.json");
  std::ofstream(config) << R"({
    "server": {"listen": "127.0.0.1:0", "io_threads": 2},
    "storage": {"sqlite_path": ")"
                        << dir.file("inbox.db") << R"("},
    "payload_log": {"path": ""},
    "workers": {"threads": 4},
    "handlers": {"slow": {"type": "exec", "command": [")"
                        << script << R"("]}},
    "routes": [{"match": "*", "handlers": ["slow"]}],
    "logging": {"level": "warn"}
  })";
  const std::string port_file = dir.file("port");
  std::unique_ptr<Process> receiver;
  const std::uint16_t port = start_and_wait(receiver, dir, config, port_file);

  // 400 deliveries for 40 entities over 8 connections, while the handlers work through them.
  std::mutex mutex;
  std::vector<long long> acked;
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(port, std::chrono::seconds(5));
      for (int i = 0; i < 50; ++i) {
        const std::string body =
            R"({"eventType":"transaction.status_changed","transaction":{"id":"tx-)" +
            std::to_string(c * 5 + i % 5) + R"(","status":"S)" + std::to_string(i) + R"("}})";
        const auto reply = client.post(
            "/webhooks", body, {{"X-Webhook-Signature", webhook::core::sign_header(kKey, body)}});
        if (reply.status == 200) {
          std::lock_guard lock(mutex);
          acked.push_back(event_id_of(reply.body));
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  // Kill it once handlers have started but long before they can have finished.
  REQUIRE(wait_until(
      [&] { return wait_for_file_line(handled, std::chrono::milliseconds(1)).has_value(); },
      std::chrono::seconds(30)));
  receiver->signal(SIGKILL);
  REQUIRE(receiver->wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  REQUIRE(acked.size() == 400);
  {
    // The crash really interrupted the work: some events were not handled yet.
    std::ifstream before(handled);
    std::size_t lines = 0;
    for (std::string line; std::getline(before, line);) ++lines;
    CHECK(lines < acked.size());
  }

  // Restarted, it returns the interrupted claims to pending and finishes the work.
  start_and_wait(receiver, dir, config, port_file);
  auto unfinished = [&] {
    sqlite3* db = nullptr;
    sqlite3_open_v2(dir.file("inbox.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    long long n = -1;
    sqlite3_prepare_v2(
        db,
        "SELECT (SELECT count(*) FROM events WHERE status IN ('pending', "
        "'processing')) + (400 - (SELECT count(*) FROM events WHERE status = 'done'))",
        -1, &stmt, nullptr);
    if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
  };
  CHECK(wait_until([&] { return unfinished() == 0; }, std::chrono::seconds(120)));
  receiver->signal(SIGTERM);
  CHECK(receiver->wait(std::chrono::seconds(30)) == 0);

  // Every acknowledged event was handled at least once (at-least-once across the crash).
  std::ifstream in(handled);
  std::set<long long> seen;
  for (long long id = 0; in >> id;) seen.insert(id);
  std::size_t never_handled = 0;
  for (long long id : acked) never_handled += seen.count(id) == 0 ? 1u : 0u;
  CHECK(never_handled == 0);
}
