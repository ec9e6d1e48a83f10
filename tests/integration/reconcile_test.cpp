// Issue 14 end to end: the real binary, a FakeConomy on 127.0.0.1 standing in for the Conomy
// API. A payment captured by webhook whose settlement webhook is never sent: the service's
// background pass asks the API, which says SETTLED; `payments show` then says SETTLED from the
// API, /metrics counts a missed event, one warning line carries the traceId, and a second pass
// (the service's, then the `reconcile` command's) changes nothing.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "http/fake_conomy.hpp"
#include "integration/exposition.hpp"
#include "integration/http_client.hpp"
#include "integration/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;
using std::chrono::seconds;

namespace {

const std::string kKey = "whsec_test_only_reconcile_0001";
const std::string kSecret = "clientsecret_test_only_A_0123456789";
const std::string kApiKey = "apikey_test_only_0123456789";
const std::string kPayment = "65f1a0c2b7e4d9a1c3e5f777";
const std::vector<std::string> kEnv = {"WEBHOOK_RECEIVER_SECRET_KEYS=" + kKey,
                                       "CONOMY_CLIENT_SECRET=" + kSecret,
                                       "CONOMY_API_KEY=" + kApiKey};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `webhook-receiver ARGS...` to the end; its exit code and output.
struct Ran {
  int code = -1;
  std::string out;
};
Ran run_binary(const TempDir& dir, const std::string& name, std::vector<std::string> args) {
  args.insert(args.begin(), WEBHOOK_RECEIVER_BIN);
  const std::string log = dir.file(name + ".out");
  Process p(args, kEnv, log);
  const auto code = p.wait(std::chrono::seconds(30));
  REQUIRE(code);
  return {*code, read_file(log)};
}

// `text` with each run of spaces made one (the command's tables pad their columns).
std::string squeezed(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return out;
}

double metric(HttpClient& client, const std::string& series) {
  const auto samples = parse_exposition(client.get("/metrics").body);
  const auto it = samples.find(series);
  return it == samples.end() ? 0.0 : it->second;
}

}  // namespace

