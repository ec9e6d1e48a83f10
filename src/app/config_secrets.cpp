// Source keys from the environment: the variable named by secret_keys_env holds comma-separated
// keys (current first), or NAME_FILE names a file holding them (comma or newline separated, as
// Docker secrets are mounted). Messages name variables, files and entry numbers, never a value.

#include <string>
#include <string_view>
#include <vector>

#include "app/config_internal.hpp"

namespace webhook::app::config_internal {
namespace {

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

void resolve_secrets(Config& config, const EnvLookup& env, const Blame& blame) {
  for (std::size_t i = 0; i < config.sources.size(); ++i) {
    SourceConfig& source = config.sources[i];
    const std::string where = blame.where("sources[" + std::to_string(i) + "].secret_keys_env");
    const std::string& variable = source.secret_keys_env;
    const std::string file_variable = variable + "_FILE";
    auto direct = lookup(env, variable);
    auto file = lookup(env, file_variable);

    if (direct && file)
      throw ConfigError(where + ": both " + variable + " and " + file_variable +
                        " are set; set only one");
    if (direct) {
      source.secret_keys = split_keys(*direct, ",", where, variable);
    } else if (file) {
      if (file->empty()) throw ConfigError(where + ": " + file_variable + " is set but empty");
      std::string error;
      auto content = read_file(*file, error);
      if (!content)
        throw ConfigError(where + ": " + file_variable + ": cannot read " + *file + ": " + error);
      std::string_view text = *content;
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
      source.secret_keys = split_keys(text, ",\n", where, file_variable + " (" + *file + ")");
    } else if (!source.allow_unsigned) {
      throw ConfigError(where + ": " + variable + " (or " + file_variable + ") is not set");
    } else {
      source.secret_keys.clear();
    }
  }
}

}  // namespace webhook::app::config_internal
