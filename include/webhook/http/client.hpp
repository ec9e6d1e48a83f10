#pragma once
// HttpClient: a blocking HTTP/1.1 client for callers of one configured host: the forward handler
// (post() to its URL) and the Conomy API client (request() to paths under its base URL).
//  1. post() (or request()) takes an idle keep-alive connection from a small pool, or opens a new
//  one
//     (resolve, TCP connect, TLS handshake with SNI and hostname verification for https).
//  2. It writes the request and reads the whole response on that connection, each step bounded
//     by the stream's own timer (a peer that accepts and never answers times out).
//  3. A reusable connection goes back to the pool; a reused one that fails before any response
//     byte (the peer closed it while idle) is retried once on a fresh connection. A peer that
//     read the request and then closed without answering may so see it twice: callers that
//     need exactly-once effects send an idempotency key (the forward handler's webhook-id).
// Thread-safe: any number of threads may call post() at once; each uses its own connection and
// its own io_context, so no call waits on another (the pool is mutex-guarded).

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhook/http/url.hpp"

namespace webhook::http {

struct HttpClientOptions {
  // Resolving, connecting and the TLS handshake of a new connection together. Resolution runs in
  // getaddrinfo(), which cannot be interrupted: a hung DNS server is bounded by the system
  // resolver's own timeout (resolv.conf), not by this one. Use an address to avoid DNS.
  std::chrono::milliseconds connect_timeout{3000};
  // Writing the request and reading the whole response.
  std::chrono::milliseconds response_timeout{10000};
  // https: PEM file of trust anchors, used instead of the system store; "" = the system store.
  std::string ca_file;
  bool verify_peer = true;  // https: certificate chain and hostname (off only for tests)
  std::size_t max_idle_connections = 8;
  // An idle connection older than this is closed instead of reused (servers close idle ones).
  std::chrono::milliseconds max_idle_time{30000};
  std::size_t max_body_kept = 4096;  // Response::body is truncated to this many bytes
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  unsigned status = 0;      // 0: no response (transport error, timeout); see `error`
  std::string body;         // at most max_body_kept bytes
  std::string retry_after;  // the Retry-After header, verbatim ("" when absent)
  std::string error;        // short, for logs: what failed; "" when a response arrived
  HttpHeaders headers;      // every response header, names as received, in order

  // The first header named `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

class HttpClient {
 public:
  // Throws std::invalid_argument when the URL has no host or https cannot be set up (e.g. an
  // unreadable ca_file). Connects lazily: nothing happens on the network here.
  HttpClient(ParsedUrl url, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` to the URL with `headers` added (Host, User-Agent and Content-Length are set
  // here; a header given again replaces them). Never throws for network failures: they come back
  // as status 0 with `error` set. A header name or value with CR, LF or NUL is refused the same
  // way. Takes at most connect_timeout + response_timeout per connection tried (two at most).
  HttpResponse post(std::string_view body, const HttpHeaders& headers);

  // As post(), with any method ("GET", "POST", ...) and `target` (path and query, starting with
  // '/') on this client's host instead of the URL's own target. An unknown method or a target
  // that does not start with '/' or holds a space or control character is refused as status 0.
  // Retries a stale reused connection once, as post() does: use it for idempotent requests or
  // where a repeat is harmless.
  HttpResponse request(std::string_view method, std::string_view target, std::string_view body,
                       const HttpHeaders& headers);

  const ParsedUrl& url() const { return url_; }

 private:
  struct Impl;
  ParsedUrl url_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhook::http
