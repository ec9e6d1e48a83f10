// End to end behind the shipped reverse proxy: the real binary behind a real nginx running
// docker/nginx.conf (only the host-specific lines rewritten, see nginx_fixture.hpp). Shows that
// signed bodies pass through byte-exact, that the logged client address cannot be spoofed, that
// nginx's body limit and the receiver's agree, and that request ids are passed on and stored.
#include <catch2/catch.hpp>

#include <iostream>
#include <regex>
#include <sstream>

#include "integration/http_client.hpp"
#include "integration/nginx_fixture.hpp"
#include "integration/signed_delivery.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;
namespace core = webhook::core;

namespace {

// Obviously fake; used nowhere real.
const std::string kKey = "whsec_test_only_nginx_01";

// Two sources: the header scheme on /webhooks, the body scheme on its own path (the source is
// part of the dedup key, so the same fixture can be stored once under each scheme).
const std::string kSources = R"([
      {"name": "production", "path": "/webhooks"},
      {"name": "bodysig", "path": "/webhooks/body-signed", "scheme": "body"}
    ])";

constexpr std::size_t kLimit = 1048576;  // nginx client_max_body_size 1m = server.max_body_bytes

const char* const kExamples[] = {
    "01-legacy-transaction-captured.json", "02-legacy-transaction-received.json",
    "03-legacy-transaction-failed.json",   "04-status-changed-captured.json",
    "05-status-changed-settled.json",      "06-payment-requires-review.json",
    "07-payment-review-approved.json",     "08-payment-settled.json",
    "09-payment-refund-created.json",      "10-customer-level-changed.json",
    "11-purchase-underpaid.json",          "12-unknown-future-event.json",
};

std::string example(const std::string& name) {
  return slurp(std::string(WEBHOOK_EXAMPLES_DIR) + "/" + name);
}

long long event_id(const std::string& reply_body) {
  const std::string id = json_field(reply_body, "eventId");
  return id.empty() ? -1 : std::stoll(id);
}

HeaderList header_signed(const std::string& body) { return signed_with(kKey, body); }

// A header-signed JSON delivery of exactly `size` bytes (padding in an extra member).
std::string json_of_size(std::size_t size, const std::string& id) {
  const std::string head = R"({"eventType":"payment.settled","transaction":{"id":")" + id +
                           R"(","status":"SETTLED"},"padding":")";
  const std::string tail = R"("})";
  return head + std::string(size - head.size() - tail.size(), 'p') + tail;
}

const webhook::storage::PayloadLine* line_with_request_id(
    const std::vector<webhook::storage::PayloadLine>& lines, const std::string& request_id) {
  for (const auto& l : lines)
    if (l.request_id == request_id) return &l;
  return nullptr;
}

std::string logged_header(const webhook::storage::PayloadLine& line, const std::string& name) {
  std::string values;
  for (const auto& [n, v] : line.headers) {
    if (n.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < n.size(); ++i)
      same = same && std::tolower(static_cast<unsigned char>(n[i])) ==
                         std::tolower(static_cast<unsigned char>(name[i]));
    if (same) values += (values.empty() ? "" : "|") + v;
  }
  return values;
}

// The receiver (trusted_proxies: nginx's address) and nginx in front of it.
struct Stack {
  TempDir dir;
  ReceiverProcess receiver{dir, "receiver", kKey, R"(["127.0.0.1"])", kSources};
  NginxProcess nginx{dir, receiver.port()};

  void stop() {
    INFO("nginx error log:\n" << nginx.error_log());
    CHECK(nginx.stop() == 0);
    INFO("receiver output:\n" << slurp(receiver.log_path()));
    CHECK(receiver.stop() == 0);
  }
};

#define SKIP_WITHOUT_NGINX()                                                                    \
  do {                                                                                          \
    if (!nginx_available()) {                                                                   \
      WARN("SKIPPED: " << kNginxBinary << " is missing (install nginx-light; make test does)"); \
      SUCCEED("skipped without nginx");                                                         \
      return;                                                                                   \
    }                                                                                           \
  } while (false)

}  // namespace

