#include "cli/replay_capture.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include "webhook/core/envelope.hpp"
#include "webhook/core/routing.hpp"
#include "webhook/core/signature.hpp"

namespace webhook::cli::replay {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

template <typename T>
bool contains(const std::vector<T>& values, const T& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// Reads exactly `n` decimal digits at `pos`; advances `pos`.
std::optional<int> digits(std::string_view text, std::size_t& pos, std::size_t n) {
  if (pos + n > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += n;
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<std::int64_t> parse_positive(std::string_view text) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || n < 1) return std::nullopt;
  return n;
}

bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The end (one past the closing quote) of the JSON string starting at `open` (a quote).
std::optional<std::size_t> string_end(std::string_view text, std::size_t open) {
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return std::nullopt;
}

}  // namespace

Verdict verdict_of(std::string_view verification) {
  if (verification.empty()) return Verdict::none;
  if (verification == "verified") return Verdict::verified;
  if (verification == "unsigned_allowed") return Verdict::unsigned_allowed;
  return Verdict::not_verified;
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::verified:
      return "verified";
    case Verdict::unsigned_allowed:
      return "unsigned_allowed";
    case Verdict::not_verified:
      return "not_verified";
    case Verdict::none:
      break;
  }
  return "none";
}

std::vector<std::string> Capture::header_values(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) values.push_back(v);
  }
  return values;
}

std::string event_type_of(const Capture& capture) {
  if (!capture.event_type.empty()) return capture.event_type;
  const auto envelope = core::parse_envelope(capture.body);
  return envelope ? envelope->event_name : std::string();
}

std::string ordering_key(const Capture& capture) {
  const auto envelope = core::parse_envelope(capture.body);
  if (envelope && !envelope->entity_id.empty()) {
    return capture.source + '\n' + std::string(core::to_string(envelope->entity_kind)) + '\n' +
           envelope->entity_id;
  }
  return capture.body;
}

bool Filter::empty() const {
  return !since_ms && !until_ms && sources.empty() && types.empty() && verifications.empty() &&
         request_ids.empty() && statuses.empty() && event_ids.empty() && !id_range;
}

bool Filter::matches(const Capture& c) const {
  if ((since_ms || until_ms) && c.received_at_ms < 0) return false;
  if (since_ms && c.received_at_ms < *since_ms) return false;
  if (until_ms && c.received_at_ms >= *until_ms) return false;
  if (!sources.empty() && !contains(sources, c.source)) return false;
  if (!verifications.empty() && !contains(verifications, c.verification)) return false;
  if (!request_ids.empty() && !contains(request_ids, c.request_id)) return false;
  if (!statuses.empty() && !contains(statuses, c.status)) return false;
  if (!event_ids.empty() && !contains(event_ids, c.event_id)) return false;
  if (id_range && (c.event_id < id_range->first || c.event_id > id_range->second)) return false;
  if (!types.empty()) {
    const std::string type = event_type_of(c);
    const bool any = std::any_of(types.begin(), types.end(), [&](const std::string& pattern) {
      return core::RouteTable::matches(pattern, type);
    });
    if (!any) return false;
  }
  return true;
}

std::optional<std::int64_t> parse_time_ms(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t ms = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return ms;
  }
  std::size_t pos = 0;
  const auto year = digits(text, pos, 4);
  if (!year || pos >= text.size() || text[pos++] != '-') return std::nullopt;
  const auto month = digits(text, pos, 2);
  if (!month || pos >= text.size() || text[pos++] != '-') return std::nullopt;
  const auto day = digits(text, pos, 2);
  if (!day || *month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
  std::int64_t ms =
      days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) * 86400000;
  if (pos == text.size()) return ms;
  if (text[pos] != 'T' && text[pos] != ' ') return std::nullopt;
  ++pos;
  const auto hour = digits(text, pos, 2);
  if (!hour || pos >= text.size() || text[pos++] != ':') return std::nullopt;
  const auto minute = digits(text, pos, 2);
  if (!minute || *hour > 23 || *minute > 59) return std::nullopt;
  ms += (*hour * 3600LL + *minute * 60LL) * 1000;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    const auto second = digits(text, pos, 2);
    if (!second || *second > 60) return std::nullopt;
    ms += *second * 1000LL;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      std::int64_t scale = 100;
      const std::size_t start = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        ms += scale * (text[pos] - '0');
        scale /= 10;
        ++pos;
      }
      if (pos == start) return std::nullopt;
    }
  }
  if (pos == text.size()) return ms;  // no zone: UTC, like the payload log's "ts"
  if (text[pos] == 'Z' || text[pos] == 'z')
    return pos + 1 == text.size() ? std::optional(ms) : std::nullopt;
  if (text[pos] != '+' && text[pos] != '-') return std::nullopt;
  const bool east = text[pos++] == '+';
  const auto zh = digits(text, pos, 2);
  if (!zh) return std::nullopt;
  if (pos < text.size() && text[pos] == ':') ++pos;
  const auto zm = digits(text, pos, 2);
  if (!zm || pos != text.size() || *zh > 23 || *zm > 59) return std::nullopt;
  const std::int64_t offset = (*zh * 60LL + *zm) * 60000;
  return east ? ms - offset : ms + offset;
}

