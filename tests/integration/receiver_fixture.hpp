#pragma once
// Receiver: the whole application in-process on 127.0.0.1:0 with a real SQLite file and payload
// log in a temp dir, two sources (production on /webhooks, sandbox on /webhooks/sandbox).
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "integration/inbox_rows.hpp"
#include "support/temp_dir.hpp"
#include "webhook/app/application.hpp"
#include "webhook/app/config.hpp"
#include "webhook/log/log.hpp"

namespace webhook::testing {

// Obviously fake keys; never used anywhere real.
inline const std::string kKey = "whsec_test_only_current_0001";
inline const std::string kOldKey = "whsec_test_only_previous_0002";
inline const std::string kSandboxKey = "whsec_test_only_sandbox_0003";

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string example(const std::string& name) {
  return read_file(std::filesystem::path(WEBHOOK_EXAMPLES_DIR) / name);
}

class Receiver {
 public:
  // `server_extra` is spliced into the "server" object (e.g. R"("max_body_bytes": 2048)"),
  // `storage_extra` into "storage", and `top_extra` at the top level (routes, handlers, workers).
  // `extra_env` adds environment variables (forward secrets) to the source keys.
  explicit Receiver(const std::string& server_extra = {}, const std::string& storage_extra = {},
                    const std::string& top_extra = {},
                    std::map<std::string, std::string> extra_env = {}) {
    std::string json = R"({
      "server": {"listen": "127.0.0.1:0", "io_threads": 2, "header_timeout_ms": 400,
                 "body_timeout_ms": 400, "shutdown_timeout_ms": 2000)" +
                       (server_extra.empty() ? "" : ", " + server_extra) + R"(},
      "sources": [
        {"name": "production", "path": "/webhooks"},
        {"name": "sandbox", "path": "/webhooks/sandbox",
         "secret_keys_env": "WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS"}
      ],
      "storage": {"sqlite_path": ")" +
                       dir_.file("inbox.db") + "\"" +
                       (storage_extra.empty() ? "" : ", " + storage_extra) + R"(},
      "payload_log": {"path": ")" +
                       dir_.file("payloads.jsonl") + R"("},
      "logging": {"level": "error"})" +
                       (top_extra.empty() ? "" : ", " + top_extra) + R"(
    })";
    extra_env["WEBHOOK_RECEIVER_SECRET_KEYS"] = kKey + "," + kOldKey;
    extra_env["WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS"] = kSandboxKey;
    config_ = app::parse_config(json, "test", app::map_environment(std::move(extra_env)));
    log::configure(log::Format::text, log::Level::error);  // keep test output readable
    app_ = std::make_unique<app::Application>(config_);
    app_->start();
  }

  std::uint16_t port() const { return app_->port(); }
  const TempDir& dir() const { return dir_; }
  void stop() { app_->stop(); }
  const app::Config& config() const { return config_; }
  std::string payload_log() const { return read_file(dir_.file("payloads.jsonl")); }

  // Reads the inbox through its own read-only connection.
  long long count(const std::string& where = "1") const {
    sqlite3* db = nullptr;
    sqlite3_open_v2(config_.storage.sqlite_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    const std::string sql = "SELECT count(*) FROM events WHERE " + where;
    long long n = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      n = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
  }

  // The first column of the first row of `sql` as text ("NULL" for NULL, "" for no row), read
  // through its own read-only connection.
  std::string value(const std::string& sql) const {
    return db_value(config_.storage.sqlite_path, sql);
  }

  std::string body_of(long long event_id) const {
    sqlite3* db = nullptr;
    sqlite3_open_v2(config_.storage.sqlite_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    std::string body;
    if (sqlite3_prepare_v2(db, "SELECT body FROM events WHERE id = ?", -1, &stmt, nullptr) ==
        SQLITE_OK) {
      sqlite3_bind_int64(stmt, 1, event_id);
      if (sqlite3_step(stmt) == SQLITE_ROW) {
        body.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                    static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
      }
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return body;
  }

 private:
  TempDir dir_;
  app::Config config_;
  std::unique_ptr<app::Application> app_;
};

}  // namespace webhook::testing
