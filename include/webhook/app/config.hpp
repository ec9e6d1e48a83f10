#pragma once
// Config: every setting of the service, with its default (DESIGN.md section 4, documented key by
// key in config/webhook-receiver.example.json).
//  1. default_config() is the embedded default: loopback, SQLite under var/, example source.
//  2. load_config() reads one JSON file (comments and trailing commas allowed), applies
//     environment overrides, resolves secrets from the environment or *_FILE, and validates
//     everything up front.
//  3. Any unknown key or bad value throws ConfigError whose message names the key path
//     ("storage.ack_budget_ms: must be between 100 and 9000"); main prints it and exits 2.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/core/ingest.hpp"

namespace webhook::http {
struct ConomyApiOptions;  // webhook/http/conomy_client.hpp
}  // namespace webhook::http

namespace webhook::app {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Looks up an environment variable; tests pass a map instead of the real environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_environment();
EnvLookup map_environment(std::map<std::string, std::string> values);

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  std::string host = "127.0.0.1";  // derived from listen
  std::uint16_t port = 8080;       // derived from listen (0: any free port)
  int io_threads = 2;
  std::size_t max_body_bytes = 1048576;
  int header_timeout_ms = 10000;
  int body_timeout_ms = 30000;
  int shutdown_timeout_ms = 10000;
  // Open client connections at most; 0: min(1024, what the open-file limit leaves), fitted at
  // start (app/connection_limit.hpp).
  int max_connections = 0;
  std::vector<std::string> trusted_proxies;  // CIDRs: X-Forwarded-For, X-Real-IP, X-Request-Id
};

// The admin listener (docs/admin.md): the dashboard and its JSON API, never on the webhook port.
struct AdminConfig {
  std::string listen = "127.0.0.1:8081";  // "" turns it off
  std::string host = "127.0.0.1";         // derived from listen
  std::uint16_t port = 8081;              // derived from listen (0: any free port)
  // From WEBHOOK_RECEIVER_ADMIN_TOKEN(_FILE), never from the file; "" when unset (then the
  // listener stays off on loopback, and a non-loopback listen is a configuration error).
  std::string token;
  bool enabled() const { return !listen.empty() && !token.empty(); }
};

// The Conomy API of a source (docs/conomy-api.md): what reconciliation reads payments and
// customers from. Absent: the source has no API access.
struct ConomyApiConfig {
  std::string base_url;           // http(s)://host[:port][/path]; http:// only on loopback
  std::string client_id;          // not a secret, but never echoed in messages either
  std::string client_secret_env;  // NAME of the variable (or NAME_FILE) with the client secret
  std::string api_key_env;        // NAME of the variable (or NAME_FILE) with the x-api-key
  int timeout_ms = 10000;         // per request
  // 5xx, timeouts, 429 without Retry-After: initial_ms, doubling, capped at max_ms.
  int retry_initial_ms = 1000;
  int retry_max_ms = 32000;
  int retry_max_attempts = 5;
  // Resolved at load; never logged or printed. *_file: the NAME_FILE path the value came from
  // ("" for a variable), which the API client re-reads when it changes (secret rotation).
  std::string client_secret;
  std::string client_secret_file;
  std::string api_key;
  std::string api_key_file;
};

struct SourceConfig {
  std::string name = "production";
  std::string path = "/webhooks";
  core::SchemeSetting scheme = core::SchemeSetting::automatic;
  std::string secret_keys_env = "WEBHOOK_RECEIVER_SECRET_KEYS";
  bool require_all_when_both = false;  // "both_present": "either" | "require_all"
  bool allow_sha256_prefix = false;
  bool allow_unsigned = false;
  bool malformed_reply_400 = false;      // "malformed_reply": 200 | 400
  core::DedupPolicy dedup;               // "dedup": {customer_state, include_state_everywhere}
  std::vector<std::string> secret_keys;  // resolved at load; never logged or printed
  std::optional<ConomyApiConfig> api;    // "api": the Conomy API client's settings
};

struct StorageConfig {
  std::string sqlite_path = "var/webhook-receiver.db";
  int ack_budget_ms = 3000;
  std::size_t max_batch = 512;  // 1 = group commit off
  std::size_t max_queue = 10000;
  int busy_timeout_ms = 5000;
};

struct PayloadLogConfig {
  std::string path = "var/payloads.jsonl";  // "" disables the payload log
  std::uint64_t max_bytes = 67108864;
  unsigned max_files = 10;
  // Deliveries that did not verify; absent: storage::default_unverified_path(path)
  // (var/payloads.unverified.jsonl); "": not written.
  std::optional<std::string> unverified_path;
  std::uint64_t unverified_max_bytes = 16777216;
  unsigned unverified_max_files = 2;
  std::uint64_t unverified_body_bytes = 4096;  // body excerpt per unverified line
};

