// Issue 12, the admin API, over real HTTP against the real binary: the token (none, wrong,
// right), each endpoint's document parsed back, 404 and 400 answers, the security headers, and a
// redrive that moves a dead event back to pending and has the running service run it.
#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/process.hpp"
#include "integration/signed_delivery.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace webhook::testing;
using std::chrono::seconds;

namespace {

const std::string kKey = "whsec_test_only_admin_api_0001";
const std::string kToken = "test-admin-token-not-secret-0001";

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  INFO(body);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

std::string review_payload(const std::string& tx, const std::string& customer) {
  return R"({"eventType":"payment.requiresReview","timestamp":"2026-05-03T10:12:30Z",)"
         R"("transaction":{"id":")" +
         tx + R"(","externalId":"ext-)" + tx +
         R"(","status":"REQUIRES_REVIEW","totalAmount":"2500000.00","currency":"ARS",)"
         R"("type":"LOCAL_DEPOSIT","customerId":")" +
         customer + R"(","documentationStatus":"PENDING_UPLOAD"}})";
}

// The receiver with the admin listener on a free port; "audit.fail" events go to an exec handler
// that fails (one attempt, so they are dead at once) until the file `ok` exists.
class AdminServed {
 public:
  explicit AdminServed(const TempDir& dir) : dir_(dir) {
    const std::string config = dir.file("config.json");
    std::ofstream(config) << R"({
      "server": {"listen": "127.0.0.1:0"},
      "admin": {"listen": "127.0.0.1:0"},
      "storage": {"sqlite_path": ")"
                          << dir.file("inbox.db") << R"("},
      "payload_log": {"path": ""},
      "logging": {"level": "warn"},
      "handlers": {"gate": {"type": "exec", "command": ["/bin/sh", "-c", "test -f )"
                          << dir.file("ok") << R"("]}},
      "routes": [
        {"match": "audit.*", "handlers": ["gate"], "retry": {"max_attempts": 1}},
        {"match": "customer.*", "handlers": ["customers"]},
        {"match": "*", "handlers": ["payments", "reviews"]}
      ]
    })";
    const std::string port_file = dir.file("port");
    const std::string admin_port_file = dir.file("admin-port");
    process_ = std::make_unique<Process>(
        std::vector<std::string>{WEBHOOK_RECEIVER_BIN, "serve", "--config", config, "--port-file",
                                 port_file, "--admin-port-file", admin_port_file},
        std::vector<std::string>{"WEBHOOK_RECEIVER_SECRET_KEYS=" + kKey,
                                 "WEBHOOK_RECEIVER_ADMIN_TOKEN=" + kToken},
        dir.file("receiver.log"));
    const auto port = wait_for_file_line(port_file, seconds(30));
    INFO("receiver log: " << dir.file("receiver.log"));
    REQUIRE(port);
    const auto admin_port = wait_for_file_line(admin_port_file, seconds(5));
    REQUIRE(admin_port);
    port_ = static_cast<std::uint16_t>(std::stoi(*port));
    admin_port_ = static_cast<std::uint16_t>(std::stoi(*admin_port));
    REQUIRE(admin_port_ != 0);
  }
  std::uint16_t port() const { return port_; }
  std::uint16_t admin_port() const { return admin_port_; }

 private:
  const TempDir& dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
};

const HeaderList kAuth = {{"Authorization", "Bearer " + kToken}};

HttpReply api(HttpClient& client, const std::string& method, const std::string& target) {
  return client.request(method, target, {}, kAuth);
}

}  // namespace

