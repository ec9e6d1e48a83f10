// Tests the `reconcile` command's answers that need no API: usage and configuration errors
// (exit 2, one line), and a call that cannot reach the API (exit 1, reported, nothing written).
// The passes themselves: tests/app/reconciler_test.cpp; the real binary against a fake API:
// tests/integration/reconcile_test.cpp.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "support/cli_run.hpp"
#include "support/temp_dir.hpp"
#include "webhook/storage/database.hpp"

using webhook::testing::CliRun;
using webhook::testing::TempDir;

namespace {

// The API secrets, under names of this test's own.
struct ApiSecrets {
  ApiSecrets() {
    ::setenv("RECONCILE_CLI_TEST_SECRET", "clientsecret_test_only_A_0123456789", 1);
    ::setenv("RECONCILE_CLI_TEST_API_KEY", "apikey_test_only_0123456789", 1);
  }
  ~ApiSecrets() {
    ::unsetenv("RECONCILE_CLI_TEST_SECRET");
    ::unsetenv("RECONCILE_CLI_TEST_API_KEY");
  }
  ApiSecrets(const ApiSecrets&) = delete;
  ApiSecrets& operator=(const ApiSecrets&) = delete;
};

// A config whose source has an api at `base_url` (or none when empty), on a migrated database.
std::string write_config(const TempDir& dir, const std::string& base_url) {
  {
    auto db = webhook::storage::Database::open(dir.file("inbox.db"),
                                               webhook::storage::Database::Mode::read_write_create);
    db.migrate(webhook::storage::embedded_migrations());
  }
  const std::string api = base_url.empty() ? ""
                                           : R"(, "api": {"base_url": ")" + base_url +
                                                 R"(", "client_id": "client-test-0001",
                   "client_secret_env": "RECONCILE_CLI_TEST_SECRET",
                   "api_key_env": "RECONCILE_CLI_TEST_API_KEY", "timeout_ms": 2000,
                   "retry": {"max_attempts": 1}})";
  const std::string path = dir.file("config.json");
  std::ofstream(path) << R"({"sources": [{"name": "production", "path": "/webhooks")" << api
                      << R"(}], "storage": {"sqlite_path": ")" << dir.file("inbox.db")
                      << R"("}, "payload_log": {"path": ""}})";
  return path;
}

CliRun reconcile(std::vector<std::string> args) {
  args.insert(args.begin(), "reconcile");
  return webhook::testing::run_cli(
      [&](webhook::cli::Io io) { return webhook::cli::run(args, io); });
}

}  // namespace

TEST_CASE("reconcile refuses a configuration without an api and bad flags, with exit 2",
          "[cli][reconcile]") {
  TempDir dir;
  const std::string no_api = write_config(dir, "");
  const CliRun none = reconcile({"--config", no_api});
  CHECK(none.code == 2);
  CHECK(none.err.find("no source has an \"api\" object") != std::string::npos);
  CHECK(none.out.empty());

  ApiSecrets secrets;
  const std::string config = write_config(dir, "http://127.0.0.1:9/sandbox");
  const CliRun two = reconcile({"--config", config, "--transaction", "a", "--customer", "b"});
  CHECK(two.code == 2);
  CHECK(two.err.find("give one of --transaction, --customer and --since") != std::string::npos);
  const CliRun source = reconcile({"--config", config, "--source", "sandbox"});
  CHECK(source.code == 2);
  CHECK(source.err.find("--source sandbox: no source of that name has an \"api\" object") !=
        std::string::npos);
  const CliRun since = reconcile({"--config", config, "--since", "yesterday"});
  CHECK(since.code == 2);
  CHECK(since.err.find("--since") != std::string::npos);
  const CliRun calls = reconcile({"--config", config, "--max-calls", "0"});
  CHECK(calls.code == 2);
  CHECK(reconcile({"--help"}).out.find("usage: webhook-receiver reconcile") == 0);
}

TEST_CASE("reconcile names the variable when an api secret is missing", "[cli][reconcile]") {
  TempDir dir;
  const std::string config = write_config(dir, "http://127.0.0.1:9/sandbox");
  const CliRun r = reconcile({"--config", config});
  CHECK(r.code == 2);
  CHECK(r.err.find("RECONCILE_CLI_TEST_SECRET (or RECONCILE_CLI_TEST_SECRET_FILE) is not set") !=
        std::string::npos);
}

TEST_CASE("reconcile reports a call that cannot reach the API and exits 1", "[cli][reconcile]") {
  TempDir dir;
  ApiSecrets secrets;
  // Port 9 (discard) on loopback: nothing listens there in the test environment.
  const std::string config = write_config(dir, "http://127.0.0.1:9/sandbox");
  const CliRun r = reconcile({"--config", config, "--transaction", "p-1", "--json"});
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.out.find(R"("finding":"failed")") != std::string::npos);
  CHECK(r.out.find(R"("applied":false)") != std::string::npos);
  CHECK(r.out.find("clientsecret_test_only") == std::string::npos);
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(doc["seconds"].IsNumber());
  // No token could be obtained (POST /auth found nothing listening): no GET was sent.
  CHECK(doc["api_requests"].GetInt64() == 0);
  CHECK(doc["found"]["failed"].GetInt64() == 1);
  REQUIRE(doc["checks"].Size() == 1);
  CHECK(std::string(doc["checks"][0]["kind"].GetString()) == "payment");
  CHECK(doc["checks"][0]["event_id"].IsNull());
  CHECK(std::string(doc["checks"][0]["error"].GetString()).find("no token") == 0);
}
