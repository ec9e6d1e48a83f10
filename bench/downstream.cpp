// webhook-bench-downstream: the forward handler's target in the worker-pool benchmark
// (bench/run_workers.sh, bench/README.md). A small HTTP/1.1 server on 127.0.0.1:
//
//  1. Answers every POST with 200 (keep-alive as the client asks); other methods get 405.
//  2. Records, for each POST, when its request was completely read (system clock, Unix epoch
//     milliseconds with a microsecond fraction, so it compares with the load generator's
//     acknowledgement times) and its X-Webhook-Event-Id header.
//  3. With --secret-env NAME, checks the Standard Webhooks headers (webhook-id,
//     webhook-timestamp, webhook-signature) with core::verify_standard_webhooks and the secret in
//     that environment variable, and counts the requests that fail (they are still answered 200:
//     the benchmark measures the pool, a failure is reported, not retried).
//  4. On SIGTERM or SIGINT: stops, writes the CSV (`event_id,arrival_ms`, one line per POST in
//     arrival order), prints one line `DOWNSTREAM_SUMMARY key=value ...` to stdout, exits 0.
//
// It listens on 127.0.0.1:<--port, default 0 = any free port> and writes the port to --port-file
// once it accepts connections. Connections run as coroutines on --threads I/O threads.
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "webhook/core/standard_webhooks.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

constexpr const char* kUsage =
    "usage: webhook-bench-downstream --port-file FILE --csv FILE [--port P] [--threads N]\n"
    "                                [--secret-env NAME]\n"
    "\n"
    "Answers 200 to every POST on 127.0.0.1:P (default 0: any free port, written to FILE) and\n"
    "records each request's arrival time and X-Webhook-Event-Id. On SIGTERM/SIGINT writes the CSV\n"
    "(event_id,arrival_ms), prints a DOWNSTREAM_SUMMARY line and exits 0.\n"
    "  --port P          port on 127.0.0.1 (0-65535, default 0)\n"
    "  --port-file FILE  where the port is written once the server accepts connections\n"
    "  --csv FILE        where the arrivals are written at the end\n"
    "  --threads N       I/O threads (1-64, default 2)\n"
    "  --secret-env NAME verify the Standard Webhooks signature with the secret in the\n"
    "                    environment variable NAME (a whsec_ secret is base64-decoded) and count\n"
    "                    failures; without it nothing is verified\n";

constexpr std::uint64_t kMaxBodyBytes = 64ULL * 1024ULL * 1024ULL;
constexpr std::int64_t kToleranceSeconds = 300;

struct Arrival {
  std::string event_id;  // the X-Webhook-Event-Id header, "" when absent
  std::int64_t arrival_us = 0;
};

struct State {
  std::optional<std::string> secret;  // verify when set
  std::mutex mutex;
  std::vector<Arrival> arrivals;  // GUARDED_BY(mutex)
  std::atomic<std::uint64_t> requests{0}, non_post{0}, verified{0}, verify_failures{0},
      connections{0};
};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_ms(std::int64_t us) {
  char buf[48];
  const std::int64_t whole = us / 1000;
  const std::int64_t frac = us % 1000;
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(whole),
                static_cast<long long>(frac < 0 ? -frac : frac));
  return buf;
}

// CSV-safe: the header value is written verbatim unless it could break the line or the columns.
std::string csv_field(std::string_view s) {
  std::string out(s.substr(0, 128));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ',' || c == '"') c = '?';
  }
  return out;
}

bool verify(const State& state, const bhttp::request<bhttp::string_body>& req) {
  const std::string_view id = req[webhook::core::kStandardWebhooksIdHeader];
  const std::string_view ts_text = req[webhook::core::kStandardWebhooksTimestampHeader];
  const std::string_view sig = req[webhook::core::kStandardWebhooksSignatureHeader];
  if (id.empty() || ts_text.empty() || sig.empty()) return false;
  std::int64_t ts = 0;
  const auto [ptr, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), ts);
  if (ec != std::errc{} || ptr != ts_text.data() + ts_text.size()) return false;
  const std::int64_t now_s = now_us() / 1000000;
  return webhook::core::verify_standard_webhooks(*state.secret, id, ts, req.body(), sig, now_s,
                                                 kToleranceSeconds);
}

net::awaitable<void> session(tcp::socket socket, State& state) {
  state.connections.fetch_add(1, std::memory_order_relaxed);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    auto [read_ec, read_n] =
        co_await bhttp::async_read(stream, buffer, parser, net::as_tuple(net::use_awaitable));
    if (read_ec) break;  // closed by the peer, or malformed: either way, this connection ends
    const std::int64_t arrived = now_us();
    const auto& req = parser.get();
    state.requests.fetch_add(1, std::memory_order_relaxed);

    bhttp::response<bhttp::string_body> res;
    res.version(req.version());
    res.set(bhttp::field::server, "webhook-bench-downstream");
    res.set(bhttp::field::content_type, "application/json");
    if (req.method() == bhttp::verb::post) {
      if (state.secret) {
        if (verify(state, req)) {
          state.verified.fetch_add(1, std::memory_order_relaxed);
        } else {
          state.verify_failures.fetch_add(1, std::memory_order_relaxed);
        }
      }
      Arrival a{csv_field(req["X-Webhook-Event-Id"]), arrived};
      {
        std::lock_guard lock(state.mutex);
        state.arrivals.push_back(std::move(a));
      }
      res.result(bhttp::status::ok);
      res.body() = R"({"status":"ok"})";
    } else {
      state.non_post.fetch_add(1, std::memory_order_relaxed);
      res.result(bhttp::status::method_not_allowed);
      res.set(bhttp::field::allow, "POST");
      res.body() = R"({"error":"method_not_allowed"})";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [write_ec, write_n] =
        co_await bhttp::async_write(stream, res, net::as_tuple(net::use_awaitable));
    if (write_ec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Runs on the acceptor's strand (so does the signal handler that closes it).
net::awaitable<void> accept_loop(net::io_context& ioc, tcp::acceptor& acceptor, State& state) {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(net::make_strand(ioc), net::as_tuple(net::use_awaitable));
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(20));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto executor = socket.get_executor();
    net::co_spawn(executor, session(std::move(socket), state), net::detached);
  }
}

std::optional<unsigned long> parse_number(std::string_view text, unsigned long max) {
  unsigned long value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || value > max) {
    return std::nullopt;
  }
  return value;
}

