// Tests include/webhook/worker/forward_handler.hpp (and the HttpClient under it) against a real
// scripted server on 127.0.0.1:0 (worker/downstream_fixture.hpp).
#include "webhook/worker/forward_handler.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "http/asio.hpp"
#include "webhook/core/standard_webhooks.hpp"
#include "webhook/http/client.hpp"
#include "worker/downstream_fixture.hpp"

using namespace webhook;
using namespace std::chrono_literals;
using webhook::testing::Downstream;
using webhook::testing::DownstreamTls;
using webhook::testing::ScriptedResponse;
using Kind = worker::HandlerResult::Kind;

namespace {

const std::string kSecret = "whsec_" + core::base64_encode("forward secret for tests only!!");
const std::string kBody = R"({"eventType":"transaction.status_changed","data":{"id":"t-1"}})";

core::StoredEvent make_event(std::int64_t id = 42) {
  core::StoredEvent e;
  e.id = id;
  e.key = {"production", "transaction.status_changed", "transaction", "t-1", "CAPTURED"};
  e.event_type = "transaction.status_changed";
  e.entity_kind = "transaction";
  e.entity_id = "t-1";
  e.status = "processing";
  e.body = kBody;
  e.attempts = 1;
  return e;
}

worker::ForwardOptions options_for(const std::string& url) {
  worker::ForwardOptions o;
  o.url = url;
  o.secret = kSecret;
  o.timeout = 2000ms;
  o.connect_timeout = 2000ms;
  return o;
}

ScriptedResponse status(unsigned code,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
  ScriptedResponse r;
  r.status = code;
  r.headers = std::move(headers);
  r.body = "status " + std::to_string(code);
  return r;
}

// A port on 127.0.0.1 with nothing listening (bound, then closed).
std::uint16_t closed_port() {
  http::net::io_context ioc;
  http::tcp::acceptor acceptor(ioc, {http::net::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

}  // namespace

TEST_CASE("forwards the payload with event headers and a Standard Webhooks signature",
          "[forward]") {
  Downstream downstream({status(204)});
  core::ManualClock clock;
  auto handler =
      worker::make_forward_handler(options_for(downstream.url("/hook?from=receiver")), clock);

  const auto result = handler->handle(make_event());
  INFO(result.error);
  CHECK(result.kind == Kind::ok);
  const auto requests = downstream.requests();
  REQUIRE(requests.size() == 1);
  const auto& req = requests[0];
  CHECK(req.method == "POST");
  CHECK(req.target == "/hook?from=receiver");
  CHECK(req.body == kBody);
  CHECK(req.header("content-type") == "application/json");
  CHECK(req.header("x-webhook-event-id") == "42");
  CHECK(req.header("x-webhook-event-type") == "transaction.status_changed");
  CHECK(req.header("x-webhook-source") == "production");
  CHECK(req.header("webhook-id") == "evt_production_42");
  CHECK(req.header("webhook-timestamp") == std::to_string(clock.now_ms() / 1000));
  // The downstream's view: what arrived verifies under the shared secret.
  const std::int64_t ts = std::stoll(req.header("webhook-timestamp"));
  CHECK(core::verify_standard_webhooks(kSecret, req.header("webhook-id"), ts, req.body,
                                       req.header("webhook-signature"), clock.now_ms() / 1000));
  CHECK_FALSE(core::verify_standard_webhooks(
      "whsec_" + core::base64_encode("another secret"), req.header("webhook-id"), ts, req.body,
      req.header("webhook-signature"), clock.now_ms() / 1000));
}

TEST_CASE("a 5xx is retryable and the retry carries the same webhook-id", "[forward]") {
  Downstream downstream({status(500), status(200)});
  core::ManualClock clock;
  auto handler = worker::make_forward_handler(options_for(downstream.url()), clock);

  const auto first = handler->handle(make_event());
  CHECK(first.kind == Kind::retryable);
  CHECK(first.error == "forward: HTTP 500: status 500");
  CHECK_FALSE(first.retry_after.has_value());
  clock.advance(5000ms);
  CHECK(handler->handle(make_event()).kind == Kind::ok);

  const auto requests = downstream.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].header("webhook-id") == requests[1].header("webhook-id"));
  CHECK(requests[0].header("webhook-timestamp") != requests[1].header("webhook-timestamp"));
}

TEST_CASE("an interim 1xx response is skipped", "[forward]") {
  ScriptedResponse hinted = status(202);
  hinted.early_hints = true;
  Downstream downstream({hinted, status(500)});
  core::ManualClock clock;
  auto handler = worker::make_forward_handler(options_for(downstream.url()), clock);
  CHECK(handler->handle(make_event()).kind == Kind::ok);
  CHECK(handler->handle(make_event()).error == "forward: HTTP 500: status 500");
  CHECK(downstream.accepts() == 1);
}

TEST_CASE("a 429 is retried after its Retry-After", "[forward]") {
  Downstream downstream({status(429, {{"Retry-After", "7"}}), status(503, {{"Retry-After", " 2 "}}),
                         status(503, {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}})});
  core::ManualClock clock;
  auto handler = worker::make_forward_handler(options_for(downstream.url()), clock);

