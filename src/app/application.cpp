#include "webhook/app/application.hpp"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>

#include "app/connection_limit.hpp"
#include "app/monitor.hpp"
#include "app/reconcile_job.hpp"
#include "app/worker_wiring.hpp"
#include "webhook/app/admin_api.hpp"
#include "webhook/app/readiness.hpp"
#include "webhook/app/service_metrics.hpp"

#include "webhook/http/admin_server.hpp"
#include "webhook/http/server.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/inbox_writer.hpp"
#include "webhook/storage/payload_log.hpp"
#include "webhook/storage/sqlite_inbox.hpp"
#include "webhook/storage/wal_checkpointer.hpp"
#include "webhook/worker/dispatcher.hpp"

namespace webhook::app {

namespace {

ProjectionBounds bounds_of(const Config& c) {
  return {c.reviews.notify_sla_ms, c.reviews.flag_after_ms, c.monitoring.settlement_overdue_ms};
}

std::vector<std::string> source_names(const Config& c) {
  std::vector<std::string> names;
  for (const auto& s : c.sources) names.push_back(s.name);
  return names;
}

// Reads RLIMIT_NOFILE, raises the soft limit when the cap needs it, and returns the cap.
// Throws ConfigError naming server.max_connections when it cannot fit.
int fit_connection_limit_to_process(const Config& c) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return c.server.max_connections > 0 ? c.server.max_connections : kDefaultMaxConnections;
  }
  const ConnectionLimit fit = fit_connection_limit(c.server.max_connections, c.workers.threads,
                                                   {limit.rlim_cur, limit.rlim_max});
  if (fit.soft_limit > limit.rlim_cur) {
    const auto was = limit.rlim_cur;
    limit.rlim_cur = fit.soft_limit;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      throw ConfigError("server.max_connections: cannot raise the open-file limit from " +
                        std::to_string(was) + " to " + std::to_string(fit.soft_limit));
    }
    log::info("open-file limit raised for server.max_connections",
              {.detail = std::to_string(was) + " -> " + std::to_string(fit.soft_limit)});
  }
  return fit.max_connections;
}

}  // namespace

struct Application::Impl {
  explicit Impl(Config c)
      : config(std::move(c)), metrics(bounds_of(config), source_names(config)) {}

  // Readiness from cached state only (no SQLite work on I/O threads).
  http::Readiness readiness() {
    ReadinessFacts facts;
    facts.workers_running = !dispatcher || dispatcher->running();
    if (inbox) facts.storage_fault = inbox->fault();
    if (monitor) facts.storage_problem = monitor->storage_problem();
    facts.oldest_unfinished_age_s = metrics.oldest_unfinished_age_seconds();
    facts.max_backlog_age_ms = config.monitoring.max_backlog_age_ms;
    facts.last_commit_ok = last_commit_ok.load();
    if (payload_log) facts.payload_log_problem = payload_log->problem();
    const ReadinessVerdict verdict = judge_readiness(facts);
    return {verdict.ready, verdict.reason,
            readiness_details(metrics.projections(), metrics.oldest_settlement_event_age_seconds(),
                              metrics.bounds(), clock.now_ms())};
  }

  Config config;
  core::SystemClock clock;
  ServiceMetrics metrics;
  std::unique_ptr<Monitor> monitor;
  std::unique_ptr<storage::SqliteInbox> inbox;   // the writer's connection (every write)
  std::unique_ptr<storage::SqliteInbox> reader;  // the worker pool's reads
  std::unique_ptr<storage::WalCheckpointer> checkpointer;
  std::unique_ptr<storage::InboxWriter> writer;
  std::unique_ptr<worker::HandlerRegistry> handlers;
  std::unique_ptr<worker::Dispatcher> dispatcher;
  std::unique_ptr<storage::PayloadLog> payload_log;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<AdminApi> admin_api;  // on the admin listener's thread
  std::unique_ptr<http::AdminServer> admin_server;
  std::unique_ptr<ReconcileJob> reconcile;  // records through the writer
  std::atomic<bool> last_commit_ok{true};   // written by the writer thread
  bool running = false;
};