int usage_error(const std::string& message) {
  std::cerr << "webhook-bench-downstream: " << message << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long port = 0;
  unsigned long threads = 2;
  std::string port_file;
  std::string csv_path;
  std::string secret_env;
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a + 1 >= argc) return usage_error(std::string(arg) + " needs a value (or unknown option)");
    const std::string_view value = argv[++a];
    if (arg == "--port") {
      const auto p = parse_number(value, 65535);
      if (!p) return usage_error("--port must be 0-65535");
      port = *p;
    } else if (arg == "--threads") {
      const auto t = parse_number(value, 64);
      if (!t || *t < 1) return usage_error("--threads must be 1-64");
      threads = *t;
    } else if (arg == "--port-file") {
      port_file = value;
    } else if (arg == "--csv") {
      csv_path = value;
    } else if (arg == "--secret-env") {
      secret_env = value;
    } else {
      return usage_error("unknown option " + std::string(arg));
    }
  }
  if (port_file.empty() || csv_path.empty())
    return usage_error("--port-file and --csv are required");

  State state;
  if (!secret_env.empty()) {
    const char* secret = std::getenv(secret_env.c_str());
    if (secret == nullptr || *secret == '\0') {
      return usage_error("--secret-env: " + secret_env + " is not set or empty");
    }
    if (!webhook::core::standard_webhooks_key(secret)) {
      return usage_error("--secret-env: " + secret_env +
                         " holds a whsec_ secret that is not base64");
    }
    state.secret = secret;
  }
  state.arrivals.reserve(1U << 20);

  try {
    net::io_context ioc(static_cast<int>(threads));
    auto strand = net::make_strand(ioc);
    tcp::acceptor acceptor(strand);
    const tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"),
                                 static_cast<unsigned short>(port));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    const unsigned short bound = acceptor.local_endpoint().port();

    net::signal_set signals(ioc, SIGTERM, SIGINT);
    signals.async_wait(net::bind_executor(strand, [&](const beast::error_code& ec, int) {
      if (ec) return;
      beast::error_code ignored;
      acceptor.close(ignored);
      ioc.stop();
    }));
    net::co_spawn(strand, accept_loop(ioc, acceptor, state), net::detached);

    {  // The port, atomically: a reader never sees a partial file.
      const std::string tmp = port_file + ".tmp";
      std::ofstream out(tmp, std::ios::trunc);
      out << bound << "\n";
      out.close();
      if (!out || std::rename(tmp.c_str(), port_file.c_str()) != 0) {
        std::cerr << "webhook-bench-downstream: cannot write " << port_file << "\n";
        return 1;
      }
    }
    std::cerr << "webhook-bench-downstream: listening on 127.0.0.1:" << bound << " (" << threads
              << " threads, signature check " << (state.secret ? "on" : "off") << ")\n";

    std::vector<std::thread> pool;
    for (unsigned long t = 1; t < threads; ++t) pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
  } catch (const std::exception& e) {
    std::cerr << "webhook-bench-downstream: " << e.what() << "\n";
    return 1;
  }

  // Stopped: every thread has returned, so the arrivals are ours alone.
  std::vector<Arrival>& arrivals = state.arrivals;
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [](const Arrival& x, const Arrival& y) { return x.arrival_us < y.arrival_us; });
  std::ofstream csv(csv_path, std::ios::binary | std::ios::trunc);
  csv << "event_id,arrival_ms\n";
  std::unordered_set<std::string> distinct;
  distinct.reserve(arrivals.size());
  std::uint64_t missing_id = 0;
  for (const Arrival& a : arrivals) {
    csv << a.event_id << ',' << format_ms(a.arrival_us) << '\n';
    if (a.event_id.empty()) {
      ++missing_id;
    } else {
      distinct.insert(a.event_id);
    }
  }
  csv.close();
  if (!csv) {
    std::cerr << "webhook-bench-downstream: cannot write " << csv_path << "\n";
    return 1;
  }
  const std::uint64_t posts = arrivals.size();
  const std::uint64_t with_id = posts - missing_id;
  std::cout << "DOWNSTREAM_SUMMARY posts=" << posts << " requests=" << state.requests.load()
            << " non_post=" << state.non_post.load() << " distinct_event_ids=" << distinct.size()
            << " repeated=" << (with_id - distinct.size()) << " missing_event_id=" << missing_id
            << " signature_check=" << (state.secret ? "on" : "off")
            << " verified=" << state.verified.load()
            << " verify_failures=" << state.verify_failures.load()
            << " connections=" << state.connections.load() << " first_arrival_ms="
            << (arrivals.empty() ? std::string("-") : format_ms(arrivals.front().arrival_us))
            << " last_arrival_ms="
            << (arrivals.empty() ? std::string("-") : format_ms(arrivals.back().arrival_us))
            << std::endl;
  return 0;
}
