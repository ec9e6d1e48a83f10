#pragma once
// End-to-end helpers: the real webhook-receiver binary and a real nginx (Debian's nginx-light)
// in front of it, running the shipped docker/nginx.conf with only the host-specific lines
// rewritten (listen port, upstream address, pid and log paths, temp paths, foreground).
// Every process is started with integration/process.hpp and stopped by its PID.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "integration/process.hpp"
#include "support/temp_dir.hpp"
#include "webhook/storage/payload_log.hpp"

namespace webhook::testing {

inline constexpr const char* kNginxBinary = "/usr/sbin/nginx";

bool nginx_available();

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
std::uint16_t free_loopback_port();

// The shipped docker/nginx.conf, read from the source tree.
std::string shipped_nginx_conf();

// The test's nginx.conf: `shipped` with exactly these changes (each is required to match once,
// so a changed shipped file fails loudly instead of being tested half-rewritten):
//   `listen 80;`              -> `listen 127.0.0.1:<listen_port>;`
//   `server receiver:8080;`   -> `server 127.0.0.1:<upstream_port>;`
//   `pid ...;`                -> `<dir>/nginx.pid`
//   `access_log /dev/stdout`  -> `<dir>/nginx-access.log`, `error_log /dev/stderr` -> the file
//   + `daemon off; master_process off;` (one foreground process, stopped by its PID)
//   + *_temp_path directives into <dir> (the package's /var/lib/nginx is not ours to use)
// Throws std::runtime_error naming the directive that did not match.
std::string nginx_test_config(const std::string& shipped, std::uint16_t listen_port,
                              std::uint16_t upstream_port, const std::string& dir);

// Reads the whole file ("" when missing).
std::string slurp(const std::string& path);

// One row of the inbox, read through a read-only SQLite connection.
struct EventRow {
  long long id = 0;
  std::string source, event_type, status, body, request_id, scheme;
};
std::optional<EventRow> read_event(const std::string& db_path, long long id);
long long count_events(const std::string& db_path, const std::string& where = "1");

// The real binary: `serve --config F --port-file P`, secrets from the environment.
class ReceiverProcess {
 public:
  // `name` prefixes every file in `dir` (two receivers can share a dir). `trusted_proxies` is a
  // JSON array; `sources` a JSON array of sources (empty: the default production source).
  ReceiverProcess(const TempDir& dir, const std::string& name, const std::string& key,
                  const std::string& trusted_proxies, const std::string& sources = {});
  ~ReceiverProcess();
  ReceiverProcess(const ReceiverProcess&) = delete;
  ReceiverProcess& operator=(const ReceiverProcess&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& db_path() const { return db_path_; }
  const std::string& log_path() const { return log_path_; }
  // The lines of both payload logs (verified and, beside it, unverified), in arrival order.
  std::vector<storage::PayloadLine> payload_lines() const;
  // SIGTERM to its PID and the exit code (nullopt when it did not exit within 30 s).
  std::optional<int> stop();

 private:
  std::unique_ptr<Process> process_;
  std::string db_path_, payload_log_path_, log_path_;
  std::uint16_t port_ = 0;
};

// nginx in the foreground, one process, on a free loopback port, proxying to `upstream_port`.
class NginxProcess {
 public:
  NginxProcess(const TempDir& dir, std::uint16_t upstream_port);
  ~NginxProcess();
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& config() const { return config_; }
  std::string access_log() const { return slurp(access_log_path_); }
  std::string error_log() const { return slurp(error_log_path_); }
  // SIGTERM (fast shutdown) to its PID and the exit code (nullopt after 30 s).
  std::optional<int> stop();

 private:
  std::unique_ptr<Process> process_;
  std::string config_, access_log_path_, error_log_path_;
  std::uint16_t port_ = 0;
};

// A raw HTTP/1.1 exchange with `Connection: close`, for what HttpClient hides (repeated headers).
struct RawReply {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  std::size_t count(const std::string& lower_name) const;
  std::string first(const std::string& lower_name) const;
};
RawReply raw_request(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace webhook::testing
