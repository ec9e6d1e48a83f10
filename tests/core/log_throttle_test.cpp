// LogThrottle: one line per interval, with the count of the events it stands for.
#include <catch2/catch.hpp>

#include "webhook/core/log_throttle.hpp"

using std::chrono::milliseconds;
using webhook::core::LogThrottle;

TEST_CASE("the first event logs at once, later ones once per interval with their count",
          "[log_throttle]") {
  LogThrottle throttle(std::chrono::seconds(10));
  const LogThrottle::Clock::time_point t0{std::chrono::hours(1)};
  CHECK(throttle.note(t0) == 1);
  // 200 failed accepts 50 ms apart: silent until the interval has passed.
  for (int i = 1; i < 200; ++i) CHECK(throttle.note(t0 + milliseconds(50) * i) == 0);
  CHECK(throttle.note(t0 + milliseconds(10000)) == 200);
  CHECK(throttle.note(t0 + milliseconds(10001)) == 0);
  CHECK(throttle.note(t0 + milliseconds(25000)) == 2);
}
