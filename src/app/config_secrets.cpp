// Source keys from the environment: the variable named by secret_keys_env holds comma-separated
// keys (current first), or NAME_FILE names a file holding them (comma or newline separated, as
// Docker secrets are mounted). Messages name variables, files and entry numbers, never a value.
// A source key shorter than kMinKeyBytes is refused: anyone could guess it and sign forgeries.

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "app/config_internal.hpp"

namespace webhook::app::config_internal {
namespace {

constexpr std::size_t kMinKeyBytes = 16;
constexpr const char* kAdminTokenVariable = "WEBHOOK_RECEIVER_ADMIN_TOKEN";

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r";
  std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// Splits on any of `separators`, trims each entry; an empty entry throws (named by position).
std::vector<std::string> split_keys(std::string_view text, std::string_view separators,
                                    const std::string& where, const std::string& holder) {
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find_first_of(separators, start);
    std::string_view entry =
        trim(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (entry.empty())
      throw ConfigError(where + ": " + holder + ": key " + std::to_string(keys.size() + 1) +
                        " is empty (keys are comma-separated, current key first)");
    keys.emplace_back(entry);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return keys;
}

}  // namespace

// A secret read from `variable` or from the file `variable`_FILE names.
struct SecretValue {
  std::string value;
  std::string holder;  // for messages: "NAME" or "NAME_FILE (path)"
  bool from_file = false;
  std::string file;  // the path, when from_file
};

// The value of `variable`, or the content of the file named by `variable`_FILE with its
// trailing line endings dropped; nullopt when neither is set. Throws when both are set or the
// file cannot be read.
std::optional<SecretValue> read_secret_variable(const EnvLookup& env, const std::string& variable,
                                                const std::string& where) {
  const std::string file_variable = variable + "_FILE";
  auto direct = lookup(env, variable);
  auto file = lookup(env, file_variable);
  if (direct && file)
    throw ConfigError(where + ": both " + variable + " and " + file_variable +
                      " are set; set only one");
  if (direct) return SecretValue{std::move(*direct), variable, false};
  if (!file) return std::nullopt;
  if (file->empty()) throw ConfigError(where + ": " + file_variable + " is set but empty");
  std::string error;
  auto content = read_file(*file, error);
  if (!content)
    throw ConfigError(where + ": " + file_variable + ": cannot read " + *file + ": " + error);
  while (!content->empty() && (content->back() == '\n' || content->back() == '\r')) {
    content->pop_back();
  }
  return SecretValue{std::move(*content), file_variable + " (" + *file + ")", true, *file};
}

namespace {

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.substr(0, 4) == "127.";
}

// The admin token: WEBHOOK_RECEIVER_ADMIN_TOKEN(_FILE). Without one the admin listener stays
// off on loopback; on any other address that is refused, so a dashboard is never reachable from
// the network without a token.
void resolve_admin_token(Config& config, const EnvLookup& env, const Blame& blame) {
  AdminConfig& admin = config.admin;
  if (admin.listen.empty()) return;
  const std::string where = blame.where("admin.listen");
  auto secret = read_secret_variable(env, kAdminTokenVariable, where);
  if (!secret) {
    if (is_loopback_host(admin.host)) return;
    throw ConfigError(where + ": the admin listener on " + admin.listen +
                      " (not loopback) needs a token: set " + kAdminTokenVariable + " (or " +
                      kAdminTokenVariable +
                      "_FILE), or listen on 127.0.0.1, or set \"\" to turn "
                      "it off");
  }
  if (secret->value.size() < kMinKeyBytes)
    throw ConfigError(where + ": " + secret->holder + " is shorter than " +
                      std::to_string(kMinKeyBytes) +
                      " bytes; use a long random token (for example 32 random hex digits)");
  admin.token = std::move(secret->value);
  // Checked only for a listener that will run: without a token the port stays free.
  if (admin.port != 0 && admin.port == config.server.port)
    throw ConfigError(where + ": must not use the webhook port (server.listen " +
                      config.server.listen +
                      "): nginx exposes only the webhook path, and the admin API must stay off "
                      "it; choose another port");
}

// sources[i].api: the client secret and the x-api-key, each from its variable or NAME_FILE
// (whose path is kept: the API client re-reads a rotated file). Both are required.
void resolve_api_secrets(ConomyApiConfig& api, const EnvLookup& env, const Blame& blame,
                         const std::string& at) {
  for (auto [key, variable, value, file] :
       {std::tuple{"client_secret_env", &api.client_secret_env, &api.client_secret,
                   &api.client_secret_file},
        std::tuple{"api_key_env", &api.api_key_env, &api.api_key, &api.api_key_file}}) {
    const std::string where = blame.where(at + "." + key);
    auto secret = read_secret_variable(env, *variable, where);
    if (!secret || secret->value.empty())
      throw ConfigError(where + ": " + *variable + " (or " + *variable +
                        "_FILE) is not set; the Conomy API client needs it");
    *value = std::move(secret->value);
    *file = std::move(secret->file);
  }
}

}  // namespace

void resolve_api_secrets(Config& config, const EnvLookup& env, const Blame& blame) {
  for (std::size_t i = 0; i < config.sources.size(); ++i) {
    if (config.sources[i].api) {
      resolve_api_secrets(*config.sources[i].api, env, blame,
                          "sources[" + std::to_string(i) + "].api");
    }
  }
}

void resolve_secrets(Config& config, const EnvLookup& env, const Blame& blame) {
  resolve_admin_token(config, env, blame);
  resolve_api_secrets(config, env, blame);
  for (std::size_t i = 0; i < config.sources.size(); ++i) {
    SourceConfig& source = config.sources[i];
    const std::string where = blame.where("sources[" + std::to_string(i) + "].secret_keys_env");
    const std::string& variable = source.secret_keys_env;
    if (auto secret = read_secret_variable(env, variable, where)) {
      // A file may also hold one key per line, as Docker secrets are often written.
      source.secret_keys =
          split_keys(secret->value, secret->from_file ? ",\n" : ",", where, secret->holder);
      for (std::size_t k = 0; k < source.secret_keys.size(); ++k) {
        if (source.secret_keys[k].size() < kMinKeyBytes)
          throw ConfigError(where + ": " + secret->holder + ": key " + std::to_string(k + 1) +
                            " is shorter than " + std::to_string(kMinKeyBytes) +
                            " bytes; register a longer secretKey with the platform (for example "
                            "whsec_ and 32 random hex digits) and set it here");
      }
    } else if (!source.allow_unsigned) {
      throw ConfigError(where + ": " + variable + " (or " + variable + "_FILE) is not set");
    } else {
      source.secret_keys.clear();
    }
  }
  for (HandlerConfig& handler : config.handlers) {
    if (handler.type != "forward") continue;
    const std::string where = blame.where("handlers." + handler.name + ".secret_env");
    auto secret = read_secret_variable(env, handler.secret_env, where);
    if (!secret || secret->value.empty()) {
      throw ConfigError(where + ": " + handler.secret_env + " (or " + handler.secret_env +
                        "_FILE) is not set; the forward handler signs what it sends with it");
    }
    handler.secret = std::move(secret->value);
  }
}

}  // namespace webhook::app::config_internal
