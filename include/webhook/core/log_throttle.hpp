#pragma once
// LogThrottle: at most one log line per interval for an event that can repeat thousands of times
// a second (failed accepts, shed connections, failed payload-log writes), with the number of
// events the line stands for. Time is an argument. Not thread-safe: its owner serialises calls.

#include <chrono>
#include <cstdint>

namespace webhook::core {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

  // Records one event at `now`. Returns 0 when no line is due, else the number of events since
  // the previous line, this one included: the first event logs at once, later ones at most once
  // per interval.
  std::uint64_t note(Clock::time_point now) {
    ++pending_;
    if (logged_once_ && now < next_) return 0;
    logged_once_ = true;
    next_ = now + interval_;
    const std::uint64_t n = pending_;
    pending_ = 0;
    return n;
  }

 private:
  Clock::duration interval_;
  Clock::time_point next_{};
  bool logged_once_ = false;
  std::uint64_t pending_ = 0;
};

}  // namespace webhook::core
