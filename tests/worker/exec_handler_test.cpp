// Tests include/webhook/worker/exec_handler.hpp with real scripts in a temp dir.
#include "webhook/worker/exec_handler.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace webhook;
using namespace std::chrono_literals;
using Kind = worker::HandlerResult::Kind;
using webhook::testing::TempDir;

namespace {

std::string write_script(const TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir.file(name);
  {
    std::ofstream out(path, std::ios::binary);
    out << "#!/bin/sh\n" << body;
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

core::StoredEvent make_event(std::int64_t id = 42) {
  core::StoredEvent e;
  e.id = id;
  e.key = {"production", "customer.levelChanged", "customer", "c-9", "BASIC|1"};
  e.event_type = "customer.levelChanged";
  e.entity_kind = "customer";
  e.entity_id = "c-9";
  e.body = R"({"eventType":"customer.levelChanged","customer":{"id":"c-9"}})";
  e.request_id = "req-abc";
  e.received_at_ms = 1'700'000'000'123;
  e.attempts = 3;
  return e;
}

std::unique_ptr<worker::Handler> exec(std::vector<std::string> command,
                                      std::chrono::milliseconds timeout = 5000ms) {
  return worker::make_exec_handler({std::move(command), timeout});
}

// Processes of group `pgid` that are still alive (zombies waiting for a reaper do not count).
int live_members(pid_t pgid) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    long ppid = 0, group = 0;
    rest >> state >> ppid >> group;
    if (group == pgid && state != 'Z') ++count;
  }
  return count;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

}  // namespace

TEST_CASE("runs the command with the payload on stdin and the event in its environment", "[exec]") {
  TempDir dir;
  const auto script = write_script(dir, "on-event", R"(cat > "$1/stdin"
env > "$1/env"
printf '%s' "$2" > "$1/arg"
echo "stdout is discarded"
)");
  const auto event = make_event();
  const auto result =
      exec({script, dir.path().string(), "two words $HOME; no shell"})->handle(event);
  CHECK(result.kind == Kind::ok);
  CHECK(read_file(dir.file("stdin")) == event.body);
  CHECK(read_file(dir.file("arg")) == "two words $HOME; no shell");
  const auto env = lines_of(read_file(dir.file("env")));
  CHECK(has_line(env, "WEBHOOK_EVENT_ID=42"));
  CHECK(has_line(env, "WEBHOOK_EVENT_TYPE=customer.levelChanged"));
  CHECK(has_line(env, "WEBHOOK_ENTITY_KIND=customer"));
  CHECK(has_line(env, "WEBHOOK_ENTITY_ID=c-9"));
  CHECK(has_line(env, "WEBHOOK_SOURCE=production"));
  CHECK(has_line(env, "WEBHOOK_REQUEST_ID=req-abc"));
  CHECK(has_line(env, "WEBHOOK_ATTEMPT=3"));
  CHECK(has_line(env, "WEBHOOK_RECEIVED_AT_MS=1700000000123"));
}

TEST_CASE("the receiver's secrets are not passed to the command", "[exec]") {
  TempDir dir;
  const auto script = write_script(dir, "dump-env", "env > \"$1/env\"\n");
  ::setenv("FORWARD_SECRET", "s3cret-value", 1);
  ::setenv("my_api_key", "k3y-value", 1);
  ::setenv("DB_PASSWORD", "pw-value", 1);
  ::setenv("GITHUB_TOKEN", "t0ken-value", 1);
  ::setenv("WEBHOOK_TEST_VISIBLE", "visible", 1);
  ::setenv("WEBHOOK_EVENT_ID", "stale", 1);
  const auto result = exec({script, dir.path().string()})->handle(make_event());
  for (const char* name : {"FORWARD_SECRET", "my_api_key", "DB_PASSWORD", "GITHUB_TOKEN",
                           "WEBHOOK_TEST_VISIBLE", "WEBHOOK_EVENT_ID"}) {
    ::unsetenv(name);
  }
  REQUIRE(result.kind == Kind::ok);
  const std::string env = read_file(dir.file("env"));
  for (const char* leaked : {"s3cret-value", "k3y-value", "pw-value", "t0ken-value", "stale"}) {
    INFO(leaked);
    CHECK(env.find(leaked) == std::string::npos);
  }
  CHECK(has_line(lines_of(env), "WEBHOOK_TEST_VISIBLE=visible"));
  CHECK(has_line(lines_of(env), "WEBHOOK_EVENT_ID=42"));
}

TEST_CASE("a non-zero exit is retryable with the tail of stderr", "[exec]") {
  TempDir dir;
  const auto script = write_script(dir, "fails", R"(i=0
while [ $i -lt 200 ]; do echo "noise line number $i" >&2; i=$((i+1)); done
echo "the real reason" >&2
exit 3
)");
  const auto result = exec({script})->handle(make_event());
  CHECK(result.kind == Kind::retryable);
  CHECK_THAT(result.error, Catch::StartsWith("exit 3: ") && Catch::EndsWith("the real reason"));
  CHECK(result.error.size() <= 2048 + 8);
  CHECK(result.error.find("noise line number 0\n") == std::string::npos);  // only the tail
}

TEST_CASE("a command killed by a signal is retryable", "[exec]") {
  TempDir dir;
  const auto script = write_script(dir, "dies", "echo dying >&2\nkill -TERM $$\n");
  const auto result = exec({script})->handle(make_event());
  CHECK(result.kind == Kind::retryable);
  CHECK(result.error == "killed by signal 15 (SIGTERM): dying");
}

TEST_CASE("a command past its timeout is killed together with its process group", "[exec]") {
  TempDir dir;
  const auto script = write_script(dir, "sleeps", R"(echo $$ > "$1/pid"
sleep 30 &
sleep 30
)");
  const auto started = std::chrono::steady_clock::now();
  const auto result = exec({script, dir.path().string()}, 300ms)->handle(make_event());
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(result.kind == Kind::retryable);
  CHECK(result.error == "timed out after 300 ms");
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 300ms + 3s);
  const pid_t pgid = std::stoi(read_file(dir.file("pid")));
  CHECK(webhook::testing::wait_until([&] { return live_members(pgid) == 0; }, 3s));
}

