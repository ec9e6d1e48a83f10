// Issue 10, hostile clients over real loopback sockets: request smuggling through
// Transfer-Encoding, slowloris, and the connection cap at a low file-descriptor limit. The last
// two run the real binary, so the limits are the process's own.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/exposition.hpp"
#include "integration/http_client.hpp"
#include "integration/process.hpp"
#include "integration/receiver_fixture.hpp"
#include "support/wait.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;
namespace core = webhook::core;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// A complete signed delivery as raw HTTP/1.1 bytes.
std::string signed_request(const std::string& body) {
  return "POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "X-Webhook-Signature: " +
         core::sign_header(kKey, body) + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string delivery(int i) {
  return R"({"eventType":"payment.settled","transaction":{"id":"tx-hostile-)" + std::to_string(i) +
         R"("}})";
}

// The real binary on 127.0.0.1:0 with `server` spliced into its "server" object.
class BinaryReceiver {
 public:
  explicit BinaryReceiver(const std::string& server,
                          std::optional<unsigned> max_open_files = std::nullopt) {
    std::ofstream(config()) << R"({
      "server": {"listen": "127.0.0.1:0", "io_threads": 2, )"
                            << server << R"(},
      "storage": {"sqlite_path": ")"
                            << dir_.file("inbox.db") << R"("},
      "payload_log": {"path": ")"
                            << dir_.file("payloads.jsonl") << R"("},
      "workers": {"threads": 2},
      "logging": {"level": "warn"}
    })";
    process_ = std::make_unique<Process>(
        std::vector<std::string>{WEBHOOK_RECEIVER_BIN, "serve", "--config", config(), "--port-file",
                                 dir_.file("port")},
        std::vector<std::string>{"WEBHOOK_RECEIVER_SECRET_KEYS=" + kKey}, log_path(),
        max_open_files);
  }
  ~BinaryReceiver() {
    process_->signal(SIGTERM);
    process_->wait(seconds(10));
  }

  // The bound port once the receiver is serving, or 0.
  std::uint16_t port() const {
    const auto line = wait_for_file_line(dir_.file("port"), seconds(30));
    return line ? static_cast<std::uint16_t>(std::stoi(*line)) : 0;
  }
  Process& process() { return *process_; }
  std::string log() const { return read_file(log_path()); }

 private:
  std::string config() const { return dir_.file("config.json"); }
  std::string log_path() const { return dir_.file("receiver.log"); }
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

// Sends signed deliveries one after another on one keep-alive client; every one must be
// accepted within `bound`. Returns how many were.
int deliver(std::uint16_t port, int first, int count, milliseconds bound) {
  HttpClient client(port, seconds(10));
  int accepted = 0;
  for (int i = first; i < first + count; ++i) {
    const std::string body = delivery(i);
    const auto started = std::chrono::steady_clock::now();
    const auto reply =
        client.post("/webhooks", body, {{"X-Webhook-Signature", core::sign_header(kKey, body)}});
    const auto took = std::chrono::steady_clock::now() - started;
    INFO("delivery " << i << ": status " << reply.status << " " << client.error() << ", "
                     << std::chrono::duration_cast<milliseconds>(took).count() << " ms");
    CHECK(reply.status == 200);
    CHECK(took < bound);
    if (reply.status == 200 && took < bound) ++accepted;
  }
  return accepted;
}

// Slowloris clients: each sends a valid request header one byte at a time (half a request line
// or one byte at first, then one byte per connection every 200 ms) and never finishes it.
class SlowClients {
 public:
  SlowClients(std::uint16_t port, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      clients_.push_back(std::make_unique<RawConnection>(port));
      sent_.push_back(i % 2 == 0 ? 20 : 1);
      clients_.back()->send(header_.substr(0, sent_.back()));
    }
    trickle_ = std::thread([this] {
      while (!done_) {
        for (std::size_t i = 0; i < clients_.size(); ++i) {
          clients_[i]->send(header_.substr(sent_[i]++, 1));
        }
        std::this_thread::sleep_for(milliseconds(200));
      }
    });
  }
  ~SlowClients() { stop(); }
  void stop() {
    done_ = true;
    if (trickle_.joinable()) trickle_.join();
  }

 private:
  const std::string header_ =
      "POST /webhooks HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(4096, 'a');
  std::vector<std::unique_ptr<RawConnection>> clients_;
  std::vector<std::size_t> sent_;
  std::atomic<bool> done_{false};
  std::thread trickle_;
};

}  // namespace

TEST_CASE("issue 10: a Transfer-Encoding not ending in chunked is 400 and closes the connection",
          "[integration][hostile]") {
  // A webhook POST (answered 400 anyway: its body is empty) and a GET that would be answered 200.
  const std::string request_line = GENERATE("POST /webhooks", "GET /healthz");
  const std::string coding = GENERATE("gzip", "chunked, identity");
  INFO(request_line << ", Transfer-Encoding: " << coding);
  Receiver receiver;
  const std::string smuggled = signed_request(
      *core::compact_json(example("08-payment-settled.json"), false));  // verifies on its own
  RawConnection conn(receiver.port());
  REQUIRE(conn.send(request_line + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding +
                    "\r\n\r\n" + smuggled));
  const auto [reply, closed] = conn.read_until_closed(seconds(5));
  CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(count_of(reply, "HTTP/1.1 ") == 1);  // the body was never read as a second request
  CHECK(closed);
  CHECK(receiver.count() == 0);
}

