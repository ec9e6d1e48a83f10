#pragma once
// Shared by the libFuzzer targets of tests/fuzz: the input as text, and the one way a target
// reports a broken invariant (a message on stderr, then __builtin_trap so libFuzzer keeps the
// input as a crash artifact).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace webhook::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void violated(const char* invariant) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", invariant);
  __builtin_trap();
}

inline void check(bool holds, const char* invariant) {
  if (!holds) violated(invariant);
}

}  // namespace webhook::fuzz