TEST_CASE("the admin API answers only with the token, in constant shape", "[integration][admin]") {
  TempDir dir;
  AdminServed served(dir);
  HttpClient admin(served.admin_port());

  const HttpReply none = admin.get("/api/summary");
  CHECK(none.status == 401);
  CHECK(none.header("WWW-Authenticate").find("Bearer") == 0);
  CHECK(std::string(parse(none.body)["error"].GetString()) == "unauthorized");
  const HttpReply wrong =
      admin.request("GET", "/api/summary", {}, {{"Authorization", "Bearer " + kToken + "x"}});
  CHECK(wrong.status == 401);
  CHECK(admin.request("GET", "/api/summary", {}, {{"Authorization", kToken}}).status == 401);
  CHECK(api(admin, "GET", "/api/summary").status == 200);
  // The scheme name is case-insensitive (RFC 9110 section 11.1).
  CHECK(admin.request("GET", "/api/summary", {}, {{"Authorization", "bearer " + kToken}}).status ==
        200);

  // The page needs no token (it holds no data) and carries the strict headers; so does the API.
  const HttpReply page = admin.get("/");
  CHECK(page.status == 200);
  CHECK(page.header("Content-Type").find("text/html") == 0);
  CHECK(page.header("Content-Security-Policy").find("script-src 'self'") != std::string::npos);
  CHECK(page.header("Content-Security-Policy").find("unsafe-inline") == std::string::npos);
  CHECK(page.header("X-Content-Type-Options") == "nosniff");
  CHECK(none.header("X-Content-Type-Options") == "nosniff");
  CHECK(admin.get("/nothing-here").status == 404);

  // The webhook port serves no admin path: nginx exposes only that port.
  HttpClient webhooks(served.port());
  CHECK(webhooks.request("GET", "/api/summary", {}, kAuth).status == 404);
}