  const auto limited = handler->handle(make_event());
  CHECK(limited.kind == Kind::retryable);
  CHECK(limited.retry_after == std::chrono::milliseconds(7000));
  CHECK(handler->handle(make_event()).retry_after == std::chrono::milliseconds(2000));
  const auto dated = handler->handle(make_event());
  CHECK(dated.kind == Kind::retryable);
  CHECK_FALSE(dated.retry_after.has_value());  // HTTP-date: ignored, the policy decides
}

TEST_CASE("a 4xx is permanent unless retry_4xx is set", "[forward]") {
  Downstream downstream({status(400), status(400), status(408)});
  core::ManualClock clock;
  auto strict = worker::make_forward_handler(options_for(downstream.url()), clock);
  auto opts = options_for(downstream.url());
  opts.retry_4xx = true;
  auto lenient = worker::make_forward_handler(opts, clock);

  const auto permanent = strict->handle(make_event());
  CHECK(permanent.kind == Kind::permanent);
  CHECK(permanent.error == "forward: HTTP 400: status 400");
  CHECK(lenient->handle(make_event()).kind == Kind::retryable);
  CHECK(strict->handle(make_event()).kind == Kind::retryable);  // 408 is a timeout
}

TEST_CASE("a downstream that accepts and never answers times out as retryable", "[forward]") {
  ScriptedResponse hang;
  hang.hang = true;
  Downstream downstream({hang});
  core::ManualClock clock;
  auto opts = options_for(downstream.url());
  opts.timeout = 300ms;
  auto handler = worker::make_forward_handler(opts, clock);

  const auto started = std::chrono::steady_clock::now();
  const auto result = handler->handle(make_event());
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(result.kind == Kind::retryable);
  CHECK(result.error == "forward: timed out reading the response");
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 300ms + 2s);
}

TEST_CASE("a refused connection is retryable", "[forward]") {
  core::ManualClock clock;
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/hook";
  auto handler = worker::make_forward_handler(options_for(url), clock);
  const auto result = handler->handle(make_event());
  CHECK(result.kind == Kind::retryable);
  CHECK_THAT(result.error,
             Catch::Contains("connecting to 127.0.0.1:") && Catch::Contains("refused"));
}

TEST_CASE("sequential posts reuse one connection", "[forward]") {
  Downstream downstream({});
  core::ManualClock clock;
  auto handler = worker::make_forward_handler(options_for(downstream.url()), clock);
  CHECK(handler->handle(make_event(1)).kind == Kind::ok);
  CHECK(handler->handle(make_event(2)).kind == Kind::ok);
  CHECK(handler->handle(make_event(3)).kind == Kind::ok);
  CHECK(downstream.accepts() == 1);
  CHECK(downstream.requests().size() == 3);
}

TEST_CASE("a pooled connection the downstream closed is replaced transparently", "[forward]") {
  ScriptedResponse then_close = status(200);
  then_close.close_after = true;  // keep-alive promised, then closed
  Downstream downstream({then_close, status(200)});
  core::ManualClock clock;
  auto handler = worker::make_forward_handler(options_for(downstream.url()), clock);
  CHECK(handler->handle(make_event(1)).kind == Kind::ok);
  CHECK(handler->handle(make_event(2)).kind == Kind::ok);
  CHECK(downstream.accepts() == 2);
}

TEST_CASE("concurrent workers each get a connection and reuse it", "[forward]") {
  Downstream downstream({});
  core::ManualClock clock;
  auto handler = worker::make_forward_handler(options_for(downstream.url()), clock);
  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (handler->handle(make_event(t * 100 + i)).kind == Kind::ok) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == kThreads * kEach);
  CHECK(downstream.requests().size() == std::size_t{kThreads * kEach});
  CHECK(downstream.accepts() <= std::size_t{kThreads});
}

TEST_CASE("forwards over HTTPS to a server whose certificate is in ca_file", "[forward]") {
  Downstream downstream({}, DownstreamTls{true});
  core::ManualClock clock;
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    auto opts = options_for(downstream.url("/hook", host));
    opts.ca_file = downstream.cert_file();
    auto handler = worker::make_forward_handler(opts, clock);
    const auto result = handler->handle(make_event());
    INFO(host << ": " << result.error);
    CHECK(result.kind == Kind::ok);
  }
  const auto requests = downstream.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].server_name == "localhost");  // SNI for a name
  CHECK(requests[1].server_name.empty());         // never for an address
  CHECK(requests[0].header("host") == "localhost:" + std::to_string(downstream.port()));
}

