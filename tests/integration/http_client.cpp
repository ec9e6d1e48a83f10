#include "integration/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <optional>

namespace webhook::testing {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct HttpClient::Impl {
  Impl(std::uint16_t p, std::chrono::milliseconds t) : port(p), timeout(t) {}
  std::uint16_t port;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;  // replaced on every reconnect
  beast::flat_buffer buffer;
  bool connected = false;
};

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(port, timeout)) {}
HttpClient::~HttpClient() = default;

HttpReply HttpClient::request(const std::string& method, const std::string& target,
                              const std::string& body, const HeaderList& headers) {
  Impl& c = *impl_;
  HttpReply reply;
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    if (!c.connected) {
      c.stream.emplace(c.ioc);
      c.buffer.clear();
      c.stream->expires_after(c.timeout);
      c.stream->connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), c.port), ec);
      if (ec) {
        error_ = ec.message();
        return reply;
      }
      c.connected = true;
    }
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.insert(name, value);
    if (req.find(bhttp::field::content_type) == req.end() && !body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
    }
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);
    // The stream's timer is only enforced by async operations: drive them on the private context.
    bhttp::response<bhttp::string_body> res;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    c.stream->expires_after(c.timeout);
    beast::error_code wec, rec;
    bhttp::async_write(*c.stream, req, [&](beast::error_code e, std::size_t) {
      wec = e;
      if (e) return;
      bhttp::async_read(*c.stream, c.buffer, parser,
                        [&](beast::error_code e2, std::size_t) { rec = e2; });
    });
    c.ioc.restart();
    c.ioc.run();
    if (wec || rec) {
      error_ = (wec ? wec : rec).message();
      c.connected = false;
      beast::error_code ignored;
      c.stream->socket().close(ignored);
      if (attempt == 0 &&
          (rec == bhttp::error::end_of_stream || rec == net::error::connection_reset)) {
        continue;  // the server closed an idle keep-alive connection: reconnect once
      }
      return reply;
    }
    res = parser.release();
    reply.status = res.result_int();
    reply.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      reply.headers[name] = std::string(f.value());
    }
    if (!res.keep_alive()) {
      c.connected = false;
      beast::error_code ignored;
      c.stream->socket().close(ignored);
    }
    return reply;
  }
  return reply;
}

RawConnection::RawConnection(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  if (fd_ < 0) return false;
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

std::pair<std::string, bool> RawConnection::read_until_closed(std::chrono::milliseconds timeout) {
  std::string got;
  if (fd_ < 0) return {got, true};
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {got, false};
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {got, false};
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return {got, true};
    got.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace webhook::testing