Application::Application(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Application::~Application() { stop(); }

void Application::start() {
  Impl& a = *impl_;
  const Config& c = a.config;

  // 0. The connection cap, fitted to the open-file limit before anything is opened.
  const int max_connections = fit_connection_limit_to_process(c);

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
  // Checkpoints run beside the writer, on a connection of their own, so commits never stall in one.
  a.checkpointer = std::make_unique<storage::WalCheckpointer>(c.storage.sqlite_path);
  a.checkpointer->attach(a.inbox->database());
  // Attempts a crash left running go back to pending; they run again (at-least-once).
  const std::size_t released = a.inbox->release_claims(a.clock.now_ms());
  if (released > 0) {
    log::info("events left processing by the last run are pending again",
              {.detail = std::to_string(released)});
  }

  // 2. The one write path: one writer thread owns every write (deliveries, attempts, results and
  // their projection changes); the worker pool reads back from the database on a read
  // connection of its own, so that never waits for a transaction.
  auto read_db = storage::Database::open(c.storage.sqlite_path, storage::Database::Mode::read_write,
                                         c.storage.busy_timeout_ms);
  a.reader = std::make_unique<storage::SqliteInbox>(std::move(read_db));
  storage::PayloadLog::Options payloads;
  payloads.path = c.payload_log.path;
  payloads.max_bytes = c.payload_log.max_bytes;
  payloads.max_files = c.payload_log.max_files;
  payloads.unverified_path =
      c.payload_log.unverified_path.value_or(storage::default_unverified_path(payloads.path));
  payloads.unverified_max_bytes = c.payload_log.unverified_max_bytes;
  payloads.unverified_max_files = c.payload_log.unverified_max_files;
  payloads.unverified_body_bytes = static_cast<std::size_t>(c.payload_log.unverified_body_bytes);
  a.payload_log = std::make_unique<storage::PayloadLog>(
      std::move(payloads), [&a](std::string_view log) { a.metrics.on_payload_log_error(log); });
  storage::InboxWriter::Options writer_options;
  writer_options.max_batch = c.storage.max_batch;
  writer_options.max_queue = c.storage.max_queue;
  writer_options.write_payload_lines = [&a](std::string_view lines) {
    a.payload_log->append_verified(lines);
  };
  a.writer = std::make_unique<storage::InboxWriter>(
      *a.inbox, writer_options,
      [&a](std::size_t n, double seconds, bool ok) {
        a.last_commit_ok = ok;
        if (n > 0) a.metrics.on_commit(n, seconds, ok);
      },
      a.reader.get());

  // 3. The worker pool: events come from the writer in memory (and from the database at start).
  a.handlers = build_handlers(
      c, a.clock, [&a](const worker::ReviewNotifyReport& r) { a.metrics.on_review_notify(r); });
  worker::DispatcherOptions workers;
  workers.threads = c.workers.threads;
  workers.stop_timeout = std::chrono::milliseconds(c.server.shutdown_timeout_ms);
  a.dispatcher = std::make_unique<worker::Dispatcher>(
      *a.writer, build_routes(c), *a.handlers, to_retry_policy(c.workers.retry), a.clock,
      [] {
        thread_local std::mt19937_64 rng{std::random_device{}()};
        return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      },
      workers, [&a](const worker::DispatchReport& r) { a.metrics.on_dispatch(r); });
  a.dispatcher->start();

  // 4. The monitor (backlog gauges, storage probe), then the listener.
  // Each interval it also checks that the ingest connection's files are still the database's,
  // so an idle receiver notices a deleted -wal too (a commit checks it as well).
  a.monitor = std::make_unique<Monitor>(c.storage.sqlite_path,
                                        std::chrono::milliseconds(c.monitoring.backlog_sample_ms),
                                        a.metrics, a.clock, [&a] { a.inbox->check_files(); });
  a.monitor->start();

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
  options.trusted_proxies = c.server.trusted_proxies;
  options.max_connections = static_cast<std::size_t>(max_connections);
  http::ServerHooks hooks;
  hooks.readiness = [&a] { return a.readiness(); };
  hooks.on_delivery = [&a](std::string_view source, std::string_view result, double seconds) {
    a.metrics.on_delivery(source, result, seconds);
  };
  hooks.render_metrics = [&a, max_connections] {
    a.metrics.on_connections(a.server->open_connections(),
                             static_cast<std::size_t>(max_connections));
    return a.metrics.render();
  };
  hooks.on_connection_shed = [&a](std::string_view reason) {
    a.metrics.on_connection_shed(reason);
  };
  hooks.on_accept_error = [&a] { a.metrics.on_accept_error(); };
  a.server = std::make_unique<http::Server>(options, std::move(sources), *a.writer, *a.payload_log,
                                            std::move(hooks));
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
  start_admin();
  // 5. Reconciliation against the Conomy API, when a source has an `api`.
  a.reconcile = std::make_unique<ReconcileJob>(c, *a.writer, a.metrics, a.clock);
  a.reconcile->start();
}

// The admin listener (docs/admin.md): after the webhook listener, so a dashboard never shows a
// service that cannot take deliveries. Off without a token (config_secrets.cpp refused a
// non-loopback address already).
void Application::start_admin() {
  Impl& a = *impl_;
  const Config& c = a.config;
  if (c.admin.listen.empty()) return;
  if (c.admin.token.empty()) {
    log::warn(
        "admin listener off: set WEBHOOK_RECEIVER_ADMIN_TOKEN (or _FILE) to serve the "
        "dashboard on " +
        c.admin.listen);
    return;
  }
  AdminApiOptions api;
  api.token = c.admin.token;
  api.sqlite_path = c.storage.sqlite_path;
  for (const auto& source : c.sources) api.sources.push_back(source.name);
  api.review_bounds_ms = c.reviews.flag_after_ms;
  api.settlement_overdue_ms = c.monitoring.settlement_overdue_ms;
  api.on_redrive = [&a] { a.writer->check_outside_now(); };
  a.admin_api = std::make_unique<AdminApi>(std::move(api), a.clock);
  http::AdminServerOptions options;
  options.host = c.admin.host;
  options.port = c.admin.port;
  a.admin_server = std::make_unique<http::AdminServer>(
      options, [&a](const http::AdminRequest& request) { return a.admin_api->handle(request); });
  a.admin_server->start();
  const std::string host =
      c.admin.host.find(':') != std::string::npos ? "[" + c.admin.host + "]" : c.admin.host;
  log::info("admin listening",
            {.detail = "http://" + host + ":" + std::to_string(a.admin_server->port()) + "/"});
}

std::uint16_t Application::port() const { return impl_->server ? impl_->server->port() : 0; }

std::uint16_t Application::admin_port() const {
  return impl_->admin_server ? impl_->admin_server->port() : 0;
}

void Application::reload() {
  Impl& a = *impl_;
  if (a.reconcile) a.reconcile->reread_secrets();
}

void Application::stop() {
  Impl& a = *impl_;
  if (!a.running) return;
  a.running = false;
  // First: nothing records through the writer while it stops (a pass ends between two checks).
  if (a.reconcile) a.reconcile->stop();
  a.reconcile.reset();
  // Then no redrive while the writer stops, and its connections close before the checkpoint.
  if (a.admin_server) a.admin_server->shutdown();
  a.admin_server.reset();
  a.admin_api.reset();
  log::info("shutting down: no new connections; finishing requests in flight");
  const std::size_t cut = a.server->shutdown();
  if (cut > 0)
    log::warn("connections cut at the shutdown deadline", {.detail = std::to_string(cut)});
  log::info("stopping workers: no new attempts; running handlers may finish");
  a.dispatcher->stop();
  a.writer->stop();  // after the pool: the results of its last handlers are written too
  const auto stats = a.writer->stats();
  a.monitor->stop();
  a.checkpointer->stop();
  try {
    a.inbox->database().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const std::exception& e) {
    log::warn("checkpoint at shutdown failed", {.detail = e.what()});
  }
  a.server.reset();
  a.monitor.reset();
  a.dispatcher.reset();
  a.handlers.reset();
  a.writer.reset();
  a.reader.reset();
  a.checkpointer.reset();
  a.inbox.reset();
  a.payload_log.reset();
  log::info("stopped", {.detail = "deliveries=" + std::to_string(stats.deliveries) +
                                  " commits=" + std::to_string(stats.batches)});
}

}  // namespace webhook::app
