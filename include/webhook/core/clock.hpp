#pragma once
// Clock: time as an argument. Production code takes a Clock&; tests pass a ManualClock and move
// it by hand, so nothing waits on wall time.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace webhook::core {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix epoch milliseconds. Thread-safe.
  virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now_ms() const override { return now_.load(); }
  void advance(std::chrono::milliseconds by) { now_ += by.count(); }
  void set(std::int64_t ms) { now_ = ms; }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace webhook::core
