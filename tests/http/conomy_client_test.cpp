// Tests for include/webhook/http/conomy_client.hpp against FakeConomy, a real HTTP server on
// 127.0.0.1:0. Time is a ManualClock shared by the client and the fake; retry waits go to a
// recording sleeper, so "1 s then 2 s" is asserted without waiting for it.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/fake_conomy.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "webhook/http/conomy_client.hpp"
#include "webhook/log/log.hpp"

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using webhook::core::ManualClock;
using webhook::http::ApiOutcome;
using webhook::http::ConomyApiClient;
using webhook::http::ConomyApiOptions;
using webhook::http::SecretSpec;
using webhook::testing::FakeAnswer;
using webhook::testing::FakeConomy;
using webhook::testing::FakeConomyOptions;
using webhook::testing::TempDir;

const std::string kSecretA = "clientsecret_test_only_A_0123456789";
const std::string kSecretB = "clientsecret_test_only_B_9876543210";
const std::string kApiKey = "apikey_test_only_0123456789";
const std::string kPaymentId = "65f1a0c2b7e4d9a1c3e5f701";
const std::string kPayment =
    R"({"id":"65f1a0c2b7e4d9a1c3e5f701","externalId":"order-1","status":"SETTLED",)"
    R"("totalAmount":"2000.00","currency":"ARS","settledAt":"2026-05-03T14:00:00Z"})";

