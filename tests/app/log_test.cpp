// Tests include/webhook/log/log.hpp: the text and JSON line formats, escaping, level names, and
// write() through a test line sink.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "webhook/log/log.hpp"

namespace wlog = webhook::log;
using Catch::Matchers::Contains;

namespace {

rapidjson::Document parse_json(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.c_str(), line.size());
  INFO(line);
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

std::string member(const rapidjson::Document& doc, const char* name) {
  REQUIRE(doc.HasMember(name));
  REQUIRE(doc[name].IsString());
  return {doc[name].GetString(), doc[name].GetStringLength()};
}

wlog::Fields all_fields() {
  wlog::Fields f;
  f.request_id = "req-1";
  f.source = "production";
  f.event_type = "payment.settled";
  f.entity_id = "65f1a0c2";
  f.event_id = 42;
  f.remote = "10.0.0.7";
  f.result = "accepted";
  f.detail = "scheme=header";
  return f;
}

// Captures write() output for the duration of a test; restores stdout and text/info after.
struct CapturedLines {
  CapturedLines() {
    wlog::set_line_sink([this](std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    });
  }
  ~CapturedLines() {
    wlog::set_line_sink({});
    wlog::configure(wlog::Format::text, wlog::Level::info);
  }
  CapturedLines(const CapturedLines&) = delete;
  CapturedLines& operator=(const CapturedLines&) = delete;
  std::mutex mutex;
  std::vector<std::string> lines;
};

}  // namespace

TEST_CASE("text format is the message then the present fields as key=value", "[log]") {
  CHECK(wlog::format_text("accepted delivery", {}) == "accepted delivery");
  CHECK(wlog::format_text("accepted delivery", all_fields()) ==
        "accepted delivery request_id=req-1 source=production event_type=payment.settled "
        "entity_id=65f1a0c2 event_id=42 remote=10.0.0.7 result=accepted detail=\"scheme=header\"");
  wlog::Fields some;
  some.source = "sandbox";
  some.result = "duplicate";
  CHECK(wlog::format_text("m", some) == "m source=sandbox result=duplicate");
}

TEST_CASE("text values with spaces, quotes or control characters are quoted and escaped", "[log]") {
  wlog::Fields f;
  f.detail = "disk full";
  CHECK(wlog::format_text("m", f) == "m detail=\"disk full\"");
  f.detail = R"(say "hi")";
  CHECK(wlog::format_text("m", f) == R"(m detail="say \"hi\"")");
  f.detail = "a\\b";
  CHECK(wlog::format_text("m", f) == R"(m detail="a\\b")");
  f.detail = "line1\nline2";
  CHECK(wlog::format_text("m", f) == R"(m detail="line1\nline2")");
  // The message itself is not quoted but can never break the line.
  CHECK(wlog::format_text("two\nlines\x01", {}) == R"(two\nlines\x01)");
}

TEST_CASE("JSON format is one object with ts, level, msg and the present fields", "[log]") {
  std::string line =
      wlog::format_json("info", "2026-05-03T13:58:02.123Z", "accepted", all_fields());
  CHECK(line.find('\n') == std::string::npos);
  auto doc = parse_json(line);
  CHECK(member(doc, "ts") == "2026-05-03T13:58:02.123Z");
  CHECK(member(doc, "level") == "info");
  CHECK(member(doc, "msg") == "accepted");
  CHECK(member(doc, "request_id") == "req-1");
  CHECK(member(doc, "source") == "production");
  CHECK(member(doc, "event_type") == "payment.settled");
  CHECK(member(doc, "entity_id") == "65f1a0c2");
  REQUIRE(doc["event_id"].IsInt64());
  CHECK(doc["event_id"].GetInt64() == 42);
  CHECK(member(doc, "remote") == "10.0.0.7");
  CHECK(member(doc, "result") == "accepted");
  CHECK(member(doc, "detail") == "scheme=header");
  CHECK(line.rfind(R"({"ts":)", 0) == 0);  // ts, level, msg come first

  auto bare = parse_json(wlog::format_json("warn", "t", "m", {}));
  CHECK(bare.MemberCount() == 3);
  CHECK_FALSE(bare.HasMember("event_id"));
}

TEST_CASE("JSON escaping round-trips quotes, backslashes, newlines and control characters",
          "[log]") {
  const std::string tricky =
      std::string("he said \"hi\"\\ \n\r\t end") + '\x01' + '\x1f' + '\0' + "\xC3\xA9";  // é
  wlog::Fields f;
  f.detail = tricky;
  f.event_type = "payment.\"settled\"";
  std::string line = wlog::format_json("error", "t", tricky, f);
  CHECK(line.find('\n') == std::string::npos);
  auto doc = parse_json(line);
  CHECK(member(doc, "msg") == tricky);
  CHECK(member(doc, "detail") == tricky);
  CHECK(member(doc, "event_type") == "payment.\"settled\"");
}

