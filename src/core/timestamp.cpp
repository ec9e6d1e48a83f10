// parse_iso8601_ms (include/webhook/core/timestamp.hpp).

#include "webhook/core/timestamp.hpp"

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

}  // namespace webhook::core
