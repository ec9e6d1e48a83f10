// Tests include/webhook/app/config.hpp: defaults, the example file, syntax, unknown keys, bad
// values, environment overrides and load_config. Secrets are in config_secrets_test.cpp.

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <unistd.h>

#include "webhook/app/config.hpp"
#include "webhook/http/conomy_client.hpp"
#include "webhook/storage/payload_log.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using webhook::app::Config;
using webhook::app::ConfigError;
using webhook::app::default_config;
using webhook::app::load_config;
using webhook::app::map_environment;
using webhook::app::parse_config;

namespace {

using Env = std::map<std::string, std::string>;
const Env kKeys = {{"WEBHOOK_RECEIVER_SECRET_KEYS", "whsec_test_only_config_01"}};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A file under the temp directory, removed at scope end.
struct TempFile {
  explicit TempFile(const std::string& content) {
    static std::atomic<int> counter{0};
    path = (std::filesystem::temp_directory_path() / ("config_test_" + std::to_string(::getpid()) +
                                                      "_" + std::to_string(++counter) + ".json"))
               .string();
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path;
};

Config parse(const std::string& json, const Env& env = kKeys, bool secrets = true) {
  return parse_config(json, "test.json", map_environment(env), secrets);
}

// The ConfigError message of parse(json, env), or "" when it loads.
std::string error_of(const std::string& json, const Env& env = kKeys, bool secrets = true) {
  try {
    parse(json, env, secrets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

void check_same(const Config& a, const Config& b) {
  CHECK(a.server.listen == b.server.listen);
  CHECK(a.server.host == b.server.host);
  CHECK(a.server.port == b.server.port);
  CHECK(a.server.io_threads == b.server.io_threads);
  CHECK(a.admin.listen == b.admin.listen);
  CHECK(a.admin.host == b.admin.host);
  CHECK(a.admin.port == b.admin.port);
  CHECK(a.server.max_body_bytes == b.server.max_body_bytes);
  CHECK(a.server.header_timeout_ms == b.server.header_timeout_ms);
  CHECK(a.server.body_timeout_ms == b.server.body_timeout_ms);
  CHECK(a.server.shutdown_timeout_ms == b.server.shutdown_timeout_ms);
  CHECK(a.server.max_connections == b.server.max_connections);
  CHECK(a.server.trusted_proxies == b.server.trusted_proxies);
  REQUIRE(a.sources.size() == b.sources.size());
  for (std::size_t i = 0; i < a.sources.size(); ++i) {
    INFO("sources[" << i << "]");
    const auto& x = a.sources[i];
    const auto& y = b.sources[i];
    CHECK(x.name == y.name);
    CHECK(x.path == y.path);
    CHECK(x.scheme == y.scheme);
    CHECK(x.secret_keys_env == y.secret_keys_env);
    CHECK(x.require_all_when_both == y.require_all_when_both);
    CHECK(x.allow_sha256_prefix == y.allow_sha256_prefix);
    CHECK(x.allow_unsigned == y.allow_unsigned);
    CHECK(x.malformed_reply_400 == y.malformed_reply_400);
    CHECK(x.dedup.customer_state == y.dedup.customer_state);
    CHECK(x.dedup.include_state_everywhere == y.dedup.include_state_everywhere);
    CHECK(x.dedup.review_cycles == y.dedup.review_cycles);
    CHECK(x.secret_keys == y.secret_keys);
    CHECK(x.api.has_value() == y.api.has_value());
  }
  CHECK(a.storage.sqlite_path == b.storage.sqlite_path);
  CHECK(a.storage.ack_budget_ms == b.storage.ack_budget_ms);
  CHECK(a.storage.max_batch == b.storage.max_batch);
  CHECK(a.storage.max_queue == b.storage.max_queue);
  CHECK(a.storage.busy_timeout_ms == b.storage.busy_timeout_ms);
  CHECK(a.payload_log.path == b.payload_log.path);
  CHECK(a.payload_log.max_bytes == b.payload_log.max_bytes);
  CHECK(a.payload_log.max_files == b.payload_log.max_files);
  // Absent (the embedded default) means beside `path`, which is what loading resolves it to.
  const auto unverified = [](const Config& c) {
    return c.payload_log.unverified_path.value_or(
        webhook::storage::default_unverified_path(c.payload_log.path));
  };
  CHECK(unverified(a) == unverified(b));
  CHECK(a.payload_log.unverified_max_bytes == b.payload_log.unverified_max_bytes);
  CHECK(a.payload_log.unverified_max_files == b.payload_log.unverified_max_files);
  CHECK(a.payload_log.unverified_body_bytes == b.payload_log.unverified_body_bytes);
  CHECK(a.workers.threads == b.workers.threads);
  CHECK(a.workers.retry.initial_ms == b.workers.retry.initial_ms);
  CHECK(a.workers.retry.multiplier == b.workers.retry.multiplier);
  CHECK(a.workers.retry.max_ms == b.workers.retry.max_ms);
  CHECK(a.workers.retry.max_attempts == b.workers.retry.max_attempts);
  REQUIRE(a.routes.size() == b.routes.size());
  for (std::size_t i = 0; i < a.routes.size(); ++i) {
    CHECK(a.routes[i].match == b.routes[i].match);
    CHECK(a.routes[i].handlers == b.routes[i].handlers);
    CHECK(a.routes[i].retry.has_value() == b.routes[i].retry.has_value());
  }
  REQUIRE(a.handlers.size() == b.handlers.size());
  for (std::size_t i = 0; i < a.handlers.size(); ++i) {
    CHECK(a.handlers[i].name == b.handlers[i].name);
    CHECK(a.handlers[i].type == b.handlers[i].type);
    CHECK(a.handlers[i].url == b.handlers[i].url);
    CHECK(a.handlers[i].secret_env == b.handlers[i].secret_env);
    CHECK(a.handlers[i].command == b.handlers[i].command);
    CHECK(a.handlers[i].timeout_ms == b.handlers[i].timeout_ms);
    CHECK(a.handlers[i].connect_timeout_ms == b.handlers[i].connect_timeout_ms);
    CHECK(a.handlers[i].ca_file == b.handlers[i].ca_file);
    CHECK(a.handlers[i].retry_4xx == b.handlers[i].retry_4xx);
  }
  CHECK(a.monitoring.backlog_sample_ms == b.monitoring.backlog_sample_ms);
  CHECK(a.monitoring.max_backlog_age_ms == b.monitoring.max_backlog_age_ms);
  CHECK(a.monitoring.settlement_overdue_ms == b.monitoring.settlement_overdue_ms);
  CHECK(a.reviews.notify == b.reviews.notify);
  CHECK(a.reviews.notify_sla_ms == b.reviews.notify_sla_ms);
  CHECK(a.reviews.flag_after_ms == b.reviews.flag_after_ms);
  CHECK(a.reconcile.interval_ms == b.reconcile.interval_ms);
  CHECK(a.reconcile.max_calls_per_minute == b.reconcile.max_calls_per_minute);
  CHECK(a.reconcile.recheck_after_ms == b.reconcile.recheck_after_ms);
  CHECK(a.reconcile.customer_max_age_ms == b.reconcile.customer_max_age_ms);
  CHECK(a.logging.format == b.logging.format);
  CHECK(a.logging.level == b.logging.level);
}

const std::string kExample = WEBHOOK_SOURCE_DIR "/config/webhook-receiver.example.json";

}  // namespace

TEST_CASE("the defaults are one production source on /webhooks and routes to the projections",
          "[config]") {
  Config c = default_config();
  REQUIRE(c.sources.size() == 1);
  CHECK(c.sources[0].name == "production");
  CHECK(c.sources[0].path == "/webhooks");
  CHECK(c.sources[0].scheme == webhook::core::SchemeSetting::automatic);
  CHECK(c.sources[0].secret_keys_env == "WEBHOOK_RECEIVER_SECRET_KEYS");
  REQUIRE(c.routes.size() == 2);
  CHECK(c.routes[0].match == "customer.*");
  CHECK(c.routes[0].handlers == std::vector<std::string>{"customers", "log"});
  CHECK(c.routes[1].match == "*");
  CHECK(c.routes[1].handlers == std::vector<std::string>{"payments", "reviews", "log"});
  CHECK(c.handlers.empty());
  CHECK(c.reviews.notify.empty());
  CHECK(c.reviews.notify_sla_ms == 300000);
  CHECK(c.reviews.flag_after_ms == std::vector<std::int64_t>{14400000, 86400000});
  CHECK(c.monitoring.settlement_overdue_ms == 86400000);
  CHECK(c.server.host == "127.0.0.1");
  CHECK(c.server.port == 8080);
}

TEST_CASE("an empty object loads as the defaults", "[config]") {
  check_same(parse("{}", {}, false), default_config());
}

TEST_CASE("the example file loads and equals the defaults in every field", "[config]") {
  Config example = parse_config(read_text(kExample), kExample, map_environment({}), false);
  check_same(example, default_config());
}

TEST_CASE("the example file documents every key with a comment", "[config]") {
  // Every key the reader knows appears in the example (the docs test of STYLE.md practice 10).
  std::string text = read_text(kExample);
  for (const char* key : {"listen",
                          "io_threads",
                          "max_body_bytes",
                          "header_timeout_ms",
                          "body_timeout_ms",
                          "shutdown_timeout_ms",
                          "max_connections",
                          "trusted_proxies",
                          "admin",
                          "name",
                          "path",
                          "scheme",
                          "secret_keys_env",
                          "both_present",
                          "allow_sha256_prefix",
                          "allow_unsigned",
                          "malformed_reply",
                          "dedup",
                          "customer_state",
                          "include_state_everywhere",
                          "review_cycles",
                          "api",
                          "base_url",
                          "client_id",
                          "client_secret_env",
                          "api_key_env",
                          "sqlite_path",
                          "ack_budget_ms",
                          "max_batch",
                          "max_queue",
                          "busy_timeout_ms",
                          "max_bytes",
                          "max_files",
                          "threads",
                          "initial_ms",
                          "multiplier",
                          "max_ms",
                          "max_attempts",
                          "match",
                          "handlers",
                          "type",
                          "url",
                          "secret_env",
                          "command",
                          "timeout_ms",
                          "connect_timeout_ms",
                          "ca_file",
                          "retry_4xx",
                          "retry",
                          "monitoring",
                          "backlog_sample_ms",
                          "max_backlog_age_ms",
                          "settlement_overdue_ms",
                          "reviews",
                          "notify",
                          "notify_sla_ms",
                          "flag_after_ms",
                          "reconcile",
                          "interval_ms",
                          "max_calls_per_minute",
                          "recheck_after_ms",
                          "customer_max_age_ms",
                          "format",
                          "level"}) {
    INFO(key);
    CHECK_THAT(text, Contains(std::string("\"") + key + "\""));
  }
}

TEST_CASE("the two-source test config loads with each source's own keys", "[config]") {
  std::string path = WEBHOOK_SOURCE_DIR "/config/test-two-sources.json";
  Config c = parse_config(
      read_text(path), path,
      map_environment({{"WEBHOOK_RECEIVER_SECRET_KEYS", "whsec_test_only_prod_01"},
                       {"WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS", "whsec_test_only_sandbox_01"}}));
  REQUIRE(c.sources.size() == 2);
  CHECK(c.sources[0].name == "production");
  CHECK(c.sources[0].path == "/webhooks");
  CHECK(c.sources[0].secret_keys == std::vector<std::string>{"whsec_test_only_prod_01"});
  CHECK(c.sources[1].name == "sandbox");
  CHECK(c.sources[1].path == "/webhooks/sandbox");
  CHECK(c.sources[1].secret_keys == std::vector<std::string>{"whsec_test_only_sandbox_01"});
  CHECK(c.server.port == 0);
}

TEST_CASE("comments and trailing commas are accepted", "[config]") {
  Config c = parse(R"(
    // line comment
    { /* block */ "server": { "io_threads": 3, },   // trailing comma in an object
      "routes": [ { "match": "*", "handlers": ["log",], }, ],  // and in arrays
    })");
  CHECK(c.server.io_threads == 3);
  REQUIRE(c.routes.size() == 1);
  CHECK(c.routes[0].handlers == std::vector<std::string>{"log"});
}

TEST_CASE("invalid JSON gives the origin, the byte offset and the parser's message", "[config]") {
  // The missing comma is noticed at the second key, byte 21 (line 1, column 22).
  std::string message = error_of(R"({"server": {"listen" "x"}})");
  CHECK_THAT(message, StartsWith("test.json: invalid JSON at byte 21 (line 1, column 22): "));
  CHECK_THAT(message, Contains("Missing a colon after a name of object member"));
  CHECK_THAT(error_of("{\n  \"server\": \n}"), Contains("test.json: invalid JSON at byte "));
  CHECK_THAT(error_of("{} {}"), Contains("test.json: invalid JSON at byte 3"));
  CHECK_THAT(error_of("[]"), Contains("test.json: the top level must be a JSON object"));
}

TEST_CASE("an unknown key at any depth is named by its full path", "[config]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"serverr": {}})", "serverr: unknown key"},
      {R"({"server": {"listn": "127.0.0.1:1"}})", "server.listn: unknown key"},
      {R"({"storage": {"path": "x"}})", "storage.path: unknown key"},
      {R"({"payload_log": {"rotate": 1}})", "payload_log.rotate: unknown key"},
      {R"({"logging": {"colour": true}})", "logging.colour: unknown key"},
      {R"({"workers": {"retry": {"factor": 2}}})", "workers.retry.factor: unknown key"},
      {R"({"sources": [{"name": "a", "path": "/a"}, {"name": "b", "path": "/b", "shceme": "auto"}]})",
       "sources[1].shceme: unknown key"},
      {R"({"sources": [{"name": "a", "path": "/a", "dedup": {"customer": true}}]})",
       "sources[0].dedup.customer: unknown key"},
      {R"({"routes": [{"match": "*", "handlers": ["log"], "when": 1}]})",
       "routes[0].when: unknown key"},
      {R"({"handlers": {"app": {"type": "forward", "url": "http://x", "urls": []}}})",
       "handlers.app.urls: unknown key"},
  };
  for (const auto& [json, expected] : cases) {
    INFO(json);
    CHECK_THAT(error_of(json), StartsWith("test.json: " + expected));
  }
}

TEST_CASE("a message is always one line, whatever the key", "[config]") {
  std::string message = error_of(R"({"server": {"bad\nkey": 1}})");
  CHECK_THAT(message, StartsWith("test.json: server.bad?key: unknown key"));
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("an unknown key close to a known one suggests it", "[config]") {
  CHECK_THAT(error_of(R"({"server": {"listn": "x"}})"),
             Contains("server.listn: unknown key (did you mean \"listen\"?)"));
}

TEST_CASE("a duplicate key is named", "[config]") {
  CHECK_THAT(error_of(R"({"server": {"io_threads": 2, "io_threads": 3}})"),
             Contains("test.json: server.io_threads: duplicate key"));
  CHECK_THAT(error_of(R"({"handlers": {"a": {"type": "log"}, "a": {"type": "log"}}})"),
             Contains("test.json: handlers.a: duplicate key"));
}

TEST_CASE("a secret in the config file points at the environment", "[config]") {
  CHECK_THAT(error_of(R"({"sources": [{"name": "p", "path": "/p", "secret_keys": ["k"]}]})"),
             Contains("test.json: sources[0].secret_keys: secrets are never read from the config "
                      "file; put them in the environment variable named by secret_keys_env"));
  CHECK_THAT(error_of(R"({"sources": [{"name": "p", "path": "/p", "secret": "k"}]})"),
             Contains("sources[0].secret: secrets are never read from the config file"));
  CHECK_THAT(
      error_of(R"({"handlers": {"app": {"type": "forward", "url": "http://x", "secret": "k"}}})"),
      Contains("handlers.app.secret: secrets are never read from the config file; name the "
               "environment variable that holds it in secret_env"));
}

TEST_CASE("a bad value is named by its key", "[config]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // server
      {R"({"server": {"listen": "8080"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": ":8080"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": "127.0.0.1:65536"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": "127.0.0.1:-1"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": "127.0.0.1:"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": "256.0.0.1:80"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": "::1:8080"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": "[::1]8080"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": "[nope]:80"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": "my host:80"}})", "server.listen: must be host:port"},
      {R"({"server": {"listen": 8080}})", "server.listen: must be a string"},
      {R"({"server": {"io_threads": 0}})", "server.io_threads: must be an integer from 1 to 64"},
      {R"({"server": {"io_threads": 65}})", "server.io_threads: must be an integer from 1 to 64"},
      {R"({"server": {"io_threads": 2.5}})", "server.io_threads: must be an integer from 1 to 64"},
      {R"({"server": {"io_threads": "2"}})", "server.io_threads: must be an integer from 1 to 64"},
      {R"({"server": {"max_body_bytes": 1023}})",
       "server.max_body_bytes: must be an integer from 1024 to 67108864"},
      {R"({"server": {"max_body_bytes": 67108865}})", "server.max_body_bytes: must be an integer"},
      {R"({"server": {"header_timeout_ms": 99}})",
       "server.header_timeout_ms: must be an integer from 100 to 600000"},
      {R"({"server": {"body_timeout_ms": 600001}})", "server.body_timeout_ms: must be an integer"},
      {R"({"server": {"shutdown_timeout_ms": -5}})",
       "server.shutdown_timeout_ms: must be an integer"},
      {R"({"server": {"max_connections": -1}})",
       "server.max_connections: must be an integer from 0 to 1000000"},
      {R"({"server": {"trusted_proxies": "10.0.0.0/8"}})",
       "server.trusted_proxies: must be an array of strings"},
      {R"({"server": {"trusted_proxies": [1]}})", "server.trusted_proxies[0]: must be a string"},
      {R"({"server": {"trusted_proxies": ["10.0.0.0/8", "10.0.0.0/33"]}})",
       "server.trusted_proxies[1]: must be an IPv4 or IPv6 address or CIDR"},
      {R"({"server": {"trusted_proxies": ["fd00::/129"]}})", "server.trusted_proxies[0]: must be"},
      {R"({"server": {"trusted_proxies": ["proxy.local"]}})", "server.trusted_proxies[0]: must be"},
      {R"({"server": {"trusted_proxies": ["10.0.0.0/"]}})", "server.trusted_proxies[0]: must be"},
      {R"({"server": []})", "server: must be an object"},
      // sources
      {R"({"sources": []})", "sources: at least one source is required"},
      {R"({"sources": {}})", "sources: must be an array"},
      {R"({"sources": [1]})", "sources[0]: must be an object"},
      {R"({"sources": [{"path": "/a"}]})", "sources[0].name: is required"},
      {R"({"sources": [{"name": "a"}]})", "sources[0].path: is required"},
      {R"({"sources": [{"name": "a", "path": "/a"}, {"name": "b", "path": "/b", "scheme": "hmac"}]})",
       "sources[1].scheme: must be one of auto, header, body"},
      {R"({"sources": [{"name": "Prod", "path": "/a"}]})",
       "sources[0].name: must match [a-z0-9_-]+"},
      {R"({"sources": [{"name": "a", "path": "/a"}, {"name": "a", "path": "/b"}]})",
       "sources[1].name: duplicate source name \"a\" (also sources[0])"},
      {R"({"sources": [{"name": "a", "path": "webhooks"}]})",
       "sources[0].path: must start with \"/\""},
      {R"({"sources": [{"name": "a", "path": "/a?x=1"}]})", "sources[0].path: must start with"},
      {R"({"sources": [{"name": "a", "path": "/a"}, {"name": "b", "path": "/a"}]})",
       "sources[1].path: duplicate path (also sources[0].path)"},
      {R"({"sources": [{"name": "a", "path": "/metrics"}]})", "sources[0].path: is reserved"},
      {R"({"sources": [{"name": "a", "path": "/a", "both_present": "both"}]})",
       "sources[0].both_present: must be one of either, require_all"},
      {R"({"sources": [{"name": "a", "path": "/a", "allow_sha256_prefix": "yes"}]})",
       "sources[0].allow_sha256_prefix: must be true or false"},
      {R"({"sources": [{"name": "a", "path": "/a", "allow_unsigned": 1}]})",
       "sources[0].allow_unsigned: must be true or false"},
      {R"({"sources": [{"name": "a", "path": "/a", "malformed_reply": "400"}]})",
       "sources[0].malformed_reply: must be 200 or 400"},
      {R"({"sources": [{"name": "a", "path": "/a", "malformed_reply": 500}]})",
       "sources[0].malformed_reply: must be 200 or 400"},
      {R"({"sources": [{"name": "a", "path": "/a", "dedup": {"customer_state": "on"}}]})",
       "sources[0].dedup.customer_state: must be true or false"},
      {R"({"sources": [{"name": "a", "path": "/a", "dedup": []}]})",
       "sources[0].dedup: must be an object"},
      {R"({"sources": [{"name": "a", "path": "/a", "secret_keys_env": "whsec_abc"}]})",
       "sources[0].secret_keys_env: must be the NAME of an environment variable"},
      {R"({"sources": [{"name": "a", "path": "/a", "secret_keys_env": ""}]})",
       "sources[0].secret_keys_env: must be the NAME"},
      // storage, payload log, workers
      {R"({"storage": {"sqlite_path": ""}})", "storage.sqlite_path: must not be empty"},
      {R"({"storage": {"sqlite_path": 5}})", "storage.sqlite_path: must be a string"},
      {R"({"storage": {"ack_budget_ms": 99}})",
       "storage.ack_budget_ms: must be an integer from 100 to 9000"},
      {R"({"storage": {"ack_budget_ms": 10000}})", "storage.ack_budget_ms: must be an integer"},
      {R"({"storage": {"max_batch": 0}})", "storage.max_batch: must be an integer from 1 to 10000"},
      {R"({"storage": {"max_batch": 10001}})", "storage.max_batch: must be an integer"},
      {R"({"storage": {"max_queue": 0}})", "storage.max_queue: must be an integer from 1"},
      {R"({"storage": {"busy_timeout_ms": 50}})", "storage.busy_timeout_ms: must be an integer"},
      {R"({"payload_log": {"max_bytes": 65535}})",
       "payload_log.max_bytes: must be an integer of at least 65536"},
      {R"({"payload_log": {"max_bytes": 1e30}})", "payload_log.max_bytes: must be an integer"},
      {R"({"payload_log": {"max_files": 0}})",
       "payload_log.max_files: must be an integer from 1 to 1000"},
      {R"({"payload_log": {"max_files": 1001}})", "payload_log.max_files: must be an integer"},
      {R"({"payload_log": {"path": "p.jsonl", "unverified_path": "p.jsonl"}})",
       "payload_log.unverified_path: must differ from payload_log.path"},
      {R"({"payload_log": {"unverified_max_bytes": 1024}})",
       "payload_log.unverified_max_bytes: must be an integer of at least 65536"},
      {R"({"payload_log": {"unverified_max_files": 0}})",
       "payload_log.unverified_max_files: must be an integer from 1 to 1000"},
      {R"({"payload_log": {"unverified_body_bytes": -1}})",
       "payload_log.unverified_body_bytes: must be an integer from 0 to 67108864"},
      {R"({"workers": {"threads": 0}})", "workers.threads: must be an integer from 1 to 256"},
      {R"({"workers": {"threads": 257}})", "workers.threads: must be an integer"},
      {R"({"workers": {"retry": {"initial_ms": 0}}})",
       "workers.retry.initial_ms: must be an integer"},
      {R"({"workers": {"retry": {"multiplier": 0.5}}})",
       "workers.retry.multiplier: must be a number from 1 to 10"},
      {R"({"workers": {"retry": {"max_attempts": 0}}})",
       "workers.retry.max_attempts: must be an integer from 1 to 100"},
      {R"({"workers": {"retry": {"max_attempts": 101}}})", "workers.retry.max_attempts: must be"},
      {R"({"workers": {"retry": {"initial_ms": 5000, "max_ms": 1000}}})",
       "workers.retry.max_ms: must be at least workers.retry.initial_ms"},
      // routes and handlers
      {R"({"routes": {}})", "routes: must be an array"},
      {R"({"routes": [{"handlers": ["log"]}]})", "routes[0].match: is required"},
      {R"({"routes": [{"match": "*"}]})", "routes[0].handlers: is required"},
      {R"({"routes": [{"match": "", "handlers": ["log"]}]})",
       "routes[0].match: must be an event type"},
      {R"({"routes": [{"match": "pay*", "handlers": ["log"]}]})", "routes[0].match: must be"},
      {R"({"routes": [{"match": "*", "handlers": []}]})",
       "routes[0].handlers: must name at least one handler"},
      {R"({"routes": [{"match": "a", "handlers": ["log"]}, {"match": "*", "handlers": ["log", "app"]}]})",
       "routes[1].handlers[1]: unknown handler \"app\""},
      {R"({"handlers": []})", "handlers: must be an object"},
      {R"({"handlers": {"x": 1}})", "handlers.x: must be an object"},
      {R"({"handlers": {"x": {}}})", "handlers.x.type: is required"},
      {R"({"handlers": {"x": {"type": "webhook"}}})",
       "handlers.x.type: must be one of log, forward, exec"},
      {R"({"handlers": {"x": {"type": "forward"}}})", "handlers.x.url: is required"},
      {R"({"handlers": {"x": {"type": "forward", "url": "ftp://host/x", "secret_env": "K"}}})",
       "handlers.x.url: must be an http:// or https:// URL"},
      {R"({"handlers": {"x": {"type": "forward", "url": "http://h", "secret_env": "s3cr3t"}}})",
       "handlers.x.secret_env: must be the NAME of an environment variable"},
      {R"({"handlers": {"x": {"type": "forward", "url": "http://h"}}})",
       "handlers.x.secret_env: is required"},
      {R"({"handlers": {"x": {"type": "exec"}}})", "handlers.x.command: is required"},
      {R"({"handlers": {"x": {"type": "exec", "command": []}}})",
       "handlers.x.command: must be a non-empty array"},
      {R"({"handlers": {"x": {"type": "exec", "command": "ls -l"}}})",
       "handlers.x.command: must be an array of strings"},
      {R"({"handlers": {"x": {"type": "exec", "command": [""]}}})",
       "handlers.x.command[0]: must not be empty"},
      {R"({"handlers": {"x": {"type": "exec", "command": ["ls"], "url": "http://h"}}})",
       "handlers.x.url: not used by handlers of type exec"},
      {R"({"handlers": {"x": {"type": "log", "command": ["ls"]}}})",
       "handlers.x.command: not used by handlers of type log"},
      {R"({"handlers": {"x": {"type": "log", "timeout_ms": 50}}})",
       "handlers.x.timeout_ms: must be an integer from 100 to 600000"},
      {R"({"handlers": {"Bad Name": {"type": "log"}}})",
       "handlers.Bad Name: handler names must match"},
      {R"({"handlers": {"log": {"type": "log"}}})", "handlers.log: \"log\" is a built-in handler"},
      {R"({"handlers": {"reviews": {"type": "log"}}})",
       "handlers.reviews: \"reviews\" is a built-in handler"},
      // reviews and monitoring
      {R"({"reviews": {"notify": "ops"}})",
       "reviews.notify: must name a handler of type forward defined under handlers (\"ops\" is not "
       "defined)"},
      {R"({"reviews": {"notify": "x"}, "handlers": {"x": {"type": "log"}}})",
       "reviews.notify: must name a handler of type forward defined under handlers (\"x\" is of "
       "type log)"},
      {R"({"reviews": {"notify_sla_ms": 10}})",
       "reviews.notify_sla_ms: must be an integer from 1000 to 86400000"},
      {R"({"reviews": {"flag_after_ms": [86400000, 14400000]}})",
       "reviews.flag_after_ms[1]: bounds must be in increasing order"},
      {R"({"reviews": {"flag_after_ms": ["4h"]}})",
       "reviews.flag_after_ms[0]: must be an integer from 60000 to 2592000000"},
      {R"({"reviews": {"flag_afer_ms": []}})",
       "reviews.flag_afer_ms: unknown key (did you mean \"flag_after_ms\"?)"},
      {R"({"monitoring": {"settlement_overdue_ms": 5}})",
       "monitoring.settlement_overdue_ms: must be an integer from 60000 to 2592000000"},
      // reconcile
      {R"({"reconcile": {"interval_ms": 500}})",
       "reconcile.interval_ms: must be 0 (off) or from 1000 to 86400000"},
      {R"({"reconcile": {"max_calls_per_minute": 0}})",
       "reconcile.max_calls_per_minute: must be an integer from 1 to 6000"},
      {R"({"reconcile": {"recheck_after_ms": -1}})",
       "reconcile.recheck_after_ms: must be an integer from 0 to 2592000000"},
      {R"({"reconcile": {"interval": 1000}})", "reconcile.interval: unknown key"},
      // logging
      {R"({"logging": {"format": "yaml"}})", "logging.format: must be one of text, json"},
      {R"({"logging": {"level": "verbose"}})",
       "logging.level: must be one of trace, debug, info, warn, error"},
      {R"({"logging": {"level": 3}})", "logging.level: must be a string"},
  };
  for (const auto& [json, expected] : cases) {
    INFO(json);
    CHECK_THAT(error_of(json, kKeys, false), StartsWith("test.json: " + expected));
  }
}

TEST_CASE("valid non-default values are read into every field", "[config]") {
  Config c = parse(R"({
    "server": {"listen": "[::1]:0", "io_threads": 64, "max_body_bytes": 1024,
               "header_timeout_ms": 100, "body_timeout_ms": 600000, "shutdown_timeout_ms": 2000,
               "max_connections": 300, "trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "fd00::/8", "::1"]},
    "sources": [{"name": "sandbox-2", "path": "/hooks/sbx", "scheme": "body",
                 "secret_keys_env": "SBX_KEYS", "both_present": "require_all",
                 "allow_sha256_prefix": true, "allow_unsigned": true, "malformed_reply": 400,
                 "dedup": {"customer_state": false, "include_state_everywhere": true}}],
    "storage": {"sqlite_path": "/data/x.db", "ack_budget_ms": 9000, "max_batch": 1,
                "max_queue": 1, "busy_timeout_ms": 100},
    "payload_log": {"path": "", "max_bytes": 65536, "max_files": 1000},
    "workers": {"threads": 1, "retry": {"initial_ms": 10, "multiplier": 1.5, "max_ms": 10,
                                        "max_attempts": 100}},
    "routes": [{"match": "payment.*", "handlers": ["app", "log"]},
               {"match": "customer.levelChanged", "handlers": ["audit"]}],
    "handlers": {"app": {"type": "forward", "url": "https://app.internal/conomy",
                         "secret_env": "APP_FORWARD_SECRET", "timeout_ms": 500},
                 "audit": {"type": "exec", "command": ["/bin/on-event", "--json"]}},
    "reconcile": {"interval_ms": 0, "max_calls_per_minute": 6000, "recheck_after_ms": 0,
                  "customer_max_age_ms": 0},
    "logging": {"format": "json", "level": "debug"}
  })",
                   {{"APP_FORWARD_SECRET", "whsec_test_only_forward"}}, true);
  CHECK(c.server.host == "::1");
  CHECK(c.server.port == 0);
  CHECK(c.server.io_threads == 64);
  CHECK(c.server.max_body_bytes == 1024);
  CHECK(c.server.shutdown_timeout_ms == 2000);
  CHECK(c.server.max_connections == 300);
  CHECK(c.server.trusted_proxies.size() == 4);
  const auto& s = c.sources.at(0);
  CHECK(s.name == "sandbox-2");
  CHECK(s.scheme == webhook::core::SchemeSetting::body);
  CHECK(s.secret_keys_env == "SBX_KEYS");
  CHECK(s.require_all_when_both);
  CHECK(s.allow_sha256_prefix);
  CHECK(s.allow_unsigned);
  CHECK(s.malformed_reply_400);
  CHECK_FALSE(s.dedup.customer_state);
  CHECK(s.dedup.include_state_everywhere);
  CHECK(s.secret_keys.empty());  // allow_unsigned and no keys set
  CHECK(c.storage.max_batch == 1);
  CHECK(c.payload_log.path.empty());
  CHECK(c.payload_log.max_files == 1000);
  CHECK(c.workers.retry.multiplier == 1.5);
  REQUIRE(c.handlers.size() == 2);
  CHECK(c.handlers[0].name == "app");
  CHECK(c.handlers[0].type == "forward");
  CHECK(c.handlers[0].timeout_ms == 500);
  CHECK(c.handlers[1].name == "audit");
  CHECK(c.handlers[1].command == std::vector<std::string>{"/bin/on-event", "--json"});
  CHECK(c.handlers[1].timeout_ms == 10000);
  CHECK(c.routes[1].match == "customer.levelChanged");
  CHECK(c.logging.format == "json");
  CHECK(c.reconcile.interval_ms == 0);
  CHECK(c.reconcile.max_calls_per_minute == 6000);
  CHECK(c.reconcile.recheck_after_ms == 0);
  CHECK(c.reconcile.customer_max_age_ms == 0);