TEST_CASE("the test's nginx.conf is the shipped one with only host-specific lines changed",
          "[integration][nginx]") {
  const std::string shipped = shipped_nginx_conf();
  REQUIRE(!shipped.empty());
  const std::string generated = nginx_test_config(shipped, 18080, 18081, "/tmp/x");
  // Every directive line of the shipped file is in the generated one, unchanged, except these.
  const std::regex host_specific(
      R"(^\s*(listen 80;|server receiver:8080;|pid |access_log /dev/stdout|error_log /dev/stderr).*)");
  std::istringstream lines(shipped);
  std::size_t kept = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    if (std::regex_match(line, host_specific)) continue;
    INFO(line);
    CHECK(generated.find(line + "\n") != std::string::npos);
    ++kept;
  }
  CHECK(kept > 30);
  CHECK(generated.find("listen 127.0.0.1:18080;") != std::string::npos);
  CHECK(generated.find("server 127.0.0.1:18081;") != std::string::npos);
  CHECK(generated.find("pid /tmp/x/nginx.pid;") != std::string::npos);
  // The limits and headers under test come from the shipped file.
  for (const char* directive :
       {"client_max_body_size 1m;", "proxy_read_timeout 8s;", "proxy_next_upstream off;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "add_header X-Request-Id $webhook_request_id always;"}) {
    INFO(directive);
    CHECK(shipped.find(directive) != std::string::npos);
  }
}

TEST_CASE("through nginx, deliveries signed under both schemes verify and are stored byte-exact",
          "[integration][nginx]") {
  SKIP_WITHOUT_NGINX();
  Stack stack;
  HttpClient client(stack.nginx.port());
  std::vector<std::pair<long long, std::string>> stored;
  for (const char* name : kExamples) {
    INFO(name);
    // Header scheme: the fixture as is (pretty-printed, newlines and all).
    const std::string pretty = example(name);
    REQUIRE(!pretty.empty());
    const auto by_header = client.post("/webhooks", pretty, header_signed(pretty));
    REQUIRE(by_header.status == 200);
    CHECK(json_field(by_header.body, "status") == "accepted");
    const auto h = read_event(stack.receiver.db_path(), event_id(by_header.body));
    REQUIRE(h);
    CHECK(h->body == pretty);
    CHECK(h->scheme == "header");
    CHECK(h->source == "production");
    stored.emplace_back(h->id, pretty);

    // Body scheme: a top-level "signature" member over the raw bytes.
    const std::string with_member = *core::sign_body(kKey, pretty);
    const auto by_body = client.post("/webhooks/body-signed", with_member);
    REQUIRE(by_body.status == 200);
    CHECK(json_field(by_body.body, "status") == "accepted");
    const auto b = read_event(stack.receiver.db_path(), event_id(by_body.body));
    REQUIRE(b);
    CHECK(b->body == with_member);
    CHECK(b->scheme == "body");
    CHECK(b->source == "bodysig");
    stored.emplace_back(b->id, with_member);
  }
  CHECK(count_events(stack.receiver.db_path()) == 24);

  // A chunked upload is reassembled by nginx and still verifies byte for byte.
  const std::string body = example("05-status-changed-settled.json");
  const std::string tampered = [&] {
    std::string t = *core::sign_body(kKey, example("07-payment-review-approved.json"));
    t[t.find("APPROVED")] = 'a';
    return t;
  }();
  {
    const std::size_t third = body.size() / 3;
    std::ostringstream chunked;
    chunked << "POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            << "X-Webhook-Signature: " << core::sign_header(kKey, body)
            << "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    for (std::size_t at = 0; at < body.size(); at += third) {
      const std::string part = body.substr(at, third);
      chunked << std::hex << part.size() << "\r\n" << part << "\r\n";
    }
    chunked << "0\r\n\r\n";
    RawConnection raw(stack.nginx.port());
    REQUIRE(raw.send(chunked.str()));
    const auto [text, closed] = raw.read_until_closed(std::chrono::seconds(20));
    INFO(text);
    CHECK(closed);
    CHECK(text.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(text.find(R"("status":"duplicate")") != std::string::npos);  // same event as above
  }
  // A body altered on the way is refused: the proxy did not make verification moot.
  CHECK(client.post("/webhooks/body-signed", tampered).status == 401);

  // The payload log saw every delivery through nginx, verified, byte-exact.
  const auto lines = stack.receiver.payload_lines();
  REQUIRE(lines.size() == 26);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    INFO(i);
    CHECK(lines[i].verification == "verified");
    CHECK(lines[i].body == stored[i].second);
    CHECK(lines[i].remote_address == "127.0.0.1");
  }
  CHECK(lines[24].body == body);
  CHECK(lines[25].verification == "bad_signature");
  CHECK(lines[25].body == tampered);
  stack.stop();
}

