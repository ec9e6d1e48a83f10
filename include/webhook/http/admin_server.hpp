#pragma once
// AdminServer: the admin listener (docs/admin.md), a second HTTP listener beside the webhook
// one, never on its port. It only moves bytes: each complete request goes to the handler, which
// decides everything (token, routes, documents); the server adds the headers every admin answer
// carries (a strict Content-Security-Policy, nosniff, no caching, no referrer).
//  1. One I/O thread, one coroutine per connection; requests are small (header and body limits)
//     and read under timeouts; keep-alive.
//  2. At max_connections a new connection is closed at once (the webhook listener's shedding is
//     not needed for a handful of operators).
//  3. The handler runs on the I/O thread: it should answer in milliseconds (read-only queries on
//     their own connection); one slow answer delays only other admin requests, never webhooks.
// Thread: start()/shutdown()/port() from the owning thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "webhook/http/routes.hpp"

namespace webhook::http {

struct AdminServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8081;  // 0: any free port (see port())
  std::size_t max_connections = 64;
  std::size_t max_body_bytes = 65536;
  std::size_t max_header_bytes = 16384;
  std::chrono::milliseconds read_timeout{10000};  // header and body, and idle keep-alive
};

struct AdminRequest {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // path and query, as sent
  std::string_view authorization;
  std::string_view body;
};

// Called on the I/O thread for every complete request.
using AdminHandler = std::function<OutboundResponse(const AdminRequest&)>;

// The Content-Security-Policy of every admin answer: the page's own script, style and API only.
inline constexpr const char* kAdminContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

class AdminServer {
 public:
  AdminServer(AdminServerOptions options, AdminHandler handler);
  ~AdminServer();  // shutdown()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts the I/O thread. Throws std::runtime_error naming the address on failure.
  void start();
  std::uint16_t port() const;  // the bound port; valid after start()
  // Stops accepting, closes every connection, joins the thread. Idempotent.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhook::http