  auto spec = webhook::app::to_source_spec(s);
  CHECK(spec.name == "sandbox-2");
  CHECK(spec.path == "/hooks/sbx");
  CHECK(spec.verify.scheme == webhook::core::SchemeSetting::body);
  CHECK(spec.verify.require_all_when_both);
  CHECK(spec.verify.allow_sha256_prefix);
  CHECK(spec.allow_unsigned);
  CHECK(spec.malformed_reply_400);
  CHECK(spec.dedup.include_state_everywhere);
  CHECK_FALSE(spec.dedup.customer_state);
}

TEST_CASE("listen gives the host and port the listener binds", "[config]") {
  const std::vector<std::tuple<std::string, std::string, int>> cases = {
      {"0.0.0.0:8080", "0.0.0.0", 8080},
      {"127.0.0.1:0", "127.0.0.1", 0},
      {"[::]:443", "::", 443},
      {"[::1]:65535", "::1", 65535},
      {"localhost:9000", "localhost", 9000},
      {"receiver.internal:80", "receiver.internal", 80},
  };
  for (const auto& [listen, host, port] : cases) {
    INFO(listen);
    Config c = parse(R"({"server": {"listen": ")" + listen + R"("}})");
    CHECK(c.server.listen == listen);
    CHECK(c.server.host == host);
    CHECK(c.server.port == port);
  }
}