TEST_CASE("the admin API's documents, errors and redrive", "[integration][admin]") {
  TempDir dir;
  AdminServed served(dir);
  HttpClient webhooks(served.port());
  HttpClient admin(served.admin_port());

  const std::string tx = "66a2b3c4d5e6f70812345602";
  const std::string customer = "66a2b3c4d5e6f70899990002";
  const std::string review = review_payload(tx, customer);
  REQUIRE(webhooks.post("/webhooks", review, signed_with(kKey, review)).status == 200);
  const std::string level =
      R"({"eventType":"customer.levelChanged","timestamp":"2026-05-03T13:58:02Z","customer":{)"
      R"("id":")" +
      customer + R"(","clientId":"demo","operationLevel":"BASIC","documentsCount":1}})";
  REQUIRE(webhooks.post("/webhooks", level, signed_with(kKey, level)).status == 200);
  const std::string failing = R"({"eventType":"audit.fail","transaction":{"id":"audit-1"}})";
  const HttpReply failing_ack = webhooks.post("/webhooks", failing, signed_with(kKey, failing));
  REQUIRE(failing_ack.status == 200);
  const std::string dead_id = json_field(failing_ack.body, "eventId");
  REQUIRE_FALSE(dead_id.empty());

  // The review queue shows the review once the worker pool has run it.
  REQUIRE(wait_until(
      [&] {
        const HttpReply r = api(admin, "GET", "/api/reviews");
        return r.status == 200 && parse(r.body).IsArray() && parse(r.body).Size() == 1;
      },
      seconds(10)));
  const rapidjson::Document reviews = parse(api(admin, "GET", "/api/reviews?state=open").body);
  CHECK(std::string(reviews[0]["transaction_id"].GetString()) == tx);
  CHECK(std::string(reviews[0]["documentation_status"].GetString()) == "PENDING_UPLOAD");
  CHECK(reviews[0]["age_ms"].IsInt64());

  const rapidjson::Document one = parse(api(admin, "GET", "/api/reviews/" + tx).body);
  REQUIRE(one.Size() == 1);
  CHECK(one[0]["history"].Size() == 1);

  const rapidjson::Document payment = parse(api(admin, "GET", "/api/payments/" + tx).body);
  REQUIRE(payment.Size() == 1);
  CHECK(std::string(payment[0]["status"].GetString()) == "REQUIRES_REVIEW");

  REQUIRE(wait_until([&] { return api(admin, "GET", "/api/customers/" + customer).status == 200; },
                     seconds(10)));
  const rapidjson::Document cust = parse(api(admin, "GET", "/api/customers/" + customer).body);
  CHECK(std::string(cust[0]["operation_level"].GetString()) == "BASIC");
  CHECK(cust[0]["documented"].IsBool());

  // The dead letter, listed, shown, then redriven: the service runs it again at once.
  REQUIRE(wait_until(
      [&] {
        const rapidjson::Document d = parse(api(admin, "GET", "/api/events?status=dead").body);
        return d["events"].Size() == 1;
      },
      seconds(10)));
  const rapidjson::Document shown = parse(api(admin, "GET", "/api/events/" + dead_id).body);
  CHECK(std::string(shown["status"].GetString()) == "dead");
  CHECK(std::string(shown["body"].GetString()) == failing);
  CHECK(std::string(shown["dedup_key"]["source"].GetString()) == "production");

  const HttpReply not_dead = api(admin, "POST", "/api/events/1/retry");
  CHECK(not_dead.status == 409);
  CHECK(std::string(parse(not_dead.body)["error"].GetString()) == "not_dead");

  std::ofstream(dir.file("ok")) << "ok\n";
  const HttpReply redriven = api(admin, "POST", "/api/events/" + dead_id + "/retry");
  REQUIRE(redriven.status == 200);
  CHECK(std::string(parse(redriven.body)["status"].GetString()) == "pending");
  CHECK(wait_until(
      [&] {
        const rapidjson::Document e = parse(api(admin, "GET", "/api/events/" + dead_id).body);
        return std::string(e["status"].GetString()) == "done";
      },
      seconds(5)));
  CHECK(parse(api(admin, "POST", "/api/events/retry-dead").body)["retried"].GetInt64() == 0);

  // Pages: newest first, "next" continues strictly after the last one.
  const rapidjson::Document page1 = parse(api(admin, "GET", "/api/events?limit=2").body);
  REQUIRE(page1["events"].Size() == 2);
  REQUIRE(page1["next"].IsString());
  const rapidjson::Document page2 = parse(
      api(admin, "GET", std::string("/api/events?limit=2&before=") + page1["next"].GetString())
          .body);
  REQUIRE(page2["events"].Size() == 1);
  CHECK(page2["next"].IsNull());
  CHECK(page2["events"][0]["id"].GetInt64() < page1["events"][1]["id"].GetInt64());

  const rapidjson::Document summary = parse(api(admin, "GET", "/api/summary").body);
  REQUIRE(summary["sources"].Size() == 1);
  CHECK(std::string(summary["sources"][0]["source"].GetString()) == "production");
  CHECK(summary["sources"][0]["reviews"]["open"].GetInt64() == 1);
  CHECK(summary["sources"][0]["dead"].GetInt64() == 0);

  const rapidjson::Document compare =
      parse(api(admin, "GET", "/api/compare?a=production&b=sandbox&since=1h").body);
  CHECK(compare["total"]["a"]["received"].GetInt64() == 3);

  // Unknown ids: 404 JSON; bad parameters: 400 naming them.
  CHECK(api(admin, "GET", "/api/payments/no-such-tx").status == 404);
  CHECK(api(admin, "GET", "/api/customers/no-such-customer").status == 404);
  CHECK(api(admin, "GET", "/api/reviews/no-such-tx").status == 404);
  CHECK(api(admin, "GET", "/api/events/999999").status == 404);
  CHECK(api(admin, "GET", "/api/events/abc").status == 404);
  CHECK(api(admin, "POST", "/api/events/999999/retry").status == 404);
  const auto bad = [&](const std::string& target, const std::string& parameter) {
    const HttpReply r = api(admin, "GET", target);
    INFO(target << " -> " << r.status << " " << r.body);
    CHECK(r.status == 400);
    if (r.status == 400) CHECK(std::string(parse(r.body)["parameter"].GetString()) == parameter);
  };
  bad("/api/events?limit=0", "limit");
  bad("/api/events?limit=501", "limit");
  bad("/api/events?status=finished", "status");
  bad("/api/events?before=yesterday", "before");
  bad("/api/events?colour=red", "colour");
  bad("/api/reviews?state=maybe", "state");
  bad("/api/compare?since=tomorrow", "since");
  bad("/api/compare?a=production&b=production", "b");
  CHECK(api(admin, "DELETE", "/api/events/1").status == 405);
  CHECK(api(admin, "GET", "/api/events/retry-dead").status == 405);
}
