#pragma once
// wait_until(): tests wait on a condition with a deadline, never on a bare sleep.
#include <chrono>
#include <thread>

namespace webhook::testing {

template <typename Predicate>
bool wait_until(Predicate&& ready, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ready();
}

}  // namespace webhook::testing