TEST_CASE("environment overrides win over the file", "[config][env]") {
  const std::string file = R"({"server": {"listen": "127.0.0.1:9000"},
    "storage": {"sqlite_path": "file.db"}, "payload_log": {"path": "file.jsonl"},
    "logging": {"format": "text", "level": "error"}})";
  Env env = kKeys;
  env["WEBHOOK_RECEIVER_LISTEN"] = "0.0.0.0:8081";
  env["WEBHOOK_RECEIVER_SQLITE_PATH"] = "/data/env.db";
  env["WEBHOOK_RECEIVER_PAYLOAD_LOG"] = "";  // empty disables the payload log
  env["WEBHOOK_RECEIVER_LOG_FORMAT"] = "json";
  env["WEBHOOK_RECEIVER_LOG_LEVEL"] = "debug";
  Config c = parse(file, env);
  CHECK(c.server.listen == "0.0.0.0:8081");
  CHECK(c.server.host == "0.0.0.0");
  CHECK(c.server.port == 8081);
  CHECK(c.storage.sqlite_path == "/data/env.db");
  CHECK(c.payload_log.path.empty());
  CHECK(c.payload_log.unverified_path == "");  // follows the payload log: off
  CHECK(c.logging.format == "json");
  CHECK(c.logging.level == "debug");

  Config file_only = parse(file);
  CHECK(file_only.server.port == 9000);
  CHECK(file_only.payload_log.path == "file.jsonl");
  CHECK(file_only.payload_log.unverified_path == "file.unverified.jsonl");
}