TEST_CASE("issue 10: signed deliveries are accepted promptly while 400 clients trickle headers",
          "[integration][hostile]") {
  // Long timeouts: the slow clients stay connected for the whole test.
  BinaryReceiver receiver(R"("header_timeout_ms": 60000, "body_timeout_ms": 60000)");
  const std::uint16_t port = receiver.port();
  REQUIRE(port != 0);

  constexpr std::size_t kSlow = 400;
  SlowClients slow(port, kSlow);
  // Once the receiver holds every slow connection, deliveries are timed.
  const auto open_connections = [&] {
    HttpClient probe(port);
    const auto reply = probe.get("/metrics");
    if (reply.status != 200) return 0.0;
    return parse_exposition(reply.body).at("webhook_connections_open");
  };
  REQUIRE(wait_until([&] { return open_connections() > static_cast<double>(kSlow); }, seconds(30)));
  CHECK(deliver(port, 0, 40, seconds(2)) == 40);
  slow.stop();

  // Every slow client is still connected: none was cut to serve the deliveries.
  HttpClient client(port);
  const auto metrics = parse_exposition(client.get("/metrics").body);
  CHECK(metrics.at("webhook_connections_open") > static_cast<double>(kSlow));
  CHECK(metrics.at("webhook_connections_shed_total{reason=\"slow\"}") == 0);
  CHECK(metrics.at("webhook_connections_shed_total{reason=\"idle\"}") == 0);
}

TEST_CASE("issue 10: at a low open-file limit the cap sheds slow clients and deliveries succeed",
          "[integration][hostile]") {
  // 200 descriptors; 2 worker threads keep a reserve of 72, so a cap of 64 fits.
  BinaryReceiver receiver(R"("max_connections": 64, "header_timeout_ms": 60000)", 200);
  const std::uint16_t port = receiver.port();
  REQUIRE(port != 0);

  // More slow clients than the process has descriptors.
  constexpr int kSlow = 250;
  SlowClients slow(port, kSlow);
  CHECK(deliver(port, 0, 20, seconds(2)) == 20);

  HttpClient client(port);
  const auto reply = client.get("/metrics");
  REQUIRE(reply.status == 200);
  const auto metrics = parse_exposition(reply.body);
  CHECK(metrics.at("webhook_connections_max") == 64);
  CHECK(metrics.at("webhook_connections_open") <= 64);
  // Shed as "slow", or as "idle" when the server had not read a byte from them yet.
  CHECK(metrics.at("webhook_connections_shed_total{reason=\"slow\"}") +
            metrics.at("webhook_connections_shed_total{reason=\"idle\"}") >=
        kSlow - 64);
  CHECK(metrics.at("webhook_connections_shed_total{reason=\"refused\"}") == 0);
  CHECK(metrics.at("webhook_accept_errors_total") == 0);
  // The shedding is logged, but not once per connection.
  const std::string log = receiver.log();
  CHECK(count_of(log, "connection limit reached") >= 1);
  CHECK(count_of(log, "connection limit reached") <= 3);
}

TEST_CASE("issue 10: at the cap a keep-alive connection that delivered outlives slow clients",
          "[integration][hostile]") {
  BinaryReceiver receiver(R"("max_connections": 64, "header_timeout_ms": 60000)", 200);
  const std::uint16_t port = receiver.port();
  REQUIRE(port != 0);
  // The platform's keep-alive connection: one delivery answered, then idle. It is the oldest
  // connection once the slow clients arrive, but it has completed a request and they have not.
  const auto metric = [port](const std::string& series) {
    HttpClient probe(port);
    const auto metrics = parse_exposition(probe.get("/metrics").body);
    const auto it = metrics.find(series);
    return it == metrics.end() ? 0.0 : it->second;
  };
  const std::string accepted = R"(webhook_deliveries_total{source="production",result="accepted"})";
  RawConnection platform(port);
  REQUIRE(platform.send(signed_request(delivery(1000))));
  REQUIRE(wait_until([&] { return metric(accepted) == 1; }, seconds(10)));

  SlowClients slow(port, 150);
  REQUIRE(wait_until(
      [&] {
        return metric(R"(webhook_connections_shed_total{reason="slow"})") +
                   metric(R"(webhook_connections_shed_total{reason="idle"})") >=
               150 - 64;
      },
      seconds(30)));

  std::string last = signed_request(delivery(1001));
  last.insert(last.find("\r\n") + 2, "Connection: close\r\n");
  REQUIRE(platform.send(last));
  const auto [replies, closed] = platform.read_until_closed(seconds(5));
  CHECK(count_of(replies, "HTTP/1.1 200") == 2);
  CHECK(closed);
  CHECK(metric(accepted) == 2);
}

TEST_CASE("issue 10: a max_connections that does not fit the open-file limit stops start-up",
          "[integration][hostile]") {
  BinaryReceiver receiver(R"("max_connections": 500)", 200);
  const auto code = receiver.process().wait(seconds(30));
  CHECK(code == 2);
  CHECK(receiver.log().find("server.max_connections: 500 does not fit") != std::string::npos);
}
