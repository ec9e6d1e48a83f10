// Graceful restart under steady load: SIGTERM the real binary while 8 clients keep sending,
// start it again on the same database and the same port, and check that every answer was a
// committed 200 or a 503/connection error inside the restart window, and that every delivery
// that got a 200 is stored exactly once, byte-exact.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>

#include <rapidjson/document.h>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "integration/durability_check.hpp"
#include "integration/http_client.hpp"
#include "integration/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kKey = "whsec_test_only_restart_0001";

constexpr int kClients = 8;
constexpr long kMaxRequests = 20000;                 // bound on the whole run
constexpr auto kMaxLoad = std::chrono::seconds(20);  // bound on the whole run
constexpr auto kPhase = std::chrono::seconds(1);     // load before the SIGTERM and after restart

struct Attempt {
  Clock::time_point start, end;
  unsigned status = 0;  // 0: connection error
  long long event_id = -1;
  std::string body;  // kept for 200s only
  std::string error;
};

long long event_id_of(const std::string& reply) {
  rapidjson::Document d;
  d.Parse(reply.c_str());
  return d.HasParseError() || !d.IsObject() || !d.HasMember("eventId") ? -1
                                                                       : d["eventId"].GetInt64();
}

std::string status_of(const std::string& reply) {
  rapidjson::Document d;
  d.Parse(reply.c_str());
  return d.HasParseError() || !d.IsObject() || !d.HasMember("status") || !d["status"].IsString()
             ? std::string()
             : std::string(d["status"].GetString());
}

void write_config(const std::string& path, const std::string& listen, const TempDir& dir) {
  std::ofstream(path, std::ios::trunc) << R"({
    "server": {"listen": ")" << listen << R"(", "io_threads": 2},
    "storage": {"sqlite_path": ")" << dir.file("inbox.db")
                                       << R"("},
    "payload_log": {"path": ")" << dir.file("payloads.jsonl")
                                       << R"("},
    "logging": {"level": "warn"}
  })";
}

