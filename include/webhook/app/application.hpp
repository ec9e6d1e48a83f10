#pragma once
// Application: wires the modules together and owns their lifetimes.
//  1. start(): open the database (0600) and migrate, start the worker pool (its own connection;
//     stale claims back to pending), the InboxWriter (each commit wakes the dispatcher), the
//     payload log, and the HTTP server.
//  2. stop(), in DESIGN.md's order: stop accepting and answer in-flight requests with their
//     committed result (Server::shutdown), drain the writer, stop claiming and let running
//     handlers finish (bounded; unfinished claims back to pending), checkpoint the WAL, close.
// Thread: start() and stop() from one thread (main, or a test).

#include <cstdint>
#include <memory>

#include "webhook/app/config.hpp"

namespace webhook::app {

class Application {
 public:
  explicit Application(Config config);
  ~Application();  // stop()
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Throws webhook::storage::StorageError or std::runtime_error (bind failure) on failure.
  void start();
  std::uint16_t port() const;
  // The admin listener's bound port; 0 when it is off (no token, or admin.listen "").
  std::uint16_t admin_port() const;
  // SIGHUP: what can change without a restart is read again: the Conomy API secret files
  // (docs/conomy-api.md). Any thread, while started.
  void reload();
  void stop();

 private:
  void start_admin();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhook::app
