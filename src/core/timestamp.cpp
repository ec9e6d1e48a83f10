// parse_iso8601_ms (include/webhook/core/timestamp.hpp).

#include "webhook/core/timestamp.hpp"

#include <charconv>
#include <chrono>

namespace webhook::core {
namespace {

constexpr std::int64_t kSecondMs = 1000;
constexpr std::int64_t kMinuteMs = 60 * kSecondMs;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;
constexpr std::int64_t kDayMs = 24 * kHourMs;

// `n` decimal digits at s[pos], or nullopt.
std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

}  // namespace

std::string duration_label(std::int64_t ms) {
  if (ms > 0 && ms % kHourMs == 0) return std::to_string(ms / kHourMs) + "h";
  if (ms > 0 && ms % kMinuteMs == 0) return std::to_string(ms / kMinuteMs) + "m";
  if (ms > 0 && ms % kSecondMs == 0) return std::to_string(ms / kSecondMs) + "s";
  return std::to_string(ms) + "ms";
}

std::optional<std::int64_t> parse_iso8601_ms(std::string_view s) {
  const auto y = digits(s, 0, 4);
  const auto mo = digits(s, 5, 2);
  const auto d = digits(s, 8, 2);
  if (!y || !mo || !d || s[4] != '-' || s[7] != '-') return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{*y},
                                         std::chrono::month{static_cast<unsigned>(*mo)},
                                         std::chrono::day{static_cast<unsigned>(*d)}};
  if (!date.ok()) return std::nullopt;
  std::int64_t ms =
      static_cast<std::int64_t>(std::chrono::sys_days(date).time_since_epoch().count()) * kDayMs;
  if (s.size() == 10) return ms;

  const auto h = digits(s, 11, 2);
  const auto mi = digits(s, 14, 2);
  const auto sec = digits(s, 17, 2);
  if (s[10] != 'T' || !h || !mi || !sec || s[13] != ':' || s[16] != ':' || *h > 23 || *mi > 59 ||
      *sec > 59) {
    return std::nullopt;
  }
  ms += *h * kHourMs + *mi * kMinuteMs + *sec * kSecondMs;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    const std::size_t first = ++pos;
    std::int64_t fraction_ms = 0;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos) {
      if (pos - first < 3) fraction_ms = fraction_ms * 10 + (s[pos] - '0');
    }
    const std::size_t count = pos - first;
    if (count == 0 || count > 9) return std::nullopt;
    for (std::size_t i = count; i < 3; ++i) fraction_ms *= 10;
    ms += fraction_ms;
  }
  if (pos + 1 == s.size() && s[pos] == 'Z') return ms;
  // A numeric offset: local time = UTC + offset, so UTC = local - offset.
  if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    const auto oh = digits(s, pos + 1, 2);
    const auto om = digits(s, pos + 4, 2);
    if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
    const std::int64_t offset = *oh * kHourMs + *om * kMinuteMs;
    return s[pos] == '+' ? ms - offset : ms + offset;
  }
  return std::nullopt;
}

std::optional<std::int64_t> parse_duration_ms(std::string_view text) {
  constexpr std::int64_t kSecond = 1000;
  constexpr std::int64_t kDay = 86'400 * kSecond;
  constexpr std::int64_t kMax = 36'500 * kDay;  // 100 years
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = kSecond;
      break;
    case 'm':
      unit = 60 * kSecond;
      break;
    case 'h':
      unit = 3'600 * kSecond;
      break;
    case 'd':
      unit = kDay;
      break;
    case 'w':
      unit = 7 * kDay;
      break;
    default:
      return std::nullopt;
  }
  const std::string_view number = text.substr(0, text.size() - 1);
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc{} || end != number.data() + number.size() || n < 0 || n > kMax / unit) {
    return std::nullopt;
  }
  return n * unit;
}

std::optional<std::int64_t> parse_time_ms(std::string_view text, std::int64_t now_ms) {
  if (const auto iso = parse_iso8601_ms(text)) return iso;
  const bool looks_like_duration = !text.empty() && text.front() >= '0' && text.front() <= '9' &&
                                   text.back() >= 'a' && text.back() <= 'z';
  if (!looks_like_duration || text.find('-') != std::string_view::npos) return std::nullopt;
  const auto age = parse_duration_ms(text);
  if (!age) return std::nullopt;
  return now_ms - *age;
}

}  // namespace webhook::core
