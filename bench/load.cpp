// webhook-bench-load: sends a fixed number of pre-signed deliveries to the receiver, as fast as
// it can or at a fixed rate, and records when each one was acknowledged (bench/run_workers.sh,
// bench/README.md). wrk runs for a duration and cannot pace; this tool sends exactly --count
// deliveries, each once, and keeps per delivery the time its answer arrived and the eventId in
// it, which the worker-pool benchmark joins with the downstream's arrival times.
//
//  1. Reads the first --count lines of --deliveries (webhook-bench-deliveries' format:
//     "<hex signature>\t<compact JSON body>"), each sent once, in file order.
//  2. Opens --connections keep-alive connections to --url (http://127.0.0.1:PORT/path only);
//     each takes the next unsent delivery when its previous answer has arrived. With --rate R,
//     delivery i is not sent before start + i/R seconds (one schedule shared by the connections:
//     an open-loop pace as long as a connection is free; the lag behind the schedule is reported).
//  3. Writes --out, a CSV with one line per delivery: index,status,result,event_id,sent_ms,ack_ms
//     (Unix epoch milliseconds from the system clock with a microsecond fraction; ack_ms is when
//     the whole answer had been read). status is 0 when no answer came (connection error,
//     --timeout-s); result is the "status" member of a 200 body or the "error" member otherwise.
//  4. Prints one line "LOAD_SUMMARY key=value ..." to stdout.
// With --slow-connections S (bench/run_slowloris.sh), S more connections play slowloris before
// and during the run: each sends one byte of a never-ending request header per
// --slow-interval-ms and is reopened when the receiver closes it. Deliveries start once all S
// are open; the summary counts how many were open at the end and how often they were cut.
// One I/O thread; a failed connection is reopened and its delivery counted as failed, never
// re-sent. Traffic goes to 127.0.0.1 only (the URL's host must be 127.0.0.1).
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: webhook-bench-load --url http://127.0.0.1:PORT/PATH --deliveries FILE --out FILE\n"
    "                          [--count N] [--connections C] [--rate R] [--timeout-s T]\n"
    "\n"
    "Sends each of the first N deliveries of FILE once and records when each was acknowledged.\n"
    "  --count N        deliveries to send (default: every line of FILE)\n"
    "  --connections C  keep-alive connections (1-1024, default 16)\n"
    "  --rate R         deliveries per second, paced (default 0: as fast as the connections go)\n"
    "  --timeout-s T    give up on the whole run after T seconds (1-3600, default 300)\n"
    "  --slow-connections S   hold S slowloris connections open meanwhile (0-20000, default 0)\n"
    "  --slow-interval-ms MS  one header byte per slow connection every MS (10-60000, 1000)\n";

struct Delivery {
  std::string signature;
  std::string body;
};

struct Result {
  unsigned status = 0;
  std::string result;
  std::string event_id;
  std::int64_t sent_us = 0;
  std::int64_t ack_us = 0;
  double latency_ms = -1;  // steady clock, send to answer
  double lag_ms = 0;       // paced: how late the send was against the schedule
};

struct Run {
  std::string host, port, target;
  std::vector<Delivery> deliveries;
  std::vector<Result> results;
  std::size_t next = 0;
  double rate = 0;
  Clock::time_point start;
  Clock::time_point deadline;
  std::chrono::seconds timeout{300};
  std::uint64_t connects = 0, connection_errors = 0;
  bool timed_out = false;
  unsigned active = 0;  // delivery connections still running
  // Slowloris (--slow-connections).
  unsigned slow = 0;
  std::chrono::milliseconds slow_interval{1000};
  unsigned slow_open = 0;
  std::uint64_t slow_connects = 0, slow_closed = 0;
  bool finished = false;
  net::io_context* ioc = nullptr;
};

std::int64_t system_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_ms(std::int64_t us) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(us / 1000),
                static_cast<long long>(us % 1000));
  return buf;
}

// The value of a top-level "name":"text" or "name":123 member, found textually (the receiver's
// answers are small, flat and compact); "" when absent.
std::string json_member(std::string_view body, std::string_view name) {
  const std::string key = "\"" + std::string(name) + "\"";
  auto pos = body.find(key);
  if (pos == std::string_view::npos) return {};
  pos = body.find(':', pos + key.size());
  if (pos == std::string_view::npos) return {};
  ++pos;
  while (pos < body.size() && body[pos] == ' ') ++pos;
  if (pos < body.size() && body[pos] == '"') {
    const auto end = body.find('"', pos + 1);
    if (end == std::string_view::npos) return {};
    return std::string(body.substr(pos + 1, end - pos - 1));
  }
  auto end = pos;
  while (end < body.size() && body[end] >= '0' && body[end] <= '9') ++end;
  return std::string(body.substr(pos, end - pos));
}