TEST_CASE("through nginx, the logged client address is the client's, not a spoofed header",
          "[integration][nginx]") {
  SKIP_WITHOUT_NGINX();
  Stack stack;
  const std::string body = example("08-payment-settled.json");

  // The client claims to be 6.6.6.6 in both headers; nginx overwrites X-Real-IP with the
  // address it saw and appends that address to X-Forwarded-For.
  HeaderList spoofed = header_signed(body);
  spoofed.emplace_back("X-Forwarded-For", "6.6.6.6");
  spoofed.emplace_back("X-Real-IP", "6.6.6.6");
  spoofed.emplace_back("X-Request-Id", "e2e-remote-via-nginx");
  HttpClient via_nginx(stack.nginx.port());
  REQUIRE(via_nginx.post("/webhooks", body, spoofed).status == 200);

  // The same receiver trusts 127.0.0.1 (nginx): a header sent straight from there is believed.
  // That is why the proxy in front must overwrite it, which the next check shows nginx does.
  const std::string other = example("09-payment-refund-created.json");
  HeaderList direct = header_signed(other);
  direct.emplace_back("X-Real-IP", "6.6.6.6");
  direct.emplace_back("X-Request-Id", "e2e-remote-direct-trusted");
  HttpClient to_receiver(stack.receiver.port());
  REQUIRE(to_receiver.post("/webhooks", other, direct).status == 200);

  const auto lines = stack.receiver.payload_lines();
  const auto* proxied = line_with_request_id(lines, "e2e-remote-via-nginx");
  REQUIRE(proxied != nullptr);
  CHECK(proxied->remote_address == "127.0.0.1");
  CHECK(proxied->remote_address != "6.6.6.6");
  CHECK(logged_header(*proxied, "X-Real-IP") == "127.0.0.1");
  CHECK(logged_header(*proxied, "X-Forwarded-For") == "6.6.6.6, 127.0.0.1");
  const auto* trusted_direct = line_with_request_id(lines, "e2e-remote-direct-trusted");
  REQUIRE(trusted_direct != nullptr);
  CHECK(trusted_direct->remote_address == "6.6.6.6");
  stack.stop();
}

TEST_CASE("a forwarding header from an untrusted peer is ignored", "[integration][nginx]") {
  // No nginx needed: a receiver that trusts only 10.0.0.0/8, reached from 127.0.0.1.
  TempDir dir;
  ReceiverProcess receiver(dir, "untrusting", kKey, R"(["10.0.0.0/8"])");
  const std::string body = example("06-payment-requires-review.json");
  HeaderList spoofed = header_signed(body);
  spoofed.emplace_back("X-Forwarded-For", "6.6.6.6, 10.1.2.3");
  spoofed.emplace_back("X-Real-IP", "6.6.6.6");
  spoofed.emplace_back("X-Request-Id", "e2e-untrusted-peer");
  HttpClient client(receiver.port());
  const auto reply = client.post("/webhooks", body, spoofed);
  REQUIRE(reply.status == 200);
  CHECK(json_field(reply.body, "status") == "accepted");

  const auto lines = receiver.payload_lines();
  REQUIRE(lines.size() == 1);
  // Issue 10: the peer's own id and address, not the headers'.
  CHECK(lines[0].request_id != "e2e-untrusted-peer");
  CHECK(lines[0].request_id == reply.header("x-request-id"));
  CHECK(lines[0].remote_address == "127.0.0.1");
  // The headers are kept as received, for forensics.
  CHECK(logged_header(lines[0], "X-Request-Id") == "e2e-untrusted-peer");
  CHECK(logged_header(lines[0], "X-Real-IP") == "6.6.6.6");
  CHECK(logged_header(lines[0], "X-Forwarded-For") == "6.6.6.6, 10.1.2.3");
  INFO(slurp(receiver.log_path()));
  CHECK(receiver.stop() == 0);
}

