// Tests the secrets rules of include/webhook/app/config.hpp (src/app/config_secrets.cpp): keys come
// from the variable named by secret_keys_env or its *_FILE, in rotation order, and no message
// ever contains a key.

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "webhook/app/config.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using webhook::app::Config;
using webhook::app::ConfigError;
using webhook::app::map_environment;
using webhook::app::parse_config;

namespace {

using Env = std::map<std::string, std::string>;
using Keys = std::vector<std::string>;

// Distinctive fake keys: a message containing either one has leaked a secret.
constexpr const char* kSecret = "whsec_FAKE_do_not_leak_7c1e93";
constexpr const char* kOldSecret = "whsec_FAKE_previous_2b8d40";

struct TempFile {
  explicit TempFile(const std::string& content) {
    static std::atomic<int> counter{0};
    path = (std::filesystem::temp_directory_path() /
            ("secrets_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter)))
               .string();
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path;
};

Config parse(const Env& env, const std::string& json = "{}") {
  return parse_config(json, "test.json", map_environment(env));
}

std::string error_of(const Env& env, const std::string& json = "{}") {
  try {
    parse(env, json);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("keys come from the variable in rotation order, spaces trimmed", "[config][secrets]") {
  Config c = parse(
      {{"WEBHOOK_RECEIVER_SECRET_KEYS", std::string(" ") + kSecret + " ,\t" + kOldSecret + " "}});
  CHECK(c.sources.at(0).secret_keys == Keys{kSecret, kOldSecret});
  CHECK(webhook::app::to_source_spec(c.sources.at(0)).keys == Keys{kSecret, kOldSecret});
}

TEST_CASE("keys come from the *_FILE file, comma or newline separated", "[config][secrets]") {
  SECTION("one key with a trailing newline") {
    TempFile file(std::string(kSecret) + "\n");
    Config c = parse({{"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", file.path}});
    CHECK(c.sources.at(0).secret_keys == Keys{kSecret});
  }
  SECTION("newline separated, CRLF tolerated") {
    TempFile file(std::string(kSecret) + "\r\n" + kOldSecret + "\r\n");
    Config c = parse({{"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", file.path}});
    CHECK(c.sources.at(0).secret_keys == Keys{kSecret, kOldSecret});
  }
  SECTION("comma separated") {
    TempFile file(std::string(kSecret) + ", " + kOldSecret);
    Config c = parse({{"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", file.path}});
    CHECK(c.sources.at(0).secret_keys == Keys{kSecret, kOldSecret});
  }
}

TEST_CASE("each source reads its own variable", "[config][secrets]") {
  Config c = parse({{"WEBHOOK_RECEIVER_SECRET_KEYS", "whsec_test_only_prod_01"},
                    {"SANDBOX_KEYS", "whsec_test_only_sbx_01,whsec_test_only_sbx_02"}},
                   R"({"sources": [{"name": "production", "path": "/webhooks"},
                                   {"name": "sandbox", "path": "/sandbox",
                                    "secret_keys_env": "SANDBOX_KEYS"}]})");
  CHECK(c.sources.at(0).secret_keys == Keys{"whsec_test_only_prod_01"});
  CHECK(c.sources.at(1).secret_keys == Keys{"whsec_test_only_sbx_01", "whsec_test_only_sbx_02"});
}

TEST_CASE("no keys is an error naming the variable, unless unsigned is allowed",
          "[config][secrets]") {
  CHECK(error_of({}) ==
        "test.json: sources[0].secret_keys_env: WEBHOOK_RECEIVER_SECRET_KEYS (or "
        "WEBHOOK_RECEIVER_SECRET_KEYS_FILE) is not set");
  CHECK_THAT(
      error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS", kSecret}},
               R"({"sources": [{"name": "a", "path": "/a"},
                                      {"name": "b", "path": "/b", "secret_keys_env": "B_KEYS"}]})"),
      StartsWith("test.json: sources[1].secret_keys_env: B_KEYS (or B_KEYS_FILE) is not set"));
  Config c = parse({}, R"({"sources": [{"name": "a", "path": "/a", "allow_unsigned": true}]})");
  CHECK(c.sources.at(0).secret_keys.empty());
}

TEST_CASE("keys are not resolved when resolve_secrets is false", "[config][secrets]") {
  Config c = parse_config("{}", "test.json", map_environment({}), false);
  CHECK(c.sources.at(0).secret_keys.empty());
}

TEST_CASE("the variable and its *_FILE together are an error", "[config][secrets]") {
  TempFile file(kSecret);
  CHECK_THAT(error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS", kSecret},
                       {"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", file.path}}),
             StartsWith("test.json: sources[0].secret_keys_env: both WEBHOOK_RECEIVER_SECRET_KEYS "
                        "and WEBHOOK_RECEIVER_SECRET_KEYS_FILE are set"));
}

