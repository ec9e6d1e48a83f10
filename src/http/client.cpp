// HttpClient (see the header for the flow). Each Connection owns its io_context: a call runs one
// asynchronous step at a time on it, bounded by the tcp_stream's expiry, so the blocking API
// gets real timeouts and no thread is shared between calls.

#include "webhook/http/client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <charconv>
#include <exception>
#include <mutex>
#include <stdexcept>

#include "http/asio.hpp"

namespace webhook::http {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Request = bhttp::request<bhttp::string_body>;

// The most response body read (the rest of the connection is then unusable); only
// max_body_kept bytes of it are returned.
constexpr std::uint64_t kMaxResponseRead = 1024 * 1024;
constexpr std::string_view kUserAgent = "webhook-receiver";

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  (void)net::ip::make_address(host, ec);
  return !ec;
}

bool has_control_break(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string describe(std::string_view step, const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out " + std::string(step);
  return std::string(step) + ": " + ec.message();
}

// One keep-alive connection with its own io_context (declared first: destroyed last).
struct Connection {
  net::io_context ioc{1};
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<TlsStream> tls;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since{};

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// Starts one asynchronous operation and runs the io_context until it completes. Callers bound
// the operation with the stream's expiry, which closes the socket when it passes.
template <class Initiate>
beast::error_code run_step(net::io_context& ioc, Initiate&& initiate) {
  beast::error_code result;
  ioc.restart();
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.run();
  return result;
}

struct Exchange {
  HttpResponse response;
  bool reusable = false;          // the connection may serve another request
  bool nothing_received = false;  // failed (not by timeout) before any response byte
};

template <class Stream>
Exchange exchange_on(Stream& stream, Connection& c, const Request& req,
                     const HttpClientOptions& options) {
  Exchange out;
  beast::tcp_stream& tcp = c.lowest();
  tcp.expires_after(options.response_timeout);  // covers the write and the read together
  auto ec = run_step(c.ioc, [&](auto handler) { bhttp::async_write(stream, req, handler); });
  if (ec) {
    out.response.error = describe("sending the request", ec);
    out.nothing_received = ec != beast::error::timeout;
    return out;
  }
  // Interim 1xx responses (103 Early Hints, a stray 100 Continue) are skipped; the deadline set
  // above still bounds the whole read.
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  bool interim_seen = false;
  for (;;) {
    parser.emplace();
    parser->body_limit(kMaxResponseRead);
    ec = run_step(c.ioc,
                  [&](auto handler) { bhttp::async_read(stream, c.buffer, *parser, handler); });
    const unsigned code = parser->get().result_int();
    if (ec || code < 100 || code >= 200 || code == 101) break;
    interim_seen = true;
  }
  tcp.expires_never();
  const bool got_status = parser->is_header_done() && (!ec || ec == bhttp::error::body_limit);
  if (got_status) {
    const auto& res = parser->get();
    out.response.status = res.result_int();
    out.response.retry_after = std::string(res[bhttp::field::retry_after]);
    out.response.body = res.body().substr(0, options.max_body_kept);
    for (const auto& field : res) {
      out.response.headers.emplace_back(std::string(field.name_string()),
                                        std::string(field.value()));
    }
  }
  if (ec) {
    out.response.error = ec == bhttp::error::body_limit ? "response body too large"
                                                        : describe("reading the response", ec);
    out.nothing_received =
        !interim_seen && !parser->got_some() && c.buffer.size() == 0 && ec != beast::error::timeout;
    return out;
  }
  out.reusable = parser->keep_alive() && c.buffer.size() == 0;
  return out;
}

}  // namespace

struct HttpClient::Impl {
  HttpClientOptions options;
  std::optional<net::ssl::context> ssl_ctx;  // https only; SSL_CTX is shared read-only
  std::string host_header;
  bool host_is_ip = false;

  std::mutex mutex;
  std::vector<std::unique_ptr<Connection>> idle;  // GUARDED_BY(mutex); newest last

  std::unique_ptr<Connection> take_idle() {
    std::vector<std::unique_ptr<Connection>> expired;  // closed outside the lock
    std::unique_ptr<Connection> found;
    {
      std::lock_guard lock(mutex);
      const auto oldest_ok = SteadyClock::now() - options.max_idle_time;
      while (!idle.empty() && !found) {
        auto c = std::move(idle.back());
        idle.pop_back();
        if (c->idle_since >= oldest_ok) {
          found = std::move(c);
        } else {
          expired.push_back(std::move(c));
        }
      }
    }
    return found;
  }

  void give_back(std::unique_ptr<Connection> c) {
    c->idle_since = SteadyClock::now();
    std::lock_guard lock(mutex);
    if (idle.size() < options.max_idle_connections) idle.push_back(std::move(c));
  }

  // Per-connection TLS settings: SNI (names only, never addresses) and the name or address the
  // certificate must match. False with `error` set when OpenSSL refuses them.
  bool configure_tls(TlsStream& stream, const std::string& host, std::string& error) const {
    SSL* ssl = stream.native_handle();
    // SSL_set_tlsext_host_name() spelled out: the macro's C cast trips -Wold-style-cast.
    if (!host_is_ip && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                const_cast<char*>(host.c_str())) != 1) {
      error = "TLS: cannot set the server name";
      return false;
    }
    if (!options.verify_peer) return true;
    const int ok = host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str())
                              : SSL_set1_host(ssl, host.c_str());
    if (ok != 1) error = "TLS: cannot set the expected host";
    return ok == 1;
  }

  // A new connection, connected (and TLS-established) within connect_timeout; nullptr with
  // `error` set otherwise.
  std::unique_ptr<Connection> open(const ParsedUrl& url, std::string& error) {
    const auto deadline = SteadyClock::now() + options.connect_timeout;
    auto c = std::make_unique<Connection>();
    tcp::resolver resolver(c->ioc);
    tcp::resolver::results_type endpoints;
    beast::error_code ec;
    bool resolved = false;
    resolver.async_resolve(url.host, url.port,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             resolved = true;
                           });
    c->ioc.run_for(options.connect_timeout);
    if (!resolved) {
      resolver.cancel();
      c->ioc.restart();
      c->ioc.run();  // getaddrinfo() cannot be interrupted: waits for it (see the header)
      error = "timed out resolving " + url.host;
      return nullptr;
    }
    if (ec) {
      error = "resolving " + url.host + ": " + ec.message();
      return nullptr;
    }

    if (url.tls) {
      c->tls = std::make_unique<TlsStream>(c->ioc, *ssl_ctx);
      if (!configure_tls(*c->tls, url.host, error)) return nullptr;
    } else {
      c->plain = std::make_unique<beast::tcp_stream>(c->ioc);
    }
    beast::tcp_stream& tcp_layer = c->lowest();
    tcp_layer.expires_at(deadline);  // what is left of connect_timeout
    ec = run_step(c->ioc, [&](auto handler) { tcp_layer.async_connect(endpoints, handler); });
    if (ec) {
      error = describe("connecting to " + url.host + ":" + url.port, ec);
      return nullptr;
    }
    if (c->tls) {
      ec = run_step(c->ioc, [&](auto handler) {
        c->tls->async_handshake(net::ssl::stream_base::client, handler);
      });
      if (ec) {
        error =
            describe(ec == beast::error::timeout ? "in the TLS handshake" : "TLS handshake", ec);
        return nullptr;
      }
    }
    tcp_layer.expires_never();
    return c;
  }

  Exchange exchange(Connection& c, const Request& req) {
    if (c.tls) return exchange_on(*c.tls, c, req, options);
    return exchange_on(*c.plain, c, req, options);
  }
};

