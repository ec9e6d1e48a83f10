// Listener and lifecycle of http::Server: bind, accept, run the I/O threads, shut down in order.
#include <stdexcept>

#include "http/listen.hpp"
#include "http/server_impl.hpp"
#include "webhook/log/log.hpp"

namespace webhook::http {

Server::Impl::Impl(ServerOptions o, std::vector<core::SourceSpec> s, core::DeliverySink& w,
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

namespace {

bool out_of_descriptors(const beast::error_code& ec) {
  return ec == net::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

}  // namespace

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

net::awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(net::make_strand(ioc), net::as_tuple(net::use_awaitable));
    if (ec) {
      if (ec == net::error::operation_aborted || stopping) co_return;
      if (hooks.on_accept_error) hooks.on_accept_error();
      if (const auto n = accept_error_log.note(LogThrottle::Clock::now())) {
        log::warn("accept failed",
                  {.detail = ec.message() + " (" + std::to_string(n) + " since the last line)"});
      }
      // Out of descriptors: free one for the next accept, and back off briefly instead of
      // spinning on a connection that stays in the backlog.
      if (out_of_descriptors(ec)) {
        std::string_view shed;
        {
          std::lock_guard lock(connections_mutex);
          shed = shed_one_locked();
        }
        report_shed(shed);
      }
      net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    admit(std::move(socket));
  }
}

void Server::Impl::admit(tcp::socket socket) {
  std::string_view shed;
  bool refused = false;
  auto conn = std::make_shared<Connection>(beast::tcp_stream(std::move(socket)), steady_now_ns());
  std::uint64_t id = 0;
  {
    std::lock_guard lock(connections_mutex);
    if (connections.size() - shedding >= options.max_connections) {
      shed = shed_one_locked();
      refused = shed.empty();
    }
    if (!refused) {
      id = next_connection_id++;
      connections.emplace(id, ConnectionEntry{conn, false});
    }
  }
  report_shed(refused ? "refused" : shed);
  if (refused) return;  // closed here: every connection is busy with an answer

  beast::error_code ignored;
  auto& sock = conn->stream.socket();
  sock.set_option(tcp::no_delay(true), ignored);
  const auto peer = sock.remote_endpoint(ignored);
  std::string remote = ignored ? std::string("unknown") : peer.address().to_string();
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

// The victim: among connections not being answered, one that has never answered a request
// (a slowloris never completes one) before one that has (the platform's keep-alive connection
// between two deliveries), and within each, the one that has waited longest.
std::string_view Server::Impl::shed_one_locked() {
  ConnectionEntry* best = nullptr;
  std::shared_ptr<Connection> victim;
  Phase best_phase = Phase::busy;
  std::pair<bool, std::int64_t> best_rank{};
  for (auto& [id, entry] : connections) {
    if (entry.shed) continue;
    auto conn = entry.conn.lock();
    if (!conn) continue;
    const Phase phase = conn->phase.load();
    if (phase == Phase::busy) continue;
    const std::pair<bool, std::int64_t> rank{conn->served.load(), conn->since_ns.load()};
    if (!victim || rank < best_rank) {
      best = &entry;
      victim = std::move(conn);
      best_phase = phase;
      best_rank = rank;
    }
  }
  if (!victim) return {};
  best->shed = true;
  ++shedding;
  victim->shed = true;
  // On its strand: cancel the read in progress (a busy connection closes after its answer).
  net::post(victim->stream.get_executor(), [victim] {
    if (victim->phase != Phase::busy) victim->stream.cancel();
  });
  return best_phase == Phase::idle ? "idle" : "slow";
}

void Server::Impl::report_shed(std::string_view reason) {
  if (reason.empty()) return;
  if (hooks.on_connection_shed) hooks.on_connection_shed(reason);
  if (const auto n = shed_log.note(LogThrottle::Clock::now())) {
    log::warn("connection limit reached: closing the connections waiting longest for a request",
              {.detail = "server.max_connections=" + std::to_string(options.max_connections) +
                         "; " + std::to_string(n) + " closed since the last line, the last " +
                         std::string(reason)});
  }
}

void Server::Impl::forget(std::uint64_t id) {
  std::lock_guard lock(connections_mutex);
  const auto it = connections.find(id);
  if (it == connections.end()) return;
  if (it->second.shed) --shedding;
  connections.erase(it);
  if (connections.empty()) connections_done.notify_all();
}

Server::Server(ServerOptions options, std::vector<core::SourceSpec> sources,
               core::DeliverySink& writer, storage::PayloadLog& payload_log, ServerHooks hooks)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(sources), writer, payload_log,
                                   std::move(hooks))) {}

Server::~Server() { shutdown(); }

void open_listener(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const std::string where = host + ":" + std::to_string(port);
  tcp::endpoint endpoint;
  if (const auto address = net::ip::make_address(host, ec); !ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(acceptor.get_executor());
    const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      throw std::runtime_error("cannot listen on " + where + ": cannot resolve " + host);
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
}

void Server::start() {
  Impl& s = *impl_;
  open_listener(s.acceptor, s.options.host, s.options.port);
  s.bound_port = s.acceptor.local_endpoint().port();

  s.work.emplace(s.ioc.get_executor());
  net::co_spawn(s.acceptor.get_executor(), s.accept_loop(), net::detached);
  for (int i = 0; i < s.options.io_threads; ++i) {
    s.threads.emplace_back([&s] { s.ioc.run(); });
  }
  s.started = true;
}

std::uint16_t Server::port() const { return impl_->bound_port; }

std::size_t Server::open_connections() const {
  std::lock_guard lock(impl_->connections_mutex);
  return impl_->connections.size() - impl_->shedding;
}

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
    for (auto& [id, entry] : s.connections) {
      if (auto conn = entry.conn.lock()) {
        net::post(conn->stream.get_executor(), [conn] {
          const Phase phase = conn->phase;
          if (phase == Phase::idle || phase == Phase::header) conn->stream.cancel();
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
      for (auto& [id, entry] : s.connections) {
        if (auto conn = entry.conn.lock()) {
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