TEST_CASE("nginx and the receiver agree on the 1 MiB body limit", "[integration][nginx]") {
  SKIP_WITHOUT_NGINX();
  Stack stack;
  HttpClient via_nginx(stack.nginx.port(), std::chrono::seconds(20));
  HttpClient direct(stack.receiver.port(), std::chrono::seconds(20));
  // One byte over: nginx answers 413 itself; the receiver never sees the request.
  const std::string over = json_of_size(kLimit + 1, "tx-over-limit");
  const auto refused = via_nginx.post("/webhooks", over, header_signed(over));
  CHECK(refused.status == 413);
  CHECK(refused.body.find("413 Request Entity Too Large") != std::string::npos);
  CHECK(!refused.header("x-request-id").empty());  // add_header ... always
  {
    // nginx never contacted the upstream for it: no upstream response time in its access log.
    const std::string rid = refused.header("x-request-id");
    std::string log;
    REQUIRE(wait_until(  // nginx logs a request when it is done with its connection
        [&] {
          return (log = stack.nginx.access_log()).find("rid=" + rid + " ") != std::string::npos;
        },
        std::chrono::seconds(20)));
    const auto at = log.find("rid=" + rid + " ");
    const auto previous_newline = log.rfind('\n', at);
    const auto begin = previous_newline == std::string::npos ? 0 : previous_newline + 1;
    const std::string line = log.substr(begin, log.find('\n', at) - begin);
    INFO(line);
    CHECK(line.find("\"POST /webhooks HTTP/1.1\" 413 ") != std::string::npos);
    CHECK(line.find(" urt=-") != std::string::npos);
  }
  CHECK(stack.receiver.payload_lines().empty());
  CHECK(count_events(stack.receiver.db_path()) == 0);

  // Exactly at the limit: passes nginx and the receiver, stored byte-exact.
  const std::string at_limit = json_of_size(kLimit, "tx-at-limit");
  REQUIRE(at_limit.size() == kLimit);
  const auto accepted = via_nginx.post("/webhooks", at_limit, header_signed(at_limit));
  REQUIRE(accepted.status == 200);
  CHECK(json_field(accepted.body, "status") == "accepted");
  const auto row = read_event(stack.receiver.db_path(), event_id(accepted.body));
  REQUIRE(row);
  CHECK(row->body == at_limit);

  // At the limit but not JSON (header scheme): verified, so quarantined and acknowledged.
  const std::string opaque(kLimit, 'z');
  const auto quarantined = via_nginx.post("/webhooks", opaque, header_signed(opaque));
  REQUIRE(quarantined.status == 200);
  CHECK(json_field(quarantined.body, "status") == "quarantined");
  const auto q = read_event(stack.receiver.db_path(), event_id(quarantined.body));
  REQUIRE(q);
  CHECK(q->status == "quarantined");
  CHECK(q->body == opaque);

  // The receiver's own limit is the same byte: one over, sent straight to it, is its 413.
  const auto own = direct.post("/webhooks", over, header_signed(over));
  CHECK(own.status == 413);
  CHECK(own.body == R"({"error":"payload_too_large","limit_bytes":"1048576"})");

  // Only the two deliveries that fit reached the receiver's payload log and inbox.
  const auto lines = stack.receiver.payload_lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].body == at_limit);
  CHECK(lines[1].body == opaque);
  CHECK(count_events(stack.receiver.db_path()) == 2);
  stack.stop();
}

TEST_CASE("through nginx, X-Request-Id is passed on, echoed once and stored",
          "[integration][nginx]") {
  SKIP_WITHOUT_NGINX();
  Stack stack;

  // The client's id: echoed exactly once (nginx hides the upstream's copy) and stored.
  const std::string body = example("04-status-changed-captured.json");
  auto with_id = header_signed(body);
  with_id.emplace_back("X-Request-Id", "e2e-nginx-rid-0001");
  const auto given = raw_request(stack.nginx.port(), "POST", "/webhooks", body, with_id);
  REQUIRE(given.status == 200);
  CHECK(given.count("x-request-id") == 1);
  CHECK(given.first("x-request-id") == "e2e-nginx-rid-0001");
  const auto given_row = read_event(stack.receiver.db_path(), event_id(given.body));
  REQUIRE(given_row);
  CHECK(given_row->request_id == "e2e-nginx-rid-0001");

  // No id from the client: nginx's $request_id is generated, passed on, echoed and stored.
  const std::string other = example("10-customer-level-changed.json");
  const auto generated =
      raw_request(stack.nginx.port(), "POST", "/webhooks", other, header_signed(other));
  REQUIRE(generated.status == 200);
  CHECK(generated.count("x-request-id") == 1);
  const std::string id = generated.first("x-request-id");
  CHECK(std::regex_match(id, std::regex("[0-9a-f]{32}")));
  const auto generated_row = read_event(stack.receiver.db_path(), event_id(generated.body));
  REQUIRE(generated_row);
  CHECK(generated_row->request_id == id);
  CHECK(line_with_request_id(stack.receiver.payload_lines(), id) != nullptr);
  CHECK(wait_until(
      [&] { return stack.nginx.access_log().find("rid=" + id + " ") != std::string::npos; },
      std::chrono::seconds(20)));
  stack.stop();
}
