#pragma once
// PayloadLog: every delivery, verified or not, as one JSON line, written before the inbox.
//  1. append() formats one line and writes it with a single write(2) to an O_APPEND file:
//     deliveries the inbox takes (verified, or unsigned where the source allows it) to `path`,
//     every other one to `unverified_path`, with its own size budget and the body cut to an
//     excerpt, so no unauthenticated client can rotate verified captures away.
//     The service writes the verified lines in batches instead: the request thread formats
//     (verified_line()), the writer thread writes a whole commit batch with one write(2)
//     (append_verified()) just before the batch's transaction.
//  2. When a file would pass its max_bytes it is rotated: path -> path.1 -> ... -> path.N
//     (max_files kept in all, the oldest dropped).
//  3. The raw body is kept byte-exact: "body" as a JSON string when it is valid UTF-8,
//     otherwise "body_base64". Format documented in docs/payload-log.md.
//  4. A failed write is counted (write_errors(), the observer), logged (the first of a run, then
//     at most one line per error_log_interval, and the recovery) and reported by problem()
//     until a write to that file succeeds again. The delivery itself still proceeds: the inbox
//     holds the raw body too.
// Thread-safe (one mutex per file); append() never throws.
// The file handling is in payload_log_files.cpp; the line format in payload_log.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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
  // Set when the line holds only an excerpt of the body (unverified log): its full length.
  std::optional<std::uint64_t> truncated_from_bytes;
};

// True for the verification results whose deliveries the inbox takes ("verified",
// "unsigned_allowed"): they go to the payload log proper; every other result is unverified.
bool goes_to_inbox(std::string_view verification);

// The default unverified log beside `path`: "x/payloads.jsonl" -> "x/payloads.unverified.jsonl",
// any other name gets ".unverified" appended; "" for "" (no payload log, no unverified log).
// Inline: config validation names it without linking the storage module.
inline std::string default_unverified_path(const std::string& path) {
  constexpr std::string_view kJsonl = ".jsonl";
  if (path.empty()) return {};
  if (path.size() > kJsonl.size() && path.ends_with(kJsonl)) {
    return path.substr(0, path.size() - kJsonl.size()) + ".unverified" + std::string(kJsonl);
  }
  return path + ".unverified";
}

class PayloadLog {
 public:
  struct Options {
    std::string path;  // empty: disabled (append() returns true, writes nothing)
    std::uint64_t max_bytes = 64ull << 20;
    unsigned max_files = 10;  // files kept including the live one
    // Deliveries that did not verify. Empty: not written (counted by the caller's metrics only).
    std::string unverified_path;
    std::uint64_t unverified_max_bytes = 16ull << 20;
    unsigned unverified_max_files = 2;
    std::size_t unverified_body_bytes = 4096;  // the body excerpt kept per unverified line
    std::chrono::milliseconds error_log_interval{60000};
    // The clock of the log throttle; empty: std::chrono::steady_clock (tests inject one).
    std::function<std::chrono::steady_clock::time_point()> now;
  };
  // Called on the appending thread for each failed write or rotation, with "verified" or
  // "unverified" (which log); must be cheap and not throw (a metrics counter).
  using ErrorObserver = std::function<void(std::string_view log)>;

  // Opens (creating with mode 0600, and their directory) the files. Throws std::runtime_error
  // with the path on failure (start-up only).
  explicit PayloadLog(Options options, ErrorObserver on_error = {});
  ~PayloadLog();
  PayloadLog(const PayloadLog&) = delete;
  PayloadLog& operator=(const PayloadLog&) = delete;

  // Writes the record to the file its verification result selects; false when that failed.
  bool append(const PayloadRecord& record) noexcept;
  // The verified log's line for `record` (ending in '\n'), or "" when that log is off.
  std::string verified_line(const PayloadRecord& record) const;
  // Writes `lines` (whole lines, each ending in '\n') to the verified log with one write(2);
  // true when written (or the log is off). Never throws.
  bool append_verified(std::string_view lines) noexcept;
  // Failed writes and rotations since start, both files.
  std::uint64_t write_errors() const;
  // For /readyz: "" while the last write to each file succeeded, otherwise
  // "payload log: cannot write <path>: <reason> (<n> writes failed)".
  std::string problem() const;

  class File;  // one rotated file with its budget and failure state (payload_log_files.cpp)

 private:
  ErrorObserver on_error_;
  std::unique_ptr<File> verified_;
  std::unique_ptr<File> unverified_;
  std::size_t unverified_body_bytes_;
};

// Formats one line (without the trailing newline). Pure; used by append() and tests. A body
// longer than `max_body_bytes` is cut to that many bytes and the line gains "body_truncated":
// true, "body_bytes" (the full length) and "body_sha256" (hex, of the full body).
std::string format_payload_line(const PayloadRecord& record,
                                std::size_t max_body_bytes = static_cast<std::size_t>(-1));
// Parses one line; nullopt when it is not a payload-log record.
std::optional<PayloadLine> parse_payload_line(std::string_view line);

}  // namespace webhook::storage
