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
#include "webhook/http/proxy_trust.hpp"
#include "webhook/http/routes.hpp"
#include "webhook/http/server.hpp"

namespace webhook::http {

// One accepted connection. Owned by its session coroutine (shared with the registry as weak).
// `idle` is only read or written on the connection's strand.
struct Connection {
  explicit Connection(beast::tcp_stream s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool idle = true;  // waiting for the first byte of a new request
};

// What the session knows about one request besides the request itself.
struct RequestContext {
  std::string request_id;
  std::string remote;  // the client address: the peer's, or what a trusted proxy says
};

using Request = bhttp::request<bhttp::string_body>;

struct Server::Impl {
  Impl(ServerOptions o, std::vector<core::SourceSpec> s, storage::InboxWriter& w,
       storage::PayloadLog& p, ServerHooks h);

  net::awaitable<void> accept_loop();
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
  storage::InboxWriter& writer;
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
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections;  // GUARDED_BY
  std::uint64_t next_connection_id = 0;                                      // GUARDED_BY
};

// A request id from the proxy's X-Request-Id when it is 1-128 safe characters, else a new one.
std::string choose_request_id(std::string_view from_header);

}  // namespace webhook::http
