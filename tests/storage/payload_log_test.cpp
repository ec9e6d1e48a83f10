// Tests for include/webhook/storage/payload_log.hpp: the line format keeps every body byte-exact,
// and the file is written in whole lines, rotated by size, private to its owner.

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "webhook/log/log.hpp"
#include "webhook/storage/payload_log.hpp"

namespace {

namespace fs = std::filesystem;
using webhook::storage::format_payload_line;
using webhook::storage::parse_payload_line;
using webhook::storage::PayloadLine;
using webhook::storage::PayloadLog;
using webhook::storage::PayloadRecord;

// A fresh directory under the system temp directory, removed with its content afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<unsigned> counter{0};
    const auto tick = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() / ("payload-log-test-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter++) + "-" + std::to_string(tick));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The lines of a file; the file must end with a newline (only whole lines are written).
std::vector<std::string> read_lines(const fs::path& path) {
  const std::string content = read_file(path);
  std::vector<std::string> lines;
  if (content.empty()) return lines;
  REQUIRE(content.back() == '\n');
  std::size_t start = 0;
  for (std::size_t nl = content.find('\n'); nl != std::string::npos;
       nl = content.find('\n', start)) {
    lines.push_back(content.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

PayloadRecord sample_record(std::string_view body) {
  PayloadRecord r;
  r.received_at_ms = 1795890149123;
  r.source = "production";
  r.request_id = "req-1";
  r.remote_address = "203.0.113.7";
  r.method = "POST";
  r.target = "/webhooks";
  r.headers = {{"Content-Type", "application/json"}, {"X-Webhook-Signature", "ab12"}};
  r.verification = "verified";
  r.scheme = "header";
  r.candidate = "none";
  r.key_slot = 0;
  r.body = body;
  return r;
}

// A record viewing the strings of `line` (which must outlive it).
PayloadRecord view_of(const PayloadLine& line) {
  PayloadRecord r;
  r.received_at_ms = line.received_at_ms;
  r.source = line.source;
  r.request_id = line.request_id;
  r.remote_address = line.remote_address;
  r.method = line.method;
  r.target = line.target;
  for (const auto& [name, value] : line.headers) r.headers.emplace_back(name, value);
  r.verification = line.verification;
  r.scheme = line.scheme;
  r.candidate = line.candidate;
  r.key_slot = line.key_slot;
  r.body = line.body;
  return r;
}

// format -> parse gives the record back, and parse -> format gives the line back, byte for byte.
PayloadLine require_round_trip(const PayloadRecord& record) {
  const std::string line = format_payload_line(record);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\r') == std::string::npos);
  const auto parsed = parse_payload_line(line);
  REQUIRE(parsed.has_value());
  CHECK(parsed->received_at_ms == record.received_at_ms);
  CHECK(parsed->source == record.source);
  CHECK(parsed->request_id == record.request_id);
  CHECK(parsed->remote_address == record.remote_address);
  CHECK(parsed->method == record.method);
  CHECK(parsed->target == record.target);
  REQUIRE(parsed->headers.size() == record.headers.size());
  for (std::size_t i = 0; i < record.headers.size(); ++i) {
    CHECK(parsed->headers[i].first == record.headers[i].first);
    CHECK(parsed->headers[i].second == record.headers[i].second);
  }
  CHECK(parsed->verification == record.verification);
  CHECK(parsed->scheme == record.scheme);
  CHECK(parsed->candidate == record.candidate);
  CHECK(parsed->key_slot == record.key_slot);
  CHECK(parsed->body == record.body);
  CHECK(format_payload_line(view_of(*parsed)) == line);
  return *parsed;
}

unsigned file_mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode) & 0777u;
}

PayloadRecord numbered_record(const std::string& request_id, std::string_view body) {
  PayloadRecord r = sample_record(body);
  r.request_id = request_id;
  return r;
}

}  // namespace

TEST_CASE("formats a record as one documented JSON line", "[payload_log]") {
  CHECK(format_payload_line(sample_record(R"({"a":"b"})")) ==
        R"({"ts":"2026-11-28T18:22:29.123Z","received_at_ms":1795890149123,"source":"production",)"
        R"("request_id":"req-1","remote":"203.0.113.7","method":"POST","target":"/webhooks",)"
        R"("headers":[["Content-Type","application/json"],["X-Webhook-Signature","ab12"]],)"
        R"("verification":"verified","scheme":"header","candidate":"none","key_slot":0,)"
        R"("body":"{\"a\":\"b\"}"})");
}

TEST_CASE("writes ts as ISO-8601 UTC with milliseconds", "[payload_log]") {
  const auto ts_of = [](std::int64_t ms) {
    PayloadRecord r = sample_record("");
    r.received_at_ms = ms;
    const std::string line = format_payload_line(r);
    return line.substr(7, 24);  // after {"ts":"
  };
  CHECK(ts_of(0) == "1970-01-01T00:00:00.000Z");
  CHECK(ts_of(1709251199999) == "2024-02-29T23:59:59.999Z");
  CHECK(ts_of(1795890149123) == "2026-11-28T18:22:29.123Z");
}

TEST_CASE("round-trips every Conomy example byte-exact", "[payload_log]") {
  std::size_t seen = 0;
  for (const auto& entry : fs::directory_iterator(WEBHOOK_EXAMPLES_DIR)) {
    if (entry.path().extension() != ".json") continue;
    INFO("fixture " << entry.path().filename().string());
    const std::string body = read_file(entry.path());
    const std::string line = format_payload_line(sample_record(body));
    CHECK(line.find(R"("body":")") != std::string::npos);
    CHECK(line.find("body_base64") == std::string::npos);
    require_round_trip(sample_record(body));
    ++seen;
  }
  CHECK(seen == 12);
}

TEST_CASE("keeps a body that is not valid UTF-8 as base64", "[payload_log]") {
  using namespace std::string_literals;
  for (const std::string& body :
       {"\xFF"s, "\xFF\xFE"s, "\xFF\xFE\xFD"s, "{\"a\":\"\x80\"}"s, "\xC0\xAF"s /* overlong */,
        "\xED\xA0\x80"s /* surrogate */, "\xF4\x90\x80\x80"s /* above U+10FFFF */,
        "\xE2\x82"s /* cut */}) {
    const std::string line = format_payload_line(sample_record(body));
    CHECK(line.find(R"("body":)") == std::string::npos);
    CHECK(line.find(R"("body_base64":")") != std::string::npos);
    require_round_trip(sample_record(body));
  }
  CHECK(format_payload_line(sample_record("\xFF")).find(R"("body_base64":"/w=="})") !=
        std::string::npos);
  CHECK(format_payload_line(sample_record("\xFF\xFE")).find(R"("body_base64":"//4="})") !=
        std::string::npos);
  CHECK(format_payload_line(sample_record("\xFF\xFE\xFD")).find(R"("body_base64":"//79"})") !=
        std::string::npos);
}

TEST_CASE("escapes NUL, control characters and quotes and reads them back", "[payload_log]") {
  using namespace std::string_literals;
  const std::string body = "a\0b\x01\x1F\"q\\\t\n\r\b\f\x7F/"s;
  const std::string line = format_payload_line(sample_record(body));
  CHECK(line.find(R"("body":"a\u0000b\u0001\u001F\"q\\\t\n\r\b\f)") != std::string::npos);
  for (const char c : line) CHECK(static_cast<unsigned char>(c) >= 0x20);
  require_round_trip(sample_record(body));
}

TEST_CASE("keeps CRLF line endings in a body", "[payload_log]") {
  const std::string body = "{\r\n  \"eventType\": \"payment.settled\"\r\n}\r\n";
  CHECK(format_payload_line(sample_record(body)).find(R"(\r\n  \"eventType\")") !=
        std::string::npos);
  require_round_trip(sample_record(body));
}

TEST_CASE("writes UTF-8 text as raw bytes, not u-escapes", "[payload_log]") {
  const std::string body =
      "{\"name\":\"Luc\xC3\xAD"
      "a \xC3\x91"
      "and\xC3\xBA \xE2\x80\x94 \xE6\x97\xA5 \xF0\x9F\x98\x80\"}";
  const std::string line = format_payload_line(sample_record(body));
  CHECK(line.find("Luc\xC3\xAD"
                  "a \xC3\x91"
                  "and\xC3\xBA \xE2\x80\x94 \xE6\x97\xA5 \xF0\x9F\x98\x80") != std::string::npos);
  CHECK(line.find("\\u") == std::string::npos);
  require_round_trip(sample_record(body));
}

TEST_CASE("keeps repeated and non-UTF-8 headers and text fields", "[payload_log]") {
  PayloadRecord r = sample_record("{}");
  r.headers = {{"X-Webhook-Signature", "aa"}, {"X-Webhook-Signature", "bb"}, {"X-Odd", "caf\xE9"}};
  r.target = "/webhooks?q=\xFF";
  const std::string line = format_payload_line(r);
  CHECK(
      line.find(
          R"(["X-Webhook-Signature","aa"],["X-Webhook-Signature","bb"],["WC1PZGQ=","Y2Fm6Q==","base64"])") !=
      std::string::npos);
  CHECK(line.find(R"("target_base64":"L3dlYmhvb2tzP3E9/w==")") != std::string::npos);
  require_round_trip(r);
}

TEST_CASE("parses nothing that is not a payload-log record", "[payload_log]") {
  for (const std::string line :
       {"", "not json", "[]", "{}", R"({"received_at_ms":1})", R"({"body":"x"})",
        R"({"received_at_ms":"1","body":"x"})", R"({"received_at_ms":1,"body":7})",
        R"({"received_at_ms":1,"body_base64":"not base64!"})",
        R"({"received_at_ms":1,"body_base64":"/x=="})",
        R"({"received_at_ms":1,"body":"x","headers":{}})",
        R"({"received_at_ms":1,"body":"x","headers":[["a"]]})",
        R"({"received_at_ms":1,"body":"x","key_slot":"0"})"}) {
    INFO("line: " << line);
    CHECK_FALSE(parse_payload_line(line).has_value());
  }
  const auto minimal = parse_payload_line(R"({"received_at_ms":5,"body_base64":"/w=="})");
  REQUIRE(minimal.has_value());
  CHECK(minimal->body == "\xFF");
  CHECK(minimal->key_slot == -1);
}

TEST_CASE("appends one line per record", "[payload_log]") {
  ScratchDir dir;
  const std::string path = dir.file("payloads.jsonl");
  {
    PayloadLog log({path, 1 << 20, 3});
    for (int i = 0; i < 5; ++i) {
      CHECK(log.append(numbered_record("r-" + std::to_string(i), R"({"n":1})")));
    }
    CHECK(log.write_errors() == 0);
  }
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 5);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto parsed = parse_payload_line(lines[i]);
    REQUIRE(parsed.has_value());
    CHECK(parsed->request_id == "r-" + std::to_string(i));
  }
  SECTION("reopening appends after what is there") {
    PayloadLog log({path, 1 << 20, 3});
    CHECK(log.append(numbered_record("r-5", "{}")));
    CHECK(read_lines(path).size() == 6);
  }
}

TEST_CASE("rotates by size, keeping at most max_files files with the newest in path",
          "[payload_log]") {
  ScratchDir dir;
  const std::string path = dir.file("payloads.jsonl");
  const std::string body(200, 'x');
  const std::uint64_t max_bytes = 1000;  // two ~500-byte lines per file
  {
    PayloadLog log({path, max_bytes, 3});
    for (int i = 0; i < 20; ++i) CHECK(log.append(numbered_record("r-" + std::to_string(i), body)));
  }
  CHECK(fs::exists(path + ".1"));
  CHECK(fs::exists(path + ".2"));
  CHECK_FALSE(fs::exists(path + ".3"));

  // Oldest to newest: path.2, path.1, path; consecutive, ending with the last record.
  std::vector<std::string> ids;
  for (const std::string& file : {path + ".2", path + ".1", path}) {
    CHECK(fs::file_size(file) <= max_bytes);
    for (const auto& line : read_lines(file)) {
      const auto parsed = parse_payload_line(line);
      REQUIRE(parsed.has_value());
      ids.push_back(parsed->request_id);
    }
  }
  REQUIRE(ids.size() >= 3);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHECK(ids[i] == "r-" + std::to_string(20 - ids.size() + i));
  }
}

TEST_CASE("with max_files 1 truncates and restarts the one file", "[payload_log]") {
  ScratchDir dir;
  const std::string path = dir.file("payloads.jsonl");
  {
    PayloadLog log({path, 1000, 1});
    for (int i = 0; i < 20; ++i)
      CHECK(log.append(numbered_record("r-" + std::to_string(i), std::string(200, 'y'))));
  }
  CHECK_FALSE(fs::exists(path + ".1"));
  CHECK(fs::file_size(path) <= 1000);
  const auto lines = read_lines(path);
  REQUIRE_FALSE(lines.empty());
  CHECK(parse_payload_line(lines.back())->request_id == "r-19");
}

TEST_CASE("counts an existing file's size toward rotation", "[payload_log]") {
  ScratchDir dir;
  const std::string path = dir.file("payloads.jsonl");
  { PayloadLog({path, 1000, 2}).append(numbered_record("old", std::string(400, 'o'))); }
  {
    PayloadLog log({path, 1000, 2});
    CHECK(log.append(numbered_record("new", std::string(700, 'n'))));
  }
  REQUIRE(fs::exists(path + ".1"));
  CHECK(parse_payload_line(read_lines(path + ".1").at(0))->request_id == "old");
  CHECK(parse_payload_line(read_lines(path).at(0))->request_id == "new");
}

TEST_CASE("creates the file with mode 0600 and its missing directory", "[payload_log]") {
  ScratchDir dir;
  const std::string path = (dir.path() / "var" / "log" / "payloads.jsonl").string();
  PayloadLog log({path, 1000, 2});
  CHECK(fs::is_directory(dir.path() / "var" / "log"));
  CHECK(file_mode(path) == 0600u);
  CHECK(file_mode((dir.path() / "var" / "log").string()) == 0700u);
  SECTION("and the files it rotates into") {
    for (int i = 0; i < 5; ++i) CHECK(log.append(numbered_record("r", std::string(400, 'z'))));
    CHECK(file_mode(path) == 0600u);
    CHECK(file_mode(path + ".1") == 0600u);
  }
}

TEST_CASE("returns false and counts the error when the disk is full", "[payload_log]") {
  if (!fs::exists("/dev/full")) return;
  PayloadLog log({"/dev/full", 1000, 1});
  CHECK_FALSE(log.append(sample_record("{}")));
  CHECK_FALSE(log.append(sample_record("{}")));
  CHECK(log.write_errors() == 2);
}

TEST_CASE("writes nothing and succeeds when the path is empty", "[payload_log]") {
  PayloadLog log({"", 1000, 1});
  CHECK(log.append(sample_record("{}")));
  CHECK(log.write_errors() == 0);
}

TEST_CASE("refuses to start when the file cannot be created", "[payload_log]") {
  CHECK_THROWS_WITH(PayloadLog({"/dev/null/sub/payloads.jsonl", 1000, 1}),
                    Catch::Contains("/dev/null/sub"));
}

TEST_CASE("writes only whole lines when 8 threads append at once", "[payload_log]") {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  const auto body_of = [](int thread, int seq) {
    return std::string(static_cast<std::size_t>(50 + (seq * 37 + thread * 11) % 3000),
                       static_cast<char>('a' + thread));
  };
  const auto run = [&](const std::string& path, std::uint64_t max_bytes, unsigned max_files) {
    PayloadLog log({path, max_bytes, max_files});
    std::atomic<int> failed{0};  // Catch2 assertions are not thread-safe: count, check after join
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&log, &body_of, &failed, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::string id = std::to_string(t) + "-" + std::to_string(i);
          const std::string body = body_of(t, i);
          if (!log.append(numbered_record(id, body))) ++failed;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(failed == 0);
    CHECK(log.write_errors() == 0);
  };
  const auto check_files = [&](const std::vector<std::string>& files) {
    std::set<std::string> ids;
    for (const auto& file : files) {
      for (const auto& line : read_lines(file)) {
        const auto parsed = parse_payload_line(line);
        REQUIRE(parsed.has_value());
        const auto dash = parsed->request_id.find('-');
        const int t = std::stoi(parsed->request_id.substr(0, dash));
        const int i = std::stoi(parsed->request_id.substr(dash + 1));
        CHECK(parsed->body == body_of(t, i));
        ids.insert(parsed->request_id);
      }
    }
    CHECK(ids.size() == static_cast<std::size_t>(kThreads * kPerThread));
  };

  ScratchDir dir;
  SECTION("into one file") {
    const std::string path = dir.file("one.jsonl");
    run(path, 64ull << 20, 2);
    CHECK(read_lines(path).size() == static_cast<std::size_t>(kThreads * kPerThread));
    check_files({path});
  }
  SECTION("while rotating") {
    const std::string path = dir.file("rot.jsonl");
    run(path, 32 * 1024, 1000);
    std::vector<std::string> files{path};
    for (int n = 1; fs::exists(path + "." + std::to_string(n)); ++n) {
      CHECK(fs::file_size(path + "." + std::to_string(n)) <= 32 * 1024);
      files.push_back(path + "." + std::to_string(n));
    }
    CHECK(files.size() > 10);
    check_files(files);
  }
}

// ---- issue 10: unverified deliveries apart; failures counted, reported and logged -------------

namespace {

PayloadRecord unverified_record(std::string_view body) {
  PayloadRecord r = sample_record(body);
  r.request_id = "hostile";
  r.verification = "missing_signature";
  r.scheme = "none";
  r.key_slot = -1;
  return r;
}

// The log lines written while it lives (the facade's test sink; the writer is this thread).
class CapturedLog {
 public:
  CapturedLog() {
    webhook::log::set_line_sink([this](std::string_view line) { lines_.emplace_back(line); });
  }
  ~CapturedLog() { webhook::log::set_line_sink({}); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  std::size_t count(std::string_view needle) const {
    std::size_t n = 0;
    for (const auto& line : lines_) n += line.find(needle) != std::string::npos ? 1u : 0u;
    return n;
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

}  // namespace

TEST_CASE("issue 10: an unverified line keeps an excerpt with the full length and SHA-256",
          "[payload_log]") {
  const std::string line = format_payload_line(unverified_record("abcdefgh"), 4);
  CHECK_THAT(line, Catch::EndsWith(
                       R"("body":"abcd","body_truncated":true,"body_bytes":8,"body_sha256":)"
                       R"("9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab"})"));
  const auto parsed = parse_payload_line(line);
  REQUIRE(parsed.has_value());
  CHECK(parsed->body == "abcd");
  CHECK(parsed->truncated_from_bytes == 8u);
  // A body within the excerpt is written whole, without the extra members.
  CHECK_FALSE(parse_payload_line(format_payload_line(unverified_record("abcd"), 4))
                  ->truncated_from_bytes.has_value());
}

TEST_CASE("issue 10: unsigned floods go to their own file and never rotate a verified capture out",
          "[payload_log]") {
  ScratchDir dir;
  PayloadLog::Options options;
  options.path = dir.file("payloads.jsonl");
  options.max_bytes = 64 * 1024;
  options.max_files = 2;
  options.unverified_path = webhook::storage::default_unverified_path(options.path);
  options.unverified_max_bytes = 64 * 1024;
  options.unverified_max_files = 2;
  options.unverified_body_bytes = 4096;
  CHECK(options.unverified_path == dir.file("payloads.unverified.jsonl"));
  PayloadLog log(options);

  REQUIRE(log.append(numbered_record("kept", R"({"n":1})")));
  const std::string hostile(std::size_t{1} << 20, '\x01');  // ~6 MiB once escaped
  for (int i = 0; i < 101; ++i) REQUIRE(log.append(unverified_record(hostile)));

  const auto verified = read_lines(options.path);
  REQUIRE(verified.size() == 1);
  CHECK(parse_payload_line(verified[0])->request_id == "kept");
  CHECK_FALSE(fs::exists(options.path + ".1"));
  for (const std::string& file : {options.unverified_path, options.unverified_path + ".1"}) {
    CHECK(fs::file_size(file) <= options.unverified_max_bytes);
  }
  const auto last = parse_payload_line(read_lines(options.unverified_path).back());
  REQUIRE(last.has_value());
  CHECK(last->body.size() == 4096);
  CHECK(last->truncated_from_bytes == std::uint64_t{1} << 20);
  CHECK(last->verification == "missing_signature");
}

TEST_CASE("issue 10: failed writes are counted, reported for readiness and logged once a minute",
          "[payload_log]") {
  if (!fs::exists("/dev/full")) return;
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  PayloadLog::Options options;
  options.path = "/dev/full";
  options.error_log_interval = std::chrono::seconds(60);
  options.now = [&now] { return now; };
  std::vector<std::string> observed;
  CapturedLog captured;
  PayloadLog log(options, [&observed](std::string_view which) { observed.emplace_back(which); });

  for (int i = 0; i < 50; ++i) CHECK_FALSE(log.append(sample_record("{}")));
  CHECK(observed.size() == 50);
  CHECK(observed.front() == "verified");
  CHECK(log.write_errors() == 50);
  CHECK(log.problem() ==
        "payload log: cannot write /dev/full: No space left on device (50 writes failed)");
  CHECK(captured.count("payload log: cannot write /dev/full") == 1);

  now += std::chrono::seconds(61);
  CHECK_FALSE(log.append(sample_record("{}")));
  REQUIRE(captured.count("payload log: cannot write /dev/full") == 2);
  CHECK(captured.lines().back().find("(50 failures since the last report)") != std::string::npos);
}

TEST_CASE("issue 10: the payload log is reported healthy again once a write succeeds",
          "[payload_log]") {
  ScratchDir dir;
  PayloadLog::Options options;
  options.path = dir.file("payloads.jsonl");
  CapturedLog captured;
  PayloadLog log(options);
  // A file size limit stands in for a full disk: writes past it fail with EFBIG.
  ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  struct rlimit tiny = saved;
  tiny.rlim_cur = 64;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &tiny) == 0);
  const bool written_while_full = log.append(sample_record("{}"));
  const std::string problem = log.problem();
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);

  CHECK_FALSE(written_while_full);
  CHECK_THAT(problem, Catch::StartsWith("payload log: cannot write " + options.path));
  CHECK(log.append(sample_record("{}")));
  CHECK(log.problem().empty());
  CHECK(captured.count("is writable again after 1 failed writes") == 1);
  CHECK(read_lines(options.path).size() == 1);  // the failed line was cut back off
}