TEST_CASE("a bad environment override is named by its variable", "[config][env]") {
  const std::vector<std::pair<Env, std::string>> cases = {
      {{{"WEBHOOK_RECEIVER_LISTEN", "nope"}}, "WEBHOOK_RECEIVER_LISTEN: must be host:port"},
      {{{"WEBHOOK_RECEIVER_LISTEN", ""}}, "WEBHOOK_RECEIVER_LISTEN: is set but empty"},
      {{{"WEBHOOK_RECEIVER_SQLITE_PATH", ""}}, "WEBHOOK_RECEIVER_SQLITE_PATH: is set but empty"},
      {{{"WEBHOOK_RECEIVER_LOG_FORMAT", "xml"}},
       "WEBHOOK_RECEIVER_LOG_FORMAT: must be one of text, json"},
      {{{"WEBHOOK_RECEIVER_LOG_LEVEL", "loud"}},
       "WEBHOOK_RECEIVER_LOG_LEVEL: must be one of trace"},
  };
  for (const auto& [env, expected] : cases) {
    INFO(expected);
    CHECK_THAT(error_of("{}", env, false), StartsWith(expected));
  }
  // The file's bad value does not matter once the environment replaces it.
  CHECK(
      error_of(R"({"logging": {"level": "loud"}})", {{"WEBHOOK_RECEIVER_LOG_LEVEL", "warn"}}, false)
          .empty());
}

