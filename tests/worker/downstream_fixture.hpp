#pragma once
// Downstream: a scripted HTTP(S) server on 127.0.0.1:0 standing in for the service the forward
// handler calls. It answers requests with a scripted list of responses (then 200 "ok"), records
// every request and counts accepted connections. TLS uses a self-signed certificate generated
// at start with OpenSSL's C API. One thread runs a coroutine per connection; the destructor
// stops it. Accessors are thread-safe.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "support/temp_dir.hpp"

namespace webhook::testing {

struct ScriptedResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "ok";
  bool hang = false;         // read the request and never answer (until the server stops)
  bool close_after = false;  // close the connection after answering, without announcing it
  bool early_hints = false;  // send a "103 Early Hints" interim response first
};

struct RecordedRequest {
  std::string method;
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::size_t connection = 0;                  // 1 = the first accepted connection
  std::string server_name;                     // TLS: the SNI the client sent ("" when none)

  std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct DownstreamTls {
  bool enabled = false;
  std::string subject_alt_name = "DNS:localhost,IP:127.0.0.1";  // X509v3 SAN, config syntax
};

class Downstream {
 public:
  explicit Downstream(std::vector<ScriptedResponse> script, DownstreamTls tls = {});
  ~Downstream();
  Downstream(const Downstream&) = delete;
  Downstream& operator=(const Downstream&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port><path>" (or https://; `host` replaces 127.0.0.1, e.g. "localhost").
  std::string url(const std::string& path = "/hook", const std::string& host = "127.0.0.1") const;
  // PEM file of the self-signed certificate (TLS only).
  std::string cert_file() const { return dir_.file("downstream-cert.pem"); }

  std::vector<RecordedRequest> requests() const;
  std::size_t accepts() const { return accepts_; }

 private:
  struct Impl;
  friend struct Impl;

  ScriptedResponse next_response();
  void record(RecordedRequest request);

  TempDir dir_;
  bool tls_ = false;
  std::uint16_t port_ = 0;
  std::vector<ScriptedResponse> script_;
  std::size_t next_ = 0;  // GUARDED_BY(mutex_)
  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;  // GUARDED_BY(mutex_)
  std::atomic<std::size_t> accepts_{0};
  std::unique_ptr<Impl> impl_;  // last: stopped and destroyed first
};

}  // namespace webhook::testing