TEST_CASE("a command that cannot be executed is a permanent failure", "[exec]") {
  TempDir dir;
  SECTION("missing") {
    const auto result = exec({dir.file("no-such-command")})->handle(make_event());
    CHECK(result.kind == Kind::permanent);
    CHECK_THAT(result.error, Catch::StartsWith("cannot run ") && Catch::Contains("No such file"));
  }
  SECTION("not in PATH") {
    const auto result = exec({"webhook-no-such-command-xyz"})->handle(make_event());
    CHECK(result.kind == Kind::permanent);
  }
  SECTION("not executable") {
    const auto path = write_script(dir, "not-executable", "exit 0\n");
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const auto result = exec({path})->handle(make_event());
    CHECK(result.kind == Kind::permanent);
    CHECK_THAT(result.error, Catch::Contains("Permission denied"));
  }
}

TEST_CASE("a command that ignores a large payload does not block the handler", "[exec]") {
  TempDir dir;
  auto event = make_event();
  event.body.assign(8 * 1024 * 1024, 'x');
  SECTION("it exits at once") {
    const auto script = write_script(dir, "ignores", "exit 0\n");
    CHECK(exec({script})->handle(event).kind == Kind::ok);
  }
  SECTION("it floods stderr first") {
    const auto script =
        write_script(dir, "floods", "head -c 1000000 /dev/zero | tr '\\0' e >&2\nexit 0\n");
    CHECK(exec({script})->handle(event).kind == Kind::ok);
  }
  SECTION("it reads half, then fails") {
    const auto script = write_script(dir, "half", "head -c 4000000 > /dev/null\nexit 4\n");
    const auto result = exec({script})->handle(event);
    CHECK(result.kind == Kind::retryable);
    CHECK(result.error == "exit 4");
  }
  SECTION("it reads everything") {
    const auto script = write_script(dir, "reads", "wc -c > \"$1/count\"\n");
    CHECK(exec({script, dir.path().string()})->handle(event).kind == Kind::ok);
    CHECK(read_file(dir.file("count")).find("8388608") != std::string::npos);
  }
}

TEST_CASE("several workers run the command at once", "[exec]") {
  TempDir dir;
  const auto script =
      write_script(dir, "record", "cat > \"$1/event-$WEBHOOK_EVENT_ID\"\nsleep 0.1\n");
  auto handler = exec({script, dir.path().string()});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 1; t <= 6; ++t) {
    threads.emplace_back([&, t] {
      if (handler->handle(make_event(t)).kind == Kind::ok) ++ok;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == 6);
  for (int t = 1; t <= 6; ++t) {
    CHECK(read_file(dir.file("event-" + std::to_string(t))) == make_event().body);
  }
}

TEST_CASE("construction refuses an empty command or a non-positive timeout", "[exec]") {
  CHECK_THROWS_AS(worker::make_exec_handler({{}, 1000ms}), std::invalid_argument);
  CHECK_THROWS_AS(worker::make_exec_handler({{""}, 1000ms}), std::invalid_argument);
  CHECK_THROWS_AS(worker::make_exec_handler({{"/bin/true"}, 0ms}), std::invalid_argument);
}
