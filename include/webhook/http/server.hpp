#pragma once
// Server: the public HTTP listener (Boost.Beast, one C++20 coroutine per connection).
//  1. start() binds, then runs `io_threads` threads; each accepted connection gets a strand and
//     a session coroutine that reads with limits and timeouts, answers, and keeps alive.
//  2. A webhook POST is ingested (pure), written to the payload log, submitted to the
//     writer (a core::DeliverySink), and answered only when its transaction has committed or the
//     ack budget ran out.
//  3. At max_connections, a new connection makes room: the connection that has waited longest
//     for a complete request (idle keep-alive, or a slow client still sending its header or
//     body) is closed; when every connection is busy answering, the new one is closed at once.
//  4. shutdown(): stop accepting, close idle connections, let in-flight requests finish with
//     their committed answers (bounded by shutdown_timeout), then stop the I/O threads.
// Thread: start()/shutdown()/port() from the owning thread; the rest runs on the I/O threads.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/core/ingest.hpp"
#include "webhook/core/work.hpp"

namespace webhook::storage {

class PayloadLog;
}  // namespace webhook::storage

namespace webhook::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see port())
  int io_threads = 2;
  std::size_t max_body_bytes = 1048576;
  std::size_t max_header_bytes = 16384;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds ack_budget{3000};
  std::chrono::milliseconds shutdown_timeout{10000};
  // Open client connections at most; the app fits it to the open-file limit.
  std::size_t max_connections = 1024;
  // Peers allowed to name the client address with X-Real-IP / X-Forwarded-For (CIDRs).
  std::vector<std::string> trusted_proxies;
};

// Cached readiness, computed off the I/O threads by its owner; must be cheap and thread-safe.
struct Readiness {
  bool ready = false;
  std::string reason;
  std::string details_json;  // a JSON object for "details" in the answer, or ""
};
using ReadinessProbe = std::function<Readiness()>;

// What the server reports and asks, as plain callbacks (the app owns metrics and readiness).
// Each is called on I/O threads: it must be cheap, thread-safe and must not block.
struct ServerHooks {
  ReadinessProbe readiness;  // empty: always ready
  // One call per webhook request with its result label (accepted, duplicate, quarantined,
  // invalid_signature, malformed, too_large, unavailable) and, for deliveries that reached the
  // inbox, the seconds from the complete request to the answer (-1 otherwise).
  std::function<void(std::string_view source, std::string_view result, double ack_seconds)>
      on_delivery;
  std::function<std::string()> render_metrics;  // empty: /metrics is 404
  // A connection closed at max_connections to make room: "idle" (waiting for a request), "slow"
  // (still sending one), or "refused" (the new connection, when nothing could be shed).
  std::function<void(std::string_view reason)> on_connection_shed;
  std::function<void()> on_accept_error;  // an accept failed (out of descriptors, ...)
};

class Server {
 public:
  // `writer` and `payload_log` must outlive the server.
  Server(ServerOptions options, std::vector<core::SourceSpec> sources, core::DeliverySink& writer,
         storage::PayloadLog& payload_log, ServerHooks hooks);
  ~Server();  // shutdown() if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads. Throws std::runtime_error naming the address on failure.
  void start();
  // The bound port (useful with port 0). Valid after start().
  std::uint16_t port() const;
  // Client connections open right now, not counting those closing to make room. Thread-safe.
  std::size_t open_connections() const;
  // Graceful stop as described above; returns the number of connections that had to be cut
  // because they did not finish within shutdown_timeout. Idempotent.
  std::size_t shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhook::http