struct RetryConfig {
  int initial_ms = 1000;
  double multiplier = 2.0;
  int max_ms = 32000;
  int max_attempts = 5;
};

struct WorkersConfig {
  int threads = 4;
  RetryConfig retry;
};

struct RouteConfig {
  std::string match;                  // exact type, prefix glob "payment.*", or "*"
  std::vector<std::string> handlers;  // names from `handlers` or built-in "log"
  std::optional<RetryConfig> retry;   // per-route override; unset keys come from workers.retry
};

struct HandlerConfig {
  std::string name;
  std::string type;                  // "log" | "forward" | "exec"
  std::string url;                   // forward
  std::string secret_env;            // forward: env var holding the forward secret
  std::vector<std::string> command;  // exec: argv, no shell
  int timeout_ms = 10000;
  int connect_timeout_ms = 3000;  // forward
  std::string ca_file;            // forward over https: extra trust anchors (PEM)
  bool retry_4xx = false;         // forward: treat 4xx other than 429 as retryable
  std::string secret;             // forward: resolved from secret_env (or _FILE); never logged
};

struct MonitoringConfig {
  int backlog_sample_ms = 5000;  // how often the backlog gauges and the storage probe refresh
  int max_backlog_age_ms = 0;    // /readyz fails when the oldest unfinished event is older; 0 = off
  // A payment captured (or received) and not settled for longer is "overdue" in /metrics and
  // /readyz details.
  std::int64_t settlement_overdue_ms = 86400000;
};

// The built-in "reviews" handler (docs/projections.md).
struct ReviewsConfig {
  std::string notify;                   // a forward handler's name; "" = no notification
  std::int64_t notify_sla_ms = 300000;  // receipt to operator notification
  // Open reviews older than each bound are flagged (metrics, `reviews list`), ascending.
  std::vector<std::int64_t> flag_after_ms = {14400000, 86400000};
};

// Reconciliation against the Conomy API (docs/reconciliation.md). Nothing runs unless a source
// has an `api`.
struct ReconcileConfig {
  std::int64_t interval_ms = 300000;        // a background pass this often; 0: none (the CLI only)
  int max_calls_per_minute = 60;            // API GETs per source: each pass's budget, and its pace
  std::int64_t recheck_after_ms = 3600000;  // an entity checked is not checked again sooner
  // Customers whose record was last updated longer ago are re-read; 0: customers are not.
  std::int64_t customer_max_age_ms = 86400000;
};

struct LoggingConfig {
  std::string format = "text";  // text | json
  std::string level = "info";   // trace | debug | info | warn | error
};

struct Config {
  ServerConfig server;
  AdminConfig admin;
  std::vector<SourceConfig> sources;
  StorageConfig storage;
  PayloadLogConfig payload_log;
  WorkersConfig workers;
  std::vector<RouteConfig> routes;
  std::vector<HandlerConfig> handlers;
  MonitoringConfig monitoring;
  ReviewsConfig reviews;
  ReconcileConfig reconcile;
  LoggingConfig logging;
};

// The embedded defaults (one "production" source on /webhooks); secrets are not resolved.
Config default_config();

// Parses `json_text` (from `origin`, used in messages) over the defaults, applies environment
// overrides, resolves secrets (unless `resolve_secrets` is false: CLI commands that only need
// the database) and validates. Throws ConfigError naming the key.
Config parse_config(std::string_view json_text, std::string_view origin, const EnvLookup& env,
                    bool resolve_secrets = true);

// Reads the file (`path`, or $WEBHOOK_RECEIVER_CONFIG, or the embedded defaults when neither),
// then as parse_config. Throws ConfigError.
Config load_config(const std::optional<std::string>& path, const EnvLookup& env,
                   bool resolve_secrets = true);

// As load_config, resolving only the sources' Conomy API secrets (the `reconcile` command: it
// verifies no webhook and forwards nothing, so those secrets need not be set). Throws ConfigError.
Config load_config_for_api(const std::optional<std::string>& path, const EnvLookup& env);

// The ingest view of a configured source.
core::SourceSpec to_source_spec(const SourceConfig& source);

// The API client's settings for a source whose `api` is set (precondition), secrets resolved:
// http::ConomyApiClient(conomy_api_options(source), clock). Include
// webhook/http/conomy_client.hpp to use the result.
http::ConomyApiOptions conomy_api_options(const SourceConfig& source);

}  // namespace webhook::app
