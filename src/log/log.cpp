// Logging facade (include/webhook/log/log.hpp): we build each whole line ourselves and hand it to
// one spdlog logger with an ostream sink on std::cout and pattern "%v", so spdlog only adds the
// newline, the locking and the flush. Level and format are atomics: enabled() is one relaxed load.
//   text: "<ts> <level> <message> key=value ..."   (values with spaces, quotes, '=' quoted)
//   json: {"ts":"...Z","level":"info","msg":"...",<non-empty fields>}
// Strings are made valid UTF-8 (invalid bytes become U+FFFD) and control characters escaped,
// so every entry is exactly one line whatever a remote party put in a field.

#include "webhook/log/log.hpp"

#include "webhook/core/text.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace webhook::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::text};
std::atomic<bool> g_has_sink{false};  // fast path: no test sink, no lock

// How long a line may sit in stdout's buffer before the flusher writes it out.
constexpr auto kFlushInterval = std::chrono::milliseconds(200);

struct Output {
  std::shared_ptr<spdlog::logger> logger;
  std::mutex sink_mutex;
  LineSink sink;                       // guarded by sink_mutex
  std::atomic<bool> unflushed{false};  // a line below warn was written since the last flush
};

// Created on first use and never destroyed, so logging from static destructors stays safe.
Output& output() {
  static Output* out = [] {
    auto* o = new Output;
    // An ostream sink without forced flushes: lines collect in stdout's buffer (spdlog's
    // stdout sink flushes every line, one write(2) each).
    o->logger = std::make_shared<spdlog::logger>(
        "webhook-receiver", std::make_shared<spdlog::sinks::ostream_sink_mt>(std::cout, false));
    o->logger->set_pattern("%v");
    o->logger->set_level(spdlog::level::trace);  // filtering is ours (enabled())
    // Warnings and errors are flushed at once; other lines collect in stdout's buffer and a
    // background thread flushes them every kFlushInterval, so a busy receiver does not pay a
    // write(2) per line, and `docker logs` still lags by 0.2 s at most. Normal exit flushes
    // stdio; a kill -9 can lose the last 0.2 s of info lines (the payload log and the database
    // are the durable record).
    o->logger->flush_on(spdlog::level::warn);
    std::thread([o] {
      for (;;) {
        std::this_thread::sleep_for(kFlushInterval);
        if (o->unflushed.exchange(false, std::memory_order_acq_rel)) o->logger->flush();
      }
    }).detach();
    return o;
  }();
  return *out;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::trace:
      return spdlog::level::trace;
    case Level::debug:
      return spdlog::level::debug;
    case Level::info:
      return spdlog::level::info;
    case Level::warn:
      return spdlog::level::warn;
    case Level::error:
      return spdlog::level::err;
    case Level::off:
      break;
  }
  return spdlog::level::off;
}

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = core::utf8_sequence_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

bool is_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

void append_escaped_control(std::string& out, char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  char hex[8];
  std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
  out += hex;
}

// Text message: control characters escaped, nothing quoted.
void append_text_message(std::string& out, std::string_view message) {
  for (char c : valid_utf8(message)) {
    if (is_control(c)) {
      append_escaped_control(out, c);
    } else {
      out += c;
    }
  }
}

// Text value: bare when safe, otherwise quoted with \" \\ and control characters escaped.
void append_text_value(std::string& out, std::string_view raw) {
  std::string value = valid_utf8(raw);
  bool quote = value.find_first_of(" \"=\\") != std::string::npos ||
               std::any_of(value.begin(), value.end(), is_control);
  if (!quote) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (is_control(c)) {
      append_escaped_control(out, c);
    } else {
      out += c;
    }
  }
  out += '"';
}

