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
//   "body_truncated", "body_bytes", "body_sha256"   only when "body" holds an excerpt (the
//                     unverified log): true, the full length, hex SHA-256 of the full body
// Any other text member that is not valid UTF-8 is written as "<name>_base64" the same way, so
// every byte sequence survives a format/parse round trip. Strings are written by
// rapidjson::Writer: only '"', '\\' and U+0000..U+001F are escaped; other bytes are copied.

#include "webhook/storage/payload_log.hpp"

#include "webhook/core/signature.hpp"
#include "webhook/core/text.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>

namespace webhook::storage {
namespace {

using core::base64_decode;
using core::base64_encode;
using core::is_valid_utf8;

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

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

}  // namespace

std::string format_payload_line(const PayloadRecord& record, std::size_t max_body_bytes) {
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
  const bool truncated = record.body.size() > max_body_bytes;
  write_text_member(w, "body", truncated ? record.body.substr(0, max_body_bytes) : record.body);
  if (truncated) {
    write_string(w, "body_truncated");
    w.Bool(true);
    write_string(w, "body_bytes");
    w.Uint64(record.body.size());
    write_string(w, "body_sha256");
    write_string(w, core::to_hex(core::sha256(record.body)));
  }
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

  if (const auto cut = doc.FindMember("body_truncated");
      cut != doc.MemberEnd() && cut->value.IsBool() && cut->value.GetBool()) {
    const auto full = doc.FindMember("body_bytes");
    if (full == doc.MemberEnd() || !full->value.IsUint64()) return std::nullopt;
    out.truncated_from_bytes = full->value.GetUint64();
  }
  if (const auto slot = doc.FindMember("key_slot"); slot != doc.MemberEnd()) {
    if (!slot->value.IsInt()) return std::nullopt;
    out.key_slot = slot->value.GetInt();
  }
  return out;
}

}  // namespace webhook::storage