TEST_CASE("HTTPS fails as retryable when the certificate is not trusted or does not match",
          "[forward]") {
  core::ManualClock clock;
  SECTION("not in the trust store") {
    Downstream downstream({}, DownstreamTls{true});
    auto handler = worker::make_forward_handler(options_for(downstream.url()), clock);
    const auto result = handler->handle(make_event());
    CHECK(result.kind == Kind::retryable);
    CHECK_THAT(result.error,
               Catch::StartsWith("forward: TLS handshake: certificate verify failed"));
    CHECK(downstream.requests().empty());
  }
  SECTION("issued for another name") {
    Downstream downstream({}, DownstreamTls{true, "DNS:other.example"});
    auto opts = options_for(downstream.url());
    opts.ca_file = downstream.cert_file();
    auto handler = worker::make_forward_handler(opts, clock);
    const auto result = handler->handle(make_event());
    CHECK(result.kind == Kind::retryable);
    CHECK_THAT(result.error,
               Catch::StartsWith("forward: TLS handshake: certificate verify failed"));
    CHECK(downstream.requests().empty());
  }
}

TEST_CASE("construction refuses a bad URL, secret, timeout or ca_file", "[forward]") {
  core::ManualClock clock;
  auto with = [&](auto change) {
    auto o = options_for("http://127.0.0.1:9/hook");
    change(o);
    return o;
  };
  using O = worker::ForwardOptions;
  CHECK_THROWS_AS(worker::make_forward_handler(with([](O& o) { o.url = "ftp://host/x"; }), clock),
                  std::invalid_argument);
  CHECK_THROWS_AS(worker::make_forward_handler(with([](O& o) { o.url = "http://:80/"; }), clock),
                  std::invalid_argument);
  CHECK_THROWS_AS(worker::make_forward_handler(with([](O& o) { o.secret.clear(); }), clock),
                  std::invalid_argument);
  CHECK_THROWS_AS(worker::make_forward_handler(with([](O& o) { o.secret = "whsec_%%"; }), clock),
                  std::invalid_argument);
  CHECK_THROWS_AS(worker::make_forward_handler(with([](O& o) { o.timeout = 0ms; }), clock),
                  std::invalid_argument);
  CHECK_THROWS_AS(worker::make_forward_handler(with([](O& o) {
                                                 o.url = "https://localhost/x";
                                                 o.ca_file = "/nonexistent/ca.pem";
                                               }),
                                               clock),
                  std::invalid_argument);
  CHECK_NOTHROW(worker::make_forward_handler(with([](O& o) { o.secret = "plain"; }), clock));
}

TEST_CASE("the webhook-id is stable per event and free of dots", "[forward]") {
  auto e = make_event(7);
  CHECK(worker::forward_message_id(e) == "evt_production_7");
  e.key.source = "eu.prod/1";
  CHECK(worker::forward_message_id(e) == "evt_eu-prod-1_7");
}

TEST_CASE("Retry-After is read as delta-seconds only", "[forward]") {
  using worker::parse_retry_after;
  CHECK(parse_retry_after("7") == std::chrono::milliseconds(7000));
  CHECK(parse_retry_after(" 0 ") == std::chrono::milliseconds(0));
  CHECK(parse_retry_after("99999999999999999999999") == std::chrono::hours(24));
  CHECK_FALSE(parse_retry_after("").has_value());
  CHECK_FALSE(parse_retry_after("-5").has_value());
  CHECK_FALSE(parse_retry_after("1.5").has_value());
  CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
}

TEST_CASE("parse_url accepts http and https URLs and nothing else", "[forward][http_client]") {
  const auto plain = http::parse_url("http://example.internal/a/b?c=d#frag");
  REQUIRE(plain);
  CHECK_FALSE(plain->tls);
  CHECK(plain->host == "example.internal");
  CHECK(plain->port == "80");
  CHECK(plain->target == "/a/b?c=d");
  const auto tls = http::parse_url("https://[::1]:8443");
  REQUIRE(tls);
  CHECK(tls->tls);
  CHECK(tls->host == "::1");
  CHECK(tls->port == "8443");
  CHECK(tls->target == "/");
  CHECK(http::parse_url("http://h:1?q")->target == "/?q");
  for (const char* bad :
       {"ftp://h/", "http://", "http://user:pw@h/", "http://h:0/", "http://h:70000/", "http://h:/",
        "http://h:8x/", "http://[::1/", "http://h/a b", "HTTP://h/"}) {
    INFO(bad);
    CHECK_FALSE(http::parse_url(bad).has_value());
  }
}

TEST_CASE("the client refuses header values with line breaks", "[forward][http_client]") {
  Downstream downstream({});
  http::HttpClient client(*http::parse_url(downstream.url()), {});
  const auto res = client.post("{}", {{"X-Evil", "a\r\nInjected: yes"}});
  CHECK(res.status == 0);
  CHECK(downstream.requests().empty());
  CHECK(client.post("{}", {{"X-Fine", "yes"}}).status == 200);
}