HttpClient::HttpClient(ParsedUrl url, HttpClientOptions options)
    : url_(std::move(url)), impl_(std::make_unique<Impl>()) {
  if (url_.host.empty() || url_.port.empty()) throw std::invalid_argument("URL without a host");
  impl_->options = std::move(options);
  impl_->host_is_ip = is_ip_address(url_.host);
  const bool v6 = url_.host.find(':') != std::string::npos;
  impl_->host_header = v6 ? "[" + url_.host + "]" : url_.host;
  if (url_.port != (url_.tls ? "443" : "80")) impl_->host_header += ":" + url_.port;
  if (!url_.tls) return;

  auto& ctx = impl_->ssl_ctx.emplace(net::ssl::context::tls_client);
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                  net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                  net::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (impl_->options.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(impl_->options.ca_file, ec);
  }
  if (ec) {
    throw std::invalid_argument("cannot load trust anchors" +
                                (impl_->options.ca_file.empty()
                                     ? std::string(" (system store)")
                                     : " from " + impl_->options.ca_file) +
                                ": " + ec.message());
  }
  ctx.set_verify_mode(impl_->options.verify_peer ? net::ssl::verify_peer : net::ssl::verify_none);
}

HttpClient::~HttpClient() = default;

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return {};
}

HttpResponse HttpClient::post(std::string_view body, const HttpHeaders& headers) {
  return request("POST", url_.target, body, headers);
}

HttpResponse HttpClient::request(std::string_view method, std::string_view target,
                                 std::string_view body, const HttpHeaders& headers) {
  try {
    const bhttp::verb verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) return {0, {}, {}, "refused an unknown method", {}};
    const bool bad_target =
        !target.starts_with('/') || std::any_of(target.begin(), target.end(), [](char ch) {
          return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f;
        });
    if (bad_target) return {0, {}, {}, "refused a malformed request target", {}};
    Request req{verb, target, 11};
    req.set(bhttp::field::host, impl_->host_header);
    req.set(bhttp::field::user_agent, kUserAgent);
    for (const auto& [name, value] : headers) {
      if (name.empty() || has_control_break(name) || has_control_break(value)) {
        return {0, {}, {}, "refused a header with a line break in it", {}};
      }
      req.set(name, value);
    }
    req.keep_alive(true);
    req.body() = std::string(body);
    req.prepare_payload();

    // At most two connections: a reused one that turns out stale, then a fresh one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto c = attempt == 0 ? impl_->take_idle() : nullptr;
      const bool reused = c != nullptr;
      if (!c) {
        std::string error;
        c = impl_->open(url_, error);
        if (!c) return {0, {}, {}, std::move(error), {}};
      }
      Exchange ex = impl_->exchange(*c, req);
      if (ex.reusable) impl_->give_back(std::move(c));
      if (reused && ex.nothing_received) continue;
      return std::move(ex.response);
    }
    return {0, {}, {}, "no connection", {}};  // not reached: the second attempt always returns
  } catch (const std::exception& e) {
    return {0, {}, {}, std::string("HTTP client error: ") + e.what(), {}};
  }
}

}  // namespace webhook::http
