// RetryPolicy::next_delay(): exponential backoff with a cap, computed in double so that a large
// attempt count or multiplier saturates at `max` instead of overflowing.

#include "webhook/core/retry_policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace webhook::core {
namespace {

using std::chrono::milliseconds;

// `value` rounded to whole milliseconds, within [0, cap]; a NaN or infinity gives `cap`.
milliseconds clamp_ms(double value, milliseconds cap) {
  if (!(value < static_cast<double>(cap.count()))) return cap;
  if (value <= 0.0) return milliseconds{0};
  return milliseconds{std::llround(value)};
}

}  // namespace

std::optional<milliseconds> RetryPolicy::next_delay(int attempts_made, double jitter,
                                                    std::optional<milliseconds> retry_after) const {
  if (attempts_made >= max_attempts) return std::nullopt;
  if (retry_after) return std::clamp(*retry_after, milliseconds{0}, kMaxRetryAfter);

  const milliseconds cap = std::max(max, milliseconds{0});
  // initial * multiplier^(attempts_made - 1); pow() saturates to infinity, clamp_ms() to cap.
  const int exponent = std::max(attempts_made - 1, 0);
  const double backoff =
      static_cast<double>(initial.count()) * std::pow(multiplier, static_cast<double>(exponent));
  const milliseconds capped = clamp_ms(backoff, cap);

  // Out-of-range jitter (NaN included) counts as the nearest end of [0, 1).
  const double share = jitter > 0.0 ? std::min(jitter, 1.0) : 0.0;
  if (share == 0.0) return capped;
  return clamp_ms(static_cast<double>(capped.count()) * (1.0 - kJitterSpread * share), capped);
}

}  // namespace webhook::core
