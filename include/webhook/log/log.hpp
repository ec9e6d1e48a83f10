#pragma once
// Logging facade over spdlog: text or JSON lines on stdout, with the request's context fields.
//  1. configure() once at start-up (format, level); before it, text at info.
//  2. info()/warn()/... take a message and the Fields known at that point; empty fields are
//     left out. Text: "msg key=value ..."; JSON: {"ts","level","msg",fields...}.
//  3. Never throws; never pass secrets or payload bodies.
// It is its own small library (not part of app) so storage and http can log without seeing app.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace webhook::log {

enum class Format { text, json };
enum class Level { trace, debug, info, warn, error, off };

struct Fields {
  std::string_view request_id;
  std::string_view source;
  std::string_view event_type;
  std::string_view entity_id;
  std::int64_t event_id = 0;  // 0: absent
  std::string_view remote;
  std::string_view result;  // accepted, duplicate, invalid_signature, ...
  std::string_view detail;  // free-form extra (scheme, candidate, key slot, error text)
};

// Throws std::invalid_argument for an unknown name (config validation catches it first).
Format parse_format(std::string_view name);
Level parse_level(std::string_view name);

void configure(Format format, Level level);
bool enabled(Level level);

void write(Level level, std::string_view message, const Fields& fields = {}) noexcept;
inline void trace(std::string_view m, const Fields& f = {}) noexcept { write(Level::trace, m, f); }
inline void debug(std::string_view m, const Fields& f = {}) noexcept { write(Level::debug, m, f); }
inline void info(std::string_view m, const Fields& f = {}) noexcept { write(Level::info, m, f); }
inline void warn(std::string_view m, const Fields& f = {}) noexcept { write(Level::warn, m, f); }
inline void error(std::string_view m, const Fields& f = {}) noexcept { write(Level::error, m, f); }

// Pure formatting, exposed for tests (no timestamp or level in text; JSON includes both).
std::string format_text(std::string_view message, const Fields& fields);
std::string format_json(std::string_view level, std::string_view ts, std::string_view message,
                        const Fields& fields);
// UTC ISO-8601 with milliseconds for a Unix time in ms: "2026-05-03T13:58:02.123Z".
std::string format_timestamp(std::int64_t unix_ms);
// The lower-case level name used in both formats ("info"; "off" for Level::off).
std::string_view to_string(Level level);

// Tests: every whole line (without the newline) goes to `sink` instead of stdout, from the
// writing thread; an empty function restores stdout. Thread-safe; `sink` must be thread-safe.
using LineSink = std::function<void(std::string_view line)>;
void set_line_sink(LineSink sink);

}  // namespace webhook::log
