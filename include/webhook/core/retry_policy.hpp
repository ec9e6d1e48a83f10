#pragma once
// RetryPolicy: when a failed handler runs again (defaults: the platform's own guidance for
// callers, WEBHOOKS.md 6.3: 1 s, doubling, capped at 32 s, 5 attempts). Pure: the jitter and any
// Retry-After are arguments, so tests assert exact delays.

#include <chrono>
#include <optional>

namespace webhook::core {

struct RetryPolicy {
  std::chrono::milliseconds initial{1000};
  double multiplier = 2.0;
  std::chrono::milliseconds max{32000};
  int max_attempts = 5;  // attempts in all, the first one included

  // A jittered delay is shortened by up to this share of itself (jitter 0 = the full delay).
  static constexpr double kJitterSpread = 0.2;
  // A Retry-After from a downstream is honoured up to this long.
  static constexpr std::chrono::milliseconds kMaxRetryAfter{3'600'000};

  // The delay before the next attempt after `attempts_made` attempts (1 after the first one
  // failed), or nullopt when attempts_made >= max_attempts (give up: dead letter).
  // Computed: min(max, initial * multiplier^(attempts_made-1)) * (1 - kJitterSpread * jitter),
  // jitter in [0, 1). `retry_after`, when given, replaces the computed delay (capped at
  // kMaxRetryAfter) but never the attempt limit.
  std::optional<std::chrono::milliseconds> next_delay(
      int attempts_made, double jitter,
      std::optional<std::chrono::milliseconds> retry_after = std::nullopt) const;
};

}  // namespace webhook::core