std::string csv_field(std::string s) {
  if (s.size() > 64) s.resize(64);
  for (char& c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ',' || c == '"') c = '?';
  }
  return s;
}

net::awaitable<bool> connect(Run& run, beast::tcp_stream& stream, tcp::resolver& resolver) {
  auto [rec, endpoints] =
      co_await resolver.async_resolve(run.host, run.port, net::as_tuple(net::use_awaitable));
  if (rec) co_return false;
  stream.expires_at(run.deadline);
  auto [cec, ep] = co_await stream.async_connect(endpoints, net::as_tuple(net::use_awaitable));
  if (cec) co_return false;
  ++run.connects;
  beast::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  co_return true;
}

net::awaitable<void> connection(Run& run) {
  auto executor = co_await net::this_coro::executor;
  tcp::resolver resolver(executor);
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  net::steady_timer pace(executor);
  while (run.next < run.deliveries.size()) {
    const std::size_t i = run.next++;
    Result& r = run.results[i];
    // 1. Wait for this delivery's slot in the schedule.
    Clock::time_point due = run.start;
    if (run.rate > 0) {
      due += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(i) / run.rate));
      if (due > run.deadline) due = run.deadline;
      pace.expires_at(due);
      co_await pace.async_wait(net::as_tuple(net::use_awaitable));
    }
    if (Clock::now() >= run.deadline) {
      run.timed_out = true;
      r.result = "not_sent_timeout";
      continue;
    }
    // 2. A connection (a new one after an error or a close).
    if (!stream) {
      stream.emplace(executor);
      buffer.clear();
      if (!co_await connect(run, *stream, resolver)) {
        ++run.connection_errors;
        r.result = "connect_failed";
        stream.reset();
        continue;
      }
    }
    // 3. Send, read the answer.
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, run.target, 11};
    req.set(bhttp::field::host, run.host + ":" + run.port);
    req.set(bhttp::field::user_agent, "webhook-bench-load/1");
    req.set(bhttp::field::content_type, "application/json");
    req.set("X-Webhook-Signature", run.deliveries[i].signature);
    req.body() = run.deliveries[i].body;
    req.keep_alive(true);
    req.prepare_payload();
    const auto sent = Clock::now();
    r.lag_ms = run.rate > 0 ? std::chrono::duration<double, std::milli>(sent - due).count() : 0.0;
    r.sent_us = system_us();
    stream->expires_at(run.deadline);
    auto [wec, wn] = co_await bhttp::async_write(*stream, req, net::as_tuple(net::use_awaitable));
    bhttp::response<bhttp::string_body> res;
    beast::error_code rec = wec;
    if (!wec) {
      auto [ec, n] =
          co_await bhttp::async_read(*stream, buffer, res, net::as_tuple(net::use_awaitable));
      rec = ec;
    }
    if (rec) {
      if (Clock::now() >= run.deadline) run.timed_out = true;
      ++run.connection_errors;
      r.result = rec == beast::error::timeout ? "timeout" : "connection_error";
      stream.reset();
      continue;
    }
    r.ack_us = system_us();
    r.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
    r.status = res.result_int();
    r.result = csv_field(json_member(res.body(), r.status == 200 ? "status" : "error"));
    r.event_id = csv_field(json_member(res.body(), "eventId"));
    if (!res.keep_alive()) stream.reset();
  }
  if (stream) {
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
  // The last delivery connection ends the run (slow clients are abandoned mid-wait).
  if (--run.active == 0) {
    run.finished = true;
    if (run.slow > 0) run.ioc->stop();
  }
}

