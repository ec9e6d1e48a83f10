// One coroutine per connection: read with limits and timeouts, route, write, keep alive.
// The session only does I/O; what a request means is decided in handle() and routes.cpp.
#include <random>

#include "http/server_impl.hpp"
#include "webhook/log/log.hpp"

namespace webhook::http {
namespace {

constexpr std::size_t kMaxRequestIdLength = 128;
constexpr std::size_t kFirstRead = 4096;  // bytes asked for by the read that ends idleness

bool safe_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bhttp::response<bhttp::string_body> to_beast(OutboundResponse&& out, const Request* req,
                                             const RequestContext& ctx, bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(out.status),
                                          req != nullptr ? req->version() : 11};
  res.set(bhttp::field::content_type, out.content_type);
  res.set("X-Request-Id", ctx.request_id);
  if (out.retry_after_seconds) {
    res.set(bhttp::field::retry_after, std::to_string(*out.retry_after_seconds));
  }
  for (auto& [name, value] : out.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  if (req != nullptr && req->method() == bhttp::verb::head) {
    res.content_length(out.body.size());
  } else {
    res.body() = std::move(out.body);
    res.prepare_payload();
  }
  return res;
}

// RFC 9112 section 6: a Transfer-Encoding that does not end in chunked leaves the request's
// length unknown, and one in HTTP/1.0 is faulty framing. Either way the bytes that follow cannot
// be told from the next request: the answer is 400 and the connection closes.
bool unknown_body_length(const bhttp::request_parser<bhttp::string_body>& parser) {
  const auto& h = parser.get();
  if (h.find(bhttp::field::transfer_encoding) == h.end()) return false;
  return !parser.chunked() || h.version() < 11;
}

// The answer to a request that could not be read completely, or nullopt to just close.
std::optional<OutboundResponse> answer_read_error(const beast::error_code& ec,
                                                  std::size_t body_limit) {
  if (ec == bhttp::error::body_limit) return payload_too_large(body_limit);
  if (ec == bhttp::error::bad_transfer_encoding) return bad_request("bad_transfer_encoding");
  if (ec == bhttp::error::header_limit) {
    OutboundResponse r = bad_request("headers_too_large");
    r.status = 431;
    return r;
  }
  // Connection closed, timed out or cancelled: nobody to answer.
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return std::nullopt;
  }
  return bad_request("bad_request");  // a malformed request line, header or chunk
}

}  // namespace

std::string choose_request_id(std::string_view from_header) {
  if (safe_request_id(from_header)) return std::string(from_header);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (std::size_t i = 0; i < id.size(); i += 16) {
    std::uint64_t bits = rng();
    for (std::size_t j = 0; j < 16; ++j, bits >>= 4) id[i + j] = kHex[bits & 0xf];
  }
  return id;
}

