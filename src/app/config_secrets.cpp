// Source keys from the environment: the variable named by secret_keys_env holds comma-separated
// keys (current first), or NAME_FILE names a file holding them (comma or newline separated, as
// Docker secrets are mounted). Messages name variables, files and entry numbers, never a value.
// A source key shorter than kMinKeyBytes is refused: anyone could guess it and sign forgeries.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/config_internal.hpp"

namespace webhook::app::config_internal {
namespace {

constexpr std::size_t kMinKeyBytes = 16;

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
  return SecretValue{std::move(*content), file_variable + " (" + *file + ")", true};
}

void resolve_secrets(Config& config, const EnvLookup& env, const Blame& blame) {
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
