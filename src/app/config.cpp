// Config: defaults, environment lookups and the load pipeline (file -> env overrides ->
// validation -> secrets). The steps live in config_json.cpp, config_validate.cpp and
// config_secrets.cpp (see config_internal.hpp).

#include "webhook/app/config.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "app/config_internal.hpp"

namespace webhook::app {

namespace config_internal {

std::string Blame::where(std::string_view path) const {
  if (auto it = overridden_.find(path); it != overridden_.end()) return it->second;
  if (path.empty()) return origin_;
  return origin_ + ": " + std::string(path);
}

void Blame::fail(std::string_view path, std::string_view problem) const {
  std::string message = where(path) + ": " + std::string(problem);
  // main prints one line: a key with a control character in it must not break it.
  for (char& c : message)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  throw ConfigError(message);
}

std::optional<std::string> lookup(const EnvLookup& env, std::string_view name) {
  if (!env) return std::nullopt;
  return env(name);
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "is a directory";
    return std::nullopt;
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = errno != 0 ? std::strerror(errno) : "cannot open";
    return std::nullopt;
  }
  std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    error = "read error";
    return std::nullopt;
  }
  return content;
}

}  // namespace config_internal

namespace ci = config_internal;

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

EnvLookup map_environment(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

Config default_config() {
  Config config;
  config.sources.push_back(SourceConfig{});  // "production" on /webhooks, scheme auto
  // The projections by default (docs/projections.md): customers for customer events, payment
  // states and the review queue for everything else (they ignore what is not theirs).
  config.routes.push_back(RouteConfig{"customer.*", {"customers", "log"}, std::nullopt});
  config.routes.push_back(RouteConfig{"*", {"payments", "reviews", "log"}, std::nullopt});
  return config;
}

Config parse_config(std::string_view json_text, std::string_view origin, const EnvLookup& env,
                    bool resolve_secrets) {
  ci::Blame blame{std::string(origin)};
  Config config = ci::read_document(json_text, blame);
  ci::apply_env_overrides(config, env, blame);
  ci::validate(config, blame);
  if (resolve_secrets) ci::resolve_secrets(config, env, blame);
  return config;
}

Config load_config(const std::optional<std::string>& path, const EnvLookup& env,
                   bool resolve_secrets) {
  std::string file;
  std::string named_by;  // how the file was chosen, for the "cannot read" message
  if (path) {
    file = *path;
  } else if (auto from_env = ci::lookup(env, "WEBHOOK_RECEIVER_CONFIG")) {
    if (from_env->empty()) throw ConfigError("WEBHOOK_RECEIVER_CONFIG: is set but empty");
    file = *from_env;
    named_by = "WEBHOOK_RECEIVER_CONFIG: ";
  } else {
    return parse_config("{}", "built-in defaults", env, resolve_secrets);
  }
  if (file.empty()) throw ConfigError("config file path is empty");
  std::string error;
  auto text = ci::read_file(file, error);
  if (!text) throw ConfigError(named_by + file + ": cannot read config file: " + error);
  return parse_config(*text, file, env, resolve_secrets);
}

Config load_config_for_api(const std::optional<std::string>& path, const EnvLookup& env) {
  Config config = load_config(path, env, false);
  const ci::Blame blame{path ? *path : "configuration"};
  ci::resolve_api_secrets(config, env, blame);
  return config;
}

core::SourceSpec to_source_spec(const SourceConfig& source) {
  core::SourceSpec spec;
  spec.name = source.name;
  spec.path = source.path;
  spec.verify.scheme = source.scheme;
  spec.verify.require_all_when_both = source.require_all_when_both;
  spec.verify.allow_sha256_prefix = source.allow_sha256_prefix;
  spec.dedup = source.dedup;
  spec.keys = source.secret_keys;
  spec.allow_unsigned = source.allow_unsigned;
  spec.malformed_reply_400 = source.malformed_reply_400;
  return spec;
}

}  // namespace webhook::app