TEST_CASE("invalid UTF-8 from the network still gives valid JSON", "[log]") {
  wlog::Fields f;
  f.event_type = "bad\xFF\xC3";
  std::string line = wlog::format_json("info", "t", "m\xED\xA0\x80", f);  // a lone surrogate
  auto doc = parse_json(line);
  CHECK(member(doc, "event_type") == "bad\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(member(doc, "msg") == "m\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("timestamps are UTC ISO-8601 with milliseconds", "[log]") {
  CHECK(wlog::format_timestamp(0) == "1970-01-01T00:00:00.000Z");
  CHECK(wlog::format_timestamp(1777816682123) == "2026-05-03T13:58:02.123Z");
  CHECK(wlog::format_timestamp(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("parse_format and parse_level accept the documented names only", "[log]") {
  CHECK(wlog::parse_format("text") == wlog::Format::text);
  CHECK(wlog::parse_format("json") == wlog::Format::json);
  CHECK(wlog::parse_level("trace") == wlog::Level::trace);
  CHECK(wlog::parse_level("debug") == wlog::Level::debug);
  CHECK(wlog::parse_level("info") == wlog::Level::info);
  CHECK(wlog::parse_level("warn") == wlog::Level::warn);
  CHECK(wlog::parse_level("error") == wlog::Level::error);
  for (const char* bad : {"", "yaml", "JSON", "Text"})
    CHECK_THROWS_AS(wlog::parse_format(bad), std::invalid_argument);
  for (const char* bad : {"", "warning", "INFO", "verbose", "off"})
    CHECK_THROWS_AS(wlog::parse_level(bad), std::invalid_argument);
  CHECK_THROWS_WITH(wlog::parse_level("loud"), Contains("loud"));
}

TEST_CASE("enabled() follows the configured level", "[log]") {
  CapturedLines captured;
  wlog::configure(wlog::Format::text, wlog::Level::warn);
  CHECK_FALSE(wlog::enabled(wlog::Level::info));
  CHECK(wlog::enabled(wlog::Level::warn));
  CHECK(wlog::enabled(wlog::Level::error));
  CHECK_FALSE(wlog::enabled(wlog::Level::off));
  wlog::configure(wlog::Format::text, wlog::Level::off);
  CHECK_FALSE(wlog::enabled(wlog::Level::error));
}

TEST_CASE("write() emits whole text lines with timestamp and level", "[log]") {
  CapturedLines captured;
  wlog::configure(wlog::Format::text, wlog::Level::info);
  wlog::Fields f;
  f.request_id = "r1";
  wlog::info("hello", f);
  wlog::debug("filtered out");
  REQUIRE(captured.lines.size() == 1);
  const std::regex shape(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info hello request_id=r1)");
  CHECK(std::regex_match(captured.lines[0], shape));
}

TEST_CASE("write() emits one JSON object per line in json format", "[log]") {
  CapturedLines captured;
  wlog::configure(wlog::Format::json, wlog::Level::debug);
  wlog::Fields f;
  f.event_id = 7;
  wlog::debug("stored", f);
  wlog::trace("filtered out");
  REQUIRE(captured.lines.size() == 1);
  auto doc = parse_json(captured.lines[0]);
  CHECK(member(doc, "level") == "debug");
  CHECK(member(doc, "msg") == "stored");
  CHECK(doc["event_id"].GetInt64() == 7);
  CHECK(
      std::regex_match(member(doc, "ts"), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}

TEST_CASE("write() is safe from many threads and never splits a line", "[log]") {
  CapturedLines captured;
  wlog::configure(wlog::Format::json, wlog::Level::info);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([] {
      for (int i = 0; i < 100; ++i) wlog::info("concurrent line with some length to it");
    });
  for (auto& thread : threads) thread.join();
  REQUIRE(captured.lines.size() == 400);
  for (const auto& line : captured.lines)
    CHECK(member(parse_json(line), "msg") == "concurrent line with some length to it");
}

TEST_CASE("write() to stdout does not throw", "[log]") {
  wlog::configure(wlog::Format::text, wlog::Level::info);
  CHECK_NOTHROW(wlog::info("log_test: a line on stdout"));
  wlog::configure(wlog::Format::text, wlog::Level::info);
}