net::awaitable<void> Server::Impl::session(std::shared_ptr<Connection> conn, std::uint64_t id,
                                           std::string peer) {
  struct Forget {
    Server::Impl& s;
    std::uint64_t id;
    ~Forget() { s.forget(id); }
  } forget_on_exit{*this, id};
  auto& stream = conn->stream;
  beast::flat_buffer buffer;
  const bool trusted_peer = proxies.trusts(peer);

  for (bool first = true;; first = false) {
    // 1. A fresh parser per request, with its limits set before a byte is read.
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    // The body limit is checked by hand once the header is in (so an oversized Content-Length
    // is answered with the request's own id, address and metric), then enforced by the parser
    // for chunked bodies.
    parser.body_limit(boost::none);
    if (stopping || conn->shed) break;
    if (!first) conn->since_ns = steady_now_ns();
    conn->phase = Phase::idle;
    stream.expires_after(options.header_timeout);
    // Idle until the first byte of the request arrives (the header timeout runs from here).
    if (buffer.size() == 0) {
      auto [first_ec, n] = co_await stream.async_read_some(buffer.prepare(kFirstRead),
                                                           net::as_tuple(net::use_awaitable));
      if (first_ec) break;  // closed, timed out or shed: nobody to answer
      buffer.commit(n);
    }
    conn->phase = Phase::header;
    auto [header_ec, header_bytes] = co_await bhttp::async_read_header(
        stream, buffer, parser, net::as_tuple(net::use_awaitable));

    RequestContext ctx;
    if (header_ec) {
      ctx = {choose_request_id({}), peer};
    } else {
      // X-Request-Id and the client address are taken from trusted proxies only.
      const auto& h = parser.get();
      ctx = {choose_request_id(trusted_peer ? std::string_view(h["X-Request-Id"])
                                            : std::string_view()),
             proxies.client_address(peer, h["X-Forwarded-For"], h["X-Real-IP"])};
    }
    beast::error_code ec = header_ec;
    if (!ec && unknown_body_length(parser)) ec = bhttp::error::bad_transfer_encoding;

    if (!ec) {
      const auto length = parser.content_length();
      if (length && *length > options.max_body_bytes) {
        ec = bhttp::error::body_limit;
      } else {
        parser.body_limit(options.max_body_bytes);
      }
    }

    // 2. The body, under its own timeout; "Expect: 100-continue" is honoured first.
    if (!ec) {
      if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
        stream.expires_after(options.body_timeout);
        auto [w_ec, w_n] =
            co_await bhttp::async_write(stream, go_on, net::as_tuple(net::use_awaitable));
        if (w_ec) break;
      }
      conn->phase = Phase::body;
      stream.expires_after(options.body_timeout);
      auto [body_ec, body_bytes] =
          co_await bhttp::async_read(stream, buffer, parser, net::as_tuple(net::use_awaitable));
      ec = body_ec;
    }

    // 3. Decide the answer.
    conn->phase = Phase::busy;
    OutboundResponse out;
    const Request* req = nullptr;
    if (ec) {
      auto answer = answer_read_error(ec, options.max_body_bytes);
      if (!answer) break;
      if (answer->status == 413 && parser.is_header_done() && hooks.on_delivery) {
        const Route route = router.match(parser.get().target());
        if (route.kind == RouteKind::webhook) {
          hooks.on_delivery(sources[route.source].name, "too_large", -1.0);
        }
      }
      log::warn("request rejected while reading",
                {.request_id = ctx.request_id, .remote = ctx.remote, .detail = ec.message()});
      out = std::move(*answer);
    } else {
      req = &parser.get();
      out = co_await handle(*req, ctx);
    }

    // 4. Write it; keep the connection only when both sides want to, we are not stopping and
    //    the connection was not shed to make room.
    const bool keep_alive =
        req != nullptr && req->keep_alive() && !out.close && !stopping && !conn->shed;
    auto res = to_beast(std::move(out), req, ctx, keep_alive);
    stream.expires_after(options.body_timeout);
    auto [write_ec, written] =
        co_await bhttp::async_write(stream, res, net::as_tuple(net::use_awaitable));
    if (write_ec || !keep_alive) break;
    conn->served = true;
  }

  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<OutboundResponse> Server::Impl::handle(const Request& req,
                                                      const RequestContext& ctx) {
  const Route route = router.match(req.target());
  const bool read_only = req.method() == bhttp::verb::get || req.method() == bhttp::verb::head;
  switch (route.kind) {
    case RouteKind::webhook:
      if (req.method() != bhttp::verb::post) co_return method_not_allowed("POST");
      co_return co_await handle_webhook(sources[route.source], req, ctx);
    case RouteKind::healthz:
      if (!read_only) co_return method_not_allowed("GET, HEAD");
      co_return healthy();
    case RouteKind::readyz: {
      if (!read_only) co_return method_not_allowed("GET, HEAD");
      if (stopping) co_return http::readiness(false, "shutting down");
      const Readiness r = hooks.readiness ? hooks.readiness() : Readiness{true, {}};
      co_return http::readiness(r.ready, r.reason, r.details_json);
    }
    case RouteKind::metrics:
      if (!hooks.render_metrics) break;
      if (!read_only) co_return method_not_allowed("GET, HEAD");
      co_return metrics_text(hooks.render_metrics());
    case RouteKind::not_found:
      break;
  }
  co_return not_found();
}

}  // namespace webhook::http