TEST_CASE("an empty key entry is rejected by position", "[config][secrets]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string(kSecret) + ",," + kOldSecret, "key 2 is empty"},
      {std::string(kSecret) + ",", "key 2 is empty"},
      {std::string(",") + kSecret, "key 1 is empty"},
      {"", "key 1 is empty"},
      {"  ", "key 1 is empty"},
  };
  for (const auto& [value, expected] : cases) {
    std::string message = error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS", value}});
    CHECK_THAT(message, StartsWith("test.json: sources[0].secret_keys_env: "
                                   "WEBHOOK_RECEIVER_SECRET_KEYS: " +
                                   expected));
  }
  TempFile file(std::string(kSecret) + "\n\n" + kOldSecret + "\n");
  CHECK_THAT(error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", file.path}}),
             Contains("WEBHOOK_RECEIVER_SECRET_KEYS_FILE (" + file.path + "): key 2 is empty"));
}

TEST_CASE("an unreadable *_FILE is named with its path", "[config][secrets]") {
  CHECK_THAT(error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", "/nonexistent/keys"}}),
             Contains("WEBHOOK_RECEIVER_SECRET_KEYS_FILE: cannot read /nonexistent/keys"));
  CHECK_THAT(error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", ""}}),
             Contains("WEBHOOK_RECEIVER_SECRET_KEYS_FILE is set but empty"));
}

TEST_CASE("a secret value never appears in a ConfigError message", "[config][secrets]") {
  const std::string secret = kSecret;
  TempFile good(secret + "\n");
  TempFile empty_entry(secret + ",,\n");
  const std::vector<std::pair<Env, std::string>> cases = {
      // Secret handling errors.
      {{{"WEBHOOK_RECEIVER_SECRET_KEYS", secret + ",,x"}}, "{}"},
      {{{"WEBHOOK_RECEIVER_SECRET_KEYS", secret}, {"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", good.path}},
       "{}"},
      {{{"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", empty_entry.path}}, "{}"},
      // The key where a key does not belong: in the file, as a variable name, in a value.
      {{}, R"({"sources": [{"name": "a", "path": "/a", "secret_keys": [")" + secret + R"("]}]})"},
      {{}, R"({"sources": [{"name": "a", "path": "/a", "secret_keys_env": ")" + secret + R"("}]})"},
      {{},
       R"({"handlers": {"h": {"type": "forward", "url": "http://h", "secret_env": ")" + secret +
           R"("}}})"},
      {{}, R"({"handlers": {"h": {"type": "forward", "url": "ftp://u:)" + secret + R"(@h"}}})"},
      {{}, R"({"server": {"listen": ")" + secret + R"("}})"},
      {{}, R"({"logging": {"level": ")" + secret + R"("}})"},
      {{}, R"({"sources": [{"name": "a", "path": "/a", "scheme": ")" + secret + R"("}]})"},
      {{}, R"({"routes": [{"match": ")" + secret + R"(*", "handlers": ["log"]}]})"},
      // Keys set, and an unrelated error elsewhere.
      {{{"WEBHOOK_RECEIVER_SECRET_KEYS", secret}, {"WEBHOOK_RECEIVER_LOG_LEVEL", "loud"}}, "{}"},
  };
  for (const auto& [env, json] : cases) {
    std::string message = error_of(env, json);
    INFO(json);
    CHECK_FALSE(message.empty());
    CHECK_THAT(message, !Contains(secret));
    CHECK_THAT(message, !Contains("FAKE"));
  }
}

TEST_CASE("issue 10: a source key shorter than 16 bytes is refused by position, never echoed",
          "[config][secrets][issue10]") {
  const std::string short_key = "x7Q";             // 3 bytes
  const std::string fifteen = "whsec_FAKE_15by";   // 15 bytes
  const std::string sixteen = "whsec_FAKE_16byt";  // 16 bytes
  REQUIRE(fifteen.size() == 15);
  REQUIRE(sixteen.size() == 16);
  const std::string prefix =
      "test.json: sources[0].secret_keys_env: WEBHOOK_RECEIVER_SECRET_KEYS: ";
  std::string message = error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS", "k"}});
  CHECK_THAT(message, StartsWith(prefix + "key 1 is shorter than 16 bytes"));
  message = error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS", std::string(kSecret) + "," + short_key}});
  CHECK_THAT(message, StartsWith(prefix + "key 2 is shorter than 16 bytes"));
  CHECK_THAT(message, !Contains(short_key) && !Contains(kSecret));
  CHECK_THAT(error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS", fifteen}}),
             StartsWith(prefix + "key 1 is shorter than 16 bytes"));
  CHECK(parse({{"WEBHOOK_RECEIVER_SECRET_KEYS", sixteen}}).sources.at(0).secret_keys ==
        Keys{sixteen});
  TempFile file(std::string(kSecret) + "\n" + fifteen + "\n");
  message = error_of({{"WEBHOOK_RECEIVER_SECRET_KEYS_FILE", file.path}});
  CHECK_THAT(message, Contains("WEBHOOK_RECEIVER_SECRET_KEYS_FILE (" + file.path +
                               "): key 2 is shorter than 16 bytes"));
  CHECK_THAT(message, !Contains(fifteen));
  // A sandbox source that allows unsigned deliveries and has no key is still fine.
  CHECK(parse({}, R"({"sources": [{"name": "a", "path": "/a", "allow_unsigned": true}]})")
            .sources.at(0)
            .secret_keys.empty());
}