TEST_CASE("load_config reads the given file", "[config][load]") {
  TempFile file(R"({"server": {"listen": "127.0.0.1:7001"}})");
  Config c = load_config(file.path, map_environment(kKeys));
  CHECK(c.server.port == 7001);
  CHECK(c.sources.at(0).secret_keys == std::vector<std::string>{"whsec_test_only_config_01"});
}

TEST_CASE("load_config without a path uses WEBHOOK_RECEIVER_CONFIG", "[config][load]") {
  TempFile file(R"({"server": {"listen": "127.0.0.1:7002"}})");
  Env env = kKeys;
  env["WEBHOOK_RECEIVER_CONFIG"] = file.path;
  CHECK(load_config(std::nullopt, map_environment(env)).server.port == 7002);
  // An explicit path wins over the variable.
  TempFile other(R"({"server": {"listen": "127.0.0.1:7003"}})");
  CHECK(load_config(other.path, map_environment(env)).server.port == 7003);
}

TEST_CASE("load_config with neither a path nor WEBHOOK_RECEIVER_CONFIG uses the defaults",
          "[config][load]") {
  check_same(load_config(std::nullopt, map_environment({}), false), default_config());
  // The environment still overrides, and errors name the built-in origin.
  CHECK(
      load_config(std::nullopt, map_environment({{"WEBHOOK_RECEIVER_LISTEN", "0.0.0.0:1"}}), false)
          .server.port == 1);
  CHECK_THROWS_WITH(load_config(std::nullopt, map_environment({})),
                    StartsWith("built-in defaults: sources[0].secret_keys_env: "));
}

