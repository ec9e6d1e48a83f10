#pragma once
// PayloadLog: every delivery, verified or not, as one JSON line, written before the inbox.
//  1. append() formats one line and writes it with a single write(2) to an O_APPEND file.
//  2. When the file would pass max_bytes it is rotated: path -> path.1 -> ... -> path.N
//     (max_files kept in all, the oldest dropped).
//  3. The raw body is kept byte-exact: "body" as a JSON string when it is valid UTF-8,
//     otherwise "body_base64". Format documented in docs/payload-log.md.
// Thread-safe (one mutex); append() never throws (an I/O error returns false and is counted).

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webhook::storage {

struct PayloadRecord {
  std::int64_t received_at_ms = 0;
  std::string_view source;
  std::string_view request_id;
  std::string_view remote_address;
  std::string_view method;
  std::string_view target;
  // Headers that matter (content type, signature headers, forwarding headers), as received.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view verification;  // "verified" | "unverified" | "missing_signature" | ...
  std::string_view scheme;        // "header" | "body" | "none"
  std::string_view candidate;     // "raw_strip" | ... | "none"
  int key_slot = -1;
  std::string_view body;
};

// A line read back (replay, tests).
struct PayloadLine {
  std::int64_t received_at_ms = 0;
  std::string source, request_id, remote_address, method, target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string verification, scheme, candidate;
  int key_slot = -1;
  std::string body;  // raw bytes, decoded from "body" or "body_base64"
};

class PayloadLog {
 public:
  struct Options {
    std::string path;  // empty: disabled (append() returns true, writes nothing)
    std::uint64_t max_bytes = 64ull << 20;
    unsigned max_files = 10;  // files kept including the live one
  };
  // Opens (creating with mode 0600, and its directory) the file. Throws std::runtime_error with
  // the path on failure (start-up only).
  explicit PayloadLog(Options options);
  ~PayloadLog();
  PayloadLog(const PayloadLog&) = delete;
  PayloadLog& operator=(const PayloadLog&) = delete;

  bool append(const PayloadRecord& record) noexcept;
  std::uint64_t write_errors() const;

 private:
  bool rotate_locked();
  Options options_;
  mutable std::mutex mutex_;
  int fd_ = -1;               // GUARDED_BY(mutex_)
  std::uint64_t size_ = 0;    // GUARDED_BY(mutex_)
  std::uint64_t errors_ = 0;  // GUARDED_BY(mutex_)
};

// Formats one line (without the trailing newline). Pure; used by append() and tests.
std::string format_payload_line(const PayloadRecord& record);
// Parses one line; nullopt when it is not a payload-log record.
std::optional<PayloadLine> parse_payload_line(std::string_view line);

}  // namespace webhook::storage