std::optional<std::pair<std::int64_t, std::int64_t>> parse_id_range(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    const auto id = parse_positive(text);
    if (!id) return std::nullopt;
    return std::pair{*id, *id};
  }
  const std::string_view lo_text = text.substr(0, dash);
  const std::string_view hi_text = text.substr(dash + 1);
  if (lo_text.empty() && hi_text.empty()) return std::nullopt;
  std::int64_t lo = 1;
  std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  if (!lo_text.empty()) {
    const auto n = parse_positive(lo_text);
    if (!n) return std::nullopt;
    lo = *n;
  }
  if (!hi_text.empty()) {
    const auto n = parse_positive(hi_text);
    if (!n) return std::nullopt;
    hi = *n;
  }
  if (lo > hi) return std::nullopt;
  return std::pair{lo, hi};
}

std::optional<std::string> resign_body(std::string_view key, std::string_view body) {
  const auto stripped = core::raw_strip(body);
  if (stripped) {
    const std::string hex = core::sign_header(key, *stripped);
    // Try each `"signature"` whose value is a string: the top-level member is the one whose
    // replacement leaves raw_strip() unchanged (a nested or quoted one changes it).
    constexpr std::string_view kName = "\"signature\"";
    for (std::size_t at = body.find(kName); at != std::string_view::npos;
         at = body.find(kName, at + 1)) {
      std::size_t pos = at + kName.size();
      while (pos < body.size() && json_space(body[pos])) ++pos;
      if (pos >= body.size() || body[pos] != ':') continue;
      ++pos;
      while (pos < body.size() && json_space(body[pos])) ++pos;
      if (pos >= body.size() || body[pos] != '"') continue;
      const auto end = string_end(body, pos);
      if (!end) continue;
      std::string candidate;
      candidate.reserve(body.size() + hex.size());
      candidate.append(body.substr(0, pos + 1)).append(hex).push_back('"');
      candidate.append(body.substr(*end));
      if (core::raw_strip(candidate) == stripped) return candidate;
    }
  }
  // No member yet, or a value that is not a string: strip it and append a fresh one.
  return core::sign_body(key, body);
}

std::optional<Outbound> prepare_outbound(const Capture& capture, const SignPlan& plan,
                                         std::string& error) {
  Outbound out;
  const Verdict verdict = capture.verdict();
  const bool may_resign = verdict == Verdict::verified || verdict == Verdict::none;
  if (plan.scheme == ResignScheme::none || !may_resign) {
    out.body = capture.body;
    out.signature_headers = capture.header_values(core::kSignatureHeader);
    out.signing =
        plan.scheme == ResignScheme::none
            ? std::string("original")
            : "as captured (" + std::string(to_string(verdict)) + " in the source, not re-signed)";
    return out;
  }
  out.resigned = true;
  if (plan.scheme == ResignScheme::header) {
    out.body = capture.body;
    out.signature_headers.push_back(core::sign_header(plan.secret, capture.body));
    out.signing = "re-signed header";
    return out;
  }
  auto signed_body = resign_body(plan.secret, capture.body);
  if (!signed_body) {
    error =
        "cannot re-sign under the body scheme: the body is not a JSON object or has several "
        "top-level \"signature\" members";
    return std::nullopt;
  }
  out.body = std::move(*signed_body);
  out.signing = "re-signed body";
  return out;
}

}  // namespace webhook::cli::replay
