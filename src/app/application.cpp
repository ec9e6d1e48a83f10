#include "webhook/app/application.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>

#include "webhook/http/server.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/inbox_writer.hpp"
#include "webhook/storage/payload_log.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace webhook::app {

struct Application::Impl {
  explicit Impl(Config c) : config(std::move(c)) {}

  // Readiness as last observed by the writer thread (no SQLite work on I/O threads).
  http::Readiness readiness() {
    std::lock_guard lock(mutex);
    return ready;
  }
  void on_batch(std::size_t, double, bool ok) {
    std::lock_guard lock(mutex);
    ready =
        ok ? http::Readiness{true, {}} : http::Readiness{false, "storage: the last commit failed"};
  }

  Config config;
  std::unique_ptr<storage::SqliteInbox> inbox;
  std::unique_ptr<storage::InboxWriter> writer;
  std::unique_ptr<storage::PayloadLog> payload_log;
  std::unique_ptr<http::Server> server;
  std::mutex mutex;
  http::Readiness ready;  // GUARDED_BY(mutex)
  bool running = false;
};

Application::Application(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Application::~Application() { stop(); }

void Application::start() {
  Impl& a = *impl_;
  const Config& c = a.config;

  // 1. Storage: open, migrate, one connection owned by the inbox.
  auto db = storage::Database::open(
      c.storage.sqlite_path, storage::Database::Mode::read_write_create, c.storage.busy_timeout_ms);
  const auto report = db.migrate(storage::embedded_migrations());
  if (!report.applied.empty()) {
    log::info("migrations applied",
              {.detail = "schema version " + std::to_string(report.from_version) + " -> " +
                         std::to_string(report.to_version)});
  }
  a.inbox = std::make_unique<storage::SqliteInbox>(std::move(db));
  {
    std::lock_guard lock(a.mutex);
    a.ready = {true, {}};
  }

  // 2. The writer thread (group commit).
  a.writer = std::make_unique<storage::InboxWriter>(
      *a.inbox, storage::InboxWriter::Options{c.storage.max_batch, c.storage.max_queue},
      [&a](std::size_t n, double seconds, bool ok) { a.on_batch(n, seconds, ok); });

  // 3. Payload log, then the listener.
  a.payload_log = std::make_unique<storage::PayloadLog>(storage::PayloadLog::Options{
      c.payload_log.path, c.payload_log.max_bytes, c.payload_log.max_files});

  std::vector<core::SourceSpec> sources;
  for (const auto& s : c.sources) sources.push_back(to_source_spec(s));
  http::ServerOptions options;
  options.host = c.server.host;
  options.port = c.server.port;
  options.io_threads = c.server.io_threads;
  options.max_body_bytes = c.server.max_body_bytes;
  options.header_timeout = std::chrono::milliseconds(c.server.header_timeout_ms);
  options.body_timeout = std::chrono::milliseconds(c.server.body_timeout_ms);
  options.ack_budget = std::chrono::milliseconds(c.storage.ack_budget_ms);
  options.shutdown_timeout = std::chrono::milliseconds(c.server.shutdown_timeout_ms);
  a.server = std::make_unique<http::Server>(options, std::move(sources), *a.writer, *a.payload_log,
                                            [&a] { return a.readiness(); });
  a.server->start();
  a.running = true;

  for (const auto& s : c.sources) {
    log::info("source ready",
              {.source = s.name,
               .detail = "path=" + s.path + " scheme=" + std::string(core::to_string(s.scheme)) +
                         " keys=" + std::to_string(s.secret_keys.size())});
  }
  log::info("listening", {.detail = c.server.host + ":" + std::to_string(a.server->port()) +
                                    " db=" + c.storage.sqlite_path});
}

std::uint16_t Application::port() const { return impl_->server ? impl_->server->port() : 0; }

void Application::stop() {
  Impl& a = *impl_;
  if (!a.running) return;
  a.running = false;
  log::info("shutting down: no new connections; finishing requests in flight");
  const std::size_t cut = a.server->shutdown();
  if (cut > 0)
    log::warn("connections cut at the shutdown deadline", {.detail = std::to_string(cut)});
  a.writer->stop();
  const auto stats = a.writer->stats();
  try {
    a.inbox->database().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const std::exception& e) {
    log::warn("checkpoint at shutdown failed", {.detail = e.what()});
  }
  a.server.reset();
  a.writer.reset();
  a.inbox.reset();
  a.payload_log.reset();
  log::info("stopped", {.detail = "deliveries=" + std::to_string(stats.deliveries) +
                                  " commits=" + std::to_string(stats.batches)});
}

}  // namespace webhook::app
