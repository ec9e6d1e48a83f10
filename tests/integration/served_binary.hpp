#pragma once
// Served: the real webhook-receiver binary on a config file written into a temp dir, restartable
// on the same files, stopped by PID (SIGKILL) when destroyed. Shared by the tests that kill -9 it,
// restart it, or hold its database from another process.
#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "integration/process.hpp"
#include "support/temp_dir.hpp"

namespace webhook::testing {

class Served {
 public:
  // Writes `config_json` to <dir>/config.json and starts the binary on it with `key` as the
  // production source's secret. `dir` must outlive this object.
  Served(const TempDir& dir, const std::string& config_json, std::string key)
      : dir_(dir), key_(std::move(key)) {
    config_ = dir.file("config.json");
    std::ofstream(config_) << config_json;
    start();
  }

  // Starts (or restarts, once the previous process is gone) on the same config and files.
  void start() {
    const auto port = start_serving(process_, config_, {"WEBHOOK_RECEIVER_SECRET_KEYS=" + key_},
                                    log_path(), dir_.file("port"));
    INFO("receiver log: " << log_path());
    REQUIRE(port);
    port_ = *port;
  }
  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  std::string log_path() const { return dir_.file("receiver.log"); }

 private:
  const TempDir& dir_;
  std::string key_;
  std::string config_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace webhook::testing
