// PayloadLog and its line format (docs/payload-log.md is the reader's version of this contract).
//
// One line = one compact JSON object, members in this order:
//   "ts"              ISO-8601 UTC with milliseconds, derived from received_at_ms
//                     ("2026-11-28T18:22:29.123Z"; clamped to years 1970..9999); ignored on parse
//   "received_at_ms"  integer, Unix epoch milliseconds
//   "source", "request_id", "remote", "method", "target"   strings
//   "headers"         array of [name, value] string pairs in received order (repeats kept);
//                     a pair whose name or value is not valid UTF-8 is [base64(name),
//                     base64(value), "base64"]
//   "verification", "scheme", "candidate"                   strings
//   "key_slot"        integer, -1 when no key matched
//   "body"            the raw body as a JSON string when it is valid UTF-8, otherwise
//   "body_base64"     the raw body in standard base64 with padding
// Any other text member that is not valid UTF-8 is written as "<name>_base64" the same way, so
// every byte sequence survives a format/parse round trip. Strings are written by
// rapidjson::Writer: only '"', '\\' and U+0000..U+001F are escaped; other bytes are copied.

#include "webhook/storage/payload_log.hpp"

#include "webhook/core/text.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace webhook::storage {
namespace {

using core::base64_decode;
using core::base64_encode;
using core::is_valid_utf8;

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// ---- UTF-8 and base64 ------------------------------------------------------------------------

// ---- writing ----------------------------------------------------------------------------------

void append_padded(std::string& out, long long value, int width) {
  std::string digits = std::to_string(value);
  if (digits.size() < static_cast<std::size_t>(width)) {
    out.append(static_cast<std::size_t>(width) - digits.size(), '0');
  }
  out += digits;
}

// "YYYY-MM-DDTHH:MM:SS.mmmZ" for Unix epoch milliseconds (clamped to 1970..9999).
std::string format_utc_millis(std::int64_t epoch_ms) {
  using namespace std::chrono;
  constexpr std::int64_t kMaxMs = 253402300799999;  // 9999-12-31T23:59:59.999Z
  const sys_time<milliseconds> tp{milliseconds{std::clamp<std::int64_t>(epoch_ms, 0, kMaxMs)}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{tp - day};
  std::string out;
  out.reserve(24);
  append_padded(out, static_cast<int>(ymd.year()), 4);
  out += '-';
  append_padded(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  append_padded(out, static_cast<unsigned>(ymd.day()), 2);
  out += 'T';
  append_padded(out, hms.hours().count(), 2);
  out += ':';
  append_padded(out, hms.minutes().count(), 2);
  out += ':';
  append_padded(out, hms.seconds().count(), 2);
  out += '.';
  append_padded(out, hms.subseconds().count(), 3);
  out += 'Z';
  return out;
}

// Precondition: every string is shorter than 4 GiB (RapidJSON's SizeType); throws
// std::length_error otherwise (bodies are capped far below that by the listener).
rapidjson::SizeType json_size(std::string_view s) {
  if (s.size() > std::numeric_limits<rapidjson::SizeType>::max()) {
    throw std::length_error("payload_log: field too long");
  }
  return static_cast<rapidjson::SizeType>(s.size());
}

void write_string(JsonWriter& w, std::string_view s) { w.String(s.data(), json_size(s)); }

// "name": value as a JSON string when it is valid UTF-8, else "name_base64": base64(value).
void write_text_member(JsonWriter& w, std::string_view name, std::string_view value) {
  if (is_valid_utf8(value)) {
    write_string(w, name);
    write_string(w, value);
  } else {
    const std::string key = std::string(name) + "_base64";
    write_string(w, key);
    write_string(w, base64_encode(value));
  }
}

void write_header(JsonWriter& w, std::string_view name, std::string_view value) {
  w.StartArray();
  if (is_valid_utf8(name) && is_valid_utf8(value)) {
    write_string(w, name);
    write_string(w, value);
  } else {
    write_string(w, base64_encode(name));
    write_string(w, base64_encode(value));
    write_string(w, "base64");
  }
  w.EndArray();
}

// ---- reading ----------------------------------------------------------------------------------

using Value = rapidjson::Value;

std::string string_of(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// Reads "name" or "name_base64" into `out` (absent: left empty). False when present but not a
// string, or not valid base64.
bool read_text_member(const Value& object, const std::string& name, std::string& out) {
  if (const auto it = object.FindMember(name.c_str()); it != object.MemberEnd()) {
    if (!it->value.IsString()) return false;
    out = string_of(it->value);
    return true;
  }
  const std::string b64 = name + "_base64";
  if (const auto it = object.FindMember(b64.c_str()); it != object.MemberEnd()) {
    if (!it->value.IsString()) return false;
    auto decoded = base64_decode(string_of(it->value));
    if (!decoded) return false;
    out = std::move(*decoded);
  }
  return true;
}

bool read_headers(const Value& object, std::vector<std::pair<std::string, std::string>>& out) {
  const auto it = object.FindMember("headers");
  if (it == object.MemberEnd()) return true;
  if (!it->value.IsArray()) return false;
  for (const Value& pair : it->value.GetArray()) {
    if (!pair.IsArray() || pair.Size() < 2 || pair.Size() > 3) return false;
    if (!pair[0].IsString() || !pair[1].IsString()) return false;
    if (pair.Size() == 2) {
      out.emplace_back(string_of(pair[0]), string_of(pair[1]));
      continue;
    }
    if (!pair[2].IsString() || string_of(pair[2]) != "base64") return false;
    auto name = base64_decode(string_of(pair[0]));
    auto value = base64_decode(string_of(pair[1]));
    if (!name || !value) return false;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return true;
}

// ---- files ------------------------------------------------------------------------------------

int open_log_file(const std::string& path) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

std::uint64_t file_size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 0) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

std::string errno_text() { return std::error_code(errno, std::generic_category()).message(); }

}  // namespace

std::string format_payload_line(const PayloadRecord& record) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  write_string(w, "ts");
  write_string(w, format_utc_millis(record.received_at_ms));
  write_string(w, "received_at_ms");
  w.Int64(record.received_at_ms);
  write_text_member(w, "source", record.source);
  write_text_member(w, "request_id", record.request_id);
  write_text_member(w, "remote", record.remote_address);
  write_text_member(w, "method", record.method);
  write_text_member(w, "target", record.target);
  write_string(w, "headers");
  w.StartArray();
  for (const auto& [name, value] : record.headers) write_header(w, name, value);
  w.EndArray();
  write_text_member(w, "verification", record.verification);
  write_text_member(w, "scheme", record.scheme);
  write_text_member(w, "candidate", record.candidate);
  write_string(w, "key_slot");
  w.Int(record.key_slot);
  write_text_member(w, "body", record.body);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<PayloadLine> parse_payload_line(std::string_view line) {
  if (line.find('\0') != std::string_view::npos) return std::nullopt;  // never in a valid line
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;

  PayloadLine out;
  const auto at = doc.FindMember("received_at_ms");
  if (at == doc.MemberEnd() || !at->value.IsInt64()) return std::nullopt;
  out.received_at_ms = at->value.GetInt64();
  if (!doc.HasMember("body") && !doc.HasMember("body_base64")) return std::nullopt;

  const bool texts_ok = read_text_member(doc, "source", out.source) &&
                        read_text_member(doc, "request_id", out.request_id) &&
                        read_text_member(doc, "remote", out.remote_address) &&
                        read_text_member(doc, "method", out.method) &&
                        read_text_member(doc, "target", out.target) &&
                        read_text_member(doc, "verification", out.verification) &&
                        read_text_member(doc, "scheme", out.scheme) &&
                        read_text_member(doc, "candidate", out.candidate) &&
                        read_text_member(doc, "body", out.body) && read_headers(doc, out.headers);
  if (!texts_ok) return std::nullopt;

  if (const auto slot = doc.FindMember("key_slot"); slot != doc.MemberEnd()) {
    if (!slot->value.IsInt()) return std::nullopt;
    out.key_slot = slot->value.GetInt();
  }
  return out;
}

// ---- PayloadLog ---------------------------------------------------------------------------------

PayloadLog::PayloadLog(Options options) : options_(std::move(options)) {
  if (options_.max_files == 0) options_.max_files = 1;
  if (options_.path.empty()) return;

  const std::filesystem::path file(options_.path);
  const std::filesystem::path parent = file.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw std::runtime_error("payload_log: cannot create directory " + parent.string() + ": " +
                               ec.message());
    }
    // A directory we create holds payloads only its owner should read.
    std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
  }
  fd_ = open_log_file(options_.path);
  if (fd_ < 0)
    throw std::runtime_error("payload_log: cannot open " + options_.path + ": " + errno_text());
  size_ = file_size(fd_);
}

PayloadLog::~PayloadLog() {
  if (fd_ >= 0) ::close(fd_);
}

bool PayloadLog::append(const PayloadRecord& record) noexcept {
  try {
    if (options_.path.empty()) return true;
    std::string line = format_payload_line(record);
    line += '\n';

    std::lock_guard lock(mutex_);
    // Rotate when this line would take a non-empty file past max_bytes (0: never rotate). A
    // failed rotation is counted, and the line still goes to whatever file is open.
    if (fd_ >= 0 && options_.max_bytes > 0 && size_ > 0 &&
        size_ + line.size() > options_.max_bytes) {
      if (!rotate_locked()) ++errors_;
    }
    if (fd_ < 0) {  // a previous rotation could not reopen the file: try again
      fd_ = open_log_file(options_.path);
      if (fd_ < 0) {
        ++errors_;
        return false;
      }
      size_ = file_size(fd_);
    }

    std::size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // Cut a partial line back off so the file stays whole lines (best effort).
        if (done > 0) (void)::ftruncate(fd_, static_cast<off_t>(size_));
        ++errors_;
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    size_ += line.size();
    return true;
  } catch (...) {
    try {
      std::lock_guard lock(mutex_);
      ++errors_;
    } catch (...) {
    }
    return false;
  }
}

std::uint64_t PayloadLog::write_errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

// path -> path.1 -> ... -> path.(max_files-1); rename() over the last one drops the oldest.
// max_files == 1: the live file is truncated instead. Returns false on any failure; fd_ is then
// either still the live file (nothing moved) or -1 (append() reopens).
bool PayloadLog::rotate_locked() {
  if (options_.max_files <= 1) {
    if (::ftruncate(fd_, 0) != 0) return false;
    size_ = 0;
    return true;
  }
  const auto numbered = [this](unsigned i) { return options_.path + "." + std::to_string(i); };
  for (unsigned i = options_.max_files - 1; i > 1; --i) {
    if (::rename(numbered(i - 1).c_str(), numbered(i).c_str()) != 0 && errno != ENOENT)
      return false;
  }
  if (::rename(options_.path.c_str(), numbered(1).c_str()) != 0) return false;
  ::close(fd_);
  fd_ = open_log_file(options_.path);
  if (fd_ < 0) return false;
  size_ = file_size(fd_);
  return true;
}

}  // namespace webhook::storage
