// The admin listener (include/webhook/http/admin_server.hpp): one I/O thread, so no strands.

#include "webhook/http/admin_server.hpp"

#include <exception>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "http/asio.hpp"
#include "http/listen.hpp"
#include "webhook/log/log.hpp"

namespace webhook::http {

struct AdminServer::Impl {
  Impl(AdminServerOptions o, AdminHandler h)
      : options(std::move(o)), handler(std::move(h)), acceptor(ioc) {}

  net::awaitable<void> accept_loop();
  net::awaitable<void> session(std::uint64_t id);

  AdminServerOptions options;
  AdminHandler handler;
  net::io_context ioc{1};
  tcp::acceptor acceptor;
  std::map<std::uint64_t, beast::tcp_stream> connections;  // on the I/O thread only
  std::uint64_t next_id = 0;
  std::uint16_t bound_port = 0;
  std::thread thread;
  bool closing = false;  // on the I/O thread: shutdown() began
  bool started = false;  // owner thread
  bool stopped = false;  // owner thread
};

namespace {

bhttp::response<bhttp::string_body> to_beast(OutboundResponse&& out, unsigned version, bool head,
                                             bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(out.status), version};
  res.set(bhttp::field::content_type, out.content_type);
  res.set("Content-Security-Policy", kAdminContentSecurityPolicy);
  res.set("X-Content-Type-Options", "nosniff");
  res.set(bhttp::field::cache_control, "no-store");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  if (out.retry_after_seconds) {
    res.set(bhttp::field::retry_after, std::to_string(*out.retry_after_seconds));
  }
  for (auto& [name, value] : out.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  if (head) {
    res.content_length(out.body.size());
  } else {
    res.body() = std::move(out.body);
    res.prepare_payload();
  }
  return res;
}

}  // namespace

net::awaitable<void> AdminServer::Impl::accept_loop() {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      log::warn("admin listener: accept failed", {.detail = ec.message()});
      continue;
    }
    if (connections.size() >= options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    const std::uint64_t id = next_id++;
    connections.emplace(id, beast::tcp_stream(std::move(socket)));
    net::co_spawn(ioc, session(id), net::detached);
  }
}

net::awaitable<void> AdminServer::Impl::session(std::uint64_t id) {
  struct Forget {
    Impl& s;
    std::uint64_t id;
    ~Forget() { s.connections.erase(id); }
  } forget_on_exit{*this, id};
  beast::tcp_stream& stream = connections.at(id);
  beast::flat_buffer buffer;
  while (!closing) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    stream.expires_after(options.read_timeout);
    auto [ec, n] =
        co_await bhttp::async_read(stream, buffer, parser, net::as_tuple(net::use_awaitable));
    OutboundResponse out;
    bool keep_alive = false;
    bool head = false;
    unsigned version = 11;
    if (ec == bhttp::error::body_limit) {
      out = payload_too_large(options.max_body_bytes);
    } else if (ec == bhttp::error::header_limit) {
      out = bad_request("headers_too_large");
      out.status = 431;
    } else if (ec &&
               (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
                ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category())) {
      break;  // closed, timed out or cancelled: nobody to answer
    } else if (ec) {
      out = bad_request("bad_request");
    } else {
      const auto& req = parser.get();
      version = req.version();
      head = req.method() == bhttp::verb::head;
      keep_alive = req.keep_alive();
      const std::string_view method = req.method_string();
      AdminRequest request{method, req.target(), req[bhttp::field::authorization], req.body()};
      if (head) request.method = "GET";
      try {
        out = handler(request);
      } catch (const std::exception& e) {
        log::error("admin request failed", {.detail = e.what()});
        out = OutboundResponse{500, R"({"error":"internal"})"
                                    "\n"};
      }
    }
    const bool close = out.close;
    auto res = to_beast(std::move(out), version, head, keep_alive && !close && !closing);
    stream.expires_after(options.read_timeout);
    auto [write_ec, written] =
        co_await bhttp::async_write(stream, res, net::as_tuple(net::use_awaitable));
    if (write_ec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

AdminServer::AdminServer(AdminServerOptions options, AdminHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

AdminServer::~AdminServer() { shutdown(); }

void AdminServer::start() {
  Impl& s = *impl_;
  open_listener(s.acceptor, s.options.host, s.options.port);
  s.bound_port = s.acceptor.local_endpoint().port();
  net::co_spawn(s.ioc, s.accept_loop(), net::detached);
  s.thread = std::thread([&s] { s.ioc.run(); });
  s.started = true;
}

std::uint16_t AdminServer::port() const { return impl_->bound_port; }

void AdminServer::shutdown() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  net::post(s.ioc, [&s] {
    s.closing = true;
    beast::error_code ignored;
    s.acceptor.close(ignored);
    for (auto& [id, stream] : s.connections) stream.cancel();
  });
  // The sessions end on their cancelled reads and writes; then run() returns (no work left).
  s.thread.join();
}

}  // namespace webhook::http