// Every log line written while it lives.
class LogCapture {
 public:
  LogCapture() {
    webhook::log::set_line_sink([this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { webhook::log::set_line_sink({}); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool any_contains(const std::string& text) const {
    for (const auto& line : lines()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Records the waits the client asks for and returns at once.
struct RecordingSleeper {
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<milliseconds>> waits = std::make_shared<std::vector<milliseconds>>();

  webhook::http::Sleeper sleeper() const {
    return [m = mutex, w = waits](milliseconds d) {
      std::lock_guard lock(*m);
      w->push_back(d);
    };
  }
  std::vector<milliseconds> recorded() const {
    std::lock_guard lock(*mutex);
    return *waits;
  }
};

ConomyApiOptions options_for(const FakeConomy& fake, SecretSpec secret = {kSecretA, ""}) {
  ConomyApiOptions o;
  o.source = "sandbox";
  o.base_url = fake.base_url();
  o.client_id = "client-test-0001";
  o.client_secret = std::move(secret);
  o.api_key = {kApiKey, ""};
  o.timeout = milliseconds{5000};
  return o;
}

// Replaces `path` at once (write beside it, rename over it), as a secret mount is updated.
void write_secret_file(const std::string& path, const std::string& value) {
  const std::string next = path + ".next";
  std::ofstream(next, std::ios::binary | std::ios::trunc) << value << "\n";
  std::filesystem::rename(next, path);
}

}  // namespace

TEST_CASE("a payment is read with a bearer token and the answer's traceId is logged",
          "[conomy_client]") {
  LogCapture logs;
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment(kPaymentId, kPayment);
  RecordingSleeper sleeps;
  ConomyApiClient client(options_for(fake), clock, sleeps.sleeper());

  const auto result = client.get_payment(kPaymentId);
  REQUIRE(result.outcome == ApiOutcome::found);
  REQUIRE(result.value);
  CHECK(result.value->facts.transaction_id == kPaymentId);
  CHECK(result.value->facts.status == "SETTLED");
  CHECK(result.value->facts.total_amount == "2000.00");
  CHECK(result.attempts == 1);
  CHECK(result.trace_id.starts_with("fake-trace-"));
  CHECK(logs.any_contains("traceId=" + result.trace_id));
  CHECK(fake.auth_requests() == 1);
  CHECK(fake.api_requests() == 1);
  CHECK(sleeps.recorded().empty());
}

TEST_CASE("a customer is read, and an unknown one is not_found without a retry",
          "[conomy_client]") {
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_customer("cus-1", R"({"id":"cus-1","operationLevel":"FULL","documentsCount":3})");
  RecordingSleeper sleeps;
  ConomyApiClient client(options_for(fake), clock, sleeps.sleeper());

  const auto found = client.get_customer("cus-1");
  REQUIRE(found.found());
  CHECK(found.value->facts.operation_level == "FULL");
  CHECK(found.value->facts.documents_count == 3);

  const auto missing = client.get_customer("cus-2");
  CHECK(missing.outcome == ApiOutcome::not_found);
  CHECK(missing.error.status == 404);
  CHECK(missing.error.code == "31");
  CHECK(missing.attempts == 1);
  CHECK(sleeps.recorded().empty());
}

TEST_CASE("an answer about another id is a failure, not that object", "[conomy_client]") {
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment("other", kPayment);  // the object's own id is kPaymentId
  ConomyApiClient client(options_for(fake), clock, RecordingSleeper{}.sleeper());

  const auto result = client.get_payment("other");
  CHECK(result.outcome == ApiOutcome::failed);
  CHECK_FALSE(result.value);
  CHECK(result.error.message == "the answer is another payment");
}

TEST_CASE("the token is reused until shortly before it expires, then replaced", "[conomy_client]") {
  ManualClock clock;
  FakeConomyOptions fo;
  fo.token_lifetime_s = 120;  // replaced at 60 s before expiry: after 60 s
  FakeConomy fake(fo, clock);
  fake.put_payment(kPaymentId, kPayment);
  ConomyApiClient client(options_for(fake), clock, RecordingSleeper{}.sleeper());

  REQUIRE(client.get_payment(kPaymentId).found());
  clock.advance(59s);
  REQUIRE(client.get_payment(kPaymentId).found());
  CHECK(fake.auth_requests() == 1);
  clock.advance(2s);  // 61 s: inside the margin, still valid at the fake
  REQUIRE(client.get_payment(kPaymentId).found());
  CHECK(fake.auth_requests() == 2);
  CHECK(fake.refused_tokens() == 0);  // never sent an expired token
  CHECK(client.counters().auths == 2);
  CHECK(client.counters().requests == 3);
}

TEST_CASE("eight concurrent callers without a token share one refresh", "[conomy_client]") {
  ManualClock clock;
  FakeConomyOptions fo;
  fo.auth_delay = 200ms;  // every caller arrives while the one refresh is under way
  FakeConomy fake(fo, clock);
  fake.put_payment(kPaymentId, kPayment);
  ConomyApiClient client(options_for(fake), clock, RecordingSleeper{}.sleeper());

  std::atomic<int> found{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      if (client.get_payment(kPaymentId).found()) ++found;
    });
  }
  for (auto& t : callers) t.join();
  CHECK(found == 8);
  CHECK(fake.auth_requests() == 1);
  CHECK(fake.api_requests() == 8);
}

TEST_CASE("a 401 drops the token, refreshes once and the retry succeeds", "[conomy_client]") {
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment(kPaymentId, kPayment);
  RecordingSleeper sleeps;
  ConomyApiClient client(options_for(fake), clock, sleeps.sleeper());
  REQUIRE(client.get_payment(kPaymentId).found());

  fake.revoke_tokens();
  const auto result = client.get_payment(kPaymentId);
  REQUIRE(result.found());
  CHECK(result.attempts == 2);
  CHECK(fake.refused_tokens() == 1);
  CHECK(fake.auth_requests() == 2);
  CHECK(sleeps.recorded().empty());  // a refresh is not a backoff

  SECTION("a second 401 after the refresh ends the call") {
    fake.script({{401, "", {}}});
    fake.revoke_tokens();
    const auto refused = client.get_payment(kPaymentId);
    CHECK(refused.outcome == ApiOutcome::failed);
    CHECK(refused.error.status == 401);
    CHECK(refused.attempts == 2);
    CHECK(fake.auth_requests() == 3);
  }
}

TEST_CASE("5xx, 5xx, 200 succeeds on the third attempt after waits of 1 s and 2 s",
          "[conomy_client]") {
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment(kPaymentId, kPayment);
  fake.script({{500, "", {}}, {503, "", {}}});
  RecordingSleeper sleeps;
  ConomyApiClient client(options_for(fake), clock, sleeps.sleeper());

  const auto result = client.get_payment(kPaymentId);
  REQUIRE(result.found());
  CHECK(result.attempts == 3);
  CHECK(sleeps.recorded() == std::vector<milliseconds>{1000ms, 2000ms});
  CHECK(fake.api_requests() == 3);
}

TEST_CASE("a cancelled client ends a call waiting to retry instead of trying again",
          "[conomy_client]") {
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment(kPaymentId, kPayment);
  fake.script({{503, "", {}}, {503, "", {}}});
  ConomyApiClient* self = nullptr;
  int waits = 0;
  // The service stops while the call waits for its second attempt.
  ConomyApiClient client(options_for(fake), clock, [&](milliseconds) {
    ++waits;
    self->cancel();
  });
  self = &client;

  const auto result = client.get_payment(kPaymentId);
  CHECK(result.outcome == ApiOutcome::failed);
  CHECK(result.attempts == 1);
  CHECK(waits == 1);
  CHECK(result.error.message == "cancelled: the service is stopping");
  CHECK(fake.api_requests() == 1);
  // For good: the next call fails at once, sending nothing.
  CHECK(client.get_payment(kPaymentId).attempts == 0);
  CHECK(fake.api_requests() == 1);
}

TEST_CASE("five 5xx give up after five attempts with the last error", "[conomy_client]") {
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment(kPaymentId, kPayment);
  fake.script(std::vector<FakeAnswer>(6, FakeAnswer{502, "", {}}));
  RecordingSleeper sleeps;
  ConomyApiClient client(options_for(fake), clock, sleeps.sleeper());

  const auto result = client.get_payment(kPaymentId);
  CHECK(result.outcome == ApiOutcome::failed);
  CHECK(result.attempts == 5);
  CHECK(result.error.status == 502);
  CHECK(result.error.code == "01");
  CHECK(sleeps.recorded() == std::vector<milliseconds>{1000ms, 2000ms, 4000ms, 8000ms});
  CHECK(fake.api_requests() == 5);
}

TEST_CASE("429 honours Retry-After", "[conomy_client]") {
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment(kPaymentId, kPayment);
  fake.script({{429, "", {{"Retry-After", "3"}}}, {429, "", {}}});
  RecordingSleeper sleeps;
  ConomyApiClient client(options_for(fake), clock, sleeps.sleeper());

  const auto result = client.get_payment(kPaymentId);
  REQUIRE(result.found());
  CHECK(result.attempts == 3);
  // Retry-After: 3 s; then no header: the backoff for a second failed attempt, 2 s.
  CHECK(sleeps.recorded() == std::vector<milliseconds>{3000ms, 2000ms});
}

TEST_CASE("400 is not retried and its documented error is parsed with the traceId logged",
          "[conomy_client]") {
  LogCapture logs;
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.script({{400,
                R"({"status":400,"code":"11","type":"invalidParam","detail":"id is malformed",)"
                R"("traceId":"0f8e2b1c-aaaa-4bbb-8ccc-123456789abc"})",
                {}}});
  RecordingSleeper sleeps;
  ConomyApiClient client(options_for(fake), clock, sleeps.sleeper());

  const auto result = client.get_payment("bad id");
  CHECK(result.outcome == ApiOutcome::failed);
  CHECK(result.attempts == 1);
  CHECK(fake.api_requests() == 1);
  CHECK(sleeps.recorded().empty());
  CHECK(result.error.status == 400);
  CHECK(result.error.code == "11");
  CHECK(result.error.type == "invalidParam");
  CHECK(result.error.message == "id is malformed");
  CHECK(result.error.trace_id == "0f8e2b1c-aaaa-4bbb-8ccc-123456789abc");
  CHECK(logs.any_contains("traceId=0f8e2b1c-aaaa-4bbb-8ccc-123456789abc"));
}

TEST_CASE("the OpenAPI error shape is parsed and the header traceId is logged", "[conomy_client]") {
  LogCapture logs;
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.script({{403,
                R"({"statusCode":403,"error":"Forbidden","message":"not allowed"})",
                {{"x-trace-id", "trace-from-header-77"}}}});
  ConomyApiClient client(options_for(fake), clock, RecordingSleeper{}.sleeper());

  const auto result = client.get_payment(kPaymentId);
  CHECK(result.outcome == ApiOutcome::failed);
  CHECK(result.attempts == 1);
  CHECK(result.error.type == "Forbidden");
  CHECK(result.error.message == "not allowed");
  CHECK(result.error.trace_id == "trace-from-header-77");
  CHECK(logs.any_contains("traceId=trace-from-header-77"));
}

TEST_CASE("no answer at all is retried with the backoff and ends failed with status 0",
          "[conomy_client]") {
  ManualClock clock;
  std::string closed_url;
  {
    FakeConomy gone({}, clock);
    closed_url = gone.base_url();
  }  // nothing listens there any more
  ConomyApiOptions o;
  o.base_url = closed_url;
  o.client_id = "client-test-0001";
  o.client_secret = {kSecretA, ""};
  o.api_key = {kApiKey, ""};
  RecordingSleeper sleeps;
  ConomyApiClient client(o, clock, sleeps.sleeper());

  const auto result = client.get_payment(kPaymentId);
  CHECK(result.outcome == ApiOutcome::failed);
  CHECK(result.error.status == 0);
  CHECK(result.attempts == 0);  // no token, so no GET
  CHECK(sleeps.recorded() == std::vector<milliseconds>{1000ms, 2000ms, 4000ms, 8000ms});
  CHECK(client.counters().auths == 5);
  CHECK(client.counters().auth_failures == 1);
}

TEST_CASE("a secret file rotated under load is used for the next token with no failed call",
          "[conomy_client]") {
  LogCapture logs;
  TempDir dir;
  const std::string file = dir.file("client_secret");
  write_secret_file(file, kSecretA);
  ManualClock clock;
  FakeConomy fake({}, clock);  // tokens live 60 s, replaced after 30 s
  fake.put_payment(kPaymentId, kPayment);
  ConomyApiClient client(options_for(fake, SecretSpec{kSecretA, file}), clock,
                         RecordingSleeper{}.sleeper());
  REQUIRE(client.get_payment(kPaymentId).found());

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&] {
      while (!stop) {
        if (client.get_payment(kPaymentId).found()) {
          ++ok;
        } else {
          ++failed;
        }
      }
    });
  }
  const auto calls_grow = [&](int by) {
    const int target = ok + by;
    return webhook::testing::wait_until([&] { return ok >= target; });
  };
  REQUIRE(calls_grow(20));

  // 1. Conomy issues secret B and A stops working; tokens already issued keep working.
  fake.set_secrets({kSecretB});
  clock.advance(35s);  // past the refresh time: the refresh with A is refused
  REQUIRE(webhook::testing::wait_until([&] { return client.counters().auth_failures >= 1; }));
  REQUIRE(calls_grow(20));
  // 2. The operator replaces the file; the next refresh (at most 5 s later) reads B.
  write_secret_file(file, kSecretB);
  clock.advance(6s);
  REQUIRE(webhook::testing::wait_until([&] { return fake.auth_accepted() == 2; }));
  // 3. Past the old token's expiry every call runs on the token obtained with B.
  clock.advance(20s);
  REQUIRE(calls_grow(20));
  stop = true;
  for (auto& t : callers) t.join();

  CHECK(failed == 0);
  CHECK(fake.auth_accepted() == 2);
  const auto seen = fake.secrets_seen();
  CHECK(std::find(seen.begin(), seen.end(), kSecretB) != seen.end());
  CHECK(logs.any_contains("secret file changed"));
  CHECK_FALSE(logs.any_contains(kSecretA));
  CHECK_FALSE(logs.any_contains(kSecretB));
}

TEST_CASE("an auth refused with a new secret keeps the current token until it expires",
          "[conomy_client]") {
  TempDir dir;
  const std::string file = dir.file("client_secret");
  write_secret_file(file, kSecretA);
  ManualClock clock;
  FakeConomy fake({}, clock);  // 60 s tokens
  fake.put_payment(kPaymentId, kPayment);
  ConomyApiClient client(options_for(fake, SecretSpec{kSecretA, file}), clock,
                         RecordingSleeper{}.sleeper());
  REQUIRE(client.get_payment(kPaymentId).found());

  write_secret_file(file, "clientsecret_test_only_WRONG_000000");  // not (yet) valid
  fake.set_secrets({kSecretB});
  clock.advance(31s);
  CHECK(client.get_payment(kPaymentId).found());  // refresh refused, old token used
  CHECK(client.counters().auth_failures == 1);
  clock.advance(28s);  // 59 s: still valid
  CHECK(client.get_payment(kPaymentId).found());
  clock.advance(2s);  // 61 s: expired, and no new token can be had
  const auto result = client.get_payment(kPaymentId);
  CHECK(result.outcome == ApiOutcome::failed);
  CHECK(result.error.status == 401);
  CHECK(result.attempts == 0);
  CHECK(fake.refused_tokens() == 0);  // the expired token was never sent
}

TEST_CASE("the client secret, the api key and tokens never appear in a log line",
          "[conomy_client]") {
  LogCapture logs;
  webhook::log::configure(webhook::log::Format::text, webhook::log::Level::trace);
  ManualClock clock;
  FakeConomy fake({}, clock);
  fake.put_payment(kPaymentId, kPayment);
  // An API that echoes what it was sent in its error message.
  fake.script({{400,
                R"({"code":"11","detail":"bad secret )" + kSecretA + " key " + kApiKey + R"("})",
                {}}});
  fake.script_auth({{200, "", {}}, {401, "", {}}});  // one answer unusable, one refused
  ConomyApiClient client(options_for(fake), clock, RecordingSleeper{}.sleeper());
  CHECK_FALSE(client.get_payment(kPaymentId).found());  // unusable token answer
  CHECK_FALSE(client.get_payment(kPaymentId).found());  // refused auth
  const auto echoed = client.get_payment(kPaymentId);   // token, then the echoing 400
  CHECK(echoed.error.message.find(kSecretA) == std::string::npos);
  CHECK(echoed.error.message.find("[redacted]") != std::string::npos);
  fake.revoke_tokens();
  CHECK(client.get_payment(kPaymentId).found());
  webhook::log::configure(webhook::log::Format::text, webhook::log::Level::info);

  const auto lines = logs.lines();
  REQUIRE(lines.size() >= 6);
  for (const auto& line : lines) {
    INFO(line);
    CHECK(line.find(kSecretA) == std::string::npos);
    CHECK(line.find(kApiKey) == std::string::npos);
    CHECK(line.find("fake-token-") == std::string::npos);
  }
}
