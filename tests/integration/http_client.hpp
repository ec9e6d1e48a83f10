#pragma once
// A blocking HTTP/1.1 client over loopback for integration tests (one connection, keep-alive),
// plus raw-socket helpers for misbehaving clients.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace webhook::testing {

struct HttpReply {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool ok() const { return status != 0; }
  // The value of a header (any case), or "" when absent.
  std::string header(std::string name) const {
    for (auto& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request on the (re)used connection; status 0 when it failed (error() says why).
  HttpReply request(const std::string& method, const std::string& target,
                    const std::string& body = {}, const HeaderList& headers = {});
  HttpReply post(const std::string& target, const std::string& body,
                 const HeaderList& headers = {}) {
    return request("POST", target, body, headers);
  }
  HttpReply get(const std::string& target) { return request("GET", target); }
  const std::string& error() const { return error_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

// A raw TCP connection for clients that stall or send garbage.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  bool send(const std::string& bytes);
  // Reads until the peer closes or `timeout` passes; returns what arrived and whether it closed.
  std::pair<std::string, bool> read_until_closed(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

}  // namespace webhook::testing