TEST_CASE("a settlement webhook that never came is found through the API by the real binary",
          "[integration][reconcile]") {
  TempDir dir;
  webhook::core::SystemClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment(kPayment,
                   R"({"id":")" + kPayment +
                       R"(","status":"SETTLED","externalId":"order-77",)"
                       R"("totalAmount":"2000.00","currency":"ARS",)"
                       R"("settlementBatchId":"batch-9","settledAt":"2026-12-08T01:00:00Z"})");

  const std::string config = dir.file("config.json");
  std::ofstream(config) << R"({
      "server": {"listen": "127.0.0.1:0"},
      "admin": {"listen": ""},
      "sources": [{"name": "production", "path": "/webhooks",
                   "api": {"base_url": ")"
                        << fake.base_url() << R"(", "client_id": "client-test-0001",
                           "client_secret_env": "CONOMY_CLIENT_SECRET",
                           "api_key_env": "CONOMY_API_KEY", "timeout_ms": 5000,
                           "retry": {"initial_ms": 100, "max_attempts": 2}}}],
      "storage": {"sqlite_path": ")"
                        << dir.file("inbox.db") << R"("},
      "payload_log": {"path": ""},
      "monitoring": {"settlement_overdue_ms": 60000},
      "reconcile": {"interval_ms": 1000, "max_calls_per_minute": 6000}
    })";
  const std::string log = dir.file("receiver.log");
  std::unique_ptr<Process> served;
  // The service reads the client secret from a file (as a Docker secret is mounted).
  const std::string secret_file = dir.file("client_secret");
  std::ofstream(secret_file) << kSecret << "\n";
  const std::vector<std::string> serve_env = {"WEBHOOK_RECEIVER_SECRET_KEYS=" + kKey,
                                              "CONOMY_CLIENT_SECRET_FILE=" + secret_file,
                                              "CONOMY_API_KEY=" + kApiKey};
  const auto port = start_serving(served, config, serve_env, log, dir.file("port"));
  INFO("receiver log: " << log);
  REQUIRE(port);
  HttpClient client(*port);

  // Captured two hours ago (the payload's timestamp): overdue for settlement after 60 s.
  const auto captured_at = std::chrono::system_clock::now() - std::chrono::hours(2);
  const std::time_t t = std::chrono::system_clock::to_time_t(captured_at);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  const std::string body = R"({"eventType":"payment.captured","timestamp":")" + std::string(stamp) +
                           R"(","transaction":{"id":")" + kPayment +
                           R"(","status":"CAPTURED","externalId":"order-77",)"
                           R"("totalAmount":"2000.00","currency":"ARS"}})";
  const HttpReply reply = client.post(
      "/webhooks", body, {{"X-Webhook-Signature", webhook::core::sign_header(kKey, body)}});
  REQUIRE(reply.status == 200);

  // One background pass finds it.
  const std::string missed =
      R"(webhook_reconcile_found_total{source="production",kind="missed_event"})";
  REQUIRE(wait_until([&] { return metric(client, missed) == 1.0; }, seconds(20)));
  CHECK(metric(client, R"(webhook_reconcile_checks_total{source="production",kind="payment"})") ==
        1.0);

  const Ran shown = run_binary(dir, "show", {"payments", "show", kPayment, "--config", config});
  INFO(shown.out);
  CHECK(shown.code == 0);
  CHECK(shown.out.find("SETTLED since ") != std::string::npos);
  CHECK(shown.out.find("from the Conomy API") != std::string::npos);
  CHECK(shown.out.find("batch-9") != std::string::npos);
  const std::string table = squeezed(shown.out);
  CHECK(table.find(" 2 api.payment SETTLED applied api\n") != std::string::npos);
  CHECK(table.find(" 1 payment.captured CAPTURED applied webhook\n") != std::string::npos);

  const std::string lines = read_file(log);
  CHECK(lines.find("reconcile: settlement webhook never arrived") != std::string::npos);
  CHECK(lines.find("traceId=fake-trace-") != std::string::npos);
  CHECK(lines.find(kSecret) == std::string::npos);
  CHECK(lines.find(kApiKey) == std::string::npos);

  // Later passes: the payment is settled, nobody asks about it again.
  const std::size_t asked = fake.api_requests();
  const std::string passes = "webhook_reconcile_passes_total";
  const double passes_before = metric(client, passes);
  REQUIRE(wait_until([&] { return metric(client, passes) >= passes_before + 2; }, seconds(20)));
  CHECK(fake.api_requests() == asked);
  CHECK(metric(client, missed) == 1.0);

  // The command, asked about it directly: the API agrees; nothing changes; exit 0.
  const Ran again =
      run_binary(dir, "again", {"reconcile", "--transaction", kPayment, "--config", config});
  INFO(again.out);
  CHECK(again.code == 0);
  CHECK(again.out.find("checked 1: 0 missed event(s) applied") != std::string::npos);
  const Ran json =
      run_binary(dir, "json", {"payments", "show", kPayment, "--json", "--config", config});
  CHECK(json.out.find(R"("status_origin":"api")") != std::string::npos);
  std::size_t rows = 0;
  for (std::size_t at = json.out.find(R"("origin":)"); at != std::string::npos;
       at = json.out.find(R"("origin":)", at + 1)) {
    ++rows;
  }
  CHECK(rows == 2);  // one webhook row, one api row: the second passes added none

  // SIGHUP re-reads the secret file and does not stop the service.
  served->signal(SIGHUP);
  REQUIRE(wait_until(
      [&] {
        return read_file(log).find("conomy api: secret files re-read source=production") !=
               std::string::npos;
      },
      seconds(10)));
  CHECK(read_file(log).find("files=1") != std::string::npos);
  CHECK(client.get("/healthz").status == 200);

  served->signal(SIGTERM);
  CHECK(served->wait(seconds(20)) == 0);
}