// Starts the binary and waits for its port file; nullopt (and the exit code in `exit_code`)
// when it exits first.
std::optional<std::uint16_t> start(std::unique_ptr<Process>& proc, const TempDir& dir,
                                   const std::string& config, std::optional<int>& exit_code) {
  const std::string port_file = dir.file("port");
  std::remove(port_file.c_str());
  proc = std::make_unique<Process>(
      std::vector<std::string>{WEBHOOK_RECEIVER_BIN, "serve", "--config", config, "--port-file",
                               port_file},
      std::vector<std::string>{"WEBHOOK_RECEIVER_SECRET_KEYS=" + kKey}, dir.file("receiver.log"));
  std::optional<std::string> port;
  wait_until(
      [&] {
        port = wait_for_file_line(port_file, std::chrono::milliseconds(1));
        if (port) return true;
        exit_code = proc->wait(std::chrono::milliseconds(0));
        return exit_code.has_value();
      },
      std::chrono::seconds(30));
  if (!port) return std::nullopt;
  return static_cast<std::uint16_t>(std::stoi(*port));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

TEST_CASE("graceful restart under steady load loses no acknowledged delivery",
          "[integration][restart]") {
  TempDir dir;
  const std::string config = dir.file("config.json");
  write_config(config, "127.0.0.1:0", dir);
  std::unique_ptr<Process> receiver;
  std::optional<int> early_exit;
  const auto first_port = start(receiver, dir, config, early_exit);
  INFO("receiver output:\n" << read_file(dir.file("receiver.log")));
  REQUIRE(first_port);
  const std::uint16_t port = *first_port;
  // The restart must come back on the same port: pin it in the config now.
  write_config(config, "127.0.0.1:" + std::to_string(port), dir);

  const auto load_started = Clock::now();
  std::atomic<bool> stop_load{false};
  std::atomic<long> requests{0};
  std::atomic<long> oks{0};
  std::vector<std::vector<Attempt>> attempts(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(port, std::chrono::seconds(10));
      auto& mine = attempts[static_cast<std::size_t>(c)];
      for (long i = 0; !stop_load && Clock::now() - load_started < kMaxLoad; ++i) {
        if (requests.fetch_add(1) >= kMaxRequests) break;
        const std::string body =
            R"({"eventType":"transaction.status_changed","transaction":{"id":"tx-restart-)" +
            std::to_string(c) + "-" + std::to_string(i) +
            R"(","status":"CAPTURED","totalAmount":"100.00"}})";
        Attempt a;
        a.start = Clock::now();
        // HttpClient keeps the connection alive and reconnects when the server closed it.
        const auto reply = client.post(
            "/webhooks", body, {{"X-Webhook-Signature", webhook::core::sign_header(kKey, body)}});
        a.end = Clock::now();
        a.status = reply.status;
        if (reply.status == 200) {
          a.event_id = event_id_of(reply.body);
          if (status_of(reply.body) != "accepted") a.error = "200 but " + reply.body;
          a.body = body;
          ++oks;
        } else if (reply.status == 0) {
          a.error = client.error();
        } else {
          a.error = reply.body;
        }
        const bool failed = reply.status != 200;
        mine.push_back(std::move(a));
        // Pace retries while the port is closed (connection refused is instant); not a wait
        // for correctness.
        if (failed) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  auto stop_clients = [&] {
    stop_load = true;
    for (auto& t : clients)
      if (t.joinable()) t.join();
  };
  struct JoinOnExit {  // a failed REQUIRE below must not leave client threads running
    std::function<void()> join;
    ~JoinOnExit() { join(); }
  } join_on_exit{stop_clients};

  // ~1 s of load (and some acknowledged deliveries), then SIGTERM.
  const bool loaded =
      wait_until([&] { return oks >= 100 && Clock::now() - load_started >= kPhase; },
                 std::chrono::seconds(30));
  const long oks_before = oks;
  const auto sigterm_at = Clock::now();
  receiver->signal(SIGTERM);
  const auto first_exit = receiver->wait(std::chrono::seconds(30));
  const auto exited_at = Clock::now();

  // Same database, same port. SO_REUSEADDR lets it rebind at once.
  std::optional<int> restart_exit;
  const auto second_port =
      first_exit == 0 ? start(receiver, dir, config, restart_exit) : std::nullopt;
  const auto ready_at = Clock::now();  // the port file is written once it listens
  if (!second_port) {
    stop_clients();
    INFO("receiver output:\n" << read_file(dir.file("receiver.log")));
    REQUIRE(first_exit == 0);
    const std::string output = read_file(dir.file("receiver.log"));
    if (output.find("cannot listen") != std::string::npos) {
      FAIL("the restart could not bind 127.0.0.1:" << port
                                                   << ": the port was taken by another process "
                                                      "between the stop and the restart");
    }
    FAIL("the restarted receiver did not come up (exit "
         << (restart_exit ? std::to_string(*restart_exit) : std::string("none")) << ")");
  }
  CHECK(*second_port == port);

  // ~1 s more of load against the new process, then stop everything.
  const long oks_at_restart = oks;
  const bool reloaded =
      wait_until([&] { return oks >= oks_at_restart + 100 && Clock::now() - ready_at >= kPhase; },
                 std::chrono::seconds(30));
  stop_clients();
  receiver->signal(SIGTERM);
  const auto second_exit = receiver->wait(std::chrono::seconds(30));
  INFO("receiver output:\n" << read_file(dir.file("receiver.log")));
  REQUIRE(loaded);
  CHECK(first_exit == 0);
  CHECK(second_exit == 0);
  INFO(requests.load() << " requests sent (cap " << kMaxRequests << "), " << oks.load()
                       << " acknowledged");
  REQUIRE(reloaded);
  CHECK(requests <= kMaxRequests + kClients);

  // Every answer is a 200, or a 503 / connection error that overlaps the restart window
  // [SIGTERM, new process listening].
  std::size_t ok = 0, unavailable = 0, connection_errors = 0, other = 0, not_accepted = 0;
  std::size_t outside_window = 0;
  Clock::time_point first_failure = Clock::time_point::max(), last_failure{};
  std::vector<const Attempt*> acked;
  std::map<std::string, std::size_t> error_kinds;
  for (const auto& per_client : attempts) {
    for (const auto& a : per_client) {
      if (a.status == 200) {
        ++ok;
        if (!a.error.empty()) {
          ++not_accepted;
          UNSCOPED_INFO(a.error);
        }
        acked.push_back(&a);
        continue;
      }
      if (a.status == 503) {
        ++unavailable;
      } else if (a.status == 0) {
        ++connection_errors;
        ++error_kinds[a.error];
      } else {
        ++other;
        UNSCOPED_INFO("unexpected status " << a.status << ": " << a.error);
        continue;
      }
      first_failure = std::min(first_failure, a.start);
      last_failure = std::max(last_failure, a.end);
      if (a.end < sigterm_at || a.start > ready_at) {
        ++outside_window;
        UNSCOPED_INFO("status " << a.status << " (" << a.error << ") at "
                                << ms(a.start - sigterm_at) << ".." << ms(a.end - sigterm_at)
                                << " ms from SIGTERM, outside the restart window");
      }
    }
  }
  const bool failures = unavailable + connection_errors > 0;
  std::cout << "restart test: " << ok << " x 200 (" << oks_before << " before SIGTERM, "
            << (ok - static_cast<std::size_t>(oks_at_restart)) << " after the restart), "
            << unavailable << " x 503, " << connection_errors
            << " connection errors; restart window (SIGTERM -> new process listening) "
            << ms(ready_at - sigterm_at) << " ms, of which the old process took "
            << ms(exited_at - sigterm_at) << " ms to exit; failures seen from "
            << (failures ? ms(first_failure - sigterm_at) : 0.0) << " to "
            << (failures ? ms(last_failure - sigterm_at) : 0.0) << " ms after SIGTERM\n";
  for (const auto& [error, n] : error_kinds) std::cout << "  " << n << " x " << error << "\n";
  CHECK(other == 0);
  CHECK(not_accepted == 0);
  CHECK(outside_window == 0);

  // Every 200 is in the database exactly once, byte-exact; rows nobody got a 200 for would be
  // deliveries committed but never answered.
  std::vector<std::pair<long long, std::string>> sent;
  for (const Attempt* a : acked) sent.emplace_back(a->event_id, a->body);
  const DurabilityReport report = check_acknowledged(dir.file("inbox.db"), sent);
  REQUIRE(report.opened);
  const long long rows = report.rows;
  std::cout << "restart test: " << rows << " rows stored for " << acked.size() << " x 200\n";
  CHECK(rows >= static_cast<long long>(acked.size()));
  CHECK(ok > 0);
  CHECK(report.missing == 0);
  CHECK(report.altered == 0);
  CHECK(report.repeated == 0);
}
