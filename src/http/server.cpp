// Listener and lifecycle of http::Server: bind, accept, run the I/O threads, shut down in order.
#include <stdexcept>

#include "http/server_impl.hpp"
#include "webhook/log/log.hpp"

namespace webhook::http {

Server::Impl::Impl(ServerOptions o, std::vector<core::SourceSpec> s, storage::InboxWriter& w,
                   storage::PayloadLog& p, ServerHooks h)
    : options(std::move(o)),
      sources(std::move(s)),
      router([this] {
        std::vector<std::string> paths;
        for (const auto& src : sources) paths.push_back(src.path);
        return paths;
      }()),
      proxies(options.trusted_proxies),
      writer(w),
      payload_log(p),
      hooks(std::move(h)),
      ioc(options.io_threads),
      acceptor(net::make_strand(ioc)) {}

net::awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(net::make_strand(ioc), net::as_tuple(net::use_awaitable));
    if (ec) {
      if (ec == net::error::operation_aborted || stopping) co_return;
      log::warn("accept failed", {.detail = ec.message()});
      // Out of descriptors or similar: back off briefly instead of spinning.
      net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const auto peer = socket.remote_endpoint(ignored);
    std::string remote = ignored ? std::string("unknown") : peer.address().to_string();
    auto conn = std::make_shared<Connection>(beast::tcp_stream(std::move(socket)));
    std::uint64_t id = 0;
    {
      std::lock_guard lock(connections_mutex);
      id = next_connection_id++;
      connections.emplace(id, conn);
    }
    auto executor = conn->stream.get_executor();
    net::co_spawn(executor, session(std::move(conn), id, std::move(remote)),
                  [](const std::exception_ptr& e) {
                    if (!e) return;
                    try {
                      std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                      log::error("session ended by an exception", {.detail = ex.what()});
                    }
                  });
  }
}

void Server::Impl::forget(std::uint64_t id) {
  std::lock_guard lock(connections_mutex);
  connections.erase(id);
  if (connections.empty()) connections_done.notify_all();
}

Server::Server(ServerOptions options, std::vector<core::SourceSpec> sources,
               storage::InboxWriter& writer, storage::PayloadLog& payload_log, ServerHooks hooks)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(sources), writer, payload_log,
                                   std::move(hooks))) {}

Server::~Server() { shutdown(); }

void Server::start() {
  Impl& s = *impl_;
  beast::error_code ec;
  const std::string where = s.options.host + ":" + std::to_string(s.options.port);
  // An IP address binds as is; a host name ("localhost") is resolved once, here at start-up.
  tcp::endpoint endpoint;
  if (const auto address = net::ip::make_address(s.options.host, ec); !ec) {
    endpoint = tcp::endpoint(address, s.options.port);
  } else {
    tcp::resolver resolver(s.ioc);
    const auto results = resolver.resolve(s.options.host, std::to_string(s.options.port),
                                          tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      throw std::runtime_error("cannot listen on " + where + ": cannot resolve " + s.options.host);
    }
    endpoint = results.begin()->endpoint();
  }
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
  s.bound_port = s.acceptor.local_endpoint().port();

  s.work.emplace(s.ioc.get_executor());
  net::co_spawn(s.acceptor.get_executor(), s.accept_loop(), net::detached);
  for (int i = 0; i < s.options.io_threads; ++i) {
    s.threads.emplace_back([&s] { s.ioc.run(); });
  }
  s.started = true;
}

std::uint16_t Server::port() const { return impl_->bound_port; }

std::size_t Server::shutdown() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return 0;
  s.stopped = true;

  // 1. Stop accepting; from now on every answered request closes its connection.
  s.stopping = true;
  net::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
  });

  // 2. Close connections that are between requests; busy ones finish their request first.
  auto close_idle = [&s] {
    std::lock_guard lock(s.connections_mutex);
    for (auto& [id, weak] : s.connections) {
      if (auto conn = weak.lock()) {
        net::post(conn->stream.get_executor(), [conn] {
          if (conn->idle) conn->stream.cancel();
        });
      }
    }
  };
  close_idle();

  // 3. Wait for in-flight requests, bounded. A connection that turned idle after step 2
  //    (it answered its request) closes itself because `stopping` is set.
  std::size_t cut = 0;
  {
    std::unique_lock lock(s.connections_mutex);
    const bool drained = s.connections_done.wait_for(lock, s.options.shutdown_timeout,
                                                     [&s] { return s.connections.empty(); });
    if (!drained) {
      cut = s.connections.size();
      for (auto& [id, weak] : s.connections) {
        if (auto conn = weak.lock()) {
          net::post(conn->stream.get_executor(), [conn] { conn->stream.cancel(); });
        }
      }
    }
  }

  // 4. Stop the I/O threads.
  s.work.reset();
  if (cut > 0) {
    std::unique_lock lock(s.connections_mutex);
    s.connections_done.wait_for(lock, std::chrono::seconds(2),
                                [&s] { return s.connections.empty(); });
  }
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  return cut;
}

}  // namespace webhook::http