TEST_CASE("a missing config file is a ConfigError naming the path", "[config][load]") {
  const std::string missing = "/nonexistent/dir/webhook-receiver.json";
  CHECK_THROWS_AS(load_config(missing, map_environment(kKeys)), ConfigError);
  CHECK_THROWS_WITH(load_config(missing, map_environment(kKeys)),
                    Contains(missing) && Contains("cannot read config file"));
  CHECK_THROWS_WITH(
      load_config(std::nullopt, map_environment({{"WEBHOOK_RECEIVER_CONFIG", missing}})),
      StartsWith("WEBHOOK_RECEIVER_CONFIG: " + missing + ": cannot read config file"));
  CHECK_THROWS_WITH(load_config(std::nullopt, map_environment({{"WEBHOOK_RECEIVER_CONFIG", ""}})),
                    Contains("WEBHOOK_RECEIVER_CONFIG: is set but empty"));
  CHECK_THROWS_WITH(
      load_config(std::filesystem::temp_directory_path().string(), map_environment(kKeys)),
      Contains("is a directory"));
}

TEST_CASE("a file with invalid JSON is named with the byte offset", "[config][load]") {
  TempFile file("{\n  \"server\": {\"io_threads\": 2,,}\n}\n");
  CHECK_THROWS_WITH(load_config(file.path, map_environment(kKeys)),
                    StartsWith(file.path + ": invalid JSON at byte 31 (line 2, column 30): "));
}

