// Start-up refusals of the real binary (issue 10): input that must end in exit 2 and one line on
// stderr, never a crash. Each run is bounded by a deadline and stopped by its PID.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "integration/process.hpp"
#include "support/temp_dir.hpp"

using namespace webhook::testing;

namespace {

struct Exit {
  std::optional<int> code;
  std::string output;  // stdout and stderr
};

Exit serve(const TempDir& dir, const std::string& config, const std::string& keys) {
  const std::string log = dir.file("serve.log");
  Exit exit;
  {
    Process proc({WEBHOOK_RECEIVER_BIN, "serve", "--config", config},
                 {"WEBHOOK_RECEIVER_SECRET_KEYS=" + keys}, log);
    exit.code = proc.wait(std::chrono::seconds(30));
  }
  std::ifstream in(log, std::ios::binary);
  exit.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return exit;
}

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("issue 10: serve with a config nested 200000 arrays deep exits 2 with one line",
          "[startup][issue10]") {
  TempDir dir;
  const std::string config = dir.file("deep.json");
  std::ofstream(config, std::ios::binary) << std::string(200000, '[');
  const Exit exit = serve(dir, config, "whsec_test_only_startup_0001");
  CHECK(exit.code == 2);
  CHECK(lines(exit.output) == 1);
  CHECK_THAT(exit.output, Catch::Matchers::Contains(config + ": invalid JSON at byte 200000"));
}

TEST_CASE("issue 10: serve with a 1-character signing key exits 2 naming the variable",
          "[startup][issue10]") {
  TempDir dir;
  // Were the key taken, the receiver would start here, not on the default port.
  const std::string config = dir.file("local.json");
  std::ofstream(config, std::ios::binary)
      << R"({"server": {"listen": "127.0.0.1:0"}, "storage": {"sqlite_path": ")"
      << dir.file("inbox.db") << R"("}, "payload_log": {"path": ")" << dir.file("payloads.jsonl")
      << R"("}})";
  const Exit exit = serve(dir, config, "Z");
  CHECK(exit.code == 2);
  CHECK(lines(exit.output) == 1);
  CHECK_THAT(exit.output, Catch::Matchers::Contains(
                              "WEBHOOK_RECEIVER_SECRET_KEYS: key 1 is shorter than 16 bytes"));
  CHECK_THAT(exit.output, !Catch::Matchers::Contains("\"Z\"") && !Catch::Matchers::Contains(" Z"));
}