// One slowloris client: a request header that never ends, one byte per interval; reopened when
// the receiver closes it.
net::awaitable<void> slow_client(Run& run) {
  auto executor = co_await net::this_coro::executor;
  tcp::resolver resolver(executor);
  net::steady_timer pause(executor);
  const std::string head = "POST " + run.target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  while (!run.finished) {
    beast::tcp_stream stream(executor);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(run.host, run.port, net::as_tuple(net::use_awaitable));
    auto [cec, ep] = co_await stream.async_connect(endpoints, net::as_tuple(net::use_awaitable));
    if (rec || cec) {
      pause.expires_after(run.slow_interval);
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    ++run.slow_connects;
    ++run.slow_open;
    for (std::size_t pos = 0; !run.finished; ++pos) {
      const char byte = pos < head.size() ? head[pos] : 'a';
      auto [wec, n] = co_await net::async_write(stream.socket(), net::buffer(&byte, 1),
                                                net::as_tuple(net::use_awaitable));
      if (wec) break;
      pause.expires_after(run.slow_interval);
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
    }
    --run.slow_open;
    if (run.finished) break;
    ++run.slow_closed;  // cut by the receiver: reopened after one interval
    pause.expires_after(run.slow_interval);
    co_await pause.async_wait(net::as_tuple(net::use_awaitable));
  }
}

// Opens the slow clients, waits (at most 60 s) until all are connected, then starts the
// delivery connections with the clock.
net::awaitable<void> start(Run& run, unsigned connections) {
  auto executor = co_await net::this_coro::executor;
  for (unsigned s = 0; s < run.slow; ++s) net::co_spawn(executor, slow_client(run), net::detached);
  net::steady_timer wait(executor);
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  while (run.slow_open < run.slow && Clock::now() < give_up) {
    wait.expires_after(std::chrono::milliseconds(10));
    co_await wait.async_wait(net::as_tuple(net::use_awaitable));
  }
  run.start = Clock::now();  // paced: delivery i is due at start + i / rate
  run.deadline = run.start + run.timeout;
  run.active = connections;
  for (unsigned c = 0; c < connections; ++c) {
    net::co_spawn(executor, connection(run), [](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::cerr << "webhook-bench-load: connection ended by an exception: " << ex.what() << "\n";
      }
    });
  }
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

int usage_error(const std::string& message) {
  std::cerr << "webhook-bench-load: " << message << "\n" << kUsage;
  return 2;
}

double percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, deliveries_path, out_path;
  std::optional<std::size_t> count;
  unsigned connections = 16;
  double rate = 0;
  unsigned timeout_s = 300;
  unsigned slow = 0;
  unsigned slow_interval_ms = 1000;
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a + 1 >= argc) return usage_error(std::string(arg) + " needs a value (or unknown option)");
    const std::string_view value = argv[++a];
    if (arg == "--url") {
      url = value;
    } else if (arg == "--deliveries") {
      deliveries_path = value;
    } else if (arg == "--out") {
      out_path = value;
    } else if (arg == "--count") {
      count = parse_number<std::size_t>(value);
      if (!count || *count < 1) return usage_error("--count must be a positive integer");
    } else if (arg == "--connections") {
      const auto c = parse_number<unsigned>(value);
      if (!c || *c < 1 || *c > 1024) return usage_error("--connections must be 1-1024");
      connections = *c;
    } else if (arg == "--rate") {
      const auto r = parse_number<unsigned>(value);
      if (!r || *r > 1000000) return usage_error("--rate must be 0-1000000");
      rate = *r;
    } else if (arg == "--timeout-s") {
      const auto t = parse_number<unsigned>(value);
      if (!t || *t < 1 || *t > 3600) return usage_error("--timeout-s must be 1-3600");
      timeout_s = *t;
    } else if (arg == "--slow-connections") {
      const auto n = parse_number<unsigned>(value);
      if (!n || *n > 20000) return usage_error("--slow-connections must be 0-20000");
      slow = *n;
    } else if (arg == "--slow-interval-ms") {
      const auto ms = parse_number<unsigned>(value);
      if (!ms || *ms < 10 || *ms > 60000) return usage_error("--slow-interval-ms must be 10-60000");
      slow_interval_ms = *ms;
    } else {
      return usage_error("unknown option " + std::string(arg));
    }
  }
  if (url.empty() || deliveries_path.empty() || out_path.empty()) {
    return usage_error("--url, --deliveries and --out are required");
  }

  Run run;
  {  // http://127.0.0.1:PORT/PATH, nothing else: this tool only talks to the local machine.
    constexpr std::string_view kPrefix = "http://127.0.0.1:";
    const std::string_view u = url;
    if (!u.starts_with(kPrefix)) return usage_error("--url must start with http://127.0.0.1:");
    const std::string_view rest = u.substr(kPrefix.size());
    const auto slash = rest.find('/');
    run.host = "127.0.0.1";
    run.port = std::string(rest.substr(0, slash));
    run.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (!parse_number<unsigned short>(run.port)) return usage_error("--url has a bad port");
  }
  run.rate = rate;
  run.timeout = std::chrono::seconds(timeout_s);
  run.slow = slow;
  run.slow_interval = std::chrono::milliseconds(slow_interval_ms);

  {
    std::ifstream in(deliveries_path, std::ios::binary);
    if (!in) {
      std::cerr << "webhook-bench-load: cannot read " << deliveries_path << "\n";
      return 1;
    }
    std::string line;
    while ((!count || run.deliveries.size() < *count) && std::getline(in, line)) {
      const auto tab = line.find('\t');
      if (tab == std::string::npos) {
        std::cerr << "webhook-bench-load: line " << run.deliveries.size() + 1 << " has no tab\n";
        return 1;
      }
      run.deliveries.push_back({line.substr(0, tab), line.substr(tab + 1)});
    }
    if (run.deliveries.empty() || (count && run.deliveries.size() < *count)) {
      std::cerr << "webhook-bench-load: " << deliveries_path << " has " << run.deliveries.size()
                << " deliveries, fewer than --count\n";
      return 1;
    }
  }
  run.results.resize(run.deliveries.size());

  net::io_context ioc(1);
  run.ioc = &ioc;
  const unsigned opened =
      static_cast<unsigned>(std::min<std::size_t>(connections, run.deliveries.size()));
  net::co_spawn(ioc, start(run, opened), net::detached);
  ioc.run();
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - run.start).count();

  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << "index,status,result,event_id,sent_ms,ack_ms\n";
  std::map<std::string, std::uint64_t> by_result;
  std::vector<double> latencies, lags;
  latencies.reserve(run.results.size());
  std::int64_t first_ack = 0, last_ack = 0, first_sent = 0, last_sent = 0;
  std::uint64_t ok200 = 0, answered = 0;
  for (std::size_t i = 0; i < run.results.size(); ++i) {
    const Result& r = run.results[i];
    out << i << ',' << r.status << ',' << r.result << ',' << r.event_id << ','
        << (r.sent_us ? format_ms(r.sent_us) : "") << ',' << (r.ack_us ? format_ms(r.ack_us) : "")
        << '\n';
    ++by_result[std::to_string(r.status) + "_" + (r.result.empty() ? "-" : r.result)];
    if (r.sent_us) {
      if (!first_sent || r.sent_us < first_sent) first_sent = r.sent_us;
      last_sent = std::max(last_sent, r.sent_us);
      if (run.rate > 0) lags.push_back(r.lag_ms);
    }
    if (r.status != 0) {
      ++answered;
      latencies.push_back(r.latency_ms);
      if (!first_ack || r.ack_us < first_ack) first_ack = r.ack_us;
      last_ack = std::max(last_ack, r.ack_us);
    }
    if (r.status == 200) ++ok200;
  }
  out.close();
  if (!out) {
    std::cerr << "webhook-bench-load: cannot write " << out_path << "\n";
    return 1;
  }
  std::sort(latencies.begin(), latencies.end());
  std::sort(lags.begin(), lags.end());
  std::string results;
  for (const auto& [k, v] : by_result) {
    results += (results.empty() ? "" : ",") + k + ":" + std::to_string(v);
  }
  const double ack_span_s = static_cast<double>(last_ack - first_ack) / 1e6;
  const auto num = [](double v, int places) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", places, v);
    return std::string(buf);
  };
  std::cout << "LOAD_SUMMARY deliveries=" << run.results.size() << " answered=" << answered
            << " ok200=" << ok200 << " results=" << results << " connections=" << opened
            << " rate=" << num(run.rate, 0) << " first_sent_ms=" << format_ms(first_sent)
            << " last_sent_ms=" << format_ms(last_sent) << " first_ack_ms=" << format_ms(first_ack)
            << " last_ack_ms=" << format_ms(last_ack) << " elapsed_s=" << num(elapsed_s, 3)
            << " ack_rate="
            << num(ack_span_s > 0 ? static_cast<double>(answered) / ack_span_s : 0.0, 1)
            << " ack_p50_ms=" << num(percentile(latencies, 0.5), 3)
            << " ack_p90_ms=" << num(percentile(latencies, 0.9), 3)
            << " ack_p99_ms=" << num(percentile(latencies, 0.99), 3)
            << " ack_max_ms=" << num(latencies.empty() ? 0.0 : latencies.back(), 3)
            << " lag_p50_ms=" << num(percentile(lags, 0.5), 3)
            << " lag_p99_ms=" << num(percentile(lags, 0.99), 3)
            << " lag_max_ms=" << num(lags.empty() ? 0.0 : lags.back(), 3)
            << " connects=" << run.connects << " connection_errors=" << run.connection_errors
            << " timed_out=" << (run.timed_out ? 1 : 0) << " slow=" << run.slow
            << " slow_open_at_end=" << run.slow_open << " slow_connects=" << run.slow_connects
            << " slow_closed=" << run.slow_closed << std::endl;
  return ok200 == run.results.size() ? 0 : 3;
}
