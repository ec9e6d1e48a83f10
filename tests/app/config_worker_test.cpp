// Configuration of the worker pool: per-route retry overrides and forward handler secrets.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <string>

#include "support/temp_dir.hpp"
#include "webhook/app/config.hpp"

using Catch::Matchers::Contains;
using webhook::app::ConfigError;
using webhook::app::map_environment;
using webhook::app::parse_config;

namespace {

constexpr const char* kSourceKey = "whsec_test_only_source_77";
constexpr const char* kForwardSecret = "whsec_FAKE_forward_do_not_leak_51";

std::map<std::string, std::string> env_with(std::map<std::string, std::string> extra) {
  extra.emplace("WEBHOOK_RECEIVER_SECRET_KEYS", kSourceKey);
  return extra;
}

constexpr const char* kForwardConfig = R"({
  "handlers": {"app": {"type": "forward", "url": "https://app.internal/conomy",
                       "secret_env": "APP_FORWARD_SECRET", "connect_timeout_ms": 1500,
                       "ca_file": "/etc/ssl/internal-ca.pem", "retry_4xx": true}},
  "routes": [{"match": "payment.*", "handlers": ["app"]}]
})";

}  // namespace

TEST_CASE("a route's retry object overrides only the keys it names", "[config][worker]") {
  const auto config = parse_config(R"({
    "workers": {"retry": {"initial_ms": 500, "max_attempts": 7}},
    "routes": [{"match": "payment.requiresReview", "handlers": ["log"],
                "retry": {"max_attempts": 20}},
               {"match": "*", "handlers": ["log"]}]
  })",
                                   "test", map_environment(env_with({})));
  REQUIRE(config.routes.size() == 2);
  REQUIRE(config.routes[0].retry);
  CHECK(config.routes[0].retry->max_attempts == 20);
  CHECK(config.routes[0].retry->initial_ms == 500);  // from workers.retry
  CHECK(config.routes[0].retry->max_ms == 32000);    // the default
  CHECK_FALSE(config.routes[1].retry);
}

TEST_CASE("a route's retry is validated and names its path", "[config][worker]") {
  const auto env = map_environment(env_with({}));
  CHECK_THROWS_WITH(
      parse_config(R"({"routes": [{"match": "*", "handlers": ["log"], "retry": {"tries": 3}}]})",
                   "test", env),
      Contains("routes[0].retry.tries: unknown key"));
  CHECK_THROWS_WITH(parse_config(R"({"routes": [{"match": "*", "handlers": ["log"],
                                    "retry": {"initial_ms": 5000, "max_ms": 1000}}]})",
                                 "test", env),
                    Contains("routes[0].retry.max_ms"));
}

TEST_CASE("a forward handler's secret comes from its variable and its options are kept",
          "[config][worker]") {
  const auto config = parse_config(
      kForwardConfig, "test", map_environment(env_with({{"APP_FORWARD_SECRET", kForwardSecret}})));
  REQUIRE(config.handlers.size() == 1);
  const auto& h = config.handlers[0];
  CHECK(h.type == "forward");
  CHECK(h.secret == kForwardSecret);
  CHECK(h.connect_timeout_ms == 1500);
  CHECK(h.ca_file == "/etc/ssl/internal-ca.pem");
  CHECK(h.retry_4xx);
}

TEST_CASE("a forward handler's secret can come from a _FILE", "[config][worker]") {
  webhook::testing::TempDir dir;
  std::ofstream(dir.file("forward-secret")) << kForwardSecret << "\n";
  const auto config = parse_config(
      kForwardConfig, "test",
      map_environment(env_with({{"APP_FORWARD_SECRET_FILE", dir.file("forward-secret")}})));
  CHECK(config.handlers[0].secret == kForwardSecret);
}

TEST_CASE("a forward handler without its secret stops start-up without leaking anything",
          "[config][worker]") {
  try {
    parse_config(kForwardConfig, "test", map_environment(env_with({})));
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Contains("handlers.app.secret_env") && Contains("APP_FORWARD_SECRET"));
  }
  CHECK_THROWS_WITH(parse_config(R"({"handlers": {"app": {"type": "forward", "url": "http://h"}}})",
                                 "test", map_environment(env_with({}))),
                    Contains("handlers.app.secret_env"));
  // Both the variable and its _FILE set: refused, and the value is never echoed.
  try {
    parse_config(kForwardConfig, "test",
                 map_environment(env_with({{"APP_FORWARD_SECRET", kForwardSecret},
                                           {"APP_FORWARD_SECRET_FILE", "/nonexistent"}})));
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), !Contains(kForwardSecret));
  }
}

TEST_CASE("forward-only keys are refused on other handler types", "[config][worker]") {
  CHECK_THROWS_WITH(parse_config(R"({"handlers": {"x": {"type": "exec", "command": ["/bin/true"],
                                          "retry_4xx": true}}})",
                                 "test", map_environment(env_with({}))),
                    Contains("handlers.x.retry_4xx: not used by handlers of type exec"));
}
