// `serve` and `migrate`.
#include <pthread.h>
#include <csignal>
#include <fstream>
#include <iostream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "webhook/app/application.hpp"
#include "webhook/app/config.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_migrate.hpp"
#include "webhook/storage/pg_url.hpp"

namespace webhook::cli {
namespace {

constexpr const char* kServeHelp =
    "usage: webhook-receiver serve [--config FILE] [--log-format text|json] [--port-file FILE]\n"
    "                              [--admin-port-file FILE]\n"
    "\n"
    "Runs the receiver until SIGTERM or SIGINT, then shuts down gracefully. SIGHUP re-reads\n"
    "the Conomy API secret files (sources[].api, NAME_FILE) without a restart.\n"
    "  --config FILE      configuration file (default: $WEBHOOK_RECEIVER_CONFIG, else the\n"
    "                     embedded defaults: 127.0.0.1:8080, var/webhook-receiver.db)\n"
    "  --log-format F     text (default) or json; overrides logging.format\n"
    "  --port-file FILE   write the bound port there once listening (useful with port 0)\n"
    "  --admin-port-file FILE\n"
    "                     the same for the admin listener (0 when it is off)\n"
    "Secrets come from the environment variable each source names (default\n"
    "WEBHOOK_RECEIVER_SECRET_KEYS, comma-separated, current key first) or NAME_FILE; the admin\n"
    "listener's token from WEBHOOK_RECEIVER_ADMIN_TOKEN or WEBHOOK_RECEIVER_ADMIN_TOKEN_FILE.\n";

constexpr const char* kMigrateHelp =
    "usage: webhook-receiver migrate [--config FILE | --db PATH | --db postgres://URL]\n"
    "\n"
    "Applies the pending migrations compiled into this binary and exits.\n"
    "  --db PATH             an SQLite file (created when missing)\n"
    "  --db postgres://...   a PostgreSQL database (migrations/postgres/), under an advisory\n"
    "                        lock, so replicas starting together do not race. Keep the password\n"
    "                        out of the command line: postgres://user@host:5432/db with\n"
    "                        PGPASSWORD or PGPASSFILE (libpq reads them). Messages name the\n"
    "                        server as HOST:PORT/DATABASE, never the password.\n"
    "  --config FILE         the configuration's storage.sqlite_path\n";

std::optional<std::string> config_path(const Args& args) { return args.get("--config"); }

void print_migration(std::ostream& out, const std::string& where,
                     const storage::MigrationReport& report) {
  if (report.applied.empty()) {
    out << "schema is up to date (version " << report.to_version << ") in " << where << "\n";
    return;
  }
  out << "migrated " << where << " from version " << report.from_version << " to "
      << report.to_version << ":";
  for (const auto& name : report.applied) out << " " << name;
  out << "\n";
}

}  // namespace

int cmd_serve(const ArgList& argv, Io io) {
  Args args(argv, {"--config", "--log-format", "--port-file", "--admin-port-file"}, {});
  if (args.has("--help")) {
    io.out << kServeHelp;
    return 0;
  }
  if (!args.positionals().empty()) throw UsageError("unexpected argument " + args.positionals()[0]);
  app::Config config = app::load_config(config_path(args), app::process_environment());
  if (auto f = args.get("--log-format")) {
    if (*f != "text" && *f != "json") throw UsageError("--log-format must be text or json");
    config.logging.format = *f;
  }
  log::configure(log::parse_format(config.logging.format), log::parse_level(config.logging.level));

  // Signals are taken synchronously by this thread; every thread started later inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // reload, not stop
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  app::Application application(std::move(config));
  try {
    application.start();
  } catch (const app::ConfigError&) {
    throw;  // exit 2 with the key path and no log line, like any other configuration error
  } catch (const std::exception& e) {
    log::error("start-up failed", {.detail = e.what()});
    throw;  // run() prints the same text on stderr, exit 1
  }
  // The admin port first: a test that sees the webhook port may read the admin one at once.
  if (auto port_file = args.get("--admin-port-file")) {
    std::ofstream(*port_file) << application.admin_port() << "\n";
  }
  if (auto port_file = args.get("--port-file")) {
    std::ofstream(*port_file) << application.port() << "\n";
  }

  int signal_number = 0;
  for (;;) {
    sigwait(&stop_signals, &signal_number);
    if (signal_number != SIGHUP) break;
    log::info("SIGHUP received: re-reading the Conomy API secret files");
    application.reload();
  }
  log::info(signal_number == SIGTERM ? "SIGTERM received" : "SIGINT received");
  application.stop();
  return 0;
}

int cmd_migrate(const ArgList& argv, Io io) {
  Args args(argv, {"--config", "--db"}, {});
  if (args.has("--help")) {
    io.out << kMigrateHelp;
    return 0;
  }
  if (args.has("--config") && args.has("--db")) throw UsageError("give --config or --db, not both");
  std::string path;
  if (auto db = args.get("--db"); db && storage::is_pg_url(*db)) {
    const storage::PgUrlParse url = storage::parse_pg_url(*db);
    if (!url.url) throw UsageError("--db: not a usable postgres URL: " + url.error);
    storage::PgConnection pg = storage::PgConnection::connect(*db);
    const auto report = storage::migrate_postgres(pg, storage::embedded_postgres_migrations());
    print_migration(io.out, pg.describe(), report);
    return 0;
  }
  if (auto db = args.get("--db")) {
    path = *db;
  } else {
    path =
        app::load_config(config_path(args), app::process_environment(), false).storage.sqlite_path;
  }
  auto db = storage::Database::open(path);
  print_migration(io.out, path, db.migrate(storage::embedded_migrations()));
  return 0;
}

}  // namespace webhook::cli