TEST_CASE("map_environment and process_environment look variables up", "[config][env]") {
  auto env = map_environment({{"A", "1"}});
  CHECK(env("A") == std::optional<std::string>("1"));
  CHECK_FALSE(env("B").has_value());
  auto real = webhook::app::process_environment();
  CHECK(real("PATH").has_value());
  CHECK_FALSE(real("WEBHOOK_RECEIVER_TEST_SURELY_UNSET_4F9A").has_value());
}

TEST_CASE("issue 10: a trusted_proxies entry the proxy-trust parser refuses is refused at start-up",
          "[config][issue10]") {
  for (const std::string entry : {"10.0.0.0/08", "10.0.0.0/+8", "fe80::1%eth0", " 10.0.0.1",
                                  "10.0.0.0/4294967328", "[::1]"}) {
    CAPTURE(entry);
    CHECK_THAT(error_of(R"({"server": {"trusted_proxies": [")" + entry + R"("]}})", kKeys, false),
               StartsWith("test.json: server.trusted_proxies[0]: must be an IPv4 or IPv6 address"));
  }
  CHECK(error_of(R"({"server": {"trusted_proxies": ["::ffff:10.0.0.0/104", "0.0.0.0/0"]}})") == "");
}

TEST_CASE("issue 10: a deeply nested config file is a one-line error, not a crash",
          "[config][issue10]") {
  const std::string open(200000, '[');
  CHECK_THAT(error_of(open), StartsWith("test.json: invalid JSON at byte 200000 "));
  const std::string nested = std::string(100000, '[') + std::string(100000, ']');
  CHECK(error_of(nested) == "test.json: the top level must be a JSON object");
  CHECK(error_of(R"({"server": )" + nested + "}") == "test.json: server: must be an object");
  std::string deep_objects;
  for (int i = 0; i < 100000; ++i) deep_objects += R"({"a":)";
  deep_objects += "1" + std::string(100000, '}');
  CHECK_THAT(error_of(deep_objects), StartsWith("test.json: a: unknown key"));
}

TEST_CASE("the admin listener needs a token, and without one stays off or refuses to start",
          "[config][admin]") {
  const std::string token = "test-admin-token-not-secret-01";
  Env with_token = kKeys;
  with_token["WEBHOOK_RECEIVER_ADMIN_TOKEN"] = token;

  SECTION("defaults: 127.0.0.1:8081, off without a token") {
    const Config c = parse("{}");
    CHECK(c.admin.listen == "127.0.0.1:8081");
    CHECK(c.admin.port == 8081);
    CHECK(c.admin.token.empty());
    CHECK_FALSE(c.admin.enabled());
  }
  SECTION("a token turns it on; \"\" turns it off whatever the token") {
    const Config on = parse(R"({"admin": {"listen": "127.0.0.1:0"}})", with_token);
    CHECK(on.admin.enabled());
    CHECK(on.admin.token == token);
    CHECK(on.admin.port == 0);
    CHECK_FALSE(parse(R"({"admin": {"listen": ""}})", with_token).admin.enabled());
  }
  SECTION("a non-loopback address without a token is refused, naming the variable") {
    const std::string message = error_of(R"({"admin": {"listen": "0.0.0.0:8081"}})");
    CHECK_THAT(message, Contains("admin.listen"));
    CHECK_THAT(message, Contains("WEBHOOK_RECEIVER_ADMIN_TOKEN"));
    CHECK(parse(R"({"admin": {"listen": "0.0.0.0:8081"}})", with_token).admin.enabled());
  }
  SECTION("a short token is refused without echoing it") {
    Env short_token = kKeys;
    short_token["WEBHOOK_RECEIVER_ADMIN_TOKEN"] = "short-token";
    const std::string message = error_of("{}", short_token);
    CHECK_THAT(message, Contains("shorter than 16 bytes"));
    CHECK_THAT(message, !Contains("short-token"));
  }
  SECTION("the webhook port is refused for a listener that would run") {
    const std::string file = R"({"server": {"listen": "0.0.0.0:8081"}})";
    CHECK_THAT(error_of(file, with_token), Contains("must not use the webhook port"));
    CHECK_FALSE(parse(file).admin.enabled());  // no token: the port stays free
  }
  SECTION("a bad address is named; the environment overrides the file") {
    CHECK_THAT(error_of(R"({"admin": {"listen": "nowhere"}})"), Contains("admin.listen: must be"));
    Env env = with_token;
    env["WEBHOOK_RECEIVER_ADMIN_LISTEN"] = "127.0.0.1:9555";
    CHECK(parse("{}", env).admin.port == 9555);
  }
  SECTION("the CLI's read-only commands never need it") {
    CHECK(error_of(R"({"admin": {"listen": "0.0.0.0:8081"}})", kKeys, false).empty());
  }
}

namespace {

const std::string kApiSecret = "clientsecret_FAKE_do_not_leak_51c3";
const std::string kApiKeyValue = "apikey_FAKE_do_not_leak_9e02aa";

Env api_env() {
  Env env = kKeys;
  env["CONOMY_CLIENT_SECRET"] = kApiSecret;
  env["CONOMY_API_KEY"] = kApiKeyValue;
  return env;
}

// One source with `api_members` inside its "api" object.
std::string with_api(const std::string& api_members) {
  return R"({"sources": [{"name": "production", "path": "/webhooks", "api": {)" + api_members +
         "}}]}";
}

const std::string kApiRequired =
    R"("base_url": "https://api.conomyhq.com/sandbox", "client_id": "client-0001",)"
    R"( "client_secret_env": "CONOMY_CLIENT_SECRET", "api_key_env": "CONOMY_API_KEY")";

}  // namespace

TEST_CASE("a source without api has no API access", "[config][api]") {
  CHECK_FALSE(default_config().sources[0].api);
  CHECK_FALSE(parse("{}").sources[0].api);
}