// Visits the present fields in their fixed order.
template <typename Visit>
void for_each_field(const Fields& f, Visit&& visit) {
  const std::pair<std::string_view, std::string_view> before_id[] = {{"request_id", f.request_id},
                                                                     {"source", f.source},
                                                                     {"event_type", f.event_type},
                                                                     {"entity_id", f.entity_id}};
  for (const auto& [key, value] : before_id)
    if (!value.empty()) visit(key, value, std::int64_t{0});
  if (f.event_id != 0) visit(std::string_view("event_id"), std::string_view(), f.event_id);
  const std::pair<std::string_view, std::string_view> after_id[] = {
      {"remote", f.remote}, {"result", f.result}, {"detail", f.detail}};
  for (const auto& [key, value] : after_id)
    if (!value.empty()) visit(key, value, std::int64_t{0});
}

std::int64_t now_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

Format parse_format(std::string_view name) {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  throw std::invalid_argument("unknown log format \"" + std::string(name) +
                              "\" (expected text or json)");
}

Level parse_level(std::string_view name) {
  for (Level level : {Level::trace, Level::debug, Level::info, Level::warn, Level::error})
    if (name == to_string(level)) return level;
  throw std::invalid_argument("unknown log level \"" + std::string(name) +
                              "\" (expected trace, debug, info, warn or error)");
}

std::string_view to_string(Level level) {
  switch (level) {
    case Level::trace:
      return "trace";
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
    case Level::off:
      break;
  }
  return "off";
}

void configure(Format format, Level level) {
  g_format.store(format, std::memory_order_relaxed);
  g_level.store(level, std::memory_order_relaxed);
}

bool enabled(Level level) {
  Level threshold = g_level.load(std::memory_order_relaxed);
  return level != Level::off && threshold != Level::off && level >= threshold;
}

std::string format_text(std::string_view message, const Fields& fields) {
  std::string out;
  append_text_message(out, message);
  for_each_field(fields, [&](std::string_view key, std::string_view value, std::int64_t id) {
    out += ' ';
    out += key;
    out += '=';
    if (id != 0) {
      out += std::to_string(id);
    } else {
      append_text_value(out, value);
    }
  });
  return out;
}

std::string format_json(std::string_view level, std::string_view ts, std::string_view message,
                        const Fields& fields) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  auto string = [&](std::string_view text) {
    std::string valid = valid_utf8(text);
    writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
  };
  writer.StartObject();
  writer.Key("ts");
  string(ts);
  writer.Key("level");
  string(level);
  writer.Key("msg");
  string(message);
  for_each_field(fields, [&](std::string_view key, std::string_view value, std::int64_t id) {
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    if (id != 0) {
      writer.Int64(id);
    } else {
      string(value);
    }
  });
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string format_timestamp(std::int64_t unix_ms) {
  std::int64_t seconds = unix_ms / 1000;
  std::int64_t millis = unix_ms % 1000;
  if (millis < 0) {  // floor for times before 1970
    millis += 1000;
    seconds -= 1;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];  // wide enough for any int fields (keeps -Wformat-truncation quiet)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

void set_line_sink(LineSink sink) {
  Output& out = output();
  std::lock_guard lock(out.sink_mutex);
  g_has_sink.store(static_cast<bool>(sink), std::memory_order_release);
  out.sink = std::move(sink);
}

void write(Level level, std::string_view message, const Fields& fields) noexcept {
  try {
    if (!enabled(level)) return;
    std::string ts = format_timestamp(now_unix_ms());
    std::string line;
    if (g_format.load(std::memory_order_relaxed) == Format::json) {
      line = format_json(to_string(level), ts, message, fields);
    } else {
      line = ts;
      line += ' ';
      line += to_string(level);
      line += ' ';
      line += format_text(message, fields);
    }
    Output& out = output();
    if (g_has_sink.load(std::memory_order_acquire)) {
      std::lock_guard lock(out.sink_mutex);
      if (out.sink) {
        out.sink(line);
        return;
      }
    }
    out.logger->log(to_spdlog(level), spdlog::string_view_t(line.data(), line.size()));
    if (level < Level::warn) out.unflushed.store(true, std::memory_order_release);
  } catch (...) {
    // Logging never throws; a line that cannot be built or written is dropped.
  }
}

}  // namespace webhook::log
