#pragma once
// Private state of http::Server, shared by server.cpp (listener, lifecycle), session.cpp (one
// coroutine per connection) and webhook_endpoint.cpp (the webhook POST path).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/asio.hpp"
#include "webhook/core/log_throttle.hpp"
#include "webhook/http/proxy_trust.hpp"
#include "webhook/http/routes.hpp"
#include "webhook/http/server.hpp"

namespace webhook::http {

// What a connection is doing. At the cap the listener sheds the connection that has waited
// longest for a complete request (idle, or still sending its header or body), never a busy one.
enum class Phase : std::uint8_t {
  idle,    // waiting for the first byte of a request
  header,  // receiving a request's header
  body,    // receiving its body
  busy,    // handling the request or writing the answer: never shed
};

std::int64_t steady_now_ns();

// One accepted connection. Owned by its session coroutine (shared with the registry as weak).
// The session writes `phase` and `since_ns` on the connection's strand; the listener reads them
// from the accept loop to choose a connection to shed, and sets `shed`.
struct Connection {
  Connection(beast::tcp_stream s, std::int64_t now_ns) : stream(std::move(s)), since_ns(now_ns) {}
  beast::tcp_stream stream;
  std::atomic<Phase> phase{Phase::idle};
  std::atomic<std::int64_t> since_ns;  // steady clock: when it began waiting for this request
  std::atomic<bool> shed{false};       // chosen to make room: no further request on it
  std::atomic<bool> served{false};  // has answered a request: shed only after those that have not
};

// A connection in the registry; `shed` counts it out of the cap while it closes.
struct ConnectionEntry {
  std::weak_ptr<Connection> conn;
  bool shed = false;
};

// What the session knows about one request besides the request itself.
struct RequestContext {
  std::string request_id;
  std::string remote;  // the client address: the peer's, or what a trusted proxy says
};

using Request = bhttp::request<bhttp::string_body>;
using core::LogThrottle;

struct Server::Impl {
  Impl(ServerOptions o, std::vector<core::SourceSpec> s, core::DeliverySink& w,
       storage::PayloadLog& p, ServerHooks h);

  net::awaitable<void> accept_loop();
  // Registers an accepted socket and starts its session, or closes it when the cap is reached
  // and nothing can be shed (accept loop only).
  void admit(tcp::socket socket);
  // Marks the best connection to shed and cancels its reads; returns "idle", "slow" or "" when
  // every connection is busy. Accept loop only, with connections_mutex held.
  std::string_view shed_one_locked();
  // Counts a shed connection ("idle", "slow", "refused"; "": none) and logs it, throttled.
  // Accept loop only.
  void report_shed(std::string_view reason);
  net::awaitable<void> session(std::shared_ptr<Connection> conn, std::uint64_t id,
                               std::string peer);
  // Routes one complete request (session.cpp).
  net::awaitable<OutboundResponse> handle(const Request& req, const RequestContext& ctx);
  // The webhook POST path (webhook_endpoint.cpp).
  net::awaitable<OutboundResponse> handle_webhook(const core::SourceSpec& source,
                                                  const Request& req, const RequestContext& ctx);
  // Submits to the writer and waits for the commit, at most ack_budget.
  net::awaitable<core::Outcome> store(core::Delivery delivery, bool malformed_reply_400);

  void forget(std::uint64_t id);

  const ServerOptions options;
  const std::vector<core::SourceSpec> sources;
  const Router router;
  const ProxyTrust proxies;
  core::DeliverySink& writer;
  storage::PayloadLog& payload_log;
  const ServerHooks hooks;

  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;
  std::uint16_t bound_port = 0;

  std::mutex connections_mutex;
  std::condition_variable connections_done;
  std::unordered_map<std::uint64_t, ConnectionEntry> connections;  // GUARDED_BY
  std::uint64_t next_connection_id = 0;                            // GUARDED_BY
  std::size_t shedding = 0;  // GUARDED_BY: entries marked shed, not yet closed

  // Accept loop only.
  LogThrottle accept_error_log{std::chrono::seconds(10)};
  LogThrottle shed_log{std::chrono::seconds(10)};
};

// A request id from the proxy's X-Request-Id when it is 1-128 safe characters, else a new one.
std::string choose_request_id(std::string_view from_header);

}  // namespace webhook::http
