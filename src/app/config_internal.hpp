#pragma once
// Private seams of config loading (include/webhook/app/config.hpp). Which file owns what:
//  - config.cpp           defaults, environment lookups, parse_config/load_config, to_source_spec
//  - config_json.cpp      JSON text -> Config over the defaults: syntax, known keys, types, ranges
//  - config_validate.cpp  environment overrides, then cross-field and syntax checks (listen,
//                         CIDRs, names, paths, routes -> handlers); derives server.host/port
//  - config_secrets.cpp   source keys from the environment or *_FILE
// Every failure throws ConfigError("<where>: <problem>"); no message ever contains a secret value
// or echoes a configured string (a misplaced secret could be anywhere), only key paths and names.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "webhook/app/config.hpp"

namespace webhook::app::config_internal {

// Names where a value came from in messages: "<origin>: <key path>" for values from the file
// (or the defaults), or the environment variable's name for values it overrode.
class Blame {
 public:
  explicit Blame(std::string origin) : origin_(std::move(origin)) {}

  const std::string& origin() const { return origin_; }
  // From now on `path` is blamed on `variable`.
  void set_env(std::string path, std::string variable) {
    overridden_[std::move(path)] = std::move(variable);
  }
  // "<origin>: <path>", or the variable that overrode `path`; "<origin>" when path is empty.
  std::string where(std::string_view path) const;
  [[noreturn]] void fail(std::string_view path, std::string_view problem) const;

 private:
  std::string origin_;
  std::map<std::string, std::string, std::less<>> overridden_;
};

// Parses `json_text` (comments and trailing commas allowed) over default_config(). Checks
// syntax, every key against the known set, types, enumerations and numeric ranges.
Config read_document(std::string_view json_text, const Blame& blame);

// Applies the WEBHOOK_RECEIVER_* overrides (DESIGN.md section 4) and records them in `blame`.
void apply_env_overrides(Config& config, const EnvLookup& env, Blame& blame);

// Checks what the reader cannot check key by key, and derives server.host and server.port.
void validate(Config& config, const Blame& blame);

// Fills sources[].secret_keys from the environment or *_FILE.
void resolve_secrets(Config& config, const EnvLookup& env, const Blame& blame);
// Only the sources' Conomy API secrets (the `reconcile` command).
void resolve_api_secrets(Config& config, const EnvLookup& env, const Blame& blame);

// The environment variable `name`, or nullopt; an empty EnvLookup is an empty environment.
std::optional<std::string> lookup(const EnvLookup& env, std::string_view name);

// Reads a whole file; on failure returns nullopt and sets `error` (strerror-style, no content).
std::optional<std::string> read_file(const std::string& path, std::string& error);

struct ListenAddress {
  std::string host;  // IPv4 literal, hostname, or IPv6 literal without brackets
  std::uint16_t port = 0;
};
// "host:port": IPv4, hostname or [IPv6]; port 0-65535. nullopt when malformed.
std::optional<ListenAddress> parse_listen(std::string_view text);
// Upper-case environment variable name: [A-Z_][A-Z0-9_]*.
bool is_env_name(std::string_view text);

}  // namespace webhook::app::config_internal