TEST_CASE("sources api is read with its defaults and its secrets from the environment",
          "[config][api]") {
  const Config c = parse(with_api(kApiRequired), api_env());
  REQUIRE(c.sources[0].api);
  const auto& api = *c.sources[0].api;
  CHECK(api.base_url == "https://api.conomyhq.com/sandbox");
  CHECK(api.client_id == "client-0001");
  CHECK(api.client_secret_env == "CONOMY_CLIENT_SECRET");
  CHECK(api.api_key_env == "CONOMY_API_KEY");
  CHECK(api.timeout_ms == 10000);
  CHECK(api.retry_initial_ms == 1000);
  CHECK(api.retry_max_ms == 32000);
  CHECK(api.retry_max_attempts == 5);
  CHECK(api.client_secret == kApiSecret);
  CHECK(api.client_secret_file.empty());
  CHECK(api.api_key == kApiKeyValue);
  CHECK(api.api_key_file.empty());

  SECTION("every key can be set") {
    const Config d = parse(
        with_api(kApiRequired + R"(, "timeout_ms": 2500,)" +
                 R"( "retry": {"initial_ms": 500, "max_ms": 4000,)" + R"( "max_attempts": 3})"),
        api_env());
    CHECK(d.sources[0].api->timeout_ms == 2500);
    CHECK(d.sources[0].api->retry_initial_ms == 500);
    CHECK(d.sources[0].api->retry_max_ms == 4000);
    CHECK(d.sources[0].api->retry_max_attempts == 3);
  }
  SECTION("a local http URL is allowed for tests") {
    const std::string local = R"("base_url": "http://127.0.0.1:18080/sandbox", "client_id": "c",)"
                              R"( "client_secret_env": "CONOMY_CLIENT_SECRET",)"
                              R"( "api_key_env": "CONOMY_API_KEY")";
    CHECK(parse(with_api(local), api_env()).sources[0].api->base_url ==
          "http://127.0.0.1:18080/sandbox");
  }
  SECTION("the CLI's read-only commands do not need the secrets") {
    CHECK(error_of(with_api(kApiRequired), kKeys, false).empty());
  }
}

TEST_CASE("sources api secrets may come from NAME_FILE, whose path is kept for rotation",
          "[config][api]") {
  TempFile secret(kApiSecret + "\n");
  TempFile key(kApiKeyValue);
  Env env = kKeys;
  env["CONOMY_CLIENT_SECRET_FILE"] = secret.path;
  env["CONOMY_API_KEY_FILE"] = key.path;
  const auto api = *parse(with_api(kApiRequired), env).sources[0].api;
  CHECK(api.client_secret == kApiSecret);
  CHECK(api.client_secret_file == secret.path);
  CHECK(api.api_key == kApiKeyValue);
  CHECK(api.api_key_file == key.path);
}

TEST_CASE("bad sources api settings stop start-up naming the key and never a secret",
          "[config][api]") {
  const auto check_error = [](const std::string& json, const Env& env, const std::string& key,
                              const std::string& problem) {
    INFO(json);
    const std::string message = error_of(json, env);
    CHECK_THAT(message, Contains(key));
    CHECK_THAT(message, Contains(problem));
    CHECK_THAT(message, !Contains(kApiSecret));
    CHECK_THAT(message, !Contains(kApiKeyValue));
  };
  const Env env = api_env();
  check_error(with_api(R"("client_id": "c", "client_secret_env": "A", "api_key_env": "B")"), env,
              "sources[0].api.base_url", "is required");
  check_error(with_api(kApiRequired + R"(, "client_secret": "x")"), env,
              "sources[0].api.client_secret", "never read from the config file");
  check_error(with_api(kApiRequired + R"(, "timout_ms": 5)"), env, "sources[0].api.timout_ms",
              "did you mean \"timeout_ms\"");
  check_error(with_api(kApiRequired + R"(, "retry": {"multiplier": 3})"), env,
              "sources[0].api.retry.multiplier", "unknown key");
  check_error(with_api(kApiRequired + R"(, "retry": {"initial_ms": 5000, "max_ms": 1000})"), env,
              "sources[0].api.retry.max_ms", "at least retry.initial_ms");
  check_error(with_api(kApiRequired + R"(, "timeout_ms": 5)"), env, "sources[0].api.timeout_ms",
              "from 100 to 600000");
  const std::string no_required =
      R"("client_id": "c", "client_secret_env": "CONOMY_CLIENT_SECRET",)"
      R"( "api_key_env": "CONOMY_API_KEY", )";
  check_error(with_api(no_required + R"("base_url": "ftp://api.conomyhq.com")"), env,
              "sources[0].api.base_url", "http:// or https://");
  check_error(with_api(no_required + R"("base_url": "https://api.conomyhq.com/?x=1")"), env,
              "sources[0].api.base_url", "without query");
  check_error(with_api(no_required + R"("base_url": "http://api.conomyhq.com")"), env,
              "sources[0].api.base_url", "must be https://");
  check_error(with_api(R"("base_url": "https://a.example", "client_id": "c",)"
                       R"( "client_secret_env": ")" +
                       kApiSecret + R"(", "api_key_env": "CONOMY_API_KEY")"),
              env, "sources[0].api.client_secret_env", "NAME of an environment variable");
  check_error(with_api(R"("base_url": "https://a.example", "client_id": "c",)"
                       R"( "client_secret_env": "SAME", "api_key_env": "SAME")"),
              env, "sources[0].api.api_key_env", "must differ");
  check_error(with_api(R"("base_url": "https://a.example", "client_id": "",)"
                       R"( "client_secret_env": "A", "api_key_env": "B")"),
              env, "sources[0].api.client_id", "non-empty");
  check_error(with_api(kApiRequired), kKeys, "sources[0].api.client_secret_env",
              "CONOMY_CLIENT_SECRET (or CONOMY_CLIENT_SECRET_FILE) is not set");
  Env no_key = env;
  no_key.erase("CONOMY_API_KEY");
  check_error(with_api(kApiRequired), no_key, "sources[0].api.api_key_env",
              "CONOMY_API_KEY (or CONOMY_API_KEY_FILE) is not set");
}

TEST_CASE("conomy_api_options carries a source's api settings to the client", "[config][api]") {
  TempFile secret(kApiSecret);
  Env env = api_env();
  env.erase("CONOMY_CLIENT_SECRET");
  env["CONOMY_CLIENT_SECRET_FILE"] = secret.path;
  const Config c =
      parse(with_api(kApiRequired + R"(, "timeout_ms": 2500,)" +
                     R"( "retry": {"initial_ms": 500, "max_ms": 4000,)" + R"( "max_attempts": 3})"),
            env);
  const webhook::http::ConomyApiOptions o = webhook::app::conomy_api_options(c.sources[0]);
  CHECK(o.source == "production");
  CHECK(o.base_url == "https://api.conomyhq.com/sandbox");
  CHECK(o.client_id == "client-0001");
  CHECK(o.client_secret.value == kApiSecret);
  CHECK(o.client_secret.file == secret.path);
  CHECK(o.api_key.value == kApiKeyValue);
  CHECK(o.api_key.file.empty());
  CHECK(o.timeout == std::chrono::milliseconds{2500});
  CHECK(o.retry.initial == std::chrono::milliseconds{500});
  CHECK(o.retry.multiplier == 2.0);
  CHECK(o.retry.max == std::chrono::milliseconds{4000});
  CHECK(o.retry.max_attempts == 3);
}
